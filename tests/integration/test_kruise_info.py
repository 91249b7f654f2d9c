"""kruise_info against a real control plane: OpenKruise installed by real helm from the lab's chart,
kwok nodes of several runtimes, crash-looping daemon pods, and objects of every daemon-dependent
kind. The module runs through `ansible`, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
    COLLECTION_VERSION,
)

from kruise_cri.lab.cluster_objects import (
    CRASH_MESSAGE,
    bound_pod,
    client_for,
    crash_looping,
    create_all,
    ensure_namespace,
    kwok_node,
    mark_crash_looping,
)
from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.helm import KRUISE_CHART
from kruise_cri.lab.lab_cluster import wait_for_daemon_pods
from kruise_cri.lab.pki import write_pki
from kruise_cri.lab.waiting import wait_until
from tests.integration.ansible_run import VENV_BIN, ansible_env
from tests.integration.kube_helpers import (
    helm,
    run_cluster_module,
    unreachable_kubeconfig,
)

NAMESPACE = "kruise-system"
NODES = {
    "info-docker": ("docker://20.10.24", "v1.23.17"),
    "info-containerd-14": ("containerd://1.4.13", "v1.23.17"),
    "info-containerd-17": ("containerd://1.7.24", "v1.28.15"),
    "info-containerd-21": ("containerd://2.1.9", "v1.33.1"),
    "info-crio": ("cri-o://1.28.1", "v1.28.15"),
}
CRASHING = ("info-docker", "info-containerd-14")
FEATURE_GATES = "ImagePullJobGate=true,PodProbeMarkerGate=true"


def _kruise(kind: str, name: str, spec: dict[str, Any], namespace: str | None = "apps") -> dict:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "apps.kruise.io/v1alpha1",
        "kind": kind,
        "metadata": metadata,
        "spec": spec,
    }


@pytest.fixture(scope="module")
def kruise_cluster(control_plane: ControlPlane, kube) -> Iterator[ControlPlane]:
    create_all(kube, [kwok_node(name, *runtime) for name, runtime in NODES.items()])
    kube.patch("/api/v1/nodes/info-crio", {"spec": {"unschedulable": True}})
    # As upstream documents it: the release lives in `default`, the chart creates kruise-system.
    helm(
        control_plane,
        "install",
        "kruise",
        str(KRUISE_CHART),
        "--set",
        f"featureGates={FEATURE_GATES.replace(',', chr(92) + ',')}",
    )

    pods = wait_for_daemon_pods(kube, list(NODES), timeout=60)
    for node in CRASHING:
        mark_crash_looping(kube, NAMESPACE, pods[node], CRASH_MESSAGE)
    ensure_namespace(kube, "apps")
    create_all(
        kube,
        [
            _kruise(
                "ContainerRecreateRequest",
                "restart-1",
                {"podName": "web-0", "containers": [{"name": "app"}]},
            ),
            _kruise(
                "ContainerRecreateRequest",
                "restart-2",
                {"podName": "web-1", "containers": [{"name": "app"}]},
            ),
            _kruise("ImagePullJob", "pull-active", {"image": "nginx:1.27"}),
            _kruise(
                "PodProbeMarker",
                "probe",
                {"selector": {"matchLabels": {"app": "web"}}, "probes": []},
            ),
            _kruise(
                "NodeImage", "info-docker", {"images": {"nginx": {"tags": [{"tag": "1.27"}]}}}, None
            ),
            _kruise("NodeImage", "info-crio", {}, None),
            {
                "apiVersion": "apps.kruise.io/v1alpha1",
                "kind": "CloneSet",
                "metadata": {
                    "name": "shop",
                    "namespace": "apps",
                    "annotations": {"apps.kruise.io/image-predownload-parallelism": "5"},
                },
                "spec": {"selector": {"matchLabels": {"app": "shop"}}, "template": {}},
            },
            bound_pod(
                "batch-1",
                "apps",
                "info-crio",
                env={"KRUISE_TERMINATE_SIDECAR_WHEN_JOB_EXIT": "true"},
                restart_policy="Never",
            ),
            bound_pod(
                "web-always",
                "apps",
                "info-crio",
                env={"KRUISE_TERMINATE_SIDECAR_WHEN_JOB_EXIT": "true"},
            ),
            bound_pod("web-0", "apps", "info-crio"),
        ],
    )

    def all_crash_looping() -> bool:
        pods = kube.get(
            f"/api/v1/namespaces/{NAMESPACE}/pods", {"labelSelector": "control-plane=daemon"}
        )
        return sum(crash_looping(p) for p in pods["items"]) == len(CRASHING)

    wait_until("kwok to report the marked daemon pods in CrashLoopBackOff", all_crash_looping)
    yield control_plane
    helm(control_plane, "uninstall", "kruise", "--wait", check=False)


@pytest.fixture(scope="module")
def info(kruise_cluster: ControlPlane) -> dict[str, Any]:
    result = run_cluster_module(
        "kruise_cri.remediation.kruise_info", {"kubeconfig": str(kruise_cluster.kubeconfig)}
    )
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    return result["kruise"]


def test_install_is_the_helm_release_with_its_values(info):
    assert info["installed"] is True
    assert info["version"] == "1.6.3"
    assert info["line"] == "1.6"
    assert info["namespace"] == NAMESPACE
    helm_release = info["install"]["helm"]
    assert info["install"]["method"] == "helm"
    assert helm_release["release"] == "kruise"
    assert helm_release["namespace"] == "default"
    assert helm_release["chart"] == "kruise"
    assert helm_release["chart_version"] == "1.6.3"
    assert helm_release["status"] == "deployed"
    assert helm_release["values"] == {"featureGates": FEATURE_GATES}


def test_feature_gates_are_the_managers_arguments(info):
    assert info["feature_gates"]["argument"] == FEATURE_GATES
    assert info["feature_gates"]["gates"] == {"ImagePullJobGate": True, "PodProbeMarkerGate": True}
    assert info["feature_gates"]["daemon_enabled"] is True


def test_daemon_status_names_the_crash_looping_pods_and_their_message(info):
    daemon = info["daemon"]
    assert daemon["name"] == "kruise-daemon"
    assert daemon["desired"] >= len(NODES)
    assert daemon["socket_location"] == "/var/run"
    crashing = {entry["node"]: entry for entry in daemon["crash_looping"]}
    assert set(crashing) == set(CRASHING)
    assert crashing["info-docker"]["reason"] == "CrashLoopBackOff"
    assert crashing["info-docker"]["last_message"] == CRASH_MESSAGE
    assert crashing["info-docker"]["last_exit_code"] == 1


def test_every_node_reports_its_runtime_and_kubelet(info):
    nodes = {node["name"]: node for node in info["nodes"]}
    for name, (runtime_version, kubelet_version) in NODES.items():
        assert nodes[name]["container_runtime_version"] == runtime_version
        assert nodes[name]["kubelet_version"] == kubelet_version
        assert nodes[name]["ready"] is True
    assert nodes["info-docker"]["runtime"] == "docker"
    assert nodes["info-crio"]["unschedulable"] is True
    assert nodes["info-docker"]["unschedulable"] is False
    assert nodes["info-crio"]["runtime"] == "cri-o"
    assert nodes["info-docker"]["daemon_pod_state"] == "crash-looping"
    assert nodes["info-containerd-17"]["daemon_pod_state"] == "running"


def test_daemon_dependent_features_in_use_are_counted(info):
    use = info["feature_use"]
    kinds = use["kinds"]
    assert kinds["ContainerRecreateRequest"] == {"crd": True, "count": 2}
    assert kinds["ImagePullJob"] == {"crd": True, "count": 1, "active": 1}
    assert kinds["NodeImage"] == {"crd": True, "count": 2, "with_images": 1}
    assert kinds["PodProbeMarker"] == {"crd": True, "count": 1}
    assert kinds["NodePodProbe"] == {"crd": True, "count": 0}
    assert use["predownload_workloads"]["count"] == 1
    assert use["predownload_workloads"]["examples"][0]["name"] == "shop"
    assert use["sidecar_terminator_pods"] == {"count": 1, "examples": ["apps/batch-1"]}
    assert use["in_use"] is True


def test_reading_costs_only_list_requests(info):
    requests = info["requests"]
    assert requests["count"] == sum(requests["by_resource"].values())
    # One page each at this size: no per-object GETs.
    assert requests["by_resource"]["nodes"] == 1
    assert requests["by_resource"]["pods"] == 2  # the daemon's pods, then every pod
    assert requests["count"] < 30


def test_manifest_install_and_missing_crds_on_a_second_cluster(tmp_path):
    """A cluster of its own: first without OpenKruise (every kind is a finding, not an error),
    then with the chart's objects applied as plain manifests."""
    audit_log = tmp_path / "audit.log"
    flags = audit_flags(tmp_path / "audit-policy.yaml", audit_log)
    with ControlPlane(
        directory=tmp_path / "plane", with_kwok=False, extra_apiserver_flags=flags
    ) as plane:
        empty = run_cluster_module(
            "kruise_cri.remediation.kruise_info", {"kubeconfig": str(plane.kubeconfig)}
        )
        assert not empty.get("failed"), empty.get("msg")
        # Every request the module sent reached the API server with the module's User-Agent.
        sent = empty["kruise"]["requests"]["count"]
        wait_until(
            "the audit log to show kruise_info's requests",
            lambda: len(audit_events(audit_log, KRUISE_INFO_USER_AGENT)) >= sent,
            timeout=10,
        )
        assert len(audit_events(audit_log, KRUISE_INFO_USER_AGENT)) == sent
        facts = empty["kruise"]
        assert facts["installed"] is False
        assert facts["install"] == {"method": None, "helm": None, "error": None}
        assert facts["daemon"] is None
        assert facts["feature_use"]["in_use"] is False
        assert all(
            entry == {"crd": False, "count": 0} for entry in facts["feature_use"]["kinds"].values()
        )
        missing = {f["source"] for f in facts["findings"] if f["message"] == "CRD not installed"}
        assert "apps.kruise.io/v1alpha1 NodePodProbe" in missing

        rendered = helm(
            plane,
            "template",
            "kruise",
            str(KRUISE_CHART),
            "--namespace",
            NAMESPACE,
            "--set",
            "manager.image.tag=v1.5.5",
        ).stdout
        manifest = tmp_path / "kruise.yaml"
        manifest.write_text(rendered)
        _apply(plane, manifest)
        result = run_cluster_module(
            "kruise_cri.remediation.kruise_info", {"kubeconfig": str(plane.kubeconfig)}
        )
        assert not result.get("failed"), result.get("msg")
        facts = result["kruise"]
        assert facts["installed"] is True
        assert facts["install"] == {"method": "manifests", "helm": None, "error": None}
        assert facts["version"] == "1.5.5"
        assert facts["daemon"]["name"] == "kruise-daemon"
        assert facts["feature_use"]["kinds"]["ContainerRecreateRequest"] == {
            "crd": True,
            "count": 0,
        }


