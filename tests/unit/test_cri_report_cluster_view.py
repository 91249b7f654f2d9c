"""What the report keeps of the cluster facts and the plan."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.html import (
    render_html,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.markdown import (
    render_markdown,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.model import (
    build_report,
    render_json,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.stats import (
    set_stats_summary,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.views import (
    cluster_display,
)

from tests.unit.cri_report_fixtures import (
    CRASH_MESSAGE,
    GENERATED_AT,
    PIN_COMMAND,
    cluster_facts,
    planned_report,
)


def test_cluster_is_kept_trimmed() -> None:
    cluster = planned_report()["cluster"]
    assert cluster["version"] == "1.6.3" and cluster["installed"] is True
    assert cluster["api"] == {"server": "https://10.0.0.1:6443", "version": "v1.30.4"}
    assert cluster["install"] == {
        "method": "helm",
        "helm": {
            "release": "kruise",
            "namespace": "kruise-system",
            "revision": 3,
            "status": "deployed",
            "chart": "kruise",
            "chart_version": "1.6.3",
            "app_version": "1.6.3",
            "values": {
                "featureGates": "ImagePullJobGate=true",
                "daemon": {"socketLocation": "/var/run"},
            },
        },
    }
    assert cluster["feature_gates"]["daemon_enabled"] is True
    assert cluster["manager"] == {
        "name": "kruise-controller-manager",
        "image": "openkruise/kruise-manager:v1.6.3",
        "replicas": 2,
        "ready_replicas": 2,
    }
    daemon = cluster["daemon"]
    assert (daemon["desired"], daemon["ready"]) == (5, 2)
    assert [pod["node"] for pod in daemon["crash_looping"]] == ["node-dockershim", "node-ctd14"]
    assert daemon["crash_looping"][0]["last_message"] == CRASH_MESSAGE
    assert cluster["nodes"] == {
        "count": 5,
        "ready": 5,
        "by_runtime": {
            "containerd://1.4.13": 1,
            "containerd://1.6.20": 1,
            "containerd://2.1.9": 1,
            "docker://20.10.24": 2,
        },
        "daemon_pods": {"crash-looping": 3, "running": 2},
    }
    assert cluster["feature_use"]["in_use"] is True
    assert cluster["feature_use"]["kinds"]["ContainerRecreateRequest"] == {"crd": True, "count": 3}
    assert cluster["findings"][0]["message"] == "CRD not installed"
    assert cluster["requests"] == {"count": 23, "by_resource": {"nodes": 1, "pods": 2}}
    text = json.dumps(cluster)
    for secret in ("daemon-secret", "registry-secret", "manager-arg-secret", "seconds"):
        assert secret not in text


def test_plan_is_kept_as_is_and_its_recommendation_summarised() -> None:
    report = planned_report()
    assert report["plan"]["schema"] == 1
    rec = report["plan"]["recommendation"]
    assert rec["path"] == "pin_1_5" and rec["command"] == PIN_COMMAND
    assert [path["id"] for path in report["plan"]["paths"]] == [
        "migrate_runtime",
        "pin_1_5",
        "disable_daemon",
        "nothing_to_do",
    ]
    stats = set_stats_summary(report)
    assert stats["recommendation"] == {
        "path": "pin_1_5",
        "title": "Pin OpenKruise 1.5.5",
        "command": PIN_COMMAND,
        "commands": rec["commands"],
        "risk": rec["risk"]["level"],
        "launches": rec["launches"],
    }
    # What an AWX workflow's next job runs: the pin first, with the version it pins to.
    assert stats["recommendation"]["launches"][0] == {
        "path": "pin_1_5",
        "playbook": "kruise_cri.remediation.pin_kruise",
        "limit": [],
        "extra_vars": {"kruise_cri_target_version": "1.5.5"},
    }
    assert [launch["path"] for launch in rec["launches"]] == rec["steps"]
    assert json.loads(render_json(report)) == report
    assert list(report)[-3:] == ["cluster", "plan", "plan_error"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cluster": {"kruise": {"schema": 1}}}, "cluster: schema None is not supported"),
        ({"cluster": ["x"]}, "cluster must be the kruise dict"),
        ({"plan": {"plan": {"schema": 1}}}, "plan: schema None is not supported"),
        ({"plan": "pin"}, "plan must be the plan of kruise_cri.remediation.remediation_plan"),
    ],
)
def test_malformed_cluster_or_plan(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        build_report({}, kruise_version="1.6.0", generated_at=GENERATED_AT, **kwargs)


def test_what_kruise_info_could_not_read_is_unknown_in_the_report_not_none() -> None:
    cluster = cluster_facts()
    cluster["nodes"] = None
    cluster["daemon"] = None
    cluster["unread"] = {
        "nodes": {"error": "HTTP 403 forbidden", "missing_permission": "list nodes"},
        "daemon": {
            "error": "HTTP 403 forbidden",
            "missing_permission": "list daemonsets.apps in kruise-system",
        },
    }
    report = planned_report(cluster)
    assert report["cluster"]["unread"] == {
        "daemon": "HTTP 403 forbidden; missing permission: list daemonsets.apps in kruise-system",
        "nodes": "HTTP 403 forbidden; missing permission: list nodes",
    }
    rows = dict(cluster_display(report["cluster"])["rows"])
    assert rows["Nodes"].startswith("unknown: the nodes could not be listed")
    assert rows["kruise-daemon"].startswith("unknown: the DaemonSets could not be listed")
    assert "missing permission: list nodes" in render_markdown(report)
    html = render_html(report)
    assert "no kruise-daemon DaemonSet" not in html
    assert "missing permission: list daemonsets.apps in kruise-system" in html


def test_unlisted_daemon_pods_are_not_counted_as_none_crash_looping() -> None:
    cluster = cluster_facts()
    cluster["daemon"]["crash_looping"] = None
    cluster["unread"] = {
        "daemon_pods": {"error": "HTTP 403", "missing_permission": "list pods in kruise-system"}
    }
    rows = dict(cluster_display(planned_report(cluster)["cluster"])["rows"])
    assert (
        "crash-looping pods unknown (HTTP 403; missing permission: list pods in kruise-system)"
        in (rows["kruise-daemon"])
    )
