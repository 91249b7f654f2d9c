"""The plan's nodes: inventory hosts paired with the cluster's Nodes, each from its best source."""

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
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.fact_values import (
    as_list,
    as_mapping,
    as_text,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.installation import (
    Installation,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.node_from_cluster import (
    node_from_cluster,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.node_from_facts import (
    facts_problem,
    node_from_facts,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.nodes import (
    RUNTIME_FAMILIES,
    Node,
)


def gather_nodes(
    facts: Mapping[str, Mapping[str, Any] | None],
    names: Mapping[str, str],
    cluster: Mapping[str, Any] | None,
    line: str,
    install: Installation,
) -> tuple[list[Node], list[Finding]]:
    """Every inventory host and every cluster Node, sorted by name, and what pairing them found."""
    findings: list[Finding] = []
    cluster_nodes: dict[str, Mapping[str, Any]] = {}
    for entry in as_list(as_mapping(cluster).get("nodes")):
        name = as_text(as_mapping(entry).get("name"))
        if name:
            cluster_nodes[name] = entry
    host_of = {name: host for host, name in names.items()}
    nodes: list[Node] = []
    for name in sorted({*host_of, *cluster_nodes}, key=natural_key):
        host = host_of.get(name)
        entry = cluster_nodes.get(name)
        node = _node(name, host, facts.get(host) if host else None, entry, line, install)
        nodes.append(node)
        if host is not None and cluster is not None and entry is None:
            findings.append(
                finding(
                    "warning",
                    name,
                    f"inventory host {host} is not a node of the cluster (no Node named {name}): "
                    "check node_names",
                )
            )
        if entry is not None and node.source == "facts":
            seen = RUNTIME_FAMILIES.get(as_text(entry.get("runtime")) or "")
            if seen and node.runtime and seen != node.runtime:
                findings.append(
                    finding(
                        "warning",
                        name,
                        f"the node's facts say the kubelet runs {node.runtime}, the cluster "
                        f"reports {entry.get('container_runtime_version')}: gather facts again "
                        "after a runtime change",
                    )
                )
    inferred = [node.name for node in nodes if node.source == "cluster"]
    if inferred:
        findings.append(
            finding(
                "info",
                "nodes",
                f"{count(len(inferred), 'node')} without kruise_cri facts ({joined_names(inferred)}): "
                "verdicts inferred from status.nodeInfo (runtime and kubelet version)",
            )
        )
    return nodes, findings


def _node(
    name: str,
    host: str | None,
    facts: Mapping[str, Any] | None,
    entry: Mapping[str, Any] | None,
    line: str,
    install: Installation,
) -> Node:
    """Probed from the host's facts when they hold a verdict, else inferred from the cluster,
    else unknown."""
    if host is None and entry is not None:
        return node_from_cluster(name, host, entry, line, install)
    problem = facts_problem(facts, line)
    if facts is not None and problem is None:
        return node_from_facts(name, host, facts, entry, line)
    if entry is not None:
        node = node_from_cluster(name, host, entry, line, install)
        node.reason = f"{problem}; {node.reason}"
        return node
    cluster_note = (
        "and the cluster facts do not list it"
        if install.known
        else "and no cluster facts were given"
    )
    reason = f"{problem}, {cluster_note}: run kruise_cri.remediation.assess on it"
    return Node(
        name=name,
        host=host,
        source="none",
        confidence="unknown",
        runtime=None,
        runtime_version=None,
        kubelet_version=None,
        cri_api_versions=None,
        target_compatible=None,
        bridge_compatible=None,
        reason=reason,
        bridge_reason=reason,
        carried_registries=[],
        paths={},
    )
