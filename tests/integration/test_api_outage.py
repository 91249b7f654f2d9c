"""The cluster modules through API trouble, against a control plane of this module's own: the
kube-apiserver is killed and started again on the same port (:meth:`ControlPlane.restart_apiserver`)
while a module runs, and a forwarding server on loopback answers chosen requests with 503.

* a drain survives a 6 s outage (its evictions are resent) and finishes;
* a drain that fails at its deadline during an outage still uncordons the node it cordoned;
* kruise_wait (pin's post-check) survives a 4 s outage;
* a 503 on the LIST that waits for evicted pods to go is retried, and a LIST that keeps failing
  ends the task cleanly, naming that LIST (no traceback).

The modules run through `ansible`, as a user runs them, in a thread; the outage is made from the
test's main thread (a process started by a thread dies with that thread).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import urllib3
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
    load_settings,
)

from kruise_cri.lab.cluster_objects import client_for, create_all, ensure_pod_namespace, kwok_node
from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.waiting import wait_until
from tests.integration.kube_helpers import run_cluster_module

NAMESPACE = "outage"
DRAIN = "kruise_cri.remediation.node_drain"
WAIT = "kruise_cri.remediation.kruise_wait"
NODES = ("outage-drain", "outage-stuck", "outage-poll-once", "outage-poll-always", "outage-wait")


# ---------------------------------------------------------------------------- objects


def deployment(
    name: str, node: str, replicas: int, image: str, container: str = "app"
) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {"kubernetes.io/hostname": node},
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": container, "image": image}],
                },
            },
        },
    }


def pdb(name: str, min_available: int) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"selector": {"matchLabels": {"app": name}}, "minAvailable": min_available},
    }


def pods_on(kube: KubeClient, node: str) -> list[dict[str, Any]]:
    return kube.get("/api/v1/pods", {"fieldSelector": f"spec.nodeName={node}"})["items"]


def ready_pods(kube: KubeClient, node: str) -> int:
    return sum(
        1
        for pod in pods_on(kube, node)
        if not pod["metadata"].get("deletionTimestamp")
        and any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (pod.get("status") or {}).get("conditions") or []
        )
    )


def unschedulable(kube: KubeClient, node: str) -> bool:
    return bool(kube.get(f"/api/v1/nodes/{node}")["spec"].get("unschedulable"))


def budget_allows(kube: KubeClient, name: str) -> int | None:
    budget = kube.get(f"/apis/policy/v1/namespaces/{NAMESPACE}/poddisruptionbudgets/{name}")
    status = budget.get("status") or {}
    if status.get("observedGeneration") != budget["metadata"].get("generation"):
        return None
    return status.get("disruptionsAllowed")


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def plane(tmp_path_factory) -> Iterator[ControlPlane]:
    """A control plane of this module's own: its API server goes down and up again."""
    with ControlPlane(directory=tmp_path_factory.mktemp("outage-plane"), progress=sys.stderr) as p:
        yield p


@pytest.fixture(scope="module")
def kube(plane: ControlPlane) -> KubeClient:
    return client_for(plane.kubeconfig)


@pytest.fixture(scope="module")
def workloads(plane: ControlPlane, kube: KubeClient) -> None:
    ensure_pod_namespace(kube, NAMESPACE)
    app = "registry.example/app:1.0"
    create_all(
        kube,
        [
            *(kwok_node(name, "containerd://1.7.24", "v1.33.1") for name in NODES),
            deployment("drained", "outage-drain", 2, app),
            pdb("drained", 2),  # refuses every eviction until the test relaxes it
            deployment("stuck", "outage-stuck", 1, app),
            pdb("stuck", 1),  # refuses every eviction
            deployment("poll-once", "outage-poll-once", 1, app),
            deployment("poll-always", "outage-poll-always", 1, app),
            deployment(
                "kruise-controller-manager",
                "outage-wait",
                1,
                "openkruise/kruise-manager:v1.5.5",
                container="manager",
            ),
        ],
    )
    for node, count in (
        ("outage-drain", 2),
        ("outage-stuck", 1),
        ("outage-poll-once", 1),
        ("outage-poll-always", 1),
        ("outage-wait", 1),
    ):
        wait_until(
            f"{count} Ready pod(s) on {node}",
            lambda node=node, count=count: ready_pods(kube, node) == count,
            timeout=120,
        )
    wait_until("the budgets' status", lambda: budget_allows(kube, "drained") == 0, timeout=60)
    wait_until("the budgets' status", lambda: budget_allows(kube, "stuck") == 0, timeout=60)


