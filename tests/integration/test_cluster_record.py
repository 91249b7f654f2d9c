"""cluster_record against a real API server: a report kept in a ConfigMap and a record with
secrets in a Secret, size-capped, never over an object that is not kruise-cri's, previewed in
check mode, refused up front without the permissions, and a Secret's values never shown."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
)

from kruise_cri.lab.cluster_objects import create_all, ensure_namespace
from kruise_cri.lab.controlplane import ControlPlane
from tests.integration.ansible_run import ansible_on_localhost
from tests.integration.kube_helpers import run_cluster_module
from tests.integration.service_accounts import Permission, grant_account

NAMESPACE = "kruise-cri-records"
SECRET_VALUE = "helm-values-password-n3ver-sh0wn"


@pytest.fixture(scope="module")
def namespace(kube: KubeClient) -> str:
    ensure_namespace(kube, NAMESPACE)
    return NAMESPACE


def record(control_plane: ControlPlane, *extra: str, **args: Any) -> dict[str, Any]:
    return run_cluster_module(
        "kruise_cri.remediation.cluster_record",
        {"kubeconfig": str(control_plane.kubeconfig), "namespace": NAMESPACE, **args},
        *extra,
    )


def configmap(kube: KubeClient, name: str) -> dict[str, Any] | None:
    found = kube.get(
        f"/api/v1/namespaces/{NAMESPACE}/configmaps", {"fieldSelector": f"metadata.name={name}"}
    )
    return found["items"][0] if found["items"] else None


def test_a_report_is_kept_in_a_configmap_previewed_first_and_rewritten_only_when_it_changes(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    report.write_text('{"summary": {"verdict": "incompatible"}}\n')
    args = {"name": "report", "files": {"report.json": str(report)}, "data": {"note": "nightly"}}
    preview = record(control_plane, "--check", **args)
    assert preview["changed"] is True and preview["created"] is True, preview
    assert configmap(kube, "report") is None
    written = record(control_plane, **args)
    assert written["changed"] is True and written["keys"] == ["note", "report.json"], written
    stored = configmap(kube, "report")
    assert stored is not None
    assert stored["data"] == {"note": "nightly", "report.json": report.read_text()}
    assert stored["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kruise-cri"
    assert record(control_plane, **args)["changed"] is False
    report.write_text('{"summary": {"verdict": "compatible"}}\n')
    assert record(control_plane, **args)["changed"] is True
    assert configmap(kube, "report")["data"]["report.json"] == report.read_text()


def test_what_does_not_fit_is_named_and_left_out(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    big, small = "x" * 700, "y" * 200
    result = record(
        control_plane,
        name="capped",
        data={"big.json": big, "small.md": small, "also.md": "z" * 200},
        max_bytes=900,
    )
    assert not result.get("failed"), result
    assert result["keys"] == ["big.json", "small.md"]
    assert result["omitted"] == ["also.md (200 bytes)"]
    stored = configmap(kube, "capped")
    assert set(stored["data"]) == {"big.json", "small.md"}
    assert (
        "also.md (200 bytes)"
        in stored["metadata"]["annotations"]["kruise-cri.openkruise.io/omitted"]
    )


def test_an_object_that_is_not_kruise_cri_s_is_left_alone(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    create_all(
        kube,
        [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "someone-elses", "namespace": NAMESPACE},
                "data": {"keep": "me"},
            }
        ],
    )
    for state in ("present", "absent"):
        result = record(
            control_plane, name="someone-elses", data={"note": "some text"}, state=state
        )
        assert result.get("failed") and "is not kruise-cri's" in result["msg"], result
    assert configmap(kube, "someone-elses")["data"] == {"keep": "me"}


def test_a_missing_namespace_and_a_bad_name_are_named(control_plane: ControlPlane) -> None:
    result = record(
        control_plane, name="r", namespace="no-such-namespace", data={"note": "some text"}
    )
    assert result.get("failed") and "namespace no-such-namespace does not exist" in result["msg"]
    bad = record(control_plane, name="Not_A_Name", data={"note": "some text"})
    assert bad.get("failed") and "name='Not_A_Name' is not a valid object name" in bad["msg"]
    assert "Nothing was changed" in bad["msg"]


def ansible_v(control_plane: ControlPlane, args: dict[str, Any], *extra: str) -> str:
    arguments = {"kubeconfig": str(control_plane.kubeconfig), "namespace": NAMESPACE, **args}
    completed = ansible_on_localhost(
        "kruise_cri.remediation.cluster_record", arguments, "-vvv", *extra
    )
    return completed.stdout + completed.stderr


def test_a_secret_keeps_values_that_never_reach_the_output(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    args = {"name": "pin-record", "kind": "Secret", "data": {"values.yaml": SECRET_VALUE}}
    preview = ansible_v(control_plane, args, "--check", "--diff")
    assert "values.yaml: (" in preview and SECRET_VALUE not in preview
    output = ansible_v(control_plane, args, "--diff")
    assert SECRET_VALUE not in output
    secret = kube.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/pin-record")
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["values.yaml"]).decode() == SECRET_VALUE
    gone = record(control_plane, name="pin-record", kind="Secret", state="absent")
    assert gone["changed"] is True
    assert (
        record(control_plane, name="pin-record", kind="Secret", state="absent")["changed"] is False
    )


def test_missing_permissions_are_named_before_anything_changes(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    reader = grant_account(
        control_plane,
        kube,
        tmp_path,
        "record-reader",
        [Permission("get", "configmaps", namespace=NAMESPACE)],
        accounts_namespace=NAMESPACE,
    )
    result = run_cluster_module(
        "kruise_cri.remediation.cluster_record",
        {
            "kubeconfig": str(reader.kubeconfig),
            "namespace": NAMESPACE,
            "name": "refused",
            "data": {"note": "some text"},
        },
    )
    assert result.get("failed"), result
    assert f"create configmaps in namespace {NAMESPACE}" in result["msg"]
    assert f"update configmaps in namespace {NAMESPACE}" in result["msg"]
    assert "Nothing was changed" in result["msg"]
    assert configmap(kube, "refused") is None
