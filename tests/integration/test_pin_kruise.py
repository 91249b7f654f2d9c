"""The pin_kruise playbook against a real control plane: OpenKruise installed from the lab's chart
(1.6.3) by real helm, or from its rendered manifests, kwok nodes whose kruise-daemon crash-loops
before the pin, and the playbook run through `ansible-playbook` as a user runs it.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
    KubeRequestError,
)

from kruise_cri.lab.cluster_objects import (
    create_all,
    ensure_namespace,
)
from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.helm import KRUISE_CHART
from kruise_cri.lab.waiting import wait_until
from tests.integration.kube_helpers import helm
from tests.integration.remediation_helpers import (
    CRDS,
    DAEMON,
    MANAGER,
    NAMESPACE,
    RELEASE,
    CrashMarker,
    apply_manifest,
    container_of,
    crash_looping,
    daemon_pods,
    delete_manifest,
    failed,
    flag,
    flat,
    helm_history,
    helm_install,
    helm_uninstall,
    helm_values,
    kruise_plane_fixtures,
    make_crash_loop,
    pin_records,
    pod_ready,
    run_cli,
    run_playbook,
    set_runtime,
    succeeded,
)

NODES = {
    "pin-docker": ("docker://20.10.24", "v1.23.17"),
    "pin-containerd-14": ("containerd://1.4.13", "v1.23.17"),
    "pin-containerd-17": ("containerd://1.7.24", "v1.28.15"),
}
CRASHING = ("pin-docker", "pin-containerd-14")
USER_VALUES = {
    "featureGates": "ImagePullJobGate=true,PodProbeMarkerGate=true",
    "daemon": {"socketLocation": "/run", "extraEnvs": [{"name": "HTTP_PROXY", "value": "p:3128"}]},
    "manager": {"replicas": 1, "log": {"level": "2"}},
}


plane, kube, charts = kruise_plane_fixtures(NODES, "pin")


@pytest.fixture
def installed(plane, kube, charts, tmp_path) -> Iterator[ControlPlane]:
    """Release `kruise` (chart 1.6.3, USER_VALUES) whose daemon crash-loops on two nodes."""
    helm_install(plane, charts["1.6.3"], USER_VALUES, tmp_path)
    make_crash_loop(kube, NODES, CRASHING)
    yield plane
    helm_uninstall(plane, kube)


def future_chart(plane: ControlPlane, tmp: Path) -> Path:
    """Chart 1.5.5 that wants a Kubernetes newer than the control plane's."""
    source = tmp / "future" / "kruise"
    shutil.copytree(KRUISE_CHART, source)
    metadata = yaml.safe_load((source / "Chart.yaml").read_text())
    metadata["kubeVersion"] = ">= 1.99.0-0"
    (source / "Chart.yaml").write_text(yaml.safe_dump(metadata))
    helm(plane, "package", str(source), "--version", "1.5.5", "-d", str(tmp / "future"))
    return tmp / "future" / "kruise-1.5.5.tgz"


def pin_vars(charts: Mapping[str, Path], tmp: Path, **more: Any) -> dict[str, Any]:
    return {
        "kruise_cri_chart_ref": str(charts["1.5.5"]),
        **more,
    }


# ------------------------------------------------------------------------------------------
# Helm


