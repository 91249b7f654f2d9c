"""The lab's cluster: a real control plane whose nodes are the lab fleet's, as the API sees them.

Each fleet node becomes a kwok Node reporting the runtime its kubelet uses
(``containerd://1.4.13``, ``docker://20.10.24``, ...) and its kubelet version. OpenKruise 1.6.3 is
installed with real helm from the lab's chart (``charts/kruise``, which mirrors the upstream
chart); kruise-daemon's pod crash-loops, with the message kruise-daemon 1.6 logs, on every node the
fleet says 1.6 cannot serve; and one ContainerRecreateRequest shows a daemon feature in use. The
planner then has a realistic cluster to plan for.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TextIO

from kruise_cri.lab.cluster_objects import (
    client_for,
    create_all,
    ensure_namespace,
    kwok_node,
    mark_crash_looping,
)
from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.helm import KRUISE_CHART, run_helm
from kruise_cri.lab.nodes import NodeSpec
from kruise_cri.lab.runtimes import RunningRuntime
from kruise_cri.lab.waiting import WaitTimeout, wait_until

KRUISE_NAMESPACE = "kruise-system"
LAB_KRUISE_VERSION = "1.6.3"
DAEMON_WAIT_SECONDS = 90.0


def kubelet_runtime_version(spec: NodeSpec, runtimes: Sequence[RunningRuntime]) -> str:
    """What the node's kubelet would report as ``containerRuntimeVersion``: dockershim reports
    Docker's version under ``docker://``, containerd its own under ``containerd://``."""
    by_kind = {runtime.kind: runtime for runtime in reversed(runtimes)}
    if spec.with_dockershim and "dockerd" in by_kind:
        return f"docker://{by_kind['dockerd'].build.upstream_version}"
    return f"containerd://{by_kind['containerd'].build.upstream_version}"


def seed_lab_cluster(
    plane: ControlPlane,
    specs: Mapping[str, NodeSpec],
    runtime_versions: Mapping[str, str],
    *,
    real_nodes: Collection[str] = (),
    progress: TextIO | None = None,
) -> None:
    """Register ``specs`` as kwok nodes reporting ``runtime_versions`` (by node name, as
    :func:`kubelet_runtime_version` gives them), install OpenKruise and make its daemon pods
    crash where the real kruise-daemon 1.6.0 exits. ``real_nodes`` (names) have real kubelets:
    they registered themselves, their pods' status is their kubelet's, and kruise-manager is
    kept off them (its image is not in the lab registry)."""

    def say(message: str) -> None:
        if progress is not None:
            progress.write(message + "\n")
            progress.flush()

    client = client_for(plane.kubeconfig)
    kwok_specs = {name: spec for name, spec in specs.items() if name not in real_nodes}
    say(f"  registering {len(kwok_specs)} nodes with the cluster (kwok)")
    create_all(
        client,
        [
            kwok_node(name, runtime_versions[name], spec.kubelet_version)
            for name, spec in kwok_specs.items()
        ],
    )
    say(f"  installing OpenKruise {LAB_KRUISE_VERSION} with helm (release kruise)")
    placement = ["--set", "manager.nodeSelector.type=kwok"] if real_nodes else []
    run_helm(plane.kubeconfig, "install", "kruise", str(KRUISE_CHART), *placement)
    daemon_pods = wait_for_daemon_pods(client, list(specs))
    for name, spec in kwok_specs.items():
        # As the real daemon ends on such a node; the kubelet keeps no message (the chart sets
        # no terminationMessagePolicy), only the exit code.
        if spec.kruise_daemon_1_6_exit_code is not None:
            mark_crash_looping(
                client, KRUISE_NAMESPACE, daemon_pods[name], "", spec.kruise_daemon_1_6_exit_code
            )
    ensure_namespace(client, "shop")
    create_all(
        client,
        [
            {
                "apiVersion": "apps.kruise.io/v1alpha1",
                "kind": "ContainerRecreateRequest",
                "metadata": {"name": "restart-web-0", "namespace": "shop"},
                "spec": {"podName": "web-0", "containers": [{"name": "app"}]},
            }
        ],
    )


def wait_for_daemon_pods(
    client, nodes: list[str], timeout: float = DAEMON_WAIT_SECONDS
) -> dict[str, str]:
    """The name of the kruise-daemon pod on each of ``nodes``, once every one has its pod."""
    by_node: dict[str, str] = {}

    def all_there() -> bool:
        nonlocal by_node
        pods = client.get(
            f"/api/v1/namespaces/{KRUISE_NAMESPACE}/pods",
            {"labelSelector": "control-plane=daemon"},
        )
        by_node = {p["spec"].get("nodeName"): p["metadata"]["name"] for p in pods["items"]}
        return all(node in by_node for node in nodes)

    try:
        wait_until("a kruise-daemon pod on every node", all_there, timeout)
    except WaitTimeout:
        missing = ", ".join(node for node in nodes if node not in by_node)
        raise RuntimeError(f"no kruise-daemon pod on {missing} after {timeout} s") from None
    return by_node
