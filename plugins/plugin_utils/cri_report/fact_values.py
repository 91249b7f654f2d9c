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
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.fact_values import as_list


def text(value: object) -> str:
    """A string as is; anything else as JSON (None becomes "null")."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def optional_text(value: object) -> str | None:
    return None if value is None else text(value)


def is_mapping(value: object) -> bool:
    return isinstance(value, Mapping)


def texts(value: object) -> list[str]:
    """Every item of a list as text, None included (as "null")."""
    return [text(item) for item in as_list(value)]


def present_texts(value: object) -> list[str]:
    """The items of a list as text, None left out."""
    return [text(item) for item in as_list(value) if item is not None]


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
    return [finding_entry(item) for item in as_list(value) if is_mapping(item)]
