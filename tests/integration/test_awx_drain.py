"""The job template `kruise-cri drain node` as AWX runs it, against the lab's real API server:
ansible-runner in a private data directory holding awx/project, the survey's answers as extra
vars (AWX sends a multiple-choice answer as a string: "true", not true), the Kubernetes credential
as K8S_AUTH_* variables of a service account bound to exactly rbac/drain.yml, no kubeconfig
anywhere; the result read from the job's events."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
)

from kruise_cri.lab.cluster_objects import create_all, ensure_namespace, kwok_node
from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.waiting import wait_until
from tests.integration.ansible_run import REPO_ROOT, ansible_env_without_cluster
from tests.integration.service_accounts import Account, grant_account, rbac_permissions

NODE = "awx-drain"
APPS = "awx-drain-apps"
ACCOUNTS_NAMESPACE = "kruise-cri-awx-drain"
TAINT = {"key": "kruise-cri.test/awx", "value": "drain", "effect": "NoSchedule"}
TEMPLATE = "kruise-cri drain node"


def survey_defaults() -> dict[str, Any]:
    """What AWX sends when the survey is submitted as it opens."""
    (template,) = [
        t
        for t in json.loads((REPO_ROOT / "awx" / "kruise-cri.json").read_text())["job_templates"]
        if t["name"] == TEMPLATE
    ]
    return {
        question["variable"]: question["default"]
        for question in template["related"]["survey_spec"]["spec"]
        if question.get("default", "") != ""
    }


def replica_set() -> dict[str, Any]:
    labels = {"app": "awx-web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "awx-web", "namespace": APPS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {"kubernetes.io/hostname": NODE},
                    "tolerations": [{**TAINT, "operator": "Equal"}],
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "app", "image": "registry.example/app:1.0"}],
                },
            },
        },
    }


def running_pod(kube: KubeClient) -> dict[str, Any] | None:
    pods = kube.get(f"/api/v1/namespaces/{APPS}/pods")["items"]
    running = [
        pod
        for pod in pods
        if pod["spec"].get("nodeName") == NODE
        and (pod.get("status") or {}).get("phase") == "Running"
        and not pod["metadata"].get("deletionTimestamp")
    ]
    return running[0] if running else None


def unschedulable(kube: KubeClient) -> bool:
    return bool(kube.get(f"/api/v1/nodes/{NODE}")["spec"].get("unschedulable"))


@pytest.fixture(scope="module")
def workload(control_plane: ControlPlane, kube: KubeClient) -> dict[str, Any]:
    node = kwok_node(NODE, "docker://20.10.24", "v1.23.17")
    node["spec"]["taints"] = [TAINT]
    ensure_namespace(kube, APPS)
    create_all(kube, [node, replica_set()])
    return wait_until("the ReplicaSet's pod runs on the kwok node", lambda: running_pod(kube), 120)


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


def launch(control_plane: ControlPlane, account: Account, directory: Path, **answers: Any):
    """The template launched with the survey's defaults and ``answers``."""
    import ansible_runner

    private = directory / "private"
    shutil.rmtree(private, ignore_errors=True)
    shutil.copytree(REPO_ROOT / "awx" / "project", private / "project")
    (private / "inventory").mkdir()
    (private / "inventory" / "hosts").write_text("[kube_nodes]\n")  # the playbook needs no node
    (private / "env").mkdir()
    (private / "env" / "extravars").write_text(yaml.safe_dump({**survey_defaults(), **answers}))
    home = directory / "home"  # no ~/.kube/config
    home.mkdir(exist_ok=True)
    environment = ansible_env_without_cluster()
    (private / "env" / "envvars").write_text(
        yaml.safe_dump(
            {
                "HOME": str(home),
                "PATH": environment["PATH"],
                "ANSIBLE_COLLECTIONS_PATH": environment["ANSIBLE_COLLECTIONS_PATH"],
                "ANSIBLE_CONFIG": environment["ANSIBLE_CONFIG"],
                "K8S_AUTH_HOST": control_plane.server,
                "K8S_AUTH_API_KEY": account.token,
                "K8S_AUTH_VERIFY_SSL": "True",
                "K8S_AUTH_SSL_CA_CERT": str(control_plane.kubeconfig.parent / "pki" / "ca.crt"),
            }
        )
    )
    (private / "env" / "envvars").chmod(0o600)
    return ansible_runner.run(
        private_data_dir=str(private), playbook="drain_node.yml", quiet=True, timeout=600
    )


def failure_messages(runner: Any) -> list[str]:
    return [
        " ".join(str(event["event_data"]["res"].get("msg")).split())
        for event in runner.events
        if event["event"] == "runner_on_failed"
    ]


def test_a_token_without_drain_s_permissions_changes_nothing_and_names_what_it_lacks(
    control_plane, kube, workload, tmp_path
):
    read_only = account_for(control_plane, kube, tmp_path, "awx-drain-read-only", "assess.yml")
    runner = launch(control_plane, read_only, tmp_path, kruise_cri_node=NODE)
    assert runner.status == "failed", runner.stdout.read()[-3000:]
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
    drained = launch(control_plane, account, tmp_path, kruise_cri_node=NODE)
    assert drained.status == "successful", drained.stdout.read()[-3000:]
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
        control_plane,
        account,
        tmp_path,
        kruise_cri_node=NODE,
        kruise_cri_drain_state="uncordon",
    )
    assert uncordoned.status == "successful", uncordoned.stdout.read()[-3000:]
    assert not unschedulable(kube)
    wait_until("the ReplicaSet's pod runs on the node again", lambda: running_pod(kube), 120)
