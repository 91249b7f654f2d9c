"""A real dockershim (Kubernetes v1.23.17's, built from its Go module) in front of a real dockerd:
it serves CRI v1alpha2 only and calls itself "docker", as on a Docker node before kubelet 1.24."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from kruise_cri.lab.dockershim_build import (
    KUBERNETES_VERSION,
    RunningDockershim,
    dockershim_record,
    ensure_dockershim,
    source_fingerprint,
    start_dockershim,
)
from kruise_cri.lab.packages import RuntimeBuild, ensure_runtime
from kruise_cri.lab.runtimes import (
    HostRoot,
    RunningRuntime,
    docker_api_get,
    running_runtimes,
    start_containerd,
    start_dockerd,
)
from kruise_cri.lab.waiting import wait_until
from tests.integration.procfs import (
    connect_error,
    process_running,
    read_varint,
    socket_inodes_of,
    tcp_listener_inodes,
)

# The first run builds dockershim (minutes; see ensure_dockershim) inside a fixture, which counts
# against the test that first needs it.
pytestmark = [pytest.mark.runtimes, pytest.mark.lab_only, pytest.mark.timeout(1800)]

VERSION_REQUEST = b"\x0a\x050.1.0"  # VersionRequest{version: "0.1.0"}
IMPORTED_IMAGE = "kruise-cri.local/marker:1"
# Where dockershim and its CNI plugin would write if a path escaped the host root.
HOST_DEFAULT_PATHS = (
    "/var/lib/dockershim",
    "/run/dockershim.sock",
    "/var/run/dockershim.sock",
    "/etc/cni",
    "/opt/cni",
    "/var/lib/cni",
)
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DockerNode:
    root: HostRoot
    containerd: RunningRuntime
    dockerd: RunningRuntime
    shim: RunningDockershim


@pytest.fixture(scope="module")
def builds() -> dict[str, RuntimeBuild]:
    return {name: ensure_runtime(name) for name in ("containerd-1.6", "docker", "runc")}


@pytest.fixture(scope="module")
def dockershim_binary() -> Path:
    return ensure_dockershim()


def start_docker_node(builds: dict[str, RuntimeBuild], binary: Path) -> DockerNode:
    root = HostRoot()
    try:
        containerd = start_containerd(
            builds["containerd-1.6"], root, cri=False, runc=builds["runc"]
        )
        dockerd = start_dockerd(builds["docker"], builds["runc"], containerd, root)
        shim = start_dockershim(binary, dockerd, root)
    except BaseException:
        root.cleanup()
        raise
    return DockerNode(root, containerd, dockerd, shim)


@pytest.fixture(scope="module")
def node(builds: dict[str, RuntimeBuild], dockershim_binary: Path) -> Iterator[DockerNode]:
    absent_before = [path for path in HOST_DEFAULT_PATHS if not os.path.lexists(path)]
    started = start_docker_node(builds, dockershim_binary)
    try:
        import_image(builds["docker"], started.dockerd.socket, IMPORTED_IMAGE)
        yield started
    finally:
        started.root.cleanup()
    assert [path for path in absent_before if os.path.lexists(path)] == []


# --- helpers ------------------------------------------------------------------------------------


def cri_call(
    socket_path: Path, method: str, request: bytes = b""
) -> tuple[grpc.StatusCode, str, bytes]:
    """One raw unary call: (status, details, response bytes)."""
    with grpc.insecure_channel(f"unix:{socket_path}") as channel:
        try:
            response = channel.unary_unary(method)(request, timeout=10)
        except grpc.RpcError as error:
            return error.code(), error.details() or "", b""
    return grpc.StatusCode.OK, "", response


def protobuf_fields(message: bytes) -> list[tuple[int, bytes]]:
    """(field number, bytes) of each length-delimited field of a protobuf message, in order;
    varint fields (e.g. an image's size) are skipped."""
    fields: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(message):
        key, offset = read_varint(message, offset)
        if key & 7 == 0:
            _unused, offset = read_varint(message, offset)
            continue
        assert key & 7 == 2, f"unexpected wire type in {message!r}"
        length, offset = read_varint(message, offset)
        fields.append((key >> 3, message[offset : offset + length]))
        offset += length
    return fields


def import_image(docker_build: RuntimeBuild, docker_socket: Path, reference: str) -> None:
    """`docker import` a one-file root filesystem (no registry is reachable from the lab)."""
    assert docker_build.docker is not None
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        content = b"kruise-cri\n"
        member = tarfile.TarInfo("marker")
        member.size = len(content)
        tar.addfile(member, io.BytesIO(content))
    subprocess.run(
        [str(docker_build.docker), "--host", f"unix://{docker_socket}", "import", "-", reference],
        input=archive.getvalue(),
        capture_output=True,
        check=True,
        timeout=60,
    )


# --- the build ----------------------------------------------------------------------------------


def test_build_is_cached_and_stamped(dockershim_binary: Path):
    record = dockershim_record()
    assert record is not None and record["fingerprint"] == source_fingerprint()
    modified = dockershim_binary.stat().st_mtime_ns
    started = time.monotonic()
    assert ensure_dockershim() == dockershim_binary
    assert time.monotonic() - started < 1.0
    assert dockershim_binary.stat().st_mtime_ns == modified
    assert REPO_ROOT not in dockershim_binary.parents
    version = subprocess.run(
        [str(dockershim_binary), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert version.strip() == f"dockershim (Kubernetes {KUBERNETES_VERSION})"


# --- the CRI it serves --------------------------------------------------------------------------


def test_v1alpha2_version_names_docker_and_dockers_version(node: DockerNode):
    code, details, response = cri_call(
        node.shim.socket, "/runtime.v1alpha2.RuntimeService/Version", VERSION_REQUEST
    )
    assert code == grpc.StatusCode.OK, details
    status, body = docker_api_get(node.dockerd.socket, "/version")
    assert status == 200
    docker_version = json.loads(body)
    assert dict(protobuf_fields(response)) == {
        1: b"0.1.0",
        2: b"docker",
        3: docker_version["Version"].encode(),
        4: f"{docker_version['ApiVersion']}.0".encode(),
    }
    assert docker_version["Version"].startswith(node.dockerd.version)


def test_v1alpha2_list_images_shows_dockers_images(node: DockerNode):
    code, details, response = cri_call(
        node.shim.socket, "/runtime.v1alpha2.ImageService/ListImages"
    )
    assert code == grpc.StatusCode.OK, details
    images = [protobuf_fields(image) for number, image in protobuf_fields(response) if number == 1]
    tags = [value.decode() for image in images for number, value in image if number == 2]
    assert tags == [IMPORTED_IMAGE]


@pytest.mark.parametrize(
    ("method", "request_bytes", "service"),
    [
        ("/runtime.v1.RuntimeService/Version", VERSION_REQUEST, "runtime.v1.RuntimeService"),
        ("/runtime.v1.ImageService/ListImages", b"", "runtime.v1.ImageService"),
    ],
)
def test_cri_v1_is_unimplemented(node: DockerNode, method: str, request_bytes: bytes, service: str):
    code, details, _unused = cri_call(node.shim.socket, method, request_bytes)
    assert (code, details) == (grpc.StatusCode.UNIMPLEMENTED, f"unknown service {service}")


def test_streaming_server_listens_only_in_dockerds_network_namespace(node: DockerNode):
    shim_pid = node.shim.shim_pid
    assert shim_pid is not None and process_running(shim_pid)
    assert os.readlink(f"/proc/{shim_pid}/ns/net") == os.readlink(
        f"/proc/{node.dockerd.pid}/ns/net"
    )
    assert os.readlink(f"/proc/{shim_pid}/ns/net") != os.readlink("/proc/self/ns/net")
    assert os.readlink(f"/proc/{shim_pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    ours = socket_inodes_of(shim_pid)
    assert tcp_listener_inodes(f"/proc/{shim_pid}/net") & ours
    assert not tcp_listener_inodes("/proc/self/net") & ours


# --- stopping -----------------------------------------------------------------------------------


def test_stop_leaves_no_process_and_a_refusing_socket(builds, dockershim_binary: Path):
    docker_node = start_docker_node(builds, dockershim_binary)
    try:
        shim = docker_node.shim
        shim_pid = shim.shim_pid
        assert shim_pid is not None and shim in running_runtimes()
        shim.stop()
        assert not process_running(shim.pid) and not process_running(shim_pid)
        assert shim not in running_runtimes()
        # As when a kubelet stops: the socket file stays and refuses connections.
        assert connect_error(shim.socket) is ConnectionRefusedError
        assert "dockershim stopping" in shim.log_tail(5)
        assert docker_node.dockerd.alive()
    finally:
        docker_node.root.cleanup()


KILLED_STARTER_SCRIPT = """
import sys
from kruise_cri.lab.dockershim_build import ensure_dockershim, start_dockershim
from kruise_cri.lab.packages import ensure_runtime
from kruise_cri.lab.runtimes import HostRoot, start_containerd, start_dockerd
runc = ensure_runtime("runc")
root = HostRoot()
containerd = start_containerd(ensure_runtime("containerd-1.6"), root, cri=False, runc=runc)
dockerd = start_dockerd(ensure_runtime("docker"), runc, containerd, root)
shim = start_dockershim(ensure_dockershim(), dockerd, root)
print(shim.pid, shim.shim_pid, root.path, flush=True)
sys.stdin.readline()
"""


def test_dockershim_does_not_outlive_a_killed_starter(builds, dockershim_binary: Path):
    starter = subprocess.Popen(
        [sys.executable, "-c", KILLED_STARTER_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert starter.stdout is not None
    unshare_text, shim_text, root_path = starter.stdout.readline().split()
    pids = [int(unshare_text), int(shim_text)]
    try:
        assert all(process_running(pid) for pid in pids)
        starter.kill()
        starter.wait(timeout=30)
        wait_until(
            "unshare and dockershim to end",
            lambda: not any(process_running(pid) for pid in pids),
            10,
            interval=0.05,
        )
    finally:
        starter.kill()
        starter.wait()
        HostRoot(root_path).cleanup()
