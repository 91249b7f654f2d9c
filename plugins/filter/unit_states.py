"""Filter: the states of a node's systemd units, from systemctl show."""

from __future__ import annotations

from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.runtime_migration import (
    unit_states,
)

DOCUMENTATION = r"""
name: unit_states
short_description: The states of systemd units, from systemctl show
description:
  - Turns C(systemctl show -p Id,LoadState,UnitFileState,ActiveState UNIT...) output into a
    dict of each unit's C(enabled) and C(active) states, keeping the units that exist
    (C(LoadState=loaded)).
positional: _input
options:
  _input:
    description: The command's standard output.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Remember how Docker's units were
  ansible.builtin.set_fact:
    units: "{{ shown.stdout | kruise_cri.remediation.unit_states }}"
"""

RETURN = r"""
_value:
  description: Each unit's C(enabled) (UnitFileState) and C(active) (ActiveState).
  type: dict
"""


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"unit_states": unit_states}
