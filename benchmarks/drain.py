"""Drain benchmark: kruise_cri.remediation.node_drain against `kubectl drain` and
kubernetes.core.k8s_drain, on the same control plane, interleaved, --repeat times.

Each run gets a fresh kwok node holding --pods pods (default 110, the kubelet's default maximum),
about --pdb-fraction of them (a third) in Deployments of --pdb-replicas behind a
PodDisruptionBudget with maxUnavailable 1, the rest in Deployments without one, and --spares
spare nodes for their replacements (cordoned until every pod runs on the target, as in a cluster
whose other nodes are full until the drain starts). What is timed is the whole command a user
runs: the drain until every pod is gone, with its tool's own start-up.

  node_drain  ansible-playbook, one task: kruise_cri.remediation.node_drain
  kubectl     kubectl drain --ignore-daemonsets --timeout=...  (kubectl of the server's version)
  k8s_drain   ansible-playbook, one task: kubernetes.core.k8s_drain with wait_timeout, retried
              with until/retries/delay (it fails on a budget's first 429 instead of retrying)

Both playbooks run with the same ansible-core (the version of .venv) from a private venv that holds
PyPI's `ansible` package, which bundles kubernetes.core (no galaxy server is reachable here).

Run from the repository:  .venv/bin/python benchmarks/drain.py --repeat 3 --json drain.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench_common import COLLECTIONS_PATH, REPO_ROOT, use_this_checkout

use_this_checkout()

from ansible.release import __version__ as ANSIBLE_CORE_VERSION  # noqa: E402
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (  # noqa: E402
    KubeClient,
    KubeRequestError,
)

from kruise_cri.lab.buildcache import cache_root  # noqa: E402
from kruise_cri.lab.cluster_objects import (  # noqa: E402
    client_for,
    create_all,
    ensure_namespace,
    kwok_node,
)
from kruise_cri.lab.controlplane import ControlPlane  # noqa: E402
from kruise_cri.lab.kubernetes_build import (  # noqa: E402
    KUBERNETES_VERSION,
    ensure_kubernetes_binary,
)
from kruise_cri.lab.waiting import wait_until  # noqa: E402

VARIANTS = ("node_drain", "kubectl", "k8s_drain")
GOAL_VS_KUBECTL = 1.2  # node_drain at most this times kubectl's time
GOAL_VS_K8S_DRAIN = 3.0  # k8s_drain at least this times node_drain's time
WAIT_TIMEOUT = 300.0  # seconds each wait of a run's set-up and tear-down allows
WAIT_INTERVAL = 0.25
# etcd 3.4 (Debian's) cannot serve the progress notifications that the API server's watch-list
# streams need; kwok's client-go (0.36) asks for them, its watches end at once and it lags 10 to
# 40 s behind every pod change. Without watch-list, kwok reacts within milliseconds, as a kubelet
# does to a deletion, and the timings measure the drain tools, not kwok.
APISERVER_FLAGS = ("--feature-gates=WatchList=false",)

PLAYBOOK = """\
---
- name: Drain one node
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Drain
      {module}:
{args}
      register: drained
{retry}
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- the tools


def ansible_major_for(core_version: str) -> int:
    """PyPI's `ansible` N bundles ansible-core 2.(N+7): 9 -> 2.16 ... 12 -> 2.19."""
    major, minor = (int(part) for part in core_version.split(".")[:2])
    if major != 2 or minor < 16:
        raise SystemExit(f"ansible-core {core_version} is not one this benchmark knows")
    return minor - 7


