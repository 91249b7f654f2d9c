"""The fleet assessment report: every node's kruise_cri facts aggregated into one JSON-ready dict,
with the cluster facts and the plan when given; and its JSON form (report.json).

Controller-only (Python 3.11). Everything taken from the facts, the cluster facts and the plan is
untrusted text: the renderers (markdown.py, html.py, text.py) escape or strip it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Mapping
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    LINES as KNOWN_LINES,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    parse_version,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.wording import (
    sorted_naturally,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.cluster_view import (
    checked_plan,
    cluster_view,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.fact_values import (
    text,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.nodes import (
    line_key,
    node_from_facts,
    unassessed_node,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.schema import (
    REPORT_SCHEMA,
    VERDICT_ORDER,
    NodeEntry,
    Verdict,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.plan import (
    build_plan,
)


def parse_kruise_version(value: object) -> tuple[str, str]:
    """Return (normalised version, line) for "1.6.0", "v1.6" and the like."""
    parsed = parse_version(value)
    if parsed is None or parsed.suffix:
        raise ValueError(
            f"kruise_version {value!r} is not a version: expected X.Y or X.Y.Z, "
            "optionally with a leading v (for example 1.6.0)"
        )
    return parsed.release, parsed.line


def build_report(
    hosts: Mapping[str, Any],
    *,
    kruise_version: str,
    generated_at: str,
    unreachable: Mapping[str, str] | None = None,
    failed: Mapping[str, str] | None = None,
    cluster: Mapping[str, Any] | None = None,
    plan: Mapping[str, Any] | None = None,
    shipped_playbooks: Collection[str] = (),
) -> dict[str, Any]:
    """Aggregate per-host kruise_cri facts into the report dict (JSON-serialisable, ordered).

    ``cluster`` is the ``kruise`` dict of kruise_info (docs/cluster-facts.md): the report keeps a
    trimmed view of it (``null`` when not given). ``plan`` is remediation_plan's ``plan``
    (docs/planner.md), kept as is; when not given, the planner makes it from the same facts, so
    the ways out a report shows are always the planner's. A target the planner has no rules for
    (a line after 1.8) leaves ``plan`` null and says why in ``plan_error``. ``shipped_playbooks``
    is what the planner takes by that name.
    """
    version, line = parse_kruise_version(kruise_version)
    if not isinstance(generated_at, str):
        raise ValueError(f"generated_at {generated_at!r} must be a string")
    unreachable = dict(unreachable or {})
    failed = dict(failed or {})

    nodes: list[NodeEntry] = []
    for host in sorted_naturally([*hosts, *unreachable, *failed]):
        # A host listed as unreachable or failed in this run wins over facts it may still carry.
        if host in unreachable:
            nodes.append(unassessed_node(host, f"unreachable: {text(unreachable[host])}"))
        elif host in failed:
            nodes.append(unassessed_node(host, f"fact gathering failed: {text(failed[host])}"))
        else:
            nodes.append(node_from_facts(host, hosts[host], line))

    counts = Counter(node["verdict"] for node in nodes)
    if counts["incompatible"]:
        overall: Verdict = "incompatible"
    elif counts["unknown"] or not nodes:
        overall = "unknown"
    else:
        overall = "compatible"

    by_runtime = Counter(node["runtime"] for node in nodes)
    return {
        "schema": REPORT_SCHEMA,
        "generated_at": generated_at,
        "target": {"kruise_version": version, "line": line},
        "summary": {
            "nodes": len(nodes),
            "compatible": counts["compatible"],
            "incompatible": counts["incompatible"],
            "unknown": counts["unknown"],
            "by_runtime": {label: by_runtime[label] for label in sorted_naturally(by_runtime)},
            "verdict": overall,
        },
        "per_line": _per_line(nodes, line),
        "groups": {
            verdict: [node for node in nodes if node["verdict"] == verdict]
            for verdict in VERDICT_ORDER
        },
        "cluster": None if cluster is None else cluster_view(cluster),
        **_plan_entries(plan, hosts, unreachable, failed, cluster, version, shipped_playbooks),
    }


def _plan_entries(
    plan: Mapping[str, Any] | None,
    hosts: Mapping[str, Any],
    unreachable: Mapping[str, str],
    failed: Mapping[str, str],
    cluster: Mapping[str, Any] | None,
    version: str,
    shipped_playbooks: Collection[str],
) -> dict[str, Any]:
    if plan is not None:
        return {"plan": checked_plan(plan), "plan_error": None}
    unassessed = dict.fromkeys([*unreachable, *failed])
    node_facts = {host: facts for host, facts in hosts.items() if host not in unassessed}
    try:
        made = build_plan(
            {**node_facts, **unassessed},
            cluster,
            target_version=version,
            shipped_playbooks=shipped_playbooks,
        )
    except ValueError as error:
        return {"plan": None, "plan_error": str(error)}
    return {"plan": checked_plan(made), "plan_error": None}


def _per_line(nodes: list[NodeEntry], target_line: str) -> dict[str, dict[str, int]]:
    """For every known line, the target's and any the facts name: how many nodes it works on."""
    lines = set(KNOWN_LINES) | {target_line}
    for node in nodes:
        lines.update(node["lines"])
    per_line: dict[str, dict[str, int]] = {}
    for line in sorted(lines, key=line_key):
        compatible = sum(1 for node in nodes if node["lines"].get(line) is True)
        incompatible = sum(1 for node in nodes if node["lines"].get(line) is False)
        per_line[line] = {
            "compatible": compatible,
            "incompatible": incompatible,
            "unknown": len(nodes) - compatible - incompatible,
        }
    return per_line


def recommendation(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The plan's recommendation, or None for a report without a plan."""
    plan = report.get("plan")
    found = plan.get("recommendation") if isinstance(plan, Mapping) else None
    return dict(found) if isinstance(found, Mapping) else None


def render_json(report: Mapping[str, Any]) -> str:
    """report.json: the report dict, indented, in its own key order."""
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
