"""Real nodes: Debian booted with systemd in systemd-nspawn, reached over SSH as production
nodes are, with their runtimes as systemd units (Docker 20.10 with dockershim, containerd 1.4,
containerd 1.7, Docker on its CRI-disabled containerd behind a cri-dockerd-style shim), pulling
from the lab's own registry, and a real kubelet v1.23.17 in each that joins a v1.24.17 control
plane and runs pods.

cri_facts runs through Ansible over SSH with the node's own Python; the real kruise-daemon 1.5.5
and 1.6.0 run against each node's /run; the model's verdicts must be what the daemons did.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kruise_cri.lab.cluster_objects import client_for
from kruise_cri.lab.gotools import ensure_go_tool
from kruise_cri.lab.kernel_tunables import KernelTunables
from kruise_cri.lab.kruise_daemon_run import DaemonRun
from kruise_cri.lab.kubernetes_build import NODE_PLANE_RELEASE, NODE_RELEASE
from kruise_cri.lab.openkruise_build import OPENKRUISE_VERSIONS
from kruise_cri.lab.real_nodes import REAL_NODE_KINDS, RealNodes, real_node_name
from kruise_cri.lab.waiting import wait_until
from tests.integration.ansible_run import run_module
from tests.integration.real_daemon_helpers import (
    assert_model_matches,
    install_crds,
    run_every_daemon_on_real_nodes,
    tail,
)
from tests.integration.remediation_helpers import package_charts

pytestmark = pytest.mark.real_nodes

KINDS = list(REAL_NODE_KINDS)
NAMES = {kind: real_node_name(kind) for kind in KINDS}


@pytest.fixture(scope="module")
def real_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealNodes]:
    with RealNodes(KINDS, tmp_path_factory.mktemp("real") / "nodes", progress=sys.stderr) as nodes:
        yield nodes


@pytest.fixture(scope="module")
def inventory(real_nodes: RealNodes, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("real-inventory") / "hosts.yml"
    path.write_text(yaml.safe_dump(real_nodes.inventory()))
    return path


@pytest.fixture(scope="module")
def real_facts(inventory: Path) -> dict[str, dict[str, Any]]:
    """cri_facts of every real node, over SSH, with the node's own Python 3."""
    results = run_module(inventory, "kube_nodes", "kruise_cri.remediation.cri_facts")
    for host, result in results.items():
        assert not result.get("failed"), f"{host}: {result.get('msg')}"
    return {host: result["ansible_facts"]["kruise_cri"] for host, result in results.items()}


@pytest.fixture(scope="module")
def daemon_runs(real_nodes: RealNodes, tmp_path_factory) -> dict[tuple[str, str], DaemonRun]:
    """Each kruise-daemon version run on each node, against the nodes' own cluster (where they
    are real Nodes) with OpenKruise's CRDs installed."""
    plane = real_nodes.plane
    assert plane is not None
    charts = package_charts(plane, tmp_path_factory.mktemp("real-nodes-charts"))
    install_crds(plane, charts, tmp_path_factory.mktemp("real-nodes-values"))
    logs = tmp_path_factory.mktemp("logs")
    return run_every_daemon_on_real_nodes(real_nodes, logs)


