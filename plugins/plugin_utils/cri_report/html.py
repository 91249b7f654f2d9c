"""report.html: one self-contained page (inline CSS, no external resources) rendered from the
jinja2 template report.html.j2 beside this file, with autoescaping on."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from ansible_collections.kruise_cri.remediation.plugins.module_utils.wording import (
    count,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.escape import (
    break_after_slashes,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.schema import (
    VERDICT_ORDER,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.views import (
    cluster_display,
    plan_findings,
    plan_paths_view,
    recommendation_view,
    works_everywhere,
    works_on_every_assessed_node,
)

TEMPLATE_PATH = Path(__file__).with_name("report.html.j2")

_VERDICT_TITLES = {
    "incompatible": "Incompatible",
    "unknown": "Not assessed",
    "compatible": "Compatible",
}
_VERDICT_BLURBS = {
    "incompatible": "kruise-daemon {line} fails to start here, or starts but cannot act on the "
    "kubelet's runtime.",
    "unknown": "No usable facts for these nodes: they were unreachable, fact gathering failed, "
    "or the facts hold no verdict for {line}.",
    "compatible": "kruise-daemon {line} starts and manages the kubelet's runtime.",
}


def _headline(report: Mapping[str, Any]) -> str:
    summary = report["summary"]
    line = report["target"]["line"]
    nodes = summary["nodes"]
    if nodes == 0:
        return "No nodes were assessed"
    if summary["incompatible"]:
        return (
            f"{summary['incompatible']} of {count(nodes, 'node')} cannot run kruise-daemon {line}"
        )
    if summary["unknown"]:
        return f"No incompatible node found, but {summary['unknown']} of {nodes} not assessed"
    return f"Every node can run kruise-daemon {line}"


def _page_view(report: Mapping[str, Any]) -> dict[str, Any]:
    """The template's variables."""
    summary = report["summary"]
    line = report["target"]["line"]
    nodes = summary["nodes"]
    lines = []
    for row_line, row in report["per_line"].items():
        pct = {
            key: (100.0 * row[key] / nodes if nodes else 0.0)
            for key in ("compatible", "incompatible", "unknown")
        }
        lines.append(
            {
                "line": row_line,
                "is_target": row_line == line,
                "everywhere": works_everywhere(row, nodes),
                "all_assessed": works_on_every_assessed_node(row),
                "pct": {key: f"{value:.2f}" for key, value in pct.items()},
                **row,
            }
        )
    groups = [
        {
            "verdict": verdict,
            "title": _VERDICT_TITLES[verdict],
            "blurb": _VERDICT_BLURBS[verdict].format(line=line),
            "nodes": report["groups"][verdict],
        }
        for verdict in VERDICT_ORDER
        if report["groups"][verdict]
    ]
    plan = report.get("plan")
    return {
        "report": report,
        "summary": summary,
        "target": report["target"],
        "headline": _headline(report),
        "lines": lines,
        "groups": groups,
        "plan_error": report.get("plan_error"),
        "node_total": nodes,
        "rec": recommendation_view(report),
        "cluster": cluster_display(report.get("cluster")),
        "plan_paths": plan_paths_view(plan) if isinstance(plan, Mapping) else None,
        "plan_findings": plan_findings(plan) if isinstance(plan, Mapping) else [],
    }


_ENVIRONMENT = jinja2.Environment(
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENVIRONMENT.filters["wbr"] = break_after_slashes
_TEMPLATE = _ENVIRONMENT.from_string(TEMPLATE_PATH.read_text(encoding="utf-8"))


def render_html(report: Mapping[str, Any]) -> str:
    """One self-contained HTML page (inline CSS, no external resources)."""
    return _TEMPLATE.render(**_page_view(report))
