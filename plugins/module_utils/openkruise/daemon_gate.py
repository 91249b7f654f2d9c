"""Plan turning kruise-daemon off (``KruiseDaemon=false``) or back on. Pure, no I/O.

:func:`daemon_gate_plan` takes the ``kruise`` facts of ``kruise_info`` and, for a Helm install,
the ``kruise_helm_release`` info result (the release's user values, its computed values and the
values of earlier revisions), or, for a manifest install, the record ``kruise_manifests`` keeps
of the state before the daemon was disabled. It says which featureGates string to set, whether the
DaemonSet goes or comes back, what stops working, and why it refuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.daemon_features import (
    STOPS_WORKING,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.feature_gates import (
    DAEMON_GATE,
    chart_renders_daemon,
    daemon_enabled,
    daemon_gate_mismatch,
    gate_value,
    merge_feature_gates,
    normalize_feature_gates,
    without_daemon_gate,
)

DIRECTIONS = ("disable", "enable")
# Keys of the record kruise_manifests keeps in its ConfigMap (manifest installs).
RECORD_FEATURE_GATES = "feature-gates"
RECORD_FEATURE_GATES_SET = "feature-gates-set"
RECORD_DAEMONSET = "daemonset.json"


def daemon_gate_plan(
    kruise: Mapping[str, Any],
    direction: str,
    *,
    force: bool = False,
    helm: Mapping[str, Any] | None = None,
    record: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The plan; raises ValueError (FeatureGatesError) for bad input or a malformed string."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction {direction!r} must be one of {', '.join(DIRECTIONS)}")
    if not isinstance(kruise, Mapping) or "installed" not in kruise:
        raise ValueError("kruise must be the 'kruise' facts of kruise_info")
    install = kruise.get("install") or {}
    if kruise.get("installed") is None or (install.get("error") and not kruise.get("manager")):
        raise ValueError(
            (
                install.get("error")
                or "whether OpenKruise is installed is unknown (see kruise_info's findings and "
                "missing_permissions)"
            )
            + "; nothing was changed"
        )
    if not kruise.get("installed"):
        raise ValueError("OpenKruise is not installed in this cluster: nothing to change")
    release = (helm or {}).get("release") if helm else None
    if not release and install.get("method") == "helm":
        # Patching a Helm release's objects directly is undone by its next upgrade or rollback.
        raise ValueError(
            (install.get("error") or "OpenKruise is installed by Helm")
            + "; the change must go through the Helm release (kruise_helm_release info), not "
            "the manifests, or the next helm upgrade or rollback undoes it. Nothing was changed"
        )
    method = "helm" if release else "manifests"
    unread_daemon = (kruise.get("unread") or {}).get("daemon")
    if unread_daemon:
        # The plan turns on whether the DaemonSet is there: unknown is not absent.
        missing = unread_daemon.get("missing_permission")
        raise ValueError(
            "whether the kruise-daemon DaemonSet exists could not be read ("
            + str(unread_daemon.get("error"))
            + (f"; missing permission: {missing}" if missing else "")
            + "): grant it, then run again. Nothing was changed"
        )
    notes: list[str] = []
    argument = (kruise.get("feature_gates") or {}).get("argument")
    if method == "helm":
        status = release.get("status")
        if status and status != "deployed":
            raise ValueError(
                f"Helm release {release.get('release')} is {status!r}, not deployed: finish or "
                "roll back that operation first (helm history shows it); nothing was changed"
            )
        user_values = release.get("values") or {}
        computed = (helm or {}).get("computed_values") or {}
        user_gates = user_values.get("featureGates")
        current = user_gates if user_gates is not None else computed.get("featureGates")
        current = None if current is None else str(current)
        if argument is not None and _differs(argument, current):
            notes.append(
                f"the manager runs with --feature-gates={argument!r} but the release's "
                f"featureGates is {current!r}: the release's value is the one changed"
            )
    else:
        user_gates = None
        current = argument
    normalize_feature_gates(current)  # malformed -> FeatureGatesError before anything else
    daemon_present = kruise.get("daemon") is not None

    plan: dict[str, Any] = {
        "direction": direction,
        "method": method,
        "namespace": kruise.get("namespace"),
        "feature_gates_before": current,
        "daemon_present_before": daemon_present,
        "refused": [],
        "notes": notes,
        "in_use": None,
        "in_use_summary": [],
        "stops_working": [],
    }
    if direction == "disable":
        _plan_disable(plan, kruise, current, user_gates, force)
    else:
        _plan_enable(plan, method, current, user_gates, daemon_present, helm, record)
    return plan


def _plan_disable(
    plan: dict[str, Any],
    kruise: Mapping[str, Any],
    current: str | None,
    user_gates: Any,
    force: bool,
) -> None:
    desired = merge_feature_gates(current, {DAEMON_GATE: False})
    mismatch = daemon_gate_mismatch(current)
    if mismatch:
        plan["notes"].append(mismatch + "; the normalised string fixes this")
    use = kruise.get("feature_use") or {}
    summary = [str(line) for line in use.get("summary") or []]
    unchecked = unchecked_feature_use(use)
    if use.get("in_use"):
        plan["in_use"] = True
    elif unchecked or use.get("in_use") is None:
        plan["in_use"] = None
        if not unchecked:
            unchecked = ["every kind (kruise_info's feature_use.in_use is null)"]
    else:
        plan["in_use"] = False
    plan["in_use_summary"] = summary
    plan["stops_working"] = list(STOPS_WORKING)
    blockers = []
    if use.get("in_use"):
        blockers.append(
            "daemon-dependent features are in use: "
            + "; ".join(summary)
            + " (they stop working: see stops_working)"
        )
    if unchecked:
        blockers.append("feature use could not be checked for " + "; ".join(unchecked))
    if blockers and not force:
        plan["refused"] = [*blockers, "set force: true to disable kruise-daemon anyway"]
    elif blockers:
        plan["notes"].append("forced past: " + " | ".join(blockers))
    plan.update(
        feature_gates=desired,
        feature_gates_after=desired,
        values={"featureGates": desired},
        daemon="absent",
        changed=_differs_exact(user_gates if plan["method"] == "helm" else current, desired)
        or bool(kruise.get("daemon")),
    )


def unchecked_feature_use(use: Mapping[str, Any]) -> list[str]:
    """What kruise_info could not read of the daemon's feature use, each with its error and, for
    a 403, the permission missing (``verb resource.group``)."""
    entries: list[tuple[str, Any]] = list((use.get("kinds") or {}).items())
    entries += [
        ("workloads with image pre-download annotations", use.get("predownload_workloads")),
        ("pods using the sidecar terminator", use.get("sidecar_terminator_pods")),
    ]
    unchecked = []
    for what, entry in entries:
        if isinstance(entry, Mapping) and entry.get("error"):
            missing = entry.get("missing_permission")
            unchecked.append(
                f"{what}: {entry['error']}"
                + (f" (missing permission: {missing})" if missing else "")
            )
    return unchecked


def _plan_enable(
    plan: dict[str, Any],
    method: str,
    current: str | None,
    user_gates: Any,
    daemon_present: bool,
    helm: Mapping[str, Any] | None,
    record: Mapping[str, Any] | None,
) -> None:
    if daemon_enabled(current) and chart_renders_daemon(current) and daemon_present:
        plan["notes"].append("kruise-daemon is already enabled: nothing to restore")
        plan.update(
            feature_gates=current or "",
            feature_gates_after=current,
            values={},
            daemon="present",
            changed=False,
        )
        return
    found, previous_user, previous_effective = _previous_state(method, helm, record)
    if not found:
        plan["notes"].append(
            "no earlier state with kruise-daemon enabled was found (helm history or the "
            "kruise-cri record): the KruiseDaemon entry is removed, so its default (true) applies"
        )
    if found and without_daemon_gate(previous_effective) == without_daemon_gate(current):
        # Nothing else changed since: put back exactly what was there.
        after_effective = previous_effective
        user_after = previous_user
        plan["notes"].append(f"featureGates restored to what it was: {previous_user!r}")
    else:
        previous_entry = gate_value(previous_effective, DAEMON_GATE) if found else None
        after_effective = merge_feature_gates(current, {DAEMON_GATE: previous_entry})
        user_after = after_effective
        if found:
            plan["notes"].append(
                "other gates changed since kruise-daemon was disabled: only the KruiseDaemon "
                "entry is restored ("
                + ("removed" if previous_entry is None else f"KruiseDaemon={previous_entry}")
                + ")"
            )
    if method == "manifests" and not daemon_present and not (record or {}).get(RECORD_DAEMONSET):
        plan["refused"].append(
            "the kruise-daemon DaemonSet is gone and kruise-cri has no saved copy of it "
            f"(ConfigMap key {RECORD_DAEMONSET}): re-apply your kruise manifests' "
            "DaemonSet, then run again"
        )
    if method == "helm":
        values = {"featureGates": user_after}
        changed = _differs_exact(user_gates, user_after) or not daemon_present
    else:
        values = {}
        changed = _differs_exact(current, after_effective) or not daemon_present
    plan.update(
        feature_gates=after_effective or "",
        feature_gates_after=after_effective,
        values=values,
        daemon="present",
        changed=changed,
    )


def _previous_state(
    method: str, helm: Mapping[str, Any] | None, record: Mapping[str, Any] | None
) -> tuple[bool, Any, str | None]:
    """(found, the user's featureGates value then, the effective string then)."""
    if method == "helm":
        history: Sequence[Mapping[str, Any]] = (helm or {}).get("history") or []
        for entry in history:
            values = entry.get("values") or {}
            computed = entry.get("computed_values") or {}
            user = values.get("featureGates")
            effective = user if user is not None else computed.get("featureGates")
            effective = None if effective is None else str(effective)
            try:
                usable = daemon_enabled(effective) and chart_renders_daemon(effective)
                normalize_feature_gates(effective)
            except ValueError:
                continue
            if usable:
                return True, user, effective
        return False, None, None
    data = record or {}
    if RECORD_FEATURE_GATES_SET not in data:
        return False, None, None
    if str(data.get(RECORD_FEATURE_GATES_SET)).lower() != "true":
        return True, None, None
    previous = str(data.get(RECORD_FEATURE_GATES) or "")
    return True, previous, previous


def _differs(one: str | None, other: str | None) -> bool:
    try:
        return normalize_feature_gates(one) != normalize_feature_gates(other)
    except ValueError:
        return (one or "") != (other or "")


def _differs_exact(one: Any, other: Any) -> bool:
    return (one or None) != (other or None)
