"""A real dockershim for the lab: Kubernetes v1.23.17's ``pkg/kubelet/dockershim`` as a daemon.

dockershim left the kubelet in 1.24, and cri-dockerd is not served by the module proxy here, so
the lab builds the dockershim package of ``k8s.io/kubernetes`` v1.23.17 (the last release with it)
behind a small ``main`` of ours (``main.go`` of the v1.23.17 wrapper module,
``kruise_cri/lab/kubernetes-1.23/``, which also builds the real nodes' kubelet). It serves CRI
v1alpha2 only and answers ``Version`` with runtime_name ``docker``, exactly as a Docker node's kubelet did.

:func:`ensure_dockershim` builds the binary once into ``<cache>/bin/dockershim/v1.23.17/`` (never
into the repository) and rebuilds only when the Go sources or the link flags change.
:func:`start_dockershim` runs it against a lab dockerd, in dockerd's network and mount namespaces
and in a PID namespace of its own (see :func:`start_dockershim`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

from kruise_cri.lab.buildcache import BuildSession, CachedBuild, GoBuildError
from kruise_cri.lab.kubernetes_build import NODE_RELEASE
from kruise_cri.lab.packages import RuntimeBuild
from kruise_cri.lab.runtimes import (
    HostRoot,
    RunningRuntime,
    RuntimeStartError,
    check_socket_path,
    register_runtime,
    spawn_isolated,
    wait_until_answering,
)

KUBERNETES_VERSION = NODE_RELEASE.version
SOURCE_DIR = NODE_RELEASE.source_dir
SOURCE_FILES = ("main.go", "go.mod", "go.sum")
BINARY_NAME = "dockershim"
BUILD_TIMEOUT = 3600.0
DEFAULT_SOCKET = "run/dockershim.sock"
# The kubelet v1.23 default --pod-infra-container-image.
DEFAULT_POD_INFRA_IMAGE = "k8s.gcr.io/pause:3.6"
# kubelet's defaults, moved beneath the host root.
ROOT_DIRECTORY = "var/lib/dockershim"
CNI_CONF_DIR = "etc/cni/net.d"
CNI_BIN_DIR = "opt/cni/bin"
CNI_CACHE_DIR = "var/lib/cni/cache"


class DockershimBuildError(GoBuildError):
    """dockershim could not be built or does not report its version. The message ends with the
    tail of the build log."""


def source_fingerprint(source_dir: Path = SOURCE_DIR) -> str:
    """Hash of the Go sources and link flags; a cached binary with another one is rebuilt."""
    digest = hashlib.sha256()
    for name in SOURCE_FILES:
        digest.update(name.encode() + b"\0" + (source_dir / name).read_bytes() + b"\0")
    digest.update(NODE_RELEASE.version_ldflags().encode())
    return digest.hexdigest()[:16]


def dockershim_dir(cache: Path | None = None) -> Path:
    return _cached_build(cache).directory


def ensure_dockershim(*, cache: Path | None = None) -> Path:
    """The dockershim binary, built on first use: with an empty Go build cache about 4 minutes of
    CPU (4.5 min on an idle 2-core machine, 20 min at load 30) and 0.9 GB of Go build cache.
    Concurrent callers (threads or processes) wait for one build."""
    return _cached_build(cache).ensure(_build)


def dockershim_record(*, cache: Path | None = None) -> dict[str, object] | None:
    """The ``build.json`` of the cached build (fingerprint, Go version, build time), or None."""
    return _cached_build(cache).record()


class RunningDockershim(RunningRuntime):
    """A dockershim started by :func:`start_dockershim`. ``process`` is the ``unshare`` that
    holds its PID namespace; dockershim is that process's only child."""

    def __init__(
        self,
        *,
        binary: Path,
        host_root: HostRoot,
        socket_rel: str,
        process: subprocess.Popen[bytes],
        log_path: Path,
        flags_file: Path,
        docker: RunningRuntime,
        root_directory: Path,
    ) -> None:
        build = RuntimeBuild(
            name="dockershim",
            suite="",
            package="k8s.io/kubernetes",
            version=KUBERNETES_VERSION,
            upstream_version=KUBERNETES_VERSION.removeprefix("v"),
            root=binary.parent,
        )
        super().__init__(
            kind="dockershim",
            build=build,
            host_root=host_root,
            socket_rel=socket_rel,
            process=process,
            log_path=log_path,
            config_path=flags_file,  # dockershim has no config file: its flags, one a line
            cri=True,
        )
        self.binary = binary
        self.docker = docker
        self.root_directory = root_directory

    @property
    def shim_pid(self) -> int | None:
        """dockershim's own PID as the host sees it (``pid`` is unshare's); None once gone."""
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM to dockershim (unshare blocks it and waits), SIGKILL to both after
        ``timeout``. The socket file stays, as when a kubelet stops."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait()
        super().stop(timeout)


