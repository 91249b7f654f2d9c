"""`kruise-cri assess` and the assess playbook end to end on the real lab fleet."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from kruise_cri.lab.nodes import NODES

KRUISE_CRI = Path(sys.executable).with_name("kruise-cri")


def assess(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KRUISE_CRI), "assess", *args], capture_output=True, text=True, timeout=600
    )


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
