"""The disable_kruise_daemon playbook against a real control plane: OpenKruise from the lab's chart
by real helm, or from its rendered manifests, daemon-dependent objects present or not, and the
playbook run through `ansible-playbook` (both directions)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
)

from kruise_cri.lab.cluster_objects import create_all, ensure_namespace
from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.waiting import wait_until
from tests.integration.kube_helpers import helm
from tests.integration.remediation_helpers import (
    DAEMON,
    MANAGER,
    NAMESPACE,
    CrashMarker,
    apply_manifest,
    container_of,
    daemon_pods,
    delete_manifest,
    failed,
    flag,
    flat,
    get_or_none,
    helm_history,
    helm_install,
    helm_uninstall,
    helm_values,
    kruise_plane_fixtures,
    pod_ready,
    recap,
    run_cli,
    run_playbook,
    succeeded,
    wait_daemon_pods,
)

NODES = {
    "gate-docker": ("docker://20.10.24", "v1.23.17"),
    "gate-containerd-17": ("containerd://1.7.24", "v1.28.15"),
}
RECORD = f"/api/v1/namespaces/{NAMESPACE}/configmaps/kruise-cri-daemon-gate"
# The user's gates, written carelessly: title-case values and spaces (the binaries accept both).
MESSY_GATES = "ImagePullJobGate=True, PodProbeMarkerGate = true"
USER_VALUES = {
    "featureGates": MESSY_GATES,
    "daemon": {"socketLocation": "/run"},
    "manager": {"replicas": 1},
}


plane, kube, charts = kruise_plane_fixtures(NODES, "gate")


def install(plane, kube, charts, tmp_path, values: Mapping[str, Any]) -> None:
    helm_install(plane, charts["1.6.3"], values, tmp_path)
    pods = wait_daemon_pods(kube, NODES)
    wait_until("the daemon pods Ready", lambda: all(pod_ready(p) for p in daemon_pods(kube)))
    assert set(pods) == set(NODES)


@pytest.fixture
def installed(plane, kube, charts, tmp_path) -> Iterator[ControlPlane]:
    install(plane, kube, charts, tmp_path, USER_VALUES)
    yield plane
    helm_uninstall(plane, kube)


def gate_vars(charts: Mapping[str, Path], **more: Any) -> dict[str, Any]:
    return {"kruise_cri_chart_ref": str(charts["1.6.3"]), **more}


def manager_gates(kube: KubeClient) -> str | None:
    return flag(container_of(kube.get(MANAGER), "manager"), "--feature-gates")


def daemon_gone(kube: KubeClient) -> bool:
    return get_or_none(kube, DAEMON) is None and not daemon_pods(kube)


def crr(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps.kruise.io/v1alpha1",
        "kind": "ContainerRecreateRequest",
        "metadata": {"name": name, "namespace": "apps"},
        "spec": {"podName": "web-0", "containers": [{"name": "app"}]},
    }


def test_disable_and_enable_again_on_a_helm_install(installed, kube, charts):
    plane = installed
    normalised = "ImagePullJobGate=true,PodProbeMarkerGate=true,KruiseDaemon=false"

    # Check mode: no revision, nothing patched, the values diff and the objects shown.
    checked = run_playbook("disable_kruise_daemon", plane, gate_vars(charts), "--check", "--diff")
    assert succeeded(checked)["changed"] >= 1
    assert f"-featureGates: {MESSY_GATES}" in checked.stdout
    assert f"+featureGates: {normalised}" in checked.stdout
    assert '"removed": ["DaemonSet kruise-system/kruise-daemon"]' in flat(checked)
    assert "Would stop working: Container restart" in flat(checked)
    assert [h["revision"] for h in helm_history(plane)] == [1]
    assert get_or_none(kube, DAEMON) is not None

    # Disable: the gate merged into the user's gates, normalised; the DaemonSet gone.
    disabled = run_playbook("disable_kruise_daemon", plane, gate_vars(charts))
    succeeded(disabled)
    assert helm_values(plane) == {**USER_VALUES, "featureGates": normalised}
    assert daemon_gone(kube)
    assert manager_gates(kube) == normalised
    assert pod_ready(
        next(
            p
            for p in kube.get(f"/api/v1/namespaces/{NAMESPACE}/pods")["items"]
            if p["metadata"]["labels"].get("control-plane") == "controller-manager"
            and not p["metadata"].get("deletionTimestamp")
        )
    )
    history = helm_history(plane)
    assert [h["revision"] for h in history] == [1, 2]
    assert history[-1]["description"].startswith("kruise-cri: KruiseDaemon=false (run ")
    assert "Stopped working: Container restart" in flat(disabled)

    again = run_playbook("disable_kruise_daemon", plane, gate_vars(charts))
    assert succeeded(again)["changed"] == 0
    assert [h["revision"] for h in helm_history(plane)] == [1, 2]

    # Enable: the gate is what it was (the user's own string), the daemon Ready on every node.
    enabled = run_playbook(
        "disable_kruise_daemon", plane, gate_vars(charts, kruise_cri_direction="enable")
    )
    succeeded(enabled)
    assert helm_values(plane) == USER_VALUES
    assert manager_gates(kube) == MESSY_GATES
    pods = daemon_pods(kube)
    assert {p["spec"]["nodeName"] for p in pods} == set(NODES)
    assert all(pod_ready(p) for p in pods)
    assert [h["revision"] for h in helm_history(plane)] == [1, 2, 3]

    # Again, as AWX runs it (ansible-runner, through `kruise-cri disable-daemon`): no change.
    again = run_cli("disable-daemon", plane, gate_vars(charts), "--enable")
    assert again["returncode"] == 0, again["failures"]
    assert again["hosts"]["localhost"]["changed"] == 0
    assert again["artifacts"]["kruise_cri_daemon_gate"]["direction"] == "enable"
    assert again["artifacts"]["kruise_cri_daemon_gate"]["changed"] is False
    assert [h["revision"] for h in helm_history(plane)] == [1, 2, 3]


def test_a_gate_the_chart_misreads_is_fixed(plane, kube, charts, tmp_path):
    """`KruiseDaemon=False` turns the binaries' gate off, but the chart's substring test keeps the
    DaemonSet: disabling normalises the string and the DaemonSet really goes."""
    install(plane, kube, charts, tmp_path, {"featureGates": "KruiseDaemon=False"})
    try:
        assert get_or_none(kube, DAEMON) is not None
        disabled = run_playbook("disable_kruise_daemon", plane, gate_vars(charts))
        succeeded(disabled)
        assert "still renders the kruise-daemon DaemonSet" in flat(disabled)
        assert helm_values(plane) == {"featureGates": "KruiseDaemon=false"}
        assert daemon_gone(kube)
    finally:
        helm_uninstall(plane, kube)


def test_refuses_while_daemon_features_are_in_use_unless_forced(installed, kube, charts):
    plane = installed
    ensure_namespace(kube, "apps")
    create_all(kube, [crr("restart-web-0")])

    refused = failed(run_playbook("disable_kruise_daemon", plane, gate_vars(charts)))
    assert "Disabling kruise-daemon is refused" in refused
    assert "daemon-dependent features are in use: 1 ContainerRecreateRequest" in refused
    assert "What stops working without kruise-daemon: Container restart" in refused
    assert [h["revision"] for h in helm_history(plane)] == [1]
    assert get_or_none(kube, DAEMON) is not None

    forced = run_playbook("disable_kruise_daemon", plane, gate_vars(charts, kruise_cri_force=True))
    succeeded(forced)
    assert "forced past: daemon-dependent features are in use" in flat(forced)
    assert daemon_gone(kube)


def test_bad_inputs_fail_before_any_change(plane, kube, charts, tmp_path):
    install(plane, kube, charts, tmp_path, {"featureGates": "ImagePullJobGate"})
    try:
        for extra, words in (
            ({}, "feature gate entry 'ImagePullJobGate' has no value"),
            ({"kruise_cri_direction": "off"}, "must be one of: disable, enable, got: off"),
            ({"kruise_cri_helm_release": "no-such-release"}, "'no-such-release' not found"),
            ({"kruise_cri_kubeconfig": str(tmp_path / "missing")}, "cannot load the kubeconfig"),
        ):
            message = failed(
                run_playbook("disable_kruise_daemon", plane, gate_vars(charts, **extra))
            )
            assert words in message, message[-3000:]
            assert [h["revision"] for h in helm_history(plane)] == [1]
            assert get_or_none(kube, DAEMON) is not None
    finally:
        helm_uninstall(plane, kube)


def new_manager(pod: Mapping[str, Any]) -> bool:
    """A kruise-manager pod started with KruiseDaemon=false."""
    if pod["metadata"].get("labels", {}).get("control-plane") != "controller-manager":
        return False
    return any("KruiseDaemon=false" in arg for arg in pod["spec"]["containers"][0]["args"])


def test_rollback_when_the_manager_does_not_come_back(installed, kube, charts):
    """The manager with the new gates keeps failing: the post-check times out, the release goes
    back to revision 1 and the DaemonSet returns."""
    plane = installed
    with CrashMarker(kube, new_manager, "failed to start the webhook server") as marker:
        rolled_back = run_playbook(
            "disable_kruise_daemon", plane, gate_vars(charts, kruise_cri_timeout=20)
        )
    message = failed(rolled_back)
    assert marker.marked, "no manager pod with the new gates appeared"
    assert (
        "Disable kruise-daemon failed at step 'Wait for kruise-manager Ready with the gate, and "
        "the DaemonSet gone or back and Ready'" in message
    )
    assert "kruise-controller-manager: 1 old replicas still running" in message
    assert "is crash-looping (7 restarts): failed to start the webhook server" in message
    assert "Rolled back: release kruise has the values of revision 1 again" in message
    history = helm_history(plane)
    assert [h["revision"] for h in history] == [1, 2, 3]
    assert history[-1]["description"] == "Rollback to 1"
    assert helm_values(plane) == USER_VALUES
    wait_daemon_pods(kube, NODES)


def test_disable_and_enable_on_a_manifest_install(plane, kube, charts):
    rendered = helm(
        plane,
        "template",
        "kruise",
        str(charts["1.6.3"]),
        "--namespace",
        NAMESPACE,
        "--set",
        "manager.replicas=1",
    ).stdout
    documents = apply_manifest(kube, rendered)
    try:
        wait_daemon_pods(kube, NODES)
        saved = kube.get(DAEMON)

        checked = run_playbook("disable_kruise_daemon", plane, {}, "--check", "--diff")
        assert succeeded(checked)["changed"] >= 1
        assert get_or_none(kube, DAEMON) is not None
        assert get_or_none(kube, RECORD) is None
        assert manager_gates(kube) == "ImagePullJobGate=true"

        # A manager that does not come back with the gate: the manifests are restored, the
        # DaemonSet recreated from the saved copy.
        with CrashMarker(kube, new_manager, "failed to start the webhook server"):
            restored = failed(
                run_playbook("disable_kruise_daemon", plane, {"kruise_cri_timeout": 15})
            )
        assert "Restored: --feature-gates=ImagePullJobGate=true and the DaemonSet" in restored
        assert manager_gates(kube) == "ImagePullJobGate=true"
        assert kube.get(DAEMON)["spec"]["template"] == saved["spec"]["template"]
        assert get_or_none(kube, RECORD) is None
        wait_until(
            "the manager with the old gates Ready",
            lambda: (
                kube.get(MANAGER)["status"].get("readyReplicas") == 1
                and kube.get(MANAGER)["status"].get("replicas") == 1
            ),
        )

        disabled = run_playbook("disable_kruise_daemon", plane, {})
        succeeded(disabled)
        assert manager_gates(kube) == "ImagePullJobGate=true,KruiseDaemon=false"
        assert daemon_gone(kube)
        record = kube.get(RECORD)["data"]
        assert record["feature-gates"] == "ImagePullJobGate=true"
        assert (
            json.loads(record["daemonset.json"])["spec"]["template"] == (saved["spec"]["template"])
        )
        assert recap(run_playbook("disable_kruise_daemon", plane, {}))["changed"] == 0

        enabled = run_playbook("disable_kruise_daemon", plane, {"kruise_cri_direction": "enable"})
        succeeded(enabled)
        assert manager_gates(kube) == "ImagePullJobGate=true"
        restored = kube.get(DAEMON)
        assert restored["spec"]["template"] == saved["spec"]["template"]
        pods = wait_daemon_pods(kube, NODES)
        assert all(pod_ready(p) for p in pods.values())
        assert get_or_none(kube, RECORD) is None
        again = run_playbook("disable_kruise_daemon", plane, {"kruise_cri_direction": "enable"})
        assert succeeded(again)["changed"] == 0
    finally:
        delete_manifest(kube, documents)
