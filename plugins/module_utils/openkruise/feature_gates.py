"""OpenKruise's featureGates string: strict reading, merging and the chart's DaemonSet guard.

Pure functions, no I/O. The chart passes ``featureGates`` (ONE comma-separated string) to both
binaries as ``--feature-gates=...`` and skips the kruise-daemon DaemonSet when the string
*contains* ``KruiseDaemon=false`` (a case-sensitive substring test). The binaries read the string
with component-base's ``featureGate.Set``: entries split on commas, spaces around names and values
ignored, values parsed by Go's ``strconv.ParseBool`` (so ``False`` and ``0`` are false too), the
last entry of a name wins, and any name the binary does not know makes it exit. So
``KruiseDaemon=False`` or ``KruiseDaemon = false`` turn the gate off in the binaries while the chart
still renders the DaemonSet. :func:`merge_feature_gates` writes every entry as ``Name=true`` or
``Name=false`` with no spaces, which both readers agree on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

DAEMON_GATE = "KruiseDaemon"
# The chart's guard: {{ if contains "KruiseDaemon=false" .Values.featureGates }} (no DaemonSet).
CHART_DAEMON_GUARD = "KruiseDaemon=false"
DEFAULT_FEATURE_GATES = "ImagePullJobGate=true"

# Go's strconv.ParseBool, which the binaries use for gate values.
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


def parse_feature_gates(argument: str | None) -> dict[str, bool]:
    """``"A=true,B=false"`` -> ``{"A": True, "B": False}``, as the binaries' flag parser reads
    it: spaces around entries are ignored and values are parsed like Go's ``ParseBool``."""
    gates: dict[str, bool] = {}
    for entry in (argument or "").split(","):
        name, _equals, value = entry.strip().partition("=")
        name = name.strip()
        value = value.strip()
        if not name:
            continue
        if value in _TRUE:
            gates[name] = True
        elif value in _FALSE:
            gates[name] = False
    return gates


# Feature gates kruise-manager 1.5.x knows (pkg/features/kruise_features.go at v1.5.5, plus
# component-base's AllAlpha/AllBeta); it refuses to start on any other name.
GATES_1_5 = frozenset(
    {
        "AllAlpha",
        "AllBeta",
        "CloneSetEventHandlerOptimization",
        "CloneSetPartitionRollback",
        "CloneSetShortHash",
        "DaemonWatchingPod",
        "DeletionProtectionForCRDCascadingGate",
        "ImagePullJobGate",
        "InPlaceUpdateEnvFromMetadata",
        "KruiseDaemon",
        "KruisePodReadinessGate",
        "PodProbeMarkerGate",
        "PodUnavailableBudgetDeleteGate",
        "PodUnavailableBudgetUpdateGate",
        "PodWebhook",
        "PreDownloadImageForDaemonSetUpdate",
        "PreDownloadImageForInPlaceUpdate",
        "PreparingUpdateAsUpdate",
        "ResourceDistributionGate",
        "ResourcesDeletionProtection",
        "SidecarSetPatchPodMetadataDefaultsAllowed",
        "SidecarTerminator",
        "StatefulSetAutoDeletePVC",
        "TemplateNoDefaults",
        "WorkloadSpread",
    }
)
# Gates added after 1.5 (pkg/features/kruise_features.go on master, 1.6 to 1.8).
GATES_AFTER_1_5 = frozenset(
    {
        "EnableExternalCerts",
        "EnablePodProbeMarkerOnServerless",
        "EnhancedLivenessProbe",
        "ForceDeleteTimeoutExpectationGate",
        "InPlaceWorkloadVerticalScaling",
        "PodIndexLabel",
        "RecreatePodWhenChangeVCTInCloneSetGate",
        "StatefulSetAutoResizePVCGate",
        "StatefulSetStartOrdinal",
    }
)
KNOWN_GATES = GATES_1_5 | GATES_AFTER_1_5
_CANONICAL = {name.lower(): name for name in KNOWN_GATES}
GATES_BY_LINE: Mapping[str, frozenset[str]] = {"1.5": GATES_1_5}


class FeatureGatesError(ValueError):
    """A featureGates string the binaries would refuse; the message names the entry."""


def canonical_gate_name(name: str) -> str:
    """A known gate's exact spelling (``kruisedaemon`` -> ``KruiseDaemon``); other names as given.
    The binaries compare names exactly, so a mis-cased known gate is an unknown gate to them."""
    return _CANONICAL.get(name.lower(), name)


