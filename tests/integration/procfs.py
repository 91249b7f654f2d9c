"""What a test can see of processes and sockets through /proc, shared by the lab's tests."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def tcp_listener_inodes(net: str = "/proc/self/net") -> set[int]:
    """Socket inodes of TCP listeners in a network namespace (by default this process's)."""
    inodes: set[int] = set()
    for table in ("tcp", "tcp6"):
        for line in Path(net, table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                inodes.add(int(fields[9]))
    return inodes


def socket_inodes_of(pid: int) -> set[int]:
    inodes: set[int] = set()
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(entry)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def connect_error(path: Path) -> type[OSError] | None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        try:
            client.connect(str(path))
        except OSError as error:
            return type(error)
    return None


def process_running(pid: int) -> bool:
    """False once the process is gone or a zombie (its parent, maybe init, has yet to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def read_varint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, offset


def processes_mentioning(*texts: str) -> list[int]:
    """Pids of live processes whose command line contains any of ``texts``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if any(text.encode() in cmdline for text in texts) and process_running(int(entry.name)):
            found.append(int(entry.name))
    return found


def command_lines(pids: list[int]) -> dict[int, str]:
    """What each of ``pids`` runs, for a failure message."""
    lines = {}
    for pid in pids:
        try:
            lines[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            lines[pid] = "(gone)"
    return lines
