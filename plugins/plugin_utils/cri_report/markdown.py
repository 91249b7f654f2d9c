"""report.md: the report as GitHub markdown, every untrusted value escaped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.wording import (
    joined_names,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.escape import (
    escape_markdown,
    markdown_code_block,
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


def render_markdown(report: Mapping[str, Any]) -> str:
    line, version = report["target"]["line"], report["target"]["kruise_version"]
    summary = report["summary"]
    out: list[str] = [
        "# kruise-daemon CRI assessment",
        "",
        f"Target: OpenKruise **{escape_markdown(version)}** (line {escape_markdown(line)}) · "
        f"Verdict: **{escape_markdown(summary['verdict'])}** · "
        f"Generated: {escape_markdown(report['generated_at'])}",
        "",
        *_recommendation(report),
        "## Summary",
        "",
        "| Nodes | Compatible | Incompatible | Unknown |",
        "|---:|---:|---:|---:|",
        f"| {summary['nodes']} | {summary['compatible']} | {summary['incompatible']} "
        f"| {summary['unknown']} |",
        "",
    ]
    if summary["by_runtime"]:
        out += ["| Runtime (kubelet's) | Nodes |", "|---|---:|"]
        out += [f"| {escape_markdown(label)} | {n} |" for label, n in summary["by_runtime"].items()]
        out.append("")
    out += _cluster(report)
    out += [
        "## kruise-daemon lines",
        "",
        "| Line | Compatible | Incompatible | Unknown | Works everywhere |",
        "|---|---:|---:|---:|---|",
    ]
    for row_line, row in report["per_line"].items():
        label = (
            f"**{escape_markdown(row_line)}** (target)"
            if row_line == line
            else escape_markdown(row_line)
        )
        if works_everywhere(row, summary["nodes"]):
            everywhere = "yes"
        elif works_on_every_assessed_node(row):
            everywhere = "on every assessed node"
        else:
            everywhere = "no"
        out.append(
            f"| {label} | {row['compatible']} | {row['incompatible']} | {row['unknown']} "
            f"| {everywhere} |"
        )
    out += ["", "## Ways out", ""]
    if isinstance(report.get("plan"), Mapping):
        out += _plan_paths(report["plan"])
    else:
        out.append(f"Not planned: {escape_markdown(str(report.get('plan_error')))}")
    out += ["", "## Nodes", ""]
    for verdict in VERDICT_ORDER:
        nodes = report["groups"][verdict]
        out += [f"### {verdict.capitalize()} ({len(nodes)})", ""]
        if not nodes:
            out += ["None.", ""]
            continue
        out += [
            "| Host | Runtime | Kubelet runtime | Lines | Reason |",
            "|---|---|---|---|---|",
        ]
        for node in nodes:
            lines = " ".join(
                f"{escape_markdown(key)}{'✓' if ok else '✗'}" for key, ok in node["lines"].items()
            )
            out.append(
                f"| {escape_markdown(node['host'])} | {escape_markdown(node['runtime'])} | "
                f"{escape_markdown(node['kubelet_runtime'])} | {lines or '—'} | "
                f"{escape_markdown(node['reason'])} |"
            )
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _bullets(items: Iterable[object], indent: str = "") -> list[str]:
    return [f"{indent}- {escape_markdown(item)}" for item in items]


def _joined(items: Iterable[object]) -> str:
    return "; ".join(escape_markdown(item) for item in items)


def _recommendation(report: Mapping[str, Any]) -> list[str]:
    rec = recommendation_view(report)
    if rec is None:
        return []
    out = [
        "## Recommendation",
        "",
        f"**{escape_markdown(rec['title'])}** · risk: **{escape_markdown(rec['risk_level'])}**",
        "",
        escape_markdown(rec["summary"]),
        "",
    ]
    for index, command in enumerate(rec["commands"], 1):
        if len(rec["commands"]) > 1:
            out += [f"Step {index} of {len(rec['commands'])}:", ""]
        out += [*markdown_code_block(command), ""]
    if not rec["commands"]:
        out += [escape_markdown(rec["no_command"]), ""]
    if rec["reasons"]:
        out += ["Why:", "", *_bullets(rec["reasons"]), ""]
    if rec["risk_reasons"]:
        out += [
            f"Risk ({escape_markdown(rec['risk_level'])}):",
            "",
            *_bullets(rec["risk_reasons"]),
            "",
        ]
    if rec["manual_steps"]:
        where = f" ({escape_markdown(rec['manual_steps_doc'])})" if rec["manual_steps_doc"] else ""
        out += [f"Manual steps{where}:", "", *_bullets(rec["manual_steps"]), ""]
    return out


def _cluster(report: Mapping[str, Any]) -> list[str]:
    view = cluster_display(report.get("cluster"))
    if view is None:
        return []
    out = [
        "## Cluster",
        "",
        f"API server {escape_markdown(view['server'])} (Kubernetes {escape_markdown(view['api_version'])})",
        "",
        "| What | State |",
        "|---|---|",
    ]
    out += [
        f"| {escape_markdown(label)} | {escape_markdown(value)} |" for label, value in view["rows"]
    ]
    out.append("")
    crashing = view["crash_looping"]
    if crashing:
        out += [
            f"### Crash-looping kruise-daemon pods ({view['crash_looping_total']})",
            "",
            "| Pod | Node | Restarts | Last exit code | Last message | Why |",
            "|---|---|---:|---:|---|---|",
        ]
        out += [
            f"| {escape_markdown(pod['pod'])} | {escape_markdown(pod['node'])} "
            f"| {escape_markdown(pod['restarts'])} | {escape_markdown(pod['last_exit_code'])} "
            f"| {escape_markdown(pod['message'])} | {escape_markdown(pod['cause'] or '')} |"
            for pod in crashing
        ]
        if view["crash_looping_more"]:
            out += ["", f"And {view['crash_looping_more']} more (all of them in report.json)."]
        out.append("")
    if view["findings"]:
        out += ["### Cluster findings", ""]
        out += [
            f"- {escape_markdown(item['severity'])}: "
            + (f"{escape_markdown(item['source'])}: " if item["source"] else "")
            + escape_markdown(item["message"])
            for item in view["findings"]
        ]
        out.append("")
    return out


def _plan_paths(plan: Mapping[str, Any]) -> list[str]:
    paths = plan_paths_view(plan)
    out = [
        "| Path | Feasible | Features lost | Nodes drained | Helm changes | Risk |",
        "|---|---|---|---:|---|---|",
    ]
    for path in paths:
        title = f"**{escape_markdown(path['title'])}**"
        if path["recommended"]:
            title += " (recommended)"
        elif path["step"]:
            title += " (then)"
        lost = _joined(path["features_lost"]) or "none"
        drained = str(path["nodes_drained"])
        if path["drained_nodes"]:
            drained += f" ({escape_markdown(joined_names(path['drained_nodes']))})"
        helm = _joined(path["helm_changes"]) or "none"
        out.append(
            f"| {title} | {escape_markdown(path['feasible'])} | {lost} | {drained} | {helm} "
            f"| {escape_markdown(path['risk_level'])} |"
        )
    out.append("")
    for path in paths:
        out.append(f"- **{escape_markdown(path['title'])}** ({escape_markdown(path['feasible'])})")
        out += _bullets(path["reasons"], "  ")
        out += _bullets(path["notes"], "  ")
        if path["risk_reasons"]:
            out.append(
                f"  - Risk ({escape_markdown(path['risk_level'])}): "
                + _joined(path["risk_reasons"])
            )
    findings = plan_findings(plan)
    if findings:
        out += ["", "Notes from the plan:", ""]
        out += [
            f"- {escape_markdown(item['severity'])}: {escape_markdown(item['source'])}: "
            + escape_markdown(item["message"])
            for item in findings
        ]
    return out
