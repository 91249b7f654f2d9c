"""The kruise_lock module: one kruise-cri run at a time changes an OpenKruise installation.

The lock is a ``coordination.k8s.io/v1`` Lease, the object Kubernetes' own leader election uses,
in the namespace of what is changed (the Helm release's, or OpenKruise's for a manifest install).
Its ``holderIdentity`` is the run's id; ``renewTime + leaseDurationSeconds`` is when a holder that
died without releasing it stops counting. Every write carries the ``resourceVersion`` it read, so
of two runs racing for a free or expired lease exactly one wins (the other gets 409 and reads the
winner). Releasing deletes the Lease only while this run holds it (a DELETE precondition).

Expiry compares the holder's clock (``renewTime``) with this host's: clocks apart by more than a
few seconds shift it by that much, which a duration of minutes absorbs.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.access import (
    Access,
    denied,
    refusal,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
    ClusterModule,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
    KubeRequestError,
)

GROUP = "coordination.k8s.io"
ANNOTATION_PREFIX = "kruise-cri.openkruise.io/"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kruise-cri"}
# Two runs racing: each lost race re-reads the Lease and decides again; more than this many
# losses in a row means something else keeps writing it.
MAX_RACES = 5
# Taking the lock asks for delete too: a run that could take it but not release it would block
# every other run until it expired.
VERBS_BY_STATE = {"present": ("get", "create", "update", "delete"), "absent": ("get", "delete")}


class LockHeld(Exception):
    """Another run holds the lock; the message says who, since when, until when and what to do."""


@dataclass(frozen=True)
class Decision:
    """What to do with the Lease as read: ``create`` it, ``take`` it (free, expired, or handed
    over by ``take_over``), ``keep`` it (this run holds it already), or ``refuse`` (held)."""

    action: str
    reason: str = ""


def lease_path(namespace: str, name: str = "") -> str:
    base = f"/apis/{GROUP}/v1/namespaces/{namespace}/leases"
    return f"{base}/{name}" if name else base


def micro_time(moment: datetime) -> str:
    """A Kubernetes MicroTime: RFC 3339 in UTC with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def expires_at(lease: Mapping[str, Any]) -> datetime | None:
    """When the holder's claim lapses; None when the Lease says nothing usable (never renewed)."""
    spec = lease.get("spec") or {}
    renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
    duration = spec.get("leaseDurationSeconds")
    if renewed is None or not isinstance(duration, int):
        return None
    return renewed + timedelta(seconds=duration)


def decide(
    lease: Mapping[str, Any] | None, holder: str, now: datetime, take_over: str = ""
) -> Decision:
    """The action for acquiring the lock as ``holder`` at ``now``, given the Lease as read."""
    if lease is None:
        return Decision("create")
    current = (lease.get("spec") or {}).get("holderIdentity") or ""
    if current == holder:
        return Decision("keep")
    if not current:
        return Decision("take", "the lock was free")
    if take_over and current == take_over:
        return Decision("take", f"taken over from run {current}, as take_over asked")
    expiry = expires_at(lease)
    if expiry is None or expiry <= now:
        return Decision("take", f"run {current}'s lock had expired")
    return Decision("refuse")


def describe_holder(lease: Mapping[str, Any]) -> dict[str, Any]:
    """Who holds the Lease, as the module returns it."""
    spec = lease.get("spec") or {}
    annotations = (lease.get("metadata") or {}).get("annotations") or {}
    expiry = expires_at(lease)
    return {
        "holder": spec.get("holderIdentity") or "",
        "purpose": annotations.get(ANNOTATION_PREFIX + "purpose", ""),
        "host": annotations.get(ANNOTATION_PREFIX + "host", ""),
        "user": annotations.get(ANNOTATION_PREFIX + "user", ""),
        "since": spec.get("acquireTime") or "",
        "expires": micro_time(expiry) if expiry else "",
    }


def held_message(namespace: str, name: str, lease: Mapping[str, Any]) -> str:
    held = describe_holder(lease)
    who = f"kruise-cri run {held['holder']}"
    details = [part for part in (held["purpose"], held["host"] and f"on {held['host']}") if part]
    if held["user"]:
        details.append(f"by {held['user']}")
    if details:
        who += f" ({', '.join(details)})"
    return (
        f"the Lease {namespace}/{name} says {who} is changing this OpenKruise installation "
        f"since {held['since'] or 'an unknown time'}: two runs at once would undo each other's "
        f"work. Wait for that run to end. If it is gone (killed, its controller lost), the lock "
        f"expires at {held['expires'] or 'its renewTime + leaseDurationSeconds'}, or rerun with "
        f"take_over={held['holder']} (the playbooks: -e kruise_cri_lock_take_over="
        f"{held['holder']}). Nothing was changed"
    )


