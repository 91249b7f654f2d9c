"""featureGates strings as pinning and disabling change them (one comma-separated string)."""

from __future__ import annotations

import shlex
from collections.abc import Collection

from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.feature_gates import (
    DAEMON_GATE,
    DEFAULT_FEATURE_GATES,
    GATES_1_5,
    FeatureGatesError,
    gates_unknown_to_line,
    merge_feature_gates,
    without_gates,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    BRIDGE_LINE,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.installation import (
    Installation,
)

# Feature gates kruise-manager 1.5.5 knows; it refuses to start on any other name.
BRIDGE_FEATURE_GATES = GATES_1_5
# Stands for the gates as running when the cluster facts do not say them.
UNKNOWN_GATES = "<current gates>"


def _gate_name(gate: str) -> str:
    return gate.split("=", 1)[0].strip()


def _gates(feature_gates: str | None) -> list[str]:
    return [gate.strip() for gate in (feature_gates or "").split(",") if gate.strip()]


# The playbooks write what the shared functions of openkruise.feature_gates make, so the plan shows
# the same strings. Those refuse a malformed string (the playbooks then stop); the plan still has
# to describe it, and the placeholder for gates it does not know, so it falls back to plain text.


def gates_unknown_to_bridge(feature_gates: str | None) -> list[str]:
    """Gates in a featureGates string that kruise-manager 1.5.5 would refuse to start with."""
    try:
        return gates_unknown_to_line(feature_gates, BRIDGE_LINE)
    except FeatureGatesError:
        names = [_gate_name(gate) for gate in _gates(feature_gates)]
        return [name for name in names if name and name not in BRIDGE_FEATURE_GATES]


def gates_without(feature_gates: str, names: Collection[str]) -> str:
    try:
        return without_gates(feature_gates, names)
    except FeatureGatesError:
        return ",".join(gate for gate in _gates(feature_gates) if _gate_name(gate) not in names)


def merged_feature_gates(current: str | None) -> str:
    """The chart's featureGates string with KruiseDaemon=false merged in (others kept, in order)."""
    try:
        return merge_feature_gates(current, {DAEMON_GATE: False})
    except FeatureGatesError:
        kept = [gate for gate in _gates(current) if _gate_name(gate) != DAEMON_GATE]
        return ",".join([*kept, f"{DAEMON_GATE}=false"])


def current_gates(install: Installation) -> str | None:
    """The featureGates string to merge into: as running, the chart's default for a new
    install, None when unknown."""
    if install.feature_gates is not None:
        return install.feature_gates
    if install.installed is False:
        return DEFAULT_FEATURE_GATES
    return "" if install.installed else None


def set_gates_flag(gates: str) -> str:
    """``--set featureGates=...`` with the commas escaped for Helm and quoted for the shell."""
    return "--set " + shlex.quote("featureGates=" + gates.replace(",", "\\,"))
