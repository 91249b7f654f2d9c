"""Our node-side gRPC client and grpcio, asked the same questions on the same real CRI sockets."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node import grpc_unix

from kruise_cri.lab.fleet import RunningFleet

pytestmark = pytest.mark.lab_only

VERSION_REQUEST = b"\x0a\x050.1.0"  # VersionRequest{version: "0.1.0"}
CALLS = [
    (f"/runtime.{api}.{service}/{method}", request)
    for api in ("v1", "v1alpha2")
    for service, method, request in (
        ("RuntimeService", "Version", VERSION_REQUEST),
        ("ImageService", "ListImages", b""),
        ("RuntimeService", "Status", b""),
    )
]


def real_sockets(fleet: RunningFleet) -> dict[str, Path]:
    sockets = {}
    for node, runtimes in fleet.runtimes.items():
        for runtime in runtimes:
            if runtime.kind in ("containerd", "dockershim"):
                sockets[f"{node}:{runtime.node_socket}"] = runtime.socket
    return sockets


def grpcio_call(socket: Path, method: str, request: bytes) -> tuple[int, str, bytes | None]:
    with grpc.insecure_channel(f"unix:{socket}") as channel:
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        try:
            return 0, "", call(request, timeout=5)
        except grpc.RpcError as error:
            return error.code().value[0], error.details() or "", None


def our_call(socket: Path, method: str, request: bytes) -> tuple[int, str, bytes | None]:
    with grpc_unix.UnixChannel(str(socket), 5.0) as channel:
        try:
            return 0, "", channel.unary(method, request)
        except grpc_unix.GrpcError as error:
            return error.code, error.details, None


def test_same_answers_as_grpcio_on_every_real_socket(fleet: RunningFleet) -> None:
    sockets = real_sockets(fleet)
    assert len(sockets) >= 8, sockets
    compared = 0
    for label, socket in sockets.items():
        for method, request in CALLS:
            ours = our_call(socket, method, request)
            theirs = grpcio_call(socket, method, request)
            assert ours == theirs, f"{label} {method}"
            compared += 1
    assert compared == len(sockets) * len(CALLS)


@pytest.mark.parametrize("node", ["node-containerd-1-6", "node-containerd-2"])
def test_many_calls_on_one_connection(fleet: RunningFleet, node: str) -> None:
    socket = fleet.runtimes[node][0].socket
    with grpc_unix.UnixChannel(str(socket), 10.0) as channel:
        answers = {channel.unary("/runtime.v1.RuntimeService/Version", VERSION_REQUEST)}
        for _unused in range(200):
            answers.add(channel.unary("/runtime.v1.RuntimeService/Version", VERSION_REQUEST))
    assert len(answers) == 1