def ensure_bench_venv(core_version: str = ANSIBLE_CORE_VERSION) -> Path:
    """A private venv (``<cache>/bench-venv``) with ansible-core ``core_version``, PyPI's
    ``ansible`` package of that core (for kubernetes.core) and the kubernetes client."""
    root = cache_root() / "bench-venv"
    record_path = root / "kruise-cri-bench.json"
    wanted_ansible = ansible_major_for(core_version)
    if record_path.exists():
        record = json.loads(record_path.read_text())
        if record.get("ansible_core") == core_version:
            return root
    log(f"Creating {root}: ansible-core {core_version}, ansible {wanted_ansible}.x, kubernetes")
    shutil.rmtree(root, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    subprocess.run(
        [
            str(root / "bin" / "pip"),
            "install",
            "--disable-pip-version-check",
            "--quiet",
            f"ansible-core=={core_version}",
            f"ansible>={wanted_ansible},<{wanted_ansible + 1}",
            "kubernetes",
        ],
        check=True,
    )
    probe = (
        "import json, importlib.metadata as m, pathlib, ansible_collections.kubernetes.core as k;"
        "manifest = pathlib.Path(list(k.__path__)[0]) / 'MANIFEST.json';"
        "print(json.dumps({'ansible_core': m.version('ansible-core'),"
        " 'ansible': m.version('ansible'), 'kubernetes': m.version('kubernetes'),"
        " 'kubernetes.core': json.loads(manifest.read_text())['collection_info']['version']}))"
    )
    versions = json.loads(
        subprocess.run(
            [str(root / "bin" / "python"), "-c", probe], capture_output=True, text=True, check=True
        ).stdout
    )
    if versions["ansible_core"] != core_version:
        raise SystemExit(f"{root} got ansible-core {versions['ansible_core']}, not {core_version}")
    record_path.write_text(json.dumps(versions))
    return root


def bench_versions(venv: Path) -> dict[str, str]:
    return json.loads((venv / "kruise-cri-bench.json").read_text())


# ---------------------------------------------------------------------------- the scenario


def layout(pods: int, pdb_fraction: float, pdb_replicas: int, free_replicas: int) -> list[dict]:
    """Deployments that put ``pods`` pods on the target: (name, replicas, budget)."""
    guarded = round(pods * pdb_fraction)
    deployments = []
    for index, start in enumerate(range(0, guarded, pdb_replicas)):
        deployments.append(
            {
                "name": f"guarded-{index}",
                "replicas": min(pdb_replicas, guarded - start),
                "pdb": True,
            }
        )
    for index, start in enumerate(range(0, pods - guarded, free_replicas)):
        deployments.append(
            {
                "name": f"free-{index}",
                "replicas": min(free_replicas, pods - guarded - start),
                "pdb": False,
            }
        )
    return deployments


def scenario_objects(run: str, deployments: list[dict], spares: int) -> list[dict]:
    target = f"{run}-target"
    nodes = [kwok_node(target, "containerd://1.7.24", "v1.33.1", labels={"bench-pool": run})]
    for index in range(spares):
        spare = kwok_node(
            f"{run}-spare-{index}", "containerd://1.7.24", "v1.33.1", labels={"bench-pool": run}
        )
        spare["spec"]["unschedulable"] = True
        nodes.append(spare)
    objects: list[dict] = []
    for deployment in deployments:
        name = deployment["name"]
        objects.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": run},
                "spec": {
                    "replicas": deployment["replicas"],
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {
                            "nodeSelector": {"bench-pool": run},
                            "automountServiceAccountToken": False,
                            "terminationGracePeriodSeconds": 30,
                            "containers": [{"name": "app", "image": "registry.example/app:1.0"}],
                        },
                    },
                },
            }
        )
        if deployment["pdb"]:
            objects.append(
                {
                    "apiVersion": "policy/v1",
                    "kind": "PodDisruptionBudget",
                    "metadata": {"name": name, "namespace": run},
                    "spec": {"selector": {"matchLabels": {"app": name}}, "maxUnavailable": 1},
                }
            )
    return nodes + objects


def pods_on(kube: KubeClient, node: str) -> list[dict]:
    return kube.get("/api/v1/pods", {"fieldSelector": f"spec.nodeName={node}"})["items"]


