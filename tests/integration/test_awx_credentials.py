"""The cluster modules reach the API server the ways AWX gives them: the K8S_AUTH_* variables of
its Kubernetes credential (options first), and a kubeconfig whose exec plugin hands out a token
that the API server stops accepting half-way through a run (the token is fetched again and the
request repeated). Against the session's real control plane, with service-account tokens the API
server's own authenticator checks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest
import urllib3
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
    new_client,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeAccessError,
    KubeClient,
)

from kruise_cri.lab.cluster_objects import create_all, kwok_node
from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.waiting import wait_until
from tests.integration.ansible_run import ansible_env_without_cluster, ansible_on_localhost
from tests.integration.service_accounts import (
    Permission,
    grant_account,
    request_token,
    user_kubeconfig,
)

NAMESPACE = "kruise-cri-awx"
NODE = "awx-credential-node"
READ_NODES = [Permission("list", "nodes"), Permission("get", "nodes")]
EXEC_PLUGIN = """\
import json, sys
token = open(sys.argv[1]).read().strip()
calls = sys.argv[1] + ".calls"
with open(calls, "a") as log:
    log.write("called\\n")
print(json.dumps({
    "apiVersion": "client.authentication.k8s.io/v1",
    "kind": "ExecCredential",
    "status": {"token": token},
}))
"""


@pytest.fixture(scope="module")
def reader(control_plane: ControlPlane, kube: KubeClient, tmp_path_factory) -> dict[str, str]:
    """A service account that may read nodes, its token, and a node to read."""
    create_all(kube, [kwok_node(NODE, "containerd://1.7.24")])
    account = grant_account(
        control_plane,
        kube,
        tmp_path_factory.mktemp("awx-accounts"),
        "awx-reader",
        READ_NODES,
        accounts_namespace=NAMESPACE,
    )
    return {"token": account.token, "user": account.user}


def awx_credential(plane: ControlPlane, token: str) -> dict[str, str]:
    """What AWX's "OpenShift or Kubernetes API Bearer Token" credential injects."""
    return {
        "K8S_AUTH_HOST": plane.server,
        "K8S_AUTH_API_KEY": token,
        "K8S_AUTH_VERIFY_SSL": "True",
        "K8S_AUTH_SSL_CA_CERT": str(plane.kubeconfig.parent / "pki" / "ca.crt"),
    }


def ansible_module(
    module: str, args: Mapping[str, object], env: Mapping[str, str], home: Path
) -> subprocess.CompletedProcess[str]:
    """`ansible localhost -m MODULE` with only ``env`` to reach the cluster: no $KUBECONFIG, and
    a home without ~/.kube/config."""
    environment = {**ansible_env_without_cluster(), "HOME": str(home), **env}
    return ansible_on_localhost(module, args, "--check", env=environment)


def test_a_cluster_module_runs_on_the_awx_credential_alone(
    control_plane: ControlPlane, reader: dict[str, str], tmp_path: Path
) -> None:
    completed = ansible_module(
        "kruise_cri.remediation.node_runtime",
        {"name": NODE, "runtime": "containerd", "wait": False},
        awx_credential(control_plane, reader["token"]),
        tmp_path,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "runtime_version: containerd://1.7.24" in completed.stdout
    assert reader["token"] not in completed.stdout + completed.stderr


def test_the_module_s_options_win_over_the_credential(
    control_plane: ControlPlane, reader: dict[str, str], tmp_path: Path
) -> None:
    completed = ansible_module(
        "kruise_cri.remediation.node_runtime",
        {"name": NODE, "runtime": "containerd", "wait": False, "host": "https://127.0.0.1:1"},
        awx_credential(control_plane, reader["token"]),
        tmp_path,
    )
    assert completed.returncode != 0
    assert "https://127.0.0.1:1" in completed.stdout


def test_a_verify_ssl_that_is_no_boolean_fails_naming_it(
    control_plane: ControlPlane, reader: dict[str, str], tmp_path: Path
) -> None:
    credential = {**awx_credential(control_plane, reader["token"]), "K8S_AUTH_VERIFY_SSL": "sure"}
    completed = ansible_module(
        "kruise_cri.remediation.node_runtime",
        {"name": NODE, "runtime": "containerd", "wait": False},
        credential,
        tmp_path,
    )
    assert completed.returncode != 0
    # ansible-core 2.16 shows the message as YAML, its quotes doubled.
    assert "K8S_AUTH_VERIFY_SSL='sure' is not a boolean" in completed.stdout.replace("''", "'")


def exec_kubeconfig(plane: ControlPlane, directory: Path, token_file: Path) -> Path:
    """A kubeconfig whose user's token comes from an exec plugin that reads ``token_file``."""
    plugin = directory / "token-plugin.py"
    plugin.write_text(textwrap.dedent(EXEC_PLUGIN))
    exec_user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(plugin), str(token_file)],
            "interactiveMode": "Never",
        }
    }
    return user_kubeconfig(plane, directory / "exec.kubeconfig", "exec", exec_user)


def rejected(plane: ControlPlane, token: str) -> bool:
    """Whether the API server answers ``token`` with 401 now."""
    response = urllib3.PoolManager(
        cert_reqs="CERT_REQUIRED", ca_certs=str(plane.kubeconfig.parent / "pki" / "ca.crt")
    ).request("GET", f"{plane.server}/api/v1/nodes", headers={"Authorization": f"Bearer {token}"})
    return response.status == 401


def new_token(kube: KubeClient, account: str) -> str:
    """The service account ``account`` made again (its roles' bindings name it and stay) and a
    token of it."""
    create_all(
        kube,
        [
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": account, "namespace": NAMESPACE},
            }
        ],
    )
    return request_token(kube, NAMESPACE, account)


def test_an_exec_plugin_token_the_server_stops_accepting_is_fetched_again(
    control_plane: ControlPlane, kube: KubeClient, reader: dict[str, str], tmp_path: Path
) -> None:
    """(``reader`` makes the node read.)"""
    account = grant_account(
        control_plane, kube, tmp_path, "awx-rotated", READ_NODES, accounts_namespace=NAMESPACE
    )
    token_file = tmp_path / "token"
    token_file.write_text(account.token)
    client = new_client(
        {"kubeconfig": str(exec_kubeconfig(control_plane, tmp_path, token_file))}, "test"
    )
    assert client.get(f"/api/v1/nodes/{NODE}")["metadata"]["name"] == NODE
    # The account is deleted and made again: its old token is refused from then on (its
    # service account's UID is gone), and the plugin now hands out a token of the new one.
    kube.delete(f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/awx-rotated")
    wait_until(
        "the API server to refuse the old token", lambda: rejected(control_plane, account.token)
    )
    renewed = new_token(kube, "awx-rotated")
    assert renewed != account.token
    token_file.write_text(renewed)
    # The same client, mid-run: its token is refused, fetched again, and the request repeated.
    assert client.get(f"/api/v1/nodes/{NODE}")["metadata"]["name"] == NODE
    assert client.reauthorizations == 1
    calls = (tmp_path / "token.calls").read_text().splitlines()
    assert len(calls) == 2  # once when loaded, once after the 401
    # A plugin whose token stays refused fails with the 401's message, after one more fetch.
    kube.delete(f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/awx-rotated")
    wait_until("the API server to refuse the new token", lambda: rejected(control_plane, renewed))
    with pytest.raises(KubeAccessError, match=r"rejected the credentials \(HTTP 401\)"):
        client.get(f"/api/v1/nodes/{NODE}")
    assert client.reauthorizations == 2
    assert os.stat(token_file).st_size > 0
