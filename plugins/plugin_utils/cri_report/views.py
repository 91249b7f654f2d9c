"""What the markdown and HTML renderers show of the report (text still unescaped): the plan's
recommendation and paths, the cluster's state in rows, the labels of the per-line matrix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.wording import (
    count,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.escape import (
    ellipsize,
    plain,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.fact_values import (
    finding_entries,
    is_mapping,
    optional_text,
    present_texts,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.model import (
    recommendation,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.schema import (
    FindingEntry,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.fact_values import (
    as_int,
    as_list,
    as_mapping,
)

CRASH_LOOPING_SHOWN = 50  # crash-looping daemon pods listed in markdown and HTML (JSON: all)
MESSAGE_SHOWN = 300  # characters of a pod's last message shown in markdown and HTML

RISK_TONE = {"low": "ok", "medium": "warn", "high": "bad"}
FEASIBLE_TONE = {"yes": "ok", "partly": "warn", "no": "bad", "not needed": "muted"}


def works_everywhere(row: Mapping[str, int], nodes: int) -> bool:
    """A per-line row: the line works on every node."""
    return nodes > 0 and row["compatible"] == nodes


def works_on_every_assessed_node(row: Mapping[str, int]) -> bool:
    """A per-line row: the line works on every node that could be assessed, and some could not."""
    return bool(row["compatible"] and row["unknown"] and not row["incompatible"])


def _risk(raw: object) -> dict[str, Any]:
    """A plan risk ({"level": ..., "reasons": [...]}) as the renderers show it."""
    risk = as_mapping(raw)
    level = optional_text(risk.get("level")) or "unknown"
    return {
        "risk_level": level,
        "risk_tone": RISK_TONE.get(level, "muted"),
        "risk_reasons": present_texts(risk.get("reasons")),
    }


def recommendation_view(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The plan's recommendation as the renderers show it; None without a plan."""
    rec = recommendation(report)
    if rec is None:
        return None
    path = optional_text(rec.get("path")) or "unknown"
    manual_steps = present_texts(rec.get("manual_steps"))
    # A command is for copying into a shell: one line, no control characters.
    commands = [plain(command) for command in present_texts(rec.get("commands"))]
    if manual_steps:
        no_command = "No playbook applies yet: follow the manual steps below."
    elif path == "nothing_to_do":
        no_command = "Nothing to run."
    else:
        no_command = "No command: see the reasons below."
    return {
        "path": path,
        "title": optional_text(rec.get("title")) or path,
        "summary": optional_text(rec.get("summary")) or "",
        "reasons": present_texts(rec.get("reasons")),
        "commands": commands,
        "no_command": no_command,
        "not_shipped": present_texts(rec.get("not_shipped")),
        "manual_steps": manual_steps,
        "manual_steps_doc": optional_text(rec.get("manual_steps_doc")),
        **_risk(rec.get("risk")),
    }


