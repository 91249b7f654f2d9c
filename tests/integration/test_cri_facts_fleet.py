"""cri_facts through Ansible against real runtimes: Debian containerd 1.4/1.6/1.7/2.x, Docker 20.10
and Kubernetes 1.23's dockershim (built from its Go module).

Each lab node is a host root with real daemons at the standard socket paths; the module runs with a
bare interpreter (the oldest Python the controller manages), as on a node.
"""

from __future__ import annotations

from typing import Any

import pytest

from kruise_cri.lab.nodes import LINES, NODES

NODE_NAMES = [node.name for node in NODES]


def endpoint_at(facts: dict[str, Any], socket: str) -> dict[str, Any]:
    for endpoint in facts["endpoints"]:
        if endpoint["socket"] == socket or socket in endpoint.get("aliases", []):
            return endpoint
    raise AssertionError(f"no endpoint {socket} in {[e['socket'] for e in facts['endpoints']]}")


@pytest.mark.parametrize("node", NODES, ids=NODE_NAMES)
def test_verdict_per_kruise_line(fleet_facts: dict[str, dict[str, Any]], node) -> None:
    verdicts = fleet_facts[node.name]["kruise_daemon"]
    assert sorted(verdicts) == list(LINES)
    compatible = {line for line in LINES if verdicts[line]["compatible"]}
    assert compatible == node.compatible_lines, {line: verdicts[line]["reason"] for line in LINES}
    for line in LINES:
        assert verdicts[line]["reason"], f"{node.name} {line}: a verdict needs a reason"


@pytest.mark.parametrize(
    ("node_name", "version_prefix", "apis"),
    [
        ("node-containerd-1-4", "1.4.13", ["v1alpha2"]),
        ("node-containerd-1-6", "1.6.20", ["v1", "v1alpha2"]),
        ("node-containerd-1-7", "1.7.24", ["v1", "v1alpha2"]),
        ("node-containerd-2", "2.1.9", ["v1"]),
    ],
)
def test_containerd_api_versions_really_served(
    fleet_facts: dict[str, dict[str, Any]], node_name: str, version_prefix: str, apis: list[str]
) -> None:
    endpoint = endpoint_at(fleet_facts[node_name], "/run/containerd/containerd.sock")
    assert endpoint["runtime_name"] == "containerd"
    assert endpoint["runtime_version"].lstrip("v").startswith(version_prefix)
    assert sorted(endpoint["cri_api_versions"]) == apis
    assert "/var/run/containerd/containerd.sock" in endpoint["aliases"]
    missing = {"v1", "v1alpha2"} - set(apis)
    for api in missing:
        probe = endpoint["probes"][api]["version"]
        assert probe["code"] == 12  # UNIMPLEMENTED
        assert probe["details"] == f"unknown service runtime.{api}.RuntimeService"


def test_containerd_1_4_reason_names_version_socket_and_need(fleet_facts) -> None:
    reason = fleet_facts["node-containerd-1-4"]["kruise_daemon"]["1.6"]["reason"]
    assert "1.4.13" in reason
    assert "/run/containerd/containerd.sock" in reason
    assert "v1alpha2" in reason
    assert "needs CRI v1" in reason


def test_docker_node_facts(fleet_facts) -> None:
    facts = fleet_facts["node-docker-dockershim"]
    docker = facts["docker"]
    assert docker["version"].startswith("20.10.")
    assert docker["daemon_json"]["registry_mirrors"] == ["https://mirror.registry.example.internal"]
    assert docker["daemon_json"]["insecure_registries"] == ["registry.example.internal:5000"]
    assert docker["daemon_json"]["exec_opts"] == ["native.cgroupdriver=systemd"]
    assert docker["daemon_json"]["log_opts"] == {"max-size": "100m", "max-file": "3"}
    assert docker["cgroup_driver"] == "systemd"
    assert facts["kubelet"]["runtime"] == "docker"

    shim = endpoint_at(facts, "/var/run/dockershim.sock")
    assert shim["cri_api_versions"] == ["v1alpha2"]
    assert shim["runtime_name"] == "docker"
    assert shim["runtime_version"] == docker["version"]
    assert shim["probes"]["v1"]["version"]["details"] == "unknown service runtime.v1.RuntimeService"
    own_containerd = endpoint_at(facts, "/run/containerd/containerd.sock")
    assert own_containerd["cri_api_versions"] == []
    assert "CRI plugin disabled" in own_containerd["error"]
    assert facts["containerd_configs"][0]["cri_disabled"] is True


def test_docker_with_cri_containerd_starts_but_cannot_act(fleet_facts) -> None:
    verdict = fleet_facts["node-docker-cri-containerd"]["kruise_daemon"]["1.6"]
    assert verdict["starts"] is True
    assert verdict["compatible"] is False
    assert verdict["socket"] in (
        "/run/containerd/containerd.sock",
        "/var/run/containerd/containerd.sock",
    )
    assert "docker" in verdict["reason"]


@pytest.mark.parametrize(
    ("node_name", "endpoint", "source", "flag"),
    [
        (
            "node-containerd-1-4",
            "unix:///run/containerd/containerd.sock",
            "kubeadm-flags",
            "remote",
        ),
        ("node-containerd-1-7", "unix:///run/containerd/containerd.sock", "kubeadm-flags", None),
        ("node-containerd-2", "unix:///run/containerd/containerd.sock", "config.yaml", None),
        (
            "node-docker-cri-containerd",
            "unix:///var/run/dockershim.sock",
            "default",
            "docker",
        ),
    ],
)
def test_kubelet_endpoint_and_source(fleet_facts, node_name, endpoint, source, flag) -> None:
    kubelet = fleet_facts[node_name]["kubelet"]
    assert kubelet["runtime_endpoint"] == endpoint
    assert source in (kubelet["source"] or "")
    assert kubelet["container_runtime_flag"] == flag