def prepare(kube: KubeClient, run: str, deployments: list[dict], pods: int, spares: int) -> None:
    """Every pod Running on the target, every budget settled, then the spares uncordoned."""
    ensure_namespace(kube, run)
    wait_until(
        f"the default ServiceAccount of {run}",
        lambda: kube.get(f"/api/v1/namespaces/{run}/serviceaccounts")["items"],
        WAIT_TIMEOUT,
        interval=WAIT_INTERVAL,
    )
    create_all(kube, scenario_objects(run, deployments, spares))
    target = f"{run}-target"
    wait_until(
        f"{pods} Running pods on {target}",
        lambda: (
            len(on := pods_on(kube, target)) == pods
            and all(p.get("status", {}).get("phase") == "Running" for p in on)
        ),
        WAIT_TIMEOUT,
        interval=WAIT_INTERVAL,
    )
    budgets = [d["name"] for d in deployments if d["pdb"]]

    def settled() -> bool:
        items = kube.get(f"/apis/policy/v1/namespaces/{run}/poddisruptionbudgets")["items"]
        return len(items) == len(budgets) and all(
            (b.get("status") or {}).get("observedGeneration") == b["metadata"]["generation"]
            and (b.get("status") or {}).get("disruptionsAllowed") == 1
            for b in items
        )

    wait_until(
        "every budget to allow one disruption", settled, WAIT_TIMEOUT, interval=WAIT_INTERVAL
    )
    for index in range(spares):
        kube.patch(f"/api/v1/nodes/{run}-spare-{index}", {"spec": {"unschedulable": False}})


def teardown(kube: KubeClient, run: str, spares: int) -> None:
    """Delete the run's namespace, wait until it is gone, then its nodes. In that order kwok
    still removes the pods at once; pods of a deleted node would linger until kube-controller-
    manager's pod GC, and load the next run."""

    def delete(path: str) -> None:
        try:
            kube.send("DELETE", path)
        except KubeRequestError as error:
            if error.status != 404:
                raise

    def gone() -> bool:
        try:
            kube.get(f"/api/v1/namespaces/{run}")
        except KubeRequestError as error:
            return error.status == 404
        return False

    delete(f"/api/v1/namespaces/{run}")
    wait_until(f"namespace {run} to be deleted", gone, WAIT_TIMEOUT, interval=WAIT_INTERVAL)
    for path in (
        f"/api/v1/nodes/{run}-target",
        *(f"/api/v1/nodes/{run}-spare-{i}" for i in range(spares)),
    ):
        delete(path)


# ---------------------------------------------------------------------------- the variants


def playbook_text(module: str, args: dict[str, Any], retry: dict[str, Any] | None) -> str:
    arg_lines = "\n".join(f"        {key}: {json.dumps(value)}" for key, value in args.items())
    retry_lines = ""
    if retry:
        retry_lines = "\n".join(
            [
                "      until: drained is succeeded",
                f"      retries: {retry['retries']}",
                f"      delay: {retry['delay']}",
            ]
        )
    return PLAYBOOK.format(module=module, args=arg_lines, retry=retry_lines)


def ansible_env(work: Path, tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.tree",
        ANSIBLE_CALLBACK_TREE_DIR=str(tree),
        ANSIBLE_DEPRECATION_WARNINGS="false",
        ANSIBLE_LOCAL_TEMP=str(work / "tmp"),
    )
    return env


