"""Reading loosely typed facts: a value of the wrong type reads as absent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def as_mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def as_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def as_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def as_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
