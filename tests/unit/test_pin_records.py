"""Which record is a failing pin's way back: this run's, an interrupted run's, or none."""

from __future__ import annotations

import base64
import json
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.pin_records import (
    interrupted_pin,
    way_back,
)

SERVER = "https://127.0.0.1:6443"


def record(
    taken_at: str,
    *,
    outcome: str = "started",
    revision: int = 1,
    target: str = "1.5.5",
    server: str = SERVER,
    release: str = "kruise",
) -> dict[str, Any]:
    return {
        "method": "helm",
        "kruise_version": "1.6.3",
        "helm": {
            "release": release,
            "namespace": "default",
            "revision": revision,
            "chart_version": "1.6.3",
            "values": {"registry": {"password": "s3cret"}},
        },
        "server": server,
        "target_version": target,
        "run_id": f"run-{taken_at}",
        "taken_at": taken_at,
        "outcome": outcome,
    }


def slurped(*records: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "content": base64.b64encode(json.dumps(r).encode()).decode(),
            "source": f"/backup/pin-kruise-{r['taken_at']}.json",
        }
        for r in records
    ]


def find(records: list[dict[str, Any]], **overrides: Any) -> dict[str, Any] | None:
    options: dict[str, Any] = {
        "server": SERVER,
        "method": "helm",
        "release": "kruise",
        "namespace": "default",
        "current_version": "1.5.5",
        "current_revision": 2,
    }
    options.update(overrides)
    return interrupted_pin(records, **options)


def test_the_newest_unfinished_record_whose_pin_is_in_place_is_adopted_without_values():
    found = find(
        slurped(record("2026-12-01T10:00:00Z", outcome="pinned"), record("2026-12-03T10:00:00Z"))
    )
    assert found is not None
    assert found["run_id"] == "run-2026-12-03T10:00:00Z"
    assert found["file"] == "/backup/pin-kruise-2026-12-03T10:00:00Z.json"
    assert found["helm"]["revision"] == 1
    assert "values" not in found["helm"]


def test_a_newer_run_that_ended_makes_older_unfinished_records_history():
    records = slurped(
        record("2026-12-01T10:00:00Z"), record("2026-12-03T10:00:00Z", outcome="pinned")
    )
    assert find(records) is None


def test_a_run_interrupted_before_its_change_took_effect_is_not_adopted():
    assert find(slurped(record("2026-12-03T10:00:00Z")), current_version="1.6.3") is None
    assert find(slurped(record("2026-12-03T10:00:00Z", revision=2))) is None


def test_records_of_other_clusters_and_releases_do_not_count():
    assert find(slurped(record("2026-12-03T10:00:00Z", server="https://other:6443"))) is None
    assert find(slurped(record("2026-12-03T10:00:00Z", release="kruise-b"))) is None


def test_unreadable_records_are_skipped():
    broken = [{"content": "not base64 json!"}, {"failed": True, "msg": "permission denied"}]
    assert find(broken + slurped(record("2026-12-03T10:00:00Z"))) is not None


HELM_RECORD = {"helm": {"revision": 4}}


def test_this_runs_upgrade_is_rolled_back_from_the_revision_it_made():
    decision = way_back("helm", {"changed": True, "release": {"revision": 5}}, HELM_RECORD, None)
    assert decision["rollback"] and decision["source"] == "this run"
    assert (decision["revision"], decision["only_from_revision"]) == (4, 5)


def test_a_failed_upgrade_is_rolled_back_only_when_helm_made_a_revision():
    made = way_back("helm", {"failed": True, "revision_made": 5}, HELM_RECORD, None)
    assert made["rollback"] and made["only_from_revision"] == 5
    none = way_back("helm", {"failed": True, "revision_made": None}, HELM_RECORD, None)
    assert not none["rollback"] and "failed before changing anything" not in none["says"]


def test_a_run_that_changed_nothing_and_completes_no_one_rolls_nothing_back():
    decision = way_back("helm", {"changed": False}, HELM_RECORD, None, 5)
    assert not decision["rollback"]
    assert way_back("helm", None, HELM_RECORD, None, 5)["says"].endswith(
        "this run failed before changing anything"
    )


def test_a_rerun_completing_an_interrupted_pin_rolls_back_to_that_runs_record():
    interrupted = find(slurped(record("2026-12-03T10:00:00Z")))
    decision = way_back("helm", {"changed": False}, HELM_RECORD, interrupted, 2)
    assert decision["source"] == "interrupted run"
    assert (decision["revision"], decision["only_from_revision"]) == (1, 2)
    assert "run-2026-12-03T10:00:00Z" in decision["says"]


def test_manifests_are_restored_only_when_this_run_or_the_interrupted_one_touched_them():
    mine = {"manifests": {"manager_image": "openkruise/kruise-manager:v1.6.3"}}
    assert way_back("manifests", {"changed": True}, mine, None)["manifests"] == mine["manifests"]
    assert not way_back("manifests", {"changed": False}, mine, None)["rollback"]
    theirs = {"manifests": {"manager_image": "openkruise/kruise-manager:v1.6.2"}, "file": "f"}
    adopted = way_back("manifests", {"changed": False}, mine, theirs)
    assert adopted["source"] == "interrupted run"
    assert adopted["manifests"]["manager_image"].endswith("v1.6.2")
