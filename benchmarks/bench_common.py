"""What the benchmarks share: this checkout on sys.path, clean-up on signals and ending process
groups."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS_PATH = REPO_ROOT / ".collections"


def use_this_checkout() -> None:
    """Import ``kruise_cri`` and ``ansible_collections.kruise_cri.remediation`` from this
    repository: a benchmark runs as a script, from any folder."""
    for path in (REPO_ROOT, COLLECTIONS_PATH):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind like Ctrl-C, so the clean-up below always runs."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def process_group_members(pgid: int) -> list[int]:
    """Pids of the live (not zombie) processes in process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name: state, ppid, pgrp, ...
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            members.append(int(entry.name))
    return members


def end_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the group led by ``process`` (started with a new session), SIGKILL after 10 s.

    Returns once every member is gone, not only the leader: Ansible's workers and the modules
    they run outlive ansible-playbook by a moment after a signal."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            process.poll()
            if process.returncode is not None and not process_group_members(process.pid):
                return
            time.sleep(0.05)
