"""The report as a fixed-width text table, for the end of a playbook run or a terminal."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.wording import (
    count,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.escape import (
    ellipsize,
    plain,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.schema import (
    VERDICT_ORDER,
)


def _display_width(cell: str) -> int:
    """Terminal columns: wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in cell)


def _pad(cell: str, width: int) -> str:
    return cell + " " * max(0, width - _display_width(cell))


def summary_table(report: Mapping[str, Any], *, reason_width: int = 72) -> str:
    """One row per node (host, runtime, kubelet runtime, verdict, reason), then the counts."""
    line = report["target"]["line"]
    header = ("HOST", "RUNTIME", "KUBELET", f"KRUISE {line}", "REASON")
    rows: list[tuple[str, ...]] = []
    for verdict in VERDICT_ORDER:
        for node in report["groups"][verdict]:
            rows.append(
                (
                    ellipsize(plain(node["host"]), 40),
                    ellipsize(plain(node["runtime"]), 28),
                    ellipsize(plain(node["kubelet_runtime"] or "?"), 12),
                    verdict,
                    ellipsize(plain(node["reason"]), reason_width),
                )
            )
    widths = [max(_display_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
    text_lines = [
        "  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in [header, *rows]
    ]
    summary = report["summary"]
    text_lines.append(
        f"{count(summary['nodes'], 'node')}: {summary['compatible']} compatible, "
        f"{summary['incompatible']} incompatible, {summary['unknown']} unknown; "
        f"kruise-daemon {line} verdict: {summary['verdict']}"
    )
    return "\n".join(text_lines) + "\n"
