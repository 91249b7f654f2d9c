"""migrate_runtime end to end on the lab's real nodes: a Docker 20.10 node whose kubelet 1.23
runs it through dockershim (its daemon.json with a registry mirror, an insecure registry and
cgroupfs), beside a containerd 1.7 node, both in a cluster with the real OpenKruise 1.6.0 whose
kruise-daemon crash-loops on the Docker node. Over SSH, as against real hosts: check mode,
refusals in pre-flight, a drain a PodDisruptionBudget blocks, containerd that cannot start, a
node not Ready in time, a run killed half-way and run again, then the node on containerd with
kruise-daemon 1.6 Ready there, and a rerun that changes nothing. A second Docker node (its
containerd's CRI off, as Docker's packages leave it) cut off from the registry moves with its
images carried over; a containerd 1.4 node is upgraded from a release archive."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
)

from kruise_cri.lab.cluster_objects import client_for, create_all, ensure_namespace
from kruise_cri.lab.lab_cluster import install_real_kruise, pick_manager_node
from kruise_cri.lab.packages import ensure_runtime
from kruise_cri.lab.real_nodes import RealNodes, real_node_name
from kruise_cri.lab.registry import PAUSE_VERSION
from kruise_cri.lab.waiting import wait_until
from tests.integration.ansible_run import VENV_BIN, ansible_env
from tests.integration.remediation_helpers import daemon_pods, failed, flat, pod_ready

# The lab's tests run once (ansible-core 2.19); those marked both_cores, the playbook's own logic
# (check mode, refusals, rollback, resume, rerun), on 2.16 too (scripts/test).
pytestmark = [pytest.mark.real_nodes]

DOCKER_NODE = real_node_name("docker-dockershim")
OLD_CONTAINERD_NODE = real_node_name("containerd-1-4")
CRI_OFF_NODE = real_node_name("docker-cri-off")
# The nodes every test needs, and those only one test needs: a run that selects neither test
# (the 2.16 run) boots two nodes, not four.
BASE_KINDS = ("docker-dockershim", "containerd-1-7")
KIND_OF_TEST = {
    "test_containerd_1_4_is_upgraded_from_a_release_archive": "containerd-1-4",
    "test_a_docker_node_carries_its_images_to_containerd_and_docker_is_removed": "docker-cri-off",
}
CONTAINERD_SOCKET = "unix:///run/containerd/containerd.sock"
CRI_SOCKET_ANNOTATION = "kubeadm.alpha.kubernetes.io/cri-socket"
STATE = "/var/lib/kruise-cri/runtime-migration/state.json"
# What a migration changes on the node, and what must be as it was after a refusal or rollback.
NODE_SNAPSHOT = (
    "sha256sum /var/lib/kubelet/kubeadm-flags.env /etc/default/kubelet "
    "/etc/containerd/config.toml; find /etc/containerd | sort; "
    "systemctl is-active docker.service docker.socket containerd.service kubelet.service; "
    "systemctl is-enabled docker.service docker.socket; "
    "ls /var/lib/kruise-cri/runtime-migration 2>&1 || true"
)


@dataclass
class Lab:
    nodes: RealNodes
    kube: KubeClient
    inventory: Path
    manager_node: str

    @property
    def node_count(self) -> int:
        return len(self.nodes.nodes)


def kinds_for(session: pytest.Session) -> list[str]:
    """The node kinds the selected tests of this module need."""
    selected = {
        getattr(item, "originalname", item.name)
        for item in session.items
        if getattr(item, "module", None) is not None and item.module.__name__ == __name__
    }
    return [*BASE_KINDS, *(kind for test, kind in KIND_OF_TEST.items() if test in selected)]


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp("migrate-runtime")
    kinds = kinds_for(request.session)
    with RealNodes(kinds, directory / "nodes", progress=sys.stderr) as nodes:
        assert nodes.plane is not None
        kube = client_for(nodes.plane.kubeconfig)
        manager_node = pick_manager_node(nodes.specs())
        assert manager_node != DOCKER_NODE
        install_real_kruise(nodes.plane, kube, manager_node, directory / "charts")
        inventory = directory / "inventory.yml"
        inventory.write_text(yaml.safe_dump(nodes.inventory()))
        # As kubeadm leaves a Docker node: its CRI socket in the annotation upgrades read.
        kube.patch(
            f"/api/v1/nodes/{DOCKER_NODE}",
            {"metadata": {"annotations": {CRI_SOCKET_ANNOTATION: "/var/run/dockershim.sock"}}},
        )
        ensure_namespace(kube, "shop")
        create_all(kube, [shop_deployment(len(kinds))])
        wait_until("the shop's pods running", lambda: shop_running(kube, len(kinds)), 240)
        yield Lab(nodes, kube, inventory, manager_node)


def shop_deployment(replicas: int) -> dict[str, Any]:
    """Busybox pods from Docker Hub's name (pulled through the lab mirror), exactly one per node
    (a hard spread), so that every node has a pod to drain; an evicted one waits for its node."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "shop", "namespace": "shop"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "shop"}},
            "template": {
                "metadata": {"labels": {"app": "shop"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "DoNotSchedule",
                            "labelSelector": {"matchLabels": {"app": "shop"}},
                        }
                    ],
                    "containers": [
                        {"name": "app", "image": "busybox:1.35", "command": ["sleep", "1000000"]}
                    ],
                },
            },
        },
    }


