"""KubeClient's retries of transient failures, against a real HTTP server on loopback that can
answer with scripted statuses, drop a connection without answering, or go away (its port
closed) and come back on the same port: which failures are retried for which verbs, until which
deadline, how the requests are counted, and what the error says when retrying ends."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster import client as kc
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeAccessError,
    KubeClient,
    KubeRequestError,
)

Script = list[tuple[Any, ...]]


class Server:
    """An API server double on a fixed loopback port. ``script[path]`` lists what the next
    requests to ``path`` (with its query, else without) get, in order: ``("status", code)``
    (optionally with headers), ``("json", answer)``, or ``("drop",)``: the connection is closed
    without an answer; then ``route(method, path, headers)`` may give a step.
    Unscripted requests get 200 with ``answers[path]`` (a callable gets the path and query) or,
    for bodies sent, the body echoed. :meth:`stop` closes the
    port (connections are refused), :meth:`start` opens it again."""

    def __init__(self) -> None:
        self.script: dict[str, Script] = {}
        self.answers: dict[str, Any] = {}
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        self.port = _free_port()
        self.httpd: ThreadingHTTPServer | None = None
        self.connections: list[socket.socket] = []
        # Consulted first: a step for (method, path with query, headers), or None.
        self.route: Callable[[str, str, dict[str, str]], tuple[Any, ...] | None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with server.lock:
                    server.connections.append(self.connection)

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                with server.lock:
                    server.seen.append((self.command, self.path, dict(self.headers), body))
                    steps = server.script.get(self.path) or server.script.get(path) or []
                    step = steps.pop(0) if steps else None
                    if step is None and server.route is not None:
                        step = server.route(self.command, self.path, dict(self.headers))
                if step is not None and step[0] == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                headers: dict[str, str] = {}
                answer: Any
                if step is not None and step[0] == "json":
                    status, answer = 200, step[1]
                elif step is not None:
                    status = step[1]
                    headers = step[2] if len(step) > 2 else {}
                    answer = {
                        "kind": "Status",
                        "code": status,
                        "message": f"scripted {status}",
                    }
                elif path in server.answers:
                    status, answer = 200, server.answers[path]
                    if callable(answer):
                        answer = answer(self.path)
                else:
                    status, answer = 200, json.loads(body or b"{}")
                data = json.dumps(answer, separators=(",", ":")).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        """Gone as a killed server is: the port closed, open connections reset."""
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        with self.lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self.connections.clear()

    def requests(self, method: str, path: str) -> int:
        return sum(
            1 for m, p, _unused, _unused in self.seen if m == method and p.split("?")[0] == path
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server() -> Iterator[Server]:
    served = Server()
    served.start()
    try:
        yield served
    finally:
        served.stop()


def client_of(url: str, **options: Any) -> KubeClient:
    return KubeClient(kc.load_settings({"host": url, "api_key": "t0ken"}), **options)


# ---------------------------------------------------------------------------- what is transient


def test_backoff_doubles_from_the_initial_delay_up_to_the_cap_with_jitter():
    assert kc.backoff_delay(1, 0.999) == pytest.approx(kc.RETRY_INITIAL, rel=0.01)
    assert kc.backoff_delay(1, 0.0) == pytest.approx(kc.RETRY_INITIAL / 2)
    assert kc.backoff_delay(2, 0.999) == pytest.approx(2 * kc.RETRY_INITIAL, rel=0.01)
    assert kc.backoff_delay(50, 0.999) <= kc.RETRY_CAP
    assert kc.backoff_delay(50, 0.0) == pytest.approx(kc.RETRY_CAP / 2)


def test_a_get_is_retried_through_throttling_and_server_errors(server):
    server.answers["/version"] = {"gitVersion": "v1.37.0"}
    server.script["/version"] = [("status", 503), ("status", 429), ("status", 500), ("status", 504)]
    client = client_of(server.url, rng=lambda: 0.0)
    assert client.get("/version")["gitVersion"] == "v1.37.0"
    assert server.requests("GET", "/version") == 5
    # Every attempt is a request sent; the summary says how many were retries.
    summary = client.request_summary()
    assert summary["count"] == 5 and summary["by_resource"] == {"/version": 5}
    assert summary["retries"] == 4 and summary["retries_by_resource"] == {"/version": 4}


def test_a_request_that_needs_no_retry_adds_no_retry_counts(server):
    client = client_of(server.url)
    client.get("/x", counted_as="things")
    assert client.request_summary()["by_resource"] == {"things": 1}
    assert "retries" not in client.request_summary()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422, 501])
def test_answers_that_will_not_change_are_not_retried(server, status):
    server.script["/x"] = [("status", status)]
    client = client_of(server.url)
    with pytest.raises((KubeRequestError, KubeAccessError)):
        client.get("/x")
    assert server.requests("GET", "/x") == 1


def test_retry_after_is_honoured_within_the_cap(server):
    server.script["/x"] = [
        ("status", 429, {"Retry-After": "1"}),
        ("status", 429, {"Retry-After": "90"}),
    ]
    slept: list[float] = []
    client = client_of(server.url, sleep=slept.append, rng=lambda: 0.0)
    client.get("/x")
    assert slept == [1.0, kc.RETRY_CAP]


# ---------------------------------------------------------------------------- an outage


def test_a_get_survives_the_server_going_away_and_coming_back(server):
    server.answers["/api/v1/nodes/n1"] = {"metadata": {"name": "n1"}}
    client = client_of(server.url)
    assert client.get("/api/v1/nodes/n1")["metadata"]["name"] == "n1"  # a pooled connection
    server.stop()
    back = threading.Timer(1.5, server.start)
    back.start()
    try:
        started = time.monotonic()
        assert client.get("/api/v1/nodes/n1", counted_as="nodes")["metadata"]["name"] == "n1"
        assert time.monotonic() - started >= 1.4
    finally:
        back.join()
    assert client.retries["nodes"] >= 2
    assert client.requests["nodes"] == client.retries["nodes"] + 1


def test_retrying_stops_at_the_caller_s_deadline_and_says_so(server):
    server.stop()
    client = client_of(server.url)
    client.deadline = time.monotonic() + 0.8
    started = time.monotonic()
    with pytest.raises(KubeAccessError) as raised:
        client.get("/version")
    waited = time.monotonic() - started
    assert 0.7 <= waited < 2.0
    message = str(raised.value)
    assert message.startswith(f"cannot reach the API server {server.url}: ")
    assert "(still failing after " in message and " attempts in 0." in message
    assert message.endswith("Check that it runs and that the kubeconfig (or host=) names it")


def test_a_request_s_own_deadline_wins_over_the_client_s(server):
    server.stop()
    client = client_of(server.url, deadline=time.monotonic() + 60)
    started = time.monotonic()
    with pytest.raises(KubeAccessError):
        client.get("/version", deadline=time.monotonic() + 0.3)
    assert time.monotonic() - started < 1.5


def test_without_a_deadline_a_request_is_retried_for_the_retry_window(server):
    server.stop()
    client = client_of(server.url, retry_window=0.5)
    started = time.monotonic()
    with pytest.raises(KubeAccessError, match="still failing after"):
        client.get("/version")
    assert 0.45 <= time.monotonic() - started < 1.5


def test_a_deadline_already_passed_still_gets_one_attempt(server):
    client = client_of(server.url, deadline=time.monotonic() - 5)
    assert client.get("/x") == {}
    server.script["/y"] = [("status", 503)]
    with pytest.raises(KubeRequestError) as raised:
        client.get("/y")
    assert raised.value.status == 503 and server.requests("GET", "/y") == 1
    assert str(raised.value) == "/y: HTTP 503: scripted 503"


def test_a_failure_after_retries_names_the_request_and_the_attempts(server):
    server.script["/apis/x"] = [("status", 503)] * 100
    client = client_of(server.url, retry_window=0.5)
    with pytest.raises(KubeRequestError) as raised:
        client.get("/apis/x")
    assert raised.value.status == 503
    assert str(raised.value).startswith("/apis/x: HTTP 503: scripted 503 (still failing after ")


# ---------------------------------------------------------------------------- verbs


def test_list_pages_retries_a_failed_page_with_the_same_continue_token(server):
    def page(target: str) -> dict[str, Any]:
        if "continue=tok2" in target:
            return {"metadata": {}, "items": [{"metadata": {"name": "b"}}]}
        return {"metadata": {"continue": "tok2"}, "items": [{"metadata": {"name": "a"}}]}

    server.answers["/api/v1/pods"] = page
    # The second page fails twice: a dropped connection, then 503.
    server.script["/api/v1/pods?limit=1&continue=tok2"] = [("drop",), ("status", 503)]
    client = client_of(server.url, page_size=1)
    names = [i["metadata"]["name"] for i in client.list_items("/api/v1/pods", counted_as="pods")]
    assert names == ["a", "b"]
    targets = [target for _unused, target, _unused, _unused in server.seen]
    assert targets == ["/api/v1/pods?limit=1"] + ["/api/v1/pods?limit=1&continue=tok2"] * 3
    assert client.requests["pods"] == 4 and client.retries["pods"] == 2


def test_a_patch_is_retried_after_a_dropped_connection_and_a_500(server):
    server.script["/api/v1/nodes/n1"] = [("drop",), ("status", 500)]
    client = client_of(server.url)
    answer = client.patch("/api/v1/nodes/n1", {"spec": {"unschedulable": True}})
    assert answer == {"spec": {"unschedulable": True}}
    assert server.requests("PATCH", "/api/v1/nodes/n1") == 3


def test_a_delete_whose_answer_was_lost_and_then_404s_had_deleted_it(server):
    server.script["/api/v1/namespaces/a/configmaps/c"] = [("drop",), ("status", 404)]
    client = client_of(server.url)
    assert client.delete("/api/v1/namespaces/a/configmaps/c") is None
    assert server.requests("DELETE", "/api/v1/namespaces/a/configmaps/c") == 2


def test_a_delete_that_404s_at_once_is_still_a_404(server):
    server.script["/api/v1/namespaces/a/configmaps/c"] = [("status", 404)]
    with pytest.raises(KubeRequestError) as raised:
        client_of(server.url).delete("/api/v1/namespaces/a/configmaps/c")
    assert raised.value.status == 404


def test_a_create_is_retried_only_when_the_server_surely_did_not_act_on_it(server):
    path = "/api/v1/namespaces/a/configmaps"
    client = client_of(server.url)
    # Throttled and unavailable: not processed, so sent again.
    server.script[path] = [("status", 429), ("status", 503)]
    assert client.post(path, {"metadata": {"name": "c"}}) == {"metadata": {"name": "c"}}
    assert server.requests("POST", path) == 3
    # A 500 or a dropped connection may come after the object was created: not sent twice.
    for step in (("status", 500),), (("drop",),):
        server.seen.clear()
        server.script[path] = list(step)
        with pytest.raises((KubeRequestError, KubeAccessError)):
            client.post(path, {"metadata": {"name": "c"}})
        assert server.requests("POST", path) == 1, step


def test_a_create_is_retried_while_the_server_is_down(server):
    path = "/api/v1/namespaces/a/configmaps"
    client = client_of(server.url)
    server.stop()
    back = threading.Timer(0.8, server.start)
    back.start()
    try:
        assert client.post(path, {"metadata": {"name": "c"}}) == {"metadata": {"name": "c"}}
    finally:
        back.join()
    assert server.requests("POST", path) == 1  # refused connections never reached it


def test_an_eviction_is_resent_after_a_dropped_connection_but_its_answers_are_the_caller_s(
    server,
):
    path = "/api/v1/namespaces/a/pods/p/eviction"
    body = {"kind": "Eviction", "deleteOptions": {"preconditions": {"uid": "u1"}}}
    client = client_of(server.url)
    server.script[path] = [("drop",), ("status", 429)]
    with pytest.raises(KubeRequestError) as raised:
        client.send("POST", path, body=body, idempotent=True, retry_statuses=())
    assert raised.value.status == 429  # a budget's refusal, for node_drain to interpret
    assert server.requests("POST", path) == 2
    server.seen.clear()
    server.script[path] = [("status", 500)]
    with pytest.raises(KubeRequestError):
        client.send("POST", path, body=body, idempotent=True, retry_statuses=())
    assert server.requests("POST", path) == 1


def test_concurrent_requests_are_counted_exactly(server):
    server.script["/x"] = [("status", 503)] * 8
    client = client_of(server.url, max_connections=8)
    threads = [threading.Thread(target=client.get, args=("/x",)) for _unused in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.requests["/x"] == server.requests("GET", "/x") == 16
    assert client.retries["/x"] == 8


# ---------------------------------------------------------------------------- proxy


def test_proxy_credentials_go_in_a_header_not_in_the_url(server):
    settings = kc.load_settings(
        {
            "host": "http://api.invalid:6443",
            "api_key": "t",
            "proxy": f"http://us%40er:s3cr%3At@127.0.0.1:{server.port}",
        }
    )
    client = KubeClient(settings)
    client.get("/version")
    _unused, target, headers, _unused = server.seen[0]
    assert target == "http://api.invalid:6443/version"  # absolute-form: we are the proxy
    assert headers["Proxy-Authorization"] == "Basic dXNAZXI6czNjcjp0"  # us@er:s3cr:t
    assert kc.split_proxy_credentials("http://proxy:3128") == ("http://proxy:3128", None)


def test_an_unreachable_proxy_fails_without_showing_its_password():
    port = _free_port()
    settings = kc.load_settings(
        {
            "host": "https://api.invalid:6443",
            "api_key": "t",
            "proxy": f"http://u:pr0xy-s3cret@127.0.0.1:{port}",
        }
    )
    with pytest.raises(KubeAccessError) as raised:
        KubeClient(settings, retry_window=0.3).get("/version")
    assert "pr0xy-s3cret" not in str(raised.value)
    assert "still failing after" in str(raised.value)
