"""Session fixtures: the real lab fleet and the real control plane (each started once, when a
test first needs it) and helpers to run Ansible against them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.release import __version__ as ansible_core_version

from kruise_cri.lab.cluster_objects import client_for
from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.fleet import RunningFleet, inventory_for, node_python
from kruise_cri.lab.nodes import NODES
from tests.integration.ansible_run import run_module


def ansible_version() -> tuple[int, int]:
    major, minor = ansible_core_version.split(".")[:2]
    return int(major), int(minor)


@pytest.fixture(scope="session")
def bare_python() -> Path:
    """A Python with no third-party packages, as on a production node: the oldest CPython the
    controller manages (3.6 under ansible-core 2.16, 3.8 under 2.17+)."""
    oldest = "3.6" if ansible_version() < (2, 17) else "3.8"
    python = node_python(oldest)
    version = subprocess.run(
        [str(python), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert version.startswith(f"Python {oldest}."), version
    probe = subprocess.run(
        [str(python), "-c", "import yaml"], capture_output=True, text=True, check=False
    )
    assert probe.returncode != 0, "the node interpreter must not see third-party packages"
    return python


@pytest.fixture(scope="session")
def fleet() -> Iterator[RunningFleet]:
    with RunningFleet(NODES, progress=sys.stderr) as running:
        yield running


@pytest.fixture(scope="session")
def fleet_inventory(fleet: RunningFleet, bare_python: Path, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("inventory") / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory_for(fleet.roots, bare_python)))
    return path


@pytest.fixture(scope="session")
def fleet_facts(fleet_inventory: Path) -> dict[str, dict[str, Any]]:
    """cri_facts of every lab node, from one `ansible kube_nodes -m cri_facts` run."""
    results = run_module(
        fleet_inventory,
        "kube_nodes",
        "kruise_cri.remediation.cri_facts",
        {"host_root": "{{ kruise_cri_host_root }}"},
    )
    for host, result in results.items():
        assert not result.get("failed"), f"{host}: {result.get('msg')}"
    return {host: result["ansible_facts"]["kruise_cri"] for host, result in results.items()}


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on loopback."""
    with ControlPlane(progress=sys.stderr) as plane:
        yield plane


@pytest.fixture(scope="session")
def kube(control_plane: ControlPlane):
    """An administrator's client of the session's control plane."""
    return client_for(control_plane.kubeconfig)
