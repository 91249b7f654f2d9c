"""English for counts and host lists in the report's sentences."""

from __future__ import annotations


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``count(1, "node")`` -> "1 node", ``count(3, "node")`` -> "3 nodes"."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def agree(n: int, singular: str, plural: str) -> str:
    """The word that agrees with *n*: ``agree(2, "is", "are")`` -> "are"."""
    return singular if n == 1 else plural


def host_list(hosts: list[str], limit: int = 10) -> str:
    """The first *limit* hosts, comma-separated, and how many more there are."""
    shown = ", ".join(hosts[:limit])
    return shown + (f" and {len(hosts) - limit} more" if len(hosts) > limit else "")
