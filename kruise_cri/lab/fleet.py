"""The built-in lab: a small fleet of nodes, each a host root with real runtimes and kubelet files.

The nodes are defined in :mod:`kruise_cri.lab.nodes`; this module starts them, for the tests and for
`kruise-cri lab up`, and registers them with the lab's cluster. A lab started by the CLI lives
in a supervisor process (`python -m kruise_cri.lab.fleet serve DIR`) that holds the runtimes and
stops them on SIGTERM; `lab down` sends that signal.

The lab runs as root and trusts its directory (see :mod:`kruise_cri.lab.lab_dir`), and a PID in
``lab.json`` counts as the supervisor only while that process is really it: ours, with the
supervisor's command line for this directory and the start time the supervisor recorded.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import yaml

from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.dockershim_build import ensure_dockershim, start_dockershim
from kruise_cri.lab.gotools import ensure_go_tool
from kruise_cri.lab.kubernetes_build import ensure_control_plane, ensure_kubernetes_binary
from kruise_cri.lab.lab_cluster import (
    PIN_KRUISE_VERSION,
    kubelet_runtime_version,
    seed_lab_cluster,
)
from kruise_cri.lab.lab_dir import (
    LabDirError,
    check_private_file,
    private_lab_dir,
    read_private_file,
)
from kruise_cri.lab.nodes import NODES, NodeSpec, builds_needed
from kruise_cri.lab.packages import RuntimeBuild, cache_root, ensure_runtime, ensure_runtimes
from kruise_cri.lab.real_nodes import (
    RealNodes,
    parse_kinds,
    prepare_real_nodes,
    real_node_name,
)
from kruise_cri.lab.runtimes import HostRoot, RunningRuntime, start_containerd, start_dockerd

STATE_FILE = "lab.json"
# The real node kinds `lab up --nodes` asked for, read by the supervisor.
REAL_NODES_FILE = "real-nodes.json"
REAL_NODES_DIR = "real-nodes"
INVENTORY_FILE = "inventory.yml"
CLUSTER_DIR = "cluster"
CHARTS_DIR = "charts"  # the kruise charts a real-node lab installs and pins to
SUPERVISOR_LOG = "supervisor.log"
START_TIMEOUT = 300.0
STOP_TIMEOUT = 60.0
SUPERVISOR_MODULE = "kruise_cri.lab.fleet"
PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


def write_node_files(host_root: HostRoot, files: dict[str, str]) -> None:
    for node_path, content in files.items():
        target = host_root.node_path(node_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)


def start_node(
    spec: NodeSpec,
    host_root: HostRoot,
    builds: dict[str, RuntimeBuild],
    dockershim: Path | None = None,
) -> list[RunningRuntime]:
    """Lay out ``spec`` in ``host_root`` and start its runtimes; stops them again on failure."""
    write_node_files(host_root, spec.files)
    started: list[RunningRuntime] = []
    try:
        for index, containerd in enumerate(spec.containerds):
            config_rel = (
                "etc/containerd/config.toml"
                if index == 0
                else f"etc/containerd/{Path(containerd.socket).stem}.toml"
            )
            started.append(
                start_containerd(
                    builds[containerd.build],
                    host_root,
                    cri=containerd.cri,
                    socket_rel=containerd.socket.lstrip("/"),
                    config_rel=config_rel,
                    runc=builds.get("runc"),
                )
            )
        if spec.with_docker:
            started.append(
                start_dockerd(
                    builds["docker"],
                    builds["runc"],
                    started[0],
                    host_root,
                    daemon_json=spec.docker_daemon_json,
                )
            )
        if spec.with_dockershim:
            if dockershim is None:
                raise ValueError(f"{spec.name} needs the dockershim binary")
            started.append(start_dockershim(dockershim, started[-1], host_root))
    except BaseException:
        for runtime in reversed(started):
            runtime.stop()
        raise
    return started


def node_python(version: str | None = None, cache: Path | None = None) -> Path:
    """A bare Python 3 with no third-party packages: what a production node has.

    ``version`` ("3.6", "3.8") picks that CPython from pyenv, for the oldest nodes a controller
    supports; by default the controller's own Python is used.
    """
    if version is None:
        base = Path(sys.executable)
        root = (cache or cache_root()) / "node-python"
    else:
        found = sorted(PYENV_VERSIONS.glob(f"{version}.*/bin/python{version}"))
        if not found:
            raise FileNotFoundError(
                f"no CPython {version} under {PYENV_VERSIONS}; node-side tests need the oldest "
                "Python the controller manages (pyenv install a {version}.x)"
            )
        base = found[-1]
        root = (cache or cache_root()) / f"node-python-{version}"
    python = root / "bin" / "python3"
    if not python.exists():
        subprocess.run(
            [str(base), "-m", "venv", "--without-pip", "--clear", str(root)],
            check=True,
            capture_output=True,
        )
    return python


def inventory_for(nodes: dict[str, HostRoot], python: Path) -> dict[str, object]:
    return {
        "all": {
            "children": {
                "kube_nodes": {
                    "hosts": {
                        name: {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": str(python),
                            "kruise_cri_become": False,  # the lab runs as root already
                            "kruise_cri_host_root": str(root.path),
                        }
                        for name, root in nodes.items()
                    }
                }
            }
        }
    }


def prepare_cluster() -> dict[str, Path]:
    """Fetch and build everything the lab's cluster runs; the binaries by name."""
    binaries = dict(ensure_control_plane())
    binaries["kubectl"] = ensure_kubernetes_binary("kubectl")
    etcd = ensure_runtime("etcd").etcd
    if etcd is None:
        raise RuntimeError("Debian's etcd-server package has no usr/bin/etcd")
    binaries["etcd"] = etcd
    for tool in ("kwok", "helm", "crictl"):
        binaries[tool] = ensure_go_tool(tool)
    return binaries


