"""Findings about the cluster as a whole: missing facts, nodes to assess or to add to the
inventory, kruise-daemon pods crash-looping where they should work."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.findings import (
    Finding,
    finding,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.wording import (
    count,
    joined_names,
    natural_key,
    pronoun,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.fact_values import (
    as_list,
    as_mapping,
    as_text,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.context import (
    Context,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.installation import (
    features_use_unknown_reason,
)

# What each fact kruise_info could not read leaves unknown.
UNREAD_CONSEQUENCES = {
    "nodes": "the cluster's nodes could not be listed, so only the nodes with kruise_cri facts "
    "are planned and others may exist",
    "daemon": "whether kruise-daemon's DaemonSet exists could not be read, so its health is "
    "unknown",
    "daemon_pods": "kruise-daemon's pods could not be listed, so whether any crash-loops is "
    "unknown",
}


def cluster_findings(ctx: Context, cluster: Mapping[str, Any] | None) -> list[Finding]:
    findings: list[Finding] = []
    if cluster is None:
        findings.append(
            finding(
                "warning",
                "cluster",
                "no cluster facts (kruise_info) were given: the installed OpenKruise version, "
                "its install method, feature gates and whether the daemon's features are in use "
                "are unknown, and only nodes with kruise_cri facts are planned",
            )
        )
    elif ctx.install.installed is False:
        findings.append(
            finding(
                "info",
                "cluster",
                f"OpenKruise is not installed in this cluster: the plan is for installing "
                f"{ctx.version}",
            )
        )
    elif ctx.install.installed is None:
        findings.append(
            finding(
                "warning",
                "cluster",
                (
                    ctx.install.install_error
                    or "whether OpenKruise is installed is unknown: kruise_info could not read it"
                )
                + "; the plan neither installs OpenKruise nor takes it for absent",
            )
        )
    if ctx.install.installed is not None and ctx.install.install_error:
        findings.append(
            finding(
                "warning",
                "install",
                ctx.install.install_error,
            )
        )
    for fact, reason in ctx.install.unread:
        findings.append(
            finding("warning", fact, f"{UNREAD_CONSEQUENCES.get(fact, fact)}: {reason}")
        )
    if ctx.install.use_unchecked:
        findings.append(
            finding(
                "warning",
                "feature_use",
                features_use_unknown_reason(ctx.install)
                + ": the plan treats the daemon's features as possibly in use",
            )
        )
    unknown = [node.name for node in ctx.nodes if node.source == "none"]
    if unknown:
        findings.append(
            finding(
                "warning",
                "nodes",
                f"{count(len(unknown), 'node')} with neither facts nor cluster information "
                f"({joined_names(unknown)}): run kruise_cri.remediation.assess on "
                f"{pronoun(len(unknown))}",
            )
        )
    for node in ctx.nodes:
        if node.blocking and node.migratable and node.host is None:
            findings.append(
                finding(
                    "warning",
                    node.name,
                    f"node {node.name} is not in the inventory: add it (as a host of the nodes "
                    "group) before migrating it",
                )
            )
    return findings + _crash_looping_findings(ctx, cluster)


def _crash_looping_findings(ctx: Context, cluster: Mapping[str, Any] | None) -> list[Finding]:
    """kruise-daemon pods crash-looping on nodes whose verdict says the running line works."""
    daemon = as_mapping(as_mapping(cluster).get("daemon"))
    compatible = {node.name for node in ctx.nodes if node.target_compatible}
    findings: list[Finding] = []
    for pod in sorted(
        (as_mapping(item) for item in as_list(daemon.get("crash_looping"))),
        key=lambda item: natural_key(str(item.get("node") or "")),
    ):
        node_name = as_text(pod.get("node"))
        if node_name in compatible and ctx.install.line == ctx.line:
            exit_code = pod.get("last_exit_code")
            how = f" (exit {exit_code})" if exit_code is not None else ""
            why = pod.get("cause") or pod.get("last_message") or ""
            findings.append(
                finding(
                    "warning",
                    node_name,
                    f"kruise-daemon pod {pod.get('pod')} is crash-looping on {node_name}{how}, "
                    f"whose verdict for {ctx.line} is compatible: {why}",
                )
            )
    return findings
