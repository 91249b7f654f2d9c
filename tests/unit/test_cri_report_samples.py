"""Sample reports in every format, kept for review with KC_REPORT_SAMPLE_DIR."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.html import (
    render_html,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.markdown import (
    render_markdown,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.model import (
    render_json,
)

from tests.unit.cri_report_fixtures import (
    planned_report,
    sample_report,
)


def test_write_sample_report(tmp_path: Path) -> None:
    """Renders the 6-node sample; KC_REPORT_SAMPLE_DIR=/tmp/kc-report-sample keeps it for review."""
    sample_dir = Path(os.environ.get("KC_REPORT_SAMPLE_DIR") or tmp_path)
    sample_dir.mkdir(parents=True, exist_ok=True)
    report = sample_report()
    for name, text in (
        ("report.html", render_html(report)),
        ("report.md", render_markdown(report)),
        ("report.json", render_json(report)),
    ):
        (sample_dir / name).write_text(text, encoding="utf-8")
    assert json.loads((sample_dir / "report.json").read_text(encoding="utf-8")) == report
    assert (sample_dir / "report.html").stat().st_size > 10_000


def test_write_planned_sample_report(tmp_path: Path) -> None:
    """KC_REPORT_SAMPLE_DIR=/tmp/kc-report-sample keeps it (in planned/) for review."""
    sample_dir = Path(os.environ.get("KC_REPORT_SAMPLE_DIR") or tmp_path) / "planned"
    sample_dir.mkdir(parents=True, exist_ok=True)
    report = planned_report()
    (sample_dir / "report.html").write_text(render_html(report), encoding="utf-8")
    (sample_dir / "report.md").write_text(render_markdown(report), encoding="utf-8")
    (sample_dir / "report.json").write_text(render_json(report), encoding="utf-8")
    assert json.loads((sample_dir / "report.json").read_text(encoding="utf-8")) == report
