"""node_drain through API trouble, with the real KubeClient against an API server double on
loopback (tests/unit/test_client_retries.py's :class:`Server`): a 503 on the LIST that waits for
evicted pods, a LIST that keeps failing, the server gone while evicting and while uncordoning.
The same, against a real control plane, is in tests/integration/test_api_outage.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster import (
    node_drain as nd,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
    load_settings,
)

from tests.unit.test_client_retries import Server

NODE = "n1"
POD = {
    "metadata": {
        "namespace": "shop",
        "name": "web-1",
        "uid": "uid-1",
        "ownerReferences": [{"kind": "ReplicaSet", "name": "web", "controller": True}],
    },
    "spec": {"nodeName": NODE},
    "status": {"phase": "Running"},
}


class Cluster:
    """One node with one pod; an accepted eviction removes the pod. ``budget_refuses`` answers
    evictions with a PodDisruptionBudget's 429; ``wait_list`` gives the steps of the metadata-only
    LISTs (then the pods as they are)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.pods = [POD]
        self.budget_refuses = False
        self.wait_list: list[tuple[Any, ...]] = []
        server.route = self.route

    def route(self, method: str, target: str, headers: dict[str, str]) -> tuple[Any, ...] | None:
        path = target.split("?", 1)[0]
        if path == f"/api/v1/nodes/{NODE}" and method == "GET":
            return (
                "json",
                {"metadata": {"name": NODE}, "spec": {"unschedulable": False}},
            )
        if path == f"/api/v1/nodes/{NODE}" and method == "PATCH":
            # The server double does not read the body here: record what the client meant.
            return None
        if path == "/api/v1/pods" and "PartialObjectMetadataList" in headers.get("Accept", ""):
            if self.wait_list:
                return self.wait_list.pop(0)
            return (
                "json",
                {"metadata": {}, "items": [{"metadata": p["metadata"]} for p in self.pods]},
            )
        if path == "/api/v1/pods":
            return ("json", {"metadata": {}, "items": self.pods})
        if path.endswith("/eviction"):
            if self.budget_refuses:
                return ("status", 429)
            self.pods = []
            return ("json", {"kind": "Status", "status": "Success"})
        return None


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    server = Server()
    server.start()
    try:
        yield Cluster(server)
    finally:
        server.stop()


def client_of(cluster: Cluster) -> KubeClient:
    return KubeClient(load_settings({"host": cluster.server.url, "api_key": "t"}))


def patched(cluster: Cluster) -> list[bool]:
    return [
        json.loads(body)["spec"]["unschedulable"]
        for method, _unused, _unused, body in cluster.server.seen
        if method == "PATCH"
    ]


def test_one_503_on_the_deletion_wait_list_is_retried(cluster):
    cluster.wait_list = [("status", 503)]
    outcome = nd.run_node_drain(client_of(cluster), nd.DrainOptions(NODE, timeout=20))
    assert not outcome.failed, outcome.msg
    assert [e["name"] for e in outcome.result["evicted"]] == ["web-1"]
    requests = outcome.result["requests"]
    assert requests["retries_by_resource"] == {"pods (wait for deletion)": 1}
    assert requests["count"] == len(cluster.server.seen)


def test_a_deletion_wait_list_that_keeps_failing_fails_cleanly_and_uncordons(cluster):
    cluster.wait_list = [("status", 503)] * 1000
    outcome = nd.run_node_drain(client_of(cluster), nd.DrainOptions(NODE, timeout=1.5))
    assert outcome.failed
    assert outcome.msg.startswith(
        f"cannot list the pods of node {NODE} to see which evicted pods are gone: "
        "/api/v1/pods: HTTP 503: scripted 503 (still failing after "
    )
    assert outcome.msg.endswith("set leave_cordoned_on_failure=true to keep it cordoned")
    assert outcome.result["uncordoned"] is True
    assert patched(cluster) == [True, False]


def test_a_deletion_wait_list_refused_for_good_fails_at_once(cluster):
    cluster.wait_list = [("status", 403)]
    started = time.monotonic()
    outcome = nd.run_node_drain(client_of(cluster), nd.DrainOptions(NODE, timeout=30))
    assert outcome.failed and time.monotonic() - started < 5
    assert "HTTP 403" in outcome.msg and "still failing" not in outcome.msg
    assert patched(cluster) == [True, False]


def test_evictions_are_resent_while_the_server_is_down(cluster):
    cluster.budget_refuses = True
    client = client_of(cluster)

    def outage() -> None:
        wait = time.monotonic() + 10
        while not any(
            p.endswith("/eviction") for _unused, p, _unused, _unused in cluster.server.seen
        ):
            assert time.monotonic() < wait
            time.sleep(0.02)
        cluster.server.stop()
        time.sleep(1.5)
        cluster.budget_refuses = False
        cluster.server.start()

    thread = threading.Thread(target=outage)
    thread.start()
    outcome = nd.run_node_drain(
        client, nd.DrainOptions(NODE, timeout=30), backoff_initial=0.1, backoff_cap=0.3
    )
    thread.join()
    assert not outcome.failed, outcome.msg
    assert [e["name"] for e in outcome.result["evicted"]] == ["web-1"]
    assert outcome.result["requests"]["retries_by_resource"]["pods/eviction"] >= 1
    assert patched(cluster) == [True]


def test_the_uncordon_after_a_failure_outlasts_an_outage_past_the_deadline(cluster):
    cluster.budget_refuses = True
    client = client_of(cluster)
    timeout = 1.0

    def outage() -> None:
        time.sleep(0.6)
        cluster.server.stop()
        time.sleep(2.0)  # the deadline passes while the server is down
        cluster.server.start()

    thread = threading.Thread(target=outage)
    thread.start()
    started = time.monotonic()
    outcome = nd.run_node_drain(
        client, nd.DrainOptions(NODE, timeout=timeout), backoff_initial=0.1, backoff_cap=0.2
    )
    thread.join()
    assert outcome.failed
    assert outcome.msg.startswith(f"drain of node {NODE} did not finish within 1 s")
    assert "eviction refused" in outcome.msg
    assert outcome.result["uncordoned"] is True
    assert patched(cluster) == [True, False]
    assert time.monotonic() - started >= 2.5
