#!/usr/bin/python
"""Pre-flight of pinning OpenKruise to 1.5.x: what changes, what would be lost, the record."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kruise_pin_check
short_description: Pre-flight of pinning OpenKruise to a 1.5.x release
description:
  - Plans pinning OpenKruise to O(target_version), which must be a 1.5.x release (1.5 is the only
    line whose kruise-daemon speaks both CRI v1alpha2 and CRI v1). Only reads.
  - Refuses (fails) unless O(force), when something in use exists only in OpenKruise 1.6 or
    newer - feature gates 1.5 does not know that are enabled (kruise-manager 1.5 exits on
    unknown gates, so they are removed and their features lost); objects of kinds, or stored in
    API versions, that 1.5's CRDs lack (nothing in 1.5 manages or reads them, the API server
    refuses the 1.5 CRD, and a Helm downgrade deletes a CRD the newer chart installed with every
    object); and, for Helm, values only charts after 1.5 read (the setting would be silently
    lost).
  - Returns the Helm values to change (O(helm_release) given) or the images and feature gates to
    set (manifests), what the post-check must see, and the record of the current state for the
    way back.
version_added: 0.2.0
author: kruise-cri maintainers (!UNKNOWN)
extends_documentation_fragment:
  - kruise_cri.remediation.kube_auth
options:
  target_version:
    description: The 1.5.x release to pin, C(X.Y.Z) with an optional leading C(v).
    type: str
    default: 1.5.5
  kruise:
    description: The C(kruise) facts of M(kruise_cri.remediation.kruise_info).
    type: dict
    required: true
  helm_release:
    description:
      - For a Helm install, the C(release) returned by M(kruise_cri.remediation.kruise_helm_release)
        with O(kruise_cri.remediation.kruise_helm_release#module:state=info).
    type: dict
  chart:
    description: For a Helm install, the C(chart) returned by the same task, inspected at O(target_version).
    type: dict
  force:
    description: Plan even when something in use would be lost; the blockers become notes.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Only reads.
  diff_mode:
    support: none
    description: Nothing changes.
"""

EXAMPLES = r"""
- name: Plan the pin
  kruise_cri.remediation.kruise_pin_check:
    target_version: 1.5.5
    kruise: "{{ cluster.kruise }}"
    helm_release: "{{ release.release }}"
    chart: "{{ release.chart }}"
  register: pin
"""

RETURN = r"""
plan:
  description: >-
    target_version, method (helm or manifests), current_version, changed, changes (what will
    change), values (Helm values to merge), manager_image, daemon_image and feature_gates
    (manifests), expected (version_line, feature_gates, daemon for the post-check), blockers,
    refused, notes, record (the state for the way back).
  returned: always
  type: dict
crds:
  description: OpenKruise's CRDs with their served and stored versions (objects counted where 1.5 lacks the kind).
  returned: success
  type: list
  elements: dict
"""

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
    ClusterModule,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_pin_check import (
    DEFAULT_TARGET_VERSION,
    run_module,
)

ARGUMENT_SPEC = {
    "target_version": {"type": "str", "default": DEFAULT_TARGET_VERSION},
    "kruise": {"type": "dict", "required": True},
    "helm_release": {"type": "dict"},
    "chart": {"type": "dict"},
    "force": {"type": "bool", "default": False},
}


def main() -> None:
    module = ClusterModule("kruise_pin_check", ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**module.run(run_module, request_error="cannot list OpenKruise's CRDs"))


if __name__ == "__main__":
    main()
