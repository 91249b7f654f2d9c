"""Reading a real kruise-daemon's log: the runtimes it added and how it ended."""

from __future__ import annotations

from pathlib import Path

import pytest

from kruise_cri.lab.kruise_daemon_run import DaemonRun, node_socket, parse_runtimes
from kruise_cri.lab.openkruise_build import (
    OPENKRUISE_VERSIONS,
    ensure_openkruise_binary,
    source_fingerprint,
)

ADDED = (
    "I1203 14:57:37.101682   12049 factory.go:128] Add runtime impl docker, URI: "
    "(unix:///hostvarrun/docker.sock, unix:///hostvarrun/dockershim.sock)\n"
    "W1203 14:57:37.104175   12049 factory.go:113] Failed to list images for containerd\n"
    "I1203 14:58:02.194189   12118 factory.go:128] Add runtime impl containerd, URI: "
    "(, unix:///hostvarrun/containerd/containerd.sock)\n"
)
FATAL = (
    "F1203 14:54:37.008046   11082 main.go:69] Failed to new daemon: failed to new runtime "
    "factory: validate service connection: CRI v1 runtime API is not implemented\n"
)
PANIC = (
    "W1203 14:53:15.453788    8019 factory.go:103] Failed to new image service\n"
    "panic: runtime error: invalid memory address or nil pointer dereference\n"
    "[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x1b6bb98]\n"
)


def test_runtimes_in_the_order_added_as_the_node_names_them() -> None:
    assert parse_runtimes(ADDED) == (
        ("docker", "/var/run/dockershim.sock"),
        ("containerd", "/var/run/containerd/containerd.sock"),
    )
    assert node_socket("unix:///elsewhere/x.sock") == "/elsewhere/x.sock"


@pytest.mark.parametrize(
    ("exit_code", "log", "kind", "message"),
    [
        (255, FATAL, "fatal", "Failed to new daemon: failed to new runtime factory"),
        (2, PANIC, "panic", "runtime error: invalid memory address"),
        (1, "no recognisable line\n", "exit 1", None),
        (None, ADDED, None, None),
    ],
)
def test_how_a_run_ended(exit_code: int | None, log: str, kind: str | None, message) -> None:
    run = DaemonRun("n", "v1.6.0", exit_code, parse_runtimes(log), log)
    assert run.starts is (exit_code is None)
    assert run.crash_kind == kind
    if message is None:
        assert run.crash_message is None or exit_code is None
    else:
        assert run.crash_message is not None and run.crash_message.startswith(message)


def test_wrapper_changes_rebuild(tmp_path: Path) -> None:
    for version in OPENKRUISE_VERSIONS:
        (tmp_path / version).mkdir()
        for name in ("go.mod", "go.sum", "tools.go"):
            (tmp_path / version / name).write_text(f"{version} {name}\n")
    before = source_fingerprint("kruise-daemon", "v1.6.0", tmp_path)
    assert before != source_fingerprint("kruise-manager", "v1.6.0", tmp_path)
    assert before != source_fingerprint("kruise-daemon", "v1.5.5", tmp_path)
    (tmp_path / "v1.6.0" / "go.sum").write_text("changed\n")
    assert before != source_fingerprint("kruise-daemon", "v1.6.0", tmp_path)


@pytest.mark.parametrize(
    ("command", "version", "named"),
    [("kruise-webhook", "v1.6.0", "kruise-webhook"), ("kruise-daemon", "v1.6.1", "v1.6.1")],
)
def test_unknown_builds_are_refused_by_name(
    command: str, version: str, named: str, tmp_path: Path
) -> None:
    with pytest.raises(KeyError, match=named):
        ensure_openkruise_binary(command, version, cache=tmp_path)
    assert not any(tmp_path.iterdir())
