"""report.html: self-contained, the recommendation first, the cluster section."""

from __future__ import annotations

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.html import (
    render_html,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.markdown import (
    render_markdown,
)

from tests.unit.cri_report_fixtures import (
    PIN_COMMAND,
    planned_report,
    sample_report,
)


def test_html_is_self_contained_and_highlights_target() -> None:
    page = render_html(sample_report())
    assert page.startswith("<!DOCTYPE html>")
    for external in ("http://", "https://", "<link", "@import", "src="):
        # The only URL in the sample is the node's own registry mirror, shown as escaped text.
        assert external not in page.replace("https://mirror.example.invalid", "")
    assert '<tr class="target">' in page
    # every assessed node (the unreachable one has no evidence), besides the plan's "Why"s
    assert page.count("<details>") - page.count("<details><summary>Why") == 5
    assert "3 of 6 nodes cannot run kruise-daemon 1.6" in page
    assert page.index('id="nodes-incompatible"') < page.index('id="nodes-compatible"')


def test_html_opens_with_the_recommendation_and_shows_the_cluster() -> None:
    page = render_html(planned_report())
    body = page.split("<main", 1)[1]
    ids = ['id="recommendation"', 'id="summary"', 'id="cluster"', 'id="lines"', 'id="ways-out"']
    positions = [body.index(marker) for marker in ids]
    assert positions == sorted(positions)
    assert f'<pre class="command"><code>{PIN_COMMAND}</code></pre>' in page
    assert "Step 1 of 2" in page and "risk: medium" in page
    assert 'class="paths"' not in page  # the plan's table replaces the node-only cards
    assert page.count('<span class="tag">recommended</span>') == 1
    assert "kruise-daemon-7xk2p" in page and "ImagePullJobGate=true" in page
    assert 'href="#recommendation"' in page and 'href="#cluster"' in page


def test_plan_without_cluster_says_the_cluster_is_unknown() -> None:
    report = planned_report(with_cluster=False)
    assert report["cluster"] is None
    assert report["plan"]["cluster_known"] is False
    assert "## Cluster" not in render_markdown(report)
    page = render_html(report)
    assert 'id="cluster"' not in page
    assert "from the node facts alone" in page
    assert 'id="recommendation"' in page
