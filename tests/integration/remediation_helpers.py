"""Helpers shared by the remediation playbook tests (pin_kruise, disable_kruise_daemon): a control
plane of their own with kwok nodes, the lab's chart packaged as 1.5.5 and 1.6.3, helm, daemon pod
states, manifests, and ansible-playbook runs."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
    KubeRequestError,
)

from kruise_cri.lab.cluster_objects import (
    CRASH_MESSAGE,
    client_for,
    crash_looping,
    create_all,
    ensure_namespace,
    kwok_node,
    mark_crash_looping,
)
from kruise_cri.lab.controlplane import CRASH_LOOP_ANNOTATION, ControlPlane
from kruise_cri.lab.gotools import ensure_go_tool
from kruise_cri.lab.helm import KRUISE_CHART
from kruise_cri.lab.waiting import wait_until
from tests.integration.ansible_run import VENV_BIN, ansible_env
from tests.integration.kube_helpers import helm

NAMESPACE = "kruise-system"
RELEASE = "kruise"
RELEASE_NAMESPACE = "default"
DAEMON = f"/apis/apps/v1/namespaces/{NAMESPACE}/daemonsets/kruise-daemon"
MANAGER = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/kruise-controller-manager"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
# kube-apiserver over Debian's etcd cannot serve watch-list streams (no RequestWatchProgress):
# kwok's client asks for them, fails, and then only sees pods when it lists again, with a back-off
# of up to a minute, and its node leases lapse (nodes turn NotReady). With WatchList off it
# falls back to plain LIST + WATCH and acts within a second.
APISERVER_FLAGS = ("--feature-gates=WatchList=false",)


@contextlib.contextmanager
def kruise_plane(directory: Path, nodes: Mapping[str, tuple[str, str]]) -> Iterator[ControlPlane]:
    """A control plane of this test module's own, with kwok nodes."""
    with ControlPlane(directory=directory, extra_apiserver_flags=APISERVER_FLAGS) as plane:
        create_all(client_for(plane.kubeconfig), [kwok_node(n, *rt) for n, rt in nodes.items()])
        yield plane


