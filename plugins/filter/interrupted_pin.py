"""Filter: the record of an interrupted pin of this installation, the way back a rerun adopts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.pin_records import (
    interrupted_pin,
)

DOCUMENTATION = r"""
name: interrupted_pin
short_description: Find the unfinished pin whose change is in place, among the pin records read
description:
  - Given the C(results) of an C(ansible.builtin.slurp) loop over pin records, returns the newest
    record of the same installation (API server, Helm release or manifests namespace) when its
    run never ended (outcome C(started)) and OpenKruise runs the version it pinned (for Helm, at
    a newer revision than the recorded one). Its Helm values are left out.
  - Returns an empty dict otherwise, also when a newer run of the installation ended (not null, since
    ansible-core before 2.19 would turn a null fact into the string C(None)).
positional: _input
options:
  _input:
    description: The slurp loop's C(results).
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
"""

EXAMPLES = r"""
- name: Find a pin an interrupted run left unfinished
  ansible.builtin.set_fact:
    interrupted: >-
      {{ records.results | kruise_cri.remediation.interrupted_pin(server=server, method='helm',
      release='kruise', namespace='kruise-system', current_version='1.5.5', current_revision=3) }}
"""

RETURN = r"""
_value:
  description: The record (with its C(file)), or an empty dict.
  type: dict
"""


def interrupted_pin_filter(
    slurped: Iterable[Mapping[str, Any]],
    server: str,
    method: str,
    namespace: str,
    release: str = "",
    current_version: str | None = None,
    current_revision: int | str | None = None,
) -> dict[str, Any]:
    revision = int(current_revision) if current_revision not in (None, "") else None
    found = interrupted_pin(
        slurped or [],
        server=server,
        method=method,
        release=release,
        namespace=namespace,
        current_version=current_version,
        current_revision=revision,
    )
    return found or {}


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"interrupted_pin": interrupted_pin_filter}
