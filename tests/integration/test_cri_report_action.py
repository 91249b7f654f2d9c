"""cri_report action plugin, run for real by ansible-playbook on the controller (localhost)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.plan import (
    build_plan,
)

from tests.integration.ansible_run import ansible_env
from tests.unit.cri_report_fixtures import cluster_facts, mixed_fleet

ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


def run_play(tmp_path: Path, task_args: dict[str, Any], *flags: str) -> dict[str, Any]:
    """Runs one cri_report task and returns its registered result."""
    out = tmp_path / f"result-{len(list(tmp_path.glob('result-*')))}.json"
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "report",
                    "kruise_cri.remediation.cri_report": task_args,
                    "register": "result",
                    "ignore_errors": True,
                },
                {
                    "name": "save",
                    "ansible.builtin.copy": {
                        "content": "{{ result | to_json }}",
                        "dest": str(out),
                    },
                    "check_mode": False,
                    "diff": False,
                },
            ],
        }
    ]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play))
    env = {
        **ansible_env(),
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
    }
    proc = subprocess.run(
        [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            str(playbook),
            *flags,
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    result["_stdout"] = proc.stdout
    return result


@pytest.fixture
def fleet_args(tmp_path: Path) -> dict[str, Any]:
    hosts, unreachable = mixed_fleet()
    return {
        "facts": hosts,
        "unreachable": unreachable,
        "report_dir": str(tmp_path / "reports" / "fleet"),
    }


def snapshot(directory: Path) -> dict[str, tuple[str, int, int]]:
    return {
        p.name: (p.read_text(), stat.S_IMODE(p.stat().st_mode), p.stat().st_mtime_ns)
        for p in sorted(directory.iterdir())
    }


def test_writes_then_idempotent(tmp_path: Path, fleet_args: dict[str, Any]) -> None:
    report_dir = Path(fleet_args["report_dir"])
    first = run_play(tmp_path, fleet_args)
    assert first["changed"] is True, first
    assert stat.S_IMODE(report_dir.stat().st_mode) == 0o750
    files = snapshot(report_dir)
    assert sorted(files) == ["report.html", "report.json", "report.md"]  # no temp files left
    assert {mode for _text, mode, _mtime in files.values()} == {0o640}
    on_disk = json.loads(files["report.json"][0])
    assert on_disk == first["report"]
    assert first["stats"]["incompatible_hosts"] == [
        "node-ctd14",
        "node-docker-cri-ctd",
        "node-dockershim",
    ]
    assert first["paths"]["html"] == str(report_dir / "report.html")
    assert first["summary_table"].splitlines()[0].startswith("HOST")

    second = run_play(tmp_path, fleet_args)
    assert second["changed"] is False
    assert second["report"]["generated_at"] == on_disk["generated_at"]
    assert snapshot(report_dir) == files  # not even rewritten


def test_check_mode_and_diff(tmp_path: Path, fleet_args: dict[str, Any]) -> None:
    report_dir = Path(fleet_args["report_dir"])
    dry = run_play(tmp_path, fleet_args, "--check")
    assert dry["changed"] is True
    assert not report_dir.exists()

    run_play(tmp_path, fleet_args)
    before = snapshot(report_dir)
    fleet_args["facts"]["node-ctd14"]["kruise_daemon"]["1.6"]["compatible"] = True
    dry = run_play(tmp_path, fleet_args, "--check", "--diff")
    assert dry["changed"] is True
    assert snapshot(report_dir) == before
    assert dry["diff"]["before_header"] == str(report_dir / "report.md")
    assert "### Incompatible (3)" in dry["diff"]["before"]
    assert "### Incompatible (2)" in dry["diff"]["after"]
    assert "-### Incompatible (3)" in dry["_stdout"]

    real = run_play(tmp_path, fleet_args)
    assert real["changed"] is True
    assert json.loads((report_dir / "report.json").read_text())["summary"]["incompatible"] == 2


def test_formats_subset(tmp_path: Path, fleet_args: dict[str, Any]) -> None:
    result = run_play(tmp_path, {**fleet_args, "formats": ["markdown"]})
    assert result["changed"] is True
    assert sorted(os.listdir(fleet_args["report_dir"])) == ["report.md"]
    again = run_play(tmp_path, {**fleet_args, "formats": ["markdown"]})
    assert again["changed"] is False


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"formats": ["json", "pdf"]}, "formats"),
        ({"kruise_version": "latest"}, "kruise_version 'latest' is not a version"),
        ({"facts": {"node-a": ["not", "facts"]}}, "facts: the value for host 'node-a'"),
        ({"report_dir": None}, "report_dir"),
        ({"bogus": 1}, "bogus"),
        ({"cluster": {"schema": 2}}, "cluster: schema 2 is not supported"),
        ({"plan": {"recommendation": {}}}, "plan: schema None is not supported"),
    ],
)
def test_bad_options_fail_naming_the_option(
    tmp_path: Path, fleet_args: dict[str, Any], override: dict[str, Any], message: str
) -> None:
    args = {**fleet_args, **override}
    args = {k: v for k, v in args.items() if v is not None}
    result = run_play(tmp_path, args)
    assert result["failed"] is True
    assert message in result["msg"]
    assert not Path(fleet_args["report_dir"]).exists()


def test_report_dir_that_is_a_file(tmp_path: Path, fleet_args: dict[str, Any]) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    result = run_play(tmp_path, {**fleet_args, "report_dir": str(blocker)})
    assert result["failed"] is True
    assert result["msg"] == f"report_dir: {blocker} exists and is not a directory"


def test_cluster_and_plan_make_the_recommendation(
    tmp_path: Path, fleet_args: dict[str, Any]
) -> None:
    hosts, unreachable = mixed_fleet()
    cluster = cluster_facts()
    plan = build_plan(
        {**hosts, **dict.fromkeys(unreachable)},
        cluster,
        target_version="1.6.0",
        inventory_hint="hosts.yml",
    )
    # As a playbook registers them: the whole kruise_info and remediation_plan results.
    args = {
        **fleet_args,
        "cluster": {"changed": False, "kruise": cluster},
        "plan": {"changed": False, "plan": plan},
    }
    first = run_play(tmp_path, args)
    assert first["changed"] is True, first
    report_dir = Path(fleet_args["report_dir"])
    on_disk = json.loads((report_dir / "report.json").read_text())
    assert on_disk == first["report"]
    assert on_disk["plan"] == plan
    assert on_disk["cluster"]["install"]["helm"]["values"] == {
        "featureGates": "ImagePullJobGate=true",
        "daemon": {"socketLocation": "/var/run"},
    }
    recommendation = plan["recommendation"]
    assert recommendation["path"] == "pin_1_5"
    assert first["recommendation"] == recommendation
    assert first["stats"]["recommendation"] == {
        "path": "pin_1_5",
        "title": "Pin OpenKruise 1.5.5",
        "command": recommendation["command"],
        "commands": recommendation["commands"],
        "risk": recommendation["risk"]["level"],
        "launches": recommendation["launches"],
    }
    assert first["stats"]["recommendation"]["launches"][0]["path"] == "pin_1_5"
    assert recommendation["command"].startswith("ansible-playbook kruise_cri.remediation.")
    assert recommendation["command"] in (report_dir / "report.md").read_text()
    assert recommendation["command"] in (report_dir / "report.html").read_text()

    again = run_play(tmp_path, {**fleet_args, "cluster": cluster, "plan": plan})
    assert again["changed"] is False  # the same facts given either way: nothing to rewrite

    node_only = run_play(tmp_path, fleet_args, "--check")
    assert node_only["changed"] is True
    # Without a plan the report plans from the same facts: its ways out are the planner's.
    assert node_only["report"]["cluster"] is None
    assert node_only["report"]["plan"]["cluster_known"] is False
    assert (
        node_only["recommendation"]["path"] == node_only["report"]["plan"]["recommendation"]["path"]
    )
    assert node_only["stats"]["recommendation"]["path"] == node_only["recommendation"]["path"]


@pytest.mark.parametrize("flags", [(), ("--check",)], ids=["run", "check"])
@pytest.mark.parametrize("target_exists", [False, True], ids=["dangling", "to-a-directory"])
def test_report_dir_that_is_a_symlink_is_refused_and_nothing_changes(
    tmp_path: Path, fleet_args: dict[str, Any], target_exists: bool, flags: tuple[str, ...]
) -> None:
    """Writing through the link would make root create, or fill, whatever it points at."""
    target = tmp_path / "somewhere" / "else"
    if target_exists:
        target.mkdir(parents=True)
    link = tmp_path / "reports-link"
    link.symlink_to(target)
    result = run_play(tmp_path, {**fleet_args, "report_dir": str(link)}, *flags)
    assert result["failed"] is True, result
    assert result["msg"].startswith(f"report_dir: {link} is a symlink (to {target})")
    assert f"remove the link (rm {link})" in result["msg"]
    assert link.is_symlink() and os.readlink(link) == str(target)
    if target_exists:
        assert list(target.iterdir()) == []
    else:
        assert not (tmp_path / "somewhere").exists()


def test_a_symlink_in_place_of_a_report_file_is_replaced_never_read(
    tmp_path: Path, fleet_args: dict[str, Any]
) -> None:
    report_dir = Path(fleet_args["report_dir"])
    report_dir.mkdir(parents=True)
    outside = tmp_path / "private-notes.md"
    outside.write_text("not for the report\n")
    (report_dir / "report.md").symlink_to(outside)
    dry = run_play(tmp_path, fleet_args, "--check", "--diff")
    assert dry["changed"] is True
    assert "not for the report" not in dry["diff"]["before"] + dry["_stdout"]
    result = run_play(tmp_path, fleet_args)
    assert result["changed"] is True
    assert outside.read_text() == "not for the report\n"
    assert not (report_dir / "report.md").is_symlink()
    assert (report_dir / "report.md").read_text().startswith("#")
    assert stat.S_IMODE((report_dir / "report.md").stat().st_mode) == 0o640