class Background:
    """``work()`` in a thread; :meth:`result` joins it."""

    def __init__(self, work: Callable[[], dict[str, Any]]) -> None:
        self.started = time.monotonic()
        self._outcome: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], dict[str, Any]]) -> None:
        try:
            self._outcome["result"] = work()
        except BaseException as error:  # re-raised in result()
            self._outcome["error"] = error

    def result(self, timeout: float = 300) -> dict[str, Any]:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the module did not end"
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome["result"]


def assert_clean(result: dict[str, Any]) -> None:
    """A failure the module reported itself, not a crash."""
    assert "module_stderr" not in result and "exception" not in result, result
    assert "Traceback" not in json.dumps(result)


# ---------------------------------------------------------------------------- outages


def test_a_drain_survives_an_api_server_outage(plane, kube, workloads) -> None:
    node = "outage-drain"
    drain = Background(
        lambda: run_cluster_module(
            DRAIN, {"kubeconfig": str(plane.kubeconfig), "name": node, "timeout": 120}
        )
    )
    wait_until(f"{node} cordoned", lambda: unschedulable(kube, node), timeout=60)
    time.sleep(1.0)  # the budget refuses a few evictions
    down = plane.restart_apiserver(6.0)
    kube.patch(
        f"/apis/policy/v1/namespaces/{NAMESPACE}/poddisruptionbudgets/drained",
        {"spec": {"minAvailable": 0}},
    )
    result = drain.result()
    assert_clean(result)
    assert not result.get("failed"), result["msg"]
    assert down >= 6.0
    assert result["msg"].startswith(f"node {node} drained in ")
    assert len(result["evicted"]) == 2
    assert unschedulable(kube, node)  # a drained node stays cordoned
    assert pods_on(kube, node) == []
    requests = result["requests"]
    assert requests["count"] == sum(requests["by_resource"].values())
    # The evictions sent while the server was down were sent again by the client.
    assert requests["retries_by_resource"]["pods/eviction"] >= 1
    assert requests["retries"] == sum(requests["retries_by_resource"].values())


def test_a_failed_drain_uncordons_its_node_through_an_outage(plane, kube, workloads) -> None:
    node = "outage-stuck"
    timeout = 8
    drain = Background(
        lambda: run_cluster_module(
            DRAIN, {"kubeconfig": str(plane.kubeconfig), "name": node, "timeout": timeout}
        )
    )
    wait_until(f"{node} cordoned", lambda: unschedulable(kube, node), timeout=60, interval=0.05)
    cordoned = time.monotonic()
    # Down from about 5 s into the drain until well after its deadline (8 s).
    time.sleep(max(0.0, cordoned + 5.0 - time.monotonic()))
    down = plane.restart_apiserver(6.0)
    result = drain.result()
    assert_clean(result)
    assert result["failed"]
    assert result["msg"].startswith(f"drain of node {node} did not finish within {timeout} s")
    assert "blocked by PodDisruptionBudget stuck" in result["msg"]
    assert result["msg"].endswith(
        "The node was uncordoned again, as this task had cordoned it; "
        "set leave_cordoned_on_failure=true to keep it cordoned"
    )
    assert result["uncordoned"] is True
    assert not unschedulable(kube, node)
    # The uncordon was sent during the outage and retried until the server came back, at
    # least 5 + 6 s after the cordon.
    assert down >= 6.0
    assert result["timings"]["total"] >= 10.5 > timeout
    assert result["requests"]["retries_by_resource"]["nodes"] >= 1


