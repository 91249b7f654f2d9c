"""Jobs run as AWX runs them: ansible-runner in a private data directory holding awx/project,
the inventory and the survey's answers as files, the Kubernetes credential as the K8S_AUTH_*
variables AWX injects (a service-account token), no kubeconfig anywhere, the tools of the
execution environment on PATH; results read from the job's events."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from kruise_cri.lab.controlplane import ControlPlane
from tests.integration.ansible_run import REPO_ROOT, ansible_env_without_cluster


def job_template(name: str) -> dict[str, Any]:
    (template,) = [
        template
        for template in json.loads((REPO_ROOT / "awx" / "kruise-cri.json").read_text())[
            "job_templates"
        ]
        if template["name"] == name
    ]
    return template


def survey_defaults(template_name: str) -> dict[str, Any]:
    """What AWX sends when the template's survey is submitted as it opens."""
    template = job_template(template_name)
    return {
        question["variable"]: question["default"]
        for question in template["related"]["survey_spec"]["spec"]
        if question.get("default", "") != ""
    }


def launch(
    template_name: str,
    plane: ControlPlane,
    token: str,
    directory: Path,
    answers: Mapping[str, Any],
    *,
    tools: Sequence[Path] = (),
) -> Any:
    """The job template ``template_name`` launched with its survey's defaults and ``answers``,
    in a private data directory of its own under ``directory`` (a job's container: nothing of
    an earlier job's is there). ``tools``: folders of the execution environment's binaries."""
    template = job_template(template_name)
    private = directory / f"job-{len(list(directory.glob('job-*'))) + 1}"
    shutil.copytree(REPO_ROOT / "awx" / "project", private / "project")
    (private / "inventory").mkdir()
    (private / "inventory" / "hosts").write_text("[kube_nodes]\n")  # the cluster jobs need no node
    (private / "env").mkdir()
    extravars = {**survey_defaults(template_name), **answers}
    (private / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    home = private / "home"  # no ~/.kube/config
    home.mkdir()
    write_job_environment(private, plane, token, home, tools)
    return run_job(private, template["playbook"])


def write_job_environment(
    private: Path, plane: ControlPlane, token: str, home: Path, tools: Sequence[Path] = ()
) -> None:
    """env/envvars (0600) of the private data directory ``private``: the variables AWX's
    Kubernetes credential injects, with ``token``, and the execution environment's PATH."""
    environment = ansible_env_without_cluster()
    envvars = private / "env" / "envvars"
    envvars.write_text(
        yaml.safe_dump(
            {
                "HOME": str(home),
                "PATH": os.pathsep.join([*map(str, tools), environment["PATH"]]),
                "ANSIBLE_COLLECTIONS_PATH": environment["ANSIBLE_COLLECTIONS_PATH"],
                "ANSIBLE_CONFIG": environment["ANSIBLE_CONFIG"],
                "K8S_AUTH_HOST": plane.server,
                "K8S_AUTH_API_KEY": token,
                "K8S_AUTH_VERIFY_SSL": "True",
                "K8S_AUTH_SSL_CA_CERT": str(plane.kubeconfig.parent / "pki" / "ca.crt"),
            }
        )
    )
    envvars.chmod(0o600)


def run_job(private: Path, playbook: str) -> Any:
    """ansible-runner on the private data directory ``private``, with no KUBECONFIG of the
    test process's leaking into the job."""
    import ansible_runner

    saved = {key: os.environ.pop(key) for key in ("KUBECONFIG",) if key in os.environ}
    try:
        return ansible_runner.run(
            private_data_dir=str(private), playbook=playbook, quiet=True, timeout=600
        )
    finally:
        os.environ.update(saved)


def artifacts(runner: Any) -> dict[str, Any]:
    """The job's set_stats artifacts, as AWX passes them to the workflow's next jobs."""
    stats = [event for event in runner.events if event["event"] == "playbook_on_stats"]
    return stats[-1]["event_data"].get("artifact_data") or {}


def failure_messages(runner: Any) -> list[str]:
    return [
        " ".join(str(event["event_data"]["res"].get("msg")).split())
        for event in runner.events
        if event["event"] == "runner_on_failed" and not event["event_data"].get("ignore_errors")
    ]


def output(runner: Any) -> str:
    return runner.stdout.read()[-4000:]