def shop_pods(kube: KubeClient) -> list[dict[str, Any]]:
    return kube.get("/api/v1/namespaces/shop/pods", {"labelSelector": "app=shop"})["items"]


def shop_running(kube: KubeClient, count: int) -> bool:
    pods = [p for p in shop_pods(kube) if not p["metadata"].get("deletionTimestamp")]
    return len(pods) == count and all(pod_ready(p) for p in pods)


def on_node(lab: Lab, script: str, kind: str = "docker-dockershim") -> str:
    address = lab.nodes.nodes[kind].address
    return subprocess.run(
        [*lab.nodes.ssh_command(), f"root@{address}", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout


def migrate_command(
    lab: Lab, variables: Mapping[str, Any], *args: str, target: str = DOCKER_NODE
) -> list[str]:
    assert lab.nodes.plane is not None
    return [
        str(VENV_BIN / "ansible-playbook"),
        "kruise_cri.remediation.migrate_runtime",
        "-i",
        str(lab.inventory),
        "--limit",
        target,
        "-e",
        json.dumps(
            {
                "kruise_cri_kubeconfig": str(lab.nodes.plane.kubeconfig),
                "kruise_cri_drain_timeout": 60,
                "kruise_cri_ready_timeout": 120,
                **variables,
            }
        ),
        *args,
    ]


def migrate(
    lab: Lab, *args: str, target: str = DOCKER_NODE, **variables: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        migrate_command(lab, variables, *args, target=target),
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def node(lab: Lab, name: str = DOCKER_NODE) -> dict[str, Any]:
    return lab.kube.get(f"/api/v1/nodes/{name}")


def ready(node_object: Mapping[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in node_object["status"]["conditions"]
    )


def node_recap(
    completed: subprocess.CompletedProcess[str], name: str = DOCKER_NODE
) -> dict[str, int]:
    line = next(
        line
        for line in completed.stdout.split("PLAY RECAP")[-1].splitlines()
        if line.startswith(name)
    )
    return {key: int(value) for key, value in (p.split("=") for p in line.split()[2:])}


def assert_back_on_docker(lab: Lab, before: str) -> None:
    """The node exactly as before the run: files, units, Ready on Docker, schedulable."""
    assert on_node(lab, NODE_SNAPSHOT) == before
    current = node(lab)
    assert ready(current)
    assert current["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("docker://")
    assert not current["spec"].get("unschedulable")


@pytest.mark.both_cores
def test_check_mode_shows_every_change_and_changes_nothing(lab: Lab) -> None:
    before = on_node(lab, NODE_SNAPSHOT)
    checked = migrate(lab, "--check", "--diff")
    assert checked.returncode == 0, checked.stdout[-6000:] + checked.stderr[-3000:]
    text = flat(checked)
    assert lab.nodes.registry is not None
    registry = lab.nodes.registry.host
    assert f'+ sandbox_image = "{registry}/pause:3.6"' in text
    assert "+ SystemdCgroup = false" in text
    assert f'+[host."http://{registry}"]' in text  # the mirror, as containerd reads it
    assert '+KUBELET_KUBEADM_ARGS="--container-runtime=remote' in text
    assert on_node(lab, NODE_SNAPSHOT) == before
    assert not node(lab)["spec"].get("unschedulable")


@pytest.mark.both_cores
def test_bad_inputs_fail_in_pre_flight_and_change_nothing(lab: Lab, tmp_path: Path) -> None:
    before = on_node(lab, NODE_SNAPSHOT)
    no_containerd = failed(migrate(lab, kruise_cri_containerd_binary="/opt/none/containerd"))
    assert "containerd_binary /opt/none/containerd is not an executable file" in no_containerd
    unknown = failed(migrate(lab, kruise_cri_node_name="no-such-node"))
    assert "node no-such-node is not in the cluster" in unknown
    missing = failed(migrate(lab, kruise_cri_kubeconfig=str(tmp_path / "absent.kubeconfig")))
    assert "absent.kubeconfig" in missing
    assert on_node(lab, NODE_SNAPSHOT) == before
    assert not node(lab)["spec"].get("unschedulable")


def test_a_drain_a_budget_blocks_leaves_the_node_untouched_and_uncordoned(lab: Lab) -> None:
    before = on_node(lab, NODE_SNAPSHOT)
    pod = next(p for p in shop_pods(lab.kube) if p["spec"].get("nodeName") == DOCKER_NODE)
    budget = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "shop", "namespace": "shop"},
        "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "shop"}}},
    }
    create_all(lab.kube, [budget])
    try:
        blocked = failed(migrate(lab, kruise_cri_drain_timeout=8))
    finally:
        lab.kube.delete("/apis/policy/v1/namespaces/shop/poddisruptionbudgets/shop")
    assert "the step 'Cordon the node and evict its pods' failed" in blocked
    assert "blocked by PodDisruptionBudget shop" in blocked
    assert_back_on_docker(lab, before)
    assert lab.kube.get(f"/api/v1/namespaces/shop/pods/{pod['metadata']['name']}")


@pytest.mark.both_cores
def test_containerd_that_cannot_start_is_rolled_back_to_docker(lab: Lab) -> None:
    before = on_node(lab, NODE_SNAPSHOT)
    broken = failed(
        migrate(lab, kruise_cri_containerd_runtime_options={"restrict_oom_score_adj": "yes"})
    )
    assert "the step 'Restart containerd with the CRI plugin' failed" in broken
    assert "Rolled back: the node runs docker again" in broken
    assert "uncordoned" in broken
    assert_back_on_docker(lab, before)


def test_a_node_not_ready_on_containerd_in_time_is_rolled_back(lab: Lab) -> None:
    before = on_node(lab, NODE_SNAPSHOT)
    late = failed(migrate(lab, kruise_cri_ready_timeout=2))
    assert "the step 'Wait until the node and its DaemonSet pods run on containerd'" in late
    assert "Rolled back" in late
    assert_back_on_docker(lab, before)


@pytest.mark.both_cores
def test_a_run_killed_half_way_converges_when_run_again(lab: Lab) -> None:
    process = subprocess.Popen(
        migrate_command(lab, {}),
        env=ansible_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(
            "Docker stopped by the migration",
            lambda: on_node(lab, "systemctl is-active docker.service").strip() == "inactive",
            180,
            interval=0.2,
        )
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    record = json.loads(on_node(lab, f"cat {STATE}"))
    assert record["status"] == "in-progress" and record["case"] == "docker"
    assert node(lab)["spec"].get("unschedulable")  # cordoned by the killed run
    started = time.monotonic()
    resumed = migrate(lab)
    assert resumed.returncode == 0, resumed.stdout[-6000:] + resumed.stderr[-3000:]
    assert "Resume the run" in resumed.stdout
    print(f"resumed run: {time.monotonic() - started:.1f} s", file=sys.stderr)


@pytest.mark.both_cores
def test_the_node_runs_containerd_with_kruise_daemon_1_6_ready(lab: Lab) -> None:
    current = node(lab)
    assert ready(current)
    assert current["status"]["nodeInfo"]["containerRuntimeVersion"] == "containerd://1.6.20"
    assert not current["spec"].get("unschedulable")
    assert current["metadata"]["annotations"][CRI_SOCKET_ANNOTATION] == CONTAINERD_SOCKET
    state = on_node(
        lab,
        "systemctl is-active docker.service docker.socket; systemctl is-enabled docker.service "
        "docker.socket; cat /var/lib/kubelet/kubeadm-flags.env; "
        f"cat {STATE}; ls /etc/containerd/certs.d",
    )
    assert state.startswith("inactive\ninactive\ndisabled\ndisabled\n"), state
    assert f"--container-runtime=remote --container-runtime-endpoint={CONTAINERD_SOCKET}" in state
    assert "--network-plugin" not in state  # dockershim's own flag, fatal from 1.24
    assert '"status": "done"' in state
    assert lab.nodes.registry is not None
    assert f"{lab.nodes.registry.host}\ndocker.io" in state
    daemon = [p for p in daemon_pods(lab.kube) if p["spec"].get("nodeName") == DOCKER_NODE]
    assert len(daemon) == 1 and pod_ready(daemon[0])
    assert daemon[0]["status"]["containerStatuses"][0]["containerID"].startswith("containerd://")
    assert daemon[0]["spec"]["containers"][0]["image"] == "openkruise/kruise-manager:v1.6.0"
    # A new pod on the node pulls Docker Hub's busybox through the mirror carried over.
    create_all(
        lab.kube,
        [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "pulled", "namespace": "shop"},
                "spec": {
                    "nodeName": DOCKER_NODE,
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {"name": "app", "image": "busybox:1.35", "command": ["sleep", "1000000"]}
                    ],
                },
            }
        ],
    )
    wait_until(
        "pod shop/pulled running on containerd",
        lambda: pod_ready(lab.kube.get("/api/v1/namespaces/shop/pods/pulled")),
        120,
    )
    assert "busybox" in on_node(lab, "ctr --namespace k8s.io images ls -q | grep busybox || true")
    wait_until("the shop's pods running again", lambda: shop_running(lab.kube, lab.node_count), 120)


@pytest.mark.both_cores
def test_a_rerun_changes_nothing(lab: Lab) -> None:
    rerun = migrate(lab)
    assert rerun.returncode == 0, rerun.stdout[-6000:]
    assert node_recap(rerun)["changed"] == 0
    assert "nothing to migrate" in flat(rerun)


def test_containerd_1_4_is_upgraded_from_a_release_archive(lab: Lab, tmp_path: Path) -> None:
    kind = "containerd-1-4"
    config_before = on_node(lab, "sha256sum /etc/containerd/config.toml", kind)
    # An archive of a containerd that serves only CRI v1alpha2 is refused in pre-flight.
    old = tmp_path / "containerd-1.4.tar.gz"
    with tarfile.open(old, "w:gz") as archive:
        archive.add(containerd_binary("containerd-1.4"), arcname="bin/containerd")
    refused = failed(
        migrate(lab, target=OLD_CONTAINERD_NODE, kruise_cri_containerd_archive=str(old))
    )
    assert "is 1.4.13, which serves CRI v1alpha2 only" in refused
    assert on_node(lab, "/usr/local/bin/containerd --version", kind).split()[2].startswith("1.4.13")
    assert not node(lab, OLD_CONTAINERD_NODE)["spec"].get("unschedulable")
    # The lab's inventory names the containerd 1.7 archive for this node.
    upgraded = migrate(lab, target=OLD_CONTAINERD_NODE)
    assert upgraded.returncode == 0, upgraded.stdout[-6000:] + upgraded.stderr[-3000:]
    current = node(lab, OLD_CONTAINERD_NODE)
    assert current["status"]["nodeInfo"]["containerRuntimeVersion"] == "containerd://1.7.24"
    assert ready(current) and not current["spec"].get("unschedulable")
    assert on_node(lab, "/usr/local/bin/containerd --version", kind).split()[2].startswith("1.7.24")
    assert on_node(lab, "sha256sum /etc/containerd/config.toml", kind) == config_before
    daemon = [p for p in daemon_pods(lab.kube) if p["spec"].get("nodeName") == OLD_CONTAINERD_NODE]
    assert len(daemon) == 1 and pod_ready(daemon[0])
    rerun = migrate(lab, target=OLD_CONTAINERD_NODE)
    assert rerun.returncode == 0, rerun.stdout[-6000:]
    assert node_recap(rerun, OLD_CONTAINERD_NODE)["changed"] == 0


def test_a_docker_node_carries_its_images_to_containerd_and_docker_is_removed(lab: Lab) -> None:
    """Docker on a containerd 1.4 (CRI off), upgraded from the release archive with the switch.
    An image only this node's Docker holds (no registry serves its name), used by a stopped
    container: carried over, a pod that may never pull it runs on containerd. Docker's package is
    removed afterwards, containerd's kept."""
    kind = "docker-cri-off"
    before = on_node(lab, NODE_SNAPSHOT, kind)
    # Without the archive, the containerd beside Docker cannot serve CRI v1: refused up front.
    too_old = failed(migrate(lab, target=CRI_OFF_NODE, kruise_cri_containerd_archive=""))
    assert "containerd 1.4.13 serves CRI v1alpha2 only" in too_old, too_old
    assert "Give kruise_cri_containerd_archive" in too_old, too_old
    assert on_node(lab, NODE_SNAPSHOT, kind) == before
    local_only = "kruise-cri.test/local-only:1"
    assert lab.nodes.registry is not None
    pause = f"{lab.nodes.registry.host}/pause:{PAUSE_VERSION}"  # the sandboxes' image
    on_node(
        lab,
        f"docker tag {pause} {local_only} && docker create --name local-only {local_only}",
        kind,
    )
    assert local_only in on_node(lab, "docker ps -a --format '{{.Image}}'", kind)
    bad = failed(migrate(lab, target=CRI_OFF_NODE, kruise_cri_migrate_images="keep"))
    assert "kruise_cri_migrate_images=keep is not a choice" in bad
    assert "docker.service" in on_node(lab, "systemctl list-units --state=active", kind)
    carried = migrate(
        lab, target=CRI_OFF_NODE, kruise_cri_migrate_images="carry", kruise_cri_remove_docker=True
    )
    assert carried.returncode == 0, carried.stdout[-6000:] + carried.stderr[-3000:]
    # Docker's package is gone; containerd's stayed, marked installed by hand, and runs.
    packages = on_node(
        lab,
        "dpkg-query --show --showformat='${db:Status-Status} ${Package}\\n' docker.io containerd",
        kind,
    )
    assert set(packages.split()) >= {"config-files", "docker.io", "installed", "containerd"}
    assert "installed docker.io" not in packages and "installed containerd" in packages, packages
    kept = on_node(lab, "apt-mark showmanual containerd; systemctl is-active containerd", kind)
    assert kept.split() == ["containerd", "active"], kept
    current = node(lab, CRI_OFF_NODE)
    assert ready(current) and not current["spec"].get("unschedulable")
    assert current["status"]["nodeInfo"]["containerRuntimeVersion"] == "containerd://1.7.24"
    assert on_node(lab, "/usr/local/bin/containerd --version", kind).split()[2].startswith("1.7.24")
    daemon = [p for p in daemon_pods(lab.kube) if p["spec"].get("nodeName") == CRI_OFF_NODE]
    assert len(daemon) == 1 and pod_ready(daemon[0])
    images = on_node(lab, "ctr --namespace k8s.io images ls -q", kind)
    assert f"docker.io/{local_only}" in images or local_only in images, images
    create_all(
        lab.kube,
        [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "carried", "namespace": "shop"},
                "spec": {
                    "nodeName": CRI_OFF_NODE,
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {"name": "app", "image": local_only, "imagePullPolicy": "Never"}
                    ],
                },
            }
        ],
    )
    wait_until(
        "pod shop/carried running from the carried image",
        lambda: pod_ready(lab.kube.get("/api/v1/namespaces/shop/pods/carried")),
        120,
    )
    # The archive of images is removed once the node runs; the originals of its files stay.
    left = on_node(lab, "ls /var/lib/kruise-cri/runtime-migration", kind).split()
    assert left == ["backup", "state.json"], left
    rerun = migrate(
        lab, target=CRI_OFF_NODE, kruise_cri_migrate_images="carry", kruise_cri_remove_docker=True
    )
    assert rerun.returncode == 0, rerun.stdout[-6000:]
    assert node_recap(rerun, CRI_OFF_NODE)["changed"] == 0


def containerd_binary(build: str) -> Path:
    return ensure_runtime(build).root / "usr/bin/containerd"
