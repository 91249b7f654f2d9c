"""Migrate to a containerd that serves CRI v1: Docker nodes move to containerd, containerd 1.5 or
older is upgraded in place; each of them is drained."""

from __future__ import annotations

from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    BRIDGE_LINE,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.wording import (
    count,
    joined_names,
    pronoun,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.kruise_compat import (
    V1,
    cri_apis_of_line,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.commands import (
    CONTAINERD_ARCHIVE_VAR,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.context import (
    Context,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.nodes import (
    Node,
    joined_node_names,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.path_ids import (
    MIGRATE,
    Feasible,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.paths.path_entry import (
    node_verdict,
    not_needed_entry,
    path_entry,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.risk import (
    RiskLevel,
    max_risk,
    unknown_note,
    webhook_note,
)


def migrate_node_verdict(ctx: Context, node: Node) -> dict[str, str]:
    if node.target_compatible:
        return node_verdict("not needed", f"kruise-daemon {ctx.line} works on this node")
    if node.docker:
        why = (
            "the kubelet runs Docker: cordon and drain, switch the kubelet to containerd, uncordon"
        )
        if node.target_compatible is None:
            why += (
                f" (whether kruise-daemon {ctx.line} works on it now is unknown; "
                "afterwards it does)"
            )
        return node_verdict("yes", why)
    if node.runtime is None:
        return node_verdict(
            "unknown", "the node's runtime is unknown: run kruise_cri.remediation.assess on it"
        )
    if node.old_containerd:
        return node_verdict(
            "yes",
            f"containerd {node.runtime_version or '(version unknown)'} serves only CRI v1alpha2: "
            "cordon and drain, upgrade containerd to 1.6 or newer from its release archive "
            f"({CONTAINERD_ARCHIVE_VAR}), uncordon",
        )
    apis = set(node.cri_api_versions or ())
    if apis == {V1} and V1 not in cri_apis_of_line(ctx.line):
        return node_verdict(
            "no",
            f"not a Docker node: {node.runtime} serves only CRI v1, which kruise-daemon "
            f"{ctx.line} does not speak; run OpenKruise {BRIDGE_LINE} or newer instead",
        )
    return node_verdict("no", f"not a Docker node ({node.runtime}): {node.reason}")


def migrate_path(ctx: Context) -> dict[str, Any]:
    migratable = ctx.migratable
    others = ctx.not_migratable
    if not ctx.blocking:
        return not_needed_entry(ctx, MIGRATE)
    reasons: list[str] = []
    docker = [node for node in migratable if node.docker]
    old_containerd = [node for node in migratable if node.old_containerd]
    if docker:
        reasons.append(
            f"{count(len(docker), 'node')} that kruise-daemon {ctx.line} cannot serve "
            f"{'runs' if len(docker) == 1 else 'run'} the kubelet on Docker "
            f"({joined_node_names(docker)}): moving {pronoun(len(docker))} to containerd fixes "
            f"{pronoun(len(docker))}"
        )
    if old_containerd:
        reasons.append(
            f"{count(len(old_containerd), 'node')} that kruise-daemon {ctx.line} cannot serve "
            f"{'runs' if len(old_containerd) == 1 else 'run'} containerd 1.5 or older "
            f"({joined_node_names(old_containerd)}): upgrading containerd to 1.6 or newer fixes "
            f"{pronoun(len(old_containerd))}"
        )
    for node in others:
        reasons.append(f"{node.name}: {node.paths[MIGRATE]['why']}")
    feasible: Feasible = "yes" if not others else ("partly" if migratable else "no")
    if not migratable:
        return path_entry(MIGRATE, feasible, reasons, risk=("low", []), nodes=[])
    level, risk_reasons = _migrate_risk(ctx)
    notes = [
        "the kubelet restarts on the new containerd; node annotation kubeadm.alpha.kubernetes.io/"
        "cri-socket is updated",
    ]
    if docker:
        notes += [
            "Docker's own containerd (containerd.io) must stay installed: removing docker-ce can "
            "remove it (kubespray #8431)",
            "until every Docker node is migrated, the cluster runs mixed runtimes",
        ]
    if old_containerd:
        notes.append(
            f"the containerd upgrade needs a release archive of containerd 1.6 or newer "
            f"({CONTAINERD_ARCHIVE_VAR}); the old binaries are kept for the rollback"
        )
    return path_entry(
        MIGRATE,
        feasible,
        reasons,
        risk=(level, risk_reasons),
        nodes=migratable,
        drained=migratable,
        notes=notes,
    )


def _migrate_risk(ctx: Context) -> tuple[RiskLevel, list[str]]:
    migratable = ctx.migratable
    level: RiskLevel = "medium"
    reasons = [
        f"drains {count(len(migratable), 'node')}, one at a time: pods are evicted and "
        "rescheduled; PodDisruptionBudgets can stall a drain (kruise_info does not read them)",
    ]
    if any(node.docker for node in migratable):
        reasons.append(
            "images pulled by Docker are not visible to containerd: pods on a migrated node pull "
            "their images again"
        )
    if len(migratable) == len(ctx.nodes) == 1:
        level = "high"
        reasons.append("single-node cluster: draining it stops every workload")
    carried = [node.name for node in migratable if node.carried_registries]
    if carried:
        reasons.append(
            f"registry mirrors or insecure registries in /etc/docker/daemon.json on "
            f"{joined_names(carried)} must be carried over to containerd (hosts.toml)"
        )
    webhook_level, webhook_reasons = webhook_note(ctx, drains=True)
    level = max_risk(level, webhook_level)
    reasons += webhook_reasons
    reasons += unknown_note(ctx, "they may need migrating too")
    return level, reasons