def kruise_plane_fixtures(nodes: Mapping[str, tuple[str, str]], name: str) -> tuple[Any, Any, Any]:
    """A test module's own module-scoped fixtures: ``plane`` (a control plane with the kwok
    ``nodes``), ``kube`` (its client) and ``charts`` (the lab's chart packaged as 1.6.3 and
    1.5.5). Take them with ``plane, kube, charts = kruise_plane_fixtures(NODES, "pin")``."""

    @pytest.fixture(scope="module")
    def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
        with kruise_plane(tmp_path_factory.mktemp(f"{name}-plane"), nodes) as running:
            yield running

    @pytest.fixture(scope="module")
    def kube(plane: ControlPlane) -> KubeClient:
        return client_for(plane.kubeconfig)

    @pytest.fixture(scope="module")
    def charts(plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
        return package_charts(plane, tmp_path_factory.mktemp(f"{name}-charts"))

    return plane, kube, charts


def package_charts(plane: ControlPlane, directory: Path) -> dict[str, Path]:
    """The lab's chart packaged as 1.6.3 (as it is) and as 1.5.5."""
    directory.mkdir(parents=True, exist_ok=True)
    helm(plane, "package", str(KRUISE_CHART), "-d", str(directory))
    helm(
        plane,
        "package",
        str(KRUISE_CHART),
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
    # The pin's records stay beside the release; the next test's install starts without any.
    for record in pin_records(kube):
        kube.delete(f"/api/v1/namespaces/{RELEASE_NAMESPACE}/secrets/{record['name']}")


def set_runtime(kube: KubeClient, node: str, runtime_version: str) -> None:
    """What the kubelet reports once the node's runtime changed (a migration's end)."""
    kube.patch(
        f"/api/v1/nodes/{node}/status",
        {"status": {"nodeInfo": {"containerRuntimeVersion": runtime_version}}},
    )


PIN_RECORD_SELECTOR = "app.kubernetes.io/managed-by=kruise-cri,kruise-cri.openkruise.io/record=pin"


def pin_records(kube: KubeClient, namespace: str = RELEASE_NAMESPACE) -> list[dict[str, Any]]:
    """The pin's records of the way back in ``namespace`` (Secrets), oldest first, each decoded
    with its ``name``, its ``file`` (``Secret namespace/name``, as the playbook names it) and the
    Secret's ``type``."""
    secrets = kube.get(
        f"/api/v1/namespaces/{namespace}/secrets", {"labelSelector": PIN_RECORD_SELECTOR}
    )["items"]
    records = []
    for secret in secrets:
        name = secret["metadata"]["name"]
        record = json.loads(base64.b64decode(secret["data"]["record.json"]))
        records.append(
            {**record, "name": name, "file": f"Secret {namespace}/{name}", "type": secret["type"]}
        )
    return sorted(records, key=lambda record: record["taken_at"])


def wait_gone(kube: KubeClient, path: str, what: str, timeout: float = 120) -> None:
    def gone() -> bool:
        try:
            kube.get(path)
        except KubeRequestError as error:
            return error.status == 404
        return False

    wait_until(what, gone, timeout)


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

    return wait_until("a kruise-daemon pod on every kwok node", all_there)


def make_crash_loop(kube: KubeClient, nodes: Mapping[str, Any], crashing: tuple[str, ...]) -> None:
    """Mark the daemon pods of ``crashing`` nodes crash-looping, as kruise-daemon 1.6 does on
    v1alpha2-only nodes, and wait until kwok reports them so."""
    pods = wait_daemon_pods(kube, nodes)
    for node in crashing:
        mark_crash_looping(kube, NAMESPACE, pods[node]["metadata"]["name"], CRASH_MESSAGE)
    wait_until(
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


def playbook_command(
    name: str, plane: ControlPlane, extra_vars: Mapping[str, Any], *args: str
) -> list[str]:
    """``ansible-playbook kruise_cri.remediation.NAME`` on localhost, as a user runs it."""
    variables = {
        "kruise_cri_kubeconfig": str(plane.kubeconfig),
        "kruise_cri_helm_binary": str(ensure_go_tool("helm")),
        "kruise_cri_timeout": 120,
        "kruise_cri_stable_seconds": 3,
        **extra_vars,
    }
    return [
        str(VENV_BIN / "ansible-playbook"),
        f"kruise_cri.remediation.{name}",
        "-i",
        "localhost,",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        "-e",
        json.dumps(variables),
        *args,
    ]


def run_playbook(
    name: str, plane: ControlPlane, extra_vars: Mapping[str, Any], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        playbook_command(name, plane, extra_vars, *args),
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def run_cli(
    command: str, plane: ControlPlane, extra_vars: Mapping[str, Any], *args: str
) -> dict[str, Any]:
    """``kruise-cri COMMAND ... --json`` (its playbook through ansible-runner, as AWX runs it)
    with the variables :func:`playbook_command` gives; the JSON summary, its exit code as
    ``returncode``."""
    variables = {
        "kruise_cri_helm_binary": str(ensure_go_tool("helm")),
        "kruise_cri_timeout": 120,
        "kruise_cri_stable_seconds": 3,
        **extra_vars,
    }
    completed = subprocess.run(
        [
            str(VENV_BIN / "kruise-cri"),
            command,
            "--kubeconfig",
            str(plane.kubeconfig),
            "-e",
            json.dumps(variables),
            "--json",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        summary = json.loads(completed.stdout)
    except json.JSONDecodeError:
        raise AssertionError(completed.stdout[-4000:] + completed.stderr[-2000:]) from None
    return {**summary, "returncode": completed.returncode}


def start_playbook(
    name: str, plane: ControlPlane, extra_vars: Mapping[str, Any], *args: str
) -> subprocess.Popen[str]:
    """The playbook started in a session of its own (so that a test can kill it and its
    workers at once, as a lost controller would); :func:`finish` collects it."""
    return subprocess.Popen(
        playbook_command(name, plane, extra_vars, *args),
        env=ansible_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(
    process: subprocess.Popen[str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


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
