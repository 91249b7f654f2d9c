"""Reading untrusted values from facts, cluster facts and plans.

Ansible hands over whatever the facts hold, as tagged subclasses of str, dict and list: these
helpers turn each value into the plain type the report stores, or a safe default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.schema import (
    FindingEntry,
)


def text(value: object) -> str:
    """A string as is; anything else as JSON (None becomes "null")."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def optional_text(value: object) -> str | None:
    return None if value is None else text(value)


def optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def optional_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def is_mapping(value: object) -> bool:
    return isinstance(value, Mapping)


def mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def list_items(value: object) -> list[Any]:
    """The items of a list or tuple; nothing for any other value."""
    return list(value) if isinstance(value, list | tuple) else []


def texts(value: object) -> list[str]:
    """Every item of a list as text, None included (as "null")."""
    return [text(item) for item in list_items(value)]


def present_texts(value: object) -> list[str]:
    """The items of a list as text, None left out."""
    return [text(item) for item in list_items(value) if item is not None]


def jsonable(value: object) -> Any:
    """A plain JSON copy: Ansible's tagged str/dict/list subclasses become plain types."""
    return json.loads(json.dumps(value, default=str))


def finding_entry(raw: Mapping[str, Any]) -> FindingEntry:
    return {
        "severity": optional_text(raw.get("severity")) or "info",
        "source": optional_text(raw.get("source")),
        "message": optional_text(raw.get("message")) or "",
    }


def finding_entries(value: object) -> list[FindingEntry]:
    """The findings of a facts, cluster or plan ``findings`` list (items that are not dicts
    left out)."""
    return [finding_entry(item) for item in list_items(value) if is_mapping(item)]
