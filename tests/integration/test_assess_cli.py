"""`kruise-cri assess` and the assess playbook end to end on the real lab fleet."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from kruise_cri.lab.nodes import NODES

KRUISE_CRI = Path(sys.executable).with_name("kruise-cri")
REPO_ROOT = Path(__file__).resolve().parents[2]
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def assess(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KRUISE_CRI), "assess", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env=env,
        check=False,
    )


def assess_on_a_terminal(*args: str, env: dict[str, str]) -> str:
    """What `kruise-cri assess` shows when its output is a terminal (a real pseudo-terminal)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(KRUISE_CRI), "assess", *args], stdout=terminal, stderr=terminal, env=env
    )
    os.close(terminal)
    shown = b""
    try:
        while select.select([controller], [], [], 300)[0]:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            shown += chunk
    finally:
        process.wait(timeout=60)
        os.close(controller)
    return shown.decode(errors="replace")


def test_assess_reports_incompatible_nodes_and_exits_2(fleet_inventory, tmp_path) -> None:
    report_dir = tmp_path / "report"
    result = assess("-i", str(fleet_inventory), "--report-dir", str(report_dir))
    assert result.returncode == 2, result.stdout + result.stderr
    for node in NODES:
        assert f"{node.name}: " in result.stdout, "per-node progress line missing"
    report = json.loads((report_dir / "report.json").read_text())
    incompatible = {node.name for node in NODES if "1.6" not in node.compatible_lines}
    assert report["summary"]["incompatible"] == len(incompatible)
    assert report["summary"]["compatible"] == len(NODES) - len(incompatible)
    grouped = {entry["host"] for entry in report["groups"]["incompatible"]}
    assert grouped == incompatible
    html = (report_dir / "report.html").read_text()
    assert "<script src" not in html and "http://" not in html.split("</head>")[0]
    for name in incompatible:
        assert name in html
    assert (report_dir / "report.md").read_text().startswith("#")
    assert str(report_dir / "report.html") in result.stdout


def test_assess_for_the_bridge_line_exits_0(fleet_inventory, tmp_path) -> None:
    result = assess(
        "-i", str(fleet_inventory), "--kruise-version", "1.5.5", "--report-dir", str(tmp_path)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["summary"]["compatible"] == len(NODES)


def test_malformed_version_fails_before_anything_runs(fleet_inventory, tmp_path) -> None:
    result = assess(
        "-i", str(fleet_inventory), "--kruise-version", "1.x", "--report-dir", str(tmp_path)
    )
    assert result.returncode == 1
    assert "--kruise-version '1.x'" in result.stderr and "X.Y.Z" in result.stderr
    assert not list(tmp_path.iterdir())


def test_unreachable_node_is_reported_not_hidden(fleet_inventory, tmp_path) -> None:
    inventory = yaml.safe_load(fleet_inventory.read_text())
    hosts = inventory["all"]["children"]["kube_nodes"]["hosts"]
    hosts["node-gone"] = {
        "ansible_host": "127.0.0.1",
        "ansible_port": 1,
        "ansible_connection": "ssh",
        "ansible_ssh_common_args": "-o ConnectTimeout=2",
    }
    mixed = tmp_path / "hosts.yml"
    mixed.write_text(yaml.safe_dump(inventory))
    result = assess("-i", str(mixed), "--report-dir", str(tmp_path / "r"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "node-gone: UNREACHABLE" in result.stdout
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["summary"]["unknown"] == 1
    assert [entry["host"] for entry in report["groups"]["unknown"]] == ["node-gone"]


def test_missing_node_group_fails_with_the_fix(tmp_path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"somewhere": {}}}}))
    result = assess("-i", str(inventory), "--report-dir", str(tmp_path / "r"))
    assert result.returncode == 1
    assert "kube_nodes" in result.stdout + result.stderr
    assert not (tmp_path / "r").exists()


def test_a_relative_inventory_is_found_from_the_working_directory(
    fleet_inventory: Path, tmp_path: Path
) -> None:
    shutil.copy(fleet_inventory, tmp_path / "hosts.yml")
    result = assess("-i", "hosts.yml", "--report-dir", "report", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"inventory {tmp_path / 'hosts.yml'}" in result.stdout
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["summary"]["nodes"] == len(NODES)


def test_the_readme_example_inventory_is_assessed_from_the_repository_root(tmp_path: Path) -> None:
    """The README's own command: the inventory is found and its three nodes are tried (they do
    not exist, so each is unreachable), and the output, a pipe here, carries no colour codes."""
    result = assess(
        "-i", "inventories/example/hosts.yml", "--report-dir", str(tmp_path / "r"), cwd=REPO_ROOT
    )
    output = result.stdout + result.stderr
    assert "no hosts in group" not in output
    assert result.returncode == 1, output
    assert f"(inventory {REPO_ROOT / 'inventories/example/hosts.yml'})" in result.stdout
    for node in ("worker-01", "worker-02", "worker-03"):
        assert f"{node}.example.internal: UNREACHABLE" in result.stdout
    assert "[3/3]" in result.stdout
    assert "\x1b[" not in output


def test_no_colours_in_a_pipe_even_when_ansible_is_told_to_force_them(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"somewhere": {}}}}))
    env = {**os.environ, "ANSIBLE_FORCE_COLOR": "1"}
    result = assess("-i", str(inventory), "--report-dir", str(tmp_path / "r"), env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "kube_nodes" in output, output
    assert "\x1b[" not in output


def test_colours_on_a_terminal_unless_no_color(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"somewhere": {}}}}))
    args = ("-i", str(inventory), "--report-dir", str(tmp_path / "r"))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "ANSIBLE_NOCOLOR")}
    coloured = assess_on_a_terminal(*args, env=env)
    assert "kube_nodes" in coloured and ANSI_ESCAPE.search(coloured), coloured
    plain = assess_on_a_terminal(*args, env={**env, "NO_COLOR": "1"})
    assert "kube_nodes" in plain and "\x1b[" not in plain, plain


def test_report_dir_through_a_dangling_symlink_is_refused(
    fleet_inventory: Path, tmp_path: Path
) -> None:
    """Root must not create the link's target (the link may be another user's)."""
    target = tmp_path / "not-yours" / "report"
    link = tmp_path / "report"
    link.symlink_to(target)
    result = assess("-i", str(fleet_inventory), "--report-dir", "report", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"--report-dir report is a symlink (to {target})" in result.stderr
    assert f"rm {link}" in result.stderr
    assert not (tmp_path / "not-yours").exists()
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert result.stdout == ""  # refused before anything ran
