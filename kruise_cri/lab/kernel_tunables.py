"""The host-wide sysctls a kubelet insists on, held for the lab's real nodes.

At start the kubelet (``--protect-kernel-defaults=false``, the default) writes
``vm.overcommit_memory=1``, ``kernel.panic=10`` and ``kernel.panic_on_oops=1`` when they differ,
and fails when it cannot. Inside a systemd-nspawn node ``/proc/sys`` is read-only, and these
three are not namespaced anyway: they are the host's. So while any lab on this machine runs real
kubelets the host has the kubelet's values, and the host's own values are put back when the last
such lab stops. Holders are process IDs in a state file under ``/run``; a holder that died
without releasing is dropped by the next caller.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from kruise_cri.lab.buildcache import locked

KUBELET_TUNABLES: Mapping[str, str] = {
    "vm/overcommit_memory": "1",
    "kernel/panic": "10",
    "kernel/panic_on_oops": "1",
}
STATE_FILE = Path("/run/kruise-cri-kernel-tunables.json")
PROC_SYS = Path("/proc/sys")


class KernelTunables:
    """:meth:`hold` before a kubelet starts, :meth:`release` after it stopped."""

    def __init__(self, state_file: Path = STATE_FILE, proc_sys: Path = PROC_SYS) -> None:
        self.state_file = state_file
        self.proc_sys = proc_sys
        self.held = False

    @property
    def _lock(self) -> Path:
        return self.state_file.with_name(self.state_file.name + ".lock")

    def hold(self) -> None:
        if self.held:
            return
        with locked(self._lock):
            state = self._load()
            if not state["holders"] and not state["originals"]:
                # Originals left by holders that were killed are the real ones: the values now
                # are theirs.
                state["originals"] = {name: self._read(name) for name in KUBELET_TUNABLES}
            for name, value in KUBELET_TUNABLES.items():
                self._write(name, value)
            state["holders"].append(os.getpid())
            self._save(state)
            self.held = True

    def release(self) -> None:
        if not self.held:
            return
        with locked(self._lock):
            state = self._load()
            state["holders"] = [pid for pid in state["holders"] if pid != os.getpid()]
            if state["holders"]:
                self._save(state)
            else:
                for name, value in state["originals"].items():
                    self._write(name, value)
                self.state_file.unlink(missing_ok=True)
            self.held = False

    def holders(self) -> list[int]:
        """The live processes holding the tunables now."""
        with locked(self._lock):
            return list(self._load()["holders"])

    def _load(self) -> dict:
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {"holders": [], "originals": {}}
        state["holders"] = [pid for pid in state.get("holders", []) if _alive(pid)]
        state.setdefault("originals", {})
        return state

    def _save(self, state: dict) -> None:
        temporary = self.state_file.with_name(f".{self.state_file.name}.{os.getpid()}")
        temporary.write_text(json.dumps(state))
        temporary.replace(self.state_file)

    def _read(self, name: str) -> str:
        return (self.proc_sys / name).read_text().strip()

    def _write(self, name: str, value: str) -> None:
        (self.proc_sys / name).write_text(value + "\n")


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()
