"""The lab's nodes: what each one runs (containerd builds, Docker, dockershim), the kubelet files
kubeadm would leave on it, what its kubelet reports, and the OpenKruise lines it is expected to
serve.

Plain data with no side effects: the fleet (:mod:`kruise_cri.lab.fleet`) starts these nodes, the
lab's cluster (:mod:`kruise_cri.lab.lab_cluster`) registers them, and the tests and benchmarks
check verdicts against them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import yaml

LINES = ("1.4", "1.5", "1.6", "1.7", "1.8")


@dataclass(frozen=True)
class ContainerdSpec:
    build: str  # a pin name of kruise_cri.lab.packages, e.g. "containerd-1.4"
    socket: str = "/run/containerd/containerd.sock"
    cri: bool = True


@dataclass(frozen=True)
class NodeSpec:
    """A node: its runtimes, the kubelet files such a node has, and the verdicts we expect."""

    name: str
    description: str
    containerds: tuple[ContainerdSpec, ...]
    files: dict[str, str]
    compatible_lines: frozenset[str]
    # dockerd runs on the first containerd when set, with this /etc/docker/daemon.json.
    docker_daemon_json: dict[str, object] | None = None
    with_docker: bool = False
    # Kubernetes 1.23's dockershim, built from its Go module, serving /run/dockershim.sock.
    with_dockershim: bool = False
    # What the node's kubelet reports in status.nodeInfo.kubeletVersion (the lab cluster's node).
    kubelet_version: str = "v1.28.15"
    # How the real kruise-daemon 1.6.0 ends on this node: None while it runs, 255 (klog.Fatal)
    # or 2 (a panic). Measured, and checked again by test_real_kruise_daemon.py; the kwok lab
    # writes the crash-looping daemon pods from it.
    kruise_daemon_1_6_exit_code: int | None = None


def kubeadm_flags(*flags: str) -> str:
    return 'KUBELET_KUBEADM_ARGS="' + " ".join(flags) + '"\n'


KUBEADM_DROPIN = """\
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""  # noqa: E501 - the drop-in kubeadm writes, line for line


def kubelet_config(
    cgroup_driver: str, endpoint: str | None = None, settings: Mapping[str, object] | None = None
) -> str:
    config: dict[str, object] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": cgroup_driver,
    }
    if endpoint:
        config["containerRuntimeEndpoint"] = endpoint
    config.update(settings or {})
    return yaml.safe_dump(config, sort_keys=False)


def kubeadm_node_files(
    flags: tuple[str, ...],
    cgroup_driver: str,
    config_endpoint: str | None = None,
    settings: Mapping[str, object] | None = None,
) -> dict[str, str]:
    """What kubeadm leaves on a node: its kubelet drop-in, kubeadm-flags.env and config.yaml
    (with ``settings`` beside the cgroup driver and endpoint)."""
    return {
        DROPIN_PATH: KUBEADM_DROPIN,
        FLAGS_PATH: kubeadm_flags(*flags),
        CONFIG_PATH: kubelet_config(cgroup_driver, config_endpoint, settings),
    }


DROPIN_PATH = "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"
FLAGS_PATH = "/var/lib/kubelet/kubeadm-flags.env"
CONFIG_PATH = "/var/lib/kubelet/config.yaml"
CONTAINERD_ENDPOINT = "unix:///run/containerd/containerd.sock"
DOCKER_DAEMON_JSON: dict[str, object] = {
    "registry-mirrors": ["https://mirror.registry.example.internal"],
    "insecure-registries": ["registry.example.internal:5000"],
    "exec-opts": ["native.cgroupdriver=systemd"],
    "log-driver": "json-file",
    "log-opts": {"max-size": "100m", "max-file": "3"},
}

NODES: tuple[NodeSpec, ...] = (
    NodeSpec(
        name="node-containerd-1-4",
        description="containerd 1.4.13 (Debian bullseye), kubelet 1.22 with a remote endpoint",
        containerds=(ContainerdSpec("containerd-1.4"),),
        files=kubeadm_node_files(
            (
                "--container-runtime=remote",
                f"--container-runtime-endpoint={CONTAINERD_ENDPOINT}",
                "--pod-infra-container-image=k8s.gcr.io/pause:3.5",
            ),
            "systemd",
        ),
        compatible_lines=frozenset({"1.4", "1.5"}),
        kubelet_version="v1.22.17",
        kruise_daemon_1_6_exit_code=2,
    ),
    NodeSpec(
        name="node-containerd-1-6",
        description="containerd 1.6.20 (Debian bookworm), kubelet 1.26 with a remote endpoint",
        containerds=(ContainerdSpec("containerd-1.6"),),
        files=kubeadm_node_files(
            ("--container-runtime=remote", f"--container-runtime-endpoint={CONTAINERD_ENDPOINT}"),
            "systemd",
        ),
        compatible_lines=frozenset(LINES),
        kubelet_version="v1.26.15",
    ),
    NodeSpec(
        name="node-containerd-1-7",
        description="containerd 1.7.24 (Debian trixie), kubelet 1.28 with the endpoint flag only",
        containerds=(ContainerdSpec("containerd-1.7"),),
        files=kubeadm_node_files(
            (f"--container-runtime-endpoint={CONTAINERD_ENDPOINT}",), "systemd"
        ),
        compatible_lines=frozenset(LINES),
        kubelet_version="v1.28.15",
    ),
    NodeSpec(
        name="node-containerd-2",
        description="containerd 2.1.9 (Debian sid), kubelet 1.31 with the endpoint in its config",
        containerds=(ContainerdSpec("containerd-2"),),
        files=kubeadm_node_files(("--node-ip=10.0.0.4",), "systemd", CONTAINERD_ENDPOINT),
        compatible_lines=frozenset({"1.5", "1.6", "1.7", "1.8"}),
        kubelet_version="v1.31.14",
    ),
    NodeSpec(
        name="node-docker-dockershim",
        description=(
            "Docker 20.10 through dockershim (kubelet 1.23), Docker's own containerd with the CRI "
            "plugin disabled"
        ),
        containerds=(ContainerdSpec("containerd-1.6", cri=False),),
        with_docker=True,
        with_dockershim=True,
        docker_daemon_json=DOCKER_DAEMON_JSON,
        files=kubeadm_node_files(
            ("--network-plugin=cni", "--pod-infra-container-image=k8s.gcr.io/pause:3.6"), "systemd"
        ),
        compatible_lines=frozenset({"1.4", "1.5"}),
        kubelet_version="v1.23.17",
        kruise_daemon_1_6_exit_code=255,
    ),
    NodeSpec(
        name="node-docker-cri-containerd",
        description=(
            "Docker 20.10 through dockershim (kubelet 1.23) on a containerd 1.6 with CRI enabled: "
            "kruise-daemon 1.6 starts and stays Ready, yet cannot act on the node's docker:// "
            "containers"
        ),
        containerds=(ContainerdSpec("containerd-1.6"),),
        with_docker=True,
        with_dockershim=True,
        files=kubeadm_node_files(
            ("--container-runtime=docker", "--network-plugin=cni"), "cgroupfs"
        ),
        compatible_lines=frozenset({"1.4", "1.5"}),
        kubelet_version="v1.23.17",
    ),
)


def builds_needed(nodes: Iterable[NodeSpec]) -> list[str]:
    names: list[str] = []
    for node in nodes:
        for spec in node.containerds:
            if spec.build not in names:
                names.append(spec.build)
        if node.with_docker:
            names.extend(name for name in ("docker", "runc") if name not in names)
    return names
