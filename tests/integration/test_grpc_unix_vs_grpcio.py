"""Our unix-socket gRPC client against a real grpcio server, against a real HTTP/2 stack (h2)
for the protocol corners grpcio never shows, and against sockets that are no gRPC server at all
(silent listeners, HTTP/1 servers, files, missing paths).

grpcio is the oracle: for the same calls, our client and grpcio's own client must return the
same bytes or the same status code and details. h2 enforces HTTP/2 on what our client sends.
"""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import socketserver
import statistics
import struct
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent import futures

import grpc
import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node import grpc_unix
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.grpc_unix import (
    GrpcError,
    UnixChannel,
    unary_call,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.protobuf_wire import (
    count_field,
    decode_message,
    encode_message,
    get_string,
)
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.events import DataReceived, PingAckReceived, RequestReceived, StreamEnded
from h2.settings import SettingCodes

from kruise_cri.lab.waiting import wait_until

pytestmark = pytest.mark.lab_only

# What grpcio's server answers for a method nobody registered (checked against grpcio's own
# client in test_unknown_method_is_unimplemented_like_grpcio_says).
GRPCIO_UNKNOWN_METHOD_DETAILS = "Method not found!"
DEADLINE_SLACK = 0.2
MAX_MESSAGE = 64 * 1024 * 1024


def pattern(size: int) -> bytes:
    block = bytes(range(256))
    return (block * (size // 256 + 1))[:size]


def abort_request(code: grpc.StatusCode, message: str) -> bytes:
    return b"%d|" % code.value[0] + message.encode("utf-8")


def handle_abort(request: bytes, context: grpc.ServicerContext) -> bytes:
    code_number, message = request.split(b"|", 1)
    code = next(c for c in grpc.StatusCode if c.value[0] == int(code_number))
    context.abort(code, message.decode("utf-8"))
    raise AssertionError("abort returned")


def handle_sleep(request: bytes, context: grpc.ServicerContext) -> bytes:
    time.sleep(float(request))
    return b"late"


VERSION_RESPONSE = encode_message([(1, "0.1.0"), (2, "fake-cri"), (3, "v9.9.9"), (4, "v1")])
LIST_IMAGES_RESPONSE = encode_message(
    [(1, [(1, f"sha256:{n:064x}"), (2, f"registry.example/image:{n}")]) for n in range(3)]
)

HANDLERS: dict[str, Callable[[bytes, grpc.ServicerContext], bytes]] = {
    "/kc.Test/Echo": lambda request, context: request,
    "/kc.Test/Sized": lambda request, context: pattern(int(request)),
    "/kc.Test/Abort": handle_abort,
    "/kc.Test/Sleep": handle_sleep,
    "/runtime.v1.RuntimeService/Version": lambda request, context: VERSION_RESPONSE,
    "/runtime.v1.ImageService/ListImages": lambda request, context: LIST_IMAGES_RESPONSE,
}


class TestService(grpc.GenericRpcHandler):
    def service(self, handler_call_details: grpc.HandlerCallDetails):
        handler = HANDLERS.get(handler_call_details.method)
        if handler is None:
            return None
        # No serializers: grpcio hands the raw request bytes through, and sends ours back.
        return grpc.unary_unary_rpc_method_handler(handler)


def start_grpcio_server(path: str) -> grpc.Server:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE),
            ("grpc.max_receive_message_length", MAX_MESSAGE),
        ],
    )
    server.add_generic_rpc_handlers((TestService(),))
    server.add_insecure_port("unix:" + path)
    server.start()
    return server


@pytest.fixture(scope="module")
def socket_dir() -> Iterator[str]:
    directory = tempfile.mkdtemp(prefix="kc-", dir="/tmp")
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def grpc_socket(socket_dir: str) -> Iterator[str]:
    path = os.path.join(socket_dir, "grpc.sock")
    server = start_grpcio_server(path)
    yield path
    server.stop(grace=None)


def ours(path: str, method: str, request: bytes, timeout: float = 15.0) -> tuple[object, object]:
    try:
        return "ok", unary_call(path, method, request, timeout)
    except GrpcError as error:
        return error.code, error.details