KRUISE_INFO_USER_AGENT = f"kruise-cri/{COLLECTION_VERSION} kruise_cri.remediation.kruise_info"


def audit_flags(policy: Path, log: Path) -> tuple[str, ...]:
    """kube-apiserver flags that log every request's metadata (user agent included) to ``log``."""
    policy.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "audit.k8s.io/v1",
                "kind": "Policy",
                "omitStages": ["RequestReceived"],
                "rules": [{"level": "Metadata"}],
            }
        )
    )
    return (f"--audit-policy-file={policy}", f"--audit-log-path={log}")


def audit_events(log: Path, user_agent: str) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [event for event in events if event.get("userAgent") == user_agent]


def _apply(plane: ControlPlane, manifest: Path) -> None:
    documents = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    client = client_for(plane.kubeconfig)
    namespaces = {d["metadata"].get("namespace") for d in documents} - {None}
    create_all(
        client,
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces],
        exist_ok=True,
    )
    crds = [d for d in documents if d["kind"] == "CustomResourceDefinition"]
    create_all(client, [{**d} for d in crds])
    rest = [d for d in documents if d["kind"] not in ("CustomResourceDefinition", "Namespace")]
    create_all(client, rest, workers=1)


def test_unreachable_api_server_fails_with_the_server_and_the_fix(tmp_path):
    kubeconfig = unreachable_kubeconfig(tmp_path / "gone.kubeconfig", "secret-token-value")
    result = run_cluster_module(
        "kruise_cri.remediation.kruise_info", {"kubeconfig": str(kubeconfig)}
    )
    assert result.get("failed")
    assert "cannot reach the API server https://127.0.0.1:1" in result["msg"]
    assert "secret-token-value" not in json.dumps(result)


