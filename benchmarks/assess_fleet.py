"""Fleet assessment benchmark: cri_facts against a shell-style baseline on N fake hosts.

A few real runtimes are started once, each in its own host root (containerd 1.4, 1.6, 1.7, 2.x with
CRI, and dockerd on a containerd 1.6 with CRI disabled). Then N lightweight host roots are laid out,
round-robin over the lab's node types (kruise_cri.lab.nodes.NODES): their sockets are hard links to
the real sockets at the standard paths (a unix socket can be hard-linked and connected through),
with the kubelet files, daemon.json and containerd config.toml of the node type. For each N, in the
same run, this times (median of --repeat runs, interleaved):

  cri_facts  a one-task playbook running kruise_cri.remediation.cri_facts on every host;
  baseline   benchmarks/baseline_shell_assess.yml (stat, crictl, docker CLI, slurp, set_fact);
  assess     the full kruise_cri.remediation.assess playbook, report included.

Before the timed runs, one untimed run of each variant with -vvv and a recording callback counts the
module executions per host and checks the results (cri_facts verdicts must equal the node types').

Run as root from the repository:  .venv/bin/python benchmarks/assess_fleet.py --hosts 50 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from bench_common import (
    COLLECTIONS_PATH,
    REPO_ROOT,
    end_process_group,
    terminate_as_interrupt,
    use_this_checkout,
)

use_this_checkout()

from kruise_cri.lab.dockershim_build import ensure_dockershim, start_dockershim  # noqa: E402
from kruise_cri.lab.fleet import node_python, write_node_files  # noqa: E402
from kruise_cri.lab.gotools import ensure_go_tool, go_tool_record  # noqa: E402
from kruise_cri.lab.nodes import DOCKER_DAEMON_JSON, NODES, NodeSpec  # noqa: E402
from kruise_cri.lab.packages import ensure_runtime, ensure_runtimes  # noqa: E402
from kruise_cri.lab.runtimes import (  # noqa: E402
    HostRoot,
    RunningRuntime,
    start_containerd,
    start_dockerd,
)

VENV_BIN = Path(sys.executable).parent
BASELINE_PLAYBOOK = REPO_ROOT / "benchmarks" / "baseline_shell_assess.yml"
ASSESS_PLAYBOOK = "kruise_cri.remediation.assess"
VARIANTS = ("cri_facts", "baseline", "assess")
NODES_GROUP = "kube_nodes"
TARGET_RATIO = 3.0
CAPABILITY_NOTE = (
    "crictl speaks only CRI v1: on v1alpha2-only sockets (containerd 1.4, dockershim)"
    " the baseline gets an error and cannot tell which API the runtime serves; that is a"
    " capability gap, not a speed difference"
)

CRI_FACTS_PLAYBOOK = """\
---
- name: Assess every node with one cri_facts call
  hosts: kube_nodes
  gather_facts: false
  tasks:
    - name: Ask the node's CRI sockets, Docker and kubelet configuration
      kruise_cri.remediation.cri_facts:
        host_root: "{{ kruise_cri_host_root }}"
