"""Start real containerd and dockerd daemons whose sockets sit beneath a temporary host root.

A host root looks like a node's ``/`` to code that probes beneath ``host_root``: sockets at their
standard paths (``<root>/run/containerd/containerd.sock``, ``<root>/run/docker.sock``) and
``<root>/var/run`` a relative symlink to ``../run``. Every path a daemon would otherwise take from
the host (state, root, opt, NRI, CNI, CDI, data-root, exec-root, pidfile, trust key, config file)
is moved into the host root. Each daemon runs in its own network and mount namespaces (see
``_isolation``), so what cannot be configured away (the CRI streaming server on 127.0.0.1,
hard-coded paths under /run) stays off the host, and several daemons run side by side without
port or path conflicts. Root is required.

Daemons are started from the calling thread and get SIGTERM when that thread dies
(PR_SET_PDEATHSIG); an atexit hook stops whatever is still running.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import http.client
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from kruise_cri.lab import buildcache
from kruise_cri.lab.packages import RuntimeBuild

UNIX_PATH_MAX = 107  # sun_path is 108 bytes including the terminating NUL
LAB_DIR = ".kruise-cri-lab"  # private files of the lab inside a host root (logs, unused configs)
DEFAULT_CONTAINERD_SOCKET = "run/containerd/containerd.sock"
DEFAULT_CONTAINERD_CONFIG = "etc/containerd/config.toml"
DEFAULT_DOCKER_SOCKET = "run/docker.sock"
# daemon.json keys that start_dockerd sets itself (dockerd refuses a setting given twice).
DOCKERD_FLAG_KEYS = frozenset(
    {
        "hosts",
        "containerd",
        "data-root",
        "exec-root",
        "pidfile",
        "iptables",
        "ip6tables",
        "ip-forward",
        "ip-masq",
        "bridge",
        "userland-proxy",
        "log-level",
        "storage-driver",
        "shutdown-timeout",
        "deprecated-key-path",
    }
)


class RuntimeStartError(RuntimeError):
    """A daemon did not start or did not answer in time. The message ends with its log tail."""


class HostRoot:
    """A directory laid out like a node's ``/``: ``run/``, ``var/run -> ../run``, ``etc/``,
    ``var/lib/``. By default a new directory under /tmp (socket paths must stay short), which
    ``cleanup`` deletes; a ``path`` given by the caller is laid out but never deleted."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.owned = path is None
        if path is None:
            path = tempfile.mkdtemp(prefix="kc-", dir="/tmp")
            os.chmod(path, 0o755)
        self.path = Path(path).resolve()
        for relative in ("run", "etc", "var/lib", LAB_DIR):
            (self.path / relative).mkdir(mode=0o755, parents=True, exist_ok=True)
        var_run = self.path / "var" / "run"
        if not var_run.is_symlink():
            var_run.symlink_to("../run")

    def __repr__(self) -> str:
        return f"HostRoot({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    def node_path(self, relative: str) -> Path:
        """The host path of ``relative`` (a path as seen from the node, with or without '/')."""
        return self.path / relative.lstrip("/")

    @property
    def lab_dir(self) -> Path:
        return self.path / LAB_DIR

    def runtimes(self) -> list[RunningRuntime]:
        """Runtimes started in this host root that have not been stopped."""
        with _registry_lock:
            return [runtime for runtime in _running if runtime.host_root.path == self.path]

    def cleanup(self) -> None:
        """Stop the runtimes started in this host root; delete it if this object created it."""
        for runtime in reversed(self.runtimes()):
            runtime.stop()
        if self.owned:
            _unmount_beneath(self.path)
            shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> HostRoot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.cleanup()


