#!/usr/bin/python
"""Read, upgrade with merged values, or roll back OpenKruise's Helm release with the helm binary."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kruise_helm_release
short_description: Read, upgrade (values merged, never reset) or roll back OpenKruise's Helm release
description:
  - Runs the C(helm) binary against an existing release. It never installs and never uninstalls;
    a release that does not exist fails the task before anything changes.
  - O(state=info) reads the release (revision, status, chart version, the user-supplied values
    and the computed values), optionally the values of the last O(history) revisions, and, with
    O(chart_version), the chart it would install (version, appVersion, C(kubeVersion), default
    values). Nothing changes.
  - O(state=present) upgrades the release to O(chart_version) of the chart at O(chart_ref),
    keeping every user value. The module passes the release's complete user values
    (C(helm get values)) deep-merged with O(values) in a values file, with C(--reset-values), so
    the outcome never depends on helm's value reuse rules. A value of C(null) in O(values)
    removes the key (the chart default applies again). When chart version and values already
    match, nothing runs and no revision is created.
  - Before an upgrade the chart's version must equal O(chart_version) and its C(kubeVersion)
    constraint must accept the API server's version; the release must be C(deployed).
  - O(state=rolled_back) runs C(helm rollback) to O(revision) unless the current revision already
    has that revision's chart version and values.
  - Before an upgrade or a rollback (in check mode too), the module asks the API server
    (SelfSubjectAccessReview) whether the credentials may make every request helm will send, that is the
    release's Secrets, and get, patch, create or delete on each object of the current and the new
    manifest (an upgrade is rendered with C(--dry-run=server) first; kinds map to resources through
    the API server's discovery). For an upgrade that includes its way back (a rollback to the
    revision before) and the reads of the health check that follows it
    (M(kruise_cri.remediation.kruise_wait)). It fails naming each missing permission, with nothing
    changed.
  - Values files are written with mode C(0600) into a private temporary directory that is removed
    afterwards. A bearer token (O(api_key)) reaches helm through its environment, never its
    command line.
version_added: 0.2.0
author: kruise-cri maintainers (!UNKNOWN)
extends_documentation_fragment:
  - kruise_cri.remediation.kube_auth
options:
  release:
    description: Name of the Helm release.
    type: str
    required: true
  namespace:
    description: Namespace of the release (where helm keeps its secrets).
    type: str
    required: true
  state:
    description: What to do with the release.
    type: str
    choices: [info, present, rolled_back]
    default: info
  chart_ref:
    description:
      - The chart. A local directory or C(.tgz) is used as is. C(oci://) and C(https://)
        references are pulled. C(repo/name) is pulled from O(chart_repo_url) with C(--repo)
        (the user's helm repositories are not touched), or from the user's helm repositories
        when O(chart_repo_url) is empty.
    type: str
    default: openkruise/kruise
  chart_repo_url:
    description: The chart repository of a C(repo/name) O(chart_ref).
    type: str
    default: https://openkruise.github.io/charts/
  chart_version:
    description:
      - The chart version to install. Defaults to the release's current chart version with
        O(state=present) (only values change).
    type: str
  values:
    description:
      - Values deep-merged into the release's user values; C(null) removes a key.
    type: dict
    default: {}
  revision:
    description: The revision O(state=rolled_back) returns to.
    type: int
  only_from_revision:
    description:
      - With O(state=rolled_back), roll back only when the release's current revision is this
        one, the revision the caller's own change made. When another revision is current (someone
        changed the release since), nothing is rolled back, and RV(left_alone) says which
        revision is there and what its description says.
    type: int
  history:
    description: With O(state=info), how many of the last revisions to return with their values.
    type: int
    default: 0
  description:
    description: The description helm records for the new revision.
    type: str
  wait:
    description: Pass C(--wait) to helm (the collection's roles check readiness themselves).
    type: bool
    default: false
  timeout:
    description: Seconds for helm's C(--timeout).
    type: int
    default: 300
  helm_binary:
    description: The helm binary, a path or a name looked up in C(PATH).
    type: str
    default: helm
  show_values:
    description:
      - Helm values may hold secrets (a registry password, a token in an environment variable).
        By default every user value in the result (RV(before), RV(release), RV(computed_values),
        RV(history)) and in the diff is masked as C(********) except those kruise-cri reads and
        shows (C(featureGates), C(manager.image.*), C(daemon.socketLocation),
        C(daemon.socketFile)); the keys stay visible, and a masked value that changes reads
        C(******** (changed)) in the diff. Values that cannot hold a secret (C(null), booleans,
        C(""), C(0)) are kept.
      - V(true) returns and diffs the values as they are; use it only with C(no_log) or where the
        output is not kept.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description:
      - O(state=present) runs C(helm upgrade --dry-run=server), which renders and validates the
        chart against the API server and creates no revision, and reports the values diff and
        which objects would be added, removed or changed.
  diff_mode:
    support: full
    description:
      - The user values before and after, as YAML, with the chart versions in the headers; masked
        unless O(show_values=true).
"""

