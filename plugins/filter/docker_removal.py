"""Filter: which packages go when Docker is removed, and which containerd package stays."""

from __future__ import annotations

from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.runtime_migration import (
    docker_removal,
)

DOCUMENTATION = r"""
name: docker_removal
short_description: Which packages go when Docker is removed, and which containerd package stays
description:
  - From C(ansible_facts.packages) (M(ansible.builtin.package_facts)), the installed packages
    Docker Engine comes in (C(docker-ce), C(docker-ce-cli), C(docker.io), C(moby-engine), ...)
    and the containerd package that must stay (C(containerd.io), C(containerd),
    C(moby-containerd)).
  - C(refusal) says why removing is unsafe - Docker installed but no containerd package, so
    containerd could go with it - and is empty otherwise.
positional: _input
options:
  _input:
    description: C(ansible_facts.packages).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Decide what removing Docker removes
  ansible.builtin.set_fact:
    removal: "{{ ansible_facts.packages | kruise_cri.remediation.docker_removal }}"
"""

RETURN = r"""
_value:
  description: C(remove) (package names), C(keep) (containerd's), C(refusal) (text, or empty).
  type: dict
"""


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"docker_removal": docker_removal}