"""

# A notification callback used only in the untimed counting runs: one JSON line per task result.
RECORDER_NAME = "kc_bench_recorder"
RECORDER_PLUGIN = """\
from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "kc_bench_recorder"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._stream = open(os.environ["KC_BENCH_RECORD"], "a")

    def _record(self, result, status, item):
        data = result._result
        entry = {
            "host": result._host.get_name(),
            "task": result._task.get_name(),
            "action": result._task.action,
            "status": status,
            "item": item,
            "loop": "results" in data and not item,
        }
        facts = data.get("ansible_facts") or {}
        if "kruise_cri" in facts:
            kruise_cri = facts["kruise_cri"]
            entry["verdicts"] = {
                line: bool(verdict.get("compatible"))
                for line, verdict in (kruise_cri.get("kruise_daemon") or {}).items()
            }
            entry["endpoints"] = [
                [endpoint.get("socket"), list(endpoint.get("cri_api_versions") or [])]
                for endpoint in kruise_cri.get("endpoints") or []
            ]
        if "baseline_cri" in facts:
            entry["baseline"] = facts["baseline_cri"]
        if status == "failed":
            entry["msg"] = str(data.get("msg", ""))[:500]
        self._stream.write(json.dumps(entry, default=str) + "\\n")
        self._stream.flush()

    def v2_runner_on_ok(self, result):
        self._record(result, "ok", False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed", False)

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped", False)

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable", False)

    def v2_runner_item_on_ok(self, result):
        self._record(result, "ok", True)

    def v2_runner_item_on_failed(self, result):
        self._record(result, "failed", True)

    def v2_runner_item_on_skipped(self, result):
        self._record(result, "skipped", True)
"""

RECAP_LINE = re.compile(
    r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE
)


class BenchmarkError(RuntimeError):
    """A run failed or gave results that cannot be right; the message says where to look."""


# --- the fleet ---------------------------------------------------------------------------------


class SharedRuntimes:
    """The real daemons every fake host's sockets point at: one containerd per (build, cri) pair
    the node types need, each in its own host root, and one dockerd on a CRI-disabled containerd."""

    def __init__(self, specs: tuple[NodeSpec, ...]) -> None:
        self.specs = specs
        self.containerds: dict[tuple[str, bool], RunningRuntime] = {}
        self.dockerd: RunningRuntime | None = None
        self.dockershim: RunningRuntime | None = None
        self.roots: list[HostRoot] = []

    def start(self) -> None:
        needed: list[tuple[str, bool]] = []
        for spec in self.specs:
            for containerd in spec.containerds:
                if (containerd.build, containerd.cri) not in needed:
                    needed.append((containerd.build, containerd.cri))
        with_docker = any(spec.with_docker for spec in self.specs)
        names = [build for build, _unused in needed] + (["docker", "runc"] if with_docker else [])
        builds = ensure_runtimes(dict.fromkeys(names))
        for build, cri in needed:
            root = HostRoot()
            self.roots.append(root)
            self.containerds[(build, cri)] = start_containerd(
                builds[build], root, cri=cri, runc=builds.get("runc")
            )
        if with_docker:
            engine = next(
                (runtime for (_unused, cri), runtime in self.containerds.items() if not cri),
                next(iter(self.containerds.values())),
            )
            self.dockerd = start_dockerd(
                builds["docker"],
                builds["runc"],
                engine,
                engine.host_root,
                daemon_json=DOCKER_DAEMON_JSON,
            )
        if any(spec.with_dockershim for spec in self.specs):
            assert self.dockerd is not None
            self.dockershim = start_dockershim(
                ensure_dockershim(), self.dockerd, self.dockerd.host_root
            )

    def describe(self) -> list[str]:
        described = [
            f"containerd {runtime.version} (CRI {'on' if cri else 'off'})"
            for (_unused, cri), runtime in self.containerds.items()
        ]
        if self.dockerd is not None:
            described.append(f"dockerd {self.dockerd.version}")
        if self.dockershim is not None:
            described.append(f"dockershim {self.dockershim.version}")
        return described

    def stop(self) -> None:
        for root in reversed(self.roots):
            root.cleanup()
        self.roots.clear()


def lay_out_host(path: Path, spec: NodeSpec, shared: SharedRuntimes) -> HostRoot:
    """A host root for ``spec`` whose sockets are hard links to the shared daemons' sockets."""
    root = HostRoot(path)
    write_node_files(root, spec.files)
    for index, containerd in enumerate(spec.containerds):
        real = shared.containerds[(containerd.build, containerd.cri)]
        _hard_link(real.socket, root.node_path(containerd.socket))
        config_rel = (
            "etc/containerd/config.toml"
            if index == 0
            else f"etc/containerd/{Path(containerd.socket).stem}.toml"
        )
        config = root.node_path(config_rel)
        config.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real.config_path, config)
    if spec.with_docker:
        assert shared.dockerd is not None
        _hard_link(shared.dockerd.socket, root.node_path("/run/docker.sock"))
    if spec.with_dockershim:
        assert shared.dockershim is not None
        _hard_link(shared.dockershim.socket, root.node_path("/run/dockershim.sock"))
        if spec.docker_daemon_json is not None:
            daemon_json = root.node_path("/etc/docker/daemon.json")
            daemon_json.parent.mkdir(parents=True, exist_ok=True)
            daemon_json.write_text(json.dumps(spec.docker_daemon_json, indent=2) + "\n")
    return root


