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
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.kruise_compat import (
    V1ALPHA2,
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
    def old_containerd(self) -> bool:
        """containerd 1.5 or older: CRI v1alpha2 only; migrate_runtime upgrades it in place."""
        return self.runtime == "containerd" and set(self.cri_api_versions or ()) == {V1ALPHA2}

    @property
    def migratable(self) -> bool:
        """migrate_runtime moves it to a containerd that serves CRI v1."""
        return self.docker or self.old_containerd

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


def migration_words(nodes: list[Node], *, named: bool = False) -> str:
    """What migrate_runtime does to these nodes, lower case: "migrate 2 Docker nodes to
    containerd", "upgrade containerd on 1 node", or both; ``named`` adds the nodes' names."""
    docker = [node for node in nodes if node.docker]
    old_containerd = [node for node in nodes if node.old_containerd]
    words = []
    if docker:
        words.append(f"migrate {count(len(docker), 'Docker node')} to containerd")
        words[-1] += f" ({joined_node_names(docker)})" if named else ""
    if old_containerd:
        words.append(f"upgrade containerd on {count(len(old_containerd), 'node')}")
        words[-1] += f" ({joined_node_names(old_containerd)})" if named else ""
    return " and ".join(words)


def runs_what_migration_fixes(nodes: list[Node]) -> str:
    """Why migration fixes these nodes: the runtime their kubelet runs."""
    docker = [node for node in nodes if node.docker]
    old_containerd = [node for node in nodes if node.old_containerd]
    if not old_containerd:
        return f"{'it runs' if len(docker) == 1 else 'all of them run'} the kubelet on Docker"
    if not docker:
        return (
            f"{'it runs' if len(old_containerd) == 1 else 'all of them run'} containerd 1.5 or "
            "older, which a containerd 1.6 or newer replaces in place"
        )
    return (
        f"{joined_node_names(docker)} {'runs' if len(docker) == 1 else 'run'} the kubelet on "
        f"Docker, {joined_node_names(old_containerd)} containerd 1.5 or older"
    )


def cannot_serve(line: str, nodes: list[Node]) -> str:
    return f"kruise-daemon {line} cannot serve {count(len(nodes), 'node')} ({joined_node_names(nodes)})"


def fix_before_enabling(line: str, nodes: list[Node]) -> str:
    """What a disabled daemon leaves to do on the nodes it could not run on."""
    return (
        f"{count(len(nodes), 'node')} could not run kruise-daemon {line} "
        f"({joined_node_names(nodes)}): fix {pronoun(len(nodes))} before "
        "kruise-daemon is enabled again"
    )
