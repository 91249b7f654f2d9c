"""Whether a drained node's pods fit elsewhere: quantities, requests, taints, selectors, room."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.drain_capacity import (
    capacity_message,
    drain_capacity,
    node_rejects,
    parse_quantity,
    pod_requests,
    tolerates,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        ("1.5", Decimal("1.5")),
        ("128Mi", Decimal(128 * 2**20)),
        ("1Gi", Decimal(2**30)),
        ("1G", Decimal(10**9)),
        ("1e3", Decimal(1000)),
        ("2E", Decimal(2 * 10**18)),
        ("1Ei", Decimal(2**60)),
        (250, Decimal(250)),
        ("100k", Decimal(100_000)),
    ],
)
def test_quantities(text: object, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "Mi", "1Zi", "one", "1.2.3"])
def test_bad_quantity_names_itself(text: str) -> None:
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        parse_quantity(text)


def container(cpu: str | None = None, memory: str | None = None) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": "c", "resources": {"requests": requests}}


def pod(
    name: str,
    node: str | None = "drained",
    *containers: dict[str, Any],
    phase: str = "Running",
    **spec: Any,
) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "shop", "name": name, "uid": name},
        "spec": {"nodeName": node, "containers": list(containers) or [container()], **spec},
        "status": {"phase": phase},
    }


def node(
    name: str,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    *,
    ready: bool = True,
    unschedulable: bool = False,
    taints: list[dict[str, str]] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"unschedulable": unschedulable, "taints": taints or []},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def test_requests_sum_containers_take_the_largest_init_and_add_overhead() -> None:
    spec_pod = pod(
        "p",
        "n",
        container("250m", "64Mi"),
        container("250m", "64Mi"),
        initContainers=[container("1", "16Mi")],
        overhead={"cpu": "100m"},
    )
    requests = pod_requests(spec_pod)
    assert requests.cpu == Decimal("1.1")
    assert requests.memory == Decimal(128 * 2**20)
    assert requests.pods == 1


def test_limits_without_requests_count_as_requests() -> None:
    limited = {"name": "c", "resources": {"limits": {"cpu": "2", "memory": "1Gi"}}}
    assert pod_requests(pod("p", "n", limited)).cpu == 2
    both = {"name": "c", "resources": {"requests": {"cpu": "500m"}, "limits": {"cpu": "2"}}}
    assert pod_requests(pod("p", "n", both)).cpu == Decimal("0.5")


@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        ({"operator": "Exists"}, {"key": "a", "effect": "NoSchedule"}, True),
        (
            {"key": "a", "operator": "Exists"},
            {"key": "a", "value": "x", "effect": "NoSchedule"},
            True,
        ),
        ({"key": "a", "value": "x"}, {"key": "a", "value": "x", "effect": "NoSchedule"}, True),
        ({"key": "a", "value": "y"}, {"key": "a", "value": "x", "effect": "NoSchedule"}, False),
        (
            {"key": "a", "operator": "Exists", "effect": "NoExecute"},
            {"key": "a", "effect": "NoSchedule"},
            False,
        ),
        ({"key": "b", "operator": "Exists"}, {"key": "a", "effect": "NoSchedule"}, False),
    ],
)
def test_tolerations(toleration: dict[str, str], taint: dict[str, str], expected: bool) -> None:
    assert tolerates(toleration, taint) is expected


def test_selectors_affinity_and_taints_reject_nodes() -> None:
    gpu = node("gpu", labels={"pool": "gpu", "zone": "a"})
    assert node_rejects(gpu, pod("p", nodeSelector={"pool": "web"})) == "nodeSelector"
    assert node_rejects(gpu, pod("p", nodeSelector={"pool": "gpu"})) is None
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["x"]}]},
                ]
            }
        }
    }
    assert node_rejects(gpu, pod("p", affinity=affinity)) == "node affinity"
    affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ].append({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["b"]}]})
    assert node_rejects(gpu, pod("p", affinity=affinity)) is None
    tainted = node("t", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    assert node_rejects(tainted, pod("p")) == "taint dedicated:NoSchedule"
    assert (
        node_rejects(tainted, pod("p", tolerations=[{"key": "dedicated", "value": "db"}])) is None
    )
    soft = node("s", taints=[{"key": "x", "effect": "PreferNoSchedule"}])
    assert node_rejects(soft, pod("p")) is None


def test_pods_fit_on_the_nodes_with_room_and_skip_cordoned_and_unready_ones() -> None:
    drained = node("drained")
    nodes = [
        drained,
        node("small", cpu="1", memory="1Gi"),
        node("big", cpu="4", memory="8Gi"),
        node("cordoned", unschedulable=True),
        node("down", ready=False),
    ]
    already = [pod("resident", "big", container("3", "6Gi"))]
    to_place = [
        pod("a", "drained", container("800m", "512Mi")),
        pod("b", "drained", container("900m")),
    ]
    verdict = drain_capacity("drained", to_place, nodes, [*already, *to_place])
    assert verdict.fits, verdict
    assert verdict.pods == 2
    assert verdict.nodes_considered == 2
    assert verdict.nodes_unavailable == {"cordoned": "cordoned", "down": "not Ready"}


def test_a_pod_with_nowhere_to_go_is_named_with_its_requests_and_why() -> None:
    nodes = [node("drained"), node("small", cpu="1", memory="1Gi"), node("full", pods="1")]
    residents = [pod("resident", "full")]
    to_place = [
        pod("big", "drained", container("2", "2Gi")),
        pod("tiny", "drained", container("100m")),
    ]
    verdict = drain_capacity("drained", to_place, nodes, [*residents, *to_place])
    assert not verdict.fits
    assert verdict.unplaced == [
        {
            "pod": "shop/big",
            "requests": "cpu 2, memory 2Gi",
            "why": "no node takes it (2 not enough room)",
        }
    ]
    message = capacity_message("drained", verdict)
    assert message.startswith("drain of node drained refused: 1 of its 2 pod(s)")
    assert "shop/big (cpu 2, memory 2Gi)" in message
    assert "capacity_check=false" in message and message.endswith("Nothing was changed.")


def test_room_is_used_up_as_pods_are_placed() -> None:
    nodes = [node("drained"), node("one", cpu="1", memory="4Gi")]
    to_place = [pod(f"p{i}", "drained", container("400m")) for i in range(3)]
    verdict = drain_capacity("drained", to_place, nodes, to_place)
    assert [u["pod"] for u in verdict.unplaced] == ["shop/p2"]


def test_finished_pods_neither_use_room_nor_need_it() -> None:
    nodes = [node("drained"), node("one", cpu="1")]
    finished = pod("done", "one", container("1"), phase="Succeeded")
    to_place = [pod("p", "drained", container("1")), pod("old", "drained", phase="Failed")]
    verdict = drain_capacity("drained", to_place, nodes, [finished, *to_place])
    assert verdict.fits and verdict.pods == 1


def test_no_other_node_at_all() -> None:
    to_place = [pod("p")]
    verdict = drain_capacity("drained", to_place, [node("drained")], to_place)
    assert verdict.unplaced[0]["why"] == (
        "no node takes it (no other node is Ready and schedulable)"
    )
