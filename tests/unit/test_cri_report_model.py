"""Report model: the node facts aggregated, the verdicts, the per-line matrix, version parsing
and the JSON form."""

from __future__ import annotations

import json

import pytest
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.html import (
    render_html,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.markdown import (
    render_markdown,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.model import (
    build_report,
    parse_kruise_version,
    render_json,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.text import (
    summary_table,
)

from tests.unit.cri_report_fixtures import (
    GENERATED_AT,
    LINES,
    mixed_fleet,
    sample_report,
)


def test_counts_and_overall_verdict_on_mixed_fleet() -> None:
    report = sample_report()
    assert report["target"] == {"kruise_version": "1.6.0", "line": "1.6"}
    summary = report["summary"]
    assert (summary["nodes"], summary["compatible"], summary["incompatible"]) == (6, 2, 3)
    assert summary["unknown"] == 1
    assert summary["verdict"] == "incompatible"
    assert summary["by_runtime"] == {
        "containerd v1.4.13": 1,
        "containerd v1.6.20": 1,
        "containerd v2.1.9": 1,
        "docker 20.10.24+dfsg1": 2,
        "unknown": 1,
    }


def test_groups_order_and_members() -> None:
    report = sample_report()
    assert list(report["groups"]) == ["incompatible", "unknown", "compatible"]
    hosts = {verdict: [n["host"] for n in nodes] for verdict, nodes in report["groups"].items()}
    assert hosts == {
        "incompatible": ["node-ctd14", "node-docker-cri-ctd", "node-dockershim"],
        "unknown": ["node-gone"],
        "compatible": ["node-ctd16", "node-ctd21"],
    }
    node = report["groups"]["incompatible"][1]
    assert node["reason"].startswith("kruise-daemon 1.6 starts on containerd")
    assert node["kubelet_runtime"] == "docker"
    assert node["kubelet_endpoint"] == "unix:///var/run/dockershim.sock"
    assert [e["cri_api_versions"] for e in node["endpoints"]] == [["v1", "v1alpha2"], ["v1alpha2"]]
    assert node["docker"]["version"] == "20.10.24+dfsg1"
    assert node["lines"] == {"1.4": True, "1.5": True, "1.6": False, "1.7": False, "1.8": False}
    gone = report["groups"]["unknown"][0]
    assert gone["reason"] == (
        "unreachable: Failed to connect to the host via ssh: Connection timed out"
    )
    assert gone["lines"] == {} and gone["endpoints"] == [] and gone["docker"] is None


def test_per_line_matrix_shows_the_bridge_line() -> None:
    report = sample_report()
    assert list(report["per_line"]) == list(LINES)
    assert report["per_line"]["1.5"] == {"compatible": 5, "incompatible": 0, "unknown": 1}
    assert report["per_line"]["1.4"] == {"compatible": 4, "incompatible": 1, "unknown": 1}
    assert report["per_line"]["1.6"] == {"compatible": 2, "incompatible": 3, "unknown": 1}


def test_failed_hosts_and_hosts_without_facts_are_unknown() -> None:
    hosts, _unused = mixed_fleet()
    hosts["node-nofacts"] = None
    hosts["node-oldschema"] = {"schema": 7}
    report = build_report(
        hosts,
        kruise_version="1.6.0",
        generated_at=GENERATED_AT,
        failed={"node-ctd16": "module failure", "node-x": "boom"},
    )
    unknown = {n["host"]: n["reason"] for n in report["groups"]["unknown"]}
    assert unknown == {
        "node-ctd16": "fact gathering failed: module failure",
        "node-nofacts": "no kruise_cri facts were gathered for this host",
        "node-oldschema": "kruise_cri facts schema 7 is not supported (expected 1)",
        "node-x": "fact gathering failed: boom",
    }
    assert report["summary"]["nodes"] == 8


def test_target_line_missing_from_facts_is_unknown_and_in_the_matrix() -> None:
    hosts, _unused = mixed_fleet()
    report = build_report(hosts, kruise_version="1.9.1", generated_at=GENERATED_AT)
    assert report["summary"]["unknown"] == 5
    assert report["summary"]["verdict"] == "unknown"
    assert list(report["per_line"])[-1] == "1.9"
    assert report["groups"]["unknown"][0]["reason"] == (
        "the facts hold no verdict for kruise-daemon 1.9"
    )
    # The planner has no rules for 1.9: the report says so instead of guessing a way out.
    assert report["plan"] is None
    assert "target_version '1.9.1' is on line 1.9" in report["plan_error"]
    assert "Not planned: target\\_version" in render_markdown(report)
    assert "Not planned: target_version" in render_html(report)


def test_empty_fleet() -> None:
    report = build_report({}, kruise_version="1.6.0", generated_at=GENERATED_AT)
    assert report["summary"] == {
        "nodes": 0,
        "compatible": 0,
        "incompatible": 0,
        "unknown": 0,
        "by_runtime": {},
        "verdict": "unknown",
    }
    assert report["groups"] == {"incompatible": [], "unknown": [], "compatible": []}
    assert report["plan"]["recommendation"]["path"] == "nothing_to_do"
    assert report["plan_error"] is None
    assert "Nothing to do" in render_html(report)
    assert "None." in render_markdown(report)
    assert summary_table(report).splitlines()[-1].startswith("0 nodes:")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1.6.0", ("1.6.0", "1.6")), ("v1.5", ("1.5", "1.5")), ("v1.10.2", ("1.10.2", "1.10"))],
)
def test_kruise_version_forms(value: str, expected: tuple[str, str]) -> None:
    assert parse_kruise_version(value) == expected


@pytest.mark.parametrize("value", ["1", "1.6.0.1", "latest", "1.6.x", "", " 1.6", None, 1.6])
def test_malformed_kruise_version(value: object) -> None:
    with pytest.raises(ValueError, match=r"kruise_version .* expected X\.Y or X\.Y\.Z") as info:
        build_report({}, kruise_version=value, generated_at=GENERATED_AT)  # type: ignore[arg-type]
    assert repr(value) in str(info.value)


def test_hosts_are_sorted_naturally_and_report_is_json_stable() -> None:
    facts = mixed_fleet()[0]["node-ctd16"]
    report = build_report(
        {"n10": facts, "n2": facts, "n1": facts},
        kruise_version="1.6.0",
        generated_at=GENERATED_AT,
    )
    assert [n["host"] for n in report["groups"]["compatible"]] == ["n1", "n2", "n10"]
    text = render_json(report)
    assert text.endswith("}\n")
    assert list(json.loads(text)) == [
        "schema",
        "generated_at",
        "target",
        "summary",
        "per_line",
        "groups",
        "cluster",
        "plan",
        "plan_error",
    ]
    assert json.loads(text) == report