class RunningRuntime:
    """A daemon started by this module. ``socket`` is the absolute host path of its API socket."""

    def __init__(
        self,
        *,
        kind: str,
        build: RuntimeBuild,
        host_root: HostRoot,
        socket_rel: str,
        process: subprocess.Popen[bytes],
        log_path: Path,
        config_path: Path,
        cri: bool,
        state_dir: Path | None = None,
        shim_address: str | None = None,
    ) -> None:
        self.kind = kind
        self.build = build
        self.host_root = host_root
        self.socket_rel = socket_rel.lstrip("/")
        self.socket = host_root.node_path(socket_rel)
        self.process = process
        self.pid = process.pid
        self.log_path = log_path
        self.config_path = config_path
        self.cri = cri
        self.state_dir = state_dir
        self._shim_address = shim_address

    def __repr__(self) -> str:
        return (
            f"RunningRuntime({self.kind} {self.build.upstream_version},"
            f" socket={str(self.socket)!r}, pid={self.pid}, cri={self.cri})"
        )

    @property
    def node_socket(self) -> str:
        """The socket path as the node sees it, e.g. ``/run/containerd/containerd.sock``."""
        return "/" + self.socket_rel

    @property
    def version(self) -> str:
        return self.build.upstream_version

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        return buildcache.log_tail(self.log_path, lines)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; also ends shims the daemon left.

        Leaves every file in place (a socket file left by a killed daemon stays, refusing
        connections, as on a real node)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._shim_address is not None:
            _kill_shims(self._shim_address)
        with _registry_lock:
            if self in _running:
                _running.remove(self)

    def __enter__(self) -> RunningRuntime:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class ContainerdLayout:
    """Where one containerd keeps its files, all beneath the host root."""

    socket: Path
    config: Path
    root: Path
    state: Path
    opt: Path
    temp: Path
    nri_socket: Path
    nri_plugins: Path
    nri_plugin_config: Path
    cni_bin: Path
    cni_conf: Path
    cdi_dirs: tuple[Path, Path]
    image_verifier_bin: Path
    log: Path

    @classmethod
    def for_socket(
        cls,
        host_root: HostRoot,
        socket_rel: str,
        config_rel: str,
        state_rel: str | None = None,
        root_rel: str | None = None,
    ) -> ContainerdLayout:
        """Derive the private directories from the socket path, as distributions lay them out:
        ``run/containerd/containerd.sock`` -> state ``run/containerd``, root
        ``var/lib/containerd``, opt ``opt/containerd``; ``run/k3s/containerd/containerd.sock`` ->
        ``run/k3s/containerd``, ``var/lib/k3s/containerd``, ``opt/k3s/containerd``."""
        socket_rel = socket_rel.lstrip("/")
        label = _label_for_socket(socket_rel)
        state = host_root.node_path(state_rel or f"run/{label}")
        root = host_root.node_path(root_rel or f"var/lib/{label}")
        return cls(
            socket=host_root.node_path(socket_rel),
            config=host_root.node_path(config_rel),
            root=root,
            state=state,
            opt=host_root.node_path(f"opt/{label}"),
            temp=root / "tmpmounts",
            nri_socket=state / "nri" / "nri.sock",
            nri_plugins=host_root.node_path(f"opt/{label}/nri/plugins"),
            nri_plugin_config=host_root.node_path(f"etc/{label}/nri/conf.d"),
            cni_bin=host_root.node_path("opt/cni/bin"),
            cni_conf=host_root.node_path("etc/cni/net.d"),
            cdi_dirs=(host_root.node_path("etc/cdi"), host_root.node_path("run/cdi")),
            image_verifier_bin=host_root.node_path(f"opt/{label}/image-verifier/bin"),
            log=host_root.lab_dir / f"{label.replace('/', '-')}.log",
        )


def containerd_config(
    build: RuntimeBuild, layout: ContainerdLayout, *, cri: bool = True, schema: int | None = None
) -> str:
    """The config.toml text for ``build``.

    ``schema`` is the config ``version``: by default 2 for 1.x and 3 for 2.x (written with single
    quotes, as 2.x writes its own). 1 is the old unversioned schema that Docker's containerd.io
    package ships (``disabled_plugins = ["cri"]``), written for 1.x only. Schemas 2 and 3 reject
    the short ``cri`` ("invalid disabled plugin URI") and need ``io.containerd.grpc.v1.cri``."""
    major, minor = (int(part) for part in build.upstream_version.split(".")[:2])
    if schema is None:
        schema = 3 if major >= 2 else 2
    if schema not in (1, 2, 3) or (schema == 3 and major < 2):
        raise ValueError(f"containerd {build.upstream_version} cannot read config version {schema}")
    if schema == 1 and major >= 2:
        # 2.x migrates a schema 1 file but drops its CRI settings (CNI and CDI paths fall back to
        # the host's /etc), so the lab does not write one.
        raise ValueError("the lab writes config version 1 only for containerd 1.x")
    document = _containerd_document(layout, major=major, minor=minor, schema=schema, cri=cri)
    return _render_toml(document, "'" if schema == 3 else '"')


