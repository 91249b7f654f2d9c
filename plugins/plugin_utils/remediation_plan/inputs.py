"""build_plan's inputs checked: each bad one raises ValueError naming the input and the fix."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    LINES as KRUISE_LINES,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    parse_version,
)


@dataclass(frozen=True)
class PlanInputs:
    version: str
    line: str
    node_facts: dict[str, Mapping[str, Any] | None]
    node_names: dict[str, str]  # inventory host -> Kubernetes node name, for every host
    cluster: Mapping[str, Any] | None
    features_wanted: bool
    inventory_hint: str | None
    shipped_playbooks: frozenset[str]


def checked_inputs(
    node_facts: object,
    cluster: object,
    *,
    target_version: object,
    node_names: object,
    shipped_playbooks: object,
    inventory_hint: object,
    daemon_features_wanted: object,
) -> PlanInputs:
    version, line = parse_target_version(target_version)
    facts = _checked_node_facts(node_facts)
    names = _checked_node_names(node_names, facts)
    cluster_facts = _checked_cluster(cluster)
    if not isinstance(daemon_features_wanted, bool):
        raise ValueError(
            f"daemon_features_wanted must be true or false, got {daemon_features_wanted!r}"
        )
    if inventory_hint is not None and not isinstance(inventory_hint, str):
        raise ValueError(
            f"inventory_hint must be the inventory path as a string, got {inventory_hint!r}"
        )
    if (
        isinstance(shipped_playbooks, str)
        or not isinstance(shipped_playbooks, Collection)
        or not all(isinstance(name, str) for name in shipped_playbooks)
    ):
        raise ValueError(
            "shipped_playbooks must be a collection of playbook names such as "
            f"['assess', 'pin_kruise'], got {shipped_playbooks!r}"
        )
    return PlanInputs(
        version=version,
        line=line,
        node_facts=facts,
        node_names=names,
        cluster=cluster_facts,
        features_wanted=daemon_features_wanted,
        inventory_hint=inventory_hint,
        shipped_playbooks=frozenset(shipped_playbooks),
    )


def parse_target_version(value: object) -> tuple[str, str]:
    """``"1.6.0"``/``"v1.6"`` -> ("1.6.0", "1.6"); a modelled line (1.4 to 1.8) is required."""
    parsed = parse_version(value.strip() if isinstance(value, str) else value)
    if parsed is None or parsed.suffix:
        raise ValueError(
            f"target_version {value!r} is not a version: give the OpenKruise version you run or "
            "want as X.Y or X.Y.Z, optionally with a leading v (for example 1.6.0)"
        )
    line = parsed.line
    if line not in KRUISE_LINES:
        raise ValueError(
            f"target_version {value!r} is on line {line}, which the node facts hold no verdict "
            f"for: give a version of one of the lines {', '.join(KRUISE_LINES)}"
        )
    return parsed.release, line


def _kind(value: object) -> str:
    """What a value is, as an error message says it."""
    for kind, name in ((str, "a string"), (bool, "a boolean"), (list, "a list")):
        if isinstance(value, kind):
            return name
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def _checked_node_facts(node_facts: object) -> dict[str, Mapping[str, Any] | None]:
    if not isinstance(node_facts, Mapping):
        raise ValueError(
            "node_facts must map each inventory host to its kruise_cri facts "
            f"(hostvars[host].kruise_cri), got {_kind(node_facts)}"
        )
    checked: dict[str, Mapping[str, Any] | None] = {}
    for host, facts in node_facts.items():
        if not isinstance(host, str) or not host:
            raise ValueError(f"node_facts: host names must be non-empty strings, got {host!r}")
        if facts is not None and not isinstance(facts, Mapping):
            raise ValueError(
                f"node_facts[{host!r}] must be that host's kruise_cri facts (a dict, as "
                f"kruise_cri.remediation.cri_facts returns them) or null, got {_kind(facts)}"
            )
        checked[host] = facts
    return checked


def _checked_node_names(node_names: object, facts: Mapping[str, object]) -> dict[str, str]:
    if node_names is None:
        return {host: host for host in facts}
    if not isinstance(node_names, Mapping):
        raise ValueError(
            f"node_names must map inventory host -> Kubernetes node name, got {_kind(node_names)}"
        )
    for host, name in node_names.items():
        if not isinstance(host, str) or not isinstance(name, str) or not name:
            raise ValueError(
                "node_names must map inventory host -> Kubernetes node name (both strings), "
                f"got {host!r}: {name!r}"
            )
    names = {host: node_names.get(host, host) for host in facts}
    by_name: dict[str, str] = {}
    for host in sorted(names):
        other = by_name.setdefault(names[host], host)
        if other != host:
            raise ValueError(
                f"node_names: hosts {other!r} and {host!r} both map to node {names[host]!r}; "
                "each inventory host must name its own Kubernetes node"
            )
    return names


def _checked_cluster(cluster: object) -> Mapping[str, Any] | None:
    if cluster is None:
        return None
    if not isinstance(cluster, Mapping):
        raise ValueError(
            "cluster must be the kruise dict that kruise_cri.remediation.kruise_info returns, "
            f"or null when no kubeconfig was given; got {_kind(cluster)}"
        )
    if cluster.get("schema") != 1:
        hint = (
            "; it looks like the whole kruise_info result: pass its kruise key (result.kruise)"
            if isinstance(cluster.get("kruise"), Mapping)
            else ""
        )
        raise ValueError(
            f"cluster: schema {cluster.get('schema')!r} is not supported (expected the kruise "
            f"dict of kruise_info, schema 1){hint}"
        )
    return cluster
