"""Filter: a node's runtime migration step from its cri_facts."""

from __future__ import annotations

from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.runtime_migration import (
    migration_step,
)

DOCUMENTATION = r"""
name: migration_step
short_description: What runtime_migration does to a node, from its cri_facts
description:
  - Given a node's C(kruise_cri) facts, returns its C(case) (V(docker), V(containerd-upgrade),
    V(migrated) or V(refused)) with the C(reason), and the settings the switch carries - the
    kubelet's cgroup driver (C(systemd_cgroup)), sandbox image, Docker's registry mirrors and
    insecure registries, and whether the endpoint goes in a flag (C(runtime_flag) adds
    C(--container-runtime=remote) before kubelet 1.27) or in the KubeletConfiguration
    (C(config_field)).
positional: _input
options:
  _input:
    description: The node's C(kruise_cri) facts.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Decide the node's case
  ansible.builtin.set_fact:
    step: "{{ ansible_facts.kruise_cri | kruise_cri.remediation.migration_step }}"
"""

RETURN = r"""
_value:
  description: The node's step.
  type: dict
"""


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"migration_step": migration_step}
