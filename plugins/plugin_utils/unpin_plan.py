"""Undoing a pin from a later run (another AWX job, another day): which record's state to go back
to, and what refuses it.

The pin role's records (:mod:`.pin_records`) say how each pin ended. Only the newest pin that
stayed in place is undone, and only while the installation still runs what that pin left: the
Helm release at the revision the pin made (its description names the pin's run), or the
manifests at the pinned images. Anything changed since is someone else's, and is never rolled
over. Going back means OpenKruise 1.6 or newer again, whose kruise-daemon speaks only CRI v1:
nodes whose runtime may serve only CRI v1alpha2 refuse it unless forced, and the post-check
restores the pin when the daemon does not come up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.feature_gates import (
    chart_renders_daemon,
    daemon_enabled,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    line_of,
    parse_version,
    version_from_image,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.pin_records import (
    STARTED,
    installation_records,
    without_values,
)

PINNED = "pinned"
UNPINNED = "unpinned"
# Outcomes of runs that left nothing of theirs in place: an older pin may still be.
LEFT_NOTHING = ("rolled back", "nothing to roll back")


def v1alpha2_risk(node: Mapping[str, Any]) -> str | None:
    """Why a node (a kruise_info node entry) may serve only CRI v1alpha2, as far as the API
    server's ``containerRuntimeVersion`` tells; None when it serves CRI v1."""
    runtime = str(node.get("runtime") or "")
    version = str(node.get("runtime_version") or "")
    if runtime == "docker":
        return (
            f"runs docker {version or '(no version)'}: dockershim and cri-dockerd 0.2 or older "
            "serve only CRI v1alpha2"
        )
    if runtime == "containerd":
        parsed = parse_version(version)
        if parsed is None:
            return f"runs containerd {version or '(no version)'}, a version that cannot be read"
        if (parsed.major, parsed.minor) < (1, 6):
            return f"runs containerd {version}: containerd 1.5 and older serve only CRI v1alpha2"
    return None


def _expected(record: Mapping[str, Any]) -> dict[str, Any]:
    """What kruise_wait checks once the recorded state runs again."""
    if record.get("method") == "helm":
        gates = ((record.get("helm") or {}).get("values") or {}).get("featureGates")
        gates = None if gates is None else str(gates)
        daemon = daemon_enabled(gates) and chart_renders_daemon(gates)
    else:
        manifests = record.get("manifests") or {}
        gates = manifests.get("feature_gates")
        daemon = manifests.get("daemon_image") is not None
    return {
        "version_line": line_of(str(record.get("kruise_version") or "")),
        "feature_gates": gates,
        "daemon": "present" if daemon else "absent",
    }