def prepare(specs: Iterable[NodeSpec] = NODES, *, stream: TextIO | None = None) -> None:
    """Fetch the runtimes and build dockershim now, so a first start takes seconds."""
    specs = list(specs)
    names = builds_needed(specs)
    if stream:
        stream.write(f"Preparing the lab: {', '.join(names)}\n")
        stream.flush()
    ensure_runtimes(names)
    if any(spec.with_dockershim for spec in specs):
        if stream:
            stream.write("Building dockershim (Kubernetes 1.23) if not cached: minutes, once\n")
            stream.flush()
        ensure_dockershim()
    if stream:
        stream.write(
            "Building the control plane (Kubernetes, kwok, helm) if not cached: minutes, once\n"
        )
        stream.flush()
    prepare_cluster()


class RunningFleet:
    """Nodes started in this process (tests use it directly; the lab supervisor holds one)."""

    def __init__(self, specs: Iterable[NodeSpec] = NODES, *, progress: TextIO | None = None):
        self.specs = {spec.name: spec for spec in specs}
        self.roots: dict[str, HostRoot] = {}
        self.runtimes: dict[str, list[RunningRuntime]] = {}
        self.progress = progress

    def start(self) -> RunningFleet:
        builds = ensure_runtimes(builds_needed(self.specs.values()))
        needs_dockershim = any(spec.with_dockershim for spec in self.specs.values())
        dockershim = ensure_dockershim() if needs_dockershim else None
        try:
            for index, spec in enumerate(self.specs.values(), 1):
                if self.progress:
                    self.progress.write(f"  [{index}/{len(self.specs)}] starting {spec.name}\n")
                    self.progress.flush()
                root = HostRoot()
                self.roots[spec.name] = root
                self.runtimes[spec.name] = start_node(spec, root, builds, dockershim)
        except BaseException:
            self.stop()
            raise
        return self

    def runtime_versions(self) -> dict[str, str]:
        """What each node's kubelet reports as containerRuntimeVersion."""
        return {
            name: kubelet_runtime_version(self.specs[name], runtimes)
            for name, runtimes in self.runtimes.items()
        }

    def stop(self) -> None:
        for root in reversed(list(self.roots.values())):
            root.cleanup()
        self.roots.clear()
        self.runtimes.clear()

    def __enter__(self) -> RunningFleet:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class LabFleet:
    """A lab run by a supervisor process, described by ``DIR/lab.json``."""

    def __init__(self, lab_dir: Path, state: dict[str, object], started_here: bool) -> None:
        self.lab_dir = lab_dir
        self.state = state
        self.started_here = started_here

    @property
    def inventory_path(self) -> Path:
        return self.lab_dir / INVENTORY_FILE

    @property
    def kubeconfig_path(self) -> Path:
        return Path(str(self.state["kubeconfig"]))

    @property
    def kubernetes_version(self) -> str:
        cluster = self.state.get("cluster")
        return str(cluster["kubernetes_version"]) if isinstance(cluster, dict) else "unknown"

    @property
    def pin_chart(self) -> str | None:
        """The OpenKruise 1.5.5 chart to pin to, where OpenKruise really runs (real nodes)."""
        chart = self.state.get("pin_chart")
        return str(chart) if chart else None

    @property
    def node_count(self) -> int:
        nodes = self.state.get("nodes") or {}
        real_nodes = self.state.get("real_nodes") or {}
        return len(nodes) + len(real_nodes)  # type: ignore[arg-type]

    @staticmethod
    def status(lab_dir: Path) -> dict[str, object]:
        """The lab's state; ``up`` only while lab.json's supervisor is really running.
        Raises LabDirError when the directory is not private."""
        lab_dir = private_lab_dir(lab_dir, create=False)
        state_path = lab_dir / STATE_FILE
        if not os.path.lexists(state_path):
            return {"up": False, "lab_dir": str(lab_dir)}
        try:
            state = json.loads(read_private_file(state_path))
        except ValueError:
            state = None
        supervisor = SupervisorRecord.from_state(state)
        if not isinstance(state, dict) or supervisor is None:
            return {"up": False, "lab_dir": str(lab_dir), "stale": f"{state_path} is not lab state"}
        state["up"] = supervisor.is_running(lab_dir)
        if not state["up"]:
            state["stale"] = (
                f"{state_path} names supervisor PID {supervisor.pid}, which is not this lab's "
                "supervisor any more"
            )
        return state

    @classmethod
    def ensure_up(
        cls, lab_dir: Path, *, stream: TextIO, real_nodes: Sequence[str] = ()
    ) -> LabFleet:
        """The running lab, or a new one with the host-root fleet and ``real_nodes`` (kinds of
        :data:`~kruise_cri.lab.real_nodes.REAL_NODE_KINDS`) booted beside it."""
        lab_dir = private_lab_dir(lab_dir, create=True)
        current = cls.status(lab_dir)
        if current.get("up"):
            check_private_file(lab_dir / INVENTORY_FILE)
            running = sorted(current.get("real_nodes") or {})  # type: ignore[arg-type]
            wanted = sorted(real_node_name(kind) for kind in real_nodes)
            if real_nodes and running != wanted:
                raise RuntimeError(
                    f"the lab in {lab_dir} runs real nodes {running or 'none'}, not {wanted}: "
                    "`kruise-cri lab down` first"
                )
            stream.write(f"Using the lab already running in {lab_dir}\n")
            return cls(lab_dir, current, started_here=False)
        (lab_dir / STATE_FILE).unlink(missing_ok=True)
        _write_private(lab_dir / REAL_NODES_FILE, json.dumps(list(real_nodes)))
        # Fetching and building happen here, in the foreground with progress and no deadline;
        # the supervisor then only starts daemons.
        prepare(stream=stream)
        prepare_real_nodes(real_nodes, stream=stream)
        stream.write(f"Starting the lab in {lab_dir}\n")
        stream.flush()
        log_path = lab_dir / SUPERVISOR_LOG
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(log_fd, "w") as log:
            supervisor = subprocess.Popen(
                supervisor_command(lab_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        shown = 0
        while time.monotonic() < deadline:
            lines = log_path.read_text().splitlines()
            for line in lines[shown:]:
                stream.write(line + "\n")
            shown = len(lines)
            stream.flush()
            state = cls.status(lab_dir)
            if state.get("up") and state.get("supervisor_pid") == supervisor.pid:
                return cls(lab_dir, state, started_here=True)
            if supervisor.poll() is not None:
                raise RuntimeError(
                    f"the lab did not start (exit code {supervisor.returncode}); see {log_path}"
                )
            time.sleep(0.2)
        supervisor.terminate()
        raise RuntimeError(f"the lab did not start within {START_TIMEOUT:.0f} s")

    @staticmethod
    def stop_dir(lab_dir: Path, *, stream: TextIO) -> None:
        """Stop the lab's supervisor; signals nothing unless lab.json names the real one."""
        lab_dir = private_lab_dir(lab_dir, create=False)
        state = LabFleet.status(lab_dir)
        if not state.get("up"):
            if state.get("stale"):
                (lab_dir / STATE_FILE).unlink(missing_ok=True)
                stream.write(
                    f"No lab is running in {lab_dir}; removed its stale {STATE_FILE} "
                    f"({state['stale']})\n"
                )
            else:
                stream.write(f"No lab is running in {lab_dir}\n")
            return
        supervisor = SupervisorRecord.from_state(state)
        assert supervisor is not None  # status said up
        supervisor.stop(lab_dir, timeout=STOP_TIMEOUT)
        (lab_dir / STATE_FILE).unlink(missing_ok=True)
        stream.write(f"Lab in {lab_dir} stopped\n")

    def down(self, *, stream: TextIO) -> None:
        self.stop_dir(self.lab_dir, stream=stream)


def requested_real_nodes(lab_dir: Path) -> list[str]:
    try:
        kinds = json.loads(read_private_file(lab_dir / REAL_NODES_FILE))
    except FileNotFoundError:
        return []
    return parse_kinds(",".join(kinds)) if kinds else []


def supervisor_command(lab_dir: Path) -> list[str]:
    return [sys.executable, "-m", SUPERVISOR_MODULE, "serve", str(lab_dir)]


def process_start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot, /proc/PID/stat field 22); None when it is
    gone or a zombie. A PID is reused; a PID with its start time is not."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rpartition(b")")[2].split()
    except OSError:
        return None
    if not fields or fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class SupervisorRecord:
    """The supervisor as lab.json records it: its PID and start time."""

    pid: int
    start_time: int

    @classmethod
    def from_state(cls, state: object) -> SupervisorRecord | None:
        if not isinstance(state, dict):
            return None
        pid, start_time = state.get("supervisor_pid"), state.get("supervisor_start_time")
        if not (_is_int(pid) and _is_int(start_time)) or pid <= 0:
            return None
        return cls(pid, start_time)

    def is_running(self, lab_dir: Path) -> bool:
        """True when the process is this record's: same start time, owned by us, running
        ``python -m kruise_cri.lab.fleet serve LAB_DIR``."""
        proc = Path(f"/proc/{self.pid}")
        try:
            owner = proc.stat().st_uid
            arguments = [os.fsdecode(a) for a in (proc / "cmdline").read_bytes().split(b"\0")]
        except OSError:
            return False
        if arguments and arguments[-1] == "":
            arguments.pop()
        return (
            owner == os.geteuid()
            and process_start_time(self.pid) == self.start_time
            and len(arguments) == 5
            and Path(arguments[0]).name.startswith("python")
            and arguments[1:] == supervisor_command(lab_dir)[1:]
        )

    def stop(self, lab_dir: Path, *, timeout: float) -> None:
        """SIGTERM, then SIGKILL after ``timeout``, through a pidfd opened before the identity
        check, so a PID reused meanwhile is never signalled."""
        try:
            pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            return
        except OSError as error:  # a kernel without pidfd_open (before 5.3)
            if error.errno != errno.ENOSYS:
                raise
            self._stop_by_pid(lab_dir, timeout)
            return
        try:
            if not self.is_running(lab_dir):
                return
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(pidfd, signal.SIGTERM)
            exited = select.select([pidfd], [], [], timeout)[0]
            if not exited:
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                select.select([pidfd], [], [], 10)
        finally:
            os.close(pidfd)

    def _stop_by_pid(self, lab_dir: Path, timeout: float) -> None:
        for signum, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            if not self.is_running(lab_dir):
                return
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)
            deadline = time.monotonic() + wait
            while self.is_running(lab_dir) and time.monotonic() < deadline:
                time.sleep(0.1)


