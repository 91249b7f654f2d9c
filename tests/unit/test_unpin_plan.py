"""Which pin an unpin undoes, from its record, and what refuses it."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.unpin_plan import (
    unpin_plan,
    v1alpha2_risk,
)

from tests.unit.test_pin_records import SERVER, record, slurped

PIN_DESCRIPTION = "kruise-cri: pin OpenKruise 1.5.5 (run run-{})"
CONTAINERD_17 = {"name": "n1", "runtime": "containerd", "runtime_version": "1.7.24"}


def plan(records: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "server": SERVER,
        "method": "helm",
        "release": "kruise",
        "namespace": "default",
        "current_version": "1.5.5",
        "current_revision": 2,
        "current_description": PIN_DESCRIPTION.format("t2"),
        "nodes": [CONTAINERD_17],
        **overrides,
    }
    return unpin_plan(slurped(*records), **options)


def test_the_newest_pin_in_place_is_undone_to_its_recorded_revision():
    result = plan([record("t1", outcome="rolled back"), record("t2", outcome="pinned")])
    assert result["to_undo"] and result["refused"] == []
    assert (result["revision"], result["only_from_revision"]) == (1, 2)
    assert result["record"]["run_id"] == "run-t2"
    assert "values" not in result["record"]["helm"]  # the recorded values never leave
    assert "s3cret" not in repr(result)
    assert result["expected"] == {"version_line": "1.6", "feature_gates": None, "daemon": "present"}
    assert result["says"].startswith("revision 1 (OpenKruise 1.6.3, chart 1.6.3)")


def test_runs_that_rolled_back_are_passed_over_for_the_pin_still_in_place():
    result = plan([record("t2", outcome="pinned"), record("t3", outcome="rolled back", revision=2)])
    assert result["to_undo"] and result["record"]["run_id"] == "run-t2"


def test_a_pin_completed_by_a_later_run_counts_as_pinned():
    result = plan([record("t2", outcome="pinned (by run abc)")])
    assert result["to_undo"]


def test_a_pin_undone_already_changes_nothing_and_says_when():
    done = record("t2", outcome="unpinned (by run xyz)")
    done["unpinned_at"] = "2026-12-05T03:00:00Z"
    result = plan([done], current_version="1.6.3", current_revision=3, current_description="x")
    assert not result["to_undo"] and result["refused"] == []
    assert "undone already (unpinned (by run xyz), 2026-12-05T03:00:00Z)" in result["says"]


@pytest.mark.parametrize(
    ("records", "words"),
    [
        ([], "no pin of Helm release kruise in default by kruise-cri is recorded"),
        ([record("t1", outcome="rolled back")], "no pin of Helm release kruise"),
        ([record("t2", server="https://other:6443")], "no pin of Helm release kruise"),
        ([record("t2")], "the pin of run run-t2 (/backup/pin-kruise-t2.json) never ended"),
        ([record("t2", outcome="rollback failed")], "ended 'rollback failed'"),
        ([record("t2", outcome="left alone")], "restore it by hand from /backup/pin-kruise-t2"),
    ],
)
def test_no_pin_to_undo_is_refused_naming_why(records, words):
    result = plan(records)
    assert not result["to_undo"]
    assert any(words in reason for reason in result["refused"]), result["refused"]


def test_a_release_changed_since_the_pin_is_refused():
    changed = plan(
        [record("t2", outcome="pinned")],
        current_revision=3,
        current_description="Upgrade complete",
    )
    assert not changed["to_undo"]
    assert (
        "release kruise is at revision 3 ('Upgrade complete'), not the revision run run-t2"
        in (changed["refused"][0])
    )
    assert "helm rollback kruise 1 -n default" in changed["refused"][0]
    other_version = plan([record("t2", outcome="pinned")], current_version="1.5.4")
    assert (
        "OpenKruise runs 1.5.4, not the 1.5.5 that run run-t2 pinned"
        in (other_version["refused"][0])
    )


def test_a_revision_that_put_the_pin_back_holds_the_pin():
    put_back = record("t2", outcome="pinned")
    put_back["helm"]["pin_revisions"] = [4]
    result = plan([put_back], current_revision=4, current_description="Rollback to 2")
    assert result["to_undo"] and (result["revision"], result["only_from_revision"]) == (1, 4)
    later = plan([put_back], current_revision=5, current_description="Rollback to 2")
    assert not later["to_undo"]


def test_nodes_that_may_serve_only_v1alpha2_refuse_unless_forced():
    nodes = [
        CONTAINERD_17,
        {"name": "old", "runtime": "containerd", "runtime_version": "1.4.13"},
        {"name": "dock", "runtime": "docker", "runtime_version": "20.10.24"},
    ]
    refused = plan([record("t2", outcome="pinned")], nodes=nodes)
    assert not refused["to_undo"]
    (reason,) = refused["refused"]
    assert reason.startswith("kruise-daemon 1.6.3 speaks only CRI v1 and would crash-loop on: ")
    assert "old runs containerd 1.4.13" in reason and "dock runs docker 20.10.24" in reason
    assert "n1" not in reason and "migrate_runtime" in reason and "force: true" in reason
    forced = plan([record("t2", outcome="pinned")], nodes=nodes, force=True)
    assert forced["to_undo"] and forced["notes"][0].startswith("forced past: kruise-daemon")


def test_without_the_daemon_the_runtimes_do_not_matter():
    disabled = record("t2", outcome="pinned")
    disabled["helm"]["values"] = {"featureGates": "KruiseDaemon=false"}
    docker = [{"name": "dock", "runtime": "docker", "runtime_version": "20.10.24"}]
    result = plan([disabled], nodes=docker)
    assert result["to_undo"]
    assert result["expected"]["daemon"] == "absent"
    assert result["expected"]["feature_gates"] == "KruiseDaemon=false"


def test_manifests_go_back_to_the_recorded_images_only_while_the_pinned_image_runs():
    pinned = {
        "method": "manifests",
        "kruise_version": "1.6.3",
        "manifests": {
            "namespace": "kruise-system",
            "manager_image": "reg/openkruise/kruise-manager:v1.6.3",
            "daemon_image": "reg/openkruise/kruise-manager:v1.6.3",
            "feature_gates": "PodProbeMarkerGate=true",
        },
        "server": SERVER,
        "target_version": "1.5.5",
        "run_id": "m1",
        "taken_at": "t1",
        "outcome": "pinned",
    }
    options = {"method": "manifests", "namespace": "kruise-system", "current_revision": None}
    result = plan([pinned], current_manager_image="reg/openkruise/kruise-manager:v1.5.5", **options)
    assert result["to_undo"]
    assert result["manifests"]["manager_image"].endswith(":v1.6.3")
    assert result["expected"] == {
        "version_line": "1.6",
        "feature_gates": "PodProbeMarkerGate=true",
        "daemon": "present",
    }
    moved = plan([pinned], current_manager_image="reg/openkruise/kruise-manager:v1.5.4", **options)
    assert (
        "kruise-manager runs reg/openkruise/kruise-manager:v1.5.4, not the 1.5.5 image"
        in (moved["refused"][0])
    )


@pytest.mark.parametrize(
    ("node", "risky"),
    [
        ({"runtime": "docker", "runtime_version": "24.0.7"}, True),
        ({"runtime": "containerd", "runtime_version": "1.5.18"}, True),
        ({"runtime": "containerd", "runtime_version": "1.6.0"}, False),
        ({"runtime": "containerd", "runtime_version": "2.1.4"}, False),
        ({"runtime": "containerd", "runtime_version": "unknown"}, True),
        ({"runtime": "cri-o", "runtime_version": "1.28.1"}, False),
    ],
)
def test_which_runtimes_may_serve_only_v1alpha2(node, risky):
    assert (v1alpha2_risk(node) is not None) is risky
