#!/usr/bin/python
"""Cordon, drain or uncordon a Kubernetes node through the Eviction API."""

from __future__ import annotations

DOCUMENTATION = r"""
module: node_drain
short_description: Cordon, drain (evict its pods through the Eviction API) or uncordon a node
description:
  - O(state=cordon) marks the node unschedulable, O(state=uncordon) schedulable again; both are
    idempotent (C(changed=false) when the node already is so) and support diff mode.
  - O(state=drain) cordons the node and evicts its pods through the Eviction API
    (C(policy/v1), C(policy/v1beta1) on clusters that lack it), as C(kubectl drain) does, with up to
    O(concurrency) eviction requests in flight. An eviction a PodDisruptionBudget refuses
    (HTTP 429) is tried again after an exponential, jittered backoff (0.5 s doubling to 5 s) until
    the deadline. An eviction is done when the pod's UID is gone from the node; a pod recreated
    under the same name (a StatefulSet's) is another pod.
  - Mirror pods (static pods) and DaemonSet pods (C(apps/v1) and OpenKruise's Advanced DaemonSet,
    C(apps.kruise.io)) are skipped. Pods without a controller and pods with C(emptyDir) volumes
    fail the task before anything changes unless O(force) or O(delete_emptydir_data) allow them,
    as C(kubectl drain --force --delete-emptydir-data).
  - A drain that has not finished within O(timeout) fails, listing every pod left and why (the
    name of the PodDisruptionBudget that blocked it). On failure the node is uncordoned again if
    this task cordoned it, unless O(leave_cordoned_on_failure=true).
  - Before its reads, and again before its first change, the module asks the API server
    (SelfSubjectAccessReview) whether the credentials may make every request it will make (get and
    patch the node, list pods in every namespace, create C(pods/eviction) in the namespace of each
    pod to evict), and fails naming each missing permission, with nothing changed.
  - In check mode nothing changes; the task reports the pods it would evict (RV(would_evict)) and
    the ones it would skip (RV(skipped_pods)), and fails as a real run would on pods that may not
    be evicted and on missing permissions.
  - The module runs where the kubeconfig is, usually the controller (delegate the task to C(localhost)).
    See C(docs/node-drain.md) for how it differs from C(kubectl drain) and
    M(kubernetes.core.k8s_drain).
version_added: 0.2.0
author: kruise-cri maintainers (!UNKNOWN)
extends_documentation_fragment:
  - kruise_cri.remediation.kube_auth
options:
  name:
    description:
      - The node's name, as C(kubectl get nodes) shows it.
    type: str
    required: true
  state:
    description:
      - V(cordon) marks the node unschedulable, V(uncordon) schedulable, V(drain) cordons it and
        evicts its pods.
    type: str
    choices: [cordon, drain, uncordon]
    default: drain
  timeout:
    description:
      - Seconds the whole task may take, from its start to the last pod's deletion, for
        O(state=drain). Past it the task fails and lists the pods left.
      - Must be positive.
    type: int
    default: 300
  grace_period:
    description:
      - Seconds each pod gets to terminate, overriding its C(terminationGracePeriodSeconds);
        V(0) stops it at once. Unset, each pod's own grace period applies.
    type: int
  pod_selector:
    description:
      - Evict only the pods that match this label selector (C(kubectl drain --pod-selector)),
        for example V(app=web,tier!=db). The others stay where they are and are not reported.
    type: str
  force:
    description:
      - Evict pods that no controller manages (no ownerReference with C(controller=true)); they
        are not recreated anywhere. Without it such pods fail the task before any change.
      - Like C(kubectl drain --force).
    type: bool
    default: false
  delete_emptydir_data:
    description:
      - Evict pods with C(emptyDir) volumes, whose data is lost. Without it such pods fail the task
        before any change.
      - Like C(kubectl drain --delete-emptydir-data).
    type: bool
    default: false
  ignore_daemonsets:
    description:
      - Leave DaemonSet pods (C(apps/v1) and OpenKruise Advanced DaemonSet) on the node; their
        controller would start them again there anyway. V(false) fails the task when the node has
        any.
    type: bool
    default: true
  concurrency:
    description:
      - Eviction requests in flight at most (1 to 64). Pods waiting for a PodDisruptionBudget or
        for their deletion do not count, so blocked pods never hold up the others.
      - 16 is the client's connection pool, drains a 110-pod node in a few round trips, and stays
        far below the API server's default 200 mutating requests in flight.
    type: int
    default: 16
  capacity_check:
    description:
      - For O(state=drain), before anything changes, check that the pods to evict fit on the
        other nodes, and fail naming those that would have nowhere to run. A node counts when it
        is Ready and not cordoned, its C(NoSchedule)/C(NoExecute) taints are tolerated and the
        pod's C(nodeSelector) and required node affinity match it; the room is its
        C(allocatable) CPU, memory and pods less what the pods already there request.
      - Pod (anti-)affinity, topology spread, ports and volumes are not modelled; see
        C(docs/node-drain.md).
      - Needs list on nodes, and reads every pod of the cluster once.
    type: bool
    default: false
  leave_cordoned_on_failure:
    description:
      - When a drain fails, keep the node cordoned even if this task cordoned it. By default it is
        uncordoned again, so a failed task leaves the node as schedulable as it found it (pods
        already evicted stay evicted).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reads the node and its pods; reports what would be cordoned and evicted.
  diff_mode:
    support: full
    description: C(unschedulable) before and after, and for O(state=drain) the pods to evict.
notes:
  - The credentials need get and patch on nodes, list on pods and create on pods/eviction.
  - Each pod's eviction carries a UID precondition, so a pod replaced under the same name between
    the listing and the eviction is not evicted in its stead.
seealso:
  - module: kubernetes.core.k8s_drain
  - module: kruise_cri.remediation.kruise_info
"""