def serve(lab_dir: Path) -> None:
    """Supervisor: start the fleet, publish the inventory and state, hold until SIGTERM."""
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    lab_dir = private_lab_dir(lab_dir, create=False)
    if not lab_dir.is_dir():
        raise LabDirError(f"lab directory {lab_dir} does not exist; start the lab with lab up")
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    fleet = RunningFleet(progress=sys.stdout)
    # With real nodes the cluster is theirs: a control plane their v1.23 kubelets may join, on
    # the lab network; the host-root fleet's kwok nodes join it too.
    real_nodes = RealNodes(
        requested_real_nodes(lab_dir),
        lab_dir / REAL_NODES_DIR,
        progress=sys.stdout,
        plane_directory=lab_dir / CLUSTER_DIR,
        with_kwok=True,
    )
    plane = ControlPlane(directory=lab_dir / CLUSTER_DIR, progress=sys.stdout)
    try:
        fleet.start()
        if real_nodes.kinds:
            real_nodes.start()
            assert real_nodes.plane is not None
            plane = real_nodes.plane
        else:
            plane.start()
        specs = {**fleet.specs, **real_nodes.specs()}
        seed_lab_cluster(
            plane,
            specs,
            fleet.runtime_versions(),
            real_nodes=list(real_nodes.specs()),
            charts_directory=lab_dir / CHARTS_DIR,
            progress=sys.stdout,
        )
        python = node_python()
        inventory = inventory_for(fleet.roots, python)
        inventory["all"]["children"]["kube_nodes"]["hosts"].update(real_nodes.inventory_hosts())
        state = {
            "supervisor_pid": os.getpid(),
            "supervisor_start_time": process_start_time(os.getpid()),
            "lab_dir": str(lab_dir),
            "inventory": str(lab_dir / INVENTORY_FILE),
            "kubeconfig": str(plane.kubeconfig),
            "cluster": plane.state(),
            "nodes": {
                name: {
                    "host_root": str(fleet.roots[name].path),
                    "description": fleet.specs[name].description,
                    "runtimes": [repr(runtime) for runtime in fleet.runtimes[name]],
                }
                for name in fleet.roots
            },
            "registry": real_nodes.registry.host if real_nodes.registry else None,
            # The chart pin_kruise takes (kruise_cri_chart_ref) where OpenKruise really runs.
            "pin_chart": (
                str(lab_dir / CHARTS_DIR / f"kruise-{PIN_KRUISE_VERSION}.tgz")
                if real_nodes.kinds
                else None
            ),
            "real_nodes": {
                node.name: {
                    "address": node.address,
                    "machine": node.machine,
                    "description": node.spec.description,
                    "memory_bytes": node.memory_bytes(),
                }
                for node in real_nodes.nodes.values()
            },
        }
        _write_private(lab_dir / INVENTORY_FILE, yaml.safe_dump(inventory, sort_keys=False))
        _write_private(lab_dir / STATE_FILE, json.dumps(state, indent=2))
        print(
            f"lab up: {len(fleet.roots)} host-root nodes, {len(real_nodes.nodes)} real nodes, "
            f"cluster at {plane.server}",
            flush=True,
        )
        while not stop_requested:
            time.sleep(0.2)
    finally:
        plane.stop()
        shutil.rmtree(lab_dir / CLUSTER_DIR, ignore_errors=True)
        shutil.rmtree(lab_dir / CHARTS_DIR, ignore_errors=True)
        real_nodes.stop()
        fleet.stop()
        (lab_dir / STATE_FILE).unlink(missing_ok=True)
        print("lab stopped", flush=True)


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with a new file only we can read (never through a symlink)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    temporary.replace(path)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "serve":
        sys.exit("usage: python -m kruise_cri.lab.fleet serve LAB_DIR")
    serve(Path(sys.argv[2]))
