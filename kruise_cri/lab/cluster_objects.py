"""Objects for the lab's cluster: kwok nodes with a given runtime, pods bound to them, and the
way to write many of them quickly. Shared by the tests, ``kruise-cri lab up`` and the benchmarks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
    KubeRequestError,
    load_settings,
)

from kruise_cri.lab.controlplane import (
    CRASH_EXIT_CODE_ANNOTATION,
    CRASH_LOOP_ANNOTATION,
    KWOK_NODE_ANNOTATION,
)
from kruise_cri.lab.waiting import wait_until

KWOK_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}
# The last line kruise-daemon 1.6 logs before it exits (255) on a Docker node through dockershim,
# as a test writes it when it plays a chart with terminationMessagePolicy FallbackToLogsOnError.
CRASH_MESSAGE = (
    "validate service connection: CRI v1 runtime API is not implemented for endpoint "
    '"unix:///hostvarrun/dockershim.sock": rpc error: code = Unimplemented desc = unknown '
    "service runtime.v1.RuntimeService"
)


def client_for(kubeconfig: Path | str, *, page_size: int = 500) -> KubeClient:
    return KubeClient(load_settings({"kubeconfig": str(kubeconfig)}), page_size=page_size)


def kwok_node(
    name: str,
    container_runtime_version: str,
    kubelet_version: str = "v1.28.15",
    *,
    labels: Mapping[str, str] | None = None,
    taint: bool = False,
) -> dict[str, Any]:
    """A Node that kwok manages, reporting ``container_runtime_version`` (``docker://20.10.24``,
    ``containerd://1.4.13``, ...) and ``kubelet_version`` as a real kubelet would."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                **(labels or {}),
            },
        },
        "spec": {"taints": [KWOK_TAINT] if taint else []},
        "status": {
            "nodeInfo": {
                "containerRuntimeVersion": container_runtime_version,
                "kubeletVersion": kubelet_version,
                "kubeProxyVersion": kubelet_version,
                "architecture": "amd64",
                "operatingSystem": "linux",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "kernelVersion": "6.1.0-kwok",
                "bootID": "",
                "machineID": "",
                "systemUUID": "",
            }
        },
    }


def bound_pod(
    name: str,
    namespace: str,
    node: str,
    *,
    image: str = "registry.example/app:1.0",
    env: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    owner: Mapping[str, Any] | None = None,
    restart_policy: str = "Always",
) -> dict[str, Any]:
    """A pod already bound to ``node`` (as the scheduler would leave it)."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
    if owner:
        metadata["ownerReferences"] = [dict(owner)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": "app",
                    "image": image,
                    "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                }
            ],
            "restartPolicy": restart_policy,
            "tolerations": [{"operator": "Exists"}],
            "automountServiceAccountToken": False,
        },
    }


def collection_path(obj: Mapping[str, Any], plural: str | None = None) -> str:
    """The API path a POST of ``obj`` goes to."""
    api_version = str(obj["apiVersion"])
    kind = str(obj["kind"])
    plural = plural or kind.lower() + ("es" if kind.endswith("s") else "s")
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    namespace = (obj.get("metadata") or {}).get("namespace")
    return f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"


def create_all(
    client: KubeClient,
    objects: Iterable[Mapping[str, Any]],
    *,
    workers: int = 8,
    exist_ok: bool = False,
) -> int:
    """POST every object, ``workers`` at a time; returns how many were created."""

    def create(obj: Mapping[str, Any]) -> int:
        try:
            client.post(collection_path(obj), obj, counted_as="create")
        except KubeRequestError as error:
            if exist_ok and error.status == 409:
                return 0
            raise
        return 1

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(create, objects))


def ensure_namespace(client: KubeClient, name: str) -> None:
    create_all(
        client,
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}],
        exist_ok=True,
    )


def ensure_pod_namespace(client: KubeClient, name: str, timeout: float = 60) -> None:
    """The namespace, once it can take pods: they are admitted only after
    kube-controller-manager has created its default ServiceAccount."""
    ensure_namespace(client, name)
    wait_until(
        f"namespace {name}'s default ServiceAccount",
        lambda: any(
            account["metadata"]["name"] == "default"
            for account in client.get(f"/api/v1/namespaces/{name}/serviceaccounts")["items"]
        ),
        timeout=timeout,
    )


def crash_looping(pod: Mapping[str, Any]) -> bool:
    """Whether a container of ``pod`` waits in CrashLoopBackOff."""
    return any(
        ((s.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"
        for s in (pod.get("status") or {}).get("containerStatuses") or []
    )


def mark_crash_looping(
    client: KubeClient, namespace: str, pod: str, message: str, exit_code: int = 1
) -> None:
    """Make kwok report ``pod`` as a kubelet reports a container that keeps failing, with
    ``message`` as its last termination message (none when empty) and ``exit_code`` (the
    ``pod-crash-loop`` stage)."""
    annotations = {CRASH_LOOP_ANNOTATION: message, CRASH_EXIT_CODE_ANNOTATION: str(exit_code)}
    client.patch(
        f"/api/v1/namespaces/{namespace}/pods/{pod}", {"metadata": {"annotations": annotations}}
    )
