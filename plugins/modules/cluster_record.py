#!/usr/bin/python
"""Keep files and values in a ConfigMap or Secret, so that they outlive the job that made them."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_record
short_description: Keep files and values in a ConfigMap or Secret that outlives the job
description:
  - Writes O(data) and the contents of O(files) as the keys of the ConfigMap or Secret O(name) in
    O(namespace), creating it or replacing its keys, for example the assessment's report.json and
    report.md, which an AWX job's container would lose when it ends.
  - Keys are written in the order given while they fit under O(max_bytes) together; a key that
    does not fit is left out, named in RV(omitted), in a warning and in the annotation
    C(kruise-cri.openkruise.io/omitted), and the next ones are still tried.
  - The record carries the label C(app.kubernetes.io/managed-by=kruise-cri); an object of that
    name without it is never overwritten or deleted (the task fails, naming it).
  - Before anything, asks the API server (SelfSubjectAccessReview) whether the credentials may
    get, create and update (O(state=present)) or get and delete (O(state=absent)) the kind in
    O(namespace), and fails naming each missing permission, with nothing changed.
  - The module runs where the files are, usually the controller (delegate the task to C(localhost)).
version_added: 0.3.0
author: kruise-cri maintainers (!UNKNOWN)
extends_documentation_fragment:
  - kruise_cri.remediation.kube_auth
options:
  name:
    description: Name of the ConfigMap or Secret.
    type: str
    required: true
  namespace:
    description: Its namespace, which must exist.
    type: str
    required: true
  kind:
    description: A V(ConfigMap), or a V(Secret) (type Opaque) for what may hold secrets.
    type: str
    choices: [ConfigMap, Secret]
    default: ConfigMap
  data:
    description: Keys and their text. Never logged.
    type: dict
    default: {}
  files:
    description: Keys and the path of the text file (UTF-8) each holds, on the host that runs the module.
    type: dict
    default: {}
  max_bytes:
    description:
      - The most the keys may hold together, in bytes. The API server refuses objects over 1 MiB.
    type: int
    default: 921600
  labels:
    description: Labels to set besides C(app.kubernetes.io/managed-by=kruise-cri).
    type: dict
    default: {}
  state:
    description: Write the record (V(present)) or delete it (V(absent)).
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    description: Reads the object and reports what would change; writes nothing.
  diff_mode:
    support: full
    description: Each key before and after (for a Secret, only the keys and their sizes).
"""

EXAMPLES = r"""
- name: Publish the assessment's report to a ConfigMap
  kruise_cri.remediation.cluster_record:
    name: kruise-cri-report
    namespace: kruise-cri
    files:
      report.json: kruise-cri-report/report.json
      report.md: kruise-cri-report/report.md
  delegate_to: localhost
"""

RETURN = r"""
object:
  description: The record, as C(namespace/name).
  returned: always
  type: str
created:
  description: Whether the task created it (in check mode, would create it).
  returned: always
  type: bool
keys:
  description: The keys written (or that would be), in order.
  returned: when O(state=present)
  type: list
  elements: str
bytes:
  description: What the keys written hold together.
  returned: when O(state=present)
  type: int
omitted:
  description: The keys left out, as C(key (N bytes)), because they did not fit under O(max_bytes).
  returned: when O(state=present)
  type: list
  elements: str
"""

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
    ClusterModule,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.cluster_record import (
    DEFAULT_MAX_BYTES,
    run_module,
)

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str", "required": True},
    "kind": {"type": "str", "choices": ["ConfigMap", "Secret"], "default": "ConfigMap"},
    "data": {"type": "dict", "default": {}, "no_log": True},
    "files": {"type": "dict", "default": {}},
    "max_bytes": {"type": "int", "default": DEFAULT_MAX_BYTES},
    "labels": {"type": "dict", "default": {}},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
}


def main() -> None:
    module = ClusterModule("cluster_record", ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**module.run(run_module))


if __name__ == "__main__":
    main()