def start_containerd(
    build: RuntimeBuild,
    host_root: HostRoot,
    *,
    cri: bool = True,
    socket_rel: str = DEFAULT_CONTAINERD_SOCKET,
    config_rel: str = DEFAULT_CONTAINERD_CONFIG,
    runc: RuntimeBuild | None = None,
    state_rel: str | None = None,
    root_rel: str | None = None,
    schema: int | None = None,
    timeout: float = 30.0,
) -> RunningRuntime:
    """Write a config at ``config_rel`` and start containerd serving ``socket_rel``.

    ``cri=False`` disables the CRI plugin, as Docker's own containerd runs. ``schema`` is the
    config version (see :func:`containerd_config`). ``runc`` (the runc build) goes on
    containerd's PATH for the shims; without it, containers can only start if the host has a
    runc. ``state_rel``/``root_rel`` override the directories derived from ``socket_rel``.
    Returns once ``ctr version`` answers."""
    if build.containerd is None or build.ctr is None:
        raise ValueError(f"{build.name} has no containerd binary")
    layout = ContainerdLayout.for_socket(host_root, socket_rel, config_rel, state_rel, root_rel)
    check_socket_path(layout.socket)
    for other in host_root.runtimes():
        if other.alive() and {other.socket, other.config_path, other.state_dir} & {
            layout.socket,
            layout.config,
            layout.state,
        }:
            raise ValueError(f"{other} already uses the socket, config or state of {socket_rel}")
    for directory in (layout.socket.parent, layout.state, layout.root, layout.config.parent):
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    layout.config.write_text(containerd_config(build, layout, cri=cri, schema=schema))
    path_dirs = build.bin_dirs + (runc.bin_dirs if runc is not None else [])
    process = spawn_isolated(
        [str(build.containerd), "--config", str(layout.config), "--log-level", "info"],
        log_path=layout.log,
        path_dirs=path_dirs,
        host_root=host_root,
    )
    runtime = RunningRuntime(
        kind="containerd",
        build=build,
        host_root=host_root,
        socket_rel=socket_rel,
        process=process,
        log_path=layout.log,
        config_path=layout.config,
        cri=cri,
        state_dir=layout.state,
        shim_address=str(layout.socket),
    )
    register_runtime(runtime)
    ctr = [str(build.ctr), "--address", str(layout.socket), "version"]
    wait_until_answering(
        runtime, timeout, lambda: layout.socket.exists() and _command_succeeds(ctr)
    )
    return runtime


def start_dockerd(
    build: RuntimeBuild,
    runc_build: RuntimeBuild,
    containerd_handle: RunningRuntime,
    host_root: HostRoot,
    *,
    socket_rel: str = DEFAULT_DOCKER_SOCKET,
    daemon_json: dict[str, object] | None = None,
    storage_driver: str | None = None,
    timeout: float = 60.0,
) -> RunningRuntime:
    """Start Docker's dockerd on ``containerd_handle`` (normally a containerd with cri=False).

    dockerd always reads ``--config-file``, never the host's /etc/docker/daemon.json: with
    ``daemon_json`` that is ``<root>/etc/docker/daemon.json``, else a private file in the lab
    dir. Either file also gets ``deprecated-key-path`` (a config-file-only setting), or dockerd
    20.10 would write /etc/docker/key.json on the host. ``daemon_json`` must not set what is
    given as a flag (see ``DOCKERD_FLAG_KEYS``). Returns once ``GET /_ping`` answers OK."""
    if build.dockerd is None:
        raise ValueError(f"{build.name} has no dockerd binary")
    if containerd_handle.kind != "containerd" or not containerd_handle.alive():
        raise ValueError(f"{containerd_handle} is not a running containerd")
    if containerd_handle.host_root.path != host_root.path:
        raise ValueError("dockerd and its containerd must run in the same host root")
    conflicts = sorted(set(daemon_json or {}) & DOCKERD_FLAG_KEYS)
    if conflicts:
        raise ValueError(f"daemon_json sets {conflicts}, which start_dockerd passes as flags")
    socket_path = host_root.node_path(socket_rel)
    check_socket_path(socket_path)
    data_root = host_root.node_path("var/lib/docker")
    exec_root = host_root.node_path("run/docker")
    if daemon_json is not None:
        config_file = host_root.node_path("etc/docker/daemon.json")
    else:
        config_file = host_root.lab_dir / "dockerd-daemon.json"
    settings = {
        **(daemon_json or {}),
        "deprecated-key-path": str(host_root.node_path("etc/docker/key.json")),
    }
    config_file.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    config_file.write_text(json.dumps(settings, indent=2) + "\n")
    for directory in (socket_path.parent, data_root, exec_root):
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    log_path = host_root.lab_dir / "dockerd.log"
    command = [
        str(build.dockerd),
        f"--host=unix://{socket_path}",
        f"--containerd={containerd_handle.socket}",
        f"--data-root={data_root}",
        f"--exec-root={exec_root}",
        f"--pidfile={host_root.node_path('run/docker.pid')}",
        f"--config-file={config_file}",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-forward=false",
        "--ip-masq=false",
        "--bridge=none",
        "--userland-proxy=false",
        # Containers get this long to stop on SIGTERM, within RunningRuntime.stop's wait.
        "--shutdown-timeout=2",
        "--log-level=info",
    ]
    if storage_driver is not None:
        command.append(f"--storage-driver={storage_driver}")
    process = spawn_isolated(
        command,
        log_path=log_path,
        path_dirs=runc_build.bin_dirs + build.bin_dirs,
        host_root=host_root,
        join_pid=containerd_handle.pid,
    )
    runtime = RunningRuntime(
        kind="dockerd",
        build=build,
        host_root=host_root,
        socket_rel=socket_rel,
        process=process,
        log_path=log_path,
        config_path=config_file,
        cri=False,
    )
    register_runtime(runtime)
    wait_until_answering(runtime, timeout, lambda: _docker_ping(socket_path))
    return runtime


