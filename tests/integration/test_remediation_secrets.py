"""Secrets and the remediation playbooks, against a real control plane with real helm: Helm user
values that look like secrets never reach the output of pin_kruise and disable_kruise_daemon
(``--check --diff -v``), the backup directory's mode is left as it was, and both playbooks work
with token authentication only (no kubeconfig), the token never printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
)

from kruise_cri.lab.cluster_objects import create_all
from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.gotools import ensure_go_tool
from kruise_cri.lab.waiting import wait_until
from tests.integration.ansible_run import VENV_BIN, ansible_env
from tests.integration.remediation_helpers import (
    daemon_pods,
    helm_history,
    helm_install,
    helm_uninstall,
    helm_values,
    kruise_plane_fixtures,
    pin_records,
    pod_ready,
    run_playbook,
    succeeded,
)

NODES = {
    "secret-containerd-17": ("containerd://1.7.24", "v1.28.15"),
    "secret-containerd-2": ("containerd://2.1.9", "v1.31.4"),
}
SECRET = "s3cr3t-value"
PASSWORD = "hunter2-registry-password"
USER_VALUES = {
    "featureGates": "ImagePullJobGate=true",
    "manager": {"replicas": 1, "env": {"SECRET_TOKEN": SECRET}},
    "imagePullSecretsPassword": PASSWORD,
    "daemon": {"socketLocation": "/run", "extraEnvs": [{"name": "API_TOKEN", "value": SECRET}]},
}


plane, kube, charts = kruise_plane_fixtures(NODES, "secrets")


@pytest.fixture
def installed(plane, kube, charts, tmp_path) -> Iterator[ControlPlane]:
    helm_install(plane, charts["1.6.3"], USER_VALUES, tmp_path)
    wait_until(
        "the daemon pods Ready",
        lambda: (
            len(daemon_pods(kube)) == len(NODES) and all(pod_ready(p) for p in daemon_pods(kube))
        ),
        timeout=120,
    )
    yield plane
    helm_uninstall(plane, kube)


def output(completed: subprocess.CompletedProcess[str]) -> str:
    return completed.stdout + completed.stderr


def pin_vars(charts: Mapping[str, Path], **more: Any) -> dict[str, Any]:
    return {"kruise_cri_chart_ref": str(charts["1.5.5"]), **more}


def gate_vars(charts: Mapping[str, Path], **more: Any) -> dict[str, Any]:
    return {"kruise_cri_chart_ref": str(charts["1.6.3"]), **more}


def test_secret_values_never_printed_and_kept_in_the_record_secret(installed, kube, charts):
    plane = installed
    for name, variables in (
        ("pin_kruise", pin_vars(charts)),
        ("disable_kruise_daemon", gate_vars(charts)),
    ):
        checked = run_playbook(name, plane, variables, "--check", "--diff", "-v")
        assert succeeded(checked)["changed"] >= 1, name
        text = output(checked)
        assert SECRET not in text, name
        assert PASSWORD not in text, name
        # The diff still names the keys, with their values masked; what kruise-cri manages shows.
        assert "SECRET_TOKEN: '********'" in text, name
        assert "imagePullSecretsPassword: '********'" in text, name
        assert "ImagePullJobGate=true" in text, name
    assert [h["revision"] for h in helm_history(plane)] == [1]

    # The pin for real, verbose: the output does not show the values; the record (a Secret
    # beside the release) keeps them as they are (the way back), and so does the release.
    pinned = run_playbook("pin_kruise", plane, pin_vars(charts), "--diff", "-v")
    succeeded(pinned)
    assert SECRET not in output(pinned)
    assert PASSWORD not in output(pinned)
    (record,) = pin_records(kube)
    assert record["type"] == "Opaque"
    assert record["helm"]["values"] == USER_VALUES
    values = helm_values(plane)
    assert values["manager"]["env"] == {"SECRET_TOKEN": SECRET}  # kept, not masked
    assert values["imagePullSecretsPassword"] == PASSWORD
    assert [h["revision"] for h in helm_history(plane)] == [1, 2]


def service_account_token(plane: ControlPlane, kube: KubeClient) -> str:
    """A token of a ServiceAccount bound to cluster-admin."""
    name = "kruise-cri-token-user"
    create_all(
        kube,
        [
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": "default"},
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": name},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "cluster-admin",
                },
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "default"}],
            },
        ],
        exist_ok=True,
    )
    return kube.post(
        f"/api/v1/namespaces/default/serviceaccounts/{name}/token",
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 3600},
        },
    )["status"]["token"]


def run_without_kubeconfig(
    playbook: str, home: Path, variables: Mapping[str, Any], *args: str
) -> subprocess.CompletedProcess[str]:
    """ansible-playbook with no kubeconfig anywhere: none given, no $KUBECONFIG, an empty home."""
    env = ansible_env()
    env.pop("KUBECONFIG", None)
    env["HOME"] = str(home)
    return subprocess.run(
        [
            str(VENV_BIN / "ansible-playbook"),
            playbook,
            "-i",
            "localhost,",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            "-e",
            json.dumps(
                {
                    "kruise_cri_helm_binary": str(ensure_go_tool("helm")),
                    "kruise_cri_timeout": 120,
                    "kruise_cri_stable_seconds": 3,
                    **variables,
                }
            ),
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_token_auth_without_a_kubeconfig(installed, kube, charts, tmp_path):
    plane = installed
    token = service_account_token(plane, kube)
    home = tmp_path / "home"
    home.mkdir()
    ca_cert = str(plane.kubeconfig.parent / "pki" / "ca.crt")
    assert os.path.exists(ca_cert)
    auth = {
        "kruise_cri_host": plane.server,
        "kruise_cri_api_key": token,
        "kruise_cri_ca_cert": ca_cert,
    }

    # Through the collection-wide variables.
    pin = run_without_kubeconfig(
        "kruise_cri.remediation.pin_kruise",
        home,
        {**pin_vars(charts), **auth},
        "--check",
        "-v",
    )
    assert succeeded(pin)["changed"] >= 1
    assert token not in output(pin)
    assert "OpenKruise would be pinned to 1.5.5" in " ".join(pin.stdout.split())

    # Through the play's own module_defaults, which the role must not override.
    playbook = tmp_path / "pin_with_module_defaults.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Pin with the play's connection",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "connection": "local",
                    "module_defaults": {
                        "group/kruise_cri.remediation.cluster": {
                            "host": plane.server,
                            "api_key": token,
                            "ca_cert": ca_cert,
                        }
                    },
                    "roles": [{"role": "kruise_cri.remediation.kruise_pin"}],
                }
            ]
        )
    )
    pin = run_without_kubeconfig(str(playbook), home, pin_vars(charts), "--check", "-v")
    assert succeeded(pin)["changed"] >= 1
    assert token not in output(pin)

    disabled = run_without_kubeconfig(
        "kruise_cri.remediation.disable_kruise_daemon", home, {**gate_vars(charts), **auth}, "-v"
    )
    succeeded(disabled)
    assert token not in output(disabled)
    assert helm_values(plane)["featureGates"] == "ImagePullJobGate=true,KruiseDaemon=false"
    assert [h["revision"] for h in helm_history(plane)] == [1, 2]
