"""Pin OpenKruise 1.5.5: kruise-daemon 1.5 speaks CRI v1 and v1alpha2, at the price of a
downgrade (or of staying behind) and of the feature gates 1.5.5 does not know."""

from __future__ import annotations

from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    BRIDGE_LINE,
    BRIDGE_RELEASE,
    BRIDGE_RELEASE_DATE,
    line_key,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.wording import (
    count,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.context import (
    Context,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.feature_gates import (
    gates_unknown_to_bridge,
    gates_without,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.nodes import (
    Node,
    joined_node_names,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.path_ids import (
    PIN,
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
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.versions import (
    major_minor,
)


def pin_node_verdict(ctx: Context, node: Node) -> dict[str, str]:
    if ctx.line == BRIDGE_LINE:
        if node.target_compatible:
            return node_verdict(
                "not needed", f"the target is already on the {BRIDGE_LINE} line and works here"
            )
        return node_verdict(
            "no",
            f"the target is already on the {BRIDGE_LINE} line: pinning changes nothing here",
        )
    if node.bridge_compatible is None:
        return node_verdict(
            "unknown",
            f"whether kruise-daemon {BRIDGE_LINE} works here is unknown: {node.reason}",
        )
    if node.target_compatible:
        if node.bridge_compatible:
            return node_verdict(
                "not needed", f"kruise-daemon {ctx.line} works on this node ({BRIDGE_LINE} too)"
            )
        return node_verdict(
            "no", f"pinning {BRIDGE_RELEASE} would break this node: {node.bridge_reason}"
        )
    return node_verdict("yes" if node.bridge_compatible else "no", node.bridge_reason)


def pin_path(ctx: Context) -> dict[str, Any]:
    blocking = ctx.blocking
    if not blocking:
        return not_needed_entry(ctx, PIN)
    if ctx.line == BRIDGE_LINE:
        return path_entry(
            PIN,
            "no",
            [
                f"the target {ctx.version} is already on the {BRIDGE_LINE} line: pinning "
                f"{BRIDGE_RELEASE} does not change the CRI API kruise-daemon speaks"
            ],
            risk=("low", []),
            nodes=[],
        )
    fixed = [node for node in blocking if node.bridge_compatible]
    stay_broken = [node for node in blocking if node.bridge_compatible is False]
    unknown = [node for node in blocking if node.bridge_compatible is None]
    broken_by_pin = [
        node for node in ctx.nodes if node.target_compatible and node.bridge_compatible is False
    ]
    reasons: list[str] = []
    if fixed:
        reasons.append(
            f"kruise-daemon {BRIDGE_LINE} works on {count(len(fixed), 'node')} that "
            f"{ctx.line} cannot serve ({joined_node_names(fixed)}): it speaks CRI v1 and "
            "v1alpha2"
        )
    reasons += [f"{node.name}: {node.bridge_reason}" for node in stay_broken]
    if unknown:
        reasons.append(
            f"whether kruise-daemon {BRIDGE_LINE} works on {joined_node_names(unknown)} is unknown"
        )
    reasons += [
        f"{node.name} works with {ctx.line} but not with {BRIDGE_LINE}: {node.bridge_reason}"
        for node in broken_by_pin
    ]
    if not fixed:
        feasible: Feasible = "no"
    elif stay_broken or unknown or broken_by_pin:
        feasible = "partly"
    else:
        feasible = "yes"
    changes, notes = _pin_helm_changes(ctx)
    if line_key(ctx.line) > line_key(BRIDGE_LINE):
        notes.append(
            f"{BRIDGE_RELEASE} ({BRIDGE_RELEASE_DATE}) is the last {BRIDGE_LINE} release: "
            f"features and fixes of {ctx.line} are not available until the upgrade to "
            f"{ctx.version}"
        )
    return path_entry(
        PIN,
        feasible,
        reasons,
        risk=_pin_risk(ctx),
        nodes=fixed,
        helm_changes=changes,
        notes=notes,
    )


def _pin_helm_changes(ctx: Context) -> tuple[list[str], list[str]]:
    """(helm_changes, notes) of pinning 1.5.5."""
    install = ctx.install
    unknown_gates = gates_unknown_to_bridge(install.feature_gates)
    gate_change = (
        [
            f'featureGates: "{install.feature_gates}" -> '
            f'"{gates_without(install.feature_gates or "", unknown_gates)}" '
            f"({BRIDGE_RELEASE} does not know {', '.join(unknown_gates)})"
        ]
        if unknown_gates
        else []
    )
    if install.installed is False:
        return [f"install chart kruise {BRIDGE_RELEASE} instead of {ctx.version}"], []
    current = install.chart_version or install.version
    if install.method == "manifests":
        return [
            f"manifest edits (OpenKruise was installed from manifests, not Helm): image "
            f"openkruise/kruise-manager:v{current or '<current>'} -> v{BRIDGE_RELEASE} in the "
            "kruise-controller-manager Deployment and the kruise-daemon DaemonSet",
            f"apply the {BRIDGE_RELEASE} CRDs (rendered from chart kruise {BRIDGE_RELEASE})",
            *gate_change,
        ], []
    if current == BRIDGE_RELEASE:
        return [f"chart kruise stays at {BRIDGE_RELEASE} (no change)", *gate_change], []
    changes = [
        f"chart version {current or '<installed>'} -> {BRIDGE_RELEASE} (image "
        f"openkruise/kruise-manager:v{BRIDGE_RELEASE})",
        f"CRDs re-applied from chart {BRIDGE_RELEASE} (the chart keeps them in templates/)",
        *gate_change,
    ]
    return changes, ["values are reused: featureGates and daemon.socketLocation stay as set"]


def _pin_risk(ctx: Context) -> tuple[RiskLevel, list[str]]:
    install = ctx.install
    level: RiskLevel = "low"
    reasons: list[str] = []
    installed_line = major_minor(install.line) or (0, 0)
    if not install.known:
        level = "medium"
        reasons.append(
            "the installed OpenKruise version is unknown (no cluster facts): from 1.6 or newer "
            f"this is a downgrade to {BRIDGE_RELEASE}"
        )
    elif install.installed and installed_line > line_key(BRIDGE_LINE):
        level = "high" if installed_line > (1, 6) else "medium"
        reasons += [
            f"downgrade across minor versions ({install.version} -> {BRIDGE_RELEASE}): "
            "upstream does not test downgrades",
            f"the {BRIDGE_RELEASE} CRDs replace the current ones: fields added after "
            f"{BRIDGE_LINE} are pruned from the objects",
        ]
    unknown_gates = gates_unknown_to_bridge(install.feature_gates)
    if unknown_gates:
        level = "high"
        reasons.append(
            f"kruise-manager {BRIDGE_RELEASE} exits on feature gates it does not know "
            f"({', '.join(unknown_gates)}): remove them from featureGates in the same change"
        )
    reasons += webhook_note(ctx, drains=False)[1]
    if ctx.unknown:
        level = max_risk(level, "medium")
        reasons += unknown_note(ctx, f"kruise-daemon {BRIDGE_LINE} may not work there either")
    return level, reasons
