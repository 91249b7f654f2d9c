"""The pin plan: target version, values kept and changed, what 1.5 would lose."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_pin_check import (
    PinError,
    image_repository,
    parse_target_version,
    pin_plan,
    read_needs,
)


def facts(
    gates: str | None = "ImagePullJobGate=true",
    image: str = "openkruise/kruise-manager:v1.6.3",
    daemon: bool = True,
) -> dict[str, Any]:
    return {
        "installed": True,
        "version": "1.6.3",
        "namespace": "kruise-system",
        "manager": {"name": "kruise-controller-manager", "image": image},
        "feature_gates": {"argument": gates},
        "daemon": {"name": "kruise-daemon", "image": image} if daemon else None,
    }


def release(values: dict[str, Any] | None = None, chart_version: str = "1.6.3") -> dict:
    return {
        "release": "kruise",
        "namespace": "default",
        "revision": 3,
        "chart_version": chart_version,
        "app_version": chart_version,
        "values": values or {},
    }


def chart(tag: str = "v1.5.5", gates: str = "ImagePullJobGate=true") -> dict[str, Any]:
    return {
        "name": "kruise",
        "version": "1.5.5",
        "default_values": {"featureGates": gates, "manager": {"image": {"tag": tag}}},
    }


@pytest.mark.parametrize("text", ["1.5.5", "v1.5.5", "1.5.0", " 1.5.3 "])
def test_1_5_versions_are_accepted(text):
    assert parse_target_version(text).startswith("1.5.")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("1.6.0", "only 1.5.x can be pinned"),
        ("1.4.2", "only 1.5.x"),
        ("1.5", "not a version"),
        ("latest", "not a version"),
        (None, "not a version"),
    ],
)
def test_other_versions_are_refused_with_the_reason(text, words):
    with pytest.raises(PinError, match=words):
        parse_target_version(text)


def test_helm_pin_keeps_values_and_sets_nothing_the_chart_already_does():
    user = {
        "featureGates": "ImagePullJobGate=true,PodWebhook=false",
        "daemon": {"socketLocation": "/run"},
    }
    plan = pin_plan("1.5.5", facts(), helm=release(user), chart=chart())
    assert plan["method"] == "helm"
    assert plan["refused"] == []
    assert plan["values"] == {}  # upstream 1.5.5's default tag is v1.5.5: nothing to set
    assert plan["changes"] == ["chart 1.6.3 -> 1.5.5"]
    assert plan["expected"] == {
        "version_line": "1.5",
        "feature_gates": "ImagePullJobGate=true,PodWebhook=false",
        "daemon": "present",
    }
    assert plan["record"]["helm"]["revision"] == 3
    assert plan["record"]["helm"]["values"] == user


def test_helm_pin_sets_the_tag_when_the_chart_default_is_not_1_5():
    plan = pin_plan("1.5.5", facts(), helm=release(), chart=chart(tag="v1.6.3"))
    assert plan["values"] == {"manager": {"image": {"tag": "v1.5.5"}}}
    assert "manager.image.tag set to v1.5.5" in plan["changes"]


def test_helm_pin_replaces_a_users_newer_tag_and_keeps_a_1_5_one():
    newer = pin_plan(
        "1.5.5", facts(), helm=release({"manager": {"image": {"tag": "v1.6.3"}}}), chart=chart()
    )
    assert newer["values"] == {"manager": {"image": {"tag": "v1.5.5"}}}
    assert any("replaced by v1.5.5" in note for note in newer["notes"])
    own = pin_plan(
        "1.5.5", facts(), helm=release({"manager": {"image": {"tag": "v1.5.4"}}}), chart=chart()
    )
    assert own["values"] == {}
    assert any("stays v1.5.4 (a 1.5.x tag already" in note for note in own["notes"])


def test_rerun_after_the_pin_changes_nothing():
    pinned = release({"manager": {"image": {"tag": "v1.5.5"}}}, chart_version="1.5.5")
    plan = pin_plan(
        "1.5.5", facts(image="openkruise/kruise-manager:v1.5.5"), helm=pinned, chart=chart("v1.6.3")
    )
    assert plan["changed"] is False
    assert plan["values"] == {}


def test_enabled_gates_unknown_to_1_5_block_disabled_ones_are_dropped():
    user = {"featureGates": "ImagePullJobGate=true,EnhancedLivenessProbe=true,PodIndexLabel=false"}
    plan = pin_plan("1.5.5", facts(user["featureGates"]), helm=release(user), chart=chart())
    assert len(plan["refused"]) == 1
    assert "EnhancedLivenessProbe=true" in plan["refused"][0]
    assert any("PodIndexLabel removed" in note for note in plan["notes"])
    forced = pin_plan("1.5.5", facts(), force=True, helm=release(user), chart=chart())
    assert forced["refused"] == []
    assert forced["blockers"] == plan["blockers"]
    assert forced["values"]["featureGates"] == "ImagePullJobGate=true"
    assert forced["expected"]["feature_gates"] == "ImagePullJobGate=true"


def test_values_only_newer_charts_read_block_when_set():
    user = {
        "webhookConfiguration": {"timeoutSeconds": 15},
        "daemon": {"credentialProvider": {"enable": False, "hostPath": "/etc/creds"}},
        "externalCerts": {"annotations": {}},
        "manager": {"loggingFormat": "json"},
    }
    plan = pin_plan("1.5.5", facts(), helm=release(user), chart=chart())
    blocked = " ".join(plan["refused"])
    assert "webhookConfiguration.timeoutSeconds" in blocked
    assert "manager.loggingFormat" in blocked
    assert "credentialProvider" not in blocked  # not enabled: nothing in use
    assert "externalCerts" not in blocked  # empty


def test_kinds_and_versions_1_5_lacks():
    crds = [
        {"name": "clonesets.apps.kruise.io", "group": "apps.kruise.io", "kind": "CloneSet",
         "served_versions": ["v1alpha1"], "stored_versions": ["v1alpha1"], "count": None},
        {"name": "ephemeraljobs.apps.kruise.io", "group": "apps.kruise.io", "kind": "EphemeralJob",
         "served_versions": ["v1alpha1"], "stored_versions": ["v1alpha1"], "count": 2},
        {"name": "nodeimages.apps.kruise.io", "group": "apps.kruise.io", "kind": "NodeImage",
         "served_versions": ["v1alpha1", "v1beta1"], "stored_versions": ["v1alpha1", "v1beta1"],
         "count": None},
        {"name": "sidecarsets.apps.kruise.io", "group": "apps.kruise.io", "kind": "SidecarSet",
         "served_versions": ["v1alpha1", "v1beta1"], "stored_versions": ["v1alpha1"],
         "count": None},
        {"name": "empty.apps.kruise.io", "group": "apps.kruise.io", "kind": "Empty",
         "served_versions": ["v1alpha1"], "stored_versions": ["v1alpha1"], "count": 0},
        {"name": "gone.apps.kruise.io", "group": "apps.kruise.io", "kind": "Gone",
         "served_versions": ["v1alpha1"], "stored_versions": ["v1alpha1"], "count": None,
         "error": "HTTP 403 forbidden"},
    ]  # fmt: skip
    plan = pin_plan("1.5.5", facts(), helm=release(), chart=chart(), crds=crds)
    blocked = plan["refused"]
    assert any(b.startswith("2 EphemeralJob objects") and "deletes the CRD" in b for b in blocked)
    assert any("stored as apps.kruise.io/v1beta1" in b and "NodeImage" in b for b in blocked)
    assert any("Gone" in b and "HTTP 403" in b for b in blocked)
    assert len(blocked) == 3
    assert any("SidecarSet: v1beta1 is served" in note for note in plan["notes"])
    assert any("Empty" in note for note in plan["notes"])


def test_manifests_pin_sets_both_images_and_strips_unknown_disabled_gates():
    kruise = facts(
        "ImagePullJobGate=true,PodIndexLabel=false", image="reg:5000/ok/kruise-manager:v1.6.3"
    )
    plan = pin_plan("1.5.5", kruise)
    assert plan["method"] == "manifests"
    assert plan["refused"] == []
    assert plan["manager_image"] == "reg:5000/ok/kruise-manager:v1.5.5"
    assert plan["daemon_image"] == "reg:5000/ok/kruise-manager:v1.5.5"
    assert plan["feature_gates"] == "ImagePullJobGate=true"
    assert plan["record"]["manifests"] == {
        "namespace": "kruise-system",
        "manager_image": "reg:5000/ok/kruise-manager:v1.6.3",
        "daemon_image": "reg:5000/ok/kruise-manager:v1.6.3",
        "feature_gates": "ImagePullJobGate=true,PodIndexLabel=false",
    }
    again = pin_plan("1.5.5", facts(image="reg:5000/ok/kruise-manager:v1.5.5"))
    assert again["changed"] is False
    assert again["feature_gates"] is None


def test_not_installed_and_wrong_inputs():
    with pytest.raises(PinError, match="not installed"):
        pin_plan("1.5.5", {**facts(), "installed": False, "manager": None})
    with pytest.raises(PinError, match="kruise_info"):
        pin_plan("1.5.5", {"kruise": {}})
    with pytest.raises(PinError, match="target chart"):
        pin_plan("1.5.5", facts(), helm=release(), chart=None)
    with pytest.raises(PinError, match="'pending-upgrade', not deployed"):
        pin_plan("1.5.5", facts(), helm={**release(), "status": "pending-upgrade"}, chart=chart())
    with pytest.raises(PinError, match=r"not 1\.5\.5"):
        pin_plan("1.5.5", facts(), helm=release(), chart={**chart(), "version": "1.6.3"})


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("openkruise/kruise-manager:v1.6.3", "openkruise/kruise-manager"),
        ("reg:5000/openkruise/kruise-manager:v1.6.3", "reg:5000/openkruise/kruise-manager"),
        ("reg:5000/kruise-manager@sha256:abc", "reg:5000/kruise-manager"),
        ("kruise-manager", "kruise-manager"),
        (None, None),
    ],
)
def test_image_repository(image, repository):
    assert image_repository(image) == repository


def test_a_helm_install_whose_release_cannot_be_read_is_not_pinned_as_manifests():
    kruise = facts()
    kruise["install"] = {
        "method": "helm",
        "helm": {"release": "kruise", "namespace": "default"},
        "error": "the release cannot be read. Missing permission: get/list secrets in default",
    }
    with pytest.raises(PinError, match=r"get/list secrets in default.*undoes the pin"):
        pin_plan("1.5.5", kruise)


def test_an_unreadable_manager_is_not_called_absent():
    kruise = facts()
    kruise.update(installed=None, manager=None)
    kruise["install"] = {"method": None, "helm": None, "error": "missing: list deployments.apps"}
    with pytest.raises(PinError, match=r"list deployments\.apps; nothing was changed"):
        pin_plan("1.5.5", kruise)


def test_the_module_asks_to_list_the_crds():
    assert [need.describe() for need in read_needs()] == [
        "list customresourcedefinitions.apiextensions.k8s.io"
    ]


UNREAD_DAEMON = {
    "error": "HTTP 403 daemonsets.apps is forbidden",
    "missing_permission": "list daemonsets.apps in kruise-system",
}


def test_a_manifests_pin_is_refused_while_the_daemonset_is_unknown():
    kruise = {**facts(daemon=False), "install": {"method": "manifests"}}
    kruise["unread"] = {"daemon": UNREAD_DAEMON}
    with pytest.raises(PinError) as refused:
        pin_plan("1.5.5", kruise)
    assert "missing permission: list daemonsets.apps in kruise-system" in str(refused.value)
    assert str(refused.value).endswith("Nothing was changed")
    # The Helm path sets values: the chart says whether the DaemonSet is rendered.
    helm_facts = {**kruise, "install": {"method": "helm"}}
    assert pin_plan("1.5.5", helm_facts, helm=release(), chart=chart())["changed"]


def test_a_kind_that_could_not_be_counted_names_the_permission():
    crd = {
        "name": "gone.apps.kruise.io",
        "group": "apps.kruise.io",
        "kind": "Gone",
        "served_versions": ["v1alpha1"],
        "stored_versions": ["v1alpha1"],
        "count": None,
        "error": "HTTP 403 forbidden",
        "missing_permission": "list gones.apps.kruise.io",
    }
    plan = pin_plan("1.5.5", facts(), helm=release(), chart=chart(), crds=[crd])
    assert any("(missing permission: list gones.apps.kruise.io)" in b for b in plan["refused"])