def grpcio(path: str, method: str, request: bytes, timeout: float = 15.0) -> tuple[object, object]:
    options = [("grpc.max_receive_message_length", MAX_MESSAGE)]
    with grpc.insecure_channel("unix:" + path, options=options) as channel:
        try:
            return "ok", channel.unary_unary(method)(request, timeout=timeout)
        except grpc.RpcError as error:
            return error.code().value[0], error.details()


# --- against grpcio -------------------------------------------------------------------------


@pytest.mark.parametrize("request_bytes", [b"hello", b"", b"\x00\xff" * 10, pattern(300_000)])
def test_echo_returns_request_bytes_like_grpcio(grpc_socket: str, request_bytes: bytes) -> None:
    # 300 kB is more than the server's initial 64 KiB window: our sender must wait for
    # WINDOW_UPDATEs.
    assert ours(grpc_socket, "/kc.Test/Echo", request_bytes) == ("ok", request_bytes)
    assert grpcio(grpc_socket, "/kc.Test/Echo", request_bytes) == ("ok", request_bytes)


def test_large_response_flows_through_flow_control(grpc_socket: str) -> None:
    size = 20_000_000
    started = time.monotonic()
    status, payload = ours(grpc_socket, "/kc.Test/Sized", b"%d" % size, timeout=20)
    elapsed = time.monotonic() - started
    assert status == "ok"
    assert payload == pattern(size)
    assert grpcio(grpc_socket, "/kc.Test/Sized", b"%d" % size, timeout=20) == ("ok", payload)
    print("20 MB response in %.0f ms" % (elapsed * 1000))


def test_unknown_method_is_unimplemented_like_grpcio_says(grpc_socket: str) -> None:
    expected = (grpc_unix.UNIMPLEMENTED, GRPCIO_UNKNOWN_METHOD_DETAILS)
    assert grpcio(grpc_socket, "/x.y.Z/Method", b"") == expected
    assert ours(grpc_socket, "/x.y.Z/Method", b"") == expected
    assert ours(grpc_socket, "/runtime.v1alpha2.RuntimeService/Version", b"") == expected


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 'bad ünïcode 100% "quoted"\n✓ done'),
        (grpc.StatusCode.NOT_FOUND, "image %2F not found: 50%"),
        (grpc.StatusCode.PERMISSION_DENIED, "日本語のメッセージ"),
        (grpc.StatusCode.UNAVAILABLE, "plain ascii"),
        (grpc.StatusCode.INTERNAL, ""),
    ],
)
def test_abort_status_and_message_match_grpcio(
    grpc_socket: str, code: grpc.StatusCode, message: str
) -> None:
    request = abort_request(code, message)
    expected = (code.value[0], message)
    assert grpcio(grpc_socket, "/kc.Test/Abort", request) == expected
    assert ours(grpc_socket, "/kc.Test/Abort", request) == expected


def test_channel_deadline_bounds_a_slow_handler(grpc_socket: str) -> None:
    deadline = 0.4
    started = time.monotonic()
    with UnixChannel(grpc_socket, deadline) as channel:
        with pytest.raises(GrpcError) as caught:
            channel.unary("/kc.Test/Sleep", b"3")
        elapsed = time.monotonic() - started
        assert caught.value.code == grpc_unix.DEADLINE_EXCEEDED
        # Our timer and the server's (started by grpc-timeout) race; either may report it.
        assert caught.value.details in (
            "deadline of 0.4s exceeded while waiting for the response",
            "Deadline Exceeded",
        )
        assert deadline <= elapsed < deadline + DEADLINE_SLACK
        # Once the channel's deadline has passed, every later call fails at once.
        started = time.monotonic()
        with pytest.raises(GrpcError) as again:
            channel.unary("/kc.Test/Echo", b"x")
        assert again.value.code == grpc_unix.DEADLINE_EXCEEDED
        assert time.monotonic() - started < 0.05
    assert grpcio(grpc_socket, "/kc.Test/Sleep", b"3", timeout=deadline)[0] == (
        grpc_unix.DEADLINE_EXCEEDED
    )


