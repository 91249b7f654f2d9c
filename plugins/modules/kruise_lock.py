#!/usr/bin/python
"""Take or release the lock that keeps two kruise-cri runs from changing one OpenKruise at once."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kruise_lock
short_description: Take or release the Lease that lets one kruise-cri run at a time change OpenKruise
description:
  - The lock is a C(coordination.k8s.io/v1) Lease named O(name) in O(namespace), held by
    O(holder), the id of one run. The pin and daemon-gate roles take it after their pre-flight
    and release it when they end, whatever the outcome.
  - O(state=present) takes the lock when the Lease is missing, free, held by O(holder) already,
    expired (its C(renewTime) plus C(leaseDurationSeconds) is past), or held by O(take_over).
    Otherwise it fails naming the holder, what it is doing, its host and user, since when, and
    when the lock expires. Of two runs racing for it, the API server's optimistic concurrency
    lets exactly one win.
  - O(state=absent) deletes the Lease only while O(holder) holds it; a lock taken over by
    another run since is left alone.
  - Before anything, asks the API server (SelfSubjectAccessReview) whether the credentials may
    get, create and update (O(state=present)) or get and delete (O(state=absent)) Leases in
    O(namespace), and fails naming each missing permission.
version_added: 0.3.0
author: kruise-cri maintainers (!UNKNOWN)
extends_documentation_fragment:
  - kruise_cri.remediation.kube_auth
options:
  name:
    description: Name of the Lease, for example C(kruise-cri.kruise) for the Helm release C(kruise).
    type: str
    required: true
  namespace:
    description: Namespace of the Lease.
    type: str
    required: true
  holder:
    description: The id of this run, written as the Lease's C(holderIdentity).
    type: str
    required: true
  state:
    description: Take (V(present)) or release (V(absent)) the lock.
    type: str
    choices: [present, absent]
    default: present
  duration:
    description:
      - Seconds the lock holds without being renewed, so that a run that died holding it does
        not block others for ever. At least the longest the change can take.
    type: int
    default: 900
  purpose:
    description: What the run does, shown to a run the lock refuses.
    type: str
    default: kruise-cri
  take_over:
    description:
      - The holder whose lock may be taken although it has not expired, a run known to be gone.
    type: str
attributes:
  check_mode:
    support: full
    description: Reads the Lease and fails the same way when another run holds it; writes nothing.
  diff_mode:
    support: full
    description: The holder before and after.
"""

EXAMPLES = r"""
- name: Take the lock of the Helm release kruise
  kruise_cri.remediation.kruise_lock:
    name: kruise-cri.kruise
    namespace: kruise-system
    holder: "{{ run_id }}"
    purpose: pin OpenKruise 1.5.5
    duration: 900

- name: Release it
  kruise_cri.remediation.kruise_lock:
    name: kruise-cri.kruise
    namespace: kruise-system
    holder: "{{ run_id }}"
    state: absent
"""

RETURN = r"""
held:
  description: Whether O(holder) holds the lock now (in check mode, would hold it).
  returned: always
  type: bool
holder:
  description:
    - Who held the lock before this task (C(holder), C(purpose), C(host), C(user), C(since),
      C(expires)); null when there was no Lease.
  returned: always
  type: dict
reason:
  description: Why the lock could be taken (free, expired, taken over, held already).
  returned: when O(state=present) succeeds
  type: str
released:
  description: Whether O(state=absent) deleted the Lease (in check mode, would delete it).
  returned: when O(state=absent)
  type: bool
"""

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
    ClusterModule,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_lock import (
    run_module,
)

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str", "required": True},
    "holder": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "duration": {"type": "int", "default": 900},
    "purpose": {"type": "str", "default": "kruise-cri"},
    "take_over": {"type": "str"},
}


def main() -> None:
    module = ClusterModule("kruise_lock", ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**module.run(run_module, request_error="the lock"))


if __name__ == "__main__":
    main()