def docker_api_get(socket_path: Path | str, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """``GET path`` on a Docker Engine API unix socket: (HTTP status, body)."""
    connection = _UnixHTTPConnection(str(socket_path), timeout)
    try:
        connection.request("GET", path, headers={"Host": "docker"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def stop_all() -> None:
    """Stop every runtime this process started and has not stopped yet."""
    with _registry_lock:
        runtimes = list(reversed(_running))
    for runtime in runtimes:
        with contextlib.suppress(Exception):  # a safety net must try every runtime
            runtime.stop()


def running_runtimes() -> list[RunningRuntime]:
    with _registry_lock:
        return list(_running)


# --- containerd configuration ------------------------------------------------------------------

TomlValue = str | bool | int | Path | list[str] | list[Path]
TomlTable = dict[str, "TomlValue | TomlTable"]

# What schema 1 (no `version` key) calls the plugins that schemas 2 and 3 name by URI.
_SCHEMA1_PLUGIN_IDS: dict[str, str] = {
    "io.containerd.internal.v1.opt": "opt",
    "io.containerd.nri.v1.nri": "nri",
    "io.containerd.grpc.v1.cri": "cri",
}


def _containerd_document(
    layout: ContainerdLayout, *, major: int, minor: int, schema: int, cri: bool
) -> TomlTable:
    cri_plugin = "io.containerd.grpc.v1.cri"
    document: TomlTable = {}
    if schema >= 2:
        document["version"] = schema
    document["root"] = layout.root
    document["state"] = layout.state
    if (major, minor) >= (1, 6):
        document["temp"] = layout.temp
    document["disabled_plugins"] = [] if cri else ["cri" if schema == 1 else cri_plugin]
    document["grpc"] = {"address": layout.socket}
    document["ttrpc"] = {"address": Path(f"{layout.socket}.ttrpc")}
    plugins: TomlTable = {"io.containerd.internal.v1.opt": {"path": layout.opt}}
    if (major, minor) >= (1, 7):
        plugins["io.containerd.nri.v1.nri"] = {
            "socket_path": layout.nri_socket,
            "plugin_path": layout.nri_plugins,
            "plugin_config_path": layout.nri_plugin_config,
        }
    if major >= 2 and schema >= 2:
        plugins["io.containerd.image-verifier.v1.bindir"] = {"bin_dir": layout.image_verifier_bin}
    # The CRI tables are written even when the CRI service is disabled: in 2.x its runtime part
    # still loads and would otherwise create /etc/cni/net.d.
    runc_runtime: TomlTable = {
        "runtime_type": "io.containerd.runc.v2",
        "options": {"Root": layout.state / "runc"},
    }
    cri_runtime: TomlTable = {"restrict_oom_score_adj": True}
    if (major, minor) >= (1, 6):
        cri_runtime["netns_mounts_under_state_dir"] = True
    if (major, minor) >= (1, 7):
        cri_runtime["cdi_spec_dirs"] = list(layout.cdi_dirs)
    # Schema 3 moved these settings to the runtime half of the split CRI plugin.
    if schema == 3:
        cri_runtime["cni"] = {"bin_dirs": [layout.cni_bin], "conf_dir": layout.cni_conf}
    else:
        cri_runtime["cni"] = {"bin_dir": layout.cni_bin, "conf_dir": layout.cni_conf}
    cri_runtime["containerd"] = {"runtimes": {"runc": runc_runtime}}
    plugins["io.containerd.cri.v1.runtime" if schema == 3 else cri_plugin] = cri_runtime
    if schema == 1:
        plugins = {_SCHEMA1_PLUGIN_IDS[uri]: table for uri, table in plugins.items()}
    document["plugins"] = plugins
    return document


def _render_toml(document: TomlTable, quote: str) -> str:
    """A small TOML writer for the values used above; ``quote`` is ``"`` or ``'``."""
    lines: list[str] = []
    _render_table(document, [], quote, lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _render_table(table: TomlTable, path: list[str], quote: str, lines: list[str]) -> None:
    depth = len(path)
    if depth:
        header = ".".join(_toml_key(part, quote) for part in path)
        lines += ["", "  " * (depth - 1) + f"[{header}]"]
    indent = "  " * depth
    for key, value in table.items():
        if not isinstance(value, dict):
            lines.append(f"{indent}{_toml_key(key, quote)} = {_toml_value(value, quote)}")
    for key, value in table.items():
        if isinstance(value, dict):
            _render_table(value, [*path, key], quote, lines)


def _toml_key(key: str, quote: str) -> str:
    if key.replace("_", "").replace("-", "").isalnum():
        return key
    return _toml_string(key, quote)


def _toml_value(value: object, quote: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item, quote) for item in value) + "]"
    return _toml_string(str(value), quote)


def _toml_string(text: str, quote: str) -> str:
    if quote == "'" and "'" not in text and "\n" not in text:
        return f"'{text}'"
    return json.dumps(text)  # JSON string escapes are valid TOML basic-string escapes


def _label_for_socket(socket_rel: str) -> str:
    parts = Path(socket_rel).parts
    if parts and parts[0] == "run":
        parts = parts[1:]
    if len(parts) >= 2:
        return "/".join(parts[:-1])
    return Path(parts[0]).stem if parts else "containerd"


# --- processes -----------------------------------------------------------------------------------

_running: list[RunningRuntime] = []
_registry_lock = threading.Lock()
_atexit_registered = False

_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNS = 0x00020000
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 0x40000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def _isolation(
    host_run: bytes, join_pid: int | None, death_signal: int = signal.SIGTERM
) -> Callable[[], None]:
    """What the child runs between fork and exec.

    - ``death_signal`` when the parent thread dies;
    - its own network namespace with loopback up: the CRI streaming server (127.0.0.1, random
      port, cannot be turned off) and 1.4's abstract shim sockets stay off the host's network;
    - its own mount namespace with ``<host root>/run`` bound on ``/run``: paths the daemons
      hard-code (containerd 2.x creates /run/containerd whatever its state dir, shims of 1.5+
      listen in /run/containerd/s, the runc shim defaults to /run/containerd/runc) land in the
      host root, and mounts made for containers vanish with the daemon.

    With ``join_pid`` the child enters that process's namespaces instead: dockerd mounts a
    container's rootfs itself and hands the path to its containerd, so both must share one
    mount namespace.
    """

    def enter() -> None:
        if _libc.prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
        if join_pid is not None:
            for namespace, flag in (("net", _CLONE_NEWNET), ("mnt", _CLONE_NEWNS)):
                descriptor = os.open(f"/proc/{join_pid}/ns/{namespace}", os.O_RDONLY)
                try:
                    if _libc.setns(descriptor, flag) != 0:
                        raise OSError(ctypes.get_errno(), f"setns({namespace} of {join_pid})")
                finally:
                    os.close(descriptor)
            return
        if _libc.unshare(_CLONE_NEWNET | _CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET|CLONE_NEWNS)")
        if _libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
            raise OSError(ctypes.get_errno(), "mount --make-rprivate /")
        if _libc.mount(host_run, b"/run", None, _MS_BIND | _MS_REC, None) != 0:
            raise OSError(ctypes.get_errno(), "mount --rbind <host root>/run /run")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as control:
            request = struct.pack("16sH22x", b"lo", 0)
            flags = struct.unpack("16sH22x", fcntl.ioctl(control, _SIOCGIFFLAGS, request))[1]
            fcntl.ioctl(control, _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))

    return enter


def spawn_isolated(
    command: list[str],
    *,
    log_path: Path,
    host_root: HostRoot,
    path_dirs: Sequence[Path] = (),
    join_pid: int | None = None,
    death_signal: int = signal.SIGTERM,
) -> subprocess.Popen[bytes]:
    """Start a lab daemon: in a new session, output appended to ``log_path``, with ``path_dirs``
    leading its PATH, in namespaces of its own (or those of ``join_pid``; see ``_isolation``),
    and sent ``death_signal`` when the calling thread dies. Root only."""
    if os.geteuid() != 0:
        raise RuntimeStartError("the lab runtimes need root (namespaces, mounts, runc)")
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "DOCKER_HOST")
        and not key.startswith("CONTAINERD_")
    }
    system_path = environment.get("PATH") or "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"
    environment["PATH"] = os.pathsep.join([*(str(d) for d in path_dirs), system_path])
    log_path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        try:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
                cwd="/",
                start_new_session=True,
                preexec_fn=_isolation(
                    os.fsencode(host_root.node_path("run")), join_pid, death_signal
                ),
            )
        except subprocess.SubprocessError as error:
            raise RuntimeStartError(f"could not isolate {command[0]}: {error}") from error