def test_per_call_timeout_cancels_only_that_call(grpc_socket: str) -> None:
    with UnixChannel(grpc_socket, 10.0) as channel:
        started = time.monotonic()
        with pytest.raises(GrpcError) as caught:
            channel.unary("/kc.Test/Sleep", b"2", timeout=0.3)
        elapsed = time.monotonic() - started
        assert caught.value.code == grpc_unix.DEADLINE_EXCEEDED
        assert 0.3 <= elapsed < 0.3 + DEADLINE_SLACK
        # The connection survives: the cancelled stream's late frames are skipped.
        assert channel.unary("/kc.Test/Echo", b"after") == b"after"
        assert channel.unary("/kc.Test/Sized", b"100000") == pattern(100000)


def test_sequential_calls_share_one_connection(grpc_socket: str) -> None:
    with UnixChannel(grpc_socket, 10.0) as channel:
        for number in range(25):
            request = b"call %d " % number * (number * 50)
            assert channel.unary("/kc.Test/Echo", request) == request
        with pytest.raises(GrpcError) as caught:
            channel.unary("/x.y.Z/Method", b"")
        assert caught.value.code == grpc_unix.UNIMPLEMENTED
        assert channel.unary("/kc.Test/Sized", b"3000000") == pattern(3000000)
        with pytest.raises(GrpcError) as caught:
            channel.unary("/kc.Test/Abort", abort_request(grpc.StatusCode.ABORTED, "no"))
        assert (caught.value.code, caught.value.details) == (grpc_unix.ABORTED, "no")
        assert channel.unary("/kc.Test/Echo", b"last") == b"last"
        assert channel._next_stream_id == 59  # 29 calls on streams 1, 3, ..., 57 of one connection


def test_response_larger_than_the_cap_is_refused_and_the_channel_survives(
    grpc_socket: str,
) -> None:
    with UnixChannel(grpc_socket, 10.0, max_message_size=1000) as channel:
        assert channel.unary("/kc.Test/Sized", b"1000") == pattern(1000)
        with pytest.raises(GrpcError) as caught:
            channel.unary("/kc.Test/Sized", b"2000000")
        assert caught.value.code == grpc_unix.RESOURCE_EXHAUSTED
        assert caught.value.details == (
            "response message of 2000000 bytes exceeds the limit of 1000 bytes"
        )
        assert channel.unary("/kc.Test/Echo", b"still here") == b"still here"


def test_cri_probe_of_four_calls_takes_a_few_milliseconds(grpc_socket: str) -> None:
    version_request = encode_message([(1, "0.1.0")])

    def probe() -> list[object]:
        outcomes: list[object] = []
        with UnixChannel(grpc_socket, 2.0) as channel:
            for api in ("v1", "v1alpha2"):
                for method, request in (
                    (f"/runtime.{api}.ImageService/ListImages", b""),
                    (f"/runtime.{api}.RuntimeService/Version", version_request),
                ):
                    try:
                        outcomes.append(channel.unary(method, request))
                    except GrpcError as error:
                        outcomes.append(error.code)
        return outcomes

    first = probe()
    assert count_field(first[0], 1) == 3
    assert get_string(decode_message(first[1]), 2) == "fake-cri"
    assert first[2:] == [grpc_unix.UNIMPLEMENTED, grpc_unix.UNIMPLEMENTED]
    timings = []
    for _unused in range(30):
        started = time.perf_counter()
        assert probe() == first
        timings.append(time.perf_counter() - started)
    median = statistics.median(timings)
    print(f"4-call probe: median {median * 1000:.2f} ms, max {max(timings) * 1000:.2f} ms")
    assert median < 0.05


def test_server_shutdown_between_calls_is_unavailable(socket_dir: str) -> None:
    path = os.path.join(socket_dir, "stopping.sock")
    server = start_grpcio_server(path)
    try:
        with UnixChannel(path, 5.0) as channel:
            assert channel.unary("/kc.Test/Echo", b"before") == b"before"
            server.stop(grace=None).wait()
            started = time.monotonic()
            with pytest.raises(GrpcError) as caught:
                channel.unary("/kc.Test/Echo", b"after")
            assert caught.value.code == grpc_unix.UNAVAILABLE
            assert time.monotonic() - started < 1.0
    finally:
        server.stop(grace=None)


