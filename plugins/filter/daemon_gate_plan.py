"""Filter: plan turning kruise-daemon off (KruiseDaemon=false) or back on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.daemon_gate import (
    daemon_gate_plan,
)

DOCUMENTATION = r"""
name: daemon_gate_plan
short_description: Plan turning kruise-daemon off or back on from the cluster's facts
description:
  - Takes the C(kruise) facts of M(kruise_cri.remediation.kruise_info) and says which
    featureGates string to set (C(KruiseDaemon=false) merged into the current gates, or removed
    again), whether the kruise-daemon DaemonSet goes or comes back, what stops working while the
    daemon is off, and why the change is refused (daemon-dependent features in use, feature use
    that could not be checked, a Helm release that is not C(deployed)).
  - Pure; changes nothing. The role C(kruise_daemon_gate) carries the plan out.
  - Fails on bad input (not the C(kruise) facts, OpenKruise not installed, an unknown direction, a
    malformed featureGates string) with a message that names it.
positional: _input, direction, force, helm, record
options:
  _input:
    description: The C(kruise) facts returned by M(kruise_cri.remediation.kruise_info).
    type: dict
    required: true
  direction:
    description: C(disable) sets C(KruiseDaemon=false); C(enable) restores the gates as they were.
    type: str
    choices: [disable, enable]
    required: true
  force:
    description: Plan the change even while daemon-dependent features are in use or unchecked.
    type: bool
    default: false
  helm:
    description:
      - For a Helm install, the result of M(kruise_cri.remediation.kruise_helm_release) with
        C(state=info) (the release's user values, computed values and history).
      - C(null) for a manifest install.
    type: dict
  record:
    description:
      - For a manifest install, the record M(kruise_cri.remediation.kruise_manifests) keeps of
        the state before the daemon was disabled (used by C(enable)).
    type: dict
"""

EXAMPLES = r"""
- name: Plan disabling kruise-daemon on a Helm install
  ansible.builtin.set_fact:
    gate_plan: >-
      {{ cluster.kruise | kruise_cri.remediation.daemon_gate_plan('disable', false, helm_info) }}
"""

RETURN = r"""
_value:
  description:
    - Dict with C(direction), C(method) (C(helm) or C(manifests)), C(feature_gates_before),
      C(feature_gates_after), C(values) (the Helm values to set), C(daemon) (C(absent) or
      C(present)), C(changed), C(refused) (reasons; empty when the change may go ahead),
      C(notes), C(in_use), C(in_use_summary) and C(stops_working) (what is lost while the daemon
      is off).
  type: dict
"""


def daemon_gate_plan_filter(
    kruise: Mapping[str, Any],
    direction: str,
    force: bool = False,
    helm: Mapping[str, Any] | None = None,
    record: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    try:
        return daemon_gate_plan(
            kruise, str(direction), force=bool(force), helm=helm or None, record=record or None
        )
    except ValueError as error:
        raise AnsibleFilterError(f"daemon_gate_plan: {error}") from error


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"daemon_gate_plan": daemon_gate_plan_filter}
