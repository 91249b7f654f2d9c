#!/usr/bin/python
"""Read what the cluster says about OpenKruise and its nodes."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kruise_info
short_description: Read OpenKruise's install, kruise-daemon's health and every node's runtime
description:
  - Reads the cluster through the Kubernetes API and returns the cluster facts described in
    C(docs/cluster-facts.md) as RV(kruise) -
    whether OpenKruise is installed and which version (the manager's image tag);
    how (Helm release with chart version and values, or plain manifests);
    the feature gates in effect (the manager's C(--feature-gates));
    kruise-daemon's DaemonSet status with its crash-looping pods and their last termination
    message; every node's C(status.nodeInfo.containerRuntimeVersion) and kubelet version;
    and the use of features that need kruise-daemon (ContainerRecreateRequest, ImagePullJob,
    ImageListPullJob, NodeImage with images, PodProbeMarker, NodePodProbe, workloads with
    C(apps.kruise.io/image-predownload-*) annotations, pods with
    C(KRUISE_TERMINATE_SIDECAR_WHEN_JOB_EXIT*) env).
  - Only reads, with paginated LISTs; never one GET per object. A kind whose CRD is absent is a
    finding, not an error. An unreachable API server or rejected credentials fail the task with
    a message that names the server and the fix.
  - A read the API server refuses (403) leaves what it would have told unknown (C(null)), never
    absent or zero, and names the permission missing (C(verb resource.group)) in the entry, in
    the findings and in RV(kruise.missing_permissions).
  - Pair it with M(kruise_cri.remediation.remediation_plan) to choose a way out.
version_added: 0.2.0
author: kruise-cri maintainers (!UNKNOWN)
extends_documentation_fragment:
  - kruise_cri.remediation.kube_auth
options:
  page_size:
    description:
      - Objects per LIST page, as kubectl's C(--chunk-size).
    type: int
    default: 500
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode changes nothing either.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
"""

EXAMPLES = r"""
- name: Read OpenKruise's state in the cluster
  kruise_cri.remediation.kruise_info:
    kubeconfig: ~/.kube/config
  register: cluster

- name: Every cluster module of the collection with one kubeconfig
  module_defaults:
    group/kruise_cri.remediation.cluster:
      kubeconfig: /etc/kubernetes/admin.conf
      context: prod
  block:
    - name: Read the cluster
      kruise_cri.remediation.kruise_info:
      register: cluster
"""

RETURN = r"""
kruise:
  description: The cluster facts, schema 1 (see C(docs/cluster-facts.md) in the collection).
  returned: success
  type: dict
  contains:
    installed:
      description:
        - Whether an OpenKruise manager Deployment or the apps.kruise.io CRDs exist.
        - C(null) (unknown) when the Deployments could not be listed; C(kruise.install.error)
          says why.
      type: bool
      sample: true
    version:
      description: The manager image's version, without the leading v.
      type: str
      sample: 1.6.3
    install:
      description:
        - How OpenKruise was installed (helm with the release, or manifests), and C(error) when
          that could not be read (a Helm release whose secrets are refused stays C(helm)).
        - The Helm release's user values (C(install.helm.values)) may hold secrets, so every
          value is masked as C(********) except those kruise-cri reads and shows (C(featureGates),
          C(manager.image.*), C(daemon.socketLocation), C(daemon.socketFile)) and those that
          cannot hold a secret (C(null), booleans, C(""), C(0)); the keys stay.
      type: dict
    feature_gates:
      description: The manager's feature gates and whether kruise-daemon is enabled.
      type: dict
    daemon:
      description: The kruise-daemon DaemonSet's status and crash-looping pods.
      type: dict
    nodes:
      description: Every node's runtime, kubelet version and daemon pod state.
      type: list
      elements: dict
    feature_use:
      description:
        - Counts of daemon-dependent objects, and whether any is in use (C(null) when some could
          not be read and none was found).
      type: dict
    missing_permissions:
      description: The permissions the API server refused, as C(verb resource.group).
      type: list
      elements: str
      sample: [list containerrecreaterequests.apps.kruise.io, list secrets in default]
    findings:
      description: Anything odd met while reading, never an exception.
      type: list
      elements: dict
    requests:
      description: HTTP requests sent, by resource, and the seconds spent.
      type: dict
"""

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
    ClusterModule,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_info import (
    run_module,
)

ARGUMENT_SPEC = {"page_size": {"type": "int", "default": 500}}


def main() -> None:
    module = ClusterModule("kruise_info", ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**module.run(run_module))


if __name__ == "__main__":
    main()
