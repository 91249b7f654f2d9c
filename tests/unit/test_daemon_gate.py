"""The plan of turning kruise-daemon off and back on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.kruise_cri.remediation.plugins.filter.daemon_gate_plan import FilterModule
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.daemon_gate import (
    RECORD_DAEMONSET,
    RECORD_FEATURE_GATES,
    RECORD_FEATURE_GATES_SET,
    STOPS_WORKING,
    daemon_gate_plan,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.feature_gates import (
    FeatureGatesError,
)


def facts(
    argument: str | None = "ImagePullJobGate=true",
    *,
    daemon: bool = True,
    in_use: bool = False,
    summary: list[str] | None = None,
    kinds: dict[str, Any] | None = None,
    method: str = "helm",
) -> dict[str, Any]:
    return {
        "installed": True,
        "namespace": "kruise-system",
        "install": {"method": method},
        "feature_gates": {"argument": argument},
        "daemon": {"name": "kruise-daemon"} if daemon else None,
        "feature_use": {
            "in_use": in_use,
            "summary": summary or [],
            "kinds": kinds or {"ContainerRecreateRequest": {"crd": True, "count": 0}},
        },
    }


def helm_info(
    user: str | None, computed: str | None = None, history: list | None = None
) -> dict[str, Any]:
    values = {} if user is None else {"featureGates": user}
    return {
        "release": {"release": "kruise", "values": values},
        "computed_values": {"featureGates": user if user is not None else computed},
        "history": history or [],
    }


def revision(number: int, user: str | None, computed: str = "ImagePullJobGate=true") -> dict:
    return {
        "revision": number,
        "values": {} if user is None else {"featureGates": user},
        "computed_values": {"featureGates": user if user is not None else computed},
    }


def test_disable_merges_into_the_users_gates():
    plan = daemon_gate_plan(
        facts("ImagePullJobGate=True, PodProbeMarkerGate = true"),
        "disable",
        helm=helm_info("ImagePullJobGate=True, PodProbeMarkerGate = true"),
    )
    assert plan["method"] == "helm"
    assert plan["refused"] == []
    assert plan["values"] == {
        "featureGates": "ImagePullJobGate=true,PodProbeMarkerGate=true,KruiseDaemon=false"
    }
    assert plan["daemon"] == "absent"
    assert plan["changed"] is True
    assert plan["stops_working"] == list(STOPS_WORKING)


def test_disable_starts_from_the_chart_default_when_the_user_set_no_gates():
    plan = daemon_gate_plan(
        facts(), "disable", helm=helm_info(None, computed="ImagePullJobGate=true")
    )
    assert plan["values"] == {"featureGates": "ImagePullJobGate=true,KruiseDaemon=false"}


def test_disable_fixes_a_gate_the_chart_misreads():
    plan = daemon_gate_plan(
        facts("KruiseDaemon=False"), "disable", helm=helm_info("KruiseDaemon=False")
    )
    assert plan["values"] == {"featureGates": "KruiseDaemon=false"}
    assert plan["changed"] is True
    assert any("still renders the kruise-daemon DaemonSet" in note for note in plan["notes"])


def test_disable_refuses_when_daemon_features_are_in_use_unless_forced():
    kruise = facts(in_use=True, summary=["3 ContainerRecreateRequests", "1 active ImagePullJob"])
    plan = daemon_gate_plan(kruise, "disable", helm=helm_info("ImagePullJobGate=true"))
    assert plan["in_use"] is True
    assert "3 ContainerRecreateRequests; 1 active ImagePullJob" in plan["refused"][0]
    assert "force: true" in plan["refused"][-1]
    forced = daemon_gate_plan(
        kruise, "disable", force=True, helm=helm_info("ImagePullJobGate=true")
    )
    assert forced["refused"] == []
    assert any(note.startswith("forced past:") for note in forced["notes"])


def test_disable_refuses_when_feature_use_could_not_be_checked():
    kruise = facts(kinds={"ImagePullJob": {"crd": True, "count": 0, "error": "HTTP 403 no"}})
    plan = daemon_gate_plan(kruise, "disable", helm=helm_info("ImagePullJobGate=true"))
    assert plan["in_use"] is None
    assert "could not be checked for ImagePullJob: HTTP 403 no" in plan["refused"][0]


def test_disable_is_a_no_op_once_done():
    plan = daemon_gate_plan(
        facts("ImagePullJobGate=true,KruiseDaemon=false", daemon=False),
        "disable",
        helm=helm_info("ImagePullJobGate=true,KruiseDaemon=false"),
    )
    assert plan["changed"] is False


def test_malformed_gates_fail_the_plan():
    with pytest.raises(FeatureGatesError, match="has no value"):
        daemon_gate_plan(facts("ImagePullJobGate"), "disable", helm=helm_info("ImagePullJobGate"))


def test_enable_restores_exactly_what_the_previous_revision_had():
    history = [
        revision(3, "ImagePullJobGate=true,PodWebhook=false,KruiseDaemon=false"),
        revision(2, "ImagePullJobGate=True, PodWebhook = false"),
        revision(1, None),
    ]
    plan = daemon_gate_plan(
        facts("ImagePullJobGate=true,PodWebhook=false,KruiseDaemon=false", daemon=False),
        "enable",
        helm=helm_info("ImagePullJobGate=true,PodWebhook=false,KruiseDaemon=false", None, history),
    )
    assert plan["values"] == {"featureGates": "ImagePullJobGate=True, PodWebhook = false"}
    assert plan["daemon"] == "present"
    assert plan["changed"] is True


def test_enable_unsets_the_value_when_the_user_had_not_set_it():
    history = [revision(2, "ImagePullJobGate=true,KruiseDaemon=false"), revision(1, None)]
    plan = daemon_gate_plan(
        facts("ImagePullJobGate=true,KruiseDaemon=false", daemon=False),
        "enable",
        helm=helm_info("ImagePullJobGate=true,KruiseDaemon=false", None, history),
    )
    assert plan["values"] == {"featureGates": None}  # null: the chart's default again


def test_enable_restores_only_the_gate_when_other_gates_changed_since():
    history = [
        revision(3, "A=true,B=true,KruiseDaemon=false"),
        revision(2, "A=true,KruiseDaemon=false"),
        revision(1, "A=true,KruiseDaemon=true"),
    ]
    plan = daemon_gate_plan(
        facts("A=true,B=true,KruiseDaemon=false", daemon=False),
        "enable",
        helm=helm_info("A=true,B=true,KruiseDaemon=false", None, history),
    )
    assert plan["values"] == {"featureGates": "A=true,B=true,KruiseDaemon=true"}


def test_enable_without_history_removes_the_gate():
    plan = daemon_gate_plan(
        facts("A=true,KruiseDaemon=false", daemon=False),
        "enable",
        helm=helm_info("A=true,KruiseDaemon=false"),
    )
    assert plan["values"] == {"featureGates": "A=true"}
    assert any("no earlier state" in note for note in plan["notes"])


def test_enable_is_a_no_op_when_the_daemon_runs():
    plan = daemon_gate_plan(facts("A=true"), "enable", helm=helm_info("A=true"))
    assert plan["changed"] is False
    assert plan["values"] == {}


def test_manifests_disable_and_enable_from_the_record():
    kruise = facts("ImagePullJobGate=true", method="manifests")
    plan = daemon_gate_plan(kruise, "disable")
    assert plan["method"] == "manifests"
    assert plan["feature_gates"] == "ImagePullJobGate=true,KruiseDaemon=false"
    assert plan["values"] == {"featureGates": plan["feature_gates"]}

    disabled = facts("ImagePullJobGate=true,KruiseDaemon=false", daemon=False, method="manifests")
    record = {
        RECORD_FEATURE_GATES: "ImagePullJobGate=true",
        RECORD_FEATURE_GATES_SET: "true",
        RECORD_DAEMONSET: json.dumps({"kind": "DaemonSet"}),
    }
    plan = daemon_gate_plan(disabled, "enable", record=record)
    assert plan["feature_gates"] == "ImagePullJobGate=true"
    assert plan["refused"] == []
    assert plan["changed"] is True

    absent_before = {**record, RECORD_FEATURE_GATES: "", RECORD_FEATURE_GATES_SET: "false"}
    only_gate = facts("KruiseDaemon=false", daemon=False, method="manifests")
    assert daemon_gate_plan(only_gate, "enable", record=absent_before)["feature_gates"] == ""


def test_manifests_enable_refuses_without_a_saved_daemonset():
    disabled = facts("KruiseDaemon=false", daemon=False, method="manifests")
    plan = daemon_gate_plan(disabled, "enable", record={})
    assert "no saved copy" in plan["refused"][0]


@pytest.mark.parametrize(
    ("kruise", "direction", "words"),
    [
        (facts(), "off", "direction"),
        ({"kruise": {}}, "disable", "kruise_info"),
        ({**facts(), "installed": False}, "disable", "not installed"),
    ],
)
def test_bad_input(kruise, direction, words):
    with pytest.raises(ValueError, match=words):
        daemon_gate_plan(kruise, direction)


def test_a_release_that_is_not_deployed_is_refused():
    info = helm_info("A=true")
    info["release"]["status"] = "failed"
    with pytest.raises(ValueError, match="'failed', not deployed"):
        daemon_gate_plan(facts(), "disable", helm=info)


def test_filter_wraps_errors():
    plan_filter = FilterModule().filters()["daemon_gate_plan"]
    assert plan_filter(facts(), "disable", False, helm_info("A=true"))["daemon"] == "absent"
    with pytest.raises(AnsibleFilterError, match="direction"):
        plan_filter(facts(), "sideways")


def test_disable_refusal_names_the_missing_permission():
    kinds = {
        "ContainerRecreateRequest": {
            "crd": True,
            "count": None,
            "error": "HTTP 403 forbidden",
            "missing_permission": "list containerrecreaterequests.apps.kruise.io",
        }
    }
    kruise = facts(kinds=kinds)
    kruise["feature_use"]["in_use"] = None
    plan = daemon_gate_plan(kruise, "disable", helm=helm_info("ImagePullJobGate=true"))
    assert plan["in_use"] is None
    assert "missing permission: list containerrecreaterequests.apps.kruise.io" in plan["refused"][0]


def test_disable_refuses_unknown_use_of_workloads_and_pods():
    kruise = facts()
    kruise["feature_use"]["sidecar_terminator_pods"] = {
        "count": None,
        "examples": [],
        "error": "HTTP 403 forbidden",
        "missing_permission": "list pods",
    }
    plan = daemon_gate_plan(kruise, "disable", helm=helm_info("ImagePullJobGate=true"))
    assert plan["in_use"] is None
    assert (
        "sidecar terminator: HTTP 403 forbidden (missing permission: list pods)"
        in (plan["refused"][0])
    )


def test_a_helm_install_is_never_planned_as_manifests():
    kruise = {**facts(), "manager": {"name": "kruise-controller-manager"}}
    kruise["install"] = {
        "method": "helm",
        "helm": {"release": "kruise", "namespace": "default"},
        "error": "the release cannot be read. Missing permission: get/list secrets in default",
    }
    with pytest.raises(ValueError, match=r"get/list secrets in default.*not the manifests"):
        daemon_gate_plan(kruise, "disable")


def test_an_unknown_install_is_refused_with_its_reason():
    kruise = facts()
    kruise.update(installed=None, manager=None)
    kruise["install"] = {"method": None, "helm": None, "error": "missing: list deployments.apps"}
    with pytest.raises(ValueError, match=r"list deployments\.apps; nothing was changed"):
        daemon_gate_plan(kruise, "disable")


def test_the_plan_is_refused_while_the_daemonset_is_unknown():
    kruise = facts(daemon=False)
    kruise["unread"] = {
        "daemon": {
            "error": "HTTP 403 daemonsets.apps is forbidden",
            "missing_permission": "list daemonsets.apps in kruise-system",
        }
    }
    for direction in ("disable", "enable"):
        with pytest.raises(ValueError) as refused:
            daemon_gate_plan(kruise, direction, helm=helm_info("ImagePullJobGate=true"))
        message = str(refused.value)
        assert "missing permission: list daemonsets.apps in kruise-system" in message
        assert message.endswith("Nothing was changed")
