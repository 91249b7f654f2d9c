"""One report entry per node, from that node's kruise_cri facts (docs/facts.md), with its verdict
for the target kruise-daemon line."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    line_key,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.fact_values import (
    finding_entries,
    is_mapping,
    optional_text,
    texts,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.schema import (
    DaemonEntry,
    EndpointEntry,
    NodeEntry,
    Verdict,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.fact_values import (
    as_list,
    as_mapping,
)

_LINE_RE = re.compile(r"^\d+\.\d+$")


def _line_key_or_last(key: object) -> tuple[int, ...]:
    return line_key(key) if isinstance(key, str) and _LINE_RE.match(key) else (10**9,)


def unassessed_node(host: str, reason: str) -> NodeEntry:
    """A node without usable facts: its verdict is unknown and *reason* says why."""
    return {
        "host": host,
        "verdict": "unknown",
        "reason": reason,
        "runtime": "unknown",
        "kubelet_runtime": None,
        "kubelet_endpoint": None,
        "kubelet_version": None,
        "daemon": None,
        "endpoints": [],
        "docker": None,
        "findings": [],
        "lines": {},
    }


def node_from_facts(host: str, facts: object, line: str) -> NodeEntry:
    """The node's entry from its kruise_cri facts, judged for kruise-daemon *line*."""
    if not isinstance(facts, Mapping):
        return unassessed_node(host, "no kruise_cri facts were gathered for this host")
    if facts.get("schema") != 1:
        return unassessed_node(
            host, f"kruise_cri facts schema {facts.get('schema')!r} is not supported (expected 1)"
        )
    kubelet = as_mapping(facts.get("kubelet"))
    endpoints = [_endpoint(item) for item in as_list(facts.get("endpoints")) if is_mapping(item)]
    docker = _docker(facts.get("docker"))
    daemon_lines = as_mapping(facts.get("kruise_daemon"))
    lines = {
        key: value["compatible"]
        for key, value in sorted(daemon_lines.items(), key=lambda kv: _line_key_or_last(kv[0]))
        if isinstance(key, str)
        and _LINE_RE.match(key)
        and is_mapping(value)
        and isinstance(value.get("compatible"), bool)
    }
    target = daemon_lines.get(line)
    verdict: Verdict
    daemon: DaemonEntry | None = None
    if line in lines and is_mapping(target):
        verdict = "compatible" if lines[line] else "incompatible"
        reason = optional_text(target.get("reason")) or (
            f"kruise-daemon {line} {'can' if lines[line] else 'cannot'} "
            "manage the kubelet's runtime on this node"
        )
        starts = target.get("starts")
        daemon = {
            "starts": starts if isinstance(starts, bool) else None,
            "socket": optional_text(target.get("socket")),
            "runtimes": texts(target.get("runtimes")),
        }
    else:
        verdict = "unknown"
        reason = f"the facts hold no verdict for kruise-daemon {line}"
    return {
        "host": host,
        "verdict": verdict,
        "reason": reason,
        "runtime": _runtime_label(kubelet, endpoints, docker),
        "kubelet_runtime": optional_text(kubelet.get("runtime")),
        "kubelet_endpoint": optional_text(kubelet.get("runtime_endpoint")),
        "kubelet_version": optional_text(kubelet.get("version")),
        "daemon": daemon,
        "endpoints": endpoints,
        "docker": docker,
        "findings": finding_entries(facts.get("findings")),
        "lines": lines,
    }


def _endpoint(raw: Mapping[str, Any]) -> EndpointEntry:
    return {
        "socket": optional_text(raw.get("socket")),
        "aliases": texts(raw.get("aliases")),
        "kind": optional_text(raw.get("kind")),
        "runtime_name": optional_text(raw.get("runtime_name")),
        "runtime_version": optional_text(raw.get("runtime_version")),
        "cri_api_versions": texts(raw.get("cri_api_versions")),
        "error": optional_text(raw.get("error")),
    }


def _docker(raw: object) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        return None
    daemon_json = as_mapping(raw.get("daemon_json"))
    return {
        "socket": optional_text(raw.get("socket")),
        "version": optional_text(raw.get("version")),
        "api_version": optional_text(raw.get("api_version")),
        "cgroup_driver": optional_text(raw.get("cgroup_driver")),
        "registry_mirrors": texts(daemon_json.get("registry_mirrors")),
        "insecure_registries": texts(daemon_json.get("insecure_registries")),
        "error": optional_text(raw.get("error")),
    }


def _strip_unix(endpoint: str) -> str:
    return endpoint[len("unix://") :] if endpoint.startswith("unix://") else endpoint


def _endpoint_label(endpoint: EndpointEntry) -> str | None:
    if not endpoint["runtime_name"]:
        return None
    return " ".join(
        part for part in (endpoint["runtime_name"], endpoint["runtime_version"]) if part
    )


def _runtime_label(
    kubelet: Mapping[str, Any], endpoints: list[EndpointEntry], docker: dict[str, Any] | None
) -> str:
    """Name the runtime the kubelet drives, e.g. "containerd v1.4.13" or "docker 20.10.24"."""
    kubelet_runtime = optional_text(kubelet.get("runtime"))
    if kubelet_runtime == "docker" and docker and docker["version"]:
        return f"docker {docker['version']}"
    kubelet_endpoint = optional_text(kubelet.get("runtime_endpoint"))
    if kubelet_endpoint:
        path = _strip_unix(kubelet_endpoint)
        for endpoint in endpoints:
            if path == endpoint["socket"] or path in endpoint["aliases"]:
                label = _endpoint_label(endpoint)
                if label:
                    return label
    if kubelet_runtime:
        return kubelet_runtime
    for endpoint in endpoints:
        label = _endpoint_label(endpoint)
        if label:
            return label
    if docker and docker["version"]:
        return f"docker {docker['version']}"
    return "unknown"
