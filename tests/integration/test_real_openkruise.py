"""OpenKruise really running on real nodes, nothing simulated: kruise-manager 1.6.0 as a pod with
its webhook, kruise-daemon 1.6.0 as a DaemonSet on Docker with dockershim, containerd 1.4 and
containerd 1.7 nodes (systemd-nspawn machines with real kubelets), installed with real helm from
the lab's chart, the images pulled from the lab registry.

The daemon's crash loops are its own (log, exit code); the report reads them; pin_kruise makes
every daemon Ready on 1.5.5; disable_kruise_daemon removes them, and the real webhook then
rejects a new ContainerRecreateRequest; enabling brings them back and a request is carried out.
The tests run in file order on one cluster, each starting from where the one before left it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
    KubeRequestError,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_info import (
    CRASH_LOOP_RESTARTS,
    daemon_pod_state,
)

from kruise_cri.lab.cluster_objects import client_for, create_all, ensure_pod_namespace
from kruise_cri.lab.lab_cluster import install_real_kruise, pick_manager_node, web_pod
from kruise_cri.lab.real_nodes import (
    HOST_CGROUPS,
    REAL_NODE_KINDS,
    RealNodes,
    node_cgroup_root,
    real_node_name,
)
from kruise_cri.lab.waiting import WaitTimeout, wait_until
from tests.integration.remediation_helpers import (
    DAEMON,
    MANAGER,
    NAMESPACE,
    container_of,
    daemon_pods,
    failed,
    flag,
    get_or_none,
    helm_history,
    pod_ready,
    run_playbook,
    succeeded,
)

pytestmark = pytest.mark.real_nodes

# The three kinds 1.5.5 serves; docker-cri-off, which it does not, is test_real_nodes'.
KINDS = ("docker-dockershim", "containerd-1-4", "containerd-1-7")
NAMES = {kind: real_node_name(kind) for kind in KINDS}
IMAGE = "openkruise/kruise-manager:v{}"
# What the real daemon 1.6.0 prints last, by its exit code (measured: test_real_kruise_daemon).
LAST_WORDS = {
    255: "CRI v1 runtime API is not implemented",
    2: "unknown service runtime.v1.ImageService",
}
PLAYBOOK_TIMEOUT = {"kruise_cri_timeout": 300}


@dataclass
class Lab:
    nodes: RealNodes
    kube: KubeClient
    charts: dict[str, Path]
    manager_node: str
    directory: Path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp("real-openkruise")
    with RealNodes(list(KINDS), directory / "nodes", progress=sys.stderr) as nodes:
        assert nodes.plane is not None
        kube = client_for(nodes.plane.kubeconfig)
        manager_node = pick_manager_node(nodes.specs())
        charts = install_real_kruise(nodes.plane, kube, manager_node, directory / "charts")
        yield Lab(nodes, kube, charts, manager_node, directory)


def daemon_by_node(kube: KubeClient) -> dict[str, dict[str, Any]]:
    return {p["spec"].get("nodeName"): p for p in daemon_pods(kube)}


def every_daemon_ready(kube: KubeClient, version: str) -> bool:
    pods = daemon_by_node(kube)
    return set(pods) == set(NAMES.values()) and all(
        pod_ready(pod) and pod["spec"]["containers"][0]["image"] == IMAGE.format(version)
        for pod in pods.values()
    )


def crr(name: str, namespace: str = "shop") -> dict[str, Any]:
    return {
        "apiVersion": "apps.kruise.io/v1alpha1",
        "kind": "ContainerRecreateRequest",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"podName": "web-0", "containers": [{"name": "app"}]},
    }


def crr_completed(kube: KubeClient, name: str) -> bool:
    request = kube.get(
        f"/apis/apps.kruise.io/v1alpha1/namespaces/shop/containerrecreaterequests/{name}"
    )
    return (request.get("status") or {}).get("phase") == "Completed"


def app_restarts(kube: KubeClient) -> int:
    pod = kube.get("/api/v1/namespaces/shop/pods/web-0")
    return sum(s.get("restartCount", 0) for s in pod["status"].get("containerStatuses") or [])


def test_manager_runs_with_its_webhook_on_the_node_without_docker(lab: Lab) -> None:
    assert lab.manager_node == NAMES["containerd-1-7"]
    manager = lab.kube.get(MANAGER)
    assert container_of(manager, "manager")["image"] == IMAGE.format("1.6.0")
    assert manager["status"]["readyReplicas"] == 1
    # The manager itself filled in its serving certificate's CA and kept the webhook it serves.
    webhooks = lab.kube.get(
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/"
        "kruise-mutating-webhook-configuration"
    )["webhooks"]
    assert [w["name"] for w in webhooks] == ["mcontainerrecreaterequest.kb.io"]
    assert webhooks[0]["clientConfig"]["caBundle"]


def test_daemon_1_6_crash_loops_exactly_where_the_model_says(lab: Lab) -> None:
    expected = {NAMES[k]: REAL_NODE_KINDS[k].spec.kruise_daemon_1_6_exit_code for k in KINDS}
    assert sorted(code for code in expected.values() if code) == [2, 255]  # both ways to fail

    def settled() -> dict[str, dict[str, Any]] | None:
        states = {node: daemon_pod_state(pod) for node, pod in daemon_by_node(lab.kube).items()}
        for node, code in expected.items():
            state = states.get(node)
            if state is None:
                return None
            if code is None and state["state"] != "running":
                return None
            # From CRASH_LOOP_RESTARTS on a pod reads as crash-looping even while it runs
            # between two crashes, so the assessment below cannot catch it mid-restart.
            crashed_enough = state["restarts"] >= CRASH_LOOP_RESTARTS
            if code is not None and (state["state"] != "crash-looping" or not crashed_enough):
                return None
        return states

    states = wait_until("the real kruise-daemons settled", settled, 300, interval=2)
    for node, code in expected.items():
        state = states[node]
        if code is None:
            assert state["restarts"] == 0, state
            continue
        assert state["last_exit_code"] == code, json.dumps(state)
        last_log = ""

        def previous_log(pod: str = state["pod"], words: str = LAST_WORDS[code]) -> bool:
            # The kubelet swaps the previous container at each restart; ask again then.
            nonlocal last_log
            try:
                last_log = lab.kube.get_raw(
                    f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}/log",
                    {"container": "daemon", "previous": "true"},
                ).decode()
            except KubeRequestError as error:
                last_log = str(error)
            return words in last_log

        wait_until(f"{node}'s last daemon log", previous_log, 60, interval=1)
        log = last_log
        if code == 2:
            assert "nil pointer dereference" in log, log[-2000:]


def test_assess_reads_the_real_crash_loops(lab: Lab, tmp_path: Path) -> None:
    assert lab.nodes.plane is not None
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump(lab.nodes.inventory()))
    report_dir = tmp_path / "report"
    expected = {NAMES["docker-dockershim"], NAMES["containerd-1-4"]}

    def assess() -> dict[str, tuple[Any, Any]]:
        completed = subprocess.run(
            [
                str(Path(sys.executable).with_name("kruise-cri")),
                "assess",
                "-i",
                str(inventory),
                "--kubeconfig",
                str(lab.nodes.plane.kubeconfig),
                "--report-dir",
                str(report_dir),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert completed.returncode == 2, completed.stdout + completed.stderr  # incompatible nodes
        report = json.loads((report_dir / "report.json").read_text())
        return {
            pod["node"]: (pod["last_exit_code"], pod["cause"])
            for pod in report["cluster"]["daemon"]["crash_looping"]
        }

    # A daemon that the kubelet has just restarted runs, Ready, for a moment before it crashes
    # again, and is read as running then: the assessment is made again, up to three times.
    for _attempt in range(3):
        crashing = assess()
        if set(crashing) == expected:
            break
    assert set(crashing) == expected
    report = json.loads((report_dir / "report.json").read_text())
    assert crashing[NAMES["docker-dockershim"]][0] == 255
    assert crashing[NAMES["containerd-1-4"]][0] == 2
    assert "panicked" in crashing[NAMES["containerd-1-4"]][1]
    assert report["cluster"]["version"] == "1.6.0"
    # Every node 1.6 cannot serve runs Docker or containerd 1.4: migrate_runtime fixes them all.
    assert report["plan"]["recommendation"]["path"] == "migrate_runtime"


def test_each_kubelet_keeps_to_the_cgroups_of_its_own_pods(lab: Lab) -> None:
    """The nodes share the host's cgroup v1 hierarchies. Each kubelet puts its pods under its
    node's own root, and none touches another node's pods: before, every kubelet tried to remove
    the others' pod cgroups as orphans, and a restarting container failed to start (exit 128)."""

    def running_on_every_node() -> dict[str, str] | None:
        running = {
            pod["metadata"]["uid"]: pod["spec"]["nodeName"]
            for pod in lab.kube.get("/api/v1/pods")["items"]
            if pod["spec"].get("nodeName") in NAMES.values()
            and pod["status"].get("phase") == "Running"
        }
        return running if set(running.values()) == set(NAMES.values()) else None

    running = wait_until("running pods on every node", running_on_every_node, 120, interval=1)
    pids = HOST_CGROUPS / "pids"
    pod_cgroups: dict[str, list[Path]] = {}
    for path in pids.rglob("pod*"):
        pod_cgroups.setdefault(path.name.removeprefix("pod"), []).append(path.relative_to(pids))
    for uid, node in running.items():
        places = pod_cgroups.get(uid, [])
        own_root = Path(node_cgroup_root(node).lstrip("/"))
        assert places and all(own_root in place.parents for place in places), (node, places)
    for kind, node in NAMES.items():
        journal = subprocess.run(
            [
                *lab.nodes.ssh_command(),
                f"root@{lab.nodes.nodes[kind].address}",
                "journalctl -u kubelet -o cat --no-pager",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        # A kubelet names its own pods by UID (their volumes, for one): the search below can find.
        assert any(uid in journal for uid, own in running.items() if own == node), node
        touched = [uid for uid, other in running.items() if other != node and uid in journal]
        assert not touched, (node, [line for line in journal.splitlines() if touched[0] in line])


def test_the_real_webhook_admits_a_request_and_the_1_6_daemon_carries_it_out(lab: Lab) -> None:
    ensure_pod_namespace(lab.kube, "shop")
    create_all(lab.kube, [web_pod(lab.manager_node)])
    # Ready, its container's ID in its status: the webhook records that ID in the request.
    wait_until(
        "pod shop/web-0 ready",
        lambda: pod_ready(lab.kube.get("/api/v1/namespaces/shop/pods/web-0")),
        120,
    )
    with pytest.raises(KubeRequestError, match="no found Pod named nobody"):
        lab.kube.post(
            "/apis/apps.kruise.io/v1alpha1/namespaces/shop/containerrecreaterequests",
            {**crr("for-nobody"), "spec": {"podName": "nobody", "containers": [{"name": "app"}]}},
        )
    # Each request: the daemon says it recreated the container, and the kubelet counts the
    # restart. A second request is made when the first one's restart never shows (a request
    # admitted while the pod's status still lagged names a container the daemon never finds).
    for attempt in (1, 2):
        name = f"restart-{attempt}"
        lab.kube.post(
            "/apis/apps.kruise.io/v1alpha1/namespaces/shop/containerrecreaterequests", crr(name)
        )
        wait_until(f"{name} completed", lambda name=name: crr_completed(lab.kube, name), 120)
        request = lab.kube.get(
            f"/apis/apps.kruise.io/v1alpha1/namespaces/shop/containerrecreaterequests/{name}"
        )
        states = request["status"].get("containerRecreateStates") or []
        assert [state.get("phase") for state in states] == ["Succeeded"], request["status"]
        try:
            wait_until("app restarted", lambda: app_restarts(lab.kube) >= 1, 90)
            break
        except WaitTimeout:
            if attempt == 2:
                raise


def test_pin_makes_every_real_daemon_ready_on_1_5_5(lab: Lab, tmp_path: Path) -> None:
    assert lab.nodes.plane is not None
    pinned = run_playbook(
        "pin_kruise",
        lab.nodes.plane,
        {
            "kruise_cri_chart_ref": str(lab.charts["1.5.5"]),
            **PLAYBOOK_TIMEOUT,
        },
    )
    assert succeeded(pinned)["failed"] == 0
    assert [(h["revision"], h["chart"]) for h in helm_history(lab.nodes.plane)] == [
        (1, "kruise-1.6.0"),
        (2, "kruise-1.5.5"),
    ]
    assert container_of(lab.kube.get(MANAGER), "manager")["image"] == IMAGE.format("1.5.5")
    assert every_daemon_ready(lab.kube, "1.5.5")
    states = [daemon_pod_state(pod) for pod in daemon_by_node(lab.kube).values()]
    assert all(s["state"] == "running" and s["restarts"] == 0 for s in states), states


def test_disable_then_the_real_webhook_rejects_requests_and_enable_restores_them(
    lab: Lab,
) -> None:
    assert lab.nodes.plane is not None
    chart = {"kruise_cri_chart_ref": str(lab.charts["1.5.5"]), **PLAYBOOK_TIMEOUT}
    # The earlier test's requests (one, or two when the first restart never showed) are the
    # daemon's features in use: refused, unless forced.
    requests = lab.kube.get(
        "/apis/apps.kruise.io/v1alpha1/namespaces/shop/containerrecreaterequests"
    )["items"]
    count = len(requests)
    assert count in (1, 2), [r["metadata"]["name"] for r in requests]
    in_use = f"{count} ContainerRecreateRequest" + ("s" if count > 1 else "")
    refused = failed(run_playbook("disable_kruise_daemon", lab.nodes.plane, chart))
    assert f"daemon-dependent features are in use: {in_use}" in refused

    disabled = run_playbook(
        "disable_kruise_daemon", lab.nodes.plane, {**chart, "kruise_cri_force": True}
    )
    succeeded(disabled)
    assert get_or_none(lab.kube, DAEMON) is None and not daemon_pods(lab.kube)
    gates = flag(container_of(lab.kube.get(MANAGER), "manager"), "--feature-gates")
    assert gates is not None and "KruiseDaemon=false" in gates
    with pytest.raises(KubeRequestError, match="feature-gate KruiseDaemon is not enabled"):
        lab.kube.post(
            "/apis/apps.kruise.io/v1alpha1/namespaces/shop/containerrecreaterequests",
            crr("while-disabled"),
        )

    enabled = run_playbook(
        "disable_kruise_daemon", lab.nodes.plane, {**chart, "kruise_cri_direction": "enable"}
    )
    succeeded(enabled)
    assert every_daemon_ready(lab.kube, "1.5.5")
    restarts = app_restarts(lab.kube)
    lab.kube.post(
        "/apis/apps.kruise.io/v1alpha1/namespaces/shop/containerrecreaterequests", crr("restart-3")
    )
    wait_until("restart-3 completed", lambda: crr_completed(lab.kube, "restart-3"), 120)
    wait_until("app restarted again", lambda: app_restarts(lab.kube) > restarts, 60)