def drain_command(
    variant: str,
    node: str,
    kubeconfig: Path,
    work: Path,
    options: argparse.Namespace,
    venv: Path,
    kubectl: Path,
) -> tuple[list[str], dict[str, str] | None]:
    if variant == "kubectl":
        return [
            str(kubectl),
            f"--kubeconfig={kubeconfig}",
            "drain",
            node,
            "--ignore-daemonsets",
            f"--timeout={options.timeout}s",
        ], None
    if variant == "node_drain":
        module = "kruise_cri.remediation.node_drain"
        args: dict[str, Any] = {
            "name": node,
            "kubeconfig": str(kubeconfig),
            "timeout": options.timeout,
        }
        retry = None
    else:
        module = "kubernetes.core.k8s_drain"
        args = {
            "name": node,
            "kubeconfig": str(kubeconfig),
            "delete_options": {
                "ignore_daemonsets": True,
                "wait_timeout": options.timeout,
                "wait_sleep": options.k8s_drain_wait_sleep,
            },
        }
        retry = {
            "retries": max(1, options.timeout // max(1, options.k8s_drain_retry_delay)),
            "delay": options.k8s_drain_retry_delay,
        }
    playbook = work / f"{variant}.yml"
    playbook.write_text(playbook_text(module, args, retry))
    tree = work / "tree"
    tree.mkdir(exist_ok=True)
    (work / "tmp").mkdir(exist_ok=True)
    command = [
        str(venv / "bin" / "ansible-playbook"),
        "-i",
        "localhost,",
        "-e",
        f"ansible_python_interpreter={venv / 'bin' / 'python'}",
        str(playbook),
    ]
    return command, ansible_env(work, tree)


def run_variant(
    variant: str,
    run: str,
    kube: KubeClient,
    plane: ControlPlane,
    work: Path,
    options: argparse.Namespace,
    venv: Path,
    kubectl: Path,
) -> dict[str, Any]:
    node = f"{run}-target"
    command, env = drain_command(variant, node, plane.kubeconfig, work, options, venv, kubectl)
    log_path = work / f"{run}.log"
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    with open(log_path, "w") as output:
        completed = subprocess.run(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=options.timeout + 300,
            check=False,
        )
    seconds = time.monotonic() - started
    left = [
        p["metadata"]["name"]
        for p in pods_on(kube, node)
        if not p["metadata"].get("deletionTimestamp")
    ]
    row: dict[str, Any] = {
        "variant": variant,
        "run": run,
        "seconds": round(seconds, 3),
        "returncode": completed.returncode,
        "pods_left": len(left),
        "ok": completed.returncode == 0 and not left,
        "log": str(log_path),
        "load_average_before": round(load_before, 2),
    }
    result_file = work / "tree" / "localhost"
    if env is not None and result_file.exists():
        result = json.loads(result_file.read_text())
        result_file.rename(work / f"{run}.result.json")  # the whole task result, with --keep
        if variant == "node_drain":
            row["module_timings"] = result.get("timings")
            row["evictions"] = result.get("evictions")
            row["requests"] = (result.get("requests") or {}).get("count")
        else:
            row["attempts"] = result.get("attempts")
            row["result"] = result.get("result") or result.get("msg")
    if variant == "kubectl":
        text = log_path.read_text()
        row["retries_logged"] = text.count("will retry after")
    return row


# ---------------------------------------------------------------------------- report


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for variant in VARIANTS:
        times = [r["seconds"] for r in rows if r["variant"] == variant]
        if not times:
            continue
        summary[variant] = {
            "runs": times,
            "median": round(statistics.median(times), 3),
            "min": min(times),
            "max": max(times),
            "all_ok": all(r["ok"] for r in rows if r["variant"] == variant),
        }
    if "node_drain" in summary and "kubectl" in summary:
        ratio = summary["node_drain"]["median"] / summary["kubectl"]["median"]
        summary["node_drain_vs_kubectl"] = {
            "ratio": round(ratio, 3),
            "goal": f"<= {GOAL_VS_KUBECTL}",
            "met": ratio <= GOAL_VS_KUBECTL,
        }
    if "node_drain" in summary and "k8s_drain" in summary:
        ratio = summary["k8s_drain"]["median"] / summary["node_drain"]["median"]
        summary["k8s_drain_vs_node_drain"] = {
            "ratio": round(ratio, 3),
            "goal": f">= {GOAL_VS_K8S_DRAIN}",
            "met": ratio >= GOAL_VS_K8S_DRAIN,
        }
    return summary


def print_table(rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    print(f"{'variant':<11} {'runs (s)':<28} {'median':>8}  ok")
    for variant in VARIANTS:
        if variant not in summary:
            continue
        entry = summary[variant]
        runs = ", ".join(f"{t:.1f}" for t in entry["runs"])
        print(f"{variant:<11} {runs:<28} {entry['median']:>8.2f}  {entry['all_ok']}")
    for key in ("node_drain_vs_kubectl", "k8s_drain_vs_node_drain"):
        if key in summary:
            entry = summary[key]
            print(f"{key}: {entry['ratio']:.2f} (goal {entry['goal']}, met: {entry['met']})")
    for row in rows:
        if row["variant"] == "node_drain" and row.get("module_timings"):
            timings = row["module_timings"]
            print(
                f"  {row['run']}: node_drain inside the module {timings.get('total')} s, "
                f"evictions {row.get('evictions')}, {row.get('requests')} requests"
            )


# ---------------------------------------------------------------------------- main


@contextmanager
def terminated_cleanly() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C: the control plane and work directory are removed."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--pods", type=int, default=110, help="pods on the drained node")
    parser.add_argument("--pdb-fraction", type=float, default=1 / 3)
    parser.add_argument("--pdb-replicas", type=int, default=4, help="replicas per budget")
    parser.add_argument("--free-replicas", type=int, default=10)
    parser.add_argument("--spares", type=int, default=3, help="nodes for the replacements")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--timeout", type=int, default=900, help="each drain's timeout (s)")
    parser.add_argument(
        "--k8s-drain-wait-sleep",
        type=int,
        default=1,
        help="k8s_drain's delete_options.wait_sleep (its default is 5)",
    )
    parser.add_argument(
        "--k8s-drain-retry-delay",
        type=int,
        default=5,
        help="seconds between k8s_drain retries after a budget refusal (kubectl waits 5)",
    )
    parser.add_argument("--json", type=Path, help="write every run and the summary here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    deployments = layout(
        options.pods, options.pdb_fraction, options.pdb_replicas, options.free_replicas
    )
    guarded = sum(d["replicas"] for d in deployments if d["pdb"])
    venv = ensure_bench_venv() if {"node_drain", "k8s_drain"} & set(options.variants) else None
    kubectl = ensure_kubernetes_binary("kubectl")
    work = Path(tempfile.mkdtemp(prefix="kruise-cri-bench-drain-", dir="/tmp"))
    rows: list[dict[str, Any]] = []
    try:
        with (
            terminated_cleanly(),
            ControlPlane(progress=sys.stderr, extra_apiserver_flags=APISERVER_FLAGS) as plane,
        ):
            kube = client_for(plane.kubeconfig)
            for repetition in range(options.repeat):
                # Rotate the order so that no variant always runs first (or last).
                shift = repetition % len(options.variants)
                order = options.variants[shift:] + options.variants[:shift]
                for variant in order:
                    run = f"bench-{repetition}-{variant.replace('_', '-')}"
                    log(f"[{run}] preparing {options.pods} pods ({guarded} behind budgets)")
                    mark = time.monotonic()
                    prepare(kube, run, deployments, options.pods, options.spares)
                    log(f"[{run}] prepared in {time.monotonic() - mark:.1f} s; draining")
                    row = run_variant(
                        variant, run, kube, plane, work, options, venv or Path(), kubectl
                    )
                    log(f"[{run}] {variant}: {row['seconds']:.1f} s, ok: {row['ok']}")
                    rows.append(row)
                    mark = time.monotonic()
                    teardown(kube, run, options.spares)
                    log(f"[{run}] removed in {time.monotonic() - mark:.1f} s")
        summary = summarize(rows)
        print_table(rows, summary)
        if options.json:
            options.json.write_text(
                json.dumps(
                    {
                        "summary": summary,
                        "runs": rows,
                        "scenario": {
                            "pods": options.pods,
                            "behind_budgets": guarded,
                            "deployments": deployments,
                            "spares": options.spares,
                        },
                        "settings": {
                            "k8s_drain_wait_sleep": options.k8s_drain_wait_sleep,
                            "k8s_drain_retry_delay": options.k8s_drain_retry_delay,
                            "timeout": options.timeout,
                            "apiserver_flags": list(APISERVER_FLAGS),
                        },
                        "versions": {
                            "kubernetes_server_and_kubectl": KUBERNETES_VERSION,
                            "ansible_core": ANSIBLE_CORE_VERSION,
                            "bench_venv": bench_versions(venv) if venv else None,
                            "python": platform.python_version(),
                        },
                        "load_average": os.getloadavg(),
                    },
                    indent=2,
                )
            )
        failed = [r for r in rows if not r["ok"]]
        for row in failed:
            log(f"{row['run']} did not drain (rc {row['returncode']}): see {row['log']}")
        return 1 if failed else 0
    finally:
        if options.keep:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
