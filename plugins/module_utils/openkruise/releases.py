"""OpenKruise's release lines as kruise-cri models them, the bridge release, and version parsing.

The one place that says which lines exist (1.4 to 1.8, read from OpenKruise's sources per tag; see
docs/kruise-daemon-model.md), which release is the bridge (the last 1.5, the only line whose
kruise-daemon speaks both CRI v1alpha2 and CRI v1), and how a version or image tag is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LINES = ("1.4", "1.5", "1.6", "1.7", "1.8")
BRIDGE_LINE = "1.5"
BRIDGE_RELEASE = "1.5.5"
BRIDGE_RELEASE_DATE = "2024-09-19"

# v?MAJOR.MINOR[.PATCH] with an optional -prerelease or +build suffix, as release tags are written.
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?([-+][0-9A-Za-z.+-]*)?$")


@dataclass(frozen=True)
class KruiseVersion:
    major: int
    minor: int
    patch: int | None
    suffix: str  # "" or the tag's "-rc.1" / "+build" part

    @property
    def line(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def release(self) -> str:
        """``1.6`` or ``1.6.3``: the numbers, without a leading v or a suffix."""
        return self.line if self.patch is None else f"{self.line}.{self.patch}"


def parse_version(text: object) -> KruiseVersion | None:
    """``"v1.6.3"`` -> KruiseVersion(1, 6, 3, ""); None when *text* is not a version (spaces
    included: callers that accept them strip first)."""
    match = _VERSION.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    major, minor, patch, suffix = match.groups()
    return KruiseVersion(int(major), int(minor), int(patch) if patch else None, suffix or "")


def line_key(line: str) -> tuple[int, ...]:
    """Sort key of a ``"1.10"``-style line: by number, so 1.10 comes after 1.9."""
    return tuple(int(part) for part in line.split("."))


def line_of(version: str | None) -> str | None:
    """``"1.6.3"`` -> ``"1.6"``; None for None or anything that is not a version."""
    parsed = parse_version(version)
    return parsed.line if parsed else None


def version_from_image(image: str | None) -> str | None:
    """``openkruise/kruise-manager:v1.6.3`` -> ``1.6.3``; None for digests and tags that are not
    a full MAJOR.MINOR.PATCH release (a suffix such as ``-rc1`` is dropped)."""
    if not image:
        return None
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    parsed = parse_version(last.rsplit(":", 1)[1])
    if parsed is None or parsed.patch is None:
        return None
    return parsed.release
