"""What the benchmarks share: this checkout on sys.path, clean-up on signals and ending process
groups."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
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


def end_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the group led by ``process`` (started with a new session), SIGKILL after 10 s."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue
