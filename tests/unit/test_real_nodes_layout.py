"""How a real node's kind becomes files in its root, and the kinds `lab up --nodes` takes."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from kruise_cri.lab.nodes import ContainerdSpec
from kruise_cri.lab.real_nodes import (
    CRI_OFF,
    CRI_ON,
    REAL_NODE_KINDS,
    lay_out_node,
    node_sockets,
    parse_kinds,
)


def test_kinds_all_and_lists() -> None:
    assert parse_kinds("all") == list(REAL_NODE_KINDS)
    assert parse_kinds(" containerd-1-7, containerd-1-4,containerd-1-7 ") == [
        "containerd-1-7",
        "containerd-1-4",
    ]


@pytest.mark.parametrize("text", ["", ",", "containerd-9", "all,docker"])
def test_unknown_kinds_are_named_with_the_known_ones(text: str) -> None:
    with pytest.raises(ValueError, match="use all or a comma-separated list of docker-dockershim"):
        parse_kinds(text)


def test_docker_with_its_cri_disabled_containerd(tmp_path: Path) -> None:
    spec = REAL_NODE_KINDS["docker-cri-off"]
    lay_out_node(tmp_path, spec, "kcn9", "ssh-ed25519 AAAA test\n")
    assert (tmp_path / "etc/hostname").read_text() == "kcn9\n"
    keys = tmp_path / "root/.ssh/authorized_keys"
    assert keys.read_text() == "ssh-ed25519 AAAA test\n"
    assert oct(keys.stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "etc/containerd/config.toml").read_text() == CRI_OFF
    daemon_json = json.loads((tmp_path / "etc/docker/daemon.json").read_text())
    assert daemon_json["insecure-registries"] == spec.docker_daemon_json["insecure-registries"]
    # The image's own containerd (1.6): no binaries put beside it, no drop-in.
    assert not (tmp_path / "usr/local/bin").exists()
    assert not (tmp_path / "etc/systemd/system/containerd.service.d").exists()
    wants = tmp_path / "etc/systemd/system/multi-user.target.wants"
    assert os.readlink(wants / "kruise-cri-cgroups.service") == (
        "/etc/systemd/system/kruise-cri-cgroups.service"
    )
    assert not (tmp_path / "etc/systemd/system/docker.service").exists()  # not masked
    assert node_sockets(spec) == ["run/containerd/containerd.sock", "run/docker.sock"]


def test_a_node_without_docker_masks_it(tmp_path: Path) -> None:
    # containerd 1.7's kind, on the image's own containerd so no build is fetched.
    spec = dataclasses.replace(
        REAL_NODE_KINDS["containerd-1-7"], containerds=(ContainerdSpec("containerd-1.6"),)
    )
    lay_out_node(tmp_path, spec, "kcn8", "key\n")
    assert (tmp_path / "etc/containerd/config.toml").read_text() == CRI_ON
    for unit in ("docker.service", "docker.socket"):
        assert os.readlink(tmp_path / "etc/systemd/system" / unit) == "/dev/null"
