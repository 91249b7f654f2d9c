"""What every part of the plan reads: the target, the nodes, the install, the user's wishes."""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.installation import (
    Installation,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.nodes import (
    Node,
)


@dataclass(frozen=True)
class Context:
    version: str
    line: str
    nodes: tuple[Node, ...]
    install: Installation
    features_wanted: bool
    inventory: str
    shipped: frozenset[str]

    @property
    def blocking(self) -> list[Node]:
        return [node for node in self.nodes if node.blocking]

    @property
    def incompatible(self) -> list[Node]:
        return [node for node in self.nodes if node.target_compatible is False]

    @property
    def unknown(self) -> list[Node]:
        return [node for node in self.nodes if node.target_compatible is None]

    @property
    def migratable(self) -> list[Node]:
        return [node for node in self.blocking if node.migratable]

    @property
    def not_migratable(self) -> list[Node]:
        return [node for node in self.blocking if not node.migratable]

    @property
    def daemon_disabled(self) -> bool:
        return self.install.daemon_enabled is False

    @property
    def keep_features(self) -> bool:
        """Keep the daemon's features unless the cluster is known not to use them."""
        return self.features_wanted or self.install.features_in_use is not False
