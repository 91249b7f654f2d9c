"""Two runs at once, a run killed half-way, and a release changed by hand during a run: real
ansible-playbook processes against a real control plane with OpenKruise installed by real helm.

One kruise-cri run at a time changes an installation (the Lease kruise-cri.<release>); a failing
run rolls back only what it changed, or what the interrupted run it completes changed, and never
a revision someone else made since; a rerun after a killed run finds that run's record."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.waiting import wait_until
from tests.integration.kube_helpers import helm
from tests.integration.remediation_helpers import (
    DAEMON,
    RELEASE,
    RELEASE_NAMESPACE,
    CrashMarker,
    container_of,
    failed,
    finish,
    get_or_none,
    helm_history,
    helm_install,
    helm_uninstall,
    kruise_plane_fixtures,
    pin_records,
    run_playbook,
    start_playbook,
    succeeded,
)

NODES = {
    "lock-docker": ("docker://20.10.24", "v1.23.17"),
    "lock-containerd-17": ("containerd://1.7.24", "v1.28.15"),
}
VALUES = {"featureGates": "ImagePullJobGate=true", "manager": {"replicas": 1}}
LEASE = f"/apis/coordination.k8s.io/v1/namespaces/{RELEASE_NAMESPACE}/leases/kruise-cri.{RELEASE}"
DOCKER_25 = "Error response from daemon: client version 1.23 is too old"


plane, kube, charts = kruise_plane_fixtures(NODES, "lock")


@pytest.fixture
def installed(plane, kube, charts, tmp_path) -> Iterator[ControlPlane]:
    """Release `kruise`, chart 1.6.3; no kruise-cri lock left from an earlier test."""
    helm_install(plane, charts["1.6.3"], VALUES, tmp_path)
    yield plane
    helm_uninstall(plane, kube)
    if get_or_none(kube, LEASE) is not None:
        kube.delete(LEASE)


def pin_vars(charts: Mapping[str, Path], tmp: Path, **more: Any) -> dict[str, Any]:
    return {
        "kruise_cri_chart_ref": str(charts["1.5.5"]),
        **more,
    }


def charts_in_history(plane: ControlPlane) -> list[tuple[int, str]]:
    return [(h["revision"], h["chart"]) for h in helm_history(plane)]


def new_daemon_on_docker(pod: Mapping[str, Any]) -> bool:
    """A 1.5.5 kruise-daemon pod on the Docker node, which a Docker >= 25 makes fail too."""
    return (
        pod["metadata"].get("labels", {}).get("control-plane") == "daemon"
        and pod["spec"].get("nodeName") == "lock-docker"
        and pod["spec"]["containers"][0]["image"].endswith(":v1.5.5")
    )


def wait_for_revision(plane: ControlPlane, revision: int) -> None:
    wait_until(
        f"helm to show revision {revision} of release {RELEASE} deployed",
        lambda: any(
            h["revision"] == revision and h["status"] == "deployed" for h in helm_history(plane)
        ),
        timeout=120,
    )


# ------------------------------------------------------------------------------------------
# 5. Two pins at once


def test_two_pins_at_once_one_pins_and_the_other_is_refused_by_the_lock(
    installed, kube, charts, tmp_path
):
    # The post-check holds the lock for 15 s at least: the second run's pre-flight meets it.
    variables = pin_vars(charts, tmp_path, kruise_cri_stable_seconds=15)
    first = start_playbook("pin_kruise", installed, variables)
    second = start_playbook("pin_kruise", installed, variables)
    outcomes = [finish(first), finish(second)]

    winners = [o for o in outcomes if o.returncode == 0]
    losers = [o for o in outcomes if o.returncode != 0]
    assert len(winners) == 1 and len(losers) == 1, [o.stdout[-3000:] for o in outcomes]
    succeeded(winners[0])
    refusal = failed(losers[0])
    (record,) = pin_records(kube)
    assert f"kruise-cri run {record['run_id']} (pin OpenKruise 1.5.5" in refusal
    assert "two runs at once would undo each other's work" in refusal
    assert f"-e kruise_cri_lock_take_over={record['run_id']}" in refusal
    assert "Nothing was changed" in refusal
    # One upgrade, no rollback by the refused run, one record, and the lock released.
    assert charts_in_history(installed) == [(1, "kruise-1.6.3"), (2, "kruise-1.5.5")]
    assert record["outcome"] == "pinned"
    assert get_or_none(kube, LEASE) is None

    # The lock is also the daemon gate's: a disable meets a pin's lock.
    kube.post(
        LEASE.rsplit("/", 1)[0],
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": f"kruise-cri.{RELEASE}"},
            "spec": {
                "holderIdentity": "somebody-else",
                "leaseDurationSeconds": 600,
                "renewTime": "2999-01-01T00:00:00.000000Z",
            },
        },
    )
    gated = run_playbook(
        "disable_kruise_daemon", installed, {"kruise_cri_chart_ref": str(charts["1.5.5"])}
    )
    refusal = failed(gated)
    assert "kruise-cri run somebody-else" in refusal and "Nothing was changed" in refusal
    assert charts_in_history(installed) == [(1, "kruise-1.6.3"), (2, "kruise-1.5.5")]
    assert get_or_none(kube, LEASE)["spec"]["holderIdentity"] == "somebody-else"


# ------------------------------------------------------------------------------------------
# 5. Never roll back what this run did not change


def test_a_failing_pin_leaves_a_revision_made_by_hand_since_alone(
    installed, kube, charts, tmp_path
):
    with CrashMarker(kube, new_daemon_on_docker, DOCKER_25):
        run = start_playbook(
            "pin_kruise", installed, pin_vars(charts, tmp_path, kruise_cri_timeout=40)
        )
        wait_for_revision(installed, 2)
        # Someone upgrades the release by hand while the pin waits for health.
        helm(
            installed,
            "upgrade",
            RELEASE,
            str(charts["1.5.5"]),
            "--namespace",
            RELEASE_NAMESPACE,
            "--reuse-values",
            "--set",
            "manager.log.level=4",
            "--description",
            "by hand",
        )
        outcome = finish(run)
    message = failed(outcome)
    assert "failed at step 'Wait for kruise-manager Ready" in message
    assert (
        "Not rolled back: revision 3 (deployed, chart 1.5.5, 'by hand') is not revision 2"
        in message
    )
    assert "someone else changed the release after this run" in message
    assert charts_in_history(installed) == [
        (1, "kruise-1.6.3"),
        (2, "kruise-1.5.5"),
        (3, "kruise-1.5.5"),
    ]
    (record,) = pin_records(kube)
    assert record["outcome"] == "left alone"
    assert get_or_none(kube, LEASE) is None


# ------------------------------------------------------------------------------------------
# 6. A rerun after a killed pin


def test_a_rerun_after_a_killed_pin_rolls_back_to_the_killed_runs_record(
    installed, kube, charts, tmp_path
):
    with CrashMarker(kube, new_daemon_on_docker, DOCKER_25):
        killed = start_playbook(
            "pin_kruise", installed, pin_vars(charts, tmp_path, kruise_cri_timeout=300)
        )
        wait_for_revision(installed, 2)
        os.killpg(killed.pid, signal.SIGKILL)  # the controller lost mid-post-check
        finish(killed)
        (record,) = pin_records(kube)
        assert record["outcome"] == "started"
        assert get_or_none(kube, LEASE)["spec"]["holderIdentity"] == record["run_id"]

        # The killed run's lock still holds: a rerun is refused, told how to take it over.
        refused = failed(run_playbook("pin_kruise", installed, pin_vars(charts, tmp_path)))
        assert f"-e kruise_cri_lock_take_over={record['run_id']}" in refused
        assert "Nothing was changed" in refused

        rerun = run_playbook(
            "pin_kruise",
            installed,
            pin_vars(
                charts,
                tmp_path,
                kruise_cri_timeout=25,
                kruise_cri_lock_take_over=record["run_id"],
            ),
        )
    message = failed(rerun)
    assert f"Run {record['run_id']} pinned 1.5.5" in message and "never ended" in message
    assert (
        f"Rolled back to revision 1 (OpenKruise 1.6.3), from the record {record['file']} of run "
        f"{record['run_id']}" in message
    )
    assert charts_in_history(installed) == [
        (1, "kruise-1.6.3"),
        (2, "kruise-1.5.5"),
        (3, "kruise-1.6.3"),
    ]
    assert container_of(kube.get(DAEMON), "daemon")["image"].endswith(":v1.6.3")
    (record_after,) = pin_records(kube)  # the rerun changed nothing itself: no record of its own
    assert record_after["outcome"].startswith("rolled back (by run ")
    assert get_or_none(kube, LEASE) is None
