"""Poll until something holds: the one waiting loop of the lab, its tests and the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(RuntimeError):
    """``wait_until`` gave up: the message says how long it waited and for what."""


def wait_until(
    what: str, probe: Callable[[], T | None], timeout: float = 60.0, *, interval: float = 0.2
) -> T:
    """Call ``probe`` every ``interval`` seconds until it returns something truthy, and return
    that. When it is still falsy after ``timeout`` seconds (it is always called at least once),
    raise :class:`WaitTimeout` naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
