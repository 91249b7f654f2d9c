"""The report's summary for ansible.builtin.set_stats: counts, the first incompatible hosts and
the plan's recommendation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.fact_values import (
    optional_text,
    present_texts,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.model import (
    recommendation,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.fact_values import (
    as_mapping,
)

INCOMPATIBLE_HOSTS_CAP = 50


def set_stats_summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """Small dict for ansible.builtin.set_stats; the caller adds the report paths."""
    summary = report["summary"]
    incompatible = [node["host"] for node in report["groups"]["incompatible"]]
    return {
        "kruise_version": report["target"]["kruise_version"],
        "line": report["target"]["line"],
        "verdict": summary["verdict"],
        "nodes": summary["nodes"],
        "compatible": summary["compatible"],
        "incompatible": summary["incompatible"],
        "unknown": summary["unknown"],
        "incompatible_hosts": incompatible[:INCOMPATIBLE_HOSTS_CAP],
        "incompatible_hosts_truncated": len(incompatible) > INCOMPATIBLE_HOSTS_CAP,
        "recommendation": _recommendation(report),
    }


def _recommendation(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """Path, title and command of the plan's recommendation (null without a plan)."""
    rec = recommendation(report)
    if rec is None:
        return None
    return {
        "path": optional_text(rec.get("path")),
        "title": optional_text(rec.get("title")),
        "command": optional_text(rec.get("command")),
        "commands": present_texts(rec.get("commands")),
        "risk": optional_text(as_mapping(rec.get("risk")).get("level")),
        "launches": [dict(as_mapping(launch)) for launch in rec.get("launches") or []],
    }
