"""`kruise-cri drain | pin | disable-daemon | migrate` as a user runs them: the playbooks through
ansible-runner against the session's real control plane, with per-host progress, --check that
changes nothing, --json for machines, and bad input refused before anything runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
)

from kruise_cri.lab.cluster_objects import create_all, kwok_node
from kruise_cri.lab.controlplane import ControlPlane

KRUISE_CRI = Path(sys.executable).with_name("kruise-cri")
NODE = "cli-drain-node"


def kruise_cri(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KRUISE_CRI), *args], capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def node(kube: KubeClient) -> str:
    create_all(kube, [kwok_node(NODE, "containerd://1.7.24")])
    return NODE


def unschedulable(kube: KubeClient) -> bool:
    return bool(kube.get(f"/api/v1/nodes/{NODE}")["spec"].get("unschedulable"))


def test_drain_checks_then_cordons_and_uncordons_with_progress(
    control_plane: ControlPlane, kube: KubeClient, node: str
) -> None:
    kubeconfig = str(control_plane.kubeconfig)
    checked = kruise_cri("drain", node, "--kubeconfig", kubeconfig, "--check", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    summary = json.loads(checked.stdout)
    assert summary["check"] is True and summary["status"] == "successful"
    assert summary["hosts"]["localhost"]["changed"] >= 1
    assert summary["artifacts"]["kruise_cri_drain"]["node"] == node
    assert not unschedulable(kube)
    drained = kruise_cri("drain", node, "--kubeconfig", kubeconfig)
    assert drained.returncode == 0, drained.stdout + drained.stderr
    assert f"- Drain, cordon or uncordon the node {node}\n  localhost: changed\n" in drained.stdout
    assert "kruise_cri.remediation.drain_node: successful" in drained.stdout
    assert unschedulable(kube)
    again = kruise_cri("drain", node, "--kubeconfig", kubeconfig, "--json")
    assert json.loads(again.stdout)["hosts"]["localhost"]["changed"] == 0
    back = kruise_cri("drain", node, "--uncordon", "--kubeconfig", kubeconfig)
    assert back.returncode == 0, back.stdout
    assert not unschedulable(kube)


def test_a_failed_job_names_the_host_the_task_and_the_error(control_plane: ControlPlane) -> None:
    failed = kruise_cri(
        "drain", "no-such-node", "--kubeconfig", str(control_plane.kubeconfig), "--json"
    )
    assert failed.returncode == 1
    summary = json.loads(failed.stdout)
    assert summary["status"] == "failed"
    [failure] = summary["failures"]
    assert failure["host"] == "localhost"
    assert failure["task"] == "Drain, cordon or uncordon the node no-such-node"
    assert "no-such-node" in failure["msg"]


def test_disable_daemon_where_no_openkruise_runs_fails_with_the_playbook_s_reason(
    control_plane: ControlPlane,
) -> None:
    refused = kruise_cri("disable-daemon", "--kubeconfig", str(control_plane.kubeconfig), "--check")
    assert refused.returncode == 1
    assert "localhost: FAILED" in refused.stdout
    assert "kruise_cri.remediation.disable_kruise_daemon: failed (check mode)" in refused.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pin", "--version", "1.6.0"], "--version 1.6.0 is not a 1.5.x release"),
        (["drain", NODE, "--timeout", "0"], "--timeout 0 must be 1 second or more"),
        (["drain", NODE, "-e", "not a pair"], "is not KEY=VALUE or a JSON object"),
        (["migrate", "-i", "/nowhere/hosts.yml"], "inventory /nowhere/hosts.yml does not exist"),
        (
            ["migrate", "-i", "node-1,", "--containerd-archive", "/nowhere.tar.gz"],
            "--containerd-archive /nowhere.tar.gz is not a file",
        ),
        (
            ["pin", "--kubeconfig", "/nowhere/kubeconfig"],
            "--kubeconfig /nowhere/kubeconfig is not a file",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_runs(args: list[str], message: str) -> None:
    refused = kruise_cri(*args)
    assert refused.returncode == 1
    assert message in refused.stderr, refused.stderr
    assert "Running" not in refused.stdout