def plan_paths_view(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every path the planner weighed, the recommended one and its later steps marked."""
    rec = as_mapping(plan.get("recommendation"))
    chosen = optional_text(rec.get("path"))
    steps = set(present_texts(rec.get("steps")))
    paths = []
    for path in as_list(plan.get("paths")):
        if not is_mapping(path):
            continue
        cost = as_mapping(path.get("cost"))
        path_id = optional_text(path.get("id")) or "?"
        feasible = optional_text(path.get("feasible")) or "unknown"
        paths.append(
            {
                "id": path_id,
                "title": optional_text(path.get("title")) or path_id,
                "recommended": path_id == chosen,
                "step": path_id in steps and path_id != chosen,
                "feasible": feasible,
                "feasible_tone": FEASIBLE_TONE.get(feasible, "muted"),
                "reasons": present_texts(path.get("reasons")),
                "features_lost": present_texts(cost.get("features_lost")),
                "nodes_drained": as_int(cost.get("nodes_drained")) or 0,
                "drained_nodes": present_texts(cost.get("drained_nodes")),
                "helm_changes": present_texts(cost.get("helm_changes")),
                "notes": present_texts(cost.get("notes")),
                **_risk(path.get("risk")),
            }
        )
    return paths


def plan_findings(plan: Mapping[str, Any]) -> list[FindingEntry]:
    return finding_entries(plan.get("findings"))


def _install_how(view: Mapping[str, Any]) -> str:
    """How OpenKruise was installed, e.g. "Helm release kruise (namespace kruise-system, ...)"."""
    if view.get("installed") is False:
        return "not installed"
    install = as_mapping(view.get("install"))
    helm = as_mapping(install.get("helm"))
    if install.get("method") == "helm" and helm:
        details = [
            f"namespace {helm.get('namespace') or '?'}",
            f"chart {helm.get('chart') or '?'} {helm.get('chart_version') or '?'}",
        ]
        if helm.get("revision") is not None:
            details.append(f"revision {helm['revision']}")
        if helm.get("status"):
            details.append(str(helm["status"]))
        return f"Helm release {helm.get('release') or '?'} ({', '.join(details)})"
    if install.get("method") == "manifests":
        return "from manifests (no Helm release)"
    return "installed by unknown means"


def _install_text(view: Mapping[str, Any]) -> str:
    if view.get("installed") is False:
        return "not installed"
    return f"{view.get('version') or 'unknown version'}, {_install_how(view)}"


def _daemon_text(view: Mapping[str, Any]) -> str:
    daemon = view.get("daemon")
    unread = as_mapping(view.get("unread"))
    if not isinstance(daemon, Mapping):
        if unread.get("daemon"):
            return f"unknown: the DaemonSets could not be listed ({unread['daemon']})"
        if as_mapping(view.get("feature_gates")).get("daemon_enabled") is False:
            return "disabled (no DaemonSet)"
        return "no kruise-daemon DaemonSet"
    parts = [f"{daemon.get('ready') or 0} of {daemon.get('desired') or 0} pods ready"]
    crashing = len(as_list(daemon.get("crash_looping")))
    if unread.get("daemon_pods"):
        parts.append(f"crash-looping pods unknown ({unread['daemon_pods']})")
    elif crashing:
        parts.append(f"{count(crashing, 'pod')} crash-looping")
    if daemon.get("socket_location"):
        parts.append(f"socket location {daemon['socket_location']}")
    if daemon.get("socket_file"):
        parts.append(f"socket file {daemon['socket_file']}")
    return ", ".join(parts)


def _feature_use_text(view: Mapping[str, Any]) -> str:
    feature_use = as_mapping(view.get("feature_use"))
    summary = present_texts(feature_use.get("summary"))
    if feature_use.get("in_use") is True:
        return "yes: " + "; ".join(summary) if summary else "yes"
    if feature_use.get("in_use") is False:
        return "none found"
    return "unknown"


def cluster_display(cluster: object) -> dict[str, Any] | None:
    """What the markdown and HTML renderers show of the report's cluster view."""
    if not isinstance(cluster, Mapping):
        return None
    gates = as_mapping(cluster.get("feature_gates"))
    daemon_enabled = gates.get("daemon_enabled")
    gates_text = optional_text(gates.get("argument")) or "none set (defaults)"
    if daemon_enabled is False:
        gates_text += " · kruise-daemon disabled"
    elif daemon_enabled is True:
        gates_text += " · kruise-daemon enabled"
    manager = cluster.get("manager")
    nodes = as_mapping(cluster.get("nodes"))
    by_runtime = as_mapping(nodes.get("by_runtime"))
    rows: list[tuple[str, str]] = [("OpenKruise", _install_text(cluster))]
    if isinstance(manager, Mapping):
        rows.append(
            (
                "kruise-manager",
                f"{manager.get('ready_replicas') or 0} of {manager.get('replicas') or 0} "
                "replicas ready",
            )
        )
    daemon_text = _daemon_text(cluster)
    unread = as_mapping(cluster.get("unread"))
    nodes_text = (
        f"unknown: the nodes could not be listed ({unread['nodes']})"
        if unread.get("nodes")
        else f"{nodes.get('count') or 0} ({nodes.get('ready') or 0} ready): "
        + (", ".join(f"{label}: {n}" for label, n in by_runtime.items()) or "none")
    )
    rows += [
        ("Feature gates", gates_text),
        ("kruise-daemon", daemon_text),
        ("Nodes", nodes_text),
        ("Daemon features in use", _feature_use_text(cluster)),
    ]
    api = as_mapping(cluster.get("api"))
    daemon = as_mapping(cluster.get("daemon"))
    crashing = [pod for pod in as_list(daemon.get("crash_looping")) if is_mapping(pod)]
    return {
        "server": optional_text(api.get("server")) or "unknown",
        "api_version": optional_text(api.get("version")) or "unknown",
        "installed": cluster.get("installed"),
        "version": optional_text(cluster.get("version")),
        "install_how": _install_how(cluster),
        "gates_argument": optional_text(gates.get("argument")),
        "daemon_enabled": daemon_enabled,
        "daemon": daemon or None,
        "daemon_unread": bool(unread.get("daemon")),
        "daemon_text": daemon_text,
        "feature_use": as_mapping(cluster.get("feature_use")),
        "by_runtime": dict(by_runtime),
        "rows": rows,
        "crash_looping": [
            {**pod, "message": ellipsize(plain(pod.get("last_message")), MESSAGE_SHOWN)}
            for pod in crashing[:CRASH_LOOPING_SHOWN]
        ],
        "crash_looping_total": len(crashing),
        "crash_looping_more": max(0, len(crashing) - CRASH_LOOPING_SHOWN),
        "findings": finding_entries(cluster.get("findings")),
    }