def unpin_plan(
    slurped: Iterable[Mapping[str, Any]],
    *,
    server: str,
    method: str,
    release: str,
    namespace: str,
    current_version: str | None,
    current_revision: int | None = None,
    current_description: str | None = None,
    current_manager_image: str | None = None,
    nodes: Iterable[Mapping[str, Any]] = (),
    force: bool = False,
) -> dict[str, Any]:
    """The way back from the newest pin of this installation that stayed in place.

    ``slurped`` are the records as cluster_records_info returns them; the current state is what
    kruise_info and the Helm release say now. The result never holds the recorded values:
    ``to_undo`` (whether there is a pin to undo), ``refused`` (reasons, empty when allowed),
    ``record`` (the pin's record, values left out), ``revision`` and ``only_from_revision``
    (Helm: roll back to the recorded revision, only from the pin's), ``manifests`` (the
    recorded images and gates), ``expected`` (for kruise_wait), ``says`` and ``notes``."""
    plan: dict[str, Any] = {
        "to_undo": False,
        "refused": [],
        "record": {},
        "notes": [],
        "says": "",
        "expected": {},
    }
    where = (
        f"Helm release {release} in {namespace}"
        if method == "helm"
        else f"the manifest install in {namespace}"
    )
    candidate = next(
        (
            record
            for record in installation_records(slurped, server, method, release, namespace)
            if str(record.get("outcome") or STARTED) not in LEFT_NOTHING
        ),
        None,
    )
    if candidate is None:
        plan["refused"].append(
            f"no pin of {where} by kruise-cri is recorded (records are the Secrets labelled "
            f"kruise-cri.openkruise.io/record=pin in {namespace}), so there is no recorded "
            "state to go back to"
        )
        return plan
    plan["record"] = without_values(candidate)
    run = candidate.get("run_id") or "unknown"
    outcome = str(candidate.get("outcome") or STARTED)
    name = candidate.get("file")
    if outcome.startswith(UNPINNED):
        plan["says"] = (
            f"nothing to undo: the pin of run {run} ({candidate.get('target_version')}, "
            f"{candidate.get('taken_at')}) was undone already ({outcome}, "
            f"{candidate.get('unpinned_at') or 'time unknown'})"
        )
        return plan
    if outcome == STARTED:
        plan["refused"].append(
            f"the pin of run {run} ({name}) never ended: run pin_kruise again to complete it, "
            "then undo it"
        )
        return plan
    if not outcome.startswith(PINNED):
        plan["refused"].append(
            f"the newest pin, of run {run} ({name}), ended '{outcome}': the installation is in a "
            f"state kruise-cri did not leave; restore it by hand from {name}"
        )
        return plan

    target = str(candidate.get("target_version") or "")
    if str(current_version or "") != target:
        plan["refused"].append(
            f"OpenKruise runs {current_version or 'an unknown version'}, not the {target} that "
            f"run {run} pinned: it was changed since, and undoing the pin would undo that too"
        )
    if method == "helm":
        helm = candidate.get("helm") or {}
        recorded = helm.get("revision")
        # The pin's own revision names its run; a revision that put the pin back after a failed
        # unpin is noted in the record.
        holds_pin = str(current_description or "").endswith(f"(run {run})") or (
            current_revision is not None and current_revision in (helm.get("pin_revisions") or [])
        )
        if not holds_pin:
            plan["refused"].append(
                f"release {release} is at revision {current_revision} "
                f"({current_description or 'no description'!r}), not the revision run {run} "
                f"made: it was changed since; if that change is to go too, roll back by hand "
                f"(helm rollback {release} {recorded} -n {namespace})"
            )
        if not isinstance(recorded, int):
            plan["refused"].append(f"{name} names no Helm revision to go back to")
        plan["revision"] = recorded
        plan["only_from_revision"] = current_revision
        plan["says"] = (
            f"revision {recorded} (OpenKruise {candidate.get('kruise_version')}, chart "
            f"{helm.get('chart_version')}), recorded by run {run} before "
            f"it pinned {target}"
        )
    else:
        manifests = candidate.get("manifests") or {}
        running = version_from_image(current_manager_image)
        if running != target:
            plan["refused"].append(
                f"kruise-manager runs {current_manager_image}, not the {target} image run {run} "
                "set: it was changed since"
            )
        plan["manifests"] = manifests
        plan["says"] = (
            f"the images {manifests.get('manager_image')} and feature gates recorded by run "
            f"{run} before it pinned {target}"
        )
    plan["expected"] = _expected(candidate)

    risky = [
        f"{node.get('name')} {why}"
        for node in nodes
        for why in [v1alpha2_risk(node)]
        if why is not None
    ]
    back_to = candidate.get("kruise_version")
    if risky and plan["expected"]["daemon"] == "present":
        warning = (
            f"kruise-daemon {back_to} speaks only CRI v1 and would crash-loop on: "
            + "; ".join(risky)
        )
        if force:
            plan["notes"].append(
                "forced past: " + warning + " (the post-check restores the pin if it does)"
            )
        else:
            plan["refused"].append(
                warning + ". Migrate those nodes first (kruise_cri.remediation.migrate_runtime), "
                "or set force: true to try anyway (the post-check restores the pin if the "
                "daemon does not come up)"
            )
    plan["to_undo"] = not plan["refused"]
    return plan
