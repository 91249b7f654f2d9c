"""Filter: merge gates into OpenKruise's featureGates string, normalised."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.feature_gates import (
    merge_feature_gates,
)

DOCUMENTATION = r"""
name: merge_feature_gates
short_description: Merge gates into OpenKruise's featureGates string, normalised
description:
  - Sets (C(true)/C(false)) or removes (C(null)) gates in a featureGates string and returns it
    normalised - C(Name=true) or C(Name=false) joined by commas, no spaces, the other gates kept in
    their order - so that the chart's substring test C(contains "KruiseDaemon=false") agrees with
    the binaries.
  - Fails on a malformed string (an entry without C(=), a value that is not a Go boolean).
positional: _input, updates
options:
  _input:
    description: The current featureGates string (C(null) or empty for none).
    type: str
    required: true
  updates:
    description: Gate name to C(true), C(false), or C(null) to remove it.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Turn kruise-daemon off, keeping the other gates
  vars:
    current: "ImagePullJobGate=True, PodWebhook = false"
  ansible.builtin.set_fact:
    # ImagePullJobGate=true,PodWebhook=false,KruiseDaemon=false
    gates: "{{ current | kruise_cri.remediation.merge_feature_gates({'KruiseDaemon': false}) }}"
"""

RETURN = r"""
_value:
  description: The normalised featureGates string.
  type: str
"""


def merge_feature_gates_filter(current: Any, updates: Mapping[str, Any]) -> str:
    if not isinstance(updates, Mapping):
        raise AnsibleFilterError("merge_feature_gates: updates must be a dict of gate -> bool")
    try:
        return merge_feature_gates(
            None if current is None else str(current),
            {str(k): (None if v is None else bool(v)) for k, v in updates.items()},
        )
    except ValueError as error:
        raise AnsibleFilterError(f"merge_feature_gates: {error}") from error


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "merge_feature_gates": merge_feature_gates_filter,
        }
