"""runtime_migration's decisions: each node's case from its cri_facts, the units to put back,
and when a node counts as running on its new runtime."""

from __future__ import annotations

from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.node_runtime import (
    annotation_change,
    daemonset_pod_problems,
    node_problems,
    node_state,
    wait_for_runtime,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.runtime_migration import (
    docker_removal,
    migration_step,
    unit_states,
)

CONTAINERD = "/run/containerd/containerd.sock"


def facts(
    runtime: str | None,
    endpoint: str | None,
    *,
    version: str | None = "v1.23.17",
    served: tuple[str, ...] = (),
    containerd: bool = True,
) -> dict[str, Any]:
    endpoints = (
        [
            {
                "socket": CONTAINERD,
                "aliases": [],
                "cri_api_versions": list(served),
                "runtime_version": "v1.6.20",
            }
        ]
        if containerd
        else []
    )
    return {
        "endpoints": endpoints,
        "docker": {
            "cgroup_driver": "systemd",
            "root_dir": "/var/lib/docker",
            "daemon_json": {
                "registry_mirrors": ["http://mirror:5000"],
                "insecure_registries": ["mirror:5000"],
                "data_root": None,
            },
        },
        "kubelet": {
            "runtime": runtime,
            "runtime_endpoint": endpoint,
            "version": version,
            "cgroup_driver": None,
            "sandbox_image": "mirror:5000/pause:3.6",
            "config_file": "/var/lib/kubelet/config.yaml",
            "source": "/var/lib/kubelet/kubeadm-flags.env",
        },
    }


def test_a_docker_node_moves_to_the_containerd_beside_it() -> None:
    step = migration_step(facts("docker", "unix:///var/run/dockershim.sock"))
    assert step["case"] == "docker"
    assert step["runtime_flag"] is True and step["config_field"] is False
    assert step["systemd_cgroup"] is True  # Docker's driver when the kubelet names none
    assert step["sandbox_image"] == "mirror:5000/pause:3.6"
    assert step["registry_mirrors"] == ["http://mirror:5000"]
    assert step["insecure_registries"] == ["mirror:5000"]
    assert "docker.socket" in step["docker_units"]


def test_newer_kubelets_take_no_runtime_flag_and_may_keep_the_endpoint_in_their_config() -> None:
    node = facts("docker", "unix:///run/cri-dockerd.sock", version="v1.29.2")
    node["kubelet"]["source"] = node["kubelet"]["config_file"]
    step = migration_step(node)
    assert step["case"] == "docker"
    assert step["runtime_flag"] is False and step["config_field"] is True


def test_nodes_left_alone_or_refused_say_why() -> None:
    done = migration_step(facts("containerd", f"unix://{CONTAINERD}", served=("v1", "v1alpha2")))
    assert done["case"] == "migrated" and "nothing to migrate" in done["reason"]
    old = migration_step(facts("containerd", f"unix://{CONTAINERD}", served=("v1alpha2",)))
    assert old["case"] == "containerd-upgrade" and "serves CRI v1alpha2 only" in old["reason"]
    crio = migration_step(facts("crio", "unix:///run/crio/crio.sock"))
    assert crio["case"] == "refused" and "not this runtime" in crio["reason"]
    unknown = migration_step(facts("docker", "unix:///var/run/dockershim.sock", version=None))
    assert unknown["case"] == "refused" and "kubelet's version is unknown" in unknown["reason"]
    bare = migration_step(facts("docker", "unix:///var/run/dockershim.sock", containerd=False))
    assert bare["case"] == "refused" and "install containerd 1.6 or newer" in bare["reason"]


def test_unit_states_keep_the_units_that_exist() -> None:
    shown = (
        "Id=docker.socket\nLoadState=loaded\nUnitFileState=enabled\nActiveState=active\n\n"
        "Id=cri-docker.service\nLoadState=not-found\nUnitFileState=\nActiveState=inactive\n\n"
        "Id=docker.service\nLoadState=loaded\nUnitFileState=disabled\nActiveState=active\n"
    )
    assert unit_states(shown) == {
        "docker.socket": {"enabled": "enabled", "active": "active"},
        "docker.service": {"enabled": "disabled", "active": "active"},
    }


def daemon_pod(container_id: str, ready: bool, kind: str = "DaemonSet") -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "kruise-system",
            "name": "kruise-daemon-x",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": kind, "controller": True}],
        },
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {
                    "name": "daemon",
                    "containerID": container_id,
                    "restartCount": 4,
                    "state": {} if ready else {"waiting": {"reason": "CrashLoopBackOff"}},
                }
            ],
        },
    }


