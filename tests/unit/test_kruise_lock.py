"""The lock's decisions: who may take a Lease as read, when it has expired, what a refusal says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.access import Access
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_lock import (
    decide,
    expires_at,
    held_message,
    lease_body,
    micro_time,
    needed_access,
    parse_time,
)

NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)


def lease(holder: str, renewed: datetime = NOW, duration: int = 900) -> dict:
    return {
        "metadata": {
            "name": "kruise-cri.kruise",
            "namespace": "kruise-system",
            "resourceVersion": "7",
            "annotations": {
                "kruise-cri.openkruise.io/purpose": "pin OpenKruise 1.5.5",
                "kruise-cri.openkruise.io/host": "ops-1",
                "kruise-cri.openkruise.io/user": "alice",
            },
        },
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration,
            "acquireTime": micro_time(renewed),
            "renewTime": micro_time(renewed),
        },
    }


def test_a_missing_lease_is_created():
    assert decide(None, "run-b", NOW).action == "create"


def test_the_holder_keeps_its_own_lock():
    assert decide(lease("run-b"), "run-b", NOW).action == "keep"


def test_a_live_lock_of_another_run_is_refused():
    assert decide(lease("run-a"), "run-b", NOW + timedelta(seconds=899)).action == "refuse"


def test_an_expired_lock_is_taken_and_says_so():
    decision = decide(lease("run-a"), "run-b", NOW + timedelta(seconds=900))
    assert decision.action == "take"
    assert "run-a" in decision.reason and "expired" in decision.reason


def test_take_over_names_the_one_holder_it_may_replace():
    assert decide(lease("run-a"), "run-b", NOW, take_over="run-a").action == "take"
    assert decide(lease("run-a"), "run-b", NOW, take_over="run-c").action == "refuse"


def test_a_released_lease_without_holder_is_free():
    assert decide(lease(""), "run-b", NOW).action == "take"


@pytest.mark.parametrize("renew_time", [None, "", "yesterday"])
def test_a_lease_that_never_says_when_it_was_renewed_counts_as_expired(renew_time):
    stale = lease("run-a")
    stale["spec"]["renewTime"] = renew_time
    stale["spec"]["acquireTime"] = None
    assert expires_at(stale) is None
    assert decide(stale, "run-b", NOW).action == "take"


def test_micro_time_round_trips_with_microseconds():
    moment = NOW + timedelta(microseconds=123456)
    assert micro_time(moment) == "2026-12-03T12:00:00.123456Z"
    assert parse_time(micro_time(moment)) == moment


def test_the_refusal_names_holder_purpose_host_user_expiry_and_the_way_out():
    message = held_message("kruise-system", "kruise-cri.kruise", lease("run-a"))
    for part in (
        "kruise-system/kruise-cri.kruise",
        "kruise-cri run run-a",
        "pin OpenKruise 1.5.5",
        "on ops-1",
        "by alice",
        "2026-12-03T12:15:00.000000Z",
        "-e kruise_cri_lock_take_over=run-a",
        "Nothing was changed",
    ):
        assert part in message, part


def test_the_body_carries_the_resource_version_read_for_optimistic_concurrency():
    body = lease_body("ns", "kruise-cri.kruise", "run-b", 600, "pin", NOW, resource_version="7")
    assert body["metadata"]["resourceVersion"] == "7"
    assert body["spec"]["holderIdentity"] == "run-b"
    assert body["spec"]["leaseDurationSeconds"] == 600
    assert "resourceVersion" not in lease_body("ns", "n", "run-b", 600, "pin", NOW)["metadata"]


def test_taking_asks_for_what_releasing_needs_too():
    assert needed_access("kruise-system", "present") == [
        Access(verb, "leases", "coordination.k8s.io", "kruise-system")
        for verb in ("get", "create", "update", "delete")
    ]
    assert [a.verb for a in needed_access("kruise-system", "absent")] == ["get", "delete"]
    assert needed_access("ns", "absent")[1].describe() == (
        "delete leases.coordination.k8s.io in namespace ns"
    )
