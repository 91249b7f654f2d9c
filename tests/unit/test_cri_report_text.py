"""The text summary table and the set_stats summary."""

from __future__ import annotations

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.model import (
    build_report,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.stats import (
    set_stats_summary,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.text import (
    summary_table,
)

from tests.unit.cri_report_fixtures import (
    GENERATED_AT,
    mixed_fleet,
    sample_report,
)


def test_summary_table_layout() -> None:
    table = summary_table(sample_report())
    lines = table.splitlines()
    assert lines[0].split() == ["HOST", "RUNTIME", "KUBELET", "KRUISE", "1.6", "REASON"]
    assert [line.split()[0] for line in lines[1:7]] == [
        "node-ctd14",
        "node-docker-cri-ctd",
        "node-dockershim",
        "node-gone",
        "node-ctd16",
        "node-ctd21",
    ]
    assert lines[-1] == (
        "6 nodes: 2 compatible, 3 incompatible, 1 unknown; kruise-daemon 1.6 verdict: incompatible"
    )
    # Columns line up: every row has its verdict right under the KRUISE 1.6 header.
    column = lines[0].index("KRUISE 1.6")
    verdicts = [line[column:].split()[0] for line in lines[1:7]]
    assert verdicts == ["incompatible"] * 3 + ["unknown"] + ["compatible"] * 2


def test_set_stats_summary_caps_incompatible_hosts() -> None:
    facts = mixed_fleet()[0]["node-ctd14"]
    report = build_report(
        {f"n{i}": facts for i in range(60)}, kruise_version="1.6.0", generated_at=GENERATED_AT
    )
    stats = set_stats_summary(report)
    assert stats["incompatible"] == 60
    assert len(stats["incompatible_hosts"]) == 50
    assert stats["incompatible_hosts"][:3] == ["n0", "n1", "n2"]
    assert stats["incompatible_hosts_truncated"] is True
    assert stats["verdict"] == "incompatible" and stats["line"] == "1.6"
    assert set_stats_summary(sample_report())["incompatible_hosts_truncated"] is False
