"""Risk levels and the risk notes more than one path carries."""

from __future__ import annotations

from typing import Literal

from ansible_collections.kruise_cri.remediation.plugins.module_utils.wording import (
    count,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.context import (
    Context,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.nodes import (
    joined_node_names,
)

RiskLevel = Literal["low", "medium", "high"]
RISK_ORDER: tuple[RiskLevel, ...] = ("low", "medium", "high")
# Every note on unknown nodes carries it, so the recommendation can tell whether one is there.
UNKNOWN_MARK = "of unknown compatibility"


def max_risk(*levels: RiskLevel) -> RiskLevel:
    return max(levels, key=RISK_ORDER.index)


def unknown_note(ctx: Context, what: str) -> list[str]:
    unknown = ctx.unknown
    if not unknown:
        return []
    return [f"{count(len(unknown), 'node')} {UNKNOWN_MARK} ({joined_node_names(unknown)}): {what}"]


def webhook_note(ctx: Context, *, drains: bool) -> tuple[RiskLevel, list[str]]:
    if not ctx.install.installed:
        return "low", []
    note = (
        "OpenKruise's webhooks use failurePolicy: Fail on pods and pods/eviction: while no "
        "kruise-manager pod is ready, pod creation and evictions fail cluster-wide"
    )
    ready = ctx.install.manager_ready
    if drains and ready is not None and ready < 2:
        return "high", [
            f"{note}; kruise-manager has {count(ready, 'ready replica')}: if it runs on a "
            "drained node, the drain stalls until it is ready again elsewhere"
        ]
    if not drains:
        note += " (as while kruise-manager rolls over to the change)"
    return "low", [note]