def test_long_socket_path_is_reached_through_its_directory(
    socket_dir: str, grpc_socket: str
) -> None:
    deep = os.path.join(socket_dir, *(["d" * 40] * 3))
    os.makedirs(deep)
    link = os.path.join(deep, "containerd.sock")
    os.symlink(grpc_socket, link)
    assert len(link) > 108
    assert ours(link, "/kc.Test/Echo", b"deep") == ("ok", b"deep")


# --- sockets that are no gRPC server --------------------------------------------------------


class Listener:
    """A unix listener that runs `serve(connection)` for each accepted connection."""

    def __init__(self, path: str, serve: Callable[[socket.socket], None] | None) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.serve = serve
        self.connections: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        if serve is not None:
            self.thread.start()

    def _accept_loop(self) -> None:
        self.sock.settimeout(0.05)
        while not self.stopping.is_set():
            try:
                connection, _unused = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self.serve, args=(connection,), daemon=True).start()

    def close(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(1)
        for connection in self.connections:
            connection.close()
        self.sock.close()


@pytest.fixture
def listener(socket_dir: str) -> Iterator[Callable[..., str]]:
    made: list[Listener] = []

    def make(serve: Callable[[socket.socket], None] | None, name: str = "plain.sock") -> str:
        path = os.path.join(socket_dir, f"{len(made)}-{name}")
        made.append(Listener(path, serve))
        return path

    yield make
    for each in made:
        each.close()
        os.unlink(each.path)


def hold_silently(connection: socket.socket) -> None:
    connection.settimeout(5)
    try:
        while connection.recv(65536):
            pass
    except OSError:
        pass


def read_then_reply(reply: bytes, close: bool) -> Callable[[socket.socket], None]:
    def serve(connection: socket.socket) -> None:
        connection.settimeout(5)
        try:
            connection.recv(65536)
            connection.sendall(reply)
            if not close:
                hold_silently(connection)
        except OSError:
            pass
        finally:
            if close:
                connection.close()

    return serve


def expect_error(path: str, deadline: float) -> tuple[GrpcError, float]:
    started = time.monotonic()
    with pytest.raises(GrpcError) as caught, UnixChannel(path, deadline) as channel:
        channel.unary("/runtime.v1.RuntimeService/Version", b"")
    return caught.value, time.monotonic() - started


def test_listener_that_accepts_and_never_answers_costs_the_deadline(listener) -> None:
    path = listener(hold_silently)
    error, elapsed = expect_error(path, 0.3)
    assert error.code == grpc_unix.DEADLINE_EXCEEDED
    assert error.details == (
        "deadline of 0.3s exceeded while waiting for the response "
        "(the server accepted the connection but sent nothing)"
    )
    assert 0.3 <= elapsed < 0.3 + DEADLINE_SLACK


def test_listener_that_never_accepts_costs_the_deadline(listener) -> None:
    path = listener(None)
    error, elapsed = expect_error(path, 0.3)
    assert error.code == grpc_unix.DEADLINE_EXCEEDED
    assert 0.3 <= elapsed < 0.3 + DEADLINE_SLACK


def test_listener_with_a_full_accept_queue_costs_the_deadline(listener) -> None:
    path = listener(None)
    fillers = []
    try:
        while True:  # fill the backlog until connecting would block
            filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            filler.setblocking(False)
            fillers.append(filler)
            try:
                filler.connect(path)
            except BlockingIOError:
                break
            assert len(fillers) < 100
        error, elapsed = expect_error(path, 0.3)
    finally:
        for filler in fillers:
            filler.close()
    assert error.code == grpc_unix.DEADLINE_EXCEEDED
    assert error.details == "deadline of 0.3s exceeded while connecting"
    assert 0.3 <= elapsed < 0.3 + DEADLINE_SLACK


HTTP1_REPLY = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Connection: close\r\n\r\n400 Bad Request"
)


