"""The lab directory and its supervisor PID are trusted only when they are really ours.

Root runs what the lab's inventory names and signals the PID its lab.json names, so files another
user planted, or a PID that is no longer the supervisor, must be refused. The other user is a real
one (nobody, through setpriv); the processes are real (sleep, and a stand-in supervisor whose
command line is exactly the supervisor's).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kruise_cri.lab.fleet import SUPERVISOR_MODULE, process_start_time
from kruise_cri.lab.lab_dir import ROOT_LAB_DIR
from kruise_cri.lab.waiting import wait_until
from tests.integration.procfs import process_running

KRUISE_CRI = Path(sys.executable).with_name("kruise-cri")
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab runs as root"),
    pytest.mark.lab_only,
]


def kruise_cri(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KRUISE_CRI), *args], capture_output=True, text=True, timeout=120, check=False
    )


def as_nobody(script: str, *args: str, stdin: str = "") -> None:
    """Run a shell script as the unprivileged user nobody."""
    subprocess.run(
        [*AS_NOBODY, "sh", "-ec", script, "sh", *args], input=stdin, text=True, check=True
    )


def tree(directory: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every entry beneath ``directory``: owner, mode and content (a symlink's target)."""
    found = {}
    for path in sorted(directory.rglob("*")):
        info = path.lstat()
        content = os.readlink(path).encode() if path.is_symlink() else b""
        if stat.S_ISREG(info.st_mode):
            content = path.read_bytes()
        found[str(path.relative_to(directory))] = (info.st_uid, info.st_mode, content)
    return found


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A sticky folder everyone can write, like /tmp (pytest's tmp_path is root's alone)."""
    directory = Path(tempfile.mkdtemp(prefix="kc-shared-", dir="/tmp"))
    directory.chmod(0o1777)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process of root's that is not the lab's supervisor."""
    process = subprocess.Popen(["sleep", "600"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def start_stand_in_supervisor(
    workspace: Path, lab_dir: Path, *, user: list[str] | None = None
) -> subprocess.Popen[bytes]:
    """A process whose command line is the supervisor's (python -m kruise_cri.lab.fleet serve
    LAB_DIR) but that only sleeps: a package of that name in its working directory."""
    if SYSTEM_PYTHON is None:
        pytest.skip("needs /usr/bin/python3, which the user nobody can run")
    package = workspace / "kruise_cri" / "lab"
    package.mkdir(parents=True, exist_ok=True)
    for init in (workspace / "kruise_cri" / "__init__.py", package / "__init__.py"):
        init.write_text("")
    ready = workspace.with_name(workspace.name + "-ready")  # in the sticky folder: anyone writes
    (package / "fleet.py").write_text(
        f"import pathlib, time\npathlib.Path({str(ready)!r}).write_text('up')\ntime.sleep(600)\n"
    )
    for path in [workspace, *workspace.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    process = subprocess.Popen(
        [*(user or []), SYSTEM_PYTHON, "-m", SUPERVISOR_MODULE, "serve", str(lab_dir)],
        cwd=workspace,
    )
    wait_until("the stand-in supervisor", ready.exists, timeout=30)
    ready.unlink()
    return process


def write_lab_state(lab_dir: Path, pid: int, start_time: int | None) -> None:
    state = {
        "supervisor_pid": pid,
        "supervisor_start_time": start_time,
        "lab_dir": str(lab_dir),
        "kubeconfig": str(lab_dir / "kubeconfig"),
        "nodes": {},
    }
    descriptor = os.open(lab_dir / "lab.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(json.dumps(state))


def private_dir(parent: Path) -> Path:
    lab_dir = parent / "lab"
    lab_dir.mkdir(mode=0o700)
    return lab_dir


def test_an_inventory_planted_by_another_user_is_never_run_as_root(
    shared_tmp: Path, tmp_path: Path
) -> None:
    """The issue's attack: nobody creates the lab directory first, with an inventory whose node
    Python is their script and a lab.json naming a live PID of theirs."""
    lab_dir = shared_tmp / "kruise-cri-lab"
    ran_as_root = shared_tmp / "planted-script-ran"
    planted_python = lab_dir / "python"
    planted_host = {
        "ansible_connection": "local",
        "ansible_python_interpreter": str(planted_python),
    }
    inventory = {
        "all": {
            "hosts": {"localhost": planted_host},  # where the playbook reads the cluster
            "children": {"kube_nodes": {"hosts": {"node-a": planted_host}}},
        }
    }
    squatter = subprocess.Popen([*AS_NOBODY, "sleep", "600"])
    try:
        wait_until("sleep", lambda: process_start_time(squatter.pid), timeout=10)
        state = {
            "supervisor_pid": squatter.pid,
            "supervisor_start_time": process_start_time(squatter.pid),
            "kubeconfig": str(lab_dir / "kubeconfig"),
            "nodes": {"node-a": {}},
        }
        script = f'#!/bin/sh\nid -u > {ran_as_root}\nexec {sys.executable} "$@"\n'
        as_nobody(
            'mkdir -m 777 "$1"; cd "$1"\n'
            'printf %s "$2" > lab.json; printf %s "$3" > inventory.yml\n'
            'printf %s "$4" > python; printf %s "$5" > kubeconfig\n'
            "chmod 755 python; chmod 666 lab.json inventory.yml",
            str(lab_dir),
            json.dumps(state),
            yaml.safe_dump(inventory),
            script,
            "apiVersion: v1\nkind: Config\n",
        )
        planted = tree(lab_dir)
        assess = kruise_cri(
            "assess", "--lab", "--lab-dir", str(lab_dir), "--report-dir", str(tmp_path / "r")
        )
        status = kruise_cri("lab", "status", "--lab-dir", str(lab_dir))
        down = kruise_cri("lab", "down", "--lab-dir", str(lab_dir))
        squatter_survived = process_running(squatter.pid)
    finally:
        squatter.kill()
        squatter.wait()
    assert not ran_as_root.exists(), "root ran the planted interpreter"
    assert squatter_survived, "lab down signalled another user's process"
    for refused in (assess, status, down):
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert f"lab directory {lab_dir} belongs to nobody" in refused.stderr
        assert f"rm -rf {lab_dir}" in refused.stderr and "--lab-dir" in refused.stderr
    assert "Using the lab already running" not in assess.stdout
    assert tree(lab_dir) == planted, "a refused lab directory was changed"
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("kind", ["symlink", "group-writable", "ancestor-of-another-user"])
def test_an_untrusted_lab_directory_is_refused_naming_it_and_the_fix(
    shared_tmp: Path, kind: str
) -> None:
    lab_dir = shared_tmp / "lab"
    if kind == "symlink":
        real = shared_tmp / "real"
        real.mkdir(mode=0o700)
        lab_dir.symlink_to(real)
        expected = f"lab directory {lab_dir} is a symlink (to {real})"
    elif kind == "group-writable":
        lab_dir.mkdir()
        lab_dir.chmod(0o770)
        expected = f"lab directory {lab_dir} is writable by its group or others (mode 0770)"
    else:
        as_nobody('mkdir -m 755 "$1"', str(shared_tmp / "theirs"))
        lab_dir = shared_tmp / "theirs" / "lab"
        expected = f"lab directory {lab_dir} lies beneath {shared_tmp / 'theirs'}, which belongs"
    before = tree(shared_tmp)
    for command in ("status", "down", "up"):
        result = kruise_cri("lab", command, "--lab-dir", str(lab_dir))
        assert result.returncode == 1, result.stdout + result.stderr
        assert expected in result.stderr
        assert "--lab-dir" in result.stderr and "Traceback" not in result.stderr
        assert tree(shared_tmp) == before


def test_a_missing_lab_directory_is_created_private(tmp_path: Path) -> None:
    from kruise_cri.lab.lab_dir import private_lab_dir

    lab_dir = private_lab_dir(tmp_path / "parent" / "lab", create=True)
    for made in (lab_dir, lab_dir.parent):
        info = made.lstat()
        assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
        assert info.st_uid == os.geteuid()
    assert private_lab_dir(lab_dir, create=False) == lab_dir  # and accepted as it is


def test_a_pid_that_is_not_the_supervisor_is_neither_trusted_nor_signalled(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    """A stale lab.json whose PID now belongs to another process (here with even its start
    time right): status says down, and down removes the stale file without signalling."""
    lab_dir = private_dir(tmp_path)
    write_lab_state(lab_dir, sleeper.pid, process_start_time(sleeper.pid))
    status = kruise_cri("lab", "status", "--lab-dir", str(lab_dir))
    assert status.returncode == 3, status.stdout + status.stderr
    reported = json.loads(status.stdout)
    assert reported["up"] is False
    assert f"names supervisor PID {sleeper.pid}" in reported["stale"]
    down = kruise_cri("lab", "down", "--lab-dir", str(lab_dir))
    assert down.returncode == 0, down.stdout + down.stderr
    assert "No lab is running" in down.stdout and "stale" in down.stdout
    assert sleeper.poll() is None, "lab down signalled a process that is not the supervisor"
    assert not (lab_dir / "lab.json").exists()


def test_the_supervisor_is_recognised_by_command_line_owner_and_start_time(
    tmp_path: Path, shared_tmp: Path
) -> None:
    lab_dir = private_dir(tmp_path)
    stand_in = start_stand_in_supervisor(shared_tmp / "ours", lab_dir)
    impostor = start_stand_in_supervisor(shared_tmp / "theirs", lab_dir, user=AS_NOBODY)
    try:
        start_time = process_start_time(stand_in.pid)
        assert start_time is not None
        cases = [
            ("another start time: the PID was reused", stand_in.pid, start_time + 1),
            ("another user's process", impostor.pid, process_start_time(impostor.pid)),
        ]
        for case, pid, recorded_start in cases:
            write_lab_state(lab_dir, pid, recorded_start)
            status = kruise_cri("lab", "status", "--lab-dir", str(lab_dir))
            assert json.loads(status.stdout)["up"] is False, case
            down = kruise_cri("lab", "down", "--lab-dir", str(lab_dir))
            assert down.returncode == 0 and "No lab is running" in down.stdout, case
            assert stand_in.poll() is None and impostor.poll() is None, case

        write_lab_state(lab_dir, stand_in.pid, start_time)
        status = kruise_cri("lab", "status", "--lab-dir", str(lab_dir))
        assert status.returncode == 0 and json.loads(status.stdout)["up"] is True
        down = kruise_cri("lab", "down", "--lab-dir", str(lab_dir))
        assert down.returncode == 0, down.stdout + down.stderr
        assert f"Lab in {lab_dir} stopped" in down.stdout
        assert stand_in.wait(timeout=30) == -signal.SIGTERM
        assert impostor.poll() is None
        assert not (lab_dir / "lab.json").exists()
    finally:
        for process in (stand_in, impostor):
            process.kill()
            process.wait()


def test_the_default_lab_directory_is_private_to_root() -> None:
    environment = {k: v for k, v in os.environ.items() if k != "KRUISE_CRI_LAB_DIR"}
    environment["COLUMNS"] = "200"  # argparse would wrap the path at its hyphen
    shown = subprocess.run(
        [str(KRUISE_CRI), "lab", "--help"],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    ).stdout
    assert f"({ROOT_LAB_DIR})" in shown
    assert "/tmp" not in shown
    parent = ROOT_LAB_DIR.parent.stat()
    assert parent.st_uid == 0 and not parent.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def test_the_supervisor_stand_in_matches_the_real_command_line(tmp_path: Path) -> None:
    """The stand-in above is only a fair test if the lab starts its supervisor this way."""
    from kruise_cri.lab.fleet import supervisor_command

    command = supervisor_command(tmp_path)
    assert command[1:] == ["-m", SUPERVISOR_MODULE, "serve", str(tmp_path)]
    assert Path(command[0]).name.startswith("python")
