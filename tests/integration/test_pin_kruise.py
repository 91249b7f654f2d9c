"""The pin_kruise playbook against a real control plane: OpenKruise installed from the test chart
(1.6.3) by real helm, or from its rendered manifests, kwok nodes whose kruise-daemon crash-loops
before the pin, and the playbook run through `ansible-playbook` as a user runs it.

The helpers at the top are shared with test_disable_kruise_daemon.py.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.kruise_cri.remediation.plugins.module_utils.kube_client import (
    KubeClient,
    KubeRequestError,
)

from kruise_cri.lab.cluster_objects import (
    client_for,
    create_all,
    ensure_namespace,
    kwok_node,
    mark_crash_looping,
)
from kruise_cri.lab.controlplane import CRASH_LOOP_ANNOTATION, ControlPlane
from kruise_cri.lab.gotools import ensure_go_tool
from tests.integration.ansible_run import VENV_BIN, ansible_env
from tests.integration.kube_helpers import chart_dir, helm, wait_for

NAMESPACE = "kruise-system"
RELEASE = "kruise"
RELEASE_NAMESPACE = "default"
DAEMON = f"/apis/apps/v1/namespaces/{NAMESPACE}/daemonsets/kruise-daemon"
MANAGER = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/kruise-controller-manager"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
CRASH_MESSAGE = (
    "validate service connection: CRI v1 runtime API is not implemented for endpoint "
    '"unix:///hostvarrun/dockershim.sock": rpc error: code = Unimplemented desc = unknown '
    "service runtime.v1.RuntimeService"
)
# kube-apiserver over Debian's etcd cannot serve watch-list streams (no RequestWatchProgress):
# kwok's client asks for them, fails, and then only sees pods when it lists again, with a back-off
# of up to a minute, and its node leases lapse (nodes turn NotReady). With WatchList off it
# falls back to plain LIST + WATCH and acts within a second.
APISERVER_FLAGS = ("--feature-gates=WatchList=false",)
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


# ------------------------------------------------------------------------------------------
# Shared helpers


@contextlib.contextmanager
def kruise_plane(directory: Path, nodes: Mapping[str, tuple[str, str]]) -> Iterator[ControlPlane]:
    """A control plane of this test module's own, with kwok nodes."""
    with ControlPlane(directory=directory, extra_apiserver_flags=APISERVER_FLAGS) as plane:
        create_all(client_for(plane.kubeconfig), [kwok_node(n, *rt) for n, rt in nodes.items()])
        yield plane


def package_charts(plane: ControlPlane, directory: Path) -> dict[str, Path]:
    """The test chart packaged as 1.6.3 (as it is) and as 1.5.5."""
    directory.mkdir(parents=True, exist_ok=True)
    helm(plane, "package", str(chart_dir()), "-d", str(directory))
    helm(
        plane,
        "package",
        str(chart_dir()),
        "--version",
        "1.5.5",
        "--app-version",
        "1.5.5",
        "-d",
        str(directory),
    )
    return {"1.6.3": directory / "kruise-1.6.3.tgz", "1.5.5": directory / "kruise-1.5.5.tgz"}


def helm_install(plane: ControlPlane, chart: Path, values: Mapping[str, Any], tmp: Path) -> None:
    values_file = tmp / "install-values.yaml"
    values_file.write_text(yaml.safe_dump(dict(values)))
    helm(plane, "install", RELEASE, str(chart), "-n", RELEASE_NAMESPACE, "-f", str(values_file))


def helm_uninstall(plane: ControlPlane, kube: KubeClient) -> None:
    helm(plane, "uninstall", RELEASE, "-n", RELEASE_NAMESPACE, "--wait", check=False)
    wait_gone(kube, f"/api/v1/namespaces/{NAMESPACE}", "namespace kruise-system to go")


def wait_gone(kube: KubeClient, path: str, what: str, timeout: float = 120) -> None:
    def gone() -> bool:
        try:
            kube.get(path)
        except KubeRequestError as error:
            return error.status == 404
        return False

    wait_for(what, gone, timeout)


def helm_history(plane: ControlPlane) -> list[dict[str, Any]]:
    return json.loads(helm(plane, "history", RELEASE, "-n", RELEASE_NAMESPACE, "-o", "json").stdout)


def helm_values(plane: ControlPlane) -> dict[str, Any]:
    out = helm(plane, "get", "values", RELEASE, "-n", RELEASE_NAMESPACE, "-o", "json").stdout
    return json.loads(out) or {}


def get_or_none(kube: KubeClient, path: str) -> dict[str, Any] | None:
    try:
        return kube.get(path)
    except KubeRequestError as error:
        if error.status == 404:
            return None
        raise