@pytest.mark.parametrize("close", [True, False], ids=["then-closes", "stays-open"])
def test_http1_answer_is_not_a_grpc_server(listener, close: bool) -> None:
    path = listener(read_then_reply(HTTP1_REPLY, close))
    error, elapsed = expect_error(path, 2.0)
    assert error.code == grpc_unix.UNAVAILABLE
    assert error.details == "not a gRPC server: it answered with HTTP/1 (HTTP/1.1 400 Bad Request)"
    assert elapsed < 0.5  # found out from the reply, not by waiting for the deadline


def test_python_http_server_is_not_a_grpc_server(socket_dir: str) -> None:
    path = os.path.join(socket_dir, "http1.sock")

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass  # its default logging assumes a TCP peer address

    server = Server(path, Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        error, elapsed = expect_error(path, 2.0)
    finally:
        server.shutdown()
        server.server_close()
        os.unlink(path)
    # It rejects "PRI * HTTP/2.0" with a bare HTML error page (HTTP/0.9 style, no status line).
    assert (error.code, error.details) == (
        grpc_unix.UNAVAILABLE,
        "not a gRPC server: it answered with text (<!DOCTYPE HTML>)",
    )
    assert elapsed < 0.5


@pytest.mark.parametrize(
    "reply",
    [
        b"\x00\x00\x06\x01\x00\x00\x00\x00\x01hello!",  # a HEADERS frame before any SETTINGS
        b"\x00\x00\x00\x04\x01\x00\x00\x00\x00",  # a SETTINGS ACK as the first frame
        b"\x00\x00\x05\x04\x00\x00\x00\x00\x00abcde",  # SETTINGS with a length not a multiple of 6
        b"\x00",  # a lone zero byte, then the connection closes
        b"\x15\x03\x01\x00\x02\x02\x46",  # the TLS alert a TLS server sends to cleartext
    ],
    ids=["headers-first", "settings-ack-first", "bad-settings-length", "one-byte", "tls-alert"],
)
def test_binary_garbage_is_not_a_grpc_server(listener, reply: bytes) -> None:
    path = listener(read_then_reply(reply, close=True))
    error, elapsed = expect_error(path, 2.0)
    assert error.code == grpc_unix.UNAVAILABLE
    assert error.details.startswith("not a gRPC server: its reply is not HTTP/2")
    assert elapsed < 0.5


def test_listener_that_closes_at_once(listener) -> None:
    path = listener(lambda connection: connection.close())
    error, _unused = expect_error(path, 2.0)
    assert error.code == grpc_unix.UNAVAILABLE
    assert error.details in (
        "connection closed by the server before the HTTP/2 handshake",
        "connection closed by the server",
    )


def test_regular_file_is_not_a_socket(socket_dir: str) -> None:
    path = os.path.join(socket_dir, "regular-file")
    with open(path, "w") as handle:
        handle.write("not a socket")
    error, elapsed = expect_error(path, 2.0)
    assert (error.code, error.details) == (grpc_unix.UNAVAILABLE, "not a socket")
    assert elapsed < 0.05


def test_directory_is_not_a_socket(socket_dir: str) -> None:
    error, _unused = expect_error(socket_dir, 2.0)
    assert (error.code, error.details) == (grpc_unix.UNAVAILABLE, "not a socket")


def test_missing_path(socket_dir: str) -> None:
    for path in (os.path.join(socket_dir, "missing.sock"), "/nonexistent-dir/x/y.sock"):
        error, elapsed = expect_error(path, 2.0)
        assert (error.code, error.details) == (grpc_unix.UNAVAILABLE, "no such file")
        assert elapsed < 0.05


def test_stale_socket_file_is_connection_refused(socket_dir: str) -> None:
    path = os.path.join(socket_dir, "stale.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens
    error, _unused = expect_error(path, 2.0)
    assert (error.code, error.details) == (grpc_unix.UNAVAILABLE, "connection refused")


def test_failed_channel_keeps_failing_with_the_same_error(socket_dir: str) -> None:
    channel = UnixChannel(os.path.join(socket_dir, "missing.sock"), 1.0)
    for _unused in range(3):
        with pytest.raises(GrpcError) as caught:
            channel.unary("/kc.Test/Echo", b"")
        assert (caught.value.code, caught.value.details) == (grpc_unix.UNAVAILABLE, "no such file")
    channel.close()


# --- HTTP/2 corner cases, served by a real HTTP/2 stack (h2) -----------------------------------
# grpcio never pads, pings mid-response, splits headers into CONTINUATION frames, resets
# streams or compresses on demand; h2 does all of that when told to, and enforces the protocol
# (flow control included) on what our client sends.

Responder = Callable[[H2Connection, int, bytes], None]


class H2Peer:
    """Serves each request by calling responders[path](connection, stream_id, request_body)."""

    def __init__(self, path: str, responders: dict[str, Responder], settings: dict | None) -> None:
        self.path = path
        self.responders = responders
        self.settings = settings or {}
        self.events: list[object] = []
        self.errors: list[BaseException] = []
        self.max_outbound_frame_sizes: list[int] = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(4)
        self.listener.settimeout(0.05)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _unused = self.listener.accept()
            except TimeoutError:
                continue
            try:
                self._serve(connection)
            except Exception as error:  # reported by the fixture, not lost in this thread
                self.errors.append(error)
            finally:
                connection.close()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(5)
        conn = H2Connection(H2Configuration(client_side=False, header_encoding=None))
        conn.initiate_connection()
        if self.settings:
            conn.update_settings(self.settings)
        sock.sendall(conn.data_to_send())
        paths: dict[int, str] = {}
        bodies: dict[int, bytearray] = {}
        while not self.stopping.is_set():
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            for event in conn.receive_data(data):
                self.events.append(event)
                if isinstance(event, RequestReceived):
                    paths[event.stream_id] = dict(event.headers)[b":path"].decode()
                    bodies[event.stream_id] = bytearray()
                elif isinstance(event, DataReceived):
                    bodies[event.stream_id] += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, StreamEnded):
                    self.max_outbound_frame_sizes.append(conn.max_outbound_frame_size)
                    path = paths.pop(event.stream_id)
                    self.responders[path](conn, event.stream_id, bytes(bodies.pop(event.stream_id)))
            try:
                sock.sendall(conn.data_to_send())
            except OSError:
                return  # the client has closed the connection

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(2)
        self.listener.close()
        os.unlink(self.path)


@pytest.fixture
def h2_peer(socket_dir: str) -> Iterator[Callable[..., H2Peer]]:
    peers: list[H2Peer] = []

    def make(responders: dict[str, Responder], settings: dict | None = None) -> H2Peer:
        peer = H2Peer(os.path.join(socket_dir, f"h2-{len(peers)}.sock"), responders, settings)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.close()
        assert peer.errors == []


GRPC_HEADERS = [(b":status", b"200"), (b"content-type", b"application/grpc")]
OK_TRAILERS = [(b"grpc-status", b"0")]


def framed(message: bytes, compressed: int = 0) -> bytes:
    return struct.pack(">BI", compressed, len(message)) + message


def respond_ok(conn: H2Connection, stream_id: int, body: bytes) -> None:
    """Echo the request message."""
    assert body[:5] == framed(body[5:])[:5]
    conn.send_headers(stream_id, GRPC_HEADERS)
    conn.send_data(stream_id, body)
    conn.send_headers(stream_id, OK_TRAILERS, end_stream=True)


def percent_encode(message: str) -> bytes:
    printable_but_percent = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")
    return urllib.parse.quote(message, safe=printable_but_percent).encode("ascii")


def test_padding_a_ping_and_a_split_length_prefix(h2_peer) -> None:
    message = b"padded " * 3000

    def respond(conn: H2Connection, stream_id: int, body: bytes) -> None:
        conn.send_headers(stream_id, GRPC_HEADERS)
        data = framed(message)
        conn.send_data(stream_id, data[:3], pad_length=7)  # the 5-byte prefix split in two
        conn.ping(b"12345678")
        for start in range(3, len(data), 5000):
            conn.send_data(stream_id, data[start : start + 5000], pad_length=255)
        conn.send_headers(stream_id, OK_TRAILERS, end_stream=True)

    peer = h2_peer({"/t.S/Padded": respond})
    assert ours(peer.path, "/t.S/Padded", b"") == ("ok", message)
    ack = wait_until(
        "our client to acknowledge the PING",
        lambda: next((e for e in peer.events if isinstance(e, PingAckReceived)), None),
        # Our client sends the ack before it returns; the peer's thread may read it late on a
        # loaded machine (2 s was seen to be too short there).
        10,
        interval=0.01,
    )
    assert ack.ping_data == b"12345678"


def test_header_block_split_into_continuation_frames(h2_peer, monkeypatch) -> None:
    monkeypatch.setattr(grpc_unix, "_LOCAL_MAX_FRAME_SIZE", 16384)
    message = "détails très longs ✓ 100% " * 2000 + "fin"  # h2 strips edge whitespace

    def respond(conn: H2Connection, stream_id: int, body: bytes) -> None:
        trailers = [(b"grpc-status", b"9"), (b"grpc-message", percent_encode(message))]
        conn.send_headers(stream_id, GRPC_HEADERS + trailers, end_stream=True)

    peer = h2_peer({"/t.S/Long": respond})
    assert ours(peer.path, "/t.S/Long", b"") == (grpc_unix.FAILED_PRECONDITION, message)
    assert peer.max_outbound_frame_sizes == [16384]  # so the ~100 kB block was split


def test_small_server_window_is_respected_when_sending(h2_peer) -> None:
    # h2 raises on any flow-control violation; the echo proves the request arrived whole.
    settings = {SettingCodes.INITIAL_WINDOW_SIZE: 1000, SettingCodes.MAX_FRAME_SIZE: 16384}
    peer = h2_peer({"/t.S/Echo": respond_ok}, settings)
    request = pattern(300_000)
    assert ours(peer.path, "/t.S/Echo", request) == ("ok", request)


@pytest.mark.parametrize(
    ("respond", "expected"),
    [
        (
            lambda conn, sid, body: (
                conn.send_headers(sid, [*GRPC_HEADERS, (b"grpc-encoding", b"gzip")]),
                conn.send_data(sid, framed(b"\x1f\x8b...", compressed=1)),
                conn.send_headers(sid, OK_TRAILERS, end_stream=True),
            ),
            (
                grpc_unix.INTERNAL,
                "the server sent a compressed message (grpc-encoding gzip); "
                "compressed messages are not supported",
            ),
        ),
        (
            lambda conn, sid, body: (
                conn.send_headers(sid, GRPC_HEADERS),
                conn.send_data(sid, framed(b"one") + framed(b"two")),
                conn.send_headers(sid, OK_TRAILERS, end_stream=True),
            ),
            (grpc_unix.INTERNAL, "more than one response message for a unary call"),
        ),
        (
            lambda conn, sid, body: (
                conn.send_headers(sid, GRPC_HEADERS),
                conn.send_headers(sid, OK_TRAILERS, end_stream=True),
            ),
            (grpc_unix.INTERNAL, "the server sent no response message"),
        ),
        (
            lambda conn, sid, body: (
                conn.send_headers(sid, GRPC_HEADERS),
                conn.send_data(sid, framed(b"x")),
                conn.send_headers(sid, [(b"x-other", b"1")], end_stream=True),
            ),
            (grpc_unix.INTERNAL, "the server's trailers carry no grpc-status"),
        ),
        (
            lambda conn, sid, body: (
                conn.send_headers(sid, GRPC_HEADERS),
                conn.send_data(sid, framed(b"x"), end_stream=True),
            ),
            (grpc_unix.INTERNAL, "the server ended the stream without trailers"),
        ),
        (
            lambda conn, sid, body: conn.send_headers(
                sid, [(b":status", b"503"), (b"content-type", b"text/plain")], end_stream=True
            ),
            (grpc_unix.UNAVAILABLE, "not a gRPC response: HTTP status 503"),
        ),
        (
            lambda conn, sid, body: (
                conn.send_headers(sid, [(b":status", b"200"), (b"content-type", b"text/html")]),
                conn.send_data(sid, b"<html></html>", end_stream=True),
            ),
            (grpc_unix.UNKNOWN, "not a gRPC server: response content-type 'text/html'"),
        ),
        (
            lambda conn, sid, body: conn.reset_stream(sid, ErrorCodes.REFUSED_STREAM),
            (grpc_unix.UNAVAILABLE, "stream reset by the server (REFUSED_STREAM)"),
        ),
        (
            lambda conn, sid, body: (
                conn.send_headers(sid, GRPC_HEADERS),
                conn.reset_stream(sid, ErrorCodes.INTERNAL_ERROR),
            ),
            (grpc_unix.INTERNAL, "stream reset by the server (INTERNAL_ERROR)"),
        ),
    ],
    ids=[
        "compressed",
        "two-messages",
        "no-message",
        "no-grpc-status",
        "no-trailers",
        "http-503",
        "html",
        "rst-refused",
        "rst-after-headers",
    ],
)
def test_broken_responses_fail_the_call_but_not_the_connection(
    h2_peer, respond: Responder, expected: tuple[int, str]
) -> None:
    peer = h2_peer({"/t.S/Broken": respond, "/t.S/Echo": respond_ok})
    with UnixChannel(peer.path, 5.0) as channel:
        with pytest.raises(GrpcError) as caught:
            channel.unary("/t.S/Broken", b"")
        assert (caught.value.code, caught.value.details) == expected
        assert channel.unary("/t.S/Echo", b"next") == b"next"


def test_goaway_fails_the_call_and_every_later_one(h2_peer) -> None:
    def respond(conn: H2Connection, stream_id: int, body: bytes) -> None:
        conn.close_connection(ErrorCodes.ENHANCE_YOUR_CALM, b"too_many_pings", last_stream_id=1)

    peer = h2_peer({"/t.S/Echo": respond_ok, "/t.S/GoAway": respond})
    expected = "the server is closing the connection (ENHANCE_YOUR_CALM: too_many_pings)"
    with UnixChannel(peer.path, 5.0) as channel:
        assert channel.unary("/t.S/Echo", b"first") == b"first"  # stream 1, kept by GOAWAY
        with pytest.raises(GrpcError) as caught:
            channel.unary("/t.S/GoAway", b"")  # stream 3, beyond the GOAWAY's last stream
        assert (caught.value.code, caught.value.details) == (grpc_unix.UNAVAILABLE, expected)
        with pytest.raises(GrpcError) as again:
            channel.unary("/t.S/Echo", b"")
        assert again.value.code == grpc_unix.UNAVAILABLE


def test_request_headers_are_what_grpc_servers_expect(h2_peer) -> None:
    peer = h2_peer({"/runtime.v1.RuntimeService/Version": respond_ok})
    with UnixChannel(peer.path, 2.0) as channel:
        channel.unary("/runtime.v1.RuntimeService/Version", b"\x0a\x050.1.0", timeout=1.5)
    request = next(e for e in peer.events if isinstance(e, RequestReceived))
    headers = dict(request.headers)
    assert headers[b":method"] == b"POST"
    assert headers[b":scheme"] == b"http"
    assert headers[b":path"] == b"/runtime.v1.RuntimeService/Version"
    assert headers[b":authority"] == b"localhost"
    assert headers[b"content-type"] == b"application/grpc"
    assert headers[b"te"] == b"trailers"
    timeout = headers[b"grpc-timeout"]
    assert timeout.endswith(b"u")
    assert 1_400_000 < int(timeout[:-1]) <= 1_500_000


# --- pure helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "header"),
    [
        (2.0, "2000000u"),
        (0.0000001, "1u"),
        (99.9999, "99999900u"),
        (100.0, "100000m"),
        (200000.0, "200000S"),
        (1e9, "16666667M"),
    ],
)
def test_grpc_timeout_header(seconds: float, header: str) -> None:
    assert grpc_unix.encode_grpc_timeout(seconds) == header


def test_percent_decoding_keeps_invalid_escapes() -> None:
    assert grpc_unix.percent_decode(b"a%20b%C3%BC%") == "a bü%"
    assert grpc_unix.percent_decode(b"100%zz") == "100%zz"
    assert grpc_unix.percent_decode(b"%FF") == "\ufffd"