EXAMPLES = r"""
- name: Read the release and the chart 1.5.5 would install
  kruise_cri.remediation.kruise_helm_release:
    release: kruise
    namespace: kruise-system
    chart_version: 1.5.5
    history: 5
  register: kruise_release

- name: Upgrade to chart 1.5.5 keeping every user value, with one value changed
  kruise_cri.remediation.kruise_helm_release:
    release: kruise
    namespace: kruise-system
    state: present
    chart_version: 1.5.5
    values:
      manager:
        image:
          tag: v1.5.5
    description: "kruise-cri: pin OpenKruise 1.5.5"

- name: Go back to the recorded revision
  kruise_cri.remediation.kruise_helm_release:
    release: kruise
    namespace: kruise-system
    state: rolled_back
    revision: "{{ kruise_release.release.revision }}"
"""

RETURN = r"""
release:
  description:
    - The release after the task (name, namespace, revision, status, chart, chart_version, app_version, user values).
    - The values are masked unless O(show_values=true).
  returned: success
  type: dict
before:
  description: The release before the task, same keys as RV(release).
  returned: success
  type: dict
computed_values:
  description: The values in effect (chart defaults with the user's values), with O(state=info); masked unless O(show_values=true).
  returned: state is info
  type: dict
chart:
  description: The chart inspected (name, version, app_version, kube_version, kube_version_ok, default_values, source).
  returned: when a chart was inspected
  type: dict
server_version:
  description: The API server's version.
  returned: success
  type: str
history:
  description:
    - The last revisions, newest first, each with revision, status, chart, app_version, description, values and computed_values.
    - The values are masked unless O(show_values=true).
  returned: state is info and history > 0
  type: list
  elements: dict
manifest_changes:
  description: Objects the upgrade adds, removes and changes (kind namespace/name).
  returned: state is present and a change is made or would be made
  type: dict
left_alone:
  description:
    - Why O(state=rolled_back) rolled nothing back although the release is not at O(revision),
      because its current revision is not O(only_from_revision).
  returned: when O(only_from_revision) kept a rollback from happening
  type: str
revision_made:
  description:
    - When an upgrade fails, the revision helm made before failing (its status C(failed)), or
      null when it made none. The caller rolls back from that revision (O(only_from_revision)).
  returned: when O(state=present) fails
  type: int
commands:
  description: The helm command lines run (no secrets are ever on them).
  returned: always
  type: list
  elements: list
"""

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
    ClusterModule,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_helm_release import (
    DEFAULT_CHART_REF,
    DEFAULT_CHART_REPO_URL,
    run_module,
)

ARGUMENT_SPEC = {
    "release": {"type": "str", "required": True},
    "namespace": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["info", "present", "rolled_back"], "default": "info"},
    "chart_ref": {"type": "str", "default": DEFAULT_CHART_REF},
    "chart_repo_url": {"type": "str", "default": DEFAULT_CHART_REPO_URL},
    "chart_version": {"type": "str"},
    "values": {"type": "dict", "default": {}},
    "revision": {"type": "int"},
    "only_from_revision": {"type": "int"},
    "history": {"type": "int", "default": 0},
    "description": {"type": "str"},
    "wait": {"type": "bool", "default": False},
    "timeout": {"type": "int", "default": 300},
    "helm_binary": {"type": "str", "default": "helm"},
    "show_values": {"type": "bool", "default": False},
}


def main() -> None:
    module = ClusterModule(
        "kruise_helm_release",
        ARGUMENT_SPEC,
        supports_check_mode=True,
        required_if=[("state", "rolled_back", ["revision"])],
    )
    module.exit_json(**module.run(run_module))


if __name__ == "__main__":
    main()
