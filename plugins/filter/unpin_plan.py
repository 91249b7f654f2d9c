"""Filter: the way back from the newest pin of this installation, for undoing it in a later run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.unpin_plan import unpin_plan

DOCUMENTATION = r"""
name: unpin_plan
short_description: Decide whether and how the newest pin of an installation can be undone
description:
  - Given the pin records (C(cluster_records_info)'s C(records)), picks the newest pin of the same
    installation (API server, Helm release or manifests namespace) that stayed in place; runs
    that rolled back or changed nothing are passed over.
  - Refuses when that pin never ended, ended in a state kruise-cri did not leave, or when the
    installation was changed since (another version, a Helm revision the pin's run did not make,
    other images); and, unless O(force), when a node's runtime may serve only CRI v1alpha2
    (Docker, containerd 1.5 and older), where the kruise-daemon gone back to would crash-loop.
  - A pin undone already gives C(to_undo=false) and says when.
  - The result never holds the recorded Helm values.
positional: _input
options:
  _input:
    description: The records, as C(cluster_records_info) returns them.
    type: list
    elements: dict
    required: true
  server:
    description: The API server URL the records must name.
    type: str
    required: true
  method:
    description: C(helm) or C(manifests).
    type: str
    required: true
  release:
    description: The Helm release (ignored for manifests).
    type: str
    default: ""
  namespace:
    description: The release's namespace, or OpenKruise's for manifests.
    type: str
    required: true
  current_version:
    description: The OpenKruise version running now.
    type: str
  current_revision:
    description: The release's revision now (Helm).
    type: int
  current_description:
    description: The description of the release's current revision (Helm).
    type: str
  current_manager_image:
    description: kruise-manager's image now (manifests).
    type: str
  nodes:
    description: kruise_info's C(kruise.nodes).
    type: list
    elements: dict
  force:
    description: Go back even where nodes may serve only CRI v1alpha2.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Plan undoing the pin
  ansible.builtin.set_fact:
    unpin: >-
      {{ records.records | kruise_cri.remediation.unpin_plan(server=server, method='helm',
      release='kruise', namespace='kruise-system', current_version='1.5.5', current_revision=2,
      current_description='kruise-cri: pin OpenKruise 1.5.5 (run abc)', nodes=cluster.kruise.nodes) }}
"""

RETURN = r"""
_value:
  description: >-
    C(to_undo), C(refused) (reasons), C(record) (the pin's, values left out), C(revision) and
    C(only_from_revision) (Helm) or C(manifests), C(expected) (for kruise_wait), C(says), C(notes).
  type: dict
"""


def unpin_plan_filter(
    records: Iterable[Mapping[str, Any]],
    server: str,
    method: str,
    namespace: str,
    release: str = "",
    current_version: str | None = None,
    current_revision: int | str | None = None,
    current_description: str | None = None,
    current_manager_image: str | None = None,
    nodes: Iterable[Mapping[str, Any]] | None = None,
    force: bool = False,
) -> dict[str, Any]:
    return unpin_plan(
        records or [],
        server=server,
        method=method,
        release=release,
        namespace=namespace,
        current_version=current_version,
        current_revision=int(current_revision) if current_revision not in (None, "") else None,
        current_description=current_description,
        current_manager_image=current_manager_image,
        nodes=nodes or [],
        force=bool(force),
    )


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"unpin_plan": unpin_plan_filter}
