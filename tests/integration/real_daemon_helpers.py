"""Running the real kruise-daemon against nodes and holding its result against the model's
verdict; shared by the host-root fleet's and the real nodes' tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.kruise_compat import line_of

from kruise_cri.lab.kruise_daemon_run import DaemonRun, run_kruise_daemon
from kruise_cri.lab.openkruise_build import OPENKRUISE_VERSIONS, ensure_openkruise_binary
from kruise_cri.lab.pki import ClientIdentity
from kruise_cri.lab.real_nodes import RealNodes
from tests.integration.remediation_helpers import helm_install


def install_crds(plane, charts: Mapping[str, Path], directory: Path) -> None:
    """OpenKruise's CRDs (the daemon's informers watch them), without a DaemonSet of its own."""
    helm_install(plane, charts["1.5.5"], {"featureGates": "KruiseDaemon=false"}, directory)


def run_every_daemon(
    var_runs: Mapping[str, Path], kubeconfig: Path, logs: Path
) -> dict[tuple[str, str], DaemonRun]:
    """Every kruise-daemon version on every host-root node (by name: its /var/run)."""
    runs: dict[tuple[str, str], DaemonRun] = {}
    for version in OPENKRUISE_VERSIONS:
        binary = ensure_openkruise_binary("kruise-daemon", version)
        for node, var_run in var_runs.items():
            runs[(node, version)] = run_kruise_daemon(
                binary,
                version=version,
                node=node,
                var_run=var_run,
                kubeconfig=kubeconfig,
                log_path=logs / f"{node}-{version}.log",
            )
    return runs


# The daemons run outside a pod, with no service account: an administrator's certificate.
DAEMON_RUNS = ClientIdentity("kruise-daemon-runs", "kruise-cri-daemon-runs", ("system:masters",))


def run_every_daemon_on_real_nodes(
    nodes: RealNodes, logs: Path
) -> dict[tuple[str, str], DaemonRun]:
    """Every kruise-daemon version on every booted node, inside the node's mount namespace with
    the node's /run at /hostvarrun, as its DaemonSet's pod would run, against the nodes' own
    cluster with a self-contained kubeconfig."""
    assert nodes.plane is not None
    runs: dict[tuple[str, str], DaemonRun] = {}
    portable = nodes.plane.client_kubeconfig(DAEMON_RUNS, logs / "kubeconfig")
    for version in OPENKRUISE_VERSIONS:
        binary = ensure_openkruise_binary("kruise-daemon", version)
        for node in nodes.nodes.values():
            assert node.init_pid is not None
            runs[(node.name, version)] = run_kruise_daemon(
                Path(node.install(binary, f"/opt/kruise/{version}/kruise-daemon")),
                version=version,
                node=node.name,
                var_run=Path("/run"),
                kubeconfig=Path(node.install(portable, "/etc/kruise/kubeconfig", 0o600)),
                log_path=logs / f"{node.name}-{version}.log",
                node_init_pid=node.init_pid,
            )
    return runs


def canonical(socket: str | None) -> str | None:
    """/var/run is a link to /run on every lab node (and on the hosts the model reads)."""
    if socket and socket.startswith("/var/run/"):
        return socket.removeprefix("/var")
    return socket


def tail(run: DaemonRun) -> str:
    return "\n".join(run.log.splitlines()[-15:])


def assert_model_matches(run: DaemonRun, facts: Mapping[str, Any]) -> None:
    """The node's verdict for the run's line is what the daemon did: whether it starts, the
    runtimes it adds and the first one's socket, or how it ends."""
    verdict = facts["kruise_daemon"][line_of(run.version)]
    assert run.starts == verdict["starts"], f"model: {verdict['reason']}\nreal:\n{tail(run)}"
    if run.starts:
        assert [name for name, _unused in run.runtimes] == verdict["runtimes"], tail(run)
        assert canonical(run.runtimes[0][1]) == canonical(verdict["socket"]), tail(run)
    else:
        predicted = verdict["crash"]
        assert (run.exit_code, run.crash_kind) == (predicted["exit_code"], predicted["kind"]), (
            f"model: {predicted}\nreal:\n{tail(run)}"
        )
