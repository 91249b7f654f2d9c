"""Nothing to do: fits when kruise-daemon works on every node, or is disabled anyway."""

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
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.nodes import (
    cannot_serve,
    fix_before_enabling,
    joined_node_names,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.path_ids import (
    NOTHING,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.paths.path_entry import (
    path_entry,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.risk import (
    UNKNOWN_MARK,
    unknown_note,
)


def nothing_path(ctx: Context) -> dict[str, Any]:
    incompatible = ctx.incompatible
    unknown = ctx.unknown
    if ctx.daemon_disabled:
        reasons = ["kruise-daemon is disabled (KruiseDaemon=false): it runs on no node"]
        if ctx.blocking:
            reasons.append(fix_before_enabling(ctx.line, ctx.blocking))
        return path_entry(
            NOTHING,
            "yes",
            reasons,
            risk=("low", ["the daemon's features stay off while it is disabled"]),
            nodes=ctx.blocking,
            features_lost=DAEMON_FEATURES,
        )
    if incompatible:
        return path_entry(
            NOTHING,
            "no",
            [cannot_serve(ctx.line, incompatible)],
            risk=(
                "high",
                [
                    "kruise-daemon crash-loops or cannot act on those nodes: container "
                    "restarts, image pre-download and probes fail there"
                ],
            ),
            nodes=ctx.blocking,
        )
    if unknown:
        return path_entry(
            NOTHING,
            "partly",
            [
                f"every node with a verdict can run kruise-daemon {ctx.line}; "
                f"{count(len(unknown), 'node')} {UNKNOWN_MARK} ({joined_node_names(unknown)})"
            ],
            risk=("medium", unknown_note(ctx, f"kruise-daemon {ctx.line} may fail there")),
            nodes=unknown,
        )
    return path_entry(
        NOTHING,
        "yes",
        [f"every node ({len(ctx.nodes)}) can run kruise-daemon {ctx.line}"],
        risk=("low", []),
        nodes=[],
    )
