"""Disable kruise-daemon (KruiseDaemon=false): no drain, no version change, but the daemon's
features stop working."""

from __future__ import annotations

from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.daemon_features import (
    STOPS_WORKING as DAEMON_FEATURES,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.wording import (
    count,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.context import (
    Context,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.feature_gates import (
    UNKNOWN_GATES,
    current_gates,
    merged_feature_gates,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.installation import (
    features_in_use_reason,
    features_unused_reason,
    features_use_unknown_reason,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.nodes import (
    Node,
    joined_node_names,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.path_ids import (
    DISABLE,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.paths.path_entry import (
    node_verdict,
    not_needed_entry,
    path_entry,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.risk import (
    RiskLevel,
    max_risk,
    webhook_note,
)

ALREADY_DISABLED = "kruise-daemon is already disabled (KruiseDaemon=false)"


def disable_node_verdict(ctx: Context, node: Node) -> dict[str, str]:
    if ctx.daemon_disabled:
        return node_verdict("not needed", ALREADY_DISABLED)
    if node.target_compatible:
        return node_verdict(
            "not needed",
            f"kruise-daemon {ctx.line} works on this node; disabling removes it here too",
        )
    return node_verdict("yes", "no kruise-daemon pod runs on any node once the DaemonSet is gone")


def disable_path(ctx: Context) -> dict[str, Any]:
    if ctx.daemon_disabled:
        return path_entry(
            DISABLE,
            "not needed",
            [ALREADY_DISABLED],
            risk=("low", []),
            nodes=[],
            features_lost=DAEMON_FEATURES,
        )
    blocking = ctx.blocking
    if not blocking:
        return not_needed_entry(ctx, DISABLE)
    reasons = [
        f"kruise-daemon then runs on no node, so it cannot fail on the "
        f"{count(len(blocking), 'node')} that {ctx.line} cannot serve "
        f"({joined_node_names(blocking)})",
        "no drain and no version change: one change of featureGates",
    ]
    notes = [
        "featureGates is one comma-separated string: the other gates are kept (merged, never "
        "overwritten); the chart skips the DaemonSet only on the exact text KruiseDaemon=false",
        "kubernetes.core.helm resets values unless they are reused or passed in full",
    ]
    if ctx.install.method == "manifests":
        notes = notes[:1]
    return path_entry(
        DISABLE,
        "yes",
        reasons,
        risk=_disable_risk(ctx),
        nodes=blocking,
        features_lost=DAEMON_FEATURES,
        helm_changes=_disable_helm_changes(ctx),
        notes=notes,
    )


def _disable_risk(ctx: Context) -> tuple[RiskLevel, list[str]]:
    in_use = ctx.install.features_in_use
    level: RiskLevel
    if in_use:
        level = "high"
        reasons = [
            features_in_use_reason(ctx.install)
            + "; the webhooks then reject new objects of these kinds and existing ones never "
            "complete"
        ]
    elif in_use is None:
        level = "medium"
        reasons = [features_use_unknown_reason(ctx.install)]
    else:
        level = "low"
        reasons = [features_unused_reason(ctx.install)]
    if ctx.features_wanted:
        level = max_risk(level, "medium")
        reasons.append("you want the daemon's features: disabling gives them up")
    reasons += webhook_note(ctx, drains=False)[1]
    return level, reasons


def _disable_helm_changes(ctx: Context) -> list[str]:
    current = current_gates(ctx.install)
    before = current if current is not None else UNKNOWN_GATES
    after = merged_feature_gates(before)
    if ctx.install.installed is False:
        return [f'install with featureGates: "{after}"']
    if ctx.install.method == "manifests":
        return [
            "manifest edits (OpenKruise was installed from manifests, not Helm): "
            f"--feature-gates={before} -> --feature-gates={after} in the "
            "kruise-controller-manager Deployment",
            "delete the kruise-daemon DaemonSet (manifests do not skip it)",
        ]
    return [
        f'featureGates: "{before}" -> "{after}"',
        "the kruise-daemon DaemonSet is deleted by the upgrade",
    ]