def test_check_mode_pin_and_rerun_on_a_helm_install(installed, kube, charts, tmp_path):
    plane = installed
    assert [h["revision"] for h in helm_history(plane)] == [1]

    # Check mode: the values diff is shown, no revision is created, nothing is patched.
    checked = run_playbook("pin_kruise", plane, pin_vars(charts, tmp_path), "--check", "--diff")
    assert succeeded(checked)["changed"] >= 1
    assert "+    tag: v1.5.5" in checked.stdout
    assert "kruise values (revision 1, chart 1.6.3)" in checked.stdout
    assert [h["revision"] for h in helm_history(plane)] == [1]
    assert container_of(kube.get(DAEMON), "daemon")["image"].endswith(":v1.6.3")
    assert sum(crash_looping(p) for p in daemon_pods(kube)) == len(CRASHING)
    assert pin_records(kube) == []

    # The pin: chart 1.5.5 with every user value kept, the daemon healthy on every node.
    pinned = run_playbook("pin_kruise", plane, pin_vars(charts, tmp_path))
    assert succeeded(pinned)["failed"] == 0
    history = helm_history(plane)
    assert [(h["revision"], h["chart"]) for h in history] == [
        (1, "kruise-1.6.3"),
        (2, "kruise-1.5.5"),
    ]
    assert re.fullmatch(
        r"kruise-cri: pin OpenKruise 1\.5\.5 \(run [0-9a-z]{10}\)", history[-1]["description"]
    )
    expected_values = json.loads(json.dumps(USER_VALUES))
    expected_values["manager"]["image"] = {"tag": "v1.5.5"}  # chart default is not 1.5.x here
    assert helm_values(plane) == expected_values
    assert container_of(kube.get(MANAGER), "manager")["image"] == (
        "openkruise/kruise-manager:v1.5.5"
    )
    pods = daemon_pods(kube)
    assert {p["spec"]["nodeName"] for p in pods} == set(NODES)
    for pod in pods:
        assert pod["spec"]["containers"][0]["image"] == "openkruise/kruise-manager:v1.5.5"
        assert pod_ready(pod) and not crash_looping(pod), pod["metadata"]["name"]
    assert "kruise-manager and kruise-daemon healthy after" in flat(pinned)

    # The record of the way back: revision 1 and its values, in a Secret beside the release.
    (record,) = pin_records(kube)
    assert record["type"] == "Opaque"
    assert record["helm"]["revision"] == 1
    assert record["helm"]["chart_version"] == "1.6.3"
    assert record["helm"]["values"] == USER_VALUES
    assert record["kruise_version"] == "1.6.3"
    assert record["outcome"] == "pinned"
    # Named after the run's id, which the Helm revision names too.
    assert record["name"] == f"kruise-cri-pin-{record['run_id']}"
    assert history[-1]["description"].endswith(f"(run {record['run_id']})")

    # A rerun changes nothing and creates no revision; run as AWX runs it (ansible-runner,
    # through `kruise-cri pin`), the artifacts say so.
    again = run_cli(
        "pin",
        plane,
        {},
        "--chart-ref",
        str(charts["1.5.5"]),
    )
    assert again["returncode"] == 0, again["failures"]
    assert again["hosts"]["localhost"]["changed"] == 0
    assert again["artifacts"]["kruise_cri_pin"]["changed"] is False
    assert again["artifacts"]["kruise_cri_pin"]["target_version"] == "1.5.5"
    assert [h["revision"] for h in helm_history(plane)] == [1, 2]

    # Bad inputs fail before any change.
    for extra, words in (
        ({"kruise_cri_target_version": "1.6.0"}, "only 1.5.x can be pinned"),
        ({"kruise_cri_target_version": "latest"}, "only 1.5.x can be pinned"),
        ({"kruise_cri_helm_release": "no-such-release"}, "'no-such-release' not found"),
        ({"kruise_cri_kubeconfig": str(tmp_path / "missing")}, "cannot load the kubeconfig"),
        ({"kruise_cri_chart_ref": str(charts["1.6.3"])}, "is version 1.6.3, not 1.5.5"),
        (
            {"kruise_cri_chart_ref": str(future_chart(plane, tmp_path))},
            "chart kruise 1.5.5 requires Kubernetes >= 1.99.0-0; the API server is v1.",
        ),
    ):
        message = failed(run_playbook("pin_kruise", plane, pin_vars(charts, tmp_path, **extra)))
        assert words in message, message[-3000:]
        assert [h["revision"] for h in helm_history(plane)] == [1, 2], extra


