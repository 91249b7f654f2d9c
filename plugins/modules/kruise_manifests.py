#!/usr/bin/python
"""Edit a manifest-installed OpenKruise: images, --feature-gates, the kruise-daemon DaemonSet."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kruise_manifests
short_description: Set OpenKruise's images and feature gates, remove or restore kruise-daemon (manifest installs)
description:
  - For OpenKruise installed from plain manifests (no Helm release). Patches the
    C(kruise-controller-manager) Deployment's manager container and the C(kruise-daemon)
    DaemonSet's daemon container with strategic merge patches - the image (O(manager_image),
    O(daemon_image)) and the C(--feature-gates) argument (O(feature_gates), given to both, as the
    chart does). Only what differs is patched.
  - O(daemon=absent) saves the DaemonSet, and the manager's C(--feature-gates) as it was, in the
    ConfigMap C(kruise-cri-daemon-gate) of the namespace, then deletes the DaemonSet.
    O(daemon=present) recreates a missing DaemonSet from that saved copy (or from O(daemonset)),
    with O(feature_gates) and O(daemon_image) applied, then deletes the ConfigMap.
  - Without any edit option the module only reads, and returns the current images, feature gates
    and the saved record.
  - Before its reads, and again before its first change (in check mode too), the module asks the
    API server (SelfSubjectAccessReview) whether the credentials may make every request of the
    change, of its way back (the roles restore the images and gates, recreate a deleted DaemonSet
    from the record, delete a recreated one) and of the health check that follows it
    (M(kruise_cri.remediation.kruise_wait), which lists the pods of O(namespace)), and fails naming each missing
    permission, with nothing changed.
  - Never use it on a Helm install; the next C(helm upgrade) would undo the edits. Use
    M(kruise_cri.remediation.kruise_helm_release) there.
version_added: 0.2.0
author: kruise-cri maintainers (!UNKNOWN)
extends_documentation_fragment:
  - kruise_cri.remediation.kube_auth
options:
  namespace:
    description: The namespace of the manager Deployment and the DaemonSet.
    type: str
    required: true
  manager_name:
    description: Name of the manager Deployment.
    type: str
    default: kruise-controller-manager
  daemon_name:
    description: Name of the kruise-daemon DaemonSet.
    type: str
    default: kruise-daemon
  manager_image:
    description: The manager container's image, for example C(openkruise/kruise-manager:v1.5.5).
    type: str
  daemon_image:
    description: The daemon container's image (upstream runs the manager image there too).
    type: str
  feature_gates:
    description:
      - The value of C(--feature-gates) for the manager and the daemon. An empty string equals an
        absent flag. Give a normalised string (see the C(kruise_cri.remediation.merge_feature_gates)
        filter).
    type: str
  daemon:
    description: Whether the kruise-daemon DaemonSet should exist; unset leaves it as it is.
    type: str
    choices: [present, absent]
  daemonset:
    description: A DaemonSet to create with O(daemon=present) instead of the saved copy.
    type: dict
attributes:
  check_mode:
    support: full
    description: Every patch, delete and create is sent with C(dryRun=All), so the API server validates it and stores nothing; the record is not written.
  diff_mode:
    support: full
    description: Images, feature gates and the DaemonSet's presence, before and after.
"""

EXAMPLES = r"""
- name: Run kruise 1.5.5 images
  kruise_cri.remediation.kruise_manifests:
    namespace: kruise-system
    manager_image: openkruise/kruise-manager:v1.5.5
    daemon_image: openkruise/kruise-manager:v1.5.5

- name: Turn kruise-daemon off
  kruise_cri.remediation.kruise_manifests:
    namespace: kruise-system
    feature_gates: "ImagePullJobGate=true,KruiseDaemon=false"
    daemon: absent
"""

RETURN = r"""
before:
  description: C(manager) and C(daemon) (C(null) when absent), each with name, image and feature_gates.
  returned: success
  type: dict
after:
  description: The same after the task (as it would be, in check mode).
  returned: success
  type: dict
record:
  description: The data of the ConfigMap C(kruise-cri-daemon-gate) (C(feature-gates), C(feature-gates-set), C(daemonset.json)); empty when there is none.
  returned: success
  type: dict
actions:
  description: What was done (or would be, in check mode).
  returned: success
  type: list
  elements: str
"""

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
    ClusterModule,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_manifests import (
    DAEMON_STATES,
    run_module,
)

ARGUMENT_SPEC = {
    "namespace": {"type": "str", "required": True},
    "manager_name": {"type": "str", "default": "kruise-controller-manager"},
    "daemon_name": {"type": "str", "default": "kruise-daemon"},
    "manager_image": {"type": "str"},
    "daemon_image": {"type": "str"},
    "feature_gates": {"type": "str"},
    "daemon": {"type": "str", "choices": list(DAEMON_STATES)},
    "daemonset": {"type": "dict"},
}


def main() -> None:
    module = ClusterModule("kruise_manifests", ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**module.run(run_module, request_error="the API server refused a change"))


if __name__ == "__main__":
    main()
