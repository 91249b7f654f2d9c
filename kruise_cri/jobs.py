"""`kruise-cri pin | disable-daemon | drain | migrate`: the collection's remediation playbooks run
through ansible-runner, as AWX runs them, with per-host progress and a JSON summary.

Exit codes: 0 the playbook succeeded (in check mode: would succeed), 1 it failed or the input
was refused (the message says which and why).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import yaml

EXIT_OK = 0
EXIT_FAILED = 1
COLLECTION = "kruise_cri.remediation"
# Tasks whose per-host lines would only repeat what the task name says.
QUIET_ACTIONS = frozenset(
    {"ansible.builtin.set_fact", "set_fact", "ansible.builtin.debug", "debug"}
)


class JobInputError(Exception):
    """Bad input for a job: the message names the input and the fix."""


@dataclass(frozen=True)
class Job:
    """One run of a playbook: the playbook, its inventory (None: the implicit localhost, which
    runs the cluster modules on this Python), --limit, and its extra vars."""

    playbook: str
    extravars: dict[str, Any]
    inventory: str | None = None
    limit: str | None = None
    cmdline: tuple[str, ...] = field(default=())

    @property
    def fqcn(self) -> str:
        return f"{COLLECTION}.{self.playbook}"


def extra_vars(values: list[str] | None) -> dict[str, Any]:
    """``-e KEY=VALUE`` (a string) or ``-e '{"key": ...}'`` (a JSON object), in order."""
    merged: dict[str, Any] = {}
    for value in values or []:
        text = value.strip()
        if text.startswith("{"):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as error:
                raise JobInputError(f"-e {value!r} is not a JSON object: {error}") from error
            if not isinstance(parsed, dict):
                raise JobInputError(f"-e {value!r} is not a JSON object")
            merged.update(parsed)
            continue
        key, equals, rest = text.partition("=")
        if not equals or not key.isidentifier():
            raise JobInputError(
                f"-e {value!r} is not KEY=VALUE or a JSON object: give e.g. -e kruise_cri_force=true"
            )
        merged[key] = rest
    return merged


def cluster_vars(args: argparse.Namespace) -> dict[str, Any]:
    """The cluster connection: --kubeconfig (absolute) and --context; with neither, the
    modules read $KUBECONFIG or ~/.kube/config, or the K8S_AUTH_* variables."""
    found: dict[str, Any] = {}
    if args.kubeconfig:
        if not os.path.isfile(args.kubeconfig):
            raise JobInputError(
                f"--kubeconfig {args.kubeconfig} is not a file; give the cluster's kubeconfig"
            )
        found["kruise_cri_kubeconfig"] = os.path.abspath(args.kubeconfig)
    if args.context:
        found["kruise_cri_context"] = args.context
    return found


def helm_vars(args: argparse.Namespace) -> dict[str, Any]:
    names = {
        "helm_release": "kruise_cri_helm_release",
        "helm_namespace": "kruise_cri_helm_namespace",
        "chart_ref": "kruise_cri_chart_ref",
    }
    found = {
        variable: getattr(args, option)
        for option, variable in names.items()
        if getattr(args, option)
    }
    if args.force:
        found["kruise_cri_force"] = True
    return found


def pin_job(args: argparse.Namespace) -> Job:
    version = args.version.lstrip("v")
    if not version.startswith("1.5."):
        raise JobInputError(
            f"--version {args.version} is not a 1.5.x release; the 1.5 line is the only one whose "
            "kruise-daemon speaks CRI v1alpha2 and v1: give e.g. --version 1.5.5"
        )
    extravars = {"kruise_cri_target_version": version, **cluster_vars(args), **helm_vars(args)}
    if args.undo:
        extravars["kruise_cri_pin_action"] = "unpin"
    return Job("pin_kruise", {**extravars, **extra_vars(args.extra_vars)})


def disable_job(args: argparse.Namespace) -> Job:
    extravars = {
        "kruise_cri_direction": "enable" if args.enable else "disable",
        **cluster_vars(args),
        **helm_vars(args),
    }
    return Job("disable_kruise_daemon", {**extravars, **extra_vars(args.extra_vars)})


def drain_job(args: argparse.Namespace) -> Job:
    state = "uncordon" if args.uncordon else "cordon" if args.cordon_only else "drain"
    extravars: dict[str, Any] = {"kruise_cri_node": args.node, "kruise_cri_drain_state": state}
    if args.timeout is not None:
        if args.timeout < 1:
            raise JobInputError(f"--timeout {args.timeout} must be 1 second or more")
        extravars["kruise_cri_drain_timeout"] = args.timeout
    if args.force:
        extravars["kruise_cri_force"] = True
    if args.delete_emptydir_data:
        extravars["kruise_cri_delete_emptydir_data"] = True
    extravars.update(cluster_vars(args))
    return Job("drain_node", {**extravars, **extra_vars(args.extra_vars)})


def migrate_job(args: argparse.Namespace, inventory: str) -> Job:
    extravars: dict[str, Any] = {"kruise_cri_migrate_images": args.images, **cluster_vars(args)}
    if args.containerd_archive:
        archive = os.path.abspath(args.containerd_archive)
        if not os.path.isfile(archive):
            raise JobInputError(
                f"--containerd-archive {args.containerd_archive} is not a file; give a release "
                "archive of containerd 1.6 or newer (containerd-X.Y.Z-linux-ARCH.tar.gz)"
            )
        extravars["kruise_cri_containerd_archive"] = archive
    if args.remove_docker:
        extravars["kruise_cri_remove_docker"] = True
    if args.serial is not None:
        if args.serial < 1:
            raise JobInputError(f"--serial {args.serial} must be 1 or more")
        extravars["kruise_cri_serial"] = args.serial
    if args.group:
        extravars["kruise_cri_nodes_group"] = args.group
    return Job(
        "migrate_runtime",
        {**extravars, **extra_vars(args.extra_vars)},
        inventory=inventory,
        limit=args.limit,
    )


class JobProgress:
    """Each task as it starts, then one line per host it ran on: ok, changed, FAILED or
    UNREACHABLE with the message; the failures kept for the summary."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self.failures: list[dict[str, str]] = []
        self.artifacts: dict[str, Any] = {}
        self.task = ""

    def write(self, line: str) -> None:
        if self.stream is not None:
            self.stream.write(line + "\n")
            self.stream.flush()

    def __call__(self, event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind == "playbook_on_task_start" and data.get("task"):
            self.task = str(data["task"])
            self.write(f"- {self.task}")
        elif kind in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable"):
            result = data.get("res") or {}
            host = str(data.get("host", ""))
            if kind == "runner_on_ok":
                if data.get("task_action") in QUIET_ACTIONS:
                    return True
                self.write(f"  {host}: {'changed' if result.get('changed') else 'ok'}")
                return True
            if kind == "runner_on_failed" and data.get("ignore_errors"):
                return True
            message = " ".join(str(result.get("msg") or result.get("stderr") or "").split())
            word = "FAILED" if kind == "runner_on_failed" else "UNREACHABLE"
            self.failures.append({"host": host, "task": self.task, "msg": message})
            self.write(f"  {host}: {word} {message[:400]}")
        elif kind == "playbook_on_stats":
            self.artifacts = dict(data.get("artifact_data") or {})
        return True


def run_job(
    job: Job,
    *,
    check: bool,
    diff: bool,
    json_output: bool,
    stream: TextIO,
    environment: Mapping[str, str],
    verbosity: int = 0,
) -> int:
    """Run ``job`` with ansible-runner in a private data directory (the inventory and extra vars
    as files, 0600, as AWX writes them); progress on ``stream``, or one JSON document with
    ``json_output``."""
    import ansible_runner

    progress = JobProgress(None if json_output else stream)
    cmdline = [*job.cmdline, *(["--check"] if check else []), *(["--diff"] if diff else [])]
    if not json_output:
        mode = " (check mode: nothing changes)" if check else ""
        stream.write(f"Running {job.fqcn}{mode}\n")
    with tempfile.TemporaryDirectory(prefix="kruise-cri-job-") as private_dir:
        env_dir = os.path.join(private_dir, "env")
        os.makedirs(env_dir, mode=0o700)
        # Extra vars may hold a token or a path to one: a file only this user reads.
        extravars_path = os.path.join(env_dir, "extravars")
        with open(os.open(extravars_path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
            yaml.safe_dump(job.extravars, handle)
        runner = ansible_runner.run(
            private_data_dir=private_dir,
            playbook=job.fqcn,
            inventory=job.inventory,
            limit=job.limit,
            cmdline=" ".join(cmdline) or None,
            envvars=dict(environment),
            event_handler=progress,
            quiet=True,
            verbosity=verbosity,
        )
        stats = runner.stats or {}
    hosts = host_summary(stats)
    status = "successful" if runner.rc == 0 else "failed"
    if json_output:
        stream.write(
            json.dumps(
                {
                    "playbook": job.fqcn,
                    "check": check,
                    "status": status,
                    "rc": runner.rc,
                    "hosts": hosts,
                    "failures": progress.failures,
                    "artifacts": progress.artifacts,
                },
                indent=2,
            )
            + "\n"
        )
    else:
        stream.write("\n")
        for host, counts in hosts.items():
            stream.write(
                f"{host}: ok={counts['ok']} changed={counts['changed']} failed={counts['failed']} "
                f"unreachable={counts['unreachable']} skipped={counts['skipped']}\n"
            )
        if runner.rc != 0 and not progress.failures:
            stream.write(f"The playbook failed (exit code {runner.rc}); run with -v for details.\n")
        stream.write(f"{job.fqcn}: {status}{' (check mode)' if check else ''}\n")
    return EXIT_OK if runner.rc == 0 else EXIT_FAILED


def host_summary(stats: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    """ansible-runner's stats (counts by kind, then host) as counts by host."""
    kinds = {
        "ok": "ok",
        "changed": "changed",
        "failures": "failed",
        "dark": "unreachable",
        "skipped": "skipped",
    }
    hosts: dict[str, dict[str, int]] = {}
    for kind, name in kinds.items():
        for host, count in (stats.get(kind) or {}).items():
            hosts.setdefault(host, dict.fromkeys(kinds.values(), 0))[name] = int(count)
    return dict(sorted(hosts.items()))


def add_job_parsers(commands: argparse._SubParsersAction) -> None:
    """The subcommands pin, disable-daemon, drain and migrate."""

    def common(parser: argparse.ArgumentParser, *, cluster_required: bool = False) -> None:
        parser.add_argument(
            "--kubeconfig",
            required=cluster_required,
            help="the cluster's kubeconfig (default: $KUBECONFIG, ~/.kube/config, or the "
            "K8S_AUTH_* variables)",
        )
        parser.add_argument("--context", help="kubeconfig context (default: its current context)")
        parser.add_argument(
            "--check", action="store_true", help="show what would change; change nothing"
        )
        parser.add_argument("--diff", action="store_true", help="show each change's difference")
        parser.add_argument(
            "--json", action="store_true", help="print one JSON document, no progress"
        )
        parser.add_argument(
            "-e",
            "--extra-vars",
            action="append",
            metavar="KEY=VALUE",
            help="more playbook variables (repeatable; or a JSON object)",
        )
        parser.add_argument("-v", "--verbose", action="count", default=0)

    def helm(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--helm-release", help="the Helm release (default: found in the cluster)"
        )
        parser.add_argument("--helm-namespace", help="the release's namespace")
        parser.add_argument("--chart-ref", help="the chart to upgrade with (a path or repo/chart)")
        parser.add_argument(
            "--force", action="store_true", help="go on although daemon features are in use"
        )

    pin = commands.add_parser("pin", help="pin OpenKruise to a 1.5.x release (pin_kruise)")
    pin.add_argument("--version", default="1.5.5", help="the 1.5.x release (%(default)s)")
    pin.add_argument(
        "--undo",
        action="store_true",
        help="undo the newest pin, back to what its record holds (--force: even on nodes that "
        "may serve only CRI v1alpha2)",
    )
    helm(pin)
    common(pin)
    disable = commands.add_parser(
        "disable-daemon", help="turn kruise-daemon off, or on again (disable_kruise_daemon)"
    )
    disable.add_argument("--enable", action="store_true", help="enable it again, as it was")
    helm(disable)
    common(disable)
    drain = commands.add_parser("drain", help="drain, cordon or uncordon a node (drain_node)")
    drain.add_argument("node", help="the node's name")
    what = drain.add_mutually_exclusive_group()
    what.add_argument("--cordon-only", action="store_true", help="cordon it, evict nothing")
    what.add_argument("--uncordon", action="store_true", help="make it schedulable again")
    drain.add_argument("--timeout", type=int, help="seconds the evictions may take (300)")
    drain.add_argument("--force", action="store_true", help="evict pods no controller manages")
    drain.add_argument(
        "--delete-emptydir-data", action="store_true", help="evict pods with emptyDir volumes"
    )
    common(drain)
    migrate = commands.add_parser(
        "migrate", help="move nodes to a containerd that serves CRI v1 (migrate_runtime)"
    )
    migrate.add_argument("-i", "--inventory", required=True, help="Ansible inventory of the nodes")
    migrate.add_argument("--limit", help="only these nodes (Ansible's --limit)")
    migrate.add_argument("--group", help="inventory group of the nodes (default kube_nodes)")
    migrate.add_argument(
        "--containerd-archive",
        help="release archive of containerd 1.6+ to upgrade containerd 1.5 or older from",
    )
    migrate.add_argument(
        "--images", choices=["pull", "carry"], default="pull", help="Docker's images (%(default)s)"
    )
    migrate.add_argument(
        "--remove-docker", action="store_true", help="remove Docker's packages after"
    )
    migrate.add_argument("--serial", type=int, help="nodes migrated at a time (1)")
    common(migrate)
