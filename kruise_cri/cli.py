"""The `kruise-cri` command: run the collection's playbooks with progress, and the built-in lab.

Exit codes of `kruise-cri assess`:
  0  every node is compatible with the target OpenKruise version
  2  at least one node is not compatible (the report says which and why)
  1  an error: bad input, the playbook failed, or a node could not be assessed
Exit codes of `kruise-cri pin | disable-daemon | drain | migrate`:
  0  the playbook succeeded (with --check: would succeed)
  1  it failed, or the input was refused
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from kruise_cri import COLLECTIONS_PATH
from kruise_cri.jobs import (
    JobInputError,
    add_job_parsers,
    disable_job,
    drain_job,
    migrate_job,
    pin_job,
    run_job,
)
from kruise_cri.lab.lab_dir import LabDirError, default_lab_dir

EXIT_COMPATIBLE = 0
EXIT_ERROR = 1
EXIT_INCOMPATIBLE = 2

VERSION_PATTERN = re.compile(r"^v?\d+\.\d+(\.\d+)?$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
COLLECTION_ROOT = Path(__file__).resolve().parent.parent


class UsageError(Exception):
    """Bad input: the message names the input and the fix."""


def collections_path() -> Path:
    """Folder holding ansible_collections/kruise_cri/remediation for this checkout or install."""
    if (
        COLLECTIONS_PATH / "ansible_collections" / "kruise_cri" / "remediation" / "galaxy.yml"
    ).exists():
        return COLLECTIONS_PATH
    raise UsageError(
        f"cannot find the kruise_cri.remediation collection beside {COLLECTION_ROOT}; "
        "run scripts/setup, then kruise-cri from the repository's .venv (see README)"
    )


def wants_colour(stream: TextIO) -> bool:
    """Colours only on a terminal, and not when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def ansible_environment(*, colour: bool) -> dict[str, str]:
    env = {
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path()),
        "ANSIBLE_CONFIG": str(COLLECTION_ROOT / "ansible.cfg"),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
    }
    if not colour:
        # ansible-runner gives ansible-playbook a terminal, so Ansible colours by default; and
        # ANSIBLE_FORCE_COLOR in the caller's environment would win over ANSIBLE_NOCOLOR.
        env["ANSIBLE_NOCOLOR"] = "1"
        env["ANSIBLE_FORCE_COLOR"] = "0"
    venv_bin = str(Path(sys.executable).parent)
    if venv_bin not in os.environ.get("PATH", "").split(os.pathsep):
        env["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
    return env


class Progress:
    """One line per node as it finishes, with a running count."""

    def __init__(self, stream: TextIO, total: int | None, target_line: str | None = None) -> None:
        self.stream = stream
        self.total = total
        self.target_line = target_line
        self.done = 0
        self.report_written = False
        self.summary_table = ""

    def __call__(self, event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data", {})
        task = data.get("task", "")
        host = data.get("host", "")
        if kind == "runner_on_ok" and data.get("task_action", "").endswith("cri_report"):
            self.report_written = True
            self.summary_table = str((data.get("res") or {}).get("summary_table") or "")
        if kind == "playbook_on_task_start" and task:
            self.stream.write(f"- {task}\n")
        elif kind in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable") and (
            data.get("task_action", "").endswith("cri_facts")
        ):
            self.done += 1
            count = f"[{self.done}/{self.total}]" if self.total else f"[{self.done}]"
            description = describe_node_event(kind, data, self.target_line)
            self.stream.write(f"  {count} {host}: {description}\n")
        self.stream.flush()
        return True


def describe_node_event(kind: str, data: dict[str, Any], target_line: str | None = None) -> str:
    result = data.get("res", {}) or {}
    if kind == "runner_on_unreachable":
        return "UNREACHABLE " + str(result.get("msg", "")).strip()[:200]
    if kind == "runner_on_failed":
        if "future feature annotations" in str(result.get("module_stderr", "")):
            return (
                "FAILED the node's Python is older than 3.7, which ansible-core 2.17+ cannot "
                "manage: assess it with .venv-core2.16/bin/kruise-cri"
            )
        return "FAILED " + str(result.get("msg", "")).strip()[:200]
    facts = (result.get("ansible_facts") or {}).get("kruise_cri") or {}
    runtimes = ", ".join(
        f"{endpoint.get('runtime_name')} {endpoint.get('runtime_version')}"
        for endpoint in facts.get("endpoints", [])
        if endpoint.get("runtime_name")
    )
    description = runtimes or "no CRI runtime answered"
    verdict = (facts.get("kruise_daemon") or {}).get(target_line or "")
    if verdict:
        word = "compatible" if verdict.get("compatible") else "NOT compatible"
        description += f" -> kruise-daemon {target_line}: {word}"
    return description


def run_playbook(
    playbook: str,
    inventory: str,
    extravars: dict[str, Any],
    *,
    total_nodes: int | None,
    target_line: str | None = None,
    stream: TextIO,
    verbosity: int = 0,
) -> tuple[str, int, bool]:
    """Returns the runner status, ansible-playbook's exit code and whether the report was written
    (ansible-playbook exits non-zero when a node is unreachable, yet the report covers it)."""
    import ansible_runner

    colour = wants_colour(stream)
    with tempfile.TemporaryDirectory(prefix="kruise-cri-run-") as private_dir:
        progress = Progress(stream, total_nodes, target_line)
        runner = ansible_runner.run(
            private_data_dir=private_dir,
            playbook=playbook,
            inventory=inventory,
            extravars=extravars,
            envvars=ansible_environment(colour=colour),
            event_handler=progress,
            quiet=True,
            verbosity=verbosity,
        )
        if runner.rc != 0 and not progress.report_written:
            for event in runner.events:
                if event.get("event") in ("runner_on_failed", "error") or (
                    event.get("event") == "verbose" and "ERROR" in event.get("stdout", "")
                ):
                    text = event.get("stdout", "").strip()
                    if not colour:
                        text = ANSI_ESCAPE.sub("", text)
                    if text:
                        stream.write(text + "\n")
        if progress.summary_table:
            stream.write("\n" + progress.summary_table.rstrip() + "\n")
        return runner.status, runner.rc, progress.report_written


def count_nodes(inventory: str, group: str) -> int | None:
    """How many hosts the playbook will assess, for the [n/total] progress counter. Silent: what
    Ansible would warn about here (a group that matches nothing, an inventory it cannot parse) the
    playbook reports itself, without this process's colours."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            from ansible.inventory.manager import InventoryManager
            from ansible.parsing.dataloader import DataLoader

            manager = InventoryManager(loader=DataLoader(), sources=[inventory])
            return len(manager.get_hosts(group)) or None
    except Exception:  # progress without a total is fine; the playbook reports the error
        return None


def inventory_argument(value: str) -> str:
    """An inventory file or directory made absolute (ansible-runner runs ansible-playbook from a
    private folder, where a relative path finds nothing), or a host list ``host1,host2,`` as is."""
    if os.path.exists(value):
        return os.path.abspath(value)
    if "," in value:
        return value
    raise UsageError(f"inventory {value} does not exist; give a file, a directory or host1,host2,")


def report_dir_argument(value: str) -> Path:
    """``--report-dir`` made absolute without following a symlink: the report is written only into
    a real directory, never through a link (which could make root create or fill its target)."""
    report_dir = Path(os.path.abspath(value))
    if report_dir.is_symlink():
        raise UsageError(
            f"--report-dir {value} is a symlink (to {os.readlink(report_dir)}); the report is "
            "written only into a real directory, not through a link: give the directory itself, "
            f"or remove the link (rm {report_dir}) to have kruise-cri create the directory"
        )
    if report_dir.exists() and not report_dir.is_dir():
        raise UsageError(
            f"--report-dir {value} exists and is not a directory; give a directory "
            "(kruise-cri creates it when missing)"
        )
    return report_dir


def parse_version(value: str) -> str:
    if not VERSION_PATTERN.match(value):
        raise UsageError(
            f"--kruise-version {value!r} is not a version; give X.Y or X.Y.Z, e.g. 1.6.0"
        )
    return value.lstrip("v")


def command_assess(args: argparse.Namespace, stream: TextIO) -> int:
    kruise_version = parse_version(args.kruise_version)
    report_dir = report_dir_argument(args.report_dir)
    lab = None
    inventory = args.inventory
    kubeconfig = args.kubeconfig
    if args.context and not kubeconfig and not args.lab:
        kubeconfig = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    if args.lab:
        if inventory:
            raise UsageError("give either -i INVENTORY or --lab, not both")
        from kruise_cri.lab.fleet import LabFleet

        lab = LabFleet.ensure_up(Path(args.lab_dir), stream=stream)
        inventory = str(lab.inventory_path)
        kubeconfig = kubeconfig or str(lab.kubeconfig_path)
    if not inventory:
        raise UsageError("give an inventory with -i INVENTORY, or --lab for the built-in lab")
    inventory = inventory_argument(inventory)
    extravars: dict[str, Any] = {
        "kruise_cri_target_version": kruise_version,
        "kruise_cri_report_dir": str(report_dir),
    }
    if args.group:
        extravars["kruise_cri_nodes_group"] = args.group
    if kubeconfig:
        if not os.path.isfile(kubeconfig):
            raise UsageError(
                f"kubeconfig {kubeconfig} is not a file; give the cluster's kubeconfig"
            )
        extravars["kruise_cri_kubeconfig"] = os.path.abspath(kubeconfig)
        if args.context:
            extravars["kruise_cri_context"] = args.context
    if args.probe_timeout is not None:
        extravars["kruise_cri_probe_timeout"] = args.probe_timeout
    stream.write(f"Assessing nodes for OpenKruise {kruise_version} (inventory {inventory})\n")
    try:
        status, rc, report_written = run_playbook(
            "kruise_cri.remediation.assess",
            inventory,
            extravars,
            total_nodes=count_nodes(inventory, args.group or "kube_nodes"),
            target_line=".".join(kruise_version.split(".")[:2]),
            stream=stream,
            verbosity=args.verbose,
        )
    finally:
        if lab is not None and lab.started_here and not args.keep_lab:
            lab.down(stream=stream)
    report_json = report_dir / "report.json"
    if not report_written or not report_json.exists():
        stream.write(f"The assessment failed ({status}, exit code {rc}).\n")
        return EXIT_ERROR
    report = json.loads(report_json.read_text())
    summary = report["summary"]
    stream.write(
        f"\n{summary['nodes']} nodes: {summary['compatible']} compatible, "
        f"{summary['incompatible']} not compatible, {summary['unknown']} not assessed "
        f"(OpenKruise {report['target']['kruise_version']})\n"
        + describe_recommendation(report)
        + f"Report: {report_dir / 'report.html'}\n        {report_dir / 'report.md'}\n"
        f"        {report_json}\n"
    )
    if summary["incompatible"]:
        return EXIT_INCOMPATIBLE
    if summary["unknown"]:
        return EXIT_ERROR
    return EXIT_COMPATIBLE


def _terminal_text(value: object) -> str:
    """One line without control characters: the plan carries text from nodes and the cluster."""
    return CONTROL_CHARACTERS.sub("", str(value).replace("\n", " "))


def describe_recommendation(report: dict[str, Any]) -> str:
    """The plan's recommendation: its title and risk, its summary and the commands to run."""
    plan = report.get("plan")
    recommendation = plan.get("recommendation") if isinstance(plan, dict) else None
    if not isinstance(recommendation, dict):
        return ""
    risk = (recommendation.get("risk") or {}).get("level") or "unknown"
    lines = [
        f"Recommendation: {recommendation.get('title') or recommendation.get('path')} (risk {risk})"
    ]
    if recommendation.get("summary"):
        lines.append(f"  {recommendation['summary']}")
    commands = [str(command) for command in recommendation.get("commands") or []]
    for index, command in enumerate(commands, 1):
        lines.append(f"  {index}. {command}" if len(commands) > 1 else f"  {command}")
    if recommendation.get("not_shipped"):
        lines.append(
            "  Not shipped in this collection yet: "
            + ", ".join(str(name) for name in recommendation["not_shipped"])
            + "; the report has the manual steps"
        )
    elif not commands:
        lines.append(
            "  No playbook applies: the report has the manual steps"
            if recommendation.get("manual_steps")
            else "  Nothing to run."
        )
    return "".join(_terminal_text(line) + "\n" for line in lines)


JOBS = ("pin", "disable-daemon", "drain", "migrate")


def command_job(args: argparse.Namespace, stream: TextIO) -> int:
    """pin, disable-daemon, drain or migrate: its playbook through ansible-runner."""
    if args.command == "pin":
        job = pin_job(args)
    elif args.command == "disable-daemon":
        job = disable_job(args)
    elif args.command == "drain":
        job = drain_job(args)
    else:
        job = migrate_job(args, inventory_argument(args.inventory))
    return run_job(
        job,
        check=args.check,
        diff=args.diff,
        json_output=args.json,
        stream=stream,
        environment=ansible_environment(colour=wants_colour(stream) and not args.json),
        verbosity=args.verbose,
    )


def command_lab(args: argparse.Namespace, stream: TextIO) -> int:
    from kruise_cri.lab.fleet import LabFleet
    from kruise_cri.lab.kubernetes_build import ensure_kubernetes_binary

    lab_dir = Path(args.lab_dir)
    if args.lab_command == "up":
        from kruise_cri.lab.real_nodes import parse_kinds

        try:
            kinds = parse_kinds(args.nodes) if args.nodes else []
        except ValueError as error:
            stream.write(f"--nodes: {error}\n")
            return 2
        lab = LabFleet.ensure_up(lab_dir, stream=stream, real_nodes=kinds)
        stream.write(
            f"Lab is up: {lab.node_count} nodes and a Kubernetes {lab.kubernetes_version} "
            "cluster.\n"
            f"Inventory:  {lab.inventory_path}\n"
            f"Kubeconfig: {lab.kubeconfig_path}\n"
            f"Assess it:  kruise-cri assess --lab\n"
            f"            kruise-cri assess -i {lab.inventory_path}"
            f" --kubeconfig {lab.kubeconfig_path}\n"
            f"Use it:     export KUBECONFIG={lab.kubeconfig_path}  (kubectl, helm, Ansible)\n"
            f"            kubectl: {ensure_kubernetes_binary('kubectl')}\n"
            + (
                f"Pin chart:  {lab.pin_chart}  (pin_kruise: -e kruise_cri_chart_ref=...)\n"
                if lab.pin_chart
                else ""
            )
            + "Stop it:    kruise-cri lab down\n"
        )
        return 0
    if args.lab_command == "prepare":
        from kruise_cri.lab.fleet import prepare, prepare_cluster
        from kruise_cri.lab.openkruise_build import prepare_openkruise
        from kruise_cri.lab.real_nodes import REAL_NODE_KINDS, prepare_real_nodes

        prepare(stream=stream)
        stream.write("Lab builds are ready:\n")
        for name, path in prepare_cluster().items():  # cached by now: no work, just the paths
            stream.write(f"  {name:<24} {path}\n")
        stream.write(
            "Building OpenKruise's kruise-daemon (1.5.5, 1.6.0) if not cached: minutes, once\n"
        )
        stream.flush()
        for name, path in prepare_openkruise().items():
            stream.write(f"  {name:<24} {path}\n")
        prepare_real_nodes(REAL_NODE_KINDS, stream=stream)
        return 0
    if args.lab_command == "down":
        LabFleet.stop_dir(lab_dir, stream=stream)
        return 0
    status = LabFleet.status(lab_dir)
    stream.write(json.dumps(status, indent=2) + "\n")
    return 0 if status.get("up") else 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kruise-cri",
        description="Find out why kruise-daemon breaks on your nodes and which way out fits.",
        epilog=__doc__.split("\n", 2)[2] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    lab_dir_default = str(default_lab_dir())

    assess = commands.add_parser("assess", help="assess every node and write the report")
    assess.add_argument("-i", "--inventory", help="Ansible inventory (nodes in group kube_nodes)")
    assess.add_argument(
        "--lab", action="store_true", help="assess the built-in lab (started if needed)"
    )
    assess.add_argument(
        "--keep-lab", action="store_true", help="leave a lab started by --lab running"
    )
    assess.add_argument(
        "--lab-dir",
        default=lab_dir_default,
        help="where the lab lives, private to you (%(default)s)",
    )
    assess.add_argument(
        "--kruise-version", default="1.6.0", help="target OpenKruise version (%(default)s)"
    )
    assess.add_argument(
        "--report-dir", default="kruise-cri-report", help="report folder (%(default)s)"
    )
    assess.add_argument("--group", help="inventory group of the nodes (default kube_nodes)")
    assess.add_argument(
        "--kubeconfig",
        help="also read the cluster (OpenKruise install, daemon health, feature use) and plan"
        " the way out; --lab uses the lab's cluster",
    )
    assess.add_argument("--context", help="kubeconfig context (default: its current context)")
    assess.add_argument("--probe-timeout", type=float, help="seconds per socket probe (default 2)")
    assess.add_argument("-v", "--verbose", action="count", default=0)

    add_job_parsers(commands)

    lab = commands.add_parser(
        "lab", help="the built-in lab: nodes with real runtimes on this machine"
    )
    lab.add_argument(
        "lab_command",
        choices=["up", "down", "status", "prepare"],
        help="prepare: fetch and build what the lab needs, start nothing",
    )
    lab.add_argument(
        "--nodes",
        metavar="KINDS",
        help="up: also boot real systemd nodes (systemd-nspawn, reached over SSH): all, or a "
        "comma-separated list of docker-dockershim, containerd-1-4, containerd-1-7, "
        "docker-cri-off",
    )
    lab.add_argument(
        "--lab-dir",
        default=lab_dir_default,
        help="where the lab lives, private to you (%(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None, stream: TextIO | None = None) -> int:
    stream = stream or sys.stdout
    args = build_parser().parse_args(argv)
    try:
        if args.command == "assess":
            return command_assess(args, stream)
        if args.command in JOBS:
            return command_job(args, stream)
        return command_lab(args, stream)
    except (UsageError, LabDirError, JobInputError) as error:
        sys.stderr.write(f"kruise-cri: {error}\n")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