def lease_body(
    namespace: str,
    name: str,
    holder: str,
    duration: int,
    purpose: str,
    now: datetime,
    resource_version: str = "",
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": dict(MANAGED_BY),
        "annotations": {
            ANNOTATION_PREFIX + "purpose": purpose,
            ANNOTATION_PREFIX + "host": socket.gethostname(),
            ANNOTATION_PREFIX + "user": _user(),
        },
    }
    if resource_version:
        metadata["resourceVersion"] = resource_version
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration,
            "acquireTime": micro_time(now),
            "renewTime": micro_time(now),
        },
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def needed_access(namespace: str, state: str) -> list[Access]:
    """The requests acquiring (``present``, with the release that follows) or releasing
    (``absent``) the lock makes."""
    return [Access(verb, "leases", GROUP, namespace) for verb in VERBS_BY_STATE[state]]


def _read(client: KubeClient, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return client.get(lease_path(namespace, name))
    except KubeRequestError as error:
        if error.status == 404:
            return None
        raise


def acquire(
    client: KubeClient,
    params: Mapping[str, Any],
    *,
    check_mode: bool,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Take the lock for ``params['holder']``, or raise LockHeld. Races with another run are
    settled by the API server's optimistic concurrency (409): the loser reads again."""
    namespace, name, holder = params["namespace"], params["name"], params["holder"]
    for _race in range(MAX_RACES):
        lease = _read(client, namespace, name)
        moment = now or datetime.now(UTC)
        decision = decide(lease, holder, moment, params.get("take_over") or "")
        before = describe_holder(lease) if lease else None
        if decision.action == "refuse":
            raise LockHeld(held_message(namespace, name, lease or {}))
        if decision.action == "keep" or check_mode:
            return _outcome(decision, before, holder, changed=decision.action != "keep")
        body = lease_body(
            namespace,
            name,
            holder,
            params["duration"],
            params["purpose"],
            moment,
            resource_version=(lease or {}).get("metadata", {}).get("resourceVersion", ""),
        )
        try:
            if decision.action == "create":
                # Sent again when an answer is lost: the second gets 409, and the next read
                # finds this run holding the lock.
                client.post(lease_path(namespace), body, idempotent=True)
            else:
                client.send("PUT", lease_path(namespace, name), body=body)
        except KubeRequestError as error:
            if error.status == 409:
                continue  # another run wrote it first (or our lost answer did): read again
            raise
        return _outcome(decision, before, holder, changed=True)
    raise LockHeld(
        f"the Lease {namespace}/{name} changed under every attempt to take it ({MAX_RACES} in a "
        "row): something else keeps writing it. Nothing was changed"
    )


def release(client: KubeClient, params: Mapping[str, Any], *, check_mode: bool) -> dict[str, Any]:
    """Delete the Lease if, and only while, this run holds it."""
    namespace, name, holder = params["namespace"], params["name"], params["holder"]
    lease = _read(client, namespace, name)
    if lease is None:
        return {"changed": False, "held": False, "holder": None, "released": False}
    held = describe_holder(lease)
    if held["holder"] != holder:
        return {"changed": False, "held": False, "holder": held, "released": False}
    if not check_mode:
        metadata = lease.get("metadata") or {}
        preconditions = {
            "uid": metadata.get("uid"),
            "resourceVersion": metadata.get("resourceVersion"),
        }
        try:
            client.send(
                "DELETE",
                lease_path(namespace, name),
                body={"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": preconditions},
            )
        except KubeRequestError as error:
            if error.status not in (404, 409):
                raise
            # 404: gone already; 409: taken over since (it expired): no longer ours to delete.
    return {
        "changed": True,
        "held": False,
        "holder": held,
        "released": True,
        "diff": {"before": {"holder": holder}, "after": {"holder": ""}},
    }


def _outcome(
    decision: Decision, before: dict[str, Any] | None, holder: str, *, changed: bool
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "changed": changed,
        "held": True,
        "holder": before,
        "reason": decision.reason
        or ("this run holds it already" if decision.action == "keep" else "the lock was free"),
    }
    if changed:
        result["diff"] = {
            "before": {"holder": (before or {}).get("holder", "")},
            "after": {"holder": holder},
        }
    return result


def run_module(module: ClusterModule) -> dict[str, Any]:
    params = module.params
    if params["duration"] < 1:
        module.fail_json(
            msg=f"duration={params['duration']} is refused: give the seconds the lock holds "
            "without renewal, at least the longest the change can take. Nothing was changed"
        )
    client = module.client()
    state = params["state"]
    refused = denied(client, needed_access(params["namespace"], state))
    if refused:
        doing = "take" if state == "present" else "release"
        where = f"{params['namespace']}/{params['name']}"
        module.fail_json(msg=refusal(refused, f"{doing} the lock {where}"))
    try:
        if state == "present":
            return acquire(client, params, check_mode=module.check_mode)
        return release(client, params, check_mode=module.check_mode)
    except LockHeld as error:
        module.fail_json(msg=str(error), held=False)
    except KubeRequestError as error:
        module.fail_json(msg=f"the lock {params['namespace']}/{params['name']}: {error}")
    raise AssertionError("fail_json returned")  # pragma: no cover
