"""The job template `kruise-cri drain node` as AWX runs it (tests/integration/awx_jobs.py), against
the lab's real API server, with a service account bound to exactly rbac/drain.yml; the survey's
answers as AWX sends them (a multiple-choice answer is a string: "false", not false)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
)

from kruise_cri.lab.cluster_objects import create_all, ensure_namespace, kwok_node
from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.waiting import wait_until
from tests.integration.ansible_run import REPO_ROOT
from tests.integration.awx_jobs import failure_messages, launch, output
from tests.integration.kube_helpers import replica_set_on, running_pod_on
from tests.integration.service_accounts import Account, grant_account, rbac_permissions

NODE = "awx-drain"
APPS = "awx-drain-apps"
ACCOUNTS_NAMESPACE = "kruise-cri-awx-drain"
TAINT = {"key": "kruise-cri.test/awx", "value": "drain", "effect": "NoSchedule"}
TEMPLATE = "kruise-cri drain node"


def running_pod(kube: KubeClient) -> dict[str, Any] | None:
    return running_pod_on(kube, APPS, NODE)


def unschedulable(kube: KubeClient) -> bool:
    return bool(kube.get(f"/api/v1/nodes/{NODE}")["spec"].get("unschedulable"))


@pytest.fixture(scope="module")
def workload(control_plane: ControlPlane, kube: KubeClient) -> Iterator[dict[str, Any]]:
    """A ReplicaSet's pod on a node of its own, in the session's cluster: both removed after."""
    node = kwok_node(NODE, "docker://20.10.24", "v1.23.17")
    node["spec"]["taints"] = [TAINT]
    ensure_namespace(kube, APPS)
    create_all(kube, [node, replica_set_on("awx-web", APPS, NODE, TAINT)])
    yield wait_until("the ReplicaSet's pod runs on the kwok node", lambda: running_pod(kube), 120)
    kube.delete(f"/api/v1/namespaces/{APPS}")
    kube.delete(f"/api/v1/nodes/{NODE}")


def account_for(
    control_plane: ControlPlane, kube: KubeClient, directory: Path, name: str, rbac_file: str
) -> Account:
    return grant_account(
        control_plane,
        kube,
        directory,
        name,
        rbac_permissions(REPO_ROOT / "rbac" / rbac_file),
        accounts_namespace=ACCOUNTS_NAMESPACE,
    )


def test_a_token_without_drain_s_permissions_changes_nothing_and_names_what_it_lacks(
    control_plane, kube, workload, tmp_path
):
    # Only the ClusterRole of rbac/assess.yml: its Roles would create OpenKruise's namespace in
    # the session's cluster, where other modules install the release themselves.
    read_only = grant_account(
        control_plane,
        kube,
        tmp_path,
        "awx-drain-read-only",
        [p for p in rbac_permissions(REPO_ROOT / "rbac" / "assess.yml") if p.namespace is None],
        accounts_namespace=ACCOUNTS_NAMESPACE,
    )
    runner = launch(TEMPLATE, control_plane, read_only.token, tmp_path, {"kruise_cri_node": NODE})
    assert runner.status == "failed", output(runner)
    (message,) = failure_messages(runner)
    # rbac/assess.yml lists nodes but may not get one by name, nor patch it.
    assert re.search(r"they lack (get|patch) nodes awx-drain\b", message), message
    assert "Nothing was changed" in message, message
    assert not unschedulable(kube)
    assert running_pod(kube)["metadata"]["uid"] == workload["metadata"]["uid"]


def test_the_template_drains_with_exactly_rbac_drain_then_uncordons(
    control_plane, kube, workload, tmp_path
):
    account = account_for(control_plane, kube, tmp_path, "awx-drain", "drain.yml")
    drained = launch(TEMPLATE, control_plane, account.token, tmp_path, {"kruise_cri_node": NODE})
    assert drained.status == "successful", output(drained)
    assert unschedulable(kube)
    assert running_pod(kube) is None
    results = [
        event["event_data"]["res"]
        for event in drained.events
        if event["event"] == "runner_on_ok"
        and event["event_data"].get("task_action") == "kruise_cri.remediation.node_drain"
    ]
    assert [pod["name"] for pod in results[0]["evicted"]] == [workload["metadata"]["name"]]
    assert account.token not in json.dumps(list(drained.events))

    # Launched again with the survey answered "uncordon".
    uncordoned = launch(
        TEMPLATE,
        control_plane,
        account.token,
        tmp_path,
        {"kruise_cri_node": NODE, "kruise_cri_drain_state": "uncordon"},
    )
    assert uncordoned.status == "successful", output(uncordoned)
    assert not unschedulable(kube)
    wait_until("the ReplicaSet's pod runs on the node again", lambda: running_pod(kube), 120)
