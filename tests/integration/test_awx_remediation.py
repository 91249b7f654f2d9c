"""The remediation job templates as AWX runs them (tests/integration/awx_jobs.py): each job in a
private data directory of its own, as each AWX job has a container of its own, with helm on PATH
as the execution environment has it, and a service account bound to exactly the rbac/ file of the
job. Against a real control plane with OpenKruise 1.6.3 installed from the lab's chart by real
helm and its kruise-daemon crash-looping on the Docker and containerd 1.4 nodes: disable the
daemon, then put it back (the way back of a disable), then pin 1.5.5 and, once the nodes serve
CRI v1, undo the pin in a later job (the way back of a pin); what each job did is read from its
artifacts, and the pin's record of the way back stays in the cluster for later jobs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.gotools import ensure_go_tool
from tests.integration.ansible_run import REPO_ROOT
from tests.integration.awx_jobs import artifacts, launch, output
from tests.integration.remediation_helpers import (
    DAEMON,
    RELEASE_NAMESPACE,
    daemon_pods,
    get_or_none,
    helm_history,
    helm_install,
    helm_values,
    kruise_plane_fixtures,
    make_crash_loop,
    pin_records,
    pod_ready,
    set_runtime,
)
from tests.integration.service_accounts import grant_account, rbac_permissions

NODES = {
    "awx-docker": ("docker://20.10.24", "v1.23.17"),
    "awx-containerd-14": ("containerd://1.4.13", "v1.23.17"),
    "awx-containerd-17": ("containerd://1.7.24", "v1.28.15"),
}
CRASHING = ("awx-docker", "awx-containerd-14")
PROXY_PASSWORD = "s3cret-proxy-password"
USER_VALUES = {
    "featureGates": "ImagePullJobGate=true",
    "manager": {"replicas": 1},
    "daemon": {"extraEnvs": [{"name": "HTTP_PROXY", "value": f"http://u:{PROXY_PASSWORD}@p:3128"}]},
}
ACCOUNTS_NAMESPACE = "kruise-cri-awx-jobs"
# Shorter waits than the survey's defaults; the lab has no route to the chart repository, so the
# survey's chart questions are answered with a packaged chart of the lab's.
SPEED = {"kruise_cri_timeout": 120, "kruise_cri_stable_seconds": 3}


plane, kube, charts = kruise_plane_fixtures(NODES, "awx-jobs")


@pytest.fixture
def installed(plane, kube, charts, tmp_path) -> Iterator[ControlPlane]:
    helm_install(plane, charts["1.6.3"], USER_VALUES, tmp_path)
    make_crash_loop(kube, NODES, CRASHING)
    yield plane


def token_for(plane: ControlPlane, kube, directory: Path, rbac_file: str) -> str:
    return grant_account(
        plane,
        kube,
        directory,
        f"awx-{Path(rbac_file).stem}",
        rbac_permissions(REPO_ROOT / "rbac" / rbac_file),
        accounts_namespace=ACCOUNTS_NAMESPACE,
    ).token


def test_disable_enable_and_pin_as_awx_jobs(installed, kube, charts, tmp_path):
    helm = [ensure_go_tool("helm").parent]
    disable_token = token_for(installed, kube, tmp_path, "disable-helm.yml")
    pin_token = token_for(installed, kube, tmp_path, "pin-helm.yml")
    chart_1_6 = {"kruise_cri_chart_ref": str(charts["1.6.3"]), "kruise_cri_chart_repo_url": ""}

    disabled = launch(
        "kruise-cri disable kruise-daemon",
        installed,
        disable_token,
        tmp_path,
        {**chart_1_6, **SPEED},
        tools=helm,
    )
    assert disabled.status == "successful", output(disabled)
    gate = artifacts(disabled)["kruise_cri_daemon_gate"]
    assert gate["direction"] == "disable" and gate["changed"] is True, gate
    assert get_or_none(kube, DAEMON) is None

    # The way back of a disable, in a later job that shares nothing with the first.
    enabled = launch(
        "kruise-cri disable kruise-daemon",
        installed,
        disable_token,
        tmp_path,
        {**chart_1_6, **SPEED, "kruise_cri_direction": "enable"},
        tools=helm,
    )
    assert enabled.status == "successful", output(enabled)
    gate = artifacts(enabled)["kruise_cri_daemon_gate"]
    assert gate["direction"] == "enable" and gate["changed"] is True, gate
    assert helm_values(installed) == USER_VALUES
    assert get_or_none(kube, DAEMON) is not None
    make_crash_loop(kube, NODES, CRASHING)

    def pin_job(**answers: str):
        return launch(
            "kruise-cri pin OpenKruise 1.5",
            installed,
            pin_token,
            tmp_path,
            {
                "kruise_cri_chart_ref": str(charts["1.5.5"]),
                "kruise_cri_chart_repo_url": "",
                **SPEED,
                **answers,
            },
            tools=helm,
        )

    pinned = pin_job()
    assert pinned.status == "successful", output(pinned)
    pin = artifacts(pinned)["kruise_cri_pin"]
    assert pin["target_version"] == "1.5.5" and pin["changed"] is True, pin
    assert helm_history(installed)[-1]["app_version"] == "1.5.5"
    assert all(pod_ready(pod) for pod in daemon_pods(kube))
    # The record of the way back is in the cluster, where a later job finds it.
    (record,) = pin_records(kube)
    assert pin["record"] == f"Secret {RELEASE_NAMESPACE}/{record['name']}"
    assert record["outcome"] == "pinned" and record["helm"]["values"] == USER_VALUES

    # A later job finds the pin in place and changes nothing.
    again = pin_job()
    assert again.status == "successful", output(again)
    assert artifacts(again)["kruise_cri_pin"]["changed"] is False

    # The way back of a pin, once the nodes serve CRI v1 (their kubelets report containerd 1.7
    # after a migration), in a later job again.
    for node in CRASHING:
        set_runtime(kube, node, "containerd://1.7.24")
    unpinned = pin_job(kruise_cri_pin_action="unpin")
    assert unpinned.status == "successful", output(unpinned)
    unpin = artifacts(unpinned)["kruise_cri_unpin"]
    assert unpin["changed"] is True and unpin["back_to_version"] == "1.6.3", unpin
    assert unpin["pin_run_id"] == record["run_id"] and unpin["record"] == pin["record"]
    assert helm_history(installed)[-1]["description"] == f"Rollback to {record['helm']['revision']}"
    assert helm_values(installed) == USER_VALUES
    (record,) = pin_records(kube)
    assert record["outcome"].startswith("unpinned (by run ")

    jobs = ((disabled, disable_token), (enabled, disable_token), (pinned, pin_token))
    for job, token in (*jobs, (unpinned, pin_token)):
        events = json.dumps(list(job.events))
        assert token not in events
        assert PROXY_PASSWORD not in events
