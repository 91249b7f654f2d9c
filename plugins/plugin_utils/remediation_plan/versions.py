"""Runtime and kubelet version numbers as the planner compares them (OpenKruise's own are read
by module_utils/openkruise/releases)."""

from __future__ import annotations

import re

_MAJOR_MINOR_RE = re.compile(r"^v?(\d+)\.(\d+)")


def major_minor(version: str | None) -> tuple[int, int] | None:
    """``"v1.23.17"`` -> (1, 23); None when the text does not start with X.Y."""
    match = _MAJOR_MINOR_RE.match(version.strip()) if version else None
    return (int(match.group(1)), int(match.group(2))) if match else None


def bare_version(version: str | None) -> str | None:
    """``"v1.7.24"`` -> ``"1.7.24"``; anything else as it is."""
    return version[1:] if version and version[:1] == "v" and version[1:2].isdigit() else version
