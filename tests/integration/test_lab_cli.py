"""`kruise-cri lab up|status|down` and `assess --lab`: the README's first command, for real."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_info import (
    CRASH_LOOP_RESTARTS,
    daemon_pod_state,
)

from kruise_cri.lab.cluster_objects import client_for
from kruise_cri.lab.fleet import process_start_time
from kruise_cri.lab.kubernetes_build import NODE_PLANE_RELEASE, NODE_RELEASE
from kruise_cri.lab.waiting import wait_until
from tests.integration.procfs import process_running, processes_mentioning

KRUISE_CRI = Path(sys.executable).with_name("kruise-cri")


def kruise_cri(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KRUISE_CRI), *args], capture_output=True, text=True, timeout=600, check=False
    )


def test_lab_up_assess_down_leaves_nothing_running(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    up = kruise_cri("lab", "up", "--lab-dir", str(lab_dir))
    assert up.returncode == 0, up.stdout + up.stderr
    assert "Inventory:" in up.stdout
    status = json.loads(kruise_cri("lab", "status", "--lab-dir", str(lab_dir)).stdout)
    assert status["up"] is True
    host_roots = [Path(node["host_root"]) for node in status["nodes"].values()]
    supervisor = int(status["supervisor_pid"])
    cluster = status["cluster"]
    cluster_pids = [component["pid"] for component in cluster["components"].values()]
    cluster_ports = list(cluster["ports"].values())
    try:
        # The lab directory is private (root trusts what it holds) and lab.json records the
        # supervisor's start time, which status and down check before trusting the PID.
        assert stat.S_IMODE(lab_dir.stat().st_mode) == 0o700
        assert status["supervisor_start_time"] == process_start_time(supervisor)
        assert f"Kubeconfig: {status['kubeconfig']}" in up.stdout
        assert oct(Path(status["kubeconfig"]).stat().st_mode & 0o777) == "0o600"
        nodes = client_for(status["kubeconfig"]).get("/api/v1/nodes")["items"]
        runtimes = {
            n["metadata"]["name"]: n["status"]["nodeInfo"]["containerRuntimeVersion"] for n in nodes
        }
        assert runtimes["node-docker-dockershim"] == "docker://20.10.24"
        assert runtimes["node-containerd-1-4"] == "containerd://1.4.13"
        assert set(runtimes) == set(status["nodes"])
        assess = kruise_cri(
            "assess", "--lab", "--lab-dir", str(lab_dir), "--report-dir", str(tmp_path / "r")
        )
        assert assess.returncode == 2, assess.stdout + assess.stderr
        assert "Using the lab already running" in assess.stdout
        # assess --lab must not stop a lab it did not start
        assert json.loads(kruise_cri("lab", "status", "--lab-dir", str(lab_dir)).stdout)["up"]
    finally:
        down = kruise_cri("lab", "down", "--lab-dir", str(lab_dir))
    assert down.returncode == 0, down.stdout + down.stderr
    assert not process_running(supervisor)
    assert not any(root.exists() for root in host_roots), "host roots left behind"
    stray = processes_mentioning(*(str(root) for root in host_roots))
    assert stray == [], "runtime processes left behind"
    assert not any(process_running(pid) for pid in cluster_pids), "control plane left running"
    assert not any(_listening(port) for port in cluster_ports), "control plane ports left open"
    assert not Path(cluster["directory"]).exists(), "cluster files left behind"
    status = kruise_cri("lab", "status", "--lab-dir", str(lab_dir))
    assert status.returncode == 3 and json.loads(status.stdout)["up"] is False


def test_assess_lab_starts_and_stops_its_own_lab(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    assess = kruise_cri(
        "assess", "--lab", "--lab-dir", str(lab_dir), "--report-dir", str(tmp_path / "r")
    )
    assert assess.returncode == 2, assess.stdout + assess.stderr
    assert "Starting the lab" in assess.stdout
    assert "stopped" in assess.stdout
    assert (tmp_path / "r" / "report.html").exists()
    assert json.loads(kruise_cri("lab", "status", "--lab-dir", str(lab_dir)).stdout)["up"] is False


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.real_nodes
def test_lab_up_with_real_nodes_assesses_them_over_ssh_and_down_removes_them(
    tmp_path: Path,
) -> None:
    lab_dir = tmp_path / "lab"
    up = kruise_cri(
        "lab", "up", "--lab-dir", str(lab_dir), "--nodes", "containerd-1-4,docker-dockershim"
    )
    assert up.returncode == 0, up.stdout + up.stderr
    status = json.loads(kruise_cri("lab", "status", "--lab-dir", str(lab_dir)).stdout)
    real = status["real_nodes"]
    machines = [node["machine"] for node in real.values()]
    try:
        assert sorted(real) == ["nspawn-containerd-1-4", "nspawn-docker-dockershim"]
        assert all(0 < node["memory_bytes"] < 512 * 2**20 for node in real.values()), real
        inventory = (lab_dir / "inventory.yml").read_text()
        assert (
            "ansible_ssh_private_key_file" in inventory and "StrictHostKeyChecking=yes" in inventory
        )
        kube = client_for(status["kubeconfig"])
        assert kube.get("/version")["gitVersion"] == NODE_PLANE_RELEASE.version
        assert status["cluster"]["kubernetes_version"] == NODE_PLANE_RELEASE.version
        nodes = {n["metadata"]["name"]: n for n in kube.get("/api/v1/nodes")["items"]}
        for name in real:  # registered by their own kubelets, not by kwok
            assert "kwok.x-k8s.io/node" not in nodes[name]["metadata"].get("annotations", {})
            assert nodes[name]["status"]["nodeInfo"]["kubeletVersion"] == NODE_RELEASE.version
        runtimes = {
            name: node["status"]["nodeInfo"]["containerRuntimeVersion"]
            for name, node in nodes.items()
        }
        assert runtimes["nspawn-containerd-1-4"] == "containerd://1.4.13"
        assert runtimes["nspawn-docker-dockershim"].startswith("docker://20.10.24")
        # The real kruise-manager 1.6.0 runs on the real node without Docker; the real
        # kruise-daemon 1.6.0 crash-loops on both real nodes, as on their kwok twins.
        pods = kube.get("/api/v1/namespaces/kruise-system/pods")["items"]
        managers = [p for p in pods if "controller-manager" in p["metadata"]["name"]]
        assert [p["spec"].get("nodeName") for p in managers] == ["nspawn-containerd-1-4"]
        assert managers[0]["spec"]["containers"][0]["image"] == "openkruise/kruise-manager:v1.6.0"
        assert Path(status["pin_chart"]).is_file()
        assert f"Pin chart:  {status['pin_chart']}" in up.stdout

        def real_daemons_crash_looping() -> bool:
            pods = kube.get(
                "/api/v1/namespaces/kruise-system/pods", {"labelSelector": "control-plane=daemon"}
            )["items"]
            states = {p["spec"].get("nodeName"): daemon_pod_state(p) for p in pods}
            # Between two crashes a pod runs for a few seconds; from CRASH_LOOP_RESTARTS on it
            # reads as crash-looping then too, so the report below cannot catch it mid-restart.
            return all(
                states.get(name, {}).get("state") == "crash-looping"
                and states[name]["restarts"] >= CRASH_LOOP_RESTARTS
                for name in real
            )

        wait_until("the real kruise-daemons crash-looping", real_daemons_crash_looping, 300)
        report_dir = tmp_path / "r"
        assess = kruise_cri(
            "assess", "--lab", "--lab-dir", str(lab_dir), "--report-dir", str(report_dir)
        )
        assert assess.returncode == 2, assess.stdout + assess.stderr
        report = json.loads((report_dir / "report.json").read_text())
        verdicts = {
            node["host"]: node["verdict"] for group in report["groups"].values() for node in group
        }
        assert verdicts["nspawn-containerd-1-4"] == "incompatible"
        assert verdicts["nspawn-docker-dockershim"] == "incompatible"
        crashing = {
            pod["node"]: pod["last_exit_code"]
            for pod in report["cluster"]["daemon"]["crash_looping"]
        }
        assert crashing["node-containerd-1-4"] == 2  # kwok's, as the real daemon ends
        assert crashing["node-docker-dockershim"] == 255
        assert crashing["nspawn-containerd-1-4"] == 2  # the real daemon's own exit
        assert crashing["nspawn-docker-dockershim"] == 255
    finally:
        down = kruise_cri("lab", "down", "--lab-dir", str(lab_dir))
    assert down.returncode == 0, down.stdout + down.stderr
    assert processes_mentioning(str(lab_dir / "real-nodes")) == []
    assert not any(Path(f"/sys/class/net/ve-{machine}").exists() for machine in machines)
    assert str(lab_dir) not in Path("/proc/mounts").read_text()
    assert not (lab_dir / "real-nodes").exists()


def test_lab_up_refuses_an_unknown_node_kind(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    up = kruise_cri("lab", "up", "--lab-dir", str(lab_dir), "--nodes", "containerd-9")
    assert up.returncode == 2
    assert "unknown node kind(s) containerd-9" in up.stdout
    assert "docker-dockershim" in up.stdout  # names the kinds there are
    assert not lab_dir.exists()
