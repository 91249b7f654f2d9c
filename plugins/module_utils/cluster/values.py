"""Nested values (Helm values and other JSON-like dicts): merge, look up a dotted path, show as
YAML for a diff."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import yaml


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in, recursively for mappings. An override of ``None``
    removes the key (so the chart's default applies again); lists and scalars replace."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def dig(values: Mapping[str, Any] | None, path: str) -> Any:
    """``dig(values, "manager.image.tag")``; None when any step is missing."""
    node: Any = values
    for step in path.split("."):
        if not isinstance(node, Mapping) or step not in node:
            return None
        node = node[step]
    return node


def values_yaml(values: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(values), sort_keys=True, default_flow_style=False) if values else ""


def values_diff(
    before: Mapping[str, Any], after: Mapping[str, Any], before_header: str, after_header: str
) -> dict[str, str]:
    return {
        "before": values_yaml(before),
        "after": values_yaml(after),
        "before_header": before_header,
        "after_header": after_header,
    }
