"""A node as the planner sees it: where its verdict comes from, and the sentences about nodes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ansible_collections.kruise_cri.remediation.plugins.module_utils.wording import (
    count,
    joined_names,
    pronoun,
)

# Runtime names (status.nodeInfo, kubelet facts) -> the runtime family the planner judges.
RUNTIME_FAMILIES = {
    "docker": "docker",
    "containerd": "containerd",
    "cri-o": "crio",
    "crio": "crio",
}


@dataclass
class Node:
    name: str
    host: str | None
    source: Literal["facts", "cluster", "none"]
    confidence: Literal["probed", "inferred", "assumed", "unknown"]
    runtime: str | None
    runtime_version: str | None
    kubelet_version: str | None
    cri_api_versions: list[str] | None
    target_compatible: bool | None
    bridge_compatible: bool | None
    reason: str
    bridge_reason: str
    carried_registries: list[str]
    paths: dict[str, dict[str, str]]

    @property
    def blocking(self) -> bool:
        return self.target_compatible is not True

    @property
    def docker(self) -> bool:
        return self.runtime == "docker"

    @property
    def limit_name(self) -> str:
        return self.host or self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "host": self.host,
            "source": self.source,
            "confidence": self.confidence,
            "runtime": self.runtime,
            "runtime_version": self.runtime_version,
            "kubelet_version": self.kubelet_version,
            "cri_api_versions": self.cri_api_versions,
            "target_compatible": self.target_compatible,
            "bridge_compatible": self.bridge_compatible,
            "reason": self.reason,
            "paths": self.paths,
        }


def node_names(nodes: Iterable[Node]) -> list[str]:
    return [node.name for node in nodes]


def joined_node_names(nodes: Iterable[Node]) -> str:
    return joined_names(node_names(nodes))


def cannot_serve(line: str, nodes: list[Node]) -> str:
    return f"kruise-daemon {line} cannot serve {count(len(nodes), 'node')} ({joined_node_names(nodes)})"


def fix_before_enabling(line: str, nodes: list[Node]) -> str:
    """What a disabled daemon leaves to do on the nodes it could not run on."""
    return (
        f"{count(len(nodes), 'node')} could not run kruise-daemon {line} "
        f"({joined_node_names(nodes)}): fix {pronoun(len(nodes))} before "
        "kruise-daemon is enabled again"
    )