def daemon_pods(kube: KubeClient) -> list[dict[str, Any]]:
    pods = kube.get(
        f"/api/v1/namespaces/{NAMESPACE}/pods", {"labelSelector": "control-plane=daemon"}
    )["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def pod_ready(pod: Mapping[str, Any]) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return bool(statuses) and all(s.get("ready") for s in statuses)


def crash_looping(pod: Mapping[str, Any]) -> bool:
    return any(
        ((s.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"
        for s in (pod.get("status") or {}).get("containerStatuses") or []
    )


def container_of(workload: Mapping[str, Any], name: str) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == name)


def flag(container: Mapping[str, Any], name: str) -> str | None:
    values = [a.split("=", 1)[1] for a in container.get("args") or [] if a.startswith(name + "=")]
    return values[-1] if values else None


def wait_daemon_pods(kube: KubeClient, nodes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    def all_there() -> dict[str, dict[str, Any]] | None:
        by_node = {p["spec"].get("nodeName"): p for p in daemon_pods(kube)}
        return by_node if all(node in by_node for node in nodes) else None

    return wait_for("a kruise-daemon pod on every kwok node", all_there)


def make_crash_loop(kube: KubeClient, nodes: Mapping[str, Any], crashing: tuple[str, ...]) -> None:
    """Mark the daemon pods of ``crashing`` nodes crash-looping, as kruise-daemon 1.6 does on
    v1alpha2-only nodes, and wait until kwok reports them so."""
    pods = wait_daemon_pods(kube, nodes)
    for node in crashing:
        mark_crash_looping(kube, NAMESPACE, pods[node]["metadata"]["name"], CRASH_MESSAGE)
    wait_for(
        "kwok to report the marked daemon pods in CrashLoopBackOff",
        lambda: sum(crash_looping(p) for p in daemon_pods(kube)) == len(crashing),
    )


class CrashMarker:
    """Marks every new pod of ``namespace`` that ``matches`` crash-looping, as it appears (the
    way a binary that keeps failing would look), until stopped."""

    def __init__(
        self,
        kube: KubeClient,
        matches: Callable[[Mapping[str, Any]], bool],
        message: str,
        namespace: str = NAMESPACE,
    ) -> None:
        self.kube = kube
        self.matches = matches
        self.message = message
        self.namespace = namespace
        self.marked: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CrashMarker:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            with contextlib.suppress(KubeRequestError):
                for pod in self.kube.get(f"/api/v1/namespaces/{self.namespace}/pods")["items"]:
                    name = pod["metadata"]["name"]
                    annotations = pod["metadata"].get("annotations") or {}
                    if name in self.marked or CRASH_LOOP_ANNOTATION in annotations:
                        continue
                    if self.matches(pod):
                        mark_crash_looping(self.kube, self.namespace, name, self.message)
                        self.marked.add(name)


def run_playbook(
    name: str, plane: ControlPlane, extra_vars: Mapping[str, Any], *args: str
) -> subprocess.CompletedProcess[str]:
    """``ansible-playbook kruise_cri.remediation.NAME`` on localhost, as a user runs it."""
    variables = {
        "kruise_cri_kubeconfig": str(plane.kubeconfig),
        "kruise_cri_helm_binary": str(ensure_go_tool("helm")),
        "kruise_cri_timeout": 120,
        "kruise_cri_stable_seconds": 3,
        **extra_vars,
    }
    return subprocess.run(
        [
            str(VENV_BIN / "ansible-playbook"),
            f"kruise_cri.remediation.{name}",
            "-i",
            "localhost,",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            "-e",
            json.dumps(variables),
            *args,
        ],
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def recap(completed: subprocess.CompletedProcess[str]) -> dict[str, int]:
    match = re.search(r"localhost\s*:\s*(.*)", completed.stdout.split("PLAY RECAP")[-1])
    assert match, completed.stdout + completed.stderr
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def succeeded(completed: subprocess.CompletedProcess[str]) -> dict[str, int]:
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-3000:]
    return recap(completed)


def failed(completed: subprocess.CompletedProcess[str]) -> str:
    assert completed.returncode != 0, completed.stdout[-6000:]
    return flat(completed)


def flat(completed: subprocess.CompletedProcess[str]) -> str:
    """The output with runs of white space as one space (the callback wraps long lines) and
    YAML's doubled single quotes (ansible-core 2.16 shows messages only as YAML) as one."""
    return " ".join((completed.stdout + completed.stderr).split()).replace("''", "'")


def apply_manifest(kube: KubeClient, text: str) -> list[dict[str, Any]]:
    """Create every object of a rendered manifest, as `kubectl create -f` does."""
    documents = [d for d in yaml.safe_load_all(text) if d]
    for namespace in {d["metadata"].get("namespace") for d in documents} - {None}:
        ensure_namespace(kube, namespace)
    order = ("Namespace", "CustomResourceDefinition")
    create_all(kube, [d for d in documents if d["kind"] == "Namespace"], exist_ok=True)
    create_all(kube, [d for d in documents if d["kind"] == "CustomResourceDefinition"])
    create_all(kube, [d for d in documents if d["kind"] not in order], workers=1)
    return documents


def delete_manifest(kube: KubeClient, documents: list[dict[str, Any]]) -> None:
    for document in documents:
        if document["kind"] != "CustomResourceDefinition":
            continue
        with contextlib.suppress(KubeRequestError):
            kube.delete(f"{CRDS}/{document['metadata']['name']}")
    for namespace in (NAMESPACE, "kruise-daemon-config"):
        with contextlib.suppress(KubeRequestError):
            kube.delete(f"/api/v1/namespaces/{namespace}")
        wait_gone(kube, f"/api/v1/namespaces/{namespace}", f"namespace {namespace} to go")


# ------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def plane(tmp_path_factory) -> Iterator[ControlPlane]:
    with kruise_plane(tmp_path_factory.mktemp("pin-plane"), NODES) as running:
        yield running


@pytest.fixture(scope="module")
def kube(plane: ControlPlane) -> KubeClient:
    return client_for(plane.kubeconfig)


@pytest.fixture(scope="module")
def charts(plane: ControlPlane, tmp_path_factory) -> dict[str, Path]:
    return package_charts(plane, tmp_path_factory.mktemp("charts"))


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
    shutil.copytree(chart_dir(), source)
    metadata = yaml.safe_load((source / "Chart.yaml").read_text())
    metadata["kubeVersion"] = ">= 1.99.0-0"
    (source / "Chart.yaml").write_text(yaml.safe_dump(metadata))
    helm(plane, "package", str(source), "--version", "1.5.5", "-d", str(tmp / "future"))
    return tmp / "future" / "kruise-1.5.5.tgz"


def pin_vars(charts: Mapping[str, Path], tmp: Path, **more: Any) -> dict[str, Any]:
    return {
        "kruise_cri_chart_ref": str(charts["1.5.5"]),
        "kruise_cri_backup_dir": str(tmp / "backup"),
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
    assert not (tmp_path / "backup").exists()

    # The pin: chart 1.5.5 with every user value kept, the daemon healthy on every node.
    pinned = run_playbook("pin_kruise", plane, pin_vars(charts, tmp_path))
    assert succeeded(pinned)["failed"] == 0
    history = helm_history(plane)
    assert [(h["revision"], h["chart"]) for h in history] == [
        (1, "kruise-1.6.3"),
        (2, "kruise-1.5.5"),
    ]
    assert history[-1]["description"] == "kruise-cri: pin OpenKruise 1.5.5"
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

    # The record of the way back: revision 1 and its values, readable by the owner only.
    records = list((tmp_path / "backup").glob("pin-kruise-*.json"))
    assert len(records) == 1
    assert stat.S_IMODE(records[0].stat().st_mode) == 0o600
    record = json.loads(records[0].read_text())
    assert record["helm"]["revision"] == 1
    assert record["helm"]["chart_version"] == "1.6.3"
    assert record["helm"]["values"] == USER_VALUES
    assert record["kruise_version"] == "1.6.3"

    # A rerun changes nothing and creates no revision.
    again = run_playbook("pin_kruise", plane, pin_vars(charts, tmp_path))
    assert succeeded(again)["changed"] == 0
    assert [h["revision"] for h in helm_history(plane)] == [1, 2]
    assert "OpenKruise already runs 1.5.5: nothing changed" in flat(again)

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
        wait_for("the EphemeralJob CRD to be served", lambda: _created(kube, job), 30)

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
    assert "Rolled back: release kruise runs chart 1.6.3 with the recorded values again" in message
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
        record = json.loads(
            next((tmp_path / "backup").glob("pin-kruise-system-*.json")).read_text()
        )
        assert record["manifests"]["manager_image"] == "openkruise/kruise-manager:v1.6.3"
        assert record["manifests"]["feature_gates"] == "ImagePullJobGate=true,PodIndexLabel=false"

        again = run_playbook("pin_kruise", plane, pin_vars(charts, tmp_path))
        assert succeeded(again)["changed"] == 0
    finally:
        delete_manifest(kube, documents)
