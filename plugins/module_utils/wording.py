"""English for the sentences facts, plans and reports write: counted nouns, agreeing words, name
lists, and the order people expect names in (node-2 before node-10)."""

from __future__ import annotations

import re
from collections.abc import Iterable


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``count(1, "node")`` -> "1 node", ``count(3, "node")`` -> "3 nodes"."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def agree(n: int, singular: str, plural: str) -> str:
    """The word that agrees with *n*: ``agree(2, "is", "are")`` -> "are"."""
    return singular if n == 1 else plural


def pronoun(n: int) -> str:
    return agree(n, "it", "them")


def joined_names(names: Iterable[str], limit: int = 10) -> str:
    """The first *limit* names, comma-separated, and how many more there are."""
    listed = list(names)
    shown = ", ".join(listed[:limit])
    return shown + (f" and {len(listed) - limit} more" if len(listed) > limit else "")


def natural_key(value: str) -> list[tuple[int, int | str]]:
    """Sort key that puts node-2 before node-10."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", value)]


def sorted_naturally(names: Iterable[str]) -> list[str]:
    """Distinct names, "node-2" before "node-10"."""
    return sorted(set(names), key=natural_key)
