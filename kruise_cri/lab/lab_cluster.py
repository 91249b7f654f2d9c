"""The lab's cluster: a real control plane whose nodes are the lab fleet's, as the API sees them.

Each fleet node becomes a kwok Node reporting the runtime its kubelet uses
(``containerd://1.4.13``, ``docker://20.10.24``, ...) and its kubelet version. OpenKruise is
installed with real helm from the lab's chart (``charts/kruise``, which mirrors the upstream
chart), and one ContainerRecreateRequest shows a daemon feature in use. The planner then has a
realistic cluster to plan for.

Without real nodes, OpenKruise is 1.6.3 and no kruise binary runs: kwok fakes its pods, and
kruise-daemon's pod crash-loops, with the exit code kruise-daemon 1.6 ends with, on every node the
fleet says 1.6 cannot serve. With real nodes, OpenKruise is 1.6.0, the release the lab builds
(:mod:`kruise_cri.lab.openkruise_build`): kruise-manager runs as a real pod with its webhook, and
kruise-daemon really runs or crashes on each real node.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from kruise_cri.lab.cluster_objects import (
    client_for,
    create_all,
    ensure_namespace,
    kwok_node,
    mark_crash_looping,
)
from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.helm import KRUISE_CHART, package_kruise_chart, run_helm
from kruise_cri.lab.nodes import NodeSpec
from kruise_cri.lab.runtimes import RunningRuntime
from kruise_cri.lab.waiting import WaitTimeout, wait_until

KRUISE_NAMESPACE = "kruise-system"
LAB_KRUISE_VERSION = "1.6.3"
# What the lab installs where its binaries really run, and what it offers to pin to.
REAL_KRUISE_VERSION = "1.6.0"
PIN_KRUISE_VERSION = "1.5.5"
DAEMON_WAIT_SECONDS = 90.0
MANAGER_WAIT_SECONDS = 180.0
WORKLOAD_WAIT_SECONDS = 120.0


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
    charts_directory: Path | None = None,
    progress: TextIO | None = None,
) -> None:
    """Register ``specs`` as kwok nodes reporting ``runtime_versions`` (by node name, as
    :func:`kubelet_runtime_version` gives them), install OpenKruise and make its daemon pods
    crash where the real kruise-daemon 1.6.0 exits. ``real_nodes`` (names) have real kubelets:
    they registered themselves, and OpenKruise 1.6.0 really runs on them (:func:`install_real_kruise`,
    which packages its charts in ``charts_directory``)."""

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
    if real_nodes:
        assert charts_directory is not None, "real nodes need a directory for the charts"
        manager_node = pick_manager_node({name: specs[name] for name in real_nodes})
        say(
            f"  installing OpenKruise {REAL_KRUISE_VERSION} with helm (release kruise); "
            f"kruise-manager on {manager_node}"
        )
        install_real_kruise(plane, client, manager_node, charts_directory)
    else:
        say(f"  installing OpenKruise {LAB_KRUISE_VERSION} with helm (release kruise)")
        run_helm(plane.kubeconfig, "install", "kruise", str(KRUISE_CHART))
    daemon_pods = wait_for_daemon_pods(client, list(specs))
    for name, spec in kwok_specs.items():
        # As the real daemon ends on such a node; the kubelet keeps no message (the chart sets
        # no terminationMessagePolicy), only the exit code.
        if spec.kruise_daemon_1_6_exit_code is not None:
            mark_crash_looping(
                client, KRUISE_NAMESPACE, daemon_pods[name], "", spec.kruise_daemon_1_6_exit_code
            )
    ensure_namespace(client, "shop")
    if real_nodes:
        # The real webhook admits a request only for a running pod.
        say(f"  starting pod shop/web-0 on {manager_node}")
        create_all(client, [web_pod(manager_node)])
        wait_until(
            "pod shop/web-0 running",
            lambda: (
                client.get("/api/v1/namespaces/shop/pods/web-0")["status"].get("phase") == "Running"
            ),
            WORKLOAD_WAIT_SECONDS,
        )
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


def real_kruise_values(manager_node: str) -> list[str]:
    """helm flags of the real-node lab's install, on top of the chart's defaults: the release
    the lab builds, the parts its binaries need (``lab.kruiseRuns``), and one manager, on a node
    chosen by :func:`pick_manager_node`."""
    return [
        "--set",
        "lab.kruiseRuns=true",
        "--set",
        f"manager.image.tag=v{REAL_KRUISE_VERSION}",
        "--set",
        "manager.replicas=1",
        "--set-string",
        f"manager.nodeSelector.kubernetes\\.io/hostname={manager_node}",
    ]


def pick_manager_node(real_specs: Mapping[str, NodeSpec]) -> str:
    """A real node for kruise-manager: the runtime migration drains Docker nodes and may
    upgrade old containerd, and moving the manager takes its webhook away for a while, so the
    first node without Docker whose runtime already serves CRI v1, else the first without
    Docker, else the first."""
    for suits in (
        lambda spec: not spec.with_docker and spec.kruise_daemon_1_6_exit_code is None,
        lambda spec: not spec.with_docker,
        lambda spec: True,
    ):
        for name, spec in real_specs.items():
            if suits(spec):
                return name
    raise ValueError("no real node to run kruise-manager on")


def install_real_kruise(
    plane: ControlPlane, client: Any, manager_node: str, charts_directory: Path
) -> dict[str, Path]:
    """Install OpenKruise 1.6.0 from the lab's chart packaged as 1.6.0, wait until
    kruise-manager is ready (its webhook then answers), and return the packaged charts, 1.5.5
    among them for pin_kruise."""
    charts = {
        version: package_kruise_chart(version, charts_directory)
        for version in (REAL_KRUISE_VERSION, PIN_KRUISE_VERSION)
    }
    run_helm(
        plane.kubeconfig,
        "install",
        "kruise",
        str(charts[REAL_KRUISE_VERSION]),
        *real_kruise_values(manager_node),
    )

    def manager_ready() -> bool:
        deployment = client.get(
            f"/apis/apps/v1/namespaces/{KRUISE_NAMESPACE}/deployments/kruise-controller-manager"
        )
        return (deployment.get("status") or {}).get("readyReplicas", 0) >= 1

    wait_until("kruise-manager ready", manager_ready, MANAGER_WAIT_SECONDS, interval=1.0)
    return charts


def web_pod(node: str) -> dict[str, Any]:
    """A workload whose container a ContainerRecreateRequest can restart."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 1,
            "containers": [
                # PID 1 ignores a SIGTERM it has no handler for: the trap lets the container stop
                # at once when kruise-daemon stops it, so that the kubelet restarts it at once.
                {
                    "name": "app",
                    "image": "busybox:1.35",
                    "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 1000000 & wait"],
                }
            ],
        },
    }


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
