"""Edits of a manifest install: which fields are patched, the DaemonSet saved and restored."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster import (
    kruise_manifests as km,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster import (
    kruise_wait as kw,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeRequestError,
)

NS = "kruise-system"
BASE = f"/apis/apps/v1/namespaces/{NS}"
RECORD = f"/api/v1/namespaces/{NS}/configmaps/{km.RECORD_CONFIGMAP}"


def workload(kind: str, name: str, container: str, args: list[str], image: str) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": "u-1",
            "resourceVersion": "42",
            "generation": 3,
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "managedFields": [{}],
            "annotations": {"deprecated.daemonset.template.generation": "3"},
            "labels": {"control-plane": "daemon"},
        },
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "sidecar", "image": "busybox"},
                        {"name": container, "image": image, "args": args},
                    ]
                }
            }
        },
        "status": {"numberReady": 3},
    }


def manager(gates: str = "ImagePullJobGate=true") -> dict:
    return workload(
        "Deployment",
        "kruise-controller-manager",
        "manager",
        ["--enable-leader-election", f"--feature-gates={gates}", "--v=4"],
        "openkruise/kruise-manager:v1.6.3",
    )


def daemonset(gates: str = "ImagePullJobGate=true") -> dict:
    return workload(
        "DaemonSet",
        "kruise-daemon",
        "daemon",
        ["--logtostderr=true", f"--feature-gates={gates}"],
        "openkruise/kruise-manager:v1.6.3",
    )


class FakeClient:
    def __init__(self, objects: dict[str, Any]):
        self.objects = copy.deepcopy(objects)
        self.calls: list[tuple[str, str, Any]] = []

    def get(self, path, params=None, **_):
        if path not in self.objects:
            raise KubeRequestError(404, path, "not found")
        return copy.deepcopy(self.objects[path])

    def patch(self, path, body, *, merge=True, params=None, **_):
        self.calls.append(("PATCH", path, {"body": body, "merge": merge, "params": params}))
        return {}

    def delete(self, path, params=None, **_):
        self.calls.append(("DELETE", path, {"params": params}))
        return {}

    def post(self, path, body, params=None, **_):
        self.calls.append(("POST", path, {"body": body, "params": params}))
        return body

    def send(self, method, path, params=None, *, body=None, **_):
        self.calls.append((method, path, {"body": body, "params": params}))
        return b"{}"


def test_with_flag_replaces_in_place_or_reports_absence():
    assert km.with_flag(["--a=1", "--feature-gates=X=true"], "--feature-gates", "Y=false") == (
        ["--a=1", "--feature-gates=Y=false"],
        True,
    )
    assert km.with_flag(["--feature-gates", "X=true", "--v=2"], "--feature-gates", "Y") == (
        ["--feature-gates", "Y", "--v=2"],
        True,
    )
    assert km.with_flag(["--v=2"], "--feature-gates", "Y") == (["--v=2"], False)


def test_container_edit_changes_only_what_differs():
    container = {"name": "manager", "image": "a:v1", "args": ["--feature-gates=A=true"]}
    assert km.container_edit(container, image="a:v1", feature_gates="A=true") == {"name": "manager"}
    assert km.container_edit(container, image="a:v2", feature_gates=None) == {
        "name": "manager",
        "image": "a:v2",
    }
    assert km.container_edit({"name": "m", "args": ["--v=1"]}, image=None, feature_gates="B=1") == {
        "name": "m",
        "args": ["--v=1", "--feature-gates=B=1"],
    }
    in_command = {"name": "m", "command": ["/manager", "--feature-gates=A=true"]}
    assert km.container_edit(in_command, image=None, feature_gates="A=false")["command"] == [
        "/manager",
        "--feature-gates=A=false",
    ]
    # an empty string equals an absent flag
    assert km.container_edit({"name": "m"}, image=None, feature_gates="") == {"name": "m"}
    assert km.template_patch({"name": "m"}) is None


def test_saved_object_drops_what_the_server_owns():
    saved = km.saved_object(daemonset())
    assert "status" not in saved
    assert set(saved["metadata"]) == {"name", "namespace", "labels"}


def test_pin_edits_patch_both_containers_by_name():
    client = FakeClient(
        {
            f"{BASE}/deployments/kruise-controller-manager": manager(),
            f"{BASE}/daemonsets/kruise-daemon": daemonset(),
        }
    )
    result = km.apply_edits(
        client,
        NS,
        manager_name="kruise-controller-manager",
        daemon_name="kruise-daemon",
        manager_image="openkruise/kruise-manager:v1.5.5",
        daemon_image="openkruise/kruise-manager:v1.5.5",
    )
    assert result["changed"] is True
    assert [(c[0], c[1]) for c in client.calls] == [
        ("PATCH", f"{BASE}/deployments/kruise-controller-manager"),
        ("PATCH", f"{BASE}/daemonsets/kruise-daemon"),
    ]
    body = client.calls[0][2]["body"]
    assert body == {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "manager", "image": "openkruise/kruise-manager:v1.5.5"}]
                }
            }
        }
    }
    assert client.calls[0][2]["merge"] is False  # strategic: containers merge by name
    assert result["before"]["manager"]["image"] == "openkruise/kruise-manager:v1.6.3"
    assert result["after"]["daemon"]["image"] == "openkruise/kruise-manager:v1.5.5"


def test_nothing_to_do_sends_nothing():
    client = FakeClient({f"{BASE}/deployments/kruise-controller-manager": manager()})
    result = km.apply_edits(
        client,
        NS,
        manager_name="kruise-controller-manager",
        daemon_name="kruise-daemon",
        manager_image="openkruise/kruise-manager:v1.6.3",
        feature_gates="ImagePullJobGate=true",
    )
    assert result["changed"] is False
    assert client.calls == []
    assert result["before"]["daemon"] is None


def test_disable_saves_then_deletes_and_check_mode_only_dry_runs():
    objects = {
        f"{BASE}/deployments/kruise-controller-manager": manager(),
        f"{BASE}/daemonsets/kruise-daemon": daemonset(),
    }
    gates = "ImagePullJobGate=true,KruiseDaemon=false"
    checked = FakeClient(objects)
    km.apply_edits(
        checked,
        NS,
        manager_name="kruise-controller-manager",
        daemon_name="kruise-daemon",
        feature_gates=gates,
        daemon="absent",
        check_mode=True,
    )
    assert all(call[2]["params"]["dryRun"] == "All" for call in checked.calls)
    assert not any(call[1].endswith("/configmaps") for call in checked.calls)

    client = FakeClient(objects)
    result = km.apply_edits(
        client,
        NS,
        manager_name="kruise-controller-manager",
        daemon_name="kruise-daemon",
        feature_gates=gates,
        daemon="absent",
    )
    methods = [(c[0], c[1]) for c in client.calls]
    assert methods == [
        ("POST", f"/api/v1/namespaces/{NS}/configmaps"),  # saved before anything changes
        ("PATCH", f"{BASE}/deployments/kruise-controller-manager"),
        ("DELETE", f"{BASE}/daemonsets/kruise-daemon"),
    ]
    record = client.calls[0][2]["body"]["data"]
    assert record["feature-gates"] == "ImagePullJobGate=true"
    assert record["feature-gates-set"] == "true"
    assert json.loads(record["daemonset.json"])["metadata"]["name"] == "kruise-daemon"
    assert result["after"]["daemon"] is None
    assert result["after"]["manager"]["feature_gates"] == gates


def test_restore_recreates_from_the_record_with_the_gates_then_drops_the_record():
    saved = km.saved_object(daemonset("ImagePullJobGate=true"))
    client = FakeClient(
        {
            f"{BASE}/deployments/kruise-controller-manager": manager(
                "ImagePullJobGate=true,KruiseDaemon=false"
            ),
            RECORD: {
                "data": {
                    "feature-gates": "ImagePullJobGate=true",
                    "feature-gates-set": "true",
                    "daemonset.json": json.dumps(saved),
                }
            },
        }
    )
    result = km.apply_edits(
        client,
        NS,
        manager_name="kruise-controller-manager",
        daemon_name="kruise-daemon",
        feature_gates="ImagePullJobGate=true",
        daemon="present",
    )
    methods = [(c[0], c[1]) for c in client.calls]
    assert methods == [
        ("PATCH", f"{BASE}/deployments/kruise-controller-manager"),
        ("POST", f"{BASE}/daemonsets"),
        ("DELETE", RECORD),
    ]
    created = client.calls[1][2]["body"]
    assert (
        "--feature-gates=ImagePullJobGate=true"
        in created["spec"]["template"]["spec"]["containers"][1]["args"]
    )
    assert result["record"] == {}


def test_restore_without_a_saved_copy_fails_before_anything():
    client = FakeClient({f"{BASE}/deployments/kruise-controller-manager": manager()})
    with pytest.raises(km.ManifestError, match="no saved copy"):
        km.apply_edits(
            client,
            NS,
            manager_name="kruise-controller-manager",
            daemon_name="kruise-daemon",
            daemon="present",
        )
    assert client.calls == []


def test_missing_manager_fails():
    with pytest.raises(km.ManifestError, match="no Deployment"):
        km.apply_edits(
            FakeClient({}), NS, manager_name="kruise-controller-manager", daemon_name="x"
        )


# ---------------------------------------------------------------------------- permissions


def described(needs) -> list[str]:
    return [need.describe() for need in needs]


def edit(client: FakeClient, access_check=None, **options: Any) -> dict[str, Any]:
    return km.apply_edits(
        client,
        NS,
        manager_name="kruise-controller-manager",
        daemon_name="kruise-daemon",
        access_check=access_check,
        **options,
    )


def test_read_needs():
    assert described(km.read_needs(NS, "kruise-controller-manager", "kruise-daemon")) == [
        f"get deployments.apps kruise-controller-manager in namespace {NS}",
        f"get daemonsets.apps kruise-daemon in namespace {NS}",
        f"get configmaps kruise-cri-daemon-gate in namespace {NS}",
    ]


def test_change_needs_hold_the_change_its_way_back_and_the_health_check():
    def needs(**change: Any) -> list[str]:
        return described(
            km.change_needs(NS, "kruise-controller-manager", "kruise-daemon", **change)  # pylint: disable=missing-kwoa
        )

    pin = needs(manager_patched=True, daemon_change="patch", record_change=None)
    assert pin == [
        f"patch deployments.apps kruise-controller-manager in namespace {NS}",
        f"patch daemonsets.apps kruise-daemon in namespace {NS}",
        f"list pods in namespace {NS}",
    ]
    disable = needs(manager_patched=True, daemon_change="delete", record_change="create")
    assert disable == [
        f"patch deployments.apps kruise-controller-manager in namespace {NS}",
        f"create configmaps in namespace {NS}",
        f"delete daemonsets.apps kruise-daemon in namespace {NS}",
        f"create daemonsets.apps in namespace {NS}",  # the way back recreates it
        f"delete configmaps kruise-cri-daemon-gate in namespace {NS}",
        f"list pods in namespace {NS}",
    ]
    enable = needs(manager_patched=True, daemon_change="create", record_change="delete")
    assert f"delete daemonsets.apps kruise-daemon in namespace {NS}" in enable  # the way back
    assert f"delete configmaps kruise-cri-daemon-gate in namespace {NS}" in enable
    assert needs(manager_patched=False, daemon_change=None, record_change=None) == []


def test_the_health_check_reads_are_kruise_waits():
    change = km.change_needs(
        NS,
        "kruise-controller-manager",
        "kruise-daemon",
        manager_patched=True,
        daemon_change=None,
        record_change=None,
    )
    reads = km.read_needs(NS, "kruise-controller-manager", "kruise-daemon")
    assert set(kw.read_needs(NS)) <= set(change) | set(reads)


def test_a_refused_change_sends_nothing_in_check_mode_too():
    objects = {
        f"{BASE}/deployments/kruise-controller-manager": manager(),
        f"{BASE}/daemonsets/kruise-daemon": daemonset(),
    }
    for check_mode in (True, False):
        client = FakeClient(objects)
        asked: list[list[str]] = []

        def refuse_the_way_back(needs, asked=asked):  # pylint: disable=dangerous-default-value
            asked.append(described(needs))
            return [
                need for need in needs if need.verb == "create" and need.resource == "daemonsets"
            ]

        with pytest.raises(km.ManifestError) as refused:
            edit(
                client,
                refuse_the_way_back,
                feature_gates="ImagePullJobGate=true,KruiseDaemon=false",
                daemon="absent",
                check_mode=check_mode,
            )
        assert str(refused.value) == (
            f"the credentials may not edit OpenKruise's manifests in namespace {NS}: they lack "
            f"create daemonsets.apps in namespace {NS} (to restore the state before if the change "
            "fails). Grant it (the permissions each playbook needs are in docs/permissions.md) "
            "or use other credentials. Nothing was changed."
        )
        assert client.calls == []
        assert asked[0] == described(
            km.read_needs(NS, "kruise-controller-manager", "kruise-daemon")
        )


def test_a_refused_read_fails_before_reading():
    client = FakeClient({})
    with pytest.raises(km.ManifestError, match="they lack get configmaps kruise-cri-daemon-gate"):
        edit(client, lambda needs: [n for n in needs if n.resource == "configmaps"])


def test_nothing_to_change_asks_for_nothing_but_the_reads():
    client = FakeClient({f"{BASE}/deployments/kruise-controller-manager": manager()})
    asked: list[list[str]] = []
    result = edit(
        client,
        lambda needs: asked.append(described(needs)) or [],
        manager_image="openkruise/kruise-manager:v1.6.3",
    )
    assert result["changed"] is False
    assert asked[1] == []
