"""A node's verdict from its own kruise_cri facts (docs/facts.md): probed on the node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    BRIDGE_LINE,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.fact_values import (
    as_bool,
    as_list,
    as_mapping,
    as_text,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.nodes import (
    RUNTIME_FAMILIES,
    Node,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.versions import (
    bare_version,
)


def facts_problem(facts: Mapping[str, Any] | None, line: str) -> str | None:
    """Why the facts cannot give a verdict for ``line``; None when they can."""
    if facts is None:
        return "no kruise_cri facts were gathered for this host (unreachable or not assessed)"
    if facts.get("schema") != 1:
        return f"its kruise_cri facts have schema {facts.get('schema')!r} (expected 1)"
    verdict = as_mapping(as_mapping(facts.get("kruise_daemon")).get(line))
    if not isinstance(verdict.get("compatible"), bool):
        return f"its kruise_cri facts hold no verdict for kruise-daemon {line}"
    return None


def node_from_facts(
    name: str,
    host: str | None,
    facts: Mapping[str, Any],
    entry: Mapping[str, Any] | None,
    line: str,
) -> Node:
    """The node from facts that ``facts_problem`` accepts; its cluster entry fills the gaps."""
    kubelet = as_mapping(facts.get("kubelet"))
    docker = as_mapping(facts.get("docker"))
    daemon = as_mapping(facts.get("kruise_daemon"))
    target = as_mapping(daemon.get(line))
    bridge = as_mapping(daemon.get(BRIDGE_LINE))
    cluster_entry = as_mapping(entry)
    runtime = as_text(kubelet.get("runtime")) or RUNTIME_FAMILIES.get(
        as_text(cluster_entry.get("runtime")) or ""
    )
    kubelet_endpoint = _socket_path(as_text(kubelet.get("runtime_endpoint")))
    served = None
    runtime_version = None
    for endpoint in as_list(facts.get("endpoints")):
        endpoint = as_mapping(endpoint)
        paths = {as_text(endpoint.get("socket")), *map(as_text, as_list(endpoint.get("aliases")))}
        if kubelet_endpoint and kubelet_endpoint in paths:
            served = sorted(str(api) for api in as_list(endpoint.get("cri_api_versions")))
            runtime_version = bare_version(as_text(endpoint.get("runtime_version")))
    if runtime == "docker" and as_text(docker.get("version")):
        runtime_version = as_text(docker.get("version"))
    daemon_json = as_mapping(docker.get("daemon_json"))
    registries = [
        str(item)
        for key in ("registry_mirrors", "insecure_registries")
        for item in as_list(daemon_json.get(key))
    ]
    bridge_compatible = as_bool(bridge.get("compatible"))
    return Node(
        name=name,
        host=host,
        source="facts",
        confidence="probed",
        runtime=runtime,
        runtime_version=runtime_version or as_text(cluster_entry.get("runtime_version")),
        kubelet_version=as_text(kubelet.get("version"))
        or as_text(cluster_entry.get("kubelet_version")),
        cri_api_versions=served,
        target_compatible=bool(target["compatible"]),
        bridge_compatible=bridge_compatible,
        reason=as_text(target.get("reason"))
        or f"kruise-daemon {line} {'works' if target['compatible'] else 'does not work'} here",
        bridge_reason=as_text(bridge.get("reason"))
        or (
            f"its kruise_cri facts hold no verdict for kruise-daemon {BRIDGE_LINE}"
            if bridge_compatible is None
            else f"kruise-daemon {BRIDGE_LINE} {'works' if bridge_compatible else 'fails'} here"
        ),
        carried_registries=registries,
        paths={},
    )


def _socket_path(endpoint: str | None) -> str | None:
    if endpoint is None:
        return None
    return endpoint[len("unix://") :] if endpoint.startswith("unix://") else endpoint
