"""Remediation plan: from node facts and cluster facts, which way out fits and what it costs.

Controller-only (Python 3.11), pure: no I/O. ``build_plan`` takes each node's ``kruise_cri`` facts
(docs/facts.md) and, optionally, the cluster's ``kruise`` facts (docs/cluster-facts.md), and says
per node and per path (migrate the runtime, pin OpenKruise 1.5.5, disable kruise-daemon, nothing
to do) whether it fits, what it costs and how risky it is, then recommends one path with the exact
``ansible-playbook`` command lines. docs/planner.md describes the rules and the output.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.cluster_findings import (
    cluster_findings,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.commands import (
    INVENTORY_PLACEHOLDER,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.context import (
    Context,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.inputs import (
    checked_inputs,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.installation import (
    installation_from,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.node_gathering import (
    gather_nodes,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.nodes import (
    Node,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.path_ids import (
    DISABLE,
    MIGRATE,
    NOTHING,
    PATH_IDS,
    PIN,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.paths.disable import (
    disable_node_verdict,
    disable_path,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.paths.migrate import (
    migrate_node_verdict,
    migrate_path,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.paths.nothing import (
    nothing_path,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.paths.pin import (
    pin_node_verdict,
    pin_path,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.recommendation import (
    recommend,
)

PLAN_SCHEMA = 1


def build_plan(
    node_facts: Mapping[str, Any],
    cluster: Mapping[str, Any] | None,
    *,
    target_version: str,
    node_names: Mapping[str, str] | None = None,
    shipped_playbooks: Collection[str] = (),
    inventory_hint: str | None = None,
    daemon_features_wanted: bool = False,
) -> dict[str, Any]:
    """Plan the way out for ``target_version``; JSON-serialisable, same input -> same output."""
    inputs = checked_inputs(
        node_facts,
        cluster,
        target_version=target_version,
        node_names=node_names,
        shipped_playbooks=shipped_playbooks,
        inventory_hint=inventory_hint,
        daemon_features_wanted=daemon_features_wanted,
    )
    install = installation_from(inputs.cluster)
    nodes, findings = gather_nodes(
        inputs.node_facts, inputs.node_names, inputs.cluster, inputs.line, install
    )
    ctx = Context(
        version=inputs.version,
        line=inputs.line,
        nodes=tuple(nodes),
        install=install,
        features_wanted=inputs.features_wanted,
        inventory=inputs.inventory_hint or INVENTORY_PLACEHOLDER,
        shipped=inputs.shipped_playbooks,
    )
    for node in ctx.nodes:
        node.paths = _node_verdicts(ctx, node)
    findings += cluster_findings(ctx, inputs.cluster)
    paths = {
        MIGRATE: migrate_path(ctx),
        PIN: pin_path(ctx),
        DISABLE: disable_path(ctx),
        NOTHING: nothing_path(ctx),
    }
    return {
        "schema": PLAN_SCHEMA,
        "target_version": inputs.version,
        "target_line": inputs.line,
        "cluster_known": inputs.cluster is not None,
        "installation": install.to_dict(),
        "recommendation": recommend(ctx, paths),
        "paths": [paths[path_id] for path_id in PATH_IDS],
        "nodes": [node.to_dict() for node in ctx.nodes],
        "findings": findings,
    }


def _node_verdicts(ctx: Context, node: Node) -> dict[str, dict[str, str]]:
    """Each fix's verdict on one node (nothing_to_do has none per node)."""
    return {
        MIGRATE: migrate_node_verdict(ctx, node),
        PIN: pin_node_verdict(ctx, node),
        DISABLE: disable_node_verdict(ctx, node),
    }
