"""Runtime migration benchmark: migrate_runtime against a shell-based migration, on a real node.

Each variant gets a fresh lab of real nodes (kruise_cri.lab.real_nodes): a Docker 20.10 node
whose kubelet 1.23 runs it through dockershim, and a containerd 1.7 node running the real
OpenKruise 1.6.0 manager. Then it migrates the Docker node to the containerd beside it:

  playbook  ansible-playbook kruise_cri.remediation.migrate_runtime --limit <node>;
  shell     what a user without it scripts from the Kubernetes docs: kubectl drain, then over SSH
            stop the kubelet and Docker, write containerd's config (the same text), restart
            containerd, sed the kubelet's flags, start the kubelet, poll kubectl until the node is
            Ready on containerd, kubectl uncordon. No pre-flight, no check of CRI v1, no rollback.

A poller reads the Node every 0.1 s and records the unschedulable window (cordon to uncordon) and
when the node first reported its new runtime; the node has no pods to evict, so the window is the
switch itself, without a drain's own wait. Printed: the whole run, the window, the ratio.

With --three-nodes, one playbook run migrates three nodes one after the other (serial 1): the
Docker node, a second Docker node whose containerd has its CRI plugin off (images carried over),
and a containerd 1.4 node upgraded to 1.7 from a release archive; printed: the whole run and
each node's window.

Run as root from the repository:  .venv/bin/python benchmarks/migrate.py [--repeat 1] [--three-nodes]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from bench_common import REPO_ROOT, terminate_as_interrupt, use_this_checkout

use_this_checkout()

from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.runtime_switch import (  # noqa: E402
    containerd_config,
    registry_hosts,
)

from kruise_cri.lab.cluster_objects import client_for  # noqa: E402
from kruise_cri.lab.kubernetes_build import ensure_kubernetes_binary  # noqa: E402
from kruise_cri.lab.lab_cluster import install_real_kruise, pick_manager_node  # noqa: E402
from kruise_cri.lab.real_nodes import RealNodes, host_can_lower_oom_scores, real_node_name  # noqa: E402

KINDS = ("docker-dockershim", "containerd-1-7")
NODE = real_node_name("docker-dockershim")
THREE_NODE_KINDS = ("docker-dockershim", "docker-cri-off", "containerd-1-4", "containerd-1-7")
THREE_NODES = tuple(real_node_name(kind) for kind in THREE_NODE_KINDS[:3])
ENDPOINT = "unix:///run/containerd/containerd.sock"


class WindowPoller(threading.Thread):
    """Reads the Node every 0.1 s: when it was cordoned, uncordoned, first on its new runtime."""

    def __init__(self, client: Any, node: str = NODE) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.node = node
        self.runtime_before: str | None = None
        self.stop = threading.Event()
        self.cordoned: float | None = None
        self.uncordoned: float | None = None
        self.on_containerd: float | None = None

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                node = self.client.get(f"/api/v1/nodes/{self.node}")
            except Exception:  # a poll lost to a busy API server is a poll skipped
                time.sleep(0.1)
                continue
            now = time.monotonic()
            unschedulable = bool(node["spec"].get("unschedulable"))
            runtime = node["status"]["nodeInfo"]["containerRuntimeVersion"]
            if unschedulable and self.cordoned is None:
                self.cordoned = now
            self.runtime_before = self.runtime_before or runtime
            if runtime != self.runtime_before and self.on_containerd is None:
                self.on_containerd = now
            if not unschedulable and self.cordoned is not None and self.uncordoned is None:
                self.uncordoned = now
            time.sleep(0.1)


def shell_script(nodes: RealNodes, kubeconfig: Path, registry: str) -> str:
    kubectl = ensure_kubernetes_binary("kubectl")
    address = nodes.nodes["docker-dockershim"].address
    ssh = shlex.join([*nodes.ssh_command(), f"root@{address}"])
    options = {} if host_can_lower_oom_scores() else {"restrict_oom_score_adj": True}
    config = containerd_config(1, f"{registry}/pause:3.6", False, options)
    hosts, _notes = registry_hosts([f"http://{registry}"], [registry])
    writes = "".join(
        f"mkdir -p /etc/containerd/certs.d/{host} && cat > /etc/containerd/certs.d/{host}/hosts.toml"
        f" <<'EOF'\n{text}EOF\n"
        for host, text in hosts.items()
    )
    return f"""set -euo pipefail
