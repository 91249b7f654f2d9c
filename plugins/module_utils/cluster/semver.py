"""Semantic versions and chart ``kubeVersion`` constraints, read as helm reads them (Masterminds
semver v3): :func:`satisfies` says whether an API server's version meets a chart's constraint."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class ConstraintError(ValueError):
    """A kubeVersion constraint that cannot be read."""


_VERSION_RE = re.compile(
    r"^v?(?P<major>0|[1-9]\d*|[xX*])"
    r"(?:\.(?P<minor>\d+|[xX*]))?"
    r"(?:\.(?P<patch>\d+|[xX*]))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?"
    r"(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)
_COMPARATOR_RE = re.compile(
    r"\s*(?P<op>!=|>=|=>|<=|=<|~>|>|<|=|~|\^)?\s*"
    r"(?P<version>v?[0-9xX*]+(?:\.[0-9xX*]+){0,2}(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)"
    r"\s*,?"
)


@dataclass(frozen=True, order=False)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    def key(self) -> tuple[Any, ...]:
        # A release sorts after its prereleases; numeric identifiers sort before alphanumeric.
        pre: tuple[Any, ...] = tuple(
            (0, int(part), "") if part.isdigit() else (1, 0, part) for part in self.prerelease
        )
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        return text + ("-" + ".".join(self.prerelease) if self.prerelease else "")


def parse_version(text: str) -> Version:
    """A full version (``v1.37.2``, ``1.28.3-eks-1``); raises ValueError otherwise."""
    match = _VERSION_RE.match(str(text).strip())
    if not match or any(
        (match.group(part) or "0") in ("x", "X", "*") for part in ("major", "minor", "patch")
    ):
        raise ValueError(f"{text!r} is not a version")
    pre = tuple(match.group("pre").split(".")) if match.group("pre") else ()
    return Version(
        int(match.group("major")),
        int(match.group("minor") or 0),
        int(match.group("patch") or 0),
        pre,
    )


def _bound(text: str) -> tuple[Version, int]:
    """The version a comparator names, and how many leading parts were given as numbers
    (``1.2`` or ``1.2.x`` -> 2)."""
    match = _VERSION_RE.match(text)
    if not match:
        raise ConstraintError(f"{text!r} is not a version")
    parts = [match.group("major"), match.group("minor"), match.group("patch")]
    given = 0
    for part in parts:
        if part is None or part in ("x", "X", "*"):
            break
        given += 1
    numbers = [int(part) if part and part.isdigit() else 0 for part in parts]
    pre = tuple(match.group("pre").split(".")) if match.group("pre") else ()
    return Version(numbers[0], numbers[1], numbers[2], pre), given


def _bump(version: Version, index: int) -> Version:
    """The next version at part ``index`` (0 major, 1 minor, 2 patch), lower parts zeroed."""
    parts = [version.major, version.minor, version.patch]
    parts[index] += 1
    for lower in range(index + 1, 3):
        parts[lower] = 0
    return Version(parts[0], parts[1], parts[2])


def _check(op: str, text: str, version: Version) -> bool:
    bound, given = _bound(text)
    # Masterminds v3: a prerelease only satisfies comparators that name a prerelease.
    if version.prerelease and not bound.prerelease:
        return False
    key = version.key()
    if op in ("", "="):
        if given == 3:
            return key == bound.key()
        if given == 0:
            return True
        return bound.key() <= key < _bump(bound, given - 1).key()
    if op == "!=":
        if given == 3:
            return key != bound.key()
        if given == 0:
            return False
        return not bound.key() <= key < _bump(bound, given - 1).key()
    if op == ">":
        if given == 3:
            return key > bound.key()
        return given > 0 and key >= _bump(bound, given - 1).key()
    if op in (">=", "=>"):
        return key >= bound.key()
    if op == "<":
        return key < bound.key() if given else False
    if op in ("<=", "=<"):
        if given == 3:
            return key <= bound.key()
        return given == 0 or key < _bump(bound, given - 1).key()
    if op in ("~", "~>"):
        upper = _bump(bound, 0 if given <= 1 else 1)
        return bound.key() <= key < upper.key()
    if op == "^":
        if bound.major > 0 or given <= 1:
            upper = _bump(bound, 0)
        elif bound.minor > 0 or given == 2:
            upper = _bump(bound, 1)
        else:
            upper = _bump(bound, 2)
        return bound.key() <= key < upper.key()
    raise ConstraintError(f"unknown operator {op!r}")


def _comparators(group: str) -> list[tuple[str, str]]:
    text = group.strip()
    hyphen = re.match(r"^(\S+)\s+-\s+(\S+)$", text)
    if hyphen:
        return [(">=", hyphen.group(1)), ("<=", hyphen.group(2))]
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _COMPARATOR_RE.match(text, position)
        if not match or match.end() == position:
            raise ConstraintError(f"cannot read {text[position:]!r}")
        found.append((match.group("op") or "", match.group("version")))
        position = match.end()
    if not found:
        raise ConstraintError("empty constraint")
    return found


def satisfies(version: str, constraint: str) -> bool:
    """Whether ``version`` meets a chart's ``kubeVersion`` constraint, as helm decides it
    (``||`` between alternatives; commas or spaces between comparators that must all hold)."""
    parsed = parse_version(str(version).split("+", 1)[0])
    groups = str(constraint).split("||")
    if not any(group.strip() for group in groups):
        return True
    return any(
        all(_check(op, text, parsed) for op, text in _comparators(group))
        for group in groups
        if group.strip()
    )