def validate_feature_gates(text: str | None) -> None:
    """Raise FeatureGatesError unless every non-blank entry is ``Name=bool``."""
    for entry in (text or "").split(","):
        if not entry.strip():
            continue
        name, separator, value = entry.partition("=")
        name = name.strip()
        value = value.strip()
        if not separator:
            raise FeatureGatesError(
                f"feature gate entry {entry.strip()!r} has no value: write {name}=true or "
                f"{name}=false"
            )
        if not _NAME.match(name):
            raise FeatureGatesError(
                f"feature gate entry {entry.strip()!r}: {name!r} is not a gate name (letters "
                "and digits, starting with a letter)"
            )
        if value not in _TRUE and value not in _FALSE:
            raise FeatureGatesError(
                f"feature gate entry {entry.strip()!r}: {value!r} is not a boolean "
                "(true, false, 1, 0, t, f, in lower, upper or title case)"
            )


def normalize_feature_gates(text: str | None) -> dict[str, bool]:
    """Name -> value in order of first appearance, the last value of a name winning (as the
    binaries read it), known names in their exact spelling. Raises FeatureGatesError."""
    validate_feature_gates(text)
    gates: dict[str, bool] = {}
    for name, value in parse_feature_gates(text).items():
        gates[canonical_gate_name(name)] = value
    return gates


def format_feature_gates(gates: Mapping[str, bool]) -> str:
    return ",".join(f"{name}={'true' if value else 'false'}" for name, value in gates.items())


def merge_feature_gates(current: str | None, updates: Mapping[str, bool | None]) -> str:
    """Set (``True``/``False``) or remove (``None``) gates in ``current`` and return the string
    normalised: ``Name=true|false`` joined by commas, no spaces, the user's other gates kept in
    their order, new gates appended. Raises FeatureGatesError for a malformed ``current``, a bad
    gate name in ``updates``, or a result the chart's substring guard would read differently
    from the binaries."""
    gates = normalize_feature_gates(current)
    for raw_name, value in updates.items():
        name = canonical_gate_name(str(raw_name).strip())
        if not _NAME.match(name):
            raise FeatureGatesError(f"{raw_name!r} is not a gate name")
        if value is None:
            gates.pop(name, None)
        else:
            gates[name] = bool(value)
    merged = format_feature_gates(gates)
    mismatch = daemon_gate_mismatch(merged)
    if mismatch:
        raise FeatureGatesError(mismatch)
    return merged


def gate_value(text: str | None, name: str) -> bool | None:
    """The value the binaries give ``name`` (None when the string does not set it)."""
    return normalize_feature_gates(text).get(canonical_gate_name(name))


def daemon_enabled(text: str | None) -> bool:
    """Whether the binaries run with kruise-daemon's features (KruiseDaemon defaults to true)."""
    return parse_feature_gates(text).get(DAEMON_GATE, True) is not False


def chart_renders_daemon(text: str | None) -> bool:
    """Whether the chart renders the kruise-daemon DaemonSet for this featureGates value."""
    return CHART_DAEMON_GUARD not in (text or "")


def daemon_gate_mismatch(text: str | None) -> str | None:
    """Why the chart and the binaries disagree about kruise-daemon, or None when they agree."""
    if daemon_enabled(text) == chart_renders_daemon(text):
        return None
    if daemon_enabled(text):
        return (
            f"featureGates {text!r} contains {CHART_DAEMON_GUARD!r} inside another entry: the "
            "chart drops the kruise-daemon DaemonSet while the binaries keep KruiseDaemon on"
        )
    return (
        f"featureGates {text!r} turns KruiseDaemon off for the binaries, but not with the exact "
        f"text {CHART_DAEMON_GUARD!r}: the chart still renders the kruise-daemon DaemonSet"
    )


def without_daemon_gate(text: str | None) -> dict[str, bool]:
    """The gates other than KruiseDaemon, normalised (to compare two strings but for it)."""
    gates = normalize_feature_gates(text)
    gates.pop(DAEMON_GATE, None)
    return gates


def gates_unknown_to_line(text: str | None, line: str) -> list[str]:
    """Names in ``text`` that kruise-manager of ``line`` (``"1.5"``) does not know, in order."""
    known = GATES_BY_LINE.get(line)
    if known is None:
        raise ValueError(f"no feature gate list for OpenKruise {line}")
    return [name for name in normalize_feature_gates(text) if name not in known]


def without_gates(text: str | None, names: Iterable[str]) -> str:
    """``text`` normalised, without ``names``."""
    return merge_feature_gates(text, dict.fromkeys(names))
