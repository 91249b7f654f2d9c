"""/etc/docker/daemon.json: what a migration must carry over, and what dockerd would refuse."""

from __future__ import annotations

import pytest
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_facts.docker_config import (
    cgroup_driver_from_exec_opts,
    parse_daemon_json,
)

FULL = """\
{
  "registry-mirrors": ["https://mirror.example.com"],
  "insecure-registries": ["10.0.0.0/8", "registry.local:5000"],
  "data-root": "/data/docker",
  "exec-opts": ["native.cgroupdriver=systemd"],
  "log-driver": "json-file",
  "log-opts": {"max-size": "100m", "max-file": "3"}
}
"""


def test_every_migration_setting_is_read() -> None:
    parsed, findings = parse_daemon_json(FULL)
    assert findings == []
    assert parsed == {
        "path": "/etc/docker/daemon.json",
        "registry_mirrors": ["https://mirror.example.com"],
        "insecure_registries": ["10.0.0.0/8", "registry.local:5000"],
        "data_root": "/data/docker",
        "exec_opts": ["native.cgroupdriver=systemd"],
        "cgroup_driver": "systemd",
        "log_driver": "json-file",
        "log_opts": {"max-size": "100m", "max-file": "3"},
        "error": None,
    }


@pytest.mark.parametrize(
    ("content", "read_error", "error"),
    [
        (None, "missing", None),
        ("", None, None),
        ("  \n", None, None),
        ("\ufeff{}", None, None),
        (None, "permission denied", "cannot read: permission denied"),
    ],
)
def test_absent_or_empty_files(content: str | None, read_error: str | None, error: str | None):
    parsed, findings = parse_daemon_json(content, read_error=read_error)
    assert parsed["error"] == error
    assert parsed["registry_mirrors"] == []
    assert bool(findings) == bool(error)


@pytest.mark.parametrize(
    ("content", "severity", "message"),
    [
        (
            '{\n  "registry-mirrors": ["https://m"]\n  "data-root": "/d"\n}',
            "error",
            "not valid JSON: Expecting ',' delimiter at line 3, column 3; dockerd refuses",
        ),
        ('["a list"]', "error", "the top level is a JSON list, not an object"),
        (
            '{"registry-mirrors": "https://m"}',
            "error",
            'registry-mirrors must be a list of strings, not "https://m"',
        ),
        ('{"data-root": 5}', "error", "data-root must be a string, not 5"),
        (
            '{"log-opts": {"max-file": 3}}',
            "error",
            'log-opts max-file must be a string, not 3 (write "3"); dockerd refuses to start',
        ),
        ('{"log-opts": []}', "error", "log-opts must be an object, not []"),
        (
            '{"graph": "/g"}',
            "warning",
            "uses the deprecated graph option (/g) instead of data-root",
        ),
        (
            '{"graph": "/g", "data-root": "/d"}',
            "error",
            "both data-root and the deprecated graph are set",
        ),
        (
            '{"data-root": "/a", "data-root": "/b"}',
            "warning",
            "key 'data-root' appears more than once; the last one counts",
        ),
    ],
)
def test_problems_become_findings(content: str, severity: str, message: str) -> None:
    _unused, findings = parse_daemon_json(content, path="/etc/docker/daemon.json")
    assert any(
        f["severity"] == severity
        and f["source"] == "/etc/docker/daemon.json"
        and f["message"].startswith(message)
        for f in findings
    ), findings


def test_values_after_problems_are_still_reported() -> None:
    parsed, _unused = parse_daemon_json(
        '{"graph": "/g", "log-opts": {"max-file": 3, "max-size": "1m"}}'
    )
    assert parsed["data_root"] == "/g"
    assert parsed["log_opts"] == {"max-size": "1m"}
    parsed, _unused = parse_daemon_json('{"data-root": "/a", "data-root": "/b"}')
    assert parsed["data_root"] == "/b"


def test_invalid_json_reports_the_error_in_the_result() -> None:
    parsed, _unused = parse_daemon_json("{")
    assert parsed["error"].startswith("not valid JSON: Expecting property name enclosed in")
    assert "line 1, column 2" in parsed["error"]


@pytest.mark.parametrize(
    ("exec_opts", "driver"),
    [
        (["native.cgroupdriver=systemd"], "systemd"),
        (["Native.CgroupDriver = cgroupfs"], "cgroupfs"),
        (["native.cgroupdriver=cgroupfs", "native.cgroupdriver=systemd"], "systemd"),
        (["isolation=process"], None),
        ([], None),
    ],
)
def test_cgroup_driver_from_exec_opts(exec_opts: list[str], driver: str | None) -> None:
    assert cgroup_driver_from_exec_opts(exec_opts) == driver