def register_runtime(runtime: RunningRuntime) -> None:
    """Track ``runtime`` for :func:`running_runtimes`, :meth:`HostRoot.cleanup` and the atexit
    :func:`stop_all`."""
    global _atexit_registered
    with _registry_lock:
        _running.append(runtime)
        if not _atexit_registered:
            atexit.register(stop_all)
            _atexit_registered = True


def wait_until_answering(
    runtime: RunningRuntime, timeout: float, ready: Callable[[], bool]
) -> None:
    """Poll ``ready`` until it is true. If the daemon exits first or ``timeout`` seconds pass,
    stop it and raise :class:`RuntimeStartError` with its log tail."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        if runtime.process.poll() is not None:
            runtime.stop()
            raise RuntimeStartError(
                f"{runtime.kind} {runtime.version} exited with {runtime.process.returncode}"
                f" before answering on {runtime.socket}; log {runtime.log_path}:\n"
                + runtime.log_tail()
            )
        if ready():
            return
        if time.monotonic() > deadline:
            runtime.stop()
            raise RuntimeStartError(
                f"{runtime.kind} {runtime.version} did not answer on {runtime.socket} within"
                f" {timeout:.0f}s; log {runtime.log_path}:\n" + runtime.log_tail()
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def _command_succeeds(command: list[str]) -> bool:
    try:
        completed = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=5,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return completed.returncode == 0


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = socket_path

    def connect(self) -> None:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(self.timeout)
        try:
            connection.connect(self._socket_path)
        except OSError:
            connection.close()
            raise
        self.sock = connection


def _docker_ping(socket_path: Path) -> bool:
    try:
        status, body = docker_api_get(socket_path, "/_ping", timeout=2.0)
    except OSError:
        return False
    return status == 200 and body.strip() == b"OK"


def _kill_shims(address: str) -> None:
    """SIGKILL the shims serving a containerd at ``address`` and their containers' processes."""
    shims = [pid for pid, argv in _processes() if _is_shim_of(argv, address)]
    if not shims:
        return
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        parent = _parent_pid(pid)
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    victims: list[int] = []
    pending = list(shims)
    while pending:
        pid = pending.pop()
        victims.append(pid)
        pending.extend(children.get(pid, []))
    for pid in reversed(victims):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _is_shim_of(argv: list[str], address: str) -> bool:
    if not argv or "containerd-shim" not in os.path.basename(argv[0]):
        return False
    return any(
        argument == address and index > 0 and argv[index - 1] in ("-address", "--address")
        for index, argument in enumerate(argv)
    )


def _all_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _processes() -> list[tuple[int, list[str]]]:
    found = []
    for pid in _all_pids():
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        found.append((pid, [part.decode(errors="replace") for part in raw.split(b"\0") if part]))
    return found


def _parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _unmount_beneath(path: Path) -> None:
    prefix = str(path) + "/"
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return
    mount_points = [line.split()[4] for line in mountinfo if line.split()[4].startswith(prefix)]
    for mount_point in sorted(mount_points, key=len, reverse=True):
        subprocess.run(["umount", "-l", mount_point], check=False, capture_output=True)


def check_socket_path(path: Path) -> None:
    """Refuse a unix socket path too long for ``sun_path``."""
    if len(os.fsencode(path)) > UNIX_PATH_MAX:
        raise ValueError(f"socket path {path} is longer than {UNIX_PATH_MAX} bytes")
