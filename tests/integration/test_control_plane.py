"""The lab's control plane: real etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
kwok on loopback, reached with the generated kubeconfig."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kruise_cri.lab import kubernetes_build
from kruise_cri.lab.cluster_objects import create_all, ensure_namespace, kwok_node
from kruise_cri.lab.controlplane import ControlPlane, ControlPlaneError
from kruise_cri.lab.kubernetes_build import KUBERNETES_VERSION
from kruise_cri.lab.waiting import wait_until
from tests.integration.procfs import process_running

pytestmark = pytest.mark.lab_only


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _listen_addresses(port: int) -> set[str]:
    """Local addresses of sockets listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address)
    return found


def test_version_reports_the_stamped_release(kube):
    version = kube.get("/version")
    assert version["gitVersion"] == KUBERNETES_VERSION
    assert version["gitTreeState"] == "clean"


def test_every_component_listens_on_loopback_only(control_plane):
    loopback_v4 = "0100007F"  # 127.0.0.1 as /proc/net/tcp prints it
    for name, port in control_plane.ports.items():
        assert _listen_addresses(port) == {loopback_v4}, name


def test_kubeconfig_and_keys_are_private(control_plane):
    assert control_plane.kubeconfig.stat().st_mode & 0o777 == 0o600
    for key in (control_plane.kubeconfig.parent / "pki").glob("*.key"):
        assert key.stat().st_mode & 0o777 == 0o600, key


def test_a_deployment_runs_on_kwok_nodes(kube):
    """Controller manager (ReplicaSet), scheduler (binding) and kwok (status) all take part."""
    create_all(kube, [kwok_node("cp-node-a", "containerd://1.7.24")], exist_ok=True)
    ensure_namespace(kube, "cp-test")
    create_all(
        kube,
        [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "cp-test"},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {
                            "nodeSelector": {"kubernetes.io/hostname": "cp-node-a"},
                            "containers": [{"name": "app", "image": "registry.example/web:1"}],
                        },
                    },
                },
            }
        ],
    )

    def running() -> list[str] | None:
        pods = kube.get("/api/v1/namespaces/cp-test/pods")["items"]
        names = [
            p["metadata"]["name"]
            for p in pods
            if p["spec"].get("nodeName") == "cp-node-a" and p["status"].get("phase") == "Running"
        ]
        return names if len(names) == 2 else None

    wait_until("two web pods Running on cp-node-a", running)
    node = kube.get("/api/v1/nodes/cp-node-a")
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
    assert ready == "True"
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"] == "containerd://1.7.24"


def test_stop_leaves_no_process_port_or_file(tmp_path):
    plane = ControlPlane(with_kwok=False).start()
    pids = [component.process.pid for component in plane.components if component.process]
    ports = list(plane.ports.values())
    directory = plane.directory
    etcd_data = list(plane._cleanup_paths)
    plane.stop()
    assert pids and not any(process_running(pid) for pid in pids)
    assert not any(_listening(port) for port in ports)
    assert directory is not None and not directory.exists()
    assert etcd_data and not any(path.exists() for path in etcd_data)


def test_a_component_that_fails_shows_its_log_and_stops_the_rest(tmp_path):
    plane = ControlPlane(
        directory=tmp_path / "plane",
        with_kwok=False,
        extra_apiserver_flags=("--no-such-flag=1",),
    )
    with pytest.raises(ControlPlaneError) as failure:
        plane.start()
    message = str(failure.value)
    assert "kube-apiserver exited during start" in message
    assert "unknown flag: --no-such-flag" in message
    assert "kube-apiserver.log" in message
    assert plane.components == []
    assert not _listening(plane.ports["etcd_client"])


def test_a_cached_build_is_returned_without_building(monkeypatch):
    """The second ensure finds the record and the binary: no go command runs."""
    built = kubernetes_build.ensure_kubernetes_binary("kube-scheduler")
    record = kubernetes_build.kubernetes_record("kube-scheduler")
    assert record is not None and record["version"] == kubernetes_build.KUBERNETES_VERSION

    def no_go(*args, **kwargs):
        raise AssertionError("go must not run for a cached build")

    monkeypatch.setattr("kruise_cri.lab.buildcache.go_binary", no_go)
    assert kubernetes_build.ensure_kubernetes_binary("kube-scheduler") == built
