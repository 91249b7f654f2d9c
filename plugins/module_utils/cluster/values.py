"""Nested values (Helm values and other JSON-like dicts): merge, look up a dotted path, show as
YAML for a diff, mask the leaves that may be secrets."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

try:
    import yaml

    YAML_IMPORT_ERROR: str | None = None
except ImportError as error:  # pragma: no cover - ClusterModule fails the task, naming PyYAML
    yaml = None
    YAML_IMPORT_ERROR = str(error)


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


# --------------------------------------------------------------------------------------------
# Masking: Helm user values may hold secrets (registry passwords, tokens in env, ...)

MASK = "********"
MASK_CHANGED = "******** (changed)"
# The values kruise-cri itself reads, sets and shows: the feature gates, the manager's image and
# kruise-daemon's CRI socket settings. Every other value is masked unless the user asks to see it.
SHOWN_PATHS: tuple[str, ...] = (
    "featureGates",
    "manager.image",
    "daemon.socketLocation",
    "daemon.socketFile",
)


def _shown(path: str, shown: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + ".") for p in shown)


def _keeps_meaning(value: Any) -> bool:
    """Leaves that cannot carry a secret stay as they are, so that tests such as "is this value
    set and not false" read the same on masked values: None, booleans, "", 0."""
    return value is None or isinstance(value, bool) or value == "" or value == 0


def mask_values(
    values: Any,
    shown: tuple[str, ...] = SHOWN_PATHS,
    other: Any = None,
    _path: str = "",
) -> Any:
    """``values`` with every leaf masked (``********``) except those under ``shown`` (dotted
    paths) and those that cannot carry a secret (None, booleans, "", 0); the keys stay. With
    ``other`` (the values on the other side of a diff), a masked leaf that differs from its
    counterpart reads ``******** (changed)``, so a diff still shows which keys change."""
    if _path and _shown(_path, shown):
        return copy.deepcopy(values)
    if isinstance(values, Mapping):
        others = other if isinstance(other, Mapping) else {}
        return {
            key: mask_values(value, shown, others.get(key), f"{_path}.{key}" if _path else str(key))
            for key, value in values.items()
        }
    if isinstance(values, list):
        others = other if isinstance(other, list) else []
        return [
            mask_values(item, shown, others[i] if i < len(others) else None, _path)
            for i, item in enumerate(values)
        ]
    if _keeps_meaning(values):
        return values
    if other is not None and other != values:
        return MASK_CHANGED
    return MASK


def masked_values_diff(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    before_header: str,
    after_header: str,
    show_values: bool = False,
) -> dict[str, str]:
    """:func:`values_diff`, with the values masked unless ``show_values``: the changed keys show,
    a changed masked value reads ``******** (changed)`` after."""
    if show_values:
        return values_diff(before, after, before_header, after_header)
    return values_diff(
        mask_values(before),
        mask_values(after, other=before if before else {}),
        before_header,
        after_header,
    )
