"""Helpers for tests against the real control plane: helm, running cluster modules, kubeconfigs.

Waiting is :func:`kruise_cri.lab.waiting.wait_until`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.helm import HelmError, run_helm
from tests.integration.ansible_run import run_module


def helm(plane: ControlPlane, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the lab's real helm against ``plane``."""
    try:
        return run_helm(plane.kubeconfig, *args, check=check)
    except HelmError as error:
        raise AssertionError(str(error)) from None


def run_cluster_module(module: str, args: dict[str, Any], *extra: str) -> dict[str, Any]:
    """Run a cluster module on localhost with this Python (which has the kubernetes client)."""
    results = run_module(
        "localhost,",
        "localhost",
        module,
        args,
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        *extra,
    )
    return results["localhost"]


def unreachable_kubeconfig(path: Path, token: str) -> Path:
    """A kubeconfig naming a server nobody listens on (port 1), with ``token`` as its user's."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {
                            "server": "https://127.0.0.1:1",
                            "insecure-skip-tls-verify": True,
                        },
                    }
                ],
                "users": [{"name": "u", "user": {"token": token}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


def replica_set_on(name: str, namespace: str, node: str, taint: dict[str, str]) -> dict[str, Any]:
    """A ReplicaSet of one pod that runs on ``node`` only (which carries ``taint``, so that
    nothing else lands there): what a drain of that node evicts and the controller recreates."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {"kubernetes.io/hostname": node},
                    "tolerations": [{**taint, "operator": "Equal"}],
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "app", "image": "registry.example/app:1.0"}],
                },
            },
        },
    }


def running_pod_on(kube: Any, namespace: str, node: str) -> dict[str, Any] | None:
    """A pod of ``namespace`` running on ``node`` and not being deleted, or None."""
    pods = kube.get(f"/api/v1/namespaces/{namespace}/pods")["items"]
    running = [
        pod
        for pod in pods
        if pod["spec"].get("nodeName") == node
        and (pod.get("status") or {}).get("phase") == "Running"
        and not pod["metadata"].get("deletionTimestamp")
    ]
    return running[0] if running else None
