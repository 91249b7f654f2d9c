"""Run a real kruise-daemon against a lab node's runtimes and record what it did.

Outside a pod the daemon needs what its DaemonSet gives it: the node's ``/var/run`` at the fixed
path ``/hostvarrun`` (a private mount namespace bind-mounts the node's ``run/`` there, so runs
for different nodes never see each other's sockets), ``NODE_NAME`` and a kubeconfig (1.5.5 and
1.6.0 reach the API server before they look for a runtime), and free ports (``--addr`` on an
ephemeral loopback port, pprof off). It is given the chart's flags otherwise.

A run ends when the daemon exits (crash: exit code and log kept) or when it has added its
runtimes and stayed up for ``settle`` seconds (it runs: the runtimes it added are kept).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

HOST_VAR_RUN = Path("/hostvarrun")
# "Add runtime impl containerd, URI: (, unix:///hostvarrun/containerd/containerd.sock)"
RUNTIME_ADDED = re.compile(
    r"Add runtime impl (?P<name>\S+), URI: \((?P<engine>[^,]*), (?P<cri>[^)]*)\)"
)
FATAL_LINE = re.compile(r"^F\d{4} [\d:.]+\s+\d+ \S+\] (?P<message>.*)$", re.MULTILINE)
PANIC_LINE = re.compile(r"^panic: (?P<message>.*)$", re.MULTILINE)


@dataclass(frozen=True)
class DaemonRun:
    """What one real kruise-daemon did on one node."""

    node: str
    version: str
    exit_code: int | None  # None: it was still running when the run ended
    runtimes: tuple[tuple[str, str], ...]  # (runtime name, CRI socket as the node names it)
    log: str

    @property
    def starts(self) -> bool:
        return self.exit_code is None

    @property
    def crash_kind(self) -> str | None:
        """``panic`` (a Go panic, exit 2), ``fatal`` (klog.Fatal, exit 255), another exit, or
        None while it runs."""
        if self.exit_code is None:
            return None
        if PANIC_LINE.search(self.log):
            return "panic"
        if FATAL_LINE.search(self.log):
            return "fatal"
        return f"exit {self.exit_code}"

    @property
    def crash_message(self) -> str | None:
        """The line that says why it stopped: the fatal message or the panic."""
        match = FATAL_LINE.search(self.log) or PANIC_LINE.search(self.log)
        return match.group("message") if match else None


def node_socket(uri: str) -> str:
    """``unix:///hostvarrun/containerd/containerd.sock`` -> ``/var/run/containerd/containerd.sock``."""
    path = uri.removeprefix("unix://")
    prefix = f"{HOST_VAR_RUN}/"
    return "/var/run/" + path[len(prefix) :] if path.startswith(prefix) else path


def parse_runtimes(log: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (match.group("name"), node_socket(match.group("cri")))
        for match in RUNTIME_ADDED.finditer(log)
    )


def run_kruise_daemon(
    binary: Path,
    *,
    version: str,
    node: str,
    var_run: Path,
    kubeconfig: Path,
    log_path: Path,
    settle: float = 5.0,
    timeout: float = 60.0,
    node_init_pid: int | None = None,
) -> DaemonRun:
    """Run ``binary`` as node ``node`` whose ``/var/run`` is the host directory ``var_run``.

    With ``node_init_pid`` (a booted node's init) the daemon runs in that node's mount namespace,
    as its pod would see the node's files: ``var_run``, ``binary`` and ``kubeconfig`` are then
    paths inside the node (a mount of another namespace cannot be bound into ours)."""
    created = False
    enter: list[str] = []
    if node_init_pid is None:
        created = not HOST_VAR_RUN.exists()
        HOST_VAR_RUN.mkdir(mode=0o755, exist_ok=True)
    else:
        enter = ["nsenter", "-t", str(node_init_pid), "-m", "--"]
    command = [
        *enter,
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        'mkdir -p /hostvarrun && mount --bind "$1" /hostvarrun && shift && exec "$@"',
        "sh",
        str(var_run),
        str(binary),
        f"--kubeconfig={kubeconfig}",
        "--logtostderr=true",
        "--v=4",
        "--addr=127.0.0.1:0",
        "--enable-pprof=false",
        "--socket-file=",
    ]
    try:
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "NODE_NAME": node},
                start_new_session=True,
            )
            exit_code = _watch(process, log_path, settle, timeout)
    finally:
        if created:
            _remove_mount_point()
    text = log_path.read_text(errors="replace")
    return DaemonRun(node, version, exit_code, parse_runtimes(text), text)


def _watch(
    process: subprocess.Popen[bytes], log_path: Path, settle: float, timeout: float
) -> int | None:
    deadline = time.monotonic() + timeout
    started_at: float | None = None
    try:
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                return code
            if started_at is None and RUNTIME_ADDED.search(log_path.read_text(errors="replace")):
                started_at = time.monotonic()
            if started_at is not None and time.monotonic() - started_at >= settle:
                return None
            time.sleep(0.2)
        raise TimeoutError(
            f"kruise-daemon neither exited nor added a runtime within {timeout:.0f} s; log {log_path}"
        )
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _remove_mount_point() -> None:
    # Not empty, or someone else's: not ours to remove.
    with contextlib.suppress(OSError):
        HOST_VAR_RUN.rmdir()
