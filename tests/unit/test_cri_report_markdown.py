"""report.md: structure, the recommendation first, the cluster section."""

from __future__ import annotations

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.html import (
    render_html,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.markdown import (
    render_markdown,
)

from tests.unit.cri_report_fixtures import (
    PIN_COMMAND,
    cluster_facts,
    planned_report,
    sample_report,
)


def test_markdown_structure() -> None:
    text = render_markdown(sample_report())
    assert text.startswith("# kruise-daemon CRI assessment\n")
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "| 6 | 2 | 3 | 1 |" in text
    assert "| **1.6** (target) | 2 | 3 | 1 | no |" in text
    assert "| 1.5 | 5 | 0 | 1 | on every assessed node |" in text
    # The ways out are the planner's, made from the same facts when no plan is given.
    assert "| **Pin OpenKruise 1.5.5** (recommended) | partly |" in text
    assert "### Incompatible (3)" in text and "### Unknown (1)" in text
    # Every table row in the document has a consistent cell count with its header.
    for block in text.split("\n\n"):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        if rows:
            widths = {line.replace(r"\|", "").count("|") for line in rows}
            assert len(widths) == 1, block


def test_markdown_opens_with_the_recommendation_and_its_command() -> None:
    text = render_markdown(planned_report())
    order = [
        "## Recommendation",
        "## Summary",
        "## Cluster",
        "## kruise-daemon lines",
        "## Ways out",
        "## Nodes",
    ]
    positions = [text.index(heading) for heading in order]
    assert positions == sorted(positions)
    recommendation = text[positions[0] : positions[1]]
    assert "**Pin OpenKruise 1.5.5** · risk: **medium**" in recommendation
    assert f"```sh\n{PIN_COMMAND}\n```" in recommendation
    assert "Step 2 of 2:" in recommendation
    assert "kruise\\_cri.remediation.migrate\\_runtime" in recommendation
    cluster = text[positions[2] : positions[3]]
    assert "| OpenKruise | 1.6.3, Helm release kruise (namespace kruise-system" in cluster
    assert "| kruise-daemon | 2 of 5 pods ready, 2 pods crash-looping" in cluster
    assert "| Daemon features in use | yes: 3 ContainerRecreateRequests |" in cluster
    assert "### Crash-looping kruise-daemon pods (2)" in cluster
    ways_out = text[positions[4] : positions[5]]
    assert "| **Pin OpenKruise 1.5.5** (recommended) | partly |" in ways_out
    assert "| **Migrate to a containerd that serves CRI v1** (then) |" in ways_out
    assert "Every assessed node (5)" not in ways_out  # the node-only statement gives way
    for block in text.split("\n\n"):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        if rows:
            assert len({line.replace(r"\|", "").count("|") for line in rows}) == 1, block


def test_cluster_without_openkruise_or_its_daemon_renders() -> None:
    absent = {
        "schema": 1,
        "api": {"server": "https://10.0.0.1:6443", "version": "v1.30.4"},
        "installed": False,
        "version": None,
        "line": None,
        "namespace": None,
        "manager": None,
        "install": {"method": None, "helm": None},
        "feature_gates": {"argument": None, "gates": {}, "daemon_enabled": True},
        "daemon": None,
        "nodes": [],
        "feature_use": {"in_use": False, "summary": []},
        "findings": [],
    }
    report = planned_report(absent)
    assert report["cluster"]["daemon"] is None and report["cluster"]["manager"] is None
    assert report["cluster"]["requests"] == {"count": None, "by_resource": {}}
    text = render_markdown(report)
    assert "| OpenKruise | not installed |" in text
    assert "| kruise-daemon | no kruise-daemon DaemonSet |" in text
    assert "| Daemon features in use | none found |" in text
    page = render_html(report)
    assert '<div class="big">not installed</div>' in page

    disabled = cluster_facts()
    disabled["install"] = {"method": "manifests", "helm": None}
    disabled["feature_gates"]["daemon_enabled"] = False
    disabled["daemon"] = None
    report = planned_report(disabled)
    assert report["plan"]["recommendation"]["path"] == "nothing_to_do"
    text = render_markdown(report)
    assert "| OpenKruise | 1.6.3, from manifests (no Helm release) |" in text
    assert "| kruise-daemon | disabled (no DaemonSet) |" in text
    assert "Nothing to run." in text
    assert '<div class="big">daemon off</div>' in render_html(report)