def test_daemonset_pods_count_only_once_their_containers_run_on_the_new_runtime() -> None:
    stale = daemon_pod("docker://abc", ready=True)  # the status from before the switch
    assert daemonset_pod_problems([stale], "containerd") == [
        "pod kruise-system/kruise-daemon-x: containers not yet started by containerd"
    ]
    crashing = daemon_pod("containerd://abc", ready=False)
    assert daemonset_pod_problems([crashing], "containerd") == [
        "pod kruise-system/kruise-daemon-x: CrashLoopBackOff (4 restarts)"
    ]
    assert daemonset_pod_problems([daemon_pod("containerd://abc", ready=True)], "containerd") == []
    assert (
        daemonset_pod_problems([daemon_pod("docker://a", False, "ReplicaSet")], "containerd") == []
    )


def test_the_node_must_be_ready_on_the_runtime_named() -> None:
    node = {
        "metadata": {
            "annotations": {"kubeadm.alpha.kubernetes.io/cri-socket": "/var/run/dockershim.sock"}
        },
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [
                {"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-12-04T05:29:04Z"}
            ],
            "nodeInfo": {"containerRuntimeVersion": "docker://20.10.24"},
        },
    }
    state = node_state(node)
    assert state == {
        "ready": True,
        "heartbeat": "2026-12-04T05:29:04Z",
        "runtime_version": "docker://20.10.24",
        "unschedulable": True,
    }
    assert node_problems(state, "containerd") == [
        "the node reports runtime docker://20.10.24, not containerd://"
    ]
    assert node_problems(state, "docker") == []
    # A Ready posted before the kubelet was started again does not count.
    assert node_problems(state, "docker", reported_after="2026-12-04T05:29:04Z") == [
        "the kubelet has not reported the node's status since it was started"
    ]
    assert node_problems(state, "docker", reported_after="2026-12-04T05:28:50Z") == []
    socket = "unix:///run/containerd/containerd.sock"
    assert annotation_change(node, socket) == {
        "before": "/var/run/dockershim.sock",
        "after": socket,
    }
    assert annotation_change({"metadata": {}}, socket) is None  # not kubeadm's: left alone


def test_the_wait_ends_at_the_deadline_with_what_is_missing() -> None:
    now = [0.0]
    answers = iter([({"ready": False}, ["not Ready"]), ({"ready": True}, [])])
    done = wait_for_runtime(
        lambda: next(answers),
        timeout=10,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    assert done == {"ready": True, "problems": [], "waited": 2.0}
    late = wait_for_runtime(
        lambda: ({"ready": False}, ["not Ready"]),
        timeout=5,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    assert late["problems"] == ["not Ready"] and late["waited"] == 5.0


def test_removing_docker_keeps_containerd_and_refuses_without_its_package() -> None:
    docker_ce = {"docker-ce": [{}], "docker-ce-cli": [{}], "containerd.io": [{}], "bash": [{}]}
    assert docker_removal(docker_ce) == {
        "remove": ["docker-ce", "docker-ce-cli"],
        "keep": ["containerd.io"],
        "refusal": "",
    }
    debian = docker_removal({"docker.io": [{}], "containerd": [{}]})
    assert debian["remove"] == ["docker.io"] and debian["keep"] == ["containerd"]
    by_hand = docker_removal({"docker.io": [{}]})
    assert by_hand["remove"] == ["docker.io"]
    assert "removing docker.io could take it with it" in by_hand["refusal"]
    assert docker_removal({"containerd": [{}]}) == {
        "remove": [],
        "keep": ["containerd"],
        "refusal": "",
    }
