#!/usr/bin/python
"""Wait until kruise-manager and kruise-daemon are as expected, within a deadline."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kruise_wait
short_description: Wait until kruise-manager is Ready and kruise-daemon is Ready on every node (or gone)
description:
  - Polls the API until, for O(stable_seconds) in a row, the kruise-manager Deployment is rolled
    out with every replica Ready and available, and the kruise-daemon DaemonSet is rolled out
    with a Ready, updated pod on every node it is scheduled to (O(daemon=present)), or the
    DaemonSet and its pods are gone (O(daemon=absent)).
  - Optionally the images must be of the OpenKruise line O(version_line) and the manager's
    C(--feature-gates) must equal O(feature_gates) (compared normalised).
  - A crash-looping kruise-daemon is Running, even Ready, for a moment between restarts; the
    stability window keeps such a moment from passing as healthy.
  - Fails when the deadline passes, naming what is not ready (for a crash-looping pod, its node,
    its restarts and its last termination message).
version_added: 0.2.0
author: kruise-cri maintainers (!UNKNOWN)
extends_documentation_fragment:
  - kruise_cri.remediation.kube_auth
options:
  namespace:
    description: Namespace of the manager Deployment and the DaemonSet.
    type: str
    required: true
  manager_name:
    description: Name of the manager Deployment.
    type: str
    default: kruise-controller-manager
  daemon_name:
    description: Name of the kruise-daemon DaemonSet.
    type: str
    default: kruise-daemon
  daemon_selector:
    description: Label selector of the daemon's pods, used when the DaemonSet is gone.
    type: str
    default: control-plane=daemon
  daemon:
    description: Whether kruise-daemon must be running everywhere, gone, or is not checked.
    type: str
    choices: [present, absent, any]
    default: present
  version_line:
    description: The OpenKruise line (C(X.Y)) the manager and daemon images must be of.
    type: str
  feature_gates:
    description: The manager's expected C(--feature-gates) value.
    type: str
  timeout:
    description: Seconds to wait at most.
    type: int
    default: 300
  stable_seconds:
    description: Seconds the state must hold in a row.
    type: int
    default: 10
  crash_restarts:
    description:
      - Fail at once when a kruise-daemon pod of the DaemonSet's current template crash-loops and
        has restarted this many times, instead of waiting out O(timeout). V(0) always waits.
    type: int
    default: 3
  interval:
    description: Seconds between two looks.
    type: float
    default: 2.0
attributes:
  check_mode:
    support: full
    description: Only reads; check mode waits the same way.
  diff_mode:
    support: none
    description: Nothing changes.
"""

EXAMPLES = r"""
- name: Wait for OpenKruise 1.5 to be healthy
  kruise_cri.remediation.kruise_wait:
    namespace: kruise-system
    version_line: "1.5"
    timeout: 600
"""

RETURN = r"""
ready:
  description: Whether everything was as expected for O(stable_seconds) in a row.
  returned: always
  type: bool
problems:
  description: What was not as expected at the last look.
  returned: always
  type: list
  elements: str
crash_looping_nodes:
  description: Nodes whose kruise-daemon pod was crash-looping at the last look.
  returned: always
  type: list
  elements: str
waited:
  description: Seconds waited.
  returned: always
  type: float
"""

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
    ClusterModule,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_wait import (
    DAEMON_EXPECTATIONS,
    run_module,
)

ARGUMENT_SPEC = {
    "namespace": {"type": "str", "required": True},
    "manager_name": {"type": "str", "default": "kruise-controller-manager"},
    "daemon_name": {"type": "str", "default": "kruise-daemon"},
    "daemon_selector": {"type": "str", "default": "control-plane=daemon"},
    "daemon": {"type": "str", "choices": list(DAEMON_EXPECTATIONS), "default": "present"},
    "version_line": {"type": "str"},
    "feature_gates": {"type": "str"},
    "timeout": {"type": "int", "default": 300},
    "stable_seconds": {"type": "int", "default": 10},
    "crash_restarts": {"type": "int", "default": 3},
    "interval": {"type": "float", "default": 2.0},
}


def main() -> None:
    module = ClusterModule("kruise_wait", ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**module.run(run_module))


if __name__ == "__main__":
    main()
