"""How a path is run: its ansible-playbook command line, or the steps to do it by hand."""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    BRIDGE_RELEASE,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.context import (
    Context,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.feature_gates import (
    UNKNOWN_GATES,
    current_gates,
    gates_unknown_to_bridge,
    gates_without,
    merged_feature_gates,
    set_gates_flag,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.installation import (
    Installation,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.nodes import (
    Node,
    joined_node_names,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.path_ids import (
    DISABLE,
    MIGRATE,
    PIN,
)

COLLECTION = "kruise_cri.remediation"
INVENTORY_PLACEHOLDER = "INVENTORY"
# migrate_runtime upgrades containerd 1.5 or older from a release archive the user downloads.
CONTAINERD_ARCHIVE_VAR = "kruise_cri_containerd_archive"
CONTAINERD_ARCHIVE_PLACEHOLDER = "CONTAINERD_ARCHIVE"
CONTAINERD_RELEASES = "github.com/containerd/containerd/releases"
MANUAL_STEPS_DOC = "docs/planner.md#doing-it-by-hand"
HELM_REPO = "https://openkruise.github.io/charts/"


@dataclass(frozen=True)
class PlaybookCall:
    """How a path is run: the collection playbook, its extra vars, and whether it takes --limit."""

    playbook: str
    extra_vars: tuple[tuple[str, str], ...] = ()
    limit_to_nodes: bool = False

    @property
    def fqcn(self) -> str:
        return f"{COLLECTION}.{self.playbook}"


PLAYBOOK_CALLS: dict[str, PlaybookCall] = {
    MIGRATE: PlaybookCall("migrate_runtime", limit_to_nodes=True),
    PIN: PlaybookCall("pin_kruise", extra_vars=(("kruise_cri_target_version", BRIDGE_RELEASE),)),
    DISABLE: PlaybookCall("disable_kruise_daemon"),
}


def playbook_launch(path_id: str, nodes: Iterable[Node] = ()) -> dict[str, Any]:
    """How a path is run, for a machine (an AWX workflow's next job): the collection playbook,
    the inventory hosts it is limited to (empty: every node) and its extra vars."""
    call = PLAYBOOK_CALLS[path_id]
    nodes = list(nodes)
    extra_vars = dict(call.extra_vars)
    if path_id == MIGRATE and any(node.old_containerd for node in nodes):
        extra_vars[CONTAINERD_ARCHIVE_VAR] = CONTAINERD_ARCHIVE_PLACEHOLDER
    return {
        "path": path_id,
        "playbook": call.fqcn,
        "limit": [node.limit_name for node in nodes] if call.limit_to_nodes else [],
        "extra_vars": extra_vars,
    }


def playbook_command(path_id: str, inventory: str, nodes: Iterable[Node] = ()) -> str:
    """The ansible-playbook command line of a path (:func:`playbook_launch`)."""
    launch = playbook_launch(path_id, nodes)
    words = ["ansible-playbook", launch["playbook"], "-i", inventory]
    if launch["limit"]:
        words += ["--limit", ",".join(launch["limit"])]
    for key, value in launch["extra_vars"].items():
        words += ["-e", f"{key}={value}"]
    return " ".join(shlex.quote(word) for word in words)


def runs_by_playbook(ctx: Context, path_id: str) -> bool:
    """Pin and disable change an installed OpenKruise (a Helm release or manifests); with none
    installed there is nothing for them to change."""
    if path_id == MIGRATE:
        return True
    return ctx.install.installed is not False


def manual_steps(ctx: Context, path_id: str, nodes: list[Node]) -> list[str]:
    if path_id == MIGRATE:
        return _manual_migrate(nodes)
    if path_id == PIN:
        return _manual_pin(ctx)
    return _manual_disable(ctx)


def _manual_migrate(nodes: list[Node]) -> list[str]:
    old_containerd = [node for node in nodes if node.old_containerd]
    upgrade = (
        [
            f"on {joined_node_names(old_containerd)} (containerd 1.5 or older): stop containerd, "
            "put the bin/ of containerd 1.6 or newer's release archive in its place (keep the "
            "old binaries), rewrite config.toml as version 2"
        ]
        if old_containerd
        else []
    )
    return [
        f"one node at a time ({joined_node_names(nodes)}): kubectl cordon NODE; kubectl drain "
        "NODE --ignore-daemonsets --delete-emptydir-data",
        "stop the kubelet; stop and disable docker (keep containerd.io installed)",
        *upgrade,
        "write /etc/containerd/config.toml with the CRI plugin enabled, SystemdCgroup matching "
        "the kubelet's cgroupDriver, sandbox_image; carry Docker's registry mirrors and "
        "insecure registries over (hosts.toml); restart containerd",
        "point the kubelet at unix:///run/containerd/containerd.sock (kubeadm-flags.env, or "
        "containerRuntimeEndpoint in its config) and update the node annotation "
        "kubeadm.alpha.kubernetes.io/cri-socket",
        "start the kubelet, wait for Ready and containerd:// in "
        "status.nodeInfo.containerRuntimeVersion, then kubectl uncordon NODE",
    ]


def _helm_install(namespace: str, version: str, options: str = "") -> list[str]:
    return [
        f"helm repo add openkruise {HELM_REPO}",
        f"helm install kruise openkruise/kruise -n {namespace} --create-namespace --version "
        f"{version}{options}",
    ]


def _helm_upgrade(install: Installation, namespace: str, version: str, options: str) -> str:
    return (
        f"helm upgrade {shlex.quote(install.release or 'kruise')} openkruise/kruise "
        f"-n {namespace} --version {version} {options}"
    )


def _manual_pin(ctx: Context) -> list[str]:
    install = ctx.install
    namespace = shlex.quote(install.namespace)
    if install.installed is False:
        return _helm_install(namespace, BRIDGE_RELEASE)
    if install.method == "manifests":
        manifest = f"kruise-{BRIDGE_RELEASE}.yaml"
        return [
            f"helm template kruise openkruise/kruise -n {namespace} --version {BRIDGE_RELEASE} "
            f"(with the values the manifests were made with) > {manifest}",
            f"kubectl apply --server-side --force-conflicts -f {manifest}, then delete what it "
            "no longer renders",
        ]
    unknown_gates = gates_unknown_to_bridge(install.feature_gates)
    gates = (
        " " + set_gates_flag(gates_without(install.feature_gates or "", unknown_gates))
        if unknown_gates
        else ""
    )
    # Not --reuse-values: across chart versions it keeps the old chart's defaults (its
    # manager.image.tag among them), so the pin would not change the image.
    return [_helm_upgrade(install, namespace, BRIDGE_RELEASE, f"--reset-then-reuse-values{gates}")]


def _manual_disable(ctx: Context) -> list[str]:
    install = ctx.install
    namespace = shlex.quote(install.namespace)
    current = current_gates(install)
    gates = merged_feature_gates(current if current is not None else UNKNOWN_GATES)
    if install.installed is False:
        return _helm_install(namespace, shlex.quote(ctx.version), " " + set_gates_flag(gates))
    if install.method == "manifests":
        manager = shlex.quote(install.manager_name or "kruise-controller-manager")
        return [
            f"kubectl -n {namespace} edit deployment {manager}: set --feature-gates={gates}",
            f"kubectl -n {namespace} delete daemonset kruise-daemon",
        ]
    chart_version = shlex.quote(install.chart_version or ctx.version)
    return [
        _helm_upgrade(install, namespace, chart_version, f"--reuse-values {set_gates_flag(gates)}")
    ]
