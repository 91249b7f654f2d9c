"""The records of the way back that the pin role writes, and which way back a failing run takes.

Each pin that changes something first writes a record of the state before it (the Secret
``kruise-cri-pin-<run id>`` beside the release, key ``record.json``) with ``outcome: started``, and
sets the outcome when it ends: ``pinned``, ``rolled back``, ``left alone`` or ``rollback failed``.
A record still ``started`` belongs to a run that was interrupted (killed, its controller lost).

A rerun finds that run's pin in place, has nothing to change, and would otherwise know no way
back but the pinned state itself. :func:`interrupted_pin` finds the newest record of the same
installation; when it is unfinished and the installation runs what it pinned, the rerun adopts it
as its own way back. :func:`way_back` then decides what a failing run rolls back: only what this
run, or the interrupted run it completes, changed, and nothing made by anyone since.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any

STARTED = "started"


def decode_records(slurped: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The records among ``ansible.builtin.slurp`` results (a loop's ``results``) or
    ``cluster_records_info``'s ``records`` (the same ``content``, base64), each with its ``file``
    (the path, or ``Secret namespace/name``); unreadable or malformed ones are left out."""
    records = []
    for entry in slurped:
        if entry.get("failed") or entry.get("skipped"):
            continue
        try:
            record = json.loads(base64.b64decode(entry.get("content") or ""))
        except (binascii.Error, ValueError):
            continue
        if isinstance(record, dict):
            source = entry.get("source") or (entry.get("item") or {}).get("path") or ""
            records.append({**record, "file": source})
    return records


def _same_installation(
    record: Mapping[str, Any], server: str, method: str, release: str, namespace: str
) -> bool:
    if record.get("server") != server or record.get("method") != method:
        return False
    if method == "helm":
        helm = record.get("helm") or {}
        return helm.get("release") == release and helm.get("namespace") == namespace
    return (record.get("manifests") or {}).get("namespace") == namespace


def installation_records(
    slurped: Iterable[Mapping[str, Any]], server: str, method: str, release: str, namespace: str
) -> list[dict[str, Any]]:
    """The records of this installation (Helm ``release`` in ``namespace``, or the manifests in
    ``namespace``, on ``server``), newest first."""
    records = [
        record
        for record in decode_records(slurped)
        if _same_installation(record, server, method, release, namespace)
    ]
    return sorted(
        records, key=lambda r: (str(r.get("taken_at") or ""), r.get("file") or ""), reverse=True
    )


def without_values(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record without the Helm values it keeps (they may hold secrets)."""
    shown = {key: value for key, value in record.items() if key != "helm"}
    if "helm" in record:
        shown["helm"] = {k: v for k, v in (record.get("helm") or {}).items() if k != "values"}
    return shown


def interrupted_pin(
    slurped: Iterable[Mapping[str, Any]],
    *,
    server: str,
    method: str,
    release: str,
    namespace: str,
    current_version: str | None,
    current_revision: int | None = None,
) -> dict[str, Any] | None:
    """The newest record of this installation (Helm ``release`` in ``namespace``, or the
    manifests in ``namespace``) when its run never ended and what it pinned is what runs now:
    the way back of the pin this run completes. Its values are left out. None otherwise,
    including when a newer run of the same installation ended (its outcome stands)."""
    records = installation_records(slurped, server, method, release, namespace)
    if not records:
        return None
    newest = records[0]
    if newest.get("outcome", STARTED) != STARTED:
        return None
    if str(newest.get("target_version") or "") != str(current_version or ""):
        return None  # interrupted before its change took effect: nothing of it to undo
    if method == "helm":
        revision = (newest.get("helm") or {}).get("revision")
        if not isinstance(revision, int) or current_revision is None:
            return None
        if revision >= current_revision:
            return None
    return without_values(newest)


def way_back(
    method: str,
    change: Mapping[str, Any] | None,
    record: Mapping[str, Any],
    interrupted: Mapping[str, Any] | None,
    preflight_revision: int | None = None,
) -> dict[str, Any]:
    """What a failing run rolls back, given its change task's result (``change``, None when it
    never ran), its own ``record`` of the state before, and the ``interrupted`` run it
    completes. ``rollback`` is False when there is nothing of this run's to undo; ``source``
    and ``says`` tell which state is the way back, for the failure message."""
    change = change or {}
    ran = bool(change) and not change.get("skipped")
    if method == "helm":
        made = None
        if ran and change.get("failed"):
            made = change.get("revision_made")
        elif ran and change.get("changed"):
            made = (change.get("release") or {}).get("revision")
        if made is not None:
            revision = (record.get("helm") or {}).get("revision")
            return {
                "rollback": True,
                "source": "this run",
                "revision": revision,
                "only_from_revision": made,
                "says": f"revision {revision}, recorded by this run before its change",
            }
        if interrupted and preflight_revision is not None:
            revision = interrupted["helm"]["revision"]
            return {
                "rollback": True,
                "source": "interrupted run",
                "revision": revision,
                "only_from_revision": preflight_revision,
                "says": _adopted(interrupted, f"revision {revision}"),
            }
        return _nothing(ran)
    if ran and (change.get("changed") or change.get("failed")):
        return {
            "rollback": True,
            "source": "this run",
            "manifests": record.get("manifests"),
            "says": "the images and feature gates recorded by this run before its change",
        }
    if interrupted:
        manifests = interrupted.get("manifests") or {}
        return {
            "rollback": True,
            "source": "interrupted run",
            "manifests": manifests,
            "says": _adopted(interrupted, f"manager image {manifests.get('manager_image')}"),
        }
    return _nothing(ran)


def _adopted(interrupted: Mapping[str, Any], state: str) -> str:
    return (
        f"{state} (OpenKruise {interrupted.get('kruise_version')}), from the record "
        f"{interrupted.get('file')} of run {interrupted.get('run_id') or 'unknown'}, which pinned "
        f"{interrupted.get('target_version')} at {interrupted.get('taken_at')} and never ended"
    )


def _nothing(ran: bool) -> dict[str, Any]:
    why = "this run's change made none" if ran else "this run failed before changing anything"
    return {"rollback": False, "source": None, "says": f"nothing to roll back: {why}"}