def _hard_link(target: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    os.link(target, link)


def host_name(index: int, spec: NodeSpec) -> str:
    return f"h{index:03d}-{spec.name.removeprefix('node-')}"


def verify_hard_linked_socket(shared: SharedRuntimes, hosts: dict[str, HostRoot]) -> None:
    """A hard link to a listening unix socket must reach the daemon: ask containerd through one."""
    name, root = next(iter(hosts.items()))
    link = root.node_path("/run/containerd/containerd.sock")
    if not link.is_socket():
        return
    runtime = next(iter(shared.containerds.values()))
    completed = subprocess.run(
        [str(runtime.build.ctr), "--address", str(link), "version"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchmarkError(
            f"containerd does not answer through the hard link {link} ({name}):"
            f" {completed.stderr.strip()}"
        )


def inventory(hosts: dict[str, HostRoot], types: dict[str, NodeSpec], python: Path) -> dict:
    return {
        "all": {
            "children": {
                NODES_GROUP: {
                    "hosts": {
                        name: {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": str(python),
                            "kruise_cri_host_root": str(root.path),
                            "kruise_cri_become": False,
                            "kruise_cri_node_type": types[name].name,
                        }
                        for name, root in hosts.items()
                    }
                }
            }
        }
    }


# --- running Ansible ---------------------------------------------------------------------------


@dataclass
class Run:
    variant: str
    hosts: int
    wall_s: float
    cpu_s: float
    load_before: float
    log: Path


@dataclass
class Counted:
    """What the untimed -vvv run of one variant showed, per host."""

    variant: str
    module_executions: dict[str, int]
    task_results: dict[str, int]
    failed_results: int
    records: list[dict[str, Any]] = field(default_factory=list)


class Bench:
    def __init__(self, workdir: Path, forks: int, tools: dict[str, str], pipelining: bool) -> None:
        self.workdir = workdir
        self.forks = forks
        self.tools = tools
        self.pipelining = pipelining
        self.callback_dir = workdir / "callback_plugins"
        self.callback_dir.mkdir()
        (self.callback_dir / f"{RECORDER_NAME}.py").write_text(RECORDER_PLUGIN)
        self.cri_facts_playbook = workdir / "cri_facts_only.yml"
        self.cri_facts_playbook.write_text(CRI_FACTS_PLAYBOOK)
        self.sequence = 0

    def environment(self, record: Path | None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
            ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
            ANSIBLE_RETRY_FILES_ENABLED="0",
            PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        )
        if self.pipelining:
            env["ANSIBLE_PIPELINING"] = "1"
        if record is not None:
            env.update(
                ANSIBLE_CALLBACK_PLUGINS=str(self.callback_dir),
                ANSIBLE_CALLBACKS_ENABLED=RECORDER_NAME,
                KC_BENCH_RECORD=str(record),
            )
        return env

    def command(self, variant: str, inventory_path: Path, hosts: int) -> list[str]:
        command = [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            str(inventory_path),
            "--forks",
            str(self.forks),
        ]
        if variant == "cri_facts":
            return [*command, str(self.cri_facts_playbook)]
        if variant == "baseline":
            extra = {
                "baseline_crictl": self.tools["crictl"],
                "baseline_docker_cli": self.tools["docker"],
            }
            return [*command, "-e", json.dumps(extra), str(BASELINE_PLAYBOOK)]
        if variant == "assess":
            extra = {
                "kruise_cri_target_version": "1.6.0",
                "kruise_cri_report_dir": str(self.workdir / f"report-{hosts}"),
            }
            return [*command, "-e", json.dumps(extra), ASSESS_PLAYBOOK]
        raise ValueError(variant)

    def _execute(
        self, variant: str, inventory_path: Path, hosts: int, extra: list[str], record: Path | None
    ) -> tuple[float, float, Path, str]:
        self.sequence += 1
        log = self.workdir / "logs" / f"{self.sequence:03d}-{variant}-{hosts}.log"
        log.parent.mkdir(exist_ok=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        with open(log, "w") as output:
            # Its own process group, so an interruption ends Ansible's workers and modules too.
            process = subprocess.Popen(
                [*self.command(variant, inventory_path, hosts), *extra],
                env=self.environment(record),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                returncode = process.wait()
            except BaseException:
                end_process_group(process)
                raise
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        text = log.read_text(errors="replace")
        if returncode != 0:
            raise BenchmarkError(
                f"{variant} on {hosts} hosts exited with {returncode}; log {log}:\n"
                + "\n".join(text.splitlines()[-25:])
            )
        return wall, cpu, log, text

    def timed(self, variant: str, inventory_path: Path, hosts: list[str]) -> Run:
        load_before = os.getloadavg()[0]
        wall, cpu, log, text = self._execute(variant, inventory_path, len(hosts), [], None)
        recap = {match[0]: match for match in RECAP_LINE.findall(text)}
        missing = [host for host in hosts if host not in recap]
        bad = [host for host, match in recap.items() if int(match[3]) or int(match[4])]
        if missing or bad:
            raise BenchmarkError(
                f"{variant} on {len(hosts)} hosts: {len(missing)} hosts missing from the recap,"
                f" {len(bad)} failed or unreachable (e.g. {(missing + bad)[:3]}); log {log}"
            )
        return Run(variant, len(hosts), wall, cpu, load_before, log)

    def counted(
        self, variant: str, inventory_path: Path, hosts: list[str], python: Path
    ) -> Counted:
        """An untimed -vvv run: module executions per host (EXEC of the node's Python) and every
        task result, from the recording callback."""
        record = self.workdir / "logs" / f"record-{variant}-{len(hosts)}.jsonl"
        record.parent.mkdir(exist_ok=True)
        record.unlink(missing_ok=True)
        _unused, _unused, _unused, text = self._execute(
            variant, inventory_path, len(hosts), ["-vvv"], record
        )
        executions: Counter[str] = Counter()
        exec_line = re.compile(r"^<([^>]+)> EXEC .*" + re.escape(str(python)), re.MULTILINE)
        for host in exec_line.findall(text):
            executions[host] += 1
        records = [json.loads(line) for line in record.read_text().splitlines() if line]
        results: Counter[str] = Counter()
        for entry in records:
            if not entry["loop"]:
                results[entry["host"]] += 1
        failed = sum(1 for entry in records if entry["status"] in ("failed", "unreachable"))
        return Counted(
            variant=variant,
            module_executions={host: executions.get(host, 0) for host in hosts},
            task_results={host: results.get(host, 0) for host in hosts},
            failed_results=failed,
            records=records,
        )


# --- checks on the counted runs ------------------------------------------------------------------


def check_cri_facts(counted: Counted, types: dict[str, NodeSpec]) -> dict[str, Any]:
    """Every host: one module execution, one task result, and the same verdicts as every other
    host of its node type (the hard-linked hosts are faithful copies). Where those verdicts differ
    from the node type's expected ``compatible_lines``, that is reported, not fatal: it is a
    question for the compatibility model, not for the benchmark."""
    by_type: dict[str, set[tuple[str, ...]]] = {}
    verdict_hosts = 0
    for entry in counted.records:
        if "verdicts" not in entry:
            continue
        verdict_hosts += 1
        compatible = tuple(sorted(line for line, ok in entry["verdicts"].items() if ok))
        by_type.setdefault(types[entry["host"]].name, set()).add(compatible)
    calls = set(counted.module_executions.values())
    results = set(counted.task_results.values())
    inconsistent = {name: sorted(seen) for name, seen in by_type.items() if len(seen) != 1}
    if (
        counted.failed_results
        or inconsistent
        or calls != {1}
        or results != {1}
        or verdict_hosts != len(types)
    ):
        raise BenchmarkError(
            f"cri_facts check failed: module executions per host {sorted(calls)}, task results"
            f" per host {sorted(results)}, {counted.failed_results} failed results,"
            f" {verdict_hosts}/{len(types)} hosts with verdicts, node types whose hosts disagree:"
            f" {inconsistent}"
        )
    specs = {spec.name: spec for spec in types.values()}
    differing = {
        name: {"verdicts": list(next(iter(seen))), "expected": sorted(specs[name].compatible_lines)}
        for name, seen in sorted(by_type.items())
        if set(next(iter(seen))) != set(specs[name].compatible_lines)
    }
    return {
        "hosts_with_one_module_execution": f"{verdict_hosts}/{len(types)}",
        "compatible_lines_by_node_type": {
            name: list(next(iter(seen))) for name, seen in sorted(by_type.items())
        },
        "node_types_differing_from_expected_lines": differing,
    }


def check_baseline(counted: Counted, cri_facts: Counted, roots: dict[str, Path]) -> dict[str, Any]:
    """What crictl could not read, against what cri_facts found on the same sockets."""
    baseline = {
        entry["host"]: entry["baseline"] for entry in counted.records if "baseline" in entry
    }
    if len(baseline) != len(counted.task_results):
        raise BenchmarkError(f"baseline facts on {len(baseline)}/{len(counted.task_results)} hosts")
    apis: dict[tuple[str, str], list[str]] = {}
    for entry in cri_facts.records:
        for socket, versions in entry.get("endpoints", []):
            apis[(entry["host"], socket)] = versions
    crictl_blind: Counter[str] = Counter()
    examples: dict[str, str] = {}
    hosts_blind = set()
    for host, facts in baseline.items():
        for socket, error in (facts.get("crictl_errors") or {}).items():
            node_socket = "/" + os.path.relpath(socket, roots[host])
            served = apis.get((host, node_socket), [])
            label = "+".join(served) if served else "none"
            crictl_blind[label] += 1
            hosts_blind.add(host)
            text = str(error).replace('\\"', '"').strip().strip('"')
            examples.setdefault(label, text[max(text.find("rpc error"), 0) :])
    return {
        "crictl_failed_sockets_by_api_cri_facts_saw": dict(crictl_blind),
        "hosts_with_a_socket_crictl_cannot_read": len(hosts_blind),
        "crictl_error_examples": examples,
    }


# --- the report ----------------------------------------------------------------------------------


def summarise(runs: list[Run], counts: dict[str, Counted], hosts: int) -> list[dict[str, Any]]:
    rows = []
    medians: dict[str, float] = {}
    for variant in VARIANTS:
        mine = [run for run in runs if run.variant == variant and run.hosts == hosts]
        if not mine:
            continue
        median = statistics.median(run.wall_s for run in mine)
        medians[variant] = median
        counted = counts.get(variant)
        rows.append(
            {
                "hosts": hosts,
                "variant": variant,
                "runs_s": [round(run.wall_s, 3) for run in mine],
                "median_s": round(median, 3),
                "per_host_ms": round(median / hosts * 1000, 1),
                "cpu_s_median": round(statistics.median(run.cpu_s for run in mine), 2),
                "load_1min_before_runs": [round(run.load_before, 2) for run in mine],
                "module_executions_per_host": _spread(counted.module_executions)
                if counted
                else None,
                "task_results_per_host": _spread(counted.task_results) if counted else None,
            }
        )
    for row in rows:
        ours = medians.get("cri_facts")
        row["ratio_to_cri_facts"] = round(row["median_s"] / ours, 2) if ours else None
    return rows


def _spread(per_host: dict[str, int]) -> dict[str, float]:
    values = list(per_host.values())
    return {
        "min": min(values),
        "max": max(values),
        "mean": round(sum(values) / len(values), 2),
    }


def table(rows: list[dict[str, Any]]) -> str:
    header = (
        f"{'N':>4}  {'variant':<10} {'median s':>9} {'per host ms':>12} {'CPU s':>7}"
        f" {'module calls/host':>18} {'x cri_facts':>12}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        calls = row["module_executions_per_host"]
        calls_text = (
            "-"
            if calls is None
            else (
                f"{calls['min']}"
                if calls["min"] == calls["max"]
                else f"{calls['min']}-{calls['max']} ({calls['mean']})"
            )
        )
        lines.append(
            f"{row['hosts']:>4}  {row['variant']:<10} {row['median_s']:>9.2f}"
            f" {row['per_host_ms']:>12.1f} {row['cpu_s_median']:>7.1f} {calls_text:>18}"
            f" {row['ratio_to_cri_facts']:>12.2f}"
        )
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[50, 200], metavar="N")
    parser.add_argument("--repeat", type=int, default=3, metavar="R", help="timed runs (median)")
    parser.add_argument("--forks", type=int, default=25)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    parser.add_argument(
        "--pipelining",
        action="store_true",
        help="set ANSIBLE_PIPELINING=1 for every variant (ansible.cfg enables it only for ssh)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)
    if min(args.hosts) < 1 or args.repeat < 1 or args.forks < 1:
        parser.error("--hosts, --repeat and --forks must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("assess_fleet: the lab runtimes need root", file=sys.stderr)
        return 1
    with terminate_as_interrupt():
        output = run_benchmark(args, argv if argv is not None else sys.argv[1:])
    print_report(output)
    if args.json:
        args.json.write_text(json.dumps(output, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


def run_benchmark(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """Start the shared runtimes, lay out the hosts, count and time every variant; always stops
    the runtimes and removes every host root before returning or raising."""
    started = time.monotonic()
    crictl = ensure_go_tool("crictl")
    docker_build = ensure_runtime("docker")
    if docker_build.docker is None:
        raise BenchmarkError(f"the {docker_build.package} package has no docker CLI")
    tools = {"crictl": str(crictl), "docker": str(docker_build.docker)}
    python = node_python()
    shared = SharedRuntimes(NODES)
    workdir = Path(tempfile.mkdtemp(prefix="kc-bench-", dir="/tmp"))
    try:
        print(f"work directory {workdir}", flush=True)
        shared.start()
        print("shared runtimes: " + ", ".join(shared.describe()), flush=True)
        roots_text = " ".join(str(root.path) for root in shared.roots)
        print(f"shared runtime roots: {roots_text}", flush=True)
        largest = max(args.hosts)
        hosts: dict[str, HostRoot] = {}
        types: dict[str, NodeSpec] = {}
        for index in range(largest):
            spec = NODES[index % len(NODES)]
            name = host_name(index, spec)
            hosts[name] = lay_out_host(workdir / "hosts" / f"{index:03d}", spec, shared)
            types[name] = spec
        verify_hard_linked_socket(shared, hosts)
        print(
            f"{largest} host roots laid out, sockets hard-linked"
            f" ({time.monotonic() - started:.1f} s since start)",
            flush=True,
        )
        bench = Bench(workdir, args.forks, tools, args.pipelining)
        rows: list[dict[str, Any]] = []
        checks: dict[str, Any] = {}
        for count in args.hosts:
            names = list(hosts)[:count]
            inventory_path = workdir / f"inventory-{count}.yml"
            subset = {name: hosts[name] for name in names}
            inventory_path.write_text(
                yaml.safe_dump(inventory(subset, types, python), sort_keys=False)
            )
            counts: dict[str, Counted] = {}
            for variant in args.variants:
                print(f"N={count}: counting run of {variant} (-vvv, untimed)", flush=True)
                counts[variant] = bench.counted(variant, inventory_path, names, python)
            check: dict[str, Any] = {}
            if "cri_facts" in counts:
                subset_types = {name: types[name] for name in names}
                check["cri_facts"] = check_cri_facts(counts["cri_facts"], subset_types)
            if "baseline" in counts and "cri_facts" in counts:
                roots = {name: hosts[name].path for name in names}
                check["baseline"] = check_baseline(counts["baseline"], counts["cri_facts"], roots)
            checks[str(count)] = check
            runs: list[Run] = []
            for repeat in range(args.repeat):
                for variant in args.variants:
                    run = bench.timed(variant, inventory_path, names)
                    runs.append(run)
                    print(
                        f"N={count} run {repeat + 1}/{args.repeat} {variant}:"
                        f" {run.wall_s:.2f} s (CPU {run.cpu_s:.1f} s,"
                        f" load before {run.load_before:.1f})",
                        flush=True,
                    )
            rows.extend(summarise(runs, counts, count))
        return {
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": ["benchmarks/assess_fleet.py", *argv],
            "machine": {
                "cpus": os.cpu_count(),
                "kernel": platform.release(),
                "controller_python": platform.python_version(),
                "ansible_core": _ansible_version(),
                "node_python": str(python),
            },
            "settings": {
                "forks": args.forks,
                "repeat": args.repeat,
                "pipelining": "ANSIBLE_PIPELINING=1"
                if args.pipelining
                else "ansible.cfg (pipelining only under [ssh_connection]: off for local)",
                "connection": "local",
            },
            "shared_runtimes": shared.describe(),
            "shared_runtime_roots": [str(root.path) for root in shared.roots],
            "work_dir": str(workdir),
            "node_types": [spec.name for spec in NODES],
            "tools": {
                "crictl": tools["crictl"],
                "crictl_build": go_tool_record("crictl"),
                "docker_cli": tools["docker"],
                "docker_cli_version": docker_build.upstream_version,
            },
            "capability_note": CAPABILITY_NOTE,
            "results": rows,
            "checks": checks,
            "elapsed_s": round(time.monotonic() - started, 1),
        }
    finally:
        shared.stop()
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def print_report(output: dict[str, Any]) -> None:
    print()
    print(table(output["results"]))
    print()
    for count, check in output["checks"].items():
        print(f"N={count}: {json.dumps(check)}")
    print(output["capability_note"])
    for row in output["results"]:
        if row["variant"] == "baseline":
            ratio = row["ratio_to_cri_facts"]
            verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
            print(
                f"N={row['hosts']}: baseline/cri_facts = {ratio:.2f}x"
                f" ({verdict} the {TARGET_RATIO:.0f}x goal)"
            )


def _ansible_version() -> str:
    completed = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    return completed.stdout.splitlines()[0] if completed.stdout else "unknown"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        sys.exit(130)
    except BenchmarkError as error:
        print(f"assess_fleet: {error}", file=sys.stderr)
        sys.exit(1)
