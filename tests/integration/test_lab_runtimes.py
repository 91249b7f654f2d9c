"""The lab's real runtimes: Debian builds fetched into the cache, started side by side in
temporary host roots, answering on their standard socket paths, and leaving nothing behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from kruise_cri.lab.packages import (
    RUNTIME_PINS,
    RuntimeBuild,
    cache_root,
    ensure_runtimes,
    upstream_version,
    version_matches_pin,
)
from kruise_cri.lab.runtimes import (
    ContainerdLayout,
    HostRoot,
    RunningRuntime,
    RuntimeStartError,
    containerd_config,
    docker_api_get,
    running_runtimes,
    start_containerd,
    start_dockerd,
)
from kruise_cri.lab.waiting import wait_until
from tests.integration.procfs import (
    connect_error,
    process_running,
    processes_mentioning,
    read_varint,
    socket_inodes_of,
    tcp_listener_inodes,
)

pytestmark = [pytest.mark.runtimes, pytest.mark.lab_only]

CONTAINERD_PINS = ("containerd-1.4", "containerd-1.6", "containerd-1.7", "containerd-2")
# Host paths that containerd and dockerd use unless told otherwise.
HOST_DEFAULT_PATHS = (
    "/run/containerd",
    "/var/lib/containerd",
    "/opt/containerd",
    "/run/nri",
    "/etc/nri",
    "/opt/nri",
    "/etc/cni",
    "/etc/cdi",
    "/run/cdi",
    "/run/netns",
    "/run/docker",
    "/run/docker.sock",
    "/run/docker.pid",
    "/var/lib/docker",
    "/etc/docker",
)
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Lab:
    cri: dict[str, RunningRuntime]  # pin name -> containerd with CRI on
    cri_off: dict[str, RunningRuntime]  # label -> containerd with CRI off
    dockerd: RunningRuntime
    docker_containerd: RunningRuntime
    start_seconds: float
    absent_before: list[str]

    def all(self) -> list[RunningRuntime]:
        return [*self.cri.values(), *self.cri_off.values(), self.docker_containerd, self.dockerd]


@pytest.fixture(scope="module")
def builds() -> dict[str, RuntimeBuild]:
    return ensure_runtimes(RUNTIME_PINS)


@pytest.fixture(scope="module")
def lab(builds: dict[str, RuntimeBuild]) -> Iterator[Lab]:
    absent_before = [path for path in HOST_DEFAULT_PATHS if not os.path.lexists(path)]
    roots: list[HostRoot] = []

    def new_root() -> HostRoot:
        roots.append(HostRoot())
        return roots[-1]

    runc = builds["runc"]
    started = time.monotonic()
    try:
        cri = {
            name: start_containerd(builds[name], new_root(), runc=runc) for name in CONTAINERD_PINS
        }
        cri_off = {
            "1.6": start_containerd(builds["containerd-1.6"], new_root(), cri=False, runc=runc),
            # The unversioned schema with the short plugin id, as Docker's containerd.io ships it.
            "1.4-schema1": start_containerd(
                builds["containerd-1.4"], new_root(), cri=False, schema=1, runc=runc
            ),
            "2": start_containerd(builds["containerd-2"], new_root(), cri=False, runc=runc),
        }
        docker_root = new_root()
        docker_containerd = start_containerd(
            builds["containerd-1.6"], docker_root, cri=False, runc=runc
        )
        dockerd = start_dockerd(
            builds["docker"],
            runc,
            docker_containerd,
            docker_root,
            daemon_json={"registry-mirrors": ["https://mirror.invalid"]},
        )
        elapsed = time.monotonic() - started
        print(f"\nstarted 9 runtimes in {elapsed:.2f}s", file=sys.stderr)
        yield Lab(
            cri=cri,
            cri_off=cri_off,
            dockerd=dockerd,
            docker_containerd=docker_containerd,
            start_seconds=elapsed,
            absent_before=absent_before,
        )
    finally:
        for root in reversed(roots):
            root.cleanup()


# --- helpers ------------------------------------------------------------------------------------


def cri_call(socket_path: Path, method: str) -> tuple[grpc.StatusCode, str, bytes]:
    """Call a CRI method with an empty request, raw bytes: (status, details, response)."""
    with grpc.insecure_channel(f"unix:{socket_path}") as channel:
        call = channel.unary_unary(method)
        try:
            response = call(b"", timeout=10)
        except grpc.RpcError as error:
            return error.code(), error.details() or "", b""
    return grpc.StatusCode.OK, "", response


def protobuf_strings(message: bytes) -> dict[int, str]:
    """Length-delimited fields of a flat protobuf message, by field number."""
    fields: dict[int, str] = {}
    offset = 0
    while offset < len(message):
        key, offset = read_varint(message, offset)
        assert key & 7 == 2, f"unexpected wire type in {message!r}"
        length, offset = read_varint(message, offset)
        fields[key >> 3] = message[offset : offset + length].decode()
        offset += length
    return fields


def ctr_version(runtime: RunningRuntime) -> str:
    assert runtime.build.ctr is not None
    return subprocess.run(
        [str(runtime.build.ctr), "--address", str(runtime.socket), "version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout


# --- packages -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("debian", "upstream"),
    [
        ("1.4.13~ds1-1~deb11u4", "1.4.13"),
        ("2.1.9+ds1-5", "2.1.9"),
        ("20.10.24+dfsg1-1+deb12u1+b6", "20.10.24"),
        ("1:1.6.20~ds1-1+deb12u3", "1.6.20"),
        ("1.1.5", "1.1.5"),
    ],
)
def test_upstream_version_strips_epoch_revision_and_repack_suffix(debian: str, upstream: str):
    assert upstream_version(debian) == upstream


@pytest.mark.parametrize(
    ("version", "prefix", "matches"),
    [
        ("1.6.20", "1.6", True),
        ("1.7.24", "1.6", False),
        ("1.60.1", "1.6", False),
        ("2.1.9", "2", True),
        ("3.0.0", "2", False),
        ("20.10.24", "20.10", True),
    ],
)
def test_version_pin_compares_whole_components(version: str, prefix: str, matches: bool):
    assert version_matches_pin(version, prefix) is matches


def test_every_pin_is_fetched_with_the_pinned_version(builds: dict[str, RuntimeBuild]):
    assert set(builds) == set(RUNTIME_PINS)
    for name, build in builds.items():
        pin = RUNTIME_PINS[name]
        assert version_matches_pin(build.upstream_version, pin.version_prefix), build
        assert build.root.is_dir() and build.root.parent == cache_root() / "runtimes"
        assert build.root.name == f"{pin.package}-{build.version}"
    for name in CONTAINERD_PINS:
        build = builds[name]
        assert build.containerd and build.ctr and build.containerd_shim_runc_v2
        assert os.access(build.containerd, os.X_OK)
    assert builds["docker"].dockerd is not None and os.access(builds["docker"].dockerd, os.X_OK)
    assert builds["runc"].runc is not None and os.access(builds["runc"].runc, os.X_OK)


def test_cached_builds_are_used_without_apt_or_dpkg(builds: dict[str, RuntimeBuild], tmp_path):
    """A second ensure_runtime runs no program at all: PATH holds nothing, and it still works."""
    empty_path = tmp_path / "empty-path"
    empty_path.mkdir()
    script = (
        "import json, sys\n"
        "from kruise_cri.lab.packages import ensure_runtime\n"
        "print(json.dumps({n: str(ensure_runtime(n).root) for n in sys.argv[1:]}))\n"
    )
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-c", script, "containerd-1.6", "docker"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": str(empty_path), "PYTHONPATH": str(REPO_ROOT)},
        check=False,
    )
    elapsed = time.monotonic() - started
    assert completed.returncode == 0, completed.stderr
    assert "downloading" not in completed.stderr and "updating" not in completed.stderr
    assert json.loads(completed.stdout) == {
        "containerd-1.6": str(builds["containerd-1.6"].root),
        "docker": str(builds["docker"].root),
    }
    assert elapsed < 10, elapsed


def test_two_processes_fetching_into_one_cache_download_once(builds, tmp_path):
    """The file lock: concurrent first fetches of runc into a fresh cache (package lists copied
    from the main cache, so only runc itself is downloaded) produce one download."""
    cache = tmp_path / "cache"
    shutil.copytree(cache_root() / "apt" / "lists", cache / "apt" / "lists", symlinks=True)
    (cache / "apt" / "sources.list").write_text((cache_root() / "apt" / "sources.list").read_text())
    script = (
        "import sys\n"
        "from kruise_cri.lab.packages import ensure_runtime\n"
        "from pathlib import Path\n"
        "print(ensure_runtime('runc', cache=Path(sys.argv[1])).root)\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(cache)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for _unused in range(2)
    ]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    roots = {stdout.strip() for stdout, _unused in outputs}
    assert len(roots) == 1
    (root,) = roots
    assert Path(root).parent == cache / "runtimes"
    assert Path(root, "usr/sbin/runc").is_file()
    downloads = sum(stderr.count("downloading runc/bookworm") for _unused, stderr in outputs)
    assert downloads == 1, outputs
    assert not list((cache / "runtimes").glob(".unpack-*"))


# --- configuration ------------------------------------------------------------------------------


def test_containerd_configs_keep_every_path_inside_the_host_root(builds, tmp_path):
    root = HostRoot(tmp_path / "root")
    layout = ContainerdLayout.for_socket(
        root, "run/containerd/containerd.sock", "etc/containerd/config.toml"
    )
    cases = [(name, schema) for name in CONTAINERD_PINS for schema in (None, 1, 2, 3)]
    checked = 0
    for name, schema in cases:
        for cri in (True, False):
            try:
                text = containerd_config(builds[name], layout, cri=cri, schema=schema)
            except ValueError:
                assert (schema == 3 and name != "containerd-2") or (
                    schema == 1 and name == "containerd-2"
                )
                continue
            document = tomllib.loads(text)
            paths = [value for value in walk_strings(document) if value.startswith("/")]
            assert paths and all(path.startswith(f"{root.path}/") for path in paths), text
            disabled = document["disabled_plugins"]
            if cri:
                assert disabled == []
            elif schema == 1:
                assert disabled == ["cri"]
            else:
                assert disabled == ["io.containerd.grpc.v1.cri"]
            expected_version = schema or (3 if name == "containerd-2" else 2)
            assert document.get("version", 1) == expected_version
            if expected_version == 3:
                assert "root = '/" in text  # 2.x's own style: literal strings
            checked += 1
    assert checked == 24


def walk_strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from walk_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk_strings(item)


def test_host_root_layout(tmp_path):
    root = HostRoot(tmp_path / "node")
    assert os.readlink(root.path / "var" / "run") == "../run"
    assert (root.path / "var" / "run").resolve() == root.path / "run"
    assert (root.path / "etc").is_dir() and (root.path / "var" / "lib").is_dir()
    layout = ContainerdLayout.for_socket(
        root, "run/k3s/containerd/containerd.sock", "var/lib/rancher/k3s/agent/etc/config.toml"
    )
    assert layout.state == root.path / "run/k3s/containerd"
    assert layout.root == root.path / "var/lib/k3s/containerd"
    default = HostRoot()
    try:
        assert default.path.parent == Path("/tmp") and default.path.name.startswith("kc-")
        longest = default.node_path("run/containerd/containerd.sock.ttrpc")
        assert len(os.fsencode(longest)) < 108
    finally:
        default.cleanup()
    assert not default.path.exists()


# --- the running lab ----------------------------------------------------------------------------


def test_sockets_sit_at_standard_paths_and_answer(lab: Lab, builds):
    for name, runtime in lab.cri.items():
        assert runtime.socket == runtime.host_root.path / "run/containerd/containerd.sock"
        assert (runtime.host_root.path / "var/run/containerd/containerd.sock").exists()
        assert runtime.node_socket == "/run/containerd/containerd.sock"
        output = ctr_version(runtime)
        assert output.count(f"Version:  {builds[name].upstream_version}") == 2, output
    for runtime in lab.cri_off.values():
        assert runtime.build.upstream_version in ctr_version(runtime)
    assert lab.dockerd.socket == lab.dockerd.host_root.path / "run/docker.sock"
    assert docker_api_get(lab.dockerd.host_root.path / "var/run/docker.sock", "/_ping") == (
        200,
        b"OK",
    )
    status, body = docker_api_get(lab.dockerd.socket, "/version")
    version = json.loads(body)
    assert status == 200 and version["Version"].startswith("20.10."), version
    status, body = docker_api_get(lab.dockerd.socket, "/info")
    info = json.loads(body)
    assert info["DockerRootDir"] == str(lab.dockerd.host_root.path / "var/lib/docker")
    assert info["RegistryConfig"]["Mirrors"] == ["https://mirror.invalid/"]
    assert info["ContainerdCommit"]["ID"] == builds["containerd-1.6"].version
    assert info["RuncCommit"]["ID"] == builds["runc"].version


def test_cri_apis_per_containerd_generation(lab: Lab, builds):
    ok, unimplemented = grpc.StatusCode.OK, grpc.StatusCode.UNIMPLEMENTED
    expected = {
        "containerd-1.4": {"v1": unimplemented, "v1alpha2": ok},
        "containerd-1.6": {"v1": ok, "v1alpha2": ok},
        "containerd-1.7": {"v1": ok, "v1alpha2": ok},
        "containerd-2": {"v1": ok, "v1alpha2": unimplemented},
    }
    for name, runtime in lab.cri.items():
        for api, want in expected[name].items():
            version = f"/runtime.{api}.RuntimeService/Version"
            status, details, response = cri_call(runtime.socket, version)
            assert status == want, (name, api, status, details)
            images = f"/runtime.{api}.ImageService/ListImages"
            image_status, image_details, _unused = cri_call(runtime.socket, images)
            assert image_status == want, (name, api, image_status, image_details)
            if want == ok:
                fields = protobuf_strings(response)
                assert fields[2] == "containerd"
                assert fields[3].lstrip("v").startswith(builds[name].upstream_version)
                assert fields[4] == api
            else:
                assert details == f"unknown service runtime.{api}.RuntimeService"
                assert image_details == f"unknown service runtime.{api}.ImageService"


def test_containerd_without_cri_answers_unimplemented_to_both_apis(lab: Lab):
    for runtime in [*lab.cri_off.values(), lab.docker_containerd]:
        for api in ("v1", "v1alpha2"):
            for service, method in (("RuntimeService", "Version"), ("ImageService", "ListImages")):
                status, details, _unused = cri_call(
                    runtime.socket, f"/runtime.{api}.{service}/{method}"
                )
                assert status == grpc.StatusCode.UNIMPLEMENTED, (runtime, api, service)
                assert details == f"unknown service runtime.{api}.{service}"


def test_nothing_listens_on_the_hosts_network_or_writes_host_paths(lab: Lab):
    our_inodes: set[int] = set()
    for runtime in lab.all():
        assert runtime.alive()
        assert os.readlink(f"/proc/{runtime.pid}/ns/net") != os.readlink("/proc/self/ns/net")
        assert os.readlink(f"/proc/{runtime.pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
        our_inodes |= socket_inodes_of(runtime.pid)
    assert our_inodes
    assert not (tcp_listener_inodes() & our_inodes)
    # The CRI streaming server does listen on TCP, inside each daemon's own network namespace.
    for runtime in lab.cri.values():
        inside = tcp_listener_inodes(f"/proc/{runtime.pid}/net")
        assert inside & socket_inodes_of(runtime.pid), runtime
    created = [path for path in lab.absent_before if os.path.lexists(path)]
    assert created == []
    # dockerd shares its containerd's namespaces: it mounts rootfs that containerd's shims use.
    assert os.readlink(f"/proc/{lab.dockerd.pid}/ns/mnt") == os.readlink(
        f"/proc/{lab.docker_containerd.pid}/ns/mnt"
    )


def test_starting_all_runtimes_from_the_cache_is_quick(lab: Lab):
    assert lab.start_seconds < 30, lab.start_seconds


def test_stop_leaves_no_process_and_no_listening_socket(builds):
    with HostRoot() as root:
        containerd = start_containerd(builds["containerd-2"], root, runc=builds["runc"])
        docker_root = HostRoot()
        try:
            docker_containerd = start_containerd(
                builds["containerd-1.6"], docker_root, cri=False, runc=builds["runc"]
            )
            dockerd = start_dockerd(
                builds["docker"], builds["runc"], docker_containerd, docker_root
            )
            handles = [containerd, dockerd, docker_containerd]
            pids = [handle.pid for handle in handles]
            assert all(handle in running_runtimes() for handle in handles)
            for handle in handles:
                handle.stop()
                assert not handle.alive()
                assert not process_running(handle.pid)
                assert connect_error(handle.socket) in (ConnectionRefusedError, FileNotFoundError)
                assert processes_mentioning(str(handle.socket)) == []
                assert handle not in running_runtimes()
            assert not any(process_running(pid) for pid in pids)
            assert (docker_root.path / "etc/docker/key.json").is_file()
            assert (docker_root.lab_dir / "dockerd-daemon.json").is_file()
        finally:
            docker_root.cleanup()
        assert not docker_root.path.exists()
    assert not root.path.exists()


def test_failed_start_reports_the_log_tail(builds):
    with HostRoot() as root:
        with pytest.raises(RuntimeStartError) as raised:
            # containerd refuses a state directory equal to its root directory.
            start_containerd(
                builds["containerd-1.6"], root, state_rel="var/lib/same", root_rel="var/lib/same"
            )
        headline, log_tail = str(raised.value).split("\n", 1)
        assert "exited with 1" in headline and str(root.lab_dir) in headline
        assert "root and state must be different paths" in log_tail
        assert root.runtimes() == []


SAFETY_NET_SCRIPT = """
import sys
from kruise_cri.lab.packages import ensure_runtime
from kruise_cri.lab.runtimes import HostRoot, start_containerd
root = HostRoot()
runtime = start_containerd(ensure_runtime("containerd-1.6"), root, cri=False)
print(runtime.pid, root.path, flush=True)
sys.stdin.readline()  # the test says when to exit (and may SIGKILL instead)
"""


@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_daemons_do_not_outlive_the_process_that_started_them(builds, ending: str):
    """atexit stops them when the starter exits; PR_SET_PDEATHSIG when it is killed."""
    starter = subprocess.Popen(
        [sys.executable, "-c", SAFETY_NET_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert starter.stdin is not None and starter.stdout is not None
    pid_text, root_path = starter.stdout.readline().split()
    daemon = int(pid_text)
    try:
        assert process_running(daemon)
        if ending == "sigkill":
            starter.kill()
        else:
            starter.stdin.write("exit\n")
            starter.stdin.flush()
        starter.wait(timeout=30)
        wait_until("the daemon to end", lambda: not process_running(daemon), 10, interval=0.05)
    finally:
        starter.kill()
        starter.wait()
        shutil.rmtree(root_path, ignore_errors=True)