def start_dockershim(
    binary: Path,
    docker: RunningRuntime,
    host_root: HostRoot,
    *,
    socket_rel: str = DEFAULT_SOCKET,
    pod_infra_image: str = DEFAULT_POD_INFRA_IMAGE,
    timeout: float = 30.0,
) -> RunningDockershim:
    """Start dockershim serving ``socket_rel`` for the lab dockerd ``docker`` of ``host_root``.

    Its state (``var/lib/dockershim``) and the CNI directories it reads are the kubelet's
    defaults moved beneath the host root; there is no CNI configuration, so the CRI status
    reports the network not ready, as on a node before its CNI is installed. It joins dockerd's
    network and mount namespaces (the exec/attach streaming server listens on 127.0.0.1 there,
    off the host) and gets a PID namespace with its own /proc: every five minutes dockershim looks
    up processes named ``dockerd`` and ``containerd`` to set their oom_score_adj, which must not
    reach the host's daemons. Returns once the socket accepts connections."""
    if docker.kind != "dockerd" or not docker.alive():
        raise ValueError(f"{docker} is not a running dockerd")
    if docker.host_root.path != host_root.path:
        raise ValueError(f"{docker} runs in {docker.host_root}, not in {host_root}")
    unshare = shutil.which("unshare")
    if unshare is None:
        raise RuntimeStartError("util-linux `unshare` is needed for dockershim's PID namespace")
    socket_path = host_root.node_path(socket_rel)
    check_socket_path(socket_path)
    root_directory = host_root.node_path(ROOT_DIRECTORY)
    for directory in (socket_path.parent, root_directory):
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    flags = [
        f"--listen=unix://{socket_path}",
        f"--docker-endpoint=unix://{docker.socket}",
        f"--root-directory={root_directory}",
        f"--pod-infra-container-image={pod_infra_image}",
        "--network-plugin=cni",
        f"--cni-conf-dir={host_root.node_path(CNI_CONF_DIR)}",
        f"--cni-bin-dir={host_root.node_path(CNI_BIN_DIR)}",
        f"--cni-cache-dir={host_root.node_path(CNI_CACHE_DIR)}",
        "--streaming-address=127.0.0.1:0",
    ]
    flags_file = host_root.lab_dir / "dockershim.flags"
    flags_file.write_text("\n".join(flags) + "\n")
    log_path = host_root.lab_dir / "dockershim.log"
    command = [
        unshare,
        "--pid",
        "--fork",
        "--mount-proc",
        "--kill-child=SIGTERM",
        str(binary),
        *flags,
    ]
    # The parent-death signal is SIGKILL: `unshare --fork` blocks SIGTERM while it waits, and
    # passes its own death on to dockershim (--kill-child).
    process = spawn_isolated(
        command,
        log_path=log_path,
        host_root=host_root,
        join_pid=docker.pid,
        death_signal=signal.SIGKILL,
    )
    runtime = RunningDockershim(
        binary=binary,
        host_root=host_root,
        socket_rel=socket_rel,
        process=process,
        log_path=log_path,
        flags_file=flags_file,
        docker=docker,
        root_directory=root_directory,
    )
    register_runtime(runtime)
    wait_until_answering(runtime, timeout, lambda: _accepts_connections(socket_path))
    return runtime


# --- build ---------------------------------------------------------------------------------------


def _cached_build(cache: Path | None) -> CachedBuild:
    return CachedBuild(
        BINARY_NAME, KUBERNETES_VERSION, source_fingerprint(), cache, DockershimBuildError
    )


def _build(session: BuildSession) -> dict[str, object]:
    # Built from a copy: with -mod=mod, go may rewrite go.mod/go.sum, never in the repository.
    source = session.staging / "src"
    source.mkdir()
    for name in SOURCE_FILES:
        shutil.copyfile(SOURCE_DIR / name, source / name)
    environment = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}
    go_version = session.go_run(["env", "GOVERSION"], source, environment, BUILD_TIMEOUT)
    command = ["build", "-trimpath", "-buildvcs=false", "-ldflags", NODE_RELEASE.version_ldflags()]
    session.go_run([*command, "-o", str(session.binary), "."], source, environment, BUILD_TIMEOUT)
    session.check_version_report(["--version"], KUBERNETES_VERSION)
    shutil.rmtree(source)
    return {
        "tool": BINARY_NAME,
        "kubernetes": KUBERNETES_VERSION,
        "ldflags": NODE_RELEASE.version_ldflags(),
        "cgo": False,
        "go_version": go_version.strip(),
        "size_bytes": session.binary.stat().st_size,
    }


# --- process -------------------------------------------------------------------------------------


def _signal_group(group: int, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal_number)


def _accepts_connections(socket_path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(socket_path))
        except OSError:
            return False
    return True
