"""Wording shared by the plan's sentences: counted nouns, pronouns, name lists, name order."""

from __future__ import annotations

import re
from collections.abc import Iterable


def count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def pronoun(n: int) -> str:
    return "it" if n == 1 else "them"


def joined_names(names: Iterable[str], limit: int = 10) -> str:
    listed = list(names)
    shown = ", ".join(listed[:limit])
    return shown + (f" and {len(listed) - limit} more" if len(listed) > limit else "")


def natural_key(value: str) -> list[tuple[int, int | str]]:
    """Sort key that puts node-2 before node-10."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", value)]