def test_rejected_token_fails_with_401_and_is_never_shown(control_plane):
    result = run_cluster_module(
        "kruise_cri.remediation.kruise_info",
        {
            "host": control_plane.server,
            "ca_cert": str(control_plane.kubeconfig.parent / "pki" / "ca.crt"),
            "api_key": "not-a-valid-token",
        },
    )
    assert result.get("failed")
    assert "rejected the credentials (HTTP 401)" in result["msg"]
    assert "not-a-valid-token" not in json.dumps(result)


def test_untrusted_server_certificate_names_the_fix(control_plane, tmp_path):
    foreign_ca = write_pki(tmp_path / "foreign", (), server_names=("elsewhere",)).ca_certificate
    result = run_cluster_module(
        "kruise_cri.remediation.kruise_info",
        {"host": control_plane.server, "ca_cert": str(foreign_ca), "api_key": "x"},
    )
    assert result.get("failed")
    assert "is not trusted" in result["msg"]
    assert "ca_cert" in result["msg"]


def test_one_object_per_page_reads_the_same(kruise_cluster, info):
    """Every LIST followed to its last page: built-in lists carry `continue` before their items,
    custom resource lists after them."""
    result = run_cluster_module(
        "kruise_cri.remediation.kruise_info",
        {"kubeconfig": str(kruise_cluster.kubeconfig), "page_size": 1},
    )
    assert not result.get("failed"), result.get("msg")
    paged = result["kruise"]
    for key in ("feature_use", "nodes", "install", "feature_gates"):
        assert paged[key] == info[key], key
    assert paged["daemon"]["crash_looping"] == info["daemon"]["crash_looping"]
    assert paged["requests"]["by_resource"]["nodeimages"] == 2  # one page per NodeImage


def test_check_mode_reads_the_same(kruise_cluster):
    result = run_cluster_module(
        "kruise_cri.remediation.kruise_info",
        {"kubeconfig": str(kruise_cluster.kubeconfig)},
        "--check",
    )
    assert not result.get("failed"), result.get("msg")
    assert result["kruise"]["installed"] is True


def test_module_defaults_group_supplies_the_kubeconfig(kruise_cluster, tmp_path):
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Read the cluster with module_defaults",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "module_defaults": {
                        "group/kruise_cri.remediation.cluster": {
                            "kubeconfig": str(kruise_cluster.kubeconfig)
                        }
                    },
                    "tasks": [
                        {
                            "name": "Read",
                            "kruise_cri.remediation.kruise_info": {},
                            "register": "cluster",
                        },
                        {
                            "name": "Show",
                            "ansible.builtin.copy": {
                                "content": "{{ cluster.kruise.version }}",
                                "dest": str(tmp_path / "version.txt"),
                                "mode": "0600",
                            },
                        },
                    ],
                }
            ]
        )
    )
    env = ansible_env()
    completed = subprocess.run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            str(playbook),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert (tmp_path / "version.txt").read_text() == "1.6.3"