def test_nodes_are_machines_reached_over_ssh(real_nodes: RealNodes) -> None:
    for kind, node in real_nodes.nodes.items():
        completed = subprocess.run(
            [
                *real_nodes.ssh_command(),
                f"root@{node.address}",
                "systemctl is-system-running --wait; cat /proc/1/comm; hostname; "
                "systemctl list-units --failed --plain --no-legend --no-pager >&2",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        state, init, hostname = completed.stdout.split()
        assert (state, init, hostname) == ("running", "systemd", node.machine), (
            kind,
            completed.stderr,
        )


@pytest.mark.parametrize("kind", KINDS)
def test_cri_facts_over_ssh(real_facts: dict[str, dict[str, Any]], kind: str) -> None:
    spec = REAL_NODE_KINDS[kind].spec
    facts = real_facts[NAMES[kind]]
    compatible = {line for line, verdict in facts["kruise_daemon"].items() if verdict["compatible"]}
    assert compatible == spec.compatible_lines, {
        line: verdict["reason"] for line, verdict in facts["kruise_daemon"].items()
    }
    containerd = next(e for e in facts["endpoints"] if e["kind"] == "containerd")
    expected_apis = {
        "containerd-1-4": ["v1alpha2"],
        "containerd-1-7": ["v1", "v1alpha2"],
    }.get(kind, [])  # Docker's containerd: CRI off, nothing served
    assert sorted(containerd["cri_api_versions"]) == expected_apis, containerd
    assert (facts["docker"] is not None) == spec.with_docker


@pytest.mark.parametrize("version", OPENKRUISE_VERSIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_model_says_what_the_real_daemon_does_on_real_nodes(
    daemon_runs: dict[tuple[str, str], DaemonRun],
    real_facts: dict[str, dict[str, Any]],
    kind: str,
    version: str,
) -> None:
    run = daemon_runs[(NAMES[kind], version)]
    assert_model_matches(run, real_facts[NAMES[kind]])
    if version == "v1.6.0":
        assert run.exit_code == REAL_NODE_KINDS[kind].spec.kruise_daemon_1_6_exit_code, tail(run)


def ssh(nodes: RealNodes, kind: str, command: str) -> str:
    completed = subprocess.run(
        [*nodes.ssh_command(), f"root@{nodes.nodes[kind].address}", command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, f"{kind}: {command}: {completed.stderr[-800:]}"
    return completed.stdout


def test_docker_pulls_docker_hub_names_through_the_lab_mirror(
    real_nodes: RealNodes, real_facts: dict[str, dict[str, Any]]
) -> None:
    registry = real_nodes.registry
    assert registry is not None
    out = ssh(real_nodes, "docker-dockershim", "docker run --rm busybox:1.35 echo from-the-mirror")
    assert out.strip() == "from-the-mirror"
    ssh(real_nodes, "docker-dockershim", f"docker pull -q {registry.host}/pause:3.6")
    daemon_json = real_facts[NAMES["docker-dockershim"]]["docker"]["daemon_json"]
    assert daemon_json["registry_mirrors"] == [f"http://{registry.host}"]
    assert daemon_json["insecure_registries"] == [registry.host]


def test_containerd_pulls_through_cri_from_the_lab_registry(real_nodes: RealNodes) -> None:
    registry = real_nodes.registry
    assert registry is not None
    node = real_nodes.nodes["containerd-1-7"]
    socket = f"unix://{node.var_run()}/containerd/containerd.sock"
    crictl = ensure_go_tool("crictl")
    for image in ("busybox:1.35", f"{registry.host}/pause:3.6"):  # Docker Hub's mirror, direct
        pulled = subprocess.run(
            [str(crictl), "--runtime-endpoint", socket, "--image-endpoint", socket, "pull", image],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert pulled.returncode == 0, pulled.stderr
    # containerd 1.4 serves only CRI v1alpha2, which crictl 1.34 no longer speaks: ctr instead.
    listed = ssh(
        real_nodes,
        "containerd-1-4",
        f"ctr -n k8s.io images pull --plain-http {registry.host}/pause:3.6 >/dev/null && "
        "ctr -n k8s.io images ls -q",
    )
    assert f"{registry.host}/pause:3.6" in listed.split()


EXPECTED_RUNTIMES = {
    "docker-dockershim": "docker://20.10.",
    "containerd-1-4": "containerd://1.4.13",
    "containerd-1-7": "containerd://1.7.24",
    "docker-cri-off": "docker://20.10.",
}


def test_every_kubelet_joined_the_nodes_cluster(real_nodes: RealNodes) -> None:
    assert real_nodes.plane is not None
    kube = client_for(real_nodes.plane.kubeconfig)
    assert kube.get("/version")["gitVersion"] == NODE_PLANE_RELEASE.version
    for kind in KINDS:
        node = kube.get(f"/api/v1/nodes/{NAMES[kind]}")
        info = node["status"]["nodeInfo"]
        assert info["kubeletVersion"] == NODE_RELEASE.version
        assert info["containerRuntimeVersion"].startswith(EXPECTED_RUNTIMES[kind]), info
        addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
        assert addresses["InternalIP"] == real_nodes.nodes[kind].address
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", ready


# Through the `kubernetes` Service's ClusterIP, as in-cluster clients (kruise-manager,
# kruise-daemon) reach the API server: kube-proxy's rules on the node, the bridge's masquerade.
ECHO_AND_ASK_THE_API_SERVER = (
    "echo hello from $(hostname); "
    "wget -q -O - --no-check-certificate "
    "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/version | grep gitVersion; "
    "sleep 3600"
)


def test_pods_run_on_every_kind_and_reach_the_api_server(real_nodes: RealNodes) -> None:
    """A DaemonSet of Docker Hub's busybox (pulled through each runtime's mirror of the lab
    registry, with the lab's pause image as sandbox) runs a pod on every node, on the pod
    network; each reaches the API server through the `kubernetes` Service (kube-proxy), and its
    log comes back through the API server from the node's kubelet."""
    assert real_nodes.plane is not None
    kube = client_for(real_nodes.plane.kubeconfig)
    labels = {"app": "lab-echo"}
    kube.post(
        "/apis/apps/v1/namespaces/default/daemonsets",
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "lab-echo"},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "echo",
                                "image": "busybox:1.35",
                                "command": ["sh", "-c", ECHO_AND_ASK_THE_API_SERVER],
                            }
                        ]
                    },
                },
            },
        },
    )

    def running() -> dict[str, dict[str, Any]] | None:
        pods = kube.get("/api/v1/namespaces/default/pods", {"labelSelector": "app=lab-echo"})
        by_node = {p["spec"].get("nodeName"): p for p in pods["items"]}
        if all(
            by_node.get(name, {}).get("status", {}).get("phase") == "Running"
            for name in NAMES.values()
        ):
            return by_node
        return None

    by_node = wait_until("a running lab-echo pod on every real node", running, 120)
    for kind in KINDS:
        pod = by_node[NAMES[kind]]
        assert pod["status"]["podIP"].startswith(real_nodes.nodes[kind].pod_subnet[:-4]), pod[
            "status"
        ]
        path = f"/api/v1/namespaces/default/pods/{pod['metadata']['name']}/log"

        def logged_both(path: str = path) -> list[str] | None:
            lines = kube.get_raw(path).decode().strip().splitlines()
            return lines if len(lines) == 2 else None

        hello, version = wait_until(f"the log of the pod on {kind}", logged_both, 30)
        assert hello == f"hello from {pod['metadata']['name']}", kind
        assert f'"gitVersion": "{NODE_PLANE_RELEASE.version}"' in version, kind