def test_refuses_what_only_1_6_and_newer_have_unless_forced(plane, kube, charts, tmp_path):
    gates = "ImagePullJobGate=true,EnhancedLivenessProbe=true,PodIndexLabel=false"
    helm_install(plane, charts["1.6.3"], {**USER_VALUES, "featureGates": gates}, tmp_path)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "ephemeraljobs.apps.kruise.io"},
        "spec": {
            "group": "apps.kruise.io",
            "scope": "Namespaced",
            "names": {
                "kind": "EphemeralJob",
                "plural": "ephemeraljobs",
                "singular": "ephemeraljob",
            },
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    crd_path = f"{CRDS}/{crd['metadata']['name']}"
    try:
        create_all(kube, [crd])
        ensure_namespace(kube, "apps")
        job = {
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "EphemeralJob",
            "metadata": {"name": "debug", "namespace": "apps"},
            "spec": {},
        }
        wait_until("the EphemeralJob CRD to be served", lambda: _created(kube, job), 30)

        refused = failed(run_playbook("pin_kruise", plane, pin_vars(charts, tmp_path)))
        assert "is refused, because something in use exists only in OpenKruise 1.6" in refused
        assert "feature gate EnhancedLivenessProbe=true in featureGates" in refused
        assert "1 EphemeralJob object (apps.kruise.io)" in refused
        assert "kruise_cri_force=true" in refused
        assert [h["revision"] for h in helm_history(plane)] == [1]

        forced = run_playbook(
            "pin_kruise", plane, pin_vars(charts, tmp_path, kruise_cri_force=True)
        )
        succeeded(forced)
        assert "forced past: 1 EphemeralJob object" in flat(forced)
        # Gates 1.5 does not know are gone (kruise-manager 1.5 would exit on them).
        assert helm_values(plane)["featureGates"] == "ImagePullJobGate=true"
        manager = container_of(kube.get(MANAGER), "manager")
        assert flag(manager, "--feature-gates") == "ImagePullJobGate=true"
        assert helm_history(plane)[-1]["chart"] == "kruise-1.5.5"
    finally:
        with contextlib.suppress(KubeRequestError):
            kube.delete(crd_path)
        helm_uninstall(plane, kube)


def _created(kube: KubeClient, obj: Mapping[str, Any]) -> bool:
    try:
        create_all(kube, [obj])
    except KubeRequestError as error:
        if error.status == 409:
            return True
        if error.status == 404:
            return False
        raise
    return True


def test_rollback_when_the_daemon_still_crash_loops_after_the_pin(
    installed, kube, charts, tmp_path
):
    """kruise-daemon 1.5 fails too on a node whose Docker (>= 25) refuses the API version 1.5's
    client asks for: the post-check times out and the release goes back to revision 1."""
    plane = installed

    def new_daemon_on_docker(pod: Mapping[str, Any]) -> bool:
        return (
            pod["metadata"].get("labels", {}).get("control-plane") == "daemon"
            and pod["spec"].get("nodeName") == "pin-docker"
            and pod["spec"]["containers"][0]["image"].endswith(":v1.5.5")
        )

    docker_25 = "Error response from daemon: client version 1.23 is too old"
    with CrashMarker(kube, new_daemon_on_docker, docker_25) as marker:
        rolled_back = run_playbook(
            "pin_kruise", plane, pin_vars(charts, tmp_path, kruise_cri_timeout=25)
        )
    message = failed(rolled_back)
    assert marker.marked, "no 1.5.5 daemon pod appeared on pin-docker"
    assert (
        "failed at step 'Wait for kruise-manager Ready and kruise-daemon Ready on every node'"
        in message
    )
    assert "on pin-docker is crash-looping" in message
    assert docker_25 in message
    assert "Rolled back to revision 1, recorded by this run before its change" in message
    history = helm_history(plane)
    assert [(h["revision"], h["chart"]) for h in history] == [
        (1, "kruise-1.6.3"),
        (2, "kruise-1.5.5"),
        (3, "kruise-1.6.3"),
    ]
    assert history[-1]["description"] == "Rollback to 1"
    assert helm_values(plane) == USER_VALUES
    assert container_of(kube.get(DAEMON), "daemon")["image"].endswith(":v1.6.3")
    assert container_of(kube.get(MANAGER), "manager")["image"].endswith(":v1.6.3")


def test_unpin_goes_back_to_the_recorded_release_once_the_nodes_serve_cri_v1(
    installed, kube, charts, tmp_path
):
    plane = installed
    unpin = pin_vars(charts, tmp_path, kruise_cri_pin_action="unpin", kruise_cri_timeout=25)

    nothing = failed(run_playbook("pin_kruise", plane, unpin))
    assert "no pin of Helm release kruise in default by kruise-cri is recorded" in nothing
    assert "Nothing was changed" in nothing

    succeeded(run_playbook("pin_kruise", plane, pin_vars(charts, tmp_path)))
    (pin,) = pin_records(kube)

    # The nodes still serve only CRI v1alpha2: kruise-daemon 1.6.3 would crash-loop there.
    refused = failed(run_playbook("pin_kruise", plane, unpin))
    assert "kruise-daemon 1.6.3 speaks only CRI v1 and would crash-loop on: " in refused
    assert "pin-docker runs docker 20.10.24" in refused
    assert "pin-containerd-14 runs containerd 1.4.13" in refused
    assert "pin-containerd-17" not in refused.split("crash-loop on:")[1].split(". ")[0]
    assert [h["revision"] for h in helm_history(plane)] == [1, 2]

    # Forced, it does crash-loop there: the post-check fails and the pin is put back.
    def new_daemon_on_old_runtime(pod: Mapping[str, Any]) -> bool:
        return (
            pod["metadata"].get("labels", {}).get("control-plane") == "daemon"
            and pod["spec"].get("nodeName") in CRASHING
            and pod["spec"]["containers"][0]["image"].endswith(":v1.6.3")
        )

    with CrashMarker(kube, new_daemon_on_old_runtime, "CRI v1 runtime API is not implemented"):
        put_back = failed(run_playbook("pin_kruise", plane, {**unpin, "kruise_cri_force": True}))
    assert f"Undoing the pin of run {pin['run_id']} failed at step 'Wait for kruise-manager" in (
        put_back
    )
    assert "is crash-looping" in put_back and "The pin was put back" in put_back
    history = helm_history(plane)
    assert [(h["revision"], h["chart"]) for h in history] == [
        (1, "kruise-1.6.3"),
        (2, "kruise-1.5.5"),
        (3, "kruise-1.6.3"),
        (4, "kruise-1.5.5"),
    ]
    assert container_of(kube.get(MANAGER), "manager")["image"].endswith(":v1.5.5")
    (record,) = pin_records(kube)
    assert record["outcome"] == "pinned" and record["helm"]["pin_revisions"] == [4]

    # Once migrated (the kubelets report containerd 1.7), it goes through; check mode first.
    try:
        for node in CRASHING:
            set_runtime(kube, node, "containerd://1.7.24")
        checked = run_playbook("pin_kruise", plane, unpin, "--check")
        assert succeeded(checked)["changed"] >= 1
        assert f"The pin of run {pin['run_id']} would be undone" in flat(checked)
        assert len(helm_history(plane)) == 4

        undone = run_playbook("pin_kruise", plane, unpin)
        assert succeeded(undone)["failed"] == 0
        assert f"The pin of run {pin['run_id']} is undone: OpenKruise 1.6.3 healthy" in flat(undone)
        history = helm_history(plane)
        assert [(h["revision"], h["chart"]) for h in history][-1] == (5, "kruise-1.6.3")
        assert history[-1]["description"] == "Rollback to 1"
        assert helm_values(plane) == USER_VALUES
        assert container_of(kube.get(MANAGER), "manager")["image"].endswith(":v1.6.3")
        (record,) = pin_records(kube)
        assert re.fullmatch(r"unpinned \(by run [0-9a-z]{10}\)", record["outcome"])
        assert record["unpinned_at"]

        # A rerun (an AWX job launched twice) changes nothing.
        again = run_playbook("pin_kruise", plane, unpin)
        assert succeeded(again)["changed"] == 0
        assert "was undone already" in flat(again)
        assert len(helm_history(plane)) == 5
    finally:
        for node in CRASHING:
            set_runtime(kube, node, NODES[node][0])


# ------------------------------------------------------------------------------------------
# Manifests


def test_manifest_install_gets_1_5_images(plane, kube, charts, tmp_path):
    rendered = helm(
        plane,
        "template",
        RELEASE,
        str(charts["1.6.3"]),
        "--namespace",
        NAMESPACE,
        "--set",
        "manager.replicas=1",
        "--set",
        "featureGates=ImagePullJobGate=true\\,PodIndexLabel=false",
    ).stdout
    documents = apply_manifest(kube, rendered)
    try:
        make_crash_loop(kube, NODES, CRASHING)

        checked = run_playbook("pin_kruise", plane, pin_vars(charts, tmp_path), "--check", "--diff")
        assert succeeded(checked)["changed"] >= 1
        assert "image: openkruise/kruise-manager:v1.5.5" in checked.stdout  # the diff
        assert container_of(kube.get(MANAGER), "manager")["image"].endswith(":v1.6.3")
        assert container_of(kube.get(DAEMON), "daemon")["image"].endswith(":v1.6.3")

        pinned = run_playbook("pin_kruise", plane, pin_vars(charts, tmp_path))
        succeeded(pinned)
        manager = container_of(kube.get(MANAGER), "manager")
        daemon = container_of(kube.get(DAEMON), "daemon")
        assert manager["image"] == daemon["image"] == "openkruise/kruise-manager:v1.5.5"
        # PodIndexLabel (1.7+, disabled) is dropped: kruise-manager 1.5 exits on unknown gates.
        assert (
            flag(manager, "--feature-gates")
            == flag(daemon, "--feature-gates")
            == ("ImagePullJobGate=true")
        )
        for pod in daemon_pods(kube):
            assert pod_ready(pod) and not crash_looping(pod), pod["metadata"]["name"]
        (record,) = pin_records(kube, "kruise-system")
        assert record["manifests"]["manager_image"] == "openkruise/kruise-manager:v1.6.3"
        assert record["manifests"]["feature_gates"] == "ImagePullJobGate=true,PodIndexLabel=false"

        again = run_playbook("pin_kruise", plane, pin_vars(charts, tmp_path))
        assert succeeded(again)["changed"] == 0
    finally:
        delete_manifest(kube, documents)