EXAMPLES = r"""
- name: Drain the node before switching its runtime, allowing pods without controller
  kruise_cri.remediation.node_drain:
    name: node-3
    force: true
    delete_emptydir_data: true
    timeout: 600
  delegate_to: localhost
  register: drained

- name: Show what a drain would evict, changing nothing
  kruise_cri.remediation.node_drain:
    name: node-3
    delete_emptydir_data: true
  check_mode: true
  delegate_to: localhost
  register: preview

- name: Drain only the web pods, keeping the node cordoned if the budget never allows it
  kruise_cri.remediation.node_drain:
    name: node-3
    pod_selector: app=web
    grace_period: 30
    leave_cordoned_on_failure: true
  delegate_to: localhost

- name: Put the node back into service
  kruise_cri.remediation.node_drain:
    name: node-3
    state: uncordon
  delegate_to: localhost

- name: One kubeconfig for every cluster module of the collection
  module_defaults:
    group/kruise_cri.remediation.cluster:
      kubeconfig: /etc/kubernetes/admin.conf
  block:
    - name: Cordon the node
      kruise_cri.remediation.node_drain:
        name: node-3
        state: cordon
      delegate_to: localhost
"""

RETURN = r"""
node:
  description: The node's name.
  returned: always
  type: str
  sample: node-3
state:
  description: The requested state.
  returned: always
  type: str
  sample: drain
unschedulable:
  description: C(spec.unschedulable) before and after the task - what the node is (in check mode,
    what it would be); after a failed drain, after the node was uncordoned again; unchanged when
    the task refused pods before cordoning.
  returned: when the node was found
  type: dict
  sample: {before: false, after: true}
evicted:
  description:
    - The pods evicted and confirmed gone (their UID left the node), sorted by namespace and name.
    - C(attempts) is the eviction requests sent, C(refusals) how many of them a
      PodDisruptionBudget (or a transient error) refused, C(pdb) the budget that refused, and
      C(seconds) the time from the task's start until the pod was gone.
  returned: O(state=drain)
  type: list
  elements: dict
  sample:
    - {namespace: shop, name: web-6d4cf56db6-x2x8d, uid: 1f0c..., attempts: 3, refusals: 2,
       pdb: web, seconds: 4.21}
    - {namespace: shop, name: batch-1, uid: 77aa..., attempts: 1, refusals: 0, pdb: null,
       seconds: 0.31, notes: ["no controller: nothing recreates it"]}
would_evict:
  description: In check mode, the pods a drain would evict, with C(notes) on what is lost.
  returned: O(state=drain) in check mode
  type: list
  elements: dict
  sample: [{namespace: shop, name: web-6d4cf56db6-x2x8d, uid: 1f0c..., notes: []}]
late_pods:
  description:
    - Pods bound to the node after it was cordoned (a scheduler that had not yet seen the cordon
      placed an evicted pod's replacement there), found by a look at the node once the evicted
      pods were gone, and evicted too (included in RV(evicted)).
  returned: when the drain found any
  type: list
  elements: str
  sample: [shop/web-6d4cf56db6-k2n4q]
skipped_pods:
  description:
    - The pods left on the node on purpose, with the reason (mirror pod, DaemonSet).
    - Named so because Ansible reads a result's C(skipped) key as the task's own status.
  returned: O(state=drain)
  type: list
  elements: dict
  sample: [{namespace: kube-system, name: kube-proxy-7xk2p, reason: "managed by DaemonSet kube-proxy, which would start it again on this node"}]
refused:
  description: Pods that must not be evicted without O(force) or O(delete_emptydir_data); the
    task failed because of them, before evicting anything.
  returned: failure
  type: list
  elements: dict
  sample: [{namespace: shop, name: scratch, reason: "no controller manages it ...; set force=true to evict it anyway"}]
left:
  description: On a failed drain, the pods still on the node and why (C(pdb) names the
    PodDisruptionBudget that kept refusing; C(evicted) is true for a pod evicted but still
    terminating).
  returned: failure
  type: list
  elements: dict
  sample:
    - namespace: shop
      name: db-0
      uid: 9b1e...
      reason: "blocked by PodDisruptionBudget db (12 refusals): The disruption budget db needs 3
        healthy pods and has 3 currently"
      pdb: db
      attempts: 13
      evicted: false
capacity:
  description:
    - With O(capacity_check), where the pods to evict would go. C(pods) is how many, C(fits)
      whether every one has a node, C(nodes_considered) the other nodes that are Ready and not
      cordoned, C(nodes_unavailable) the others and why, C(unplaced) (on failure, in the message
      too) each pod with nowhere to run, what it requests and why each node refused it.
  returned: O(capacity_check) and O(state=drain), once the node's pods were read
  type: dict
  sample: {fits: true, pods: 3, nodes_considered: 2, unplaced: [], nodes_unavailable: {node-4: cordoned}}
uncordoned:
  description: On a failed drain that had cordoned the node, whether it was uncordoned again.
  returned: failure, when this task had cordoned the node
  type: bool
eviction_api:
  description: The Eviction API version used (C(policy/v1), or C(policy/v1beta1) on old clusters).
  returned: O(state=drain), when pods were evicted
  type: str
  sample: policy/v1
evictions:
  description: Pods to evict, eviction requests sent, and refusals (retried answers).
  returned: O(state=drain), when pods were evicted
  type: dict
  sample: {pods: 45, requests: 61, refusals: 16}
timings:
  description:
    - Seconds spent. C(total) the whole task; C(preflight) reading the node and classifying its
      pods; C(cordon) cordoning and listing again; C(evictions) from the first eviction request to
      the last one accepted; C(drain) from the first eviction request until every pod was gone (or
      the deadline).
  returned: always
  type: dict
  sample: {preflight: 0.041, cordon: 0.032, evictions: 9.8, drain: 10.1, total: 10.2}
requests:
  description: HTTP requests sent, by resource, and the seconds spent.
  returned: always
  type: dict
"""

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
    ClusterModule,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.node_drain import (
    STATES,
    run_module,
)

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": list(STATES), "default": "drain"},
    "timeout": {"type": "int", "default": 300},
    "grace_period": {"type": "int"},
    "pod_selector": {"type": "str"},
    "force": {"type": "bool", "default": False},
    "delete_emptydir_data": {"type": "bool", "default": False},
    "ignore_daemonsets": {"type": "bool", "default": True},
    "concurrency": {"type": "int", "default": 16},
    "leave_cordoned_on_failure": {"type": "bool", "default": False},
    "capacity_check": {"type": "bool", "default": False},
}


def main() -> None:
    module = ClusterModule("node_drain", ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**module.run(run_module))


if __name__ == "__main__":
    main()