def test_stopping_leaves_nothing_behind(tmp_path: Path) -> None:
    directory = tmp_path / "one"
    with RealNodes(["containerd-1-7"], directory) as nodes:
        node = nodes.nodes["containerd-1-7"]
        pid, link, root = node.process.pid, node.host_link, node.root
        assert nodes.registry is not None and nodes.registry.process is not None
        registry_pid, registry_address = nodes.registry.process.pid, nodes.registry.address
        assert nodes.plane is not None
        plane_pids = [c.process.pid for c in nodes.plane.components if c.process]
        assert len(plane_pids) == 4  # etcd, kube-apiserver, controller-manager, scheduler
        assert Path(f"/sys/class/net/{link}").exists()
        assert nodes.tunables.held
    assert not Path(f"/proc/{pid}").exists()
    assert not Path(f"/proc/{registry_pid}").exists()
    assert not any(Path(f"/proc/{plane_pid}").exists() for plane_pid in plane_pids)
    assert not nodes.tunables.held
    assert os.getpid() not in KernelTunables().holders()
    loopback = subprocess.run(
        ["ip", "-o", "-4", "addr", "show", "dev", "lo"], capture_output=True, text=True, check=True
    ).stdout
    assert f" {registry_address}/32 " not in loopback
    assert not Path(f"/sys/class/net/{link}").exists()
    assert str(root) not in Path("/proc/mounts").read_text()
    assert not directory.exists()
