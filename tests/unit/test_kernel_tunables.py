"""The kubelet's host-wide sysctls: set while any lab holds them, the host's back after the last."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kruise_cri.lab.kernel_tunables import KUBELET_TUNABLES, KernelTunables


def proc_sys(tmp_path: Path) -> Path:
    root = tmp_path / "sys"
    for name, value in {"vm/overcommit_memory": "0", "kernel/panic": "0"}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(value + "\n")
    (root / "kernel/panic_on_oops").write_text("0\n")
    return root


def values(root: Path) -> dict[str, str]:
    return {name: (root / name).read_text().strip() for name in KUBELET_TUNABLES}


def recorded_holders(state: Path) -> list[int]:
    return json.loads(state.read_text())["holders"]


def record_holders(state: Path, holders: list[int]) -> None:
    """Rewrite the holders in the state file, as another lab (or a killed one) leaves them."""
    recorded = json.loads(state.read_text())
    recorded["holders"] = holders
    state.write_text(json.dumps(recorded))


def test_held_values_are_the_kubelets_and_the_hosts_come_back(tmp_path: Path) -> None:
    root = proc_sys(tmp_path)
    before = values(root)
    tunables = KernelTunables(tmp_path / "state.json", root)
    tunables.hold()
    tunables.hold()  # once per holder
    assert values(root) == dict(KUBELET_TUNABLES)
    assert tunables.holders() == [os.getpid()]
    tunables.release()
    assert values(root) == before
    assert not (tmp_path / "state.json").exists()


def test_the_last_live_holder_restores_and_dead_holders_do_not_count(tmp_path: Path) -> None:
    root = proc_sys(tmp_path)
    state = tmp_path / "state.json"
    first = KernelTunables(state, root)
    first.hold()
    # Another lab that died without releasing: its pid is listed but gone.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    record_holders(state, [*recorded_holders(state), int(dead)])
    assert first.holders() == [os.getpid()]
    first.release()
    assert values(root) == {name: "0" for name in KUBELET_TUNABLES}


def test_a_second_holder_keeps_the_values_until_it_releases(tmp_path: Path) -> None:
    root = proc_sys(tmp_path)
    state = tmp_path / "state.json"
    holder = KernelTunables(state, root)
    holder.hold()
    # Another lab, still running: pid 1 is always alive.
    record_holders(state, [*recorded_holders(state), 1])
    holder.release()
    assert values(root) == dict(KUBELET_TUNABLES)
    assert KernelTunables(state, root).holders() == [1]


def test_a_killed_holders_originals_are_the_ones_restored(tmp_path: Path) -> None:
    root = proc_sys(tmp_path)
    state = tmp_path / "state.json"
    killed = KernelTunables(state, root)
    killed.hold()
    # The holder was killed (SIGKILL: no release); its pid is gone, the kubelet's values stay.
    record_holders(state, [2**22 + 1])  # above pid_max's default: no such process
    later = KernelTunables(state, root)
    later.hold()
    later.release()
    assert values(root) == {name: "0" for name in KUBELET_TUNABLES}
    assert not state.exists()