def test_kruise_wait_survives_an_api_server_outage(plane, kube, workloads) -> None:
    wait = Background(
        lambda: run_cluster_module(
            WAIT,
            {
                "kubeconfig": str(plane.kubeconfig),
                "namespace": NAMESPACE,
                "version_line": "1.5",
                "daemon": "any",
                "timeout": 90,
                "stable_seconds": 6,
                "interval": 0.5,
            },
        )
    )
    # ansible starts the module within a few seconds; it reads every 0.5 s from then on.
    time.sleep(4.0)
    plane.restart_apiserver(4.0)
    result = wait.result()
    assert_clean(result)
    assert not result.get("failed"), result.get("msg")
    assert result["ready"] is True and result["problems"] == []


# ---------------------------------------------------------------------------- failing LISTs


class Forwarder:
    """An HTTP server on loopback in front of the real API server (as the administrator): a
    request for which ``refuse(method, path, headers)`` is true gets a 503 instead."""

    def __init__(self, plane: ControlPlane, refuse: Callable[[str, str, dict[str, str]], bool]):
        settings = load_settings({"kubeconfig": str(plane.kubeconfig)})
        upstream = urllib3.PoolManager(
            cert_reqs="CERT_REQUIRED",
            ca_certs=settings.ca_cert,
            cert_file=settings.client_cert,
            key_file=settings.client_key,
            maxsize=16,
            retries=False,
        )
        self.refused: list[str] = []
        forwarder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {
                    key: value
                    for key, value in self.headers.items()
                    if key.lower() in ("accept", "content-type", "user-agent")
                }
                if refuse(self.command, self.path, headers):
                    forwarder.refused.append(self.path)
                    status = 503
                    data = json.dumps(
                        {
                            "kind": "Status",
                            "apiVersion": "v1",
                            "status": "Failure",
                            "message": "the server is currently unable to handle the request",
                            "reason": "ServiceUnavailable",
                            "code": 503,
                        }
                    ).encode()
                    content_type = "application/json"
                else:
                    response = upstream.request(
                        self.command,
                        settings.host + self.path,
                        headers=headers,
                        body=body,
                        preload_content=True,
                    )
                    status, data = response.status, response.data
                    content_type = response.headers.get("Content-Type", "application/json")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Forwarder:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def deletion_wait_list(node: str) -> Callable[[str, str, dict[str, str]], bool]:
    """The metadata-only LIST of the node's pods that node_drain polls after evicting."""
    return lambda method, path, headers: (
        method == "GET"
        and path.startswith("/api/v1/pods?")
        and node in path
        and "PartialObjectMetadataList" in headers.get("Accept", "")
    )


def test_one_503_on_the_deletion_wait_list_is_retried(plane, kube, workloads) -> None:
    node = "outage-poll-once"
    matches = deletion_wait_list(node)
    answered: list[str] = []

    def once(method: str, path: str, headers: dict[str, str]) -> bool:
        if matches(method, path, headers) and not answered:
            answered.append(path)
            return True
        return False

    with Forwarder(plane, once) as forwarder:
        result = run_cluster_module(DRAIN, {"host": forwarder.url, "name": node, "timeout": 60})
    assert_clean(result)
    assert not result.get("failed"), result["msg"]
    assert len(forwarder.refused) == 1
    assert len(result["evicted"]) == 1
    requests = result["requests"]
    assert requests["retries_by_resource"] == {"pods (wait for deletion)": 1}
    assert requests["count"] == sum(requests["by_resource"].values())


def test_a_deletion_wait_list_that_keeps_failing_ends_the_drain_cleanly(
    plane, kube, workloads
) -> None:
    node = "outage-poll-always"
    timeout = 5
    with Forwarder(plane, deletion_wait_list(node)) as forwarder:
        result = run_cluster_module(
            DRAIN, {"host": forwarder.url, "name": node, "timeout": timeout}
        )
    assert_clean(result)
    assert result["failed"]
    assert result["msg"].startswith(
        f"cannot list the pods of node {node} to see which evicted pods are gone: "
        "/api/v1/pods: HTTP 503: the server is currently unable to handle the request "
        "(still failing after "
    )
    assert result["msg"].endswith(
        "The node was uncordoned again, as this task had cordoned it; "
        "set leave_cordoned_on_failure=true to keep it cordoned"
    )
    assert len(forwarder.refused) >= 2
    assert result["uncordoned"] is True and not unschedulable(kube, node)
    assert result["timings"]["total"] >= timeout - 0.5
