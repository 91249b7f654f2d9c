"""node_drain's capacity_check against a real control plane: the scheduler places a Deployment's
pods (with CPU requests) on a source node, kwok runs them, and the module reads the real nodes'
allocatable and every pod's requests to say whether a drain would leave pods Pending.

Nodes are ours alone (``cap-*``, tainted and labelled so no other test's pod lands there and ours
land nowhere else); other tests' nodes are in the cluster too and must be refused for our pods
by their labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kruise_cri.lab.cluster_objects import create_all, ensure_pod_namespace, kwok_node
from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.waiting import wait_until
from tests.integration.kube_helpers import run_cluster_module
from tests.integration.service_accounts import Permission, grant_account

MODULE = "kruise_cri.remediation.node_drain"
NAMESPACE = "capacity-test"
SOURCE = "cap-src"
SPARE = "cap-spare"
SECOND_SPARE = "cap-spare-2"
TAINT = {"key": "kruise-cri.test/capacity", "value": "only", "effect": "NoSchedule"}
REPLICAS = 2
CPU_REQUEST = "700m"


def node(name: str, cpu: str, *, unschedulable: bool = False) -> dict[str, Any]:
    obj = kwok_node(name, "containerd://1.7.24", "v1.33.1", labels={"capacity-test": "pool"})
    obj["spec"]["taints"] = [TAINT]
    obj["spec"]["unschedulable"] = unschedulable
    amounts = {"cpu": cpu, "memory": "4Gi", "pods": "20"}
    obj["status"]["allocatable"] = amounts
    obj["status"]["capacity"] = amounts
    return obj


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "fat", "namespace": NAMESPACE},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": {"app": "fat"}},
            "template": {
                "metadata": {"labels": {"app": "fat"}},
                "spec": {
                    "nodeSelector": {"capacity-test": "pool"},
                    "tolerations": [{"key": TAINT["key"], "operator": "Exists"}],
                    "automountServiceAccountToken": False,
                    "containers": [
                        {
                            "name": "app",
                            "image": "registry.example/app:1.0",
                            "resources": {"requests": {"cpu": CPU_REQUEST, "memory": "64Mi"}},
                        }
                    ],
                },
            },
        },
    }


def pods_on(kube, node_name: str) -> list[dict[str, Any]]:
    listed = kube.get("/api/v1/pods", {"fieldSelector": f"spec.nodeName={node_name}"})
    return listed["items"]


def unschedulable(kube, name: str) -> bool:
    return bool(kube.get(f"/api/v1/nodes/{name}").get("spec", {}).get("unschedulable"))


def drain(kubeconfig: Path, *extra: str, **args: Any) -> dict[str, Any]:
    return run_cluster_module(MODULE, {"kubeconfig": str(kubeconfig), **args}, *extra)


@pytest.fixture(scope="module")
def pods_on_source(control_plane: ControlPlane, kube) -> Iterator[list[dict[str, Any]]]:
    """Both replicas Running on cap-src (the spare was cordoned while they were scheduled), then
    the spare uncordoned: it has room (1 CPU) for one of them only."""
    ensure_pod_namespace(kube, NAMESPACE)
    create_all(kube, [node(SOURCE, "4"), node(SPARE, "1", unschedulable=True)])
    create_all(kube, [deployment()])

    def running() -> list[dict[str, Any]] | None:
        pods = pods_on(kube, SOURCE)
        phases = [(p.get("status") or {}).get("phase") for p in pods]
        return pods if phases == ["Running"] * REPLICAS else None

    pods = wait_until(f"{REPLICAS} Running pods on {SOURCE}", running, timeout=120)
    kube.patch(f"/api/v1/nodes/{SPARE}", {"spec": {"unschedulable": False}})
    yield pods
    kube.send("DELETE", f"/api/v1/namespaces/{NAMESPACE}")
    for name in (SOURCE, SPARE, SECOND_SPARE):
        kube.send("DELETE", f"/api/v1/nodes/{name}")


def test_a_drain_that_would_leave_pods_pending_is_refused_before_any_change(
    control_plane: ControlPlane, kube, pods_on_source
) -> None:
    before = {p["metadata"]["uid"] for p in pods_on_source}
    for mode in ((), ("--check",)):
        refused = drain(control_plane.kubeconfig, *mode, name=SOURCE, capacity_check=True)
        assert refused.get("failed"), refused
        assert refused["msg"].startswith(
            f"drain of node {SOURCE} refused: 1 of its {REPLICAS} pod(s) would have nowhere to run"
        ), refused["msg"]
        assert f"cpu {CPU_REQUEST}, memory 64Mi" in refused["msg"]
        assert "capacity_check=false" in refused["msg"]
        capacity = refused["capacity"]
        assert capacity["fits"] is False and capacity["pods"] == REPLICAS
        (unplaced,) = capacity["unplaced"]
        assert unplaced["pod"].startswith(f"{NAMESPACE}/fat-")
        # The spare has no room left (other tests' nodes, if any, lack the pool's label).
        assert "1 not enough room" in unplaced["why"]
        assert refused["changed"] is False
    assert not unschedulable(kube, SOURCE)
    assert {p["metadata"]["uid"] for p in pods_on(kube, SOURCE)} == before

    # Without the check the same preview goes through: the check is what refused.
    unchecked = drain(control_plane.kubeconfig, "--check", name=SOURCE)
    assert not unchecked.get("failed"), unchecked.get("msg")
    assert "capacity" not in unchecked


def test_room_on_another_node_lets_the_drain_through(
    control_plane: ControlPlane, kube, pods_on_source
) -> None:
    create_all(kube, [node(SECOND_SPARE, "1")])
    wait_until(
        f"{SECOND_SPARE} Ready",
        lambda: any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in kube.get(f"/api/v1/nodes/{SECOND_SPARE}")
            .get("status", {})
            .get("conditions", [])
        ),
        timeout=60,
    )
    preview = drain(control_plane.kubeconfig, "--check", name=SOURCE, capacity_check=True)
    assert not preview.get("failed"), preview.get("msg")
    assert preview["capacity"]["fits"] is True
    assert preview["capacity"]["unplaced"] == []
    assert len(preview["would_evict"]) == REPLICAS
    assert not unschedulable(kube, SOURCE)


def test_the_check_needs_list_nodes_and_says_so(
    control_plane: ControlPlane, kube, pods_on_source, tmp_path: Path
) -> None:
    drainer = [
        Permission("get", "nodes"),
        Permission("patch", "nodes"),
        Permission("list", "pods"),
        Permission("create", "pods/eviction", namespace=NAMESPACE),
    ]
    account = grant_account(
        control_plane, kube, tmp_path, "capacity-drainer", drainer, accounts_namespace=NAMESPACE
    )
    refused = drain(account.kubeconfig, "--check", name=SOURCE, capacity_check=True)
    assert refused.get("failed"), refused
    assert "list nodes" in refused["msg"], refused["msg"]
    # The same account drains (in preview) without the check: only the check needs it.
    allowed = drain(account.kubeconfig, "--check", name=SOURCE)
    assert not allowed.get("failed"), allowed.get("msg")
