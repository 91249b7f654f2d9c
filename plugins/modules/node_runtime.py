#!/usr/bin/python
"""Record a node's new CRI socket and wait until the node and its DaemonSet pods run on it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: node_runtime
short_description: Wait until a node, and every DaemonSet pod on it, runs on the runtime expected
description:
  - After a node's kubelet moved to another runtime, sets kubeadm's annotation
    C(kubeadm.alpha.kubernetes.io/cri-socket) to O(cri_socket) on nodes that carry it (kubeadm
    upgrades read it), then waits until the node is Ready, reports O(runtime) in
    C(status.nodeInfo.containerRuntimeVersion) and, with O(daemonset_pods), every DaemonSet pod on
    the node (kruise-daemon among them) is Ready with containers started by O(runtime).
  - Fails after O(timeout) seconds naming what is not there yet.
  - The module runs where the kubeconfig is, usually the controller (delegate the task to C(localhost)).
version_added: 0.3.0
author: kruise-cri maintainers (!UNKNOWN)
extends_documentation_fragment:
  - kruise_cri.remediation.kube_auth
options:
  name:
    description:
      - The node's name.
    type: str
    required: true
  runtime:
    description:
      - The runtime the node must report, as the prefix of C(containerRuntimeVersion) and of its
        pods' container IDs, for example V(containerd) or V(docker).
    type: str
    required: true
  cri_socket:
    description:
      - The value of kubeadm's CRI socket annotation, for example
        V(unix:///run/containerd/containerd.sock); set only where the annotation exists.
    type: str
  reported_after:
    description:
      - The node's last heartbeat (RV(heartbeat)) read before the kubelet was started; the node
        counts as Ready only on a status the kubelet posted after it, not on one from before
        it was stopped.
    type: str
  wait:
    description:
      - Wait for the node (and its DaemonSet pods); V(false) only sets the annotation.
    type: bool
    default: true
  daemonset_pods:
    description:
      - Wait for the node's DaemonSet pods too.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait.
    type: int
    default: 300
attributes:
  check_mode:
    support: full
    description: Reports the annotation it would set and the node's state; does not wait.
  diff_mode:
    support: full
    description: The annotation before and after.
"""

EXAMPLES = r"""
- name: Wait for node-3 and its DaemonSet pods on containerd
  kruise_cri.remediation.node_runtime:
    name: node-3
    runtime: containerd
    cri_socket: unix:///run/containerd/containerd.sock
    timeout: 300
  delegate_to: localhost
"""

RETURN = r"""
node:
  description: The node's name.
  returned: always
  type: str
ready:
  description: Whether the node is Ready.
  returned: always
  type: bool
heartbeat:
  description: The Ready condition's C(lastHeartbeatTime).
  returned: always
  type: str
  sample: "2026-12-04T05:29:04Z"
runtime_version:
  description: C(status.nodeInfo.containerRuntimeVersion).
  returned: always
  type: str
  sample: containerd://1.6.20
annotation:
  description: The CRI socket annotation before and after, when it changed.
  returned: when changed
  type: dict
problems:
  description: What was still missing when the wait ended (empty on success).
  returned: when the module waited
  type: list
  elements: str
waited:
  description: Seconds waited.
  returned: when the module waited
  type: float
"""

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
    ClusterModule,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.node_runtime import (
    run_module,
)

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "runtime": {"type": "str", "required": True},
    "cri_socket": {"type": "str"},
    "reported_after": {"type": "str"},
    "wait": {"type": "bool", "default": True},
    "daemonset_pods": {"type": "bool", "default": True},
    "timeout": {"type": "int", "default": 300},
}


def main() -> None:
    module = ClusterModule("node_runtime", ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**module.run(run_module, request_error="reading the node"))


if __name__ == "__main__":
    main()
