"""kruise_cri.remediation.remediate, the job after an AWX workflow's approval: it runs the path in
the assessment's kruise_cri_next_job, on the nodes that plan names, and refuses without one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from kruise_cri.lab.controlplane import ControlPlane
from tests.integration.ansible_run import VENV_BIN, ansible_env
from tests.integration.remediation_helpers import flat


def remediate(
    inventory: Path, variables: dict[str, Any], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "kruise_cri.remediation.remediate",
            "-i",
            str(inventory),
            "-e",
            json.dumps(variables),
            *args,
        ],
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "hosts.yml"
    hosts = {name: {"ansible_host": "192.0.2.1"} for name in ("node-1", "node-2", "node-3")}
    path.write_text(yaml.safe_dump({"all": {"children": {"kube_nodes": {"hosts": hosts}}}}))
    return path


def test_the_migration_runs_on_the_nodes_the_plan_names(tmp_path: Path) -> None:
    next_job = {
        "path": "migrate_runtime",
        "playbook": "kruise_cri.remediation.migrate_runtime",
        "limit": ["node-1", "node-3"],
        "extra_vars": {},
    }
    listed = remediate(inventory(tmp_path), {"kruise_cri_next_job": next_job}, "--list-hosts")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    plays = listed.stdout.split("play #")[1:]
    migration = [play for play in plays if "node by node" in play]
    assert migration and all("node-1" in play and "node-3" in play for play in migration)
    assert not any("node-2" in play for play in plays)


def test_without_a_recommendation_nothing_runs(tmp_path: Path) -> None:
    for variables in (
        {},
        {"kruise_cri_next_job": None},
        {"kruise_cri_next_job": {"path": "reboot"}},
    ):
        refused = remediate(inventory(tmp_path), variables)
        assert refused.returncode != 0
        text = flat(refused)
        assert "give the assessment's recommendation" in text, text[-2000:]
        assert "Nothing was changed" in text


def test_the_recommended_path_is_the_one_that_runs(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """disable_daemon on a cluster without OpenKruise: the daemon gate's own pre-flight refuses,
    and the pin's tasks never run."""
    next_job = {"path": "disable_daemon", "playbook": "x", "limit": [], "extra_vars": {}}
    completed = remediate(
        inventory(tmp_path),
        {"kruise_cri_next_job": next_job, "kruise_cri_kubeconfig": str(control_plane.kubeconfig)},
        "--check",
    )
    assert completed.returncode != 0
    recap = completed.stdout.split("PLAY [Disable (or enable again) kruise-daemon]")
    assert len(recap) == 2, completed.stdout[-3000:]
    before, after = recap
    assert "fatal:" not in before and "ok: [localhost]" not in before.split("PLAY [Pin")[-1]
    assert "fatal: [localhost]" in after
