#!/usr/bin/python
"""Read kruise-cri's records (ConfigMaps or Secrets written by cluster_record) by their labels."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_records_info
short_description: Read the records cluster_record keeps, found by their labels
description:
  - Lists the ConfigMaps or Secrets of O(namespace) that carry
    C(app.kubernetes.io/managed-by=kruise-cri) and every label of O(labels), newest first, and
    returns each one's O(key) base64-encoded, as C(ansible.builtin.slurp) returns a file, so that
    the records a job in another container wrote are read as files would be.
  - A namespace that does not exist holds no records. A refused list fails, naming the permission.
  - The module runs where the kubeconfig is, usually the controller (delegate the task to C(localhost)).
version_added: 0.3.0
author: kruise-cri maintainers (!UNKNOWN)
extends_documentation_fragment:
  - kruise_cri.remediation.kube_auth
options:
  namespace:
    description: Where the records are.
    type: str
    required: true
  kind:
    description: V(ConfigMap) or V(Secret).
    type: str
    choices: [ConfigMap, Secret]
    default: ConfigMap
  labels:
    description: Labels every record returned carries.
    type: dict
    default: {}
  key:
    description: The key whose content is returned.
    type: str
    required: true
attributes:
  check_mode:
    support: full
    description: Reads only; the same in check mode.
  diff_mode:
    support: none
    description: The module never changes anything.
"""

EXAMPLES = r"""
- name: Read the pin records of the Helm release kruise
  kruise_cri.remediation.cluster_records_info:
    namespace: kruise-system
    kind: Secret
    labels:
      kruise-cri.openkruise.io/record: pin
    key: record.json
  register: records
  no_log: true  # the records hold the release's values
"""

RETURN = r"""
records:
  description:
    - The records, newest first, each with C(name), C(source) (C(Kind namespace/name)), C(created),
      C(labels) and C(content) (O(key), base64-encoded); records without O(key) are left out.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
    ClusterModule,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.cluster_record import (
    run_info_module,
)

ARGUMENT_SPEC = {
    "namespace": {"type": "str", "required": True},
    "kind": {"type": "str", "choices": ["ConfigMap", "Secret"], "default": "ConfigMap"},
    "labels": {"type": "dict", "default": {}},
    "key": {"type": "str", "required": True, "no_log": False},
}


def main() -> None:
    module = ClusterModule("cluster_records_info", ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**module.run(run_info_module))


if __name__ == "__main__":
    main()
