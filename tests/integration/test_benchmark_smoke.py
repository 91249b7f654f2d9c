"""Smoke tests of the benchmarks: benchmarks/assess_fleet.py on a tiny fleet, one timed run per
variant, and benchmarks/cluster_assess.py on a tiny cluster.

The benchmarks themselves are run by hand (see benchmarks/README.md); this only proves they still
run to the end, report what they must (one module execution per host for cri_facts; every reader,
request counts and LIST pages for the cluster) and clean up after themselves (assess_fleet also
when it is interrupted).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kruise_cri.lab.gotools import GO_TOOL_PINS
from kruise_cri.lab.kubernetes_build import KUBERNETES_VERSION
from tests.integration.procfs import command_lines, processes_mentioning

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCHMARK = REPO_ROOT / "benchmarks" / "assess_fleet.py"

pytestmark = pytest.mark.runtimes


def _run_benchmark(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the benchmark; past ``timeout`` it gets SIGTERM (not SIGKILL) so it still cleans up."""
    command = [sys.executable, str(BENCHMARK), *args]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.terminate()
            stdout, stderr = process.communicate(timeout=60)
            pytest.fail(
                f"the benchmark took over {timeout:.0f} s:\n{stdout[-2000:]}\n{stderr[-2000:]}"
            )
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def test_benchmark_runs_both_variants_and_cleans_up(tmp_path: Path) -> None:
    results_path = tmp_path / "bench.json"
    completed = _run_benchmark("--hosts", "3", "--repeat", "1", "--json", str(results_path))
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    results = json.loads(results_path.read_text())
    rows = {row["variant"]: row for row in results["results"]}
    assert {"cri_facts", "baseline"} <= set(rows)
    assert rows["cri_facts"]["hosts"] == 3 and rows["baseline"]["hosts"] == 3
    assert rows["cri_facts"]["module_executions_per_host"] == {"min": 1, "max": 1, "mean": 1}
    assert rows["cri_facts"]["task_results_per_host"] == {"min": 1, "max": 1, "mean": 1}
    # stat x5 and slurp x5 at least: the baseline needs many module calls per host.
    assert rows["baseline"]["module_executions_per_host"]["min"] >= 10
    assert rows["baseline"]["ratio_to_cri_facts"] > 0
    assert results["checks"]["3"]["cri_facts"]["hosts_with_one_module_execution"] == "3/3"
    # Host 0 is a containerd 1.4 node: crictl (CRI v1 only) cannot read it.
    assert results["checks"]["3"]["baseline"]["crictl_failed_sockets_by_api_cri_facts_saw"] == {
        "v1alpha2": 1
    }
    assert results["tools"]["crictl_build"]["version"] == GO_TOOL_PINS["crictl"].version
    for line in ("cri_facts", "baseline", "x cri_facts"):
        assert line in completed.stdout
    leftovers = [results["work_dir"], *results["shared_runtime_roots"]]
    assert not [path for path in leftovers if Path(path).exists()]
    assert not processes_mentioning(*results["shared_runtime_roots"])


def test_benchmark_cleans_up_when_terminated_during_a_run() -> None:
    process = subprocess.Popen(
        [sys.executable, str(BENCHMARK), "--hosts", "3", "--repeat", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    try:
        for line in process.stdout:
            lines.append(line)
            if "counting run of" in line or time.monotonic() > deadline:
                break
        time.sleep(1.5)  # inside the first ansible-playbook run
        process.send_signal(signal.SIGTERM)
        rest, _unused = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    output = "".join(lines) + rest
    assert process.returncode == 130, output
    work_dir = next(line.split()[-1] for line in lines if line.startswith("work directory"))
    roots = next(line for line in lines if line.startswith("shared runtime roots:")).split()[3:]
    assert roots
    assert not [path for path in [work_dir, *roots] if Path(path).exists()]
    stray = processes_mentioning(work_dir, *roots)
    assert not stray, command_lines(stray)


CLUSTER_BENCHMARK = REPO_ROOT / "benchmarks" / "cluster_assess.py"


def test_cluster_benchmark_reads_a_tiny_cluster_and_cleans_up(tmp_path: Path) -> None:
    """benchmarks/cluster_assess.py at 20 nodes and 100 pods: every reader runs once, the JSON
    has the shape the README describes, and the control plane is gone afterwards."""
    results_path = tmp_path / "cluster.json"
    command = [sys.executable, str(CLUSTER_BENCHMARK), "--nodes", "20", "--pods", "100"]
    completed = subprocess.run(
        [*command, "--repeat", "1", "--json", str(results_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    results = json.loads(results_path.read_text())
    assert results["sizes"]["nodes"] == 20 and results["sizes"]["pods"] == 100
    assert results["sizes"]["objects_per_list"]["pods (all namespaces)"] == 120  # + daemon pods
    rows = {row["label"]: row for row in results["results"]}
    assert set(rows) == {
        "ours in-process (facts + plan)",
        "ours in-process (facts only)",
        "ours via ansible (kruise_info)",
        "kubectl (nodes + kinds)",
        "kubectl (nodes + kinds + pods)",
    }
    for row in rows.values():
        assert len(row["runs_s"]) == 1 and row["median_s"] > 0
        assert row["ratio_to_kubectl_with_pods"] > 0
    ours = results["requests"]["ours"]
    assert ours["within_pages_needed"] and ours["lists"] == ours["list_pages_needed"]
    kubectl = results["requests"]["kubectl"]
    # One page per command at this size, and discovery once per command set (fresh HOME).
    assert kubectl["list"] == kubectl["list_pages_needed"] == 8
    assert kubectl["discovery"] >= 1
    assert results["checks"]["ours_ansible"]["nodes"] == 20
    assert results["checks"]["ours_in_process"]["daemon_pod_states"] == {
        "crash-looping": 8,
        "running": 12,
    }
    assert {"ratio", "met", "ansible_overhead_s"} <= set(results["goal"])
    assert results["machine"]["kubernetes"] == KUBERNETES_VERSION
    assert "x kubectl+pods" in completed.stdout
    assert not Path(results["control_plane_dir"]).exists()
    assert not Path(results["work_dir"]).exists()
    assert not processes_mentioning(results["control_plane_dir"])
