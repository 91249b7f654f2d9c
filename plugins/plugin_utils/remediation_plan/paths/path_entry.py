"""The shape of a path in the plan, and of a path's verdict on one node."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.context import (
    Context,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.nodes import (
    Node,
    node_names,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.path_ids import (
    PATH_TITLES,
    Feasible,
    NodeFeasible,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.risk import (
    RiskLevel,
)


def path_entry(
    path_id: str,
    feasible: Feasible,
    reasons: list[str],
    *,
    risk: tuple[RiskLevel, list[str]],
    nodes: list[Node],
    features_lost: Iterable[str] = (),
    drained: Iterable[Node] = (),
    helm_changes: Iterable[str] = (),
    notes: Iterable[str] = (),
) -> dict[str, Any]:
    drained_names = node_names(drained)
    return {
        "id": path_id,
        "title": PATH_TITLES[path_id],
        "feasible": feasible,
        "reasons": reasons,
        "cost": {
            "features_lost": list(features_lost),
            "nodes_drained": len(drained_names),
            "drained_nodes": drained_names,
            "helm_changes": list(helm_changes),
            "notes": list(notes),
        },
        "risk": {"level": risk[0], "reasons": risk[1]},
        "nodes": node_names(nodes),
    }


def not_needed_entry(ctx: Context, path_id: str) -> dict[str, Any]:
    """A fix that no node needs: the target works everywhere."""
    return path_entry(
        path_id,
        "not needed",
        [f"every node can run kruise-daemon {ctx.line}"],
        risk=("low", []),
        nodes=[],
    )


def node_verdict(feasible: NodeFeasible, why: str) -> dict[str, str]:
    return {"feasible": feasible, "why": why}
