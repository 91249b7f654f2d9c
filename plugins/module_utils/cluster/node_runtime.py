"""The node_runtime module: after a runtime switch, record the node's CRI socket where kubeadm
keeps it and wait until the node, and every DaemonSet pod on it, runs on the runtime expected.

Deciding is pure (:func:`node_state`, :func:`daemonset_pod_problems`, :func:`annotation_change`);
:func:`run_module` reads, patches and polls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
    ClusterModule,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeRequestError,
)

CRI_SOCKET_ANNOTATION = "kubeadm.alpha.kubernetes.io/cri-socket"
DAEMONSET_KINDS = {("apps", "DaemonSet"), ("apps.kruise.io", "DaemonSet")}
POLL_INTERVAL = 2.0
PROBLEMS_SHOWN = 8


def node_state(node: Mapping[str, Any]) -> dict[str, Any]:
    """Ready, when the kubelet last reported it (``heartbeat``), the runtime it reports
    (``containerd://1.6.20``), and unschedulable."""
    status = node.get("status") or {}
    condition = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    return {
        "ready": condition.get("status") == "True",
        "heartbeat": condition.get("lastHeartbeatTime"),
        "runtime_version": (status.get("nodeInfo") or {}).get("containerRuntimeVersion"),
        "unschedulable": bool((node.get("spec") or {}).get("unschedulable")),
    }


def annotation_change(node: Mapping[str, Any], cri_socket: str | None) -> dict[str, Any] | None:
    """``{before, after}`` of the kubeadm CRI socket annotation when it must change: only on
    nodes that carry it (kubeadm's), whose upgrades read it."""
    annotations = (node.get("metadata") or {}).get("annotations") or {}
    before = annotations.get(CRI_SOCKET_ANNOTATION)
    if cri_socket is None or before is None or before == cri_socket:
        return None
    return {"before": before, "after": cri_socket}


def _is_daemonset_pod(pod: Mapping[str, Any]) -> bool:
    for owner in (pod.get("metadata") or {}).get("ownerReferences") or []:
        group = str(owner.get("apiVersion", "")).split("/", 1)[0]
        if owner.get("controller") and (group, owner.get("kind")) in DAEMONSET_KINDS:
            return True
    return False


def daemonset_pod_problems(pods: Sequence[Mapping[str, Any]], runtime: str) -> list[str]:
    """Why the node's DaemonSet pods are not yet all Ready with containers of ``runtime``
    (their container IDs start with ``runtime://``: a status from before the switch does not
    count)."""
    problems = []
    for pod in pods:
        metadata = pod.get("metadata") or {}
        if not _is_daemonset_pod(pod) or metadata.get("deletionTimestamp"):
            continue
        name = f"{metadata.get('namespace')}/{metadata.get('name')}"
        status = pod.get("status") or {}
        statuses = status.get("containerStatuses") or []
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        foreign = [
            s.get("name")
            for s in statuses
            if not str(s.get("containerID") or "").startswith(f"{runtime}://")
        ]
        if not statuses or foreign:
            problems.append(f"pod {name}: containers not yet started by {runtime}")
        elif not ready:
            waiting = [
                ((s.get("state") or {}).get("waiting") or {}).get("reason")
                for s in statuses
                if (s.get("state") or {}).get("waiting")
            ]
            restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
            detail = ", ".join(w for w in waiting if w) or "not Ready"
            problems.append(f"pod {name}: {detail} ({restarts} restarts)")
    return problems


def node_problems(
    state: Mapping[str, Any], runtime: str, reported_after: str | None = None
) -> list[str]:
    """What keeps the node from counting as Ready on ``runtime``; with ``reported_after`` (a
    heartbeat read before the kubelet was started) a status the kubelet posted before its start,
    which still says Ready, does not count."""
    problems = []
    if reported_after and (state.get("heartbeat") or "") <= reported_after:
        problems.append("the kubelet has not reported the node's status since it was started")
    elif not state["ready"]:
        problems.append("the node is not Ready")
    if not str(state["runtime_version"] or "").startswith(f"{runtime}://"):
        problems.append(f"the node reports runtime {state['runtime_version']}, not {runtime}://")
    return problems


def wait_for_runtime(
    read: Callable[[], tuple[dict[str, Any], list[str]]],
    *,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll ``read`` (node state, problems) until no problem is left or ``timeout`` passes."""
    started = clock()
    while True:
        state, problems = read()
        now = clock()
        if not problems or now - started >= timeout:
            return {**state, "problems": problems, "waited": round(now - started, 1)}
        sleep(min(POLL_INTERVAL, max(0.0, timeout - (now - started))))


def run_module(module: ClusterModule) -> dict[str, Any]:
    params = module.params
    name, runtime, timeout = params["name"], params["runtime"], params["timeout"]
    if timeout <= 0:
        module.fail_json(msg=f"timeout {timeout} must be positive; give seconds to wait")
    client = module.client()
    path = f"/api/v1/nodes/{name}"
    try:
        node = client.get(path)
    except KubeRequestError as error:
        if error.status == 404:
            module.fail_json(msg=f"node {name} is not in the cluster; give a node's name")
        raise
    result: dict[str, Any] = {"node": name, "changed": False}
    change = annotation_change(node, params["cri_socket"])
    if change is not None:
        result["changed"] = True
        result["annotation"] = change
        if module._diff:
            result["diff"] = {
                "before": {CRI_SOCKET_ANNOTATION: change["before"]},
                "after": {CRI_SOCKET_ANNOTATION: change["after"]},
            }
        if not module.check_mode:
            client.patch(
                path, {"metadata": {"annotations": {CRI_SOCKET_ANNOTATION: change["after"]}}}
            )
    if module.check_mode or not params["wait"]:
        return {**result, **node_state(node)}

    def read() -> tuple[dict[str, Any], list[str]]:
        state = node_state(client.get(path))
        problems = node_problems(state, runtime, params["reported_after"])
        if not problems and params["daemonset_pods"]:
            pods = list(
                client.list_items("/api/v1/pods", {"fieldSelector": f"spec.nodeName={name}"})
            )
            problems = daemonset_pod_problems(pods, runtime)
        return state, problems

    outcome = wait_for_runtime(read, timeout=timeout)
    result.update(outcome)
    if outcome["problems"]:
        shown = outcome["problems"][:PROBLEMS_SHOWN]
        more = len(outcome["problems"]) - len(shown)
        module.fail_json(
            msg=f"node {name} is not running on {runtime} after {timeout} s: "
            + "; ".join(shown)
            + (f"; and {more} more" if more > 0 else ""),
            **result,
        )
    return result
