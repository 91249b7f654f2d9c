"""The compatibility model against the real kruise-daemon.

kruise-daemon 1.5.5 and 1.6.0 are built from their Go module (``github.com/openkruise/kruise``)
and run, as their DaemonSet runs them, against every lab node's real runtimes: the node's
``/var/run`` at ``/hostvarrun``, ``NODE_NAME``, a kubeconfig of a real kube-apiserver holding
OpenKruise's CRDs. For each node and version, what ``cri_facts`` predicted (starts or not, which
runtimes it adds and in what order, and how it ends when it does not start) must be what the
daemon did; and what it printed must be what kruise-cri's crash analysis recognises.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.daemon_crash import (
    crash_cause,
)

from kruise_cri.lab.fleet import RunningFleet, inventory_for
from kruise_cri.lab.kruise_daemon_run import DaemonRun
from kruise_cri.lab.nodes import (
    CONTAINERD_ENDPOINT,
    NODES,
    ContainerdSpec,
    NodeSpec,
    kubeadm_node_files,
)
from kruise_cri.lab.openkruise_build import OPENKRUISE_VERSIONS
from tests.integration.ansible_run import run_module
from tests.integration.real_daemon_helpers import (
    assert_model_matches,
    install_crds,
    run_every_daemon,
    tail,
)
from tests.integration.remediation_helpers import kruise_plane_fixtures

pytestmark = pytest.mark.real_nodes

# Two more kinds, for this test only: Docker's containerd with its CRI plugin off, alone (the
# kubelet pointed at it) and next to Docker without dockershim (no kubelet running yet).
EXTRA_NODES = (
    NodeSpec(
        name="node-containerd-cri-off",
        description="containerd 1.6.20 with CRI disabled, the kubelet's endpoint",
        containerds=(ContainerdSpec("containerd-1.6", cri=False),),
        files=kubeadm_node_files(
            (f"--container-runtime-endpoint={CONTAINERD_ENDPOINT}",), "systemd"
        ),
        compatible_lines=frozenset(),
        kruise_daemon_1_6_exit_code=2,
    ),
    NodeSpec(
        name="node-docker-without-dockershim",
        description="Docker 20.10 on a CRI-disabled containerd 1.6, no dockershim",
        containerds=(ContainerdSpec("containerd-1.6", cri=False),),
        with_docker=True,
        files={},
        compatible_lines=frozenset(),
        kruise_daemon_1_6_exit_code=2,
    ),
)
ALL_NODES = (*NODES, *EXTRA_NODES)
PLANE_NODES = {node.name: ("containerd://1.7.24", node.kubelet_version) for node in ALL_NODES}
plane, kube, charts = kruise_plane_fixtures(PLANE_NODES, "real-daemon")

# What the real daemons printed when this was first measured: the line that ends them.
PRINTED = {
    ("node-containerd-1-4", "v1.6.0"): (2, "unknown service runtime.v1.ImageService"),
    ("node-containerd-cri-off", "v1.6.0"): (2, "unknown service runtime.v1.ImageService"),
    ("node-docker-dockershim", "v1.6.0"): (255, "CRI v1 runtime API is not implemented"),
}


@pytest.fixture(scope="module")
def extra_fleet() -> Iterator[RunningFleet]:
    with RunningFleet(EXTRA_NODES) as running:
        yield running


@pytest.fixture(scope="module")
def all_facts(
    fleet_facts: dict[str, dict[str, Any]],
    extra_fleet: RunningFleet,
    bare_python: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, dict[str, Any]]:
    inventory = tmp_path_factory.mktemp("extra-inventory") / "hosts.yml"
    inventory.write_text(yaml.safe_dump(inventory_for(extra_fleet.roots, bare_python)))
    results = run_module(
        inventory,
        "kube_nodes",
        "kruise_cri.remediation.cri_facts",
        {"host_root": "{{ kruise_cri_host_root }}"},
    )
    extra = {host: result["ansible_facts"]["kruise_cri"] for host, result in results.items()}
    return {**fleet_facts, **extra}


@pytest.fixture(scope="module")
def daemon_runs(
    fleet: RunningFleet, extra_fleet: RunningFleet, plane, charts, tmp_path_factory
) -> dict[tuple[str, str], DaemonRun]:
    install_crds(plane, charts, tmp_path_factory.mktemp("real-daemon-values"))
    roots = {**fleet.roots, **extra_fleet.roots}
    var_runs = {node.name: roots[node.name].node_path("run") for node in ALL_NODES}
    return run_every_daemon(var_runs, Path(plane.kubeconfig), tmp_path_factory.mktemp("logs"))


@pytest.mark.parametrize("version", OPENKRUISE_VERSIONS)
@pytest.mark.parametrize("node", ALL_NODES, ids=[node.name for node in ALL_NODES])
def test_model_says_what_the_real_daemon_does(
    daemon_runs: dict[tuple[str, str], DaemonRun],
    all_facts: dict[str, dict[str, Any]],
    node,
    version: str,
) -> None:
    assert_model_matches(daemon_runs[(node.name, version)], all_facts[node.name])


@pytest.mark.parametrize(("node_name", "version"), sorted(PRINTED))
def test_what_the_real_daemon_prints_is_recognised(
    daemon_runs: dict[tuple[str, str], DaemonRun], node_name: str, version: str
) -> None:
    run = daemon_runs[(node_name, version)]
    exit_code, needle = PRINTED[(node_name, version)]
    assert run.exit_code == exit_code, tail(run)
    assert needle in run.log, tail(run)
    # The kubelet keeps only the exit code (the chart sets no terminationMessagePolicy); the
    # cause is named from it alone, and from the log's last lines when a user has them.
    from_log = crash_cause(run.exit_code, tail(run))
    assert from_log is not None and "CRI v1" in from_log, from_log
    assert crash_cause(run.exit_code, None) is not None


def test_the_lab_nodes_say_how_kruise_1_6_really_ends(
    daemon_runs: dict[tuple[str, str], DaemonRun],
) -> None:
    """The kwok lab writes each node's crash-looping daemon pod from NodeSpec; the real daemon
    must agree with it, or the quick lab tells a story the real one does not."""
    for node in ALL_NODES:
        run = daemon_runs[(node.name, "v1.6.0")]
        assert run.exit_code == node.kruise_daemon_1_6_exit_code, (node.name, tail(run))
