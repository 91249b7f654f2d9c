"""Filter: what a failing pin rolls back, and only what this run (or the run it completes) did."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.pin_records import way_back

DOCUMENTATION = r"""
name: pin_way_back
short_description: Decide what a failing pin rolls back
description:
  - Given the change task's registered result, returns C(rollback) (whether there is anything of
    this run's to undo), C(source) (C(this run) or C(interrupted run)), C(says) (the way back in
    words), and for Helm C(revision) (the revision to return to) and C(only_from_revision) (the
    revision this run, or the run it completes, made; a newer one made by someone else is left
    alone), for manifests C(manifests) (the images and feature gates to restore).
positional: _input, method, record, interrupted, preflight_revision
options:
  _input:
    description: The change task's registered result (C(kruise_helm_release) or C(kruise_manifests)).
    type: dict
    required: true
  method:
    description: C(helm) or C(manifests).
    type: str
    required: true
  record:
    description: This run's record of the state before (the pin plan's C(record)).
    type: dict
    required: true
  interrupted:
    description: The interrupted pin this run completes (the C(interrupted_pin) filter), or null.
    type: dict
  preflight_revision:
    description: The release's revision when this run read it.
    type: int
"""

EXAMPLES = r"""
- name: Decide the rollback
  ansible.builtin.set_fact:
    way_back: "{{ change | kruise_cri.remediation.pin_way_back('helm', plan.record, none, 3) }}"
"""

RETURN = r"""
_value:
  description: The decision.
  type: dict
"""


def pin_way_back(
    change: Mapping[str, Any] | None,
    method: str,
    record: Mapping[str, Any],
    interrupted: Mapping[str, Any] | None = None,
    preflight_revision: int | str | None = None,
) -> dict[str, Any]:
    revision = int(preflight_revision) if preflight_revision not in (None, "") else None
    return way_back(method, change or None, record or {}, interrupted or None, revision)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"pin_way_back": pin_way_back}
