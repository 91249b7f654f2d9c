"""The CLI's inputs: inventory and report paths, colours, the lab directory's default, and how
lab.json's supervisor record is read."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from kruise_cri.cli import (
    UsageError,
    ansible_environment,
    build_parser,
    inventory_argument,
    report_dir_argument,
    wants_colour,
)
from kruise_cri.lab.fleet import SupervisorRecord, process_start_time
from kruise_cri.lab.lab_dir import ROOT_LAB_DIR, default_lab_dir


class TerminalStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_relative_inventory_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "inventories").mkdir()
    (tmp_path / "inventories" / "hosts.yml").write_text("all: {}\n")
    monkeypatch.chdir(tmp_path)
    assert inventory_argument("inventories/hosts.yml") == str(tmp_path / "inventories/hosts.yml")
    assert inventory_argument("inventories") == str(tmp_path / "inventories")
    assert inventory_argument("node-a,node-b,") == "node-a,node-b,"
    with pytest.raises(UsageError, match=r"inventory missing\.yml does not exist"):
        inventory_argument("missing.yml")


def test_report_dir_is_made_absolute_without_following_a_symlink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert report_dir_argument("report") == tmp_path / "report"
    (tmp_path / "elsewhere").mkdir()
    for link, target in (("dangling", tmp_path / "nowhere"), ("to-dir", tmp_path / "elsewhere")):
        (tmp_path / link).symlink_to(target)
        with pytest.raises(UsageError) as refused:
            report_dir_argument(link)
        assert f"--report-dir {link} is a symlink (to {target})" in str(refused.value)
        assert f"rm {tmp_path / link}" in str(refused.value)
    assert not (tmp_path / "nowhere").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="--report-dir file exists and is not a directory"):
        report_dir_argument("file")


def test_colours_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert wants_colour(TerminalStream()) is True
    assert wants_colour(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert wants_colour(TerminalStream()) is False


def test_ansible_is_told_not_to_colour_unless_colours_are_wanted() -> None:
    plain = ansible_environment(colour=False)
    assert plain["ANSIBLE_NOCOLOR"] == "1"
    assert plain["ANSIBLE_FORCE_COLOR"] == "0"  # a caller's ANSIBLE_FORCE_COLOR would win
    coloured = ansible_environment(colour=True)
    assert "ANSIBLE_NOCOLOR" not in coloured and "ANSIBLE_FORCE_COLOR" not in coloured


def test_the_default_lab_dir_is_not_in_a_folder_everyone_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KRUISE_CRI_LAB_DIR", raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert default_lab_dir() == ROOT_LAB_DIR
    assert build_parser().parse_args(["lab", "status"]).lab_dir == str(ROOT_LAB_DIR)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("HOME", "/home/someone")
    assert default_lab_dir() == Path("/home/someone/.cache/kruise-cri/lab")
    monkeypatch.setenv("KRUISE_CRI_LAB_DIR", "/srv/lab")
    assert build_parser().parse_args(["assess", "--lab"]).lab_dir == "/srv/lab"


def test_a_supervisor_record_needs_its_pid_and_start_time() -> None:
    assert SupervisorRecord.from_state({"supervisor_pid": 42, "supervisor_start_time": 7}) == (
        SupervisorRecord(42, 7)
    )
    for state in (
        {"supervisor_pid": 42},  # written before start times were recorded: not trusted
        {"supervisor_pid": "42", "supervisor_start_time": 7},
        {"supervisor_pid": True, "supervisor_start_time": 7},
        {"supervisor_pid": 0, "supervisor_start_time": 7},
        ["supervisor_pid", 42],
        None,
    ):
        assert SupervisorRecord.from_state(state) is None, state


def test_this_process_is_not_a_supervisor(tmp_path: Path) -> None:
    start_time = process_start_time(os.getpid())
    assert isinstance(start_time, int) and start_time > 0
    assert SupervisorRecord(os.getpid(), start_time).is_running(tmp_path) is False
    assert process_start_time(2**22 + 1) is None  # above pid_max: no such process