export KUBECONFIG={kubeconfig}
{kubectl} drain {NODE} --ignore-daemonsets --delete-emptydir-data
{ssh} bash -s <<'REMOTE'
set -e
systemctl stop kubelet
systemctl disable --now docker.socket docker.service
cat > /etc/containerd/config.toml <<'EOF'
{config}EOF
{writes}systemctl restart containerd
sed -i 's|--container-runtime=docker --network-plugin=cni|--container-runtime=remote --container-runtime-endpoint={ENDPOINT}|' /var/lib/kubelet/kubeadm-flags.env
systemctl start kubelet
REMOTE
until {kubectl} get node {NODE} -o jsonpath='{{.status.nodeInfo.containerRuntimeVersion}} {{.status.conditions[?(@.type=="Ready")].status}}' | grep -q '^containerd://.* True$'; do sleep 1; done
{kubectl} uncordon {NODE}
"""  # noqa: E501 - shell lines


def run_variant(variant: str, directory: Path) -> dict[str, float]:
    with RealNodes(list(KINDS), directory / "nodes", progress=sys.stderr) as nodes:
        assert nodes.plane is not None and nodes.registry is not None
        kube = client_for(nodes.plane.kubeconfig)
        install_real_kruise(nodes.plane, kube, pick_manager_node(nodes.specs()), directory / "c")
        inventory = directory / "inventory.yml"
        inventory.write_text(yaml.safe_dump(nodes.inventory()))
        if variant == "playbook":
            command = [
                str(REPO_ROOT / ".venv/bin/ansible-playbook"),
                "kruise_cri.remediation.migrate_runtime",
                "-i",
                str(inventory),
                "--limit",
                NODE,
                "-e",
                json.dumps({"kruise_cri_kubeconfig": str(nodes.plane.kubeconfig)}),
            ]
        else:
            command = [
                "bash",
                "-c",
                shell_script(nodes, nodes.plane.kubeconfig, nodes.registry.host),
            ]
        poller = WindowPoller(kube)
        poller.start()
        started = time.monotonic()
        done = subprocess.run(
            command,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            env={**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")},
        )
        total = time.monotonic() - started
        time.sleep(0.5)
        poller.stop.set()
        poller.join()
        if done.returncode != 0:
            raise SystemExit(f"{variant} failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}")
        if poller.cordoned is None or poller.uncordoned is None or poller.on_containerd is None:
            raise SystemExit(f"{variant}: the poller missed the cordon, the switch or the uncordon")
        return {
            "total": round(total, 2),
            "unschedulable": round(poller.uncordoned - poller.cordoned, 2),
            "to_containerd": round(poller.on_containerd - poller.cordoned, 2),
        }


def run_three_nodes(directory: Path) -> dict[str, Any]:
    with RealNodes(list(THREE_NODE_KINDS), directory / "nodes", progress=sys.stderr) as nodes:
        assert nodes.plane is not None
        kube = client_for(nodes.plane.kubeconfig)
        install_real_kruise(nodes.plane, kube, pick_manager_node(nodes.specs()), directory / "c")
        inventory = directory / "inventory.yml"
        inventory.write_text(yaml.safe_dump(nodes.inventory()))
        pollers = {name: WindowPoller(kube, name) for name in THREE_NODES}
        for poller in pollers.values():
            poller.start()
        started = time.monotonic()
        done = subprocess.run(
            [
                str(REPO_ROOT / ".venv/bin/ansible-playbook"),
                "kruise_cri.remediation.migrate_runtime",
                "-i",
                str(inventory),
                "--limit",
                ",".join(THREE_NODES),
                "-e",
                json.dumps(
                    {
                        "kruise_cri_kubeconfig": str(nodes.plane.kubeconfig),
                        "kruise_cri_migrate_images": "carry",
                    }
                ),
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
            env={**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")},
        )
        total = time.monotonic() - started
        time.sleep(0.5)
        for poller in pollers.values():
            poller.stop.set()
            poller.join()
        if done.returncode != 0:
            raise SystemExit(f"three nodes failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}")
        windows = {}
        for name, poller in pollers.items():
            if poller.cordoned is None or poller.uncordoned is None or poller.on_containerd is None:
                raise SystemExit(
                    f"{name}: the poller missed the cordon, the switch or the uncordon"
                )
            windows[name] = {
                "unschedulable": round(poller.uncordoned - poller.cordoned, 2),
                "to_new_runtime": round(poller.on_containerd - poller.cordoned, 2),
            }
        return {"total": round(total, 2), "nodes": windows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each variant (median)")
    parser.add_argument(
        "--three-nodes", action="store_true", help="migrate three nodes in one playbook run"
    )
    args = parser.parse_args()
    if args.three_nodes:
        with (
            terminate_as_interrupt(),
            tempfile.TemporaryDirectory(prefix="kruise-cri-bench-") as tmp,
        ):
            print(json.dumps(run_three_nodes(Path(tmp)), indent=2))
        return
    results: dict[str, list[dict[str, float]]] = {"playbook": [], "shell": []}
    with terminate_as_interrupt(), tempfile.TemporaryDirectory(prefix="kruise-cri-bench-") as tmp:
        for round_number in range(args.repeat):
            for variant in results:
                directory = Path(tmp) / f"{variant}-{round_number}"
                directory.mkdir()
                results[variant].append(run_variant(variant, directory))
                print(f"{variant} run {round_number + 1}: {results[variant][-1]}", file=sys.stderr)
    summary = {
        variant: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        for variant, runs in results.items()
    }
    summary["ratio_playbook_to_shell"] = {
        key: round(summary["playbook"][key] / summary["shell"][key], 2)
        for key in summary["playbook"]
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
