"""Node paths resolve inside the host root, the way the node itself would see them."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.cri_facts import (
    KRUISE_SOCKET_NAMES,
    endpoint_to_path,
    kubelet_unit_files,
    read_node_file,
    socket_candidates,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.host_paths import (
    PathLoopError,
    node_path_kind,
    resolve_node_path,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.kruise_compat import (
    candidate_socket_names,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "run" / "containerd").mkdir(parents=True)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "run").symlink_to("../run")
    return tmp_path


def test_relative_var_run_symlink(root: Path) -> None:
    assert resolve_node_path(str(root), "/var/run/containerd") == "/run/containerd"


def test_absolute_symlink_stays_inside_the_root(root: Path) -> None:
    (root / "var" / "run").unlink()
    (root / "var" / "run").symlink_to("/run")  # on the node this means <root>/run
    assert resolve_node_path(str(root), "/var/run/containerd") == "/run/containerd"


def test_dotdot_cannot_escape_the_root(root: Path) -> None:
    (root / "run" / "escape").symlink_to("../../../../../etc")
    assert resolve_node_path(str(root), "/run/escape") is None  # <root>/etc does not exist
    (root / "etc").mkdir()
    assert resolve_node_path(str(root), "/run/escape") == "/etc"


def test_missing_and_loops(root: Path) -> None:
    assert resolve_node_path(str(root), "/run/nothing/here.sock") is None
    (root / "run" / "a").symlink_to("b")
    (root / "run" / "b").symlink_to("a")
    with pytest.raises(PathLoopError):
        resolve_node_path(str(root), "/run/a")
    assert node_path_kind(str(root), "/run/a") == (None, "loop")


def test_kinds(root: Path) -> None:
    (root / "run" / "file.sock").write_text("")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(root / "run" / "containerd" / "containerd.sock"))
    try:
        assert node_path_kind(str(root), "/var/run/containerd/containerd.sock") == (
            "/run/containerd/containerd.sock",
            "socket",
        )
    finally:
        listener.close()
    assert node_path_kind(str(root), "/run/file.sock") == ("/run/file.sock", "file")
    assert node_path_kind(str(root), "/run/containerd") == ("/run/containerd", "directory")


def test_node_candidates_cover_every_name_kruise_looks_for() -> None:
    assert set(candidate_socket_names()) <= set(KRUISE_SOCKET_NAMES)
    paths = [path for path, _unused in socket_candidates([], "/run/k3s", "custom.sock", [])]
    assert "/run/k3s/containerd/containerd.sock" in paths
    assert "/run/k3s/custom.sock" in paths
    assert len(paths) == len(set(paths))


@pytest.mark.parametrize(
    ("endpoint", "path"),
    [
        ("unix:///run/containerd/containerd.sock", "/run/containerd/containerd.sock"),
        ("/var/run/crio/crio.sock", "/var/run/crio/crio.sock"),
        ("tcp://10.0.0.1:2375", None),
        ("relative.sock", None),
    ],
)
def test_endpoint_to_path(endpoint: str, path: str | None) -> None:
    assert endpoint_to_path(endpoint) == path


def test_read_node_file_reasons(root: Path) -> None:
    assert read_node_file(str(root), "/etc/missing") == {"content": None, "error": "missing"}
    assert read_node_file(str(root), "/run")["error"] == "not a file"
    big = root / "big"
    big.write_bytes(b"x" * (1024 * 1024 + 1))
    assert read_node_file(str(root), "/big")["error"].startswith("too large")
    if os.geteuid() != 0:  # root reads anything; the reason is only reachable unprivileged
        secret = root / "secret"
        secret.write_text("x")
        secret.chmod(0)
        assert read_node_file(str(root), "/secret")["error"] == "permission denied"


def test_files_behind_absolute_symlinks_are_read_inside_the_root(root: Path) -> None:
    (root / "etc" / "docker").mkdir(parents=True)
    (root / "srv").mkdir()
    (root / "srv" / "daemon.json").write_text('{"inside": true}')
    (root / "etc" / "docker" / "daemon.json").symlink_to("/srv/daemon.json")
    assert read_node_file(str(root), "/etc/docker/daemon.json")["content"] == '{"inside": true}'
    (root / "etc" / "hostname").symlink_to("/etc/hostname")  # a loop inside the root
    assert (
        read_node_file(str(root), "/etc/hostname")["error"] == "too many levels of symbolic links"
    )
    (root / "etc" / "passwd").symlink_to("/nonexistent-on-the-node")
    assert read_node_file(str(root), "/etc/passwd") == {"content": None, "error": "missing"}


def test_merged_usr_unit_directories_are_read_once(root: Path) -> None:
    dropins = root / "usr" / "lib" / "systemd" / "system" / "kubelet.service.d"
    dropins.mkdir(parents=True)
    (dropins / "10-kubeadm.conf").write_text("[Service]\n")
    (root / "lib").symlink_to("usr/lib")
    assert kubelet_unit_files(str(root)) == [
        "/lib/systemd/system/kubelet.service",
        "/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
    ]
