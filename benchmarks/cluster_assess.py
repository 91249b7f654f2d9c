"""Cluster read benchmark: kruise_info (and the planner) against kubectl on a big cluster.

A real control plane (etcd and kube-apiserver v1.37.2 of kruise_cri.lab.controlplane, on loopback)
is filled with --nodes nodes (default 5,000) of five runtimes, --pods pods (default 50,000) bound
to them over many namespaces, OpenKruise installed with the real helm from the lab's chart,
one kruise-daemon pod and one NodeImage per node (as the DaemonSet controller and kruise-manager
would make them) and a handful of objects of every daemon-dependent Kruise kind. Nothing of that
is timed. Then, in the same run, interleaved, --repeat times (median and min reported):

  ours (in-process)  collect_cluster_facts() of kruise_info's module_utils, then the planner's
                     build_plan() (plugins/plugin_utils/remediation_plan/plan.py);
  ours (ansible)     `ansible localhost -m kruise_cri.remediation.kruise_info`, as a user runs it;
  kubectl            `kubectl get nodes -o wide`, `kubectl get <kind> -A` for the six Kruise kinds
                     and `kubectl get pods -A` (reported with and without the pods).

Requests: ours from the facts' `requests` (KubeClient counts them), kubectl's from one more run of
every command with -v=6, discovery included, each command set with a fresh HOME (an empty
discovery cache that the set's first command fills). "LIST pages needed" is ceil(objects / 500)
per LIST. Before the timed runs an untimed run of each reader is checked: the facts must describe
the cluster that was built, or the benchmark says how they differ, measures anyway and exits 1.

Only etcd and kube-apiserver run while measuring: kwok is not started (nodes are created with the
status a kubelet reports, Ready, and no kwok annotation) and the controller manager and scheduler
are stopped before anything is created. With 5,000 nodes that post no heartbeat, the node
lifecycle controller would mark every node NotReady after about 50 s and rewrite every pod's Ready
condition; kwok's heartbeats on a 2-core machine would take CPU from both readers alike. What those
controllers would have written (kruise-daemon pods, Deployment and DaemonSet status) the benchmark
writes itself.

Run from the repository:  .venv/bin/python benchmarks/cluster_assess.py --json cluster.json
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import math
import os
import platform
import pstats
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from bench_common import (
    COLLECTIONS_PATH,
    REPO_ROOT,
    end_process_group,
    terminate_as_interrupt,
    use_this_checkout,
)

use_this_checkout()

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (  # noqa: E402
    KubeClient,
    KubeRequestError,
    load_settings,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_info import (  # noqa: E402
    collect_cluster_facts,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.plan import (  # noqa: E402
    build_plan,
)

from kruise_cri.lab.cluster_objects import (  # noqa: E402
    CRASH_MESSAGE,
    bound_pod,
    client_for,
    collection_path,
    create_all,
    kwok_node,
)
from kruise_cri.lab.controlplane import ControlPlane  # noqa: E402
from kruise_cri.lab.helm import KRUISE_CHART, HelmError, run_helm  # noqa: E402
from kruise_cri.lab.kubernetes_build import (  # noqa: E402
    KUBERNETES_VERSION,
    ensure_kubernetes_binary,
)
from kruise_cri.lab.waiting import WaitTimeout, wait_until  # noqa: E402

VENV_BIN = Path(sys.executable).parent
PAGE_SIZE = 500
TARGET_RATIO = 2.0
PLAN_TARGET_VERSION = "1.6.3"
KRUISE_NAMESPACE = "kruise-system"
KRUISE_OBJECTS_NAMESPACE = "apps"
KRUISE_API = "apps.kruise.io/v1alpha1"
SIDECAR_ENV = "KRUISE_TERMINATE_SIDECAR_WHEN_JOB_EXIT"
KUBECTL_WAIT = 900.0  # seconds to wait for a kubectl that another process is still building
COMMAND_TIMEOUT = 900.0
READY_TIMEOUT = 180.0
CREATE_SLICE = 1000
# (containerRuntimeVersion, kubeletVersion, whether kruise-daemon 1.6 crash-loops there)
RUNTIMES: tuple[tuple[str, str, bool], ...] = (
    ("docker://20.10.24", "v1.23.17", True),
    ("containerd://1.4.13", "v1.23.17", True),
    ("containerd://1.7.24", "v1.28.15", False),
    ("containerd://2.1.9", "v1.33.1", False),
    ("cri-o://1.28.1", "v1.28.15", False),
)
KRUISE_PLURALS = (
    "containerrecreaterequests",
    "imagepulljobs",
    "imagelistpulljobs",
    "nodeimages",
    "podprobemarkers",
    "nodepodprobes",
)
KUBECTL_COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("nodes", ("get", "nodes", "-o", "wide")),
    *((plural, ("get", plural, "-A")) for plural in KRUISE_PLURALS),
    ("pods", ("get", "pods", "-A")),
)
APPS = ("web", "api", "worker", "cache", "batch", "search", "checkout", "ledger")
VARIANTS = ("ours_in_process", "ours_ansible", "kubectl")
# At -v=6 kubectl 1.37 logs `"Response" verb="GET" url="..." status="200 OK"` per request;
# older releases logged `GET https://... 200 OK in 5 milliseconds`.
KUBECTL_REQUEST_LINES = (
    re.compile(r'"Response" verb="(?P<verb>[A-Z]+)" url="(?P<url>[^"]+)"'),
    re.compile(r"\] (?P<verb>GET|POST|PUT|PATCH|DELETE) (?P<url>https?://\S+) \d{3} "),
)


class BenchmarkError(RuntimeError):
    """The cluster or a reader did not do what it must; the message says what."""


# --- the cluster -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterPlan:
    """What the benchmark creates; everything the checks expect follows from it."""

    nodes: int
    pods: int
    namespaces: int
    sidecar_pods: int
    container_recreate_requests: int = 5
    image_pull_jobs: int = 4  # half of them completed
    image_list_pull_jobs: int = 2  # one completed
    pod_probe_markers: int = 3
    node_pod_probes: int = 5
    node_image_every: int = 20  # every 20th NodeImage has spec.images

    @classmethod
    def sized(cls, nodes: int, pods: int) -> ClusterPlan:
        return cls(
            nodes=nodes,
            pods=pods,
            namespaces=max(1, min(100, math.ceil(pods / PAGE_SIZE))),
            sidecar_pods=max(1, min(25, pods // 100)),
        )

    def runtime(self, node_index: int) -> tuple[str, str, bool]:
        return RUNTIMES[node_index % len(RUNTIMES)]

    @property
    def crash_looping_daemons(self) -> int:
        return sum(1 for index in range(self.nodes) if self.runtime(index)[2])

    @property
    def node_images_with_images(self) -> int:
        return len(range(0, self.nodes, self.node_image_every))

    @property
    def node_pod_probe_count(self) -> int:
        return min(self.node_pod_probes, self.nodes)


def node_name(index: int) -> str:
    return f"node-{index:05d}"


def namespace_name(index: int) -> str:
    return f"team-{index:03d}"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _ip(prefix: int, index: int) -> str:
    return f"{prefix}.{(index >> 16) & 255}.{(index >> 8) & 255}.{index & 255}"


def node_object(index: int, plan: ClusterPlan, now: str) -> dict[str, Any]:
    """A Node as a kubelet registers it, Ready, without kwok's annotation (kwok is not run)."""
    runtime, kubelet, _unused = plan.runtime(index)
    name = node_name(index)
    node = kwok_node(
        name, runtime, kubelet, labels={"topology.kubernetes.io/zone": f"z{index % 3}"}
    )
    node["metadata"]["annotations"] = {
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    }
    node["spec"]["podCIDR"] = f"10.{64 + index // 256 % 64}.{index % 256}.0/24"
    resources = {"cpu": "16", "memory": "65843084Ki", "pods": "110", "ephemeral-storage": "100Gi"}
    conditions = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID"),
        ("Ready", "True", "KubeletReady"),
    ]
    node["status"].update(
        {
            "capacity": resources,
            "allocatable": resources,
            "addresses": [
                {"type": "InternalIP", "address": _ip(10, 0x100000 + index)},
                {"type": "Hostname", "address": name},
            ],
            "conditions": [
                {
                    "type": kind,
                    "status": status,
                    "reason": reason,
                    "message": f"kubelet reports {reason}",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
                for kind, status, reason in conditions
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "images": [
                {
                    "names": [f"registry.example/{app}@sha256:{index:064x}"[-90:]],
                    "sizeBytes": 50_000_000 + app_index,
                }
                for app_index, app in enumerate(APPS)
            ],
        }
    )
    return node


def workload_pod(index: int, plan: ClusterPlan, sidecar: bool) -> dict[str, Any]:
    """A pod as a Deployment's ReplicaSet leaves it, bound to a node; ``sidecar`` pods carry a
    log shipper with KRUISE_TERMINATE_SIDECAR_WHEN_JOB_EXIT (a Job with a sidecar)."""
    app = APPS[index % len(APPS)]
    namespace = namespace_name(index % plan.namespaces)
    pod = bound_pod(
        f"{app}-{index:06d}",
        namespace,
        node_name(index % plan.nodes),
        image=f"registry.example/{app}:1.{index % 7}",
        env={"APP_ENV": "production", "LOG_LEVEL": "info"},
        labels={"app": app, "pod-template-hash": f"{app}-{index % 13:02d}"},
    )
    container = pod["spec"]["containers"][0]
    container["resources"] = {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    }
    container["ports"] = [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    container["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": 8080}}
    if sidecar:
        pod["spec"]["restartPolicy"] = "Never"
        pod["spec"]["containers"].append(
            {
                "name": "log-shipper",
                "image": "registry.example/log-shipper:2.3",
                "env": [{"name": SIDECAR_ENV, "value": "true"}],
            }
        )
    return pod


def running_status(pod: Mapping[str, Any], index: int, now: str) -> dict[str, Any]:
    """The status a kubelet writes for a pod whose containers all run."""
    return {
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": kind, "status": "True", "lastTransitionTime": now}
                for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ],
            "hostIP": _ip(10, 0x100000 + index % 65536),
            "podIP": _ip(10, 0x200000 + index),
            "podIPs": [{"ip": _ip(10, 0x200000 + index)}],
            "startTime": now,
            "containerStatuses": [
                {
                    "name": container["name"],
                    "image": container["image"],
                    "imageID": f"{container['image']}@sha256:{index:064x}",
                    "containerID": f"containerd://{index:064x}",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": now}},
                }
                for container in pod["spec"]["containers"]
            ],
        }
    }


def daemon_pod(index: int, daemonset: Mapping[str, Any]) -> dict[str, Any]:
    """The kruise-daemon pod the DaemonSet controller would create on node ``index``."""
    metadata = daemonset["metadata"]
    template = daemonset["spec"]["template"]
    spec = json.loads(json.dumps(template["spec"]))
    spec["nodeName"] = node_name(index)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"kruise-daemon-{index:05d}",
            "namespace": metadata["namespace"],
            "labels": dict(template["metadata"]["labels"]),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "DaemonSet",
                    "name": metadata["name"],
                    "uid": metadata["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": spec,
    }


def daemon_status(pod: Mapping[str, Any], index: int, crash_looping: bool, now: str) -> dict:
    """Running, or what kubelet reports for kruise-daemon 1.6 on a CRI v1alpha2-only runtime."""
    status = running_status(pod, index, now)
    if not crash_looping:
        return status
    container = status["status"]["containerStatuses"][0]
    container.update(
        ready=False,
        started=False,
        restartCount=12,
        state={
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": "back-off 5m0s restarting failed container=daemon",
            }
        },
        lastState={
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "message": CRASH_MESSAGE,
                "startedAt": now,
                "finishedAt": now,
                "containerID": container["containerID"],
            }
        },
    )
    for condition in status["status"]["conditions"]:
        if condition["type"] in ("Ready", "ContainersReady"):
            condition.update(status="False", reason="ContainersNotReady")
    return status


def kruise(kind: str, name: str, spec: Mapping[str, Any], namespaced: bool = True) -> dict:
    metadata: dict[str, Any] = {"name": name}
    if namespaced:
        metadata["namespace"] = KRUISE_OBJECTS_NAMESPACE
    return {"apiVersion": KRUISE_API, "kind": kind, "metadata": metadata, "spec": dict(spec)}


def kruise_objects(plan: ClusterPlan) -> list[dict[str, Any]]:
    """A handful of every daemon-dependent kind (NodeImages come separately, one per node) and
    three workloads, two of them with image pre-download annotations."""
    objects = [
        kruise(
            "ContainerRecreateRequest",
            f"recreate-{i}",
            {"podName": f"web-{i:06d}", "containers": [{"name": "app"}]},
        )
        for i in range(plan.container_recreate_requests)
    ]
    objects += [
        kruise("ImagePullJob", f"pull-{i}", {"image": f"registry.example/web:1.{i}"})
        for i in range(plan.image_pull_jobs)
    ]
    objects += [
        kruise("ImageListPullJob", f"pull-list-{i}", {"images": ["registry.example/api:1.0"]})
        for i in range(plan.image_list_pull_jobs)
    ]
    objects += [
        kruise(
            "PodProbeMarker",
            f"probe-{i}",
            {"selector": {"matchLabels": {"app": APPS[i]}}, "probes": []},
        )
        for i in range(plan.pod_probe_markers)
    ]
    objects += [
        kruise("NodePodProbe", node_name(i), {"podProbes": []}, namespaced=False)
        for i in range(plan.node_pod_probe_count)
    ]
    predownload = {"apps.kruise.io/image-predownload-parallelism": "5"}
    for kind, name, workload_annotations in (
        ("CloneSet", "shop", predownload),
        ("CloneSet", "cart", {}),
        ("DaemonSet", "node-agent", predownload),
    ):
        workload = kruise(kind, name, {"selector": {"matchLabels": {"app": name}}, "template": {}})
        workload["metadata"]["annotations"] = workload_annotations
        objects.append(workload)
    return objects


def node_image(index: int, plan: ClusterPlan) -> dict[str, Any]:
    """The NodeImage kruise-manager keeps for every node; every ``node_image_every``-th asks the
    node's kruise-daemon to pull images."""
    spec: dict[str, Any] = {}
    if index % plan.node_image_every == 0:
        spec["images"] = {"registry.example/web": {"tags": [{"tag": "1.6", "version": 0}]}}
    return kruise("NodeImage", node_name(index), spec, namespaced=False)


class ClusterBuilder:
    """Fills the control plane; prints progress, times nothing that is measured."""

    def __init__(self, plane: ControlPlane, plan: ClusterPlan, workers: int) -> None:
        self.plane = plane
        self.plan = plan
        self.workers = workers
        self.client = client_for(plane.kubeconfig)
        self.timings: dict[str, float] = {}

    def build(self) -> None:
        plan = self.plan
        self._step("service accounts and namespaces", self._namespaces)
        self._step("OpenKruise (helm install of the lab's chart)", self._install_kruise)
        self._step(f"{plan.nodes} nodes", lambda: self._create("nodes", self._nodes()))
        self._step(f"{plan.nodes} kruise-daemon pods", self._daemon_pods)
        self._step(f"{plan.pods} pods", self._workload_pods)
        self._step(
            f"{plan.nodes} NodeImages and the other Kruise objects",
            self._kruise_objects,
        )

    def _step(self, what: str, action: Callable[[], None]) -> None:
        started = time.monotonic()
        say(f"creating {what}")
        action()
        self.timings[what] = round(time.monotonic() - started, 1)
        say(f"  done in {self.timings[what]:.1f} s")

    def _namespaces(self) -> None:
        # No controller manager: the `default` ServiceAccount, which pod admission wants, is ours.
        names = [namespace_name(i) for i in range(self.plan.namespaces)]
        names += [KRUISE_OBJECTS_NAMESPACE, "default"]
        namespaces = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}} for name in names
        ]
        create_all(self.client, namespaces, workers=self.workers, exist_ok=True)
        accounts = [
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": name},
                "automountServiceAccountToken": False,
            }
            for name in names
        ]
        create_all(self.client, accounts, workers=self.workers, exist_ok=True)

    def _install_kruise(self) -> None:
        # As upstream documents it: the release in `default`, the chart creates kruise-system.
        try:
            run_helm(self.plane.kubeconfig, "install", "kruise", str(KRUISE_CHART))
        except HelmError as error:
            raise BenchmarkError(str(error)) from None
        wanted = {*KRUISE_PLURALS, "clonesets", "daemonsets"}

        def served() -> bool:
            try:
                discovery = self.client.get(f"/apis/{KRUISE_API}")
            except KubeRequestError:
                return False
            return wanted <= {str(r.get("name")) for r in discovery.get("resources") or []}

        try:
            wait_until("the Kruise CRDs to be served", served, READY_TIMEOUT, interval=0.5)
        except WaitTimeout:
            raise BenchmarkError(f"Kruise CRDs not served after {READY_TIMEOUT:.0f} s") from None
        # What the deployment controller would report for a healthy manager.
        self.client.patch(
            f"/apis/apps/v1/namespaces/{KRUISE_NAMESPACE}/deployments/"
            "kruise-controller-manager/status",
            {
                "status": {
                    "observedGeneration": 1,
                    "replicas": 2,
                    "updatedReplicas": 2,
                    "readyReplicas": 2,
                    "availableReplicas": 2,
                }
            },
        )

    def _nodes(self) -> Iterator[dict[str, Any]]:
        now = _now()
        return (node_object(index, self.plan, now) for index in range(self.plan.nodes))

    def _daemon_pods(self) -> None:
        path = f"/apis/apps/v1/namespaces/{KRUISE_NAMESPACE}/daemonsets/kruise-daemon"
        daemonset = self.client.get(path)
        now = _now()
        pods = [daemon_pod(index, daemonset) for index in range(self.plan.nodes)]
        self._create("kruise-daemon pods", pods)
        self._patch_status(
            "kruise-daemon pod status",
            [
                (pod, daemon_status(pod, index, self.plan.runtime(index)[2], now))
                for index, pod in enumerate(pods)
            ],
        )
        crashing = self.plan.crash_looping_daemons
        total = self.plan.nodes
        self.client.patch(
            path + "/status",
            {
                "status": {
                    "observedGeneration": 1,
                    "currentNumberScheduled": total,
                    "desiredNumberScheduled": total,
                    "numberMisscheduled": 0,
                    "numberReady": total - crashing,
                    "numberAvailable": total - crashing,
                    "numberUnavailable": crashing,
                    "updatedNumberScheduled": total,
                }
            },
        )

    def _workload_pods(self) -> None:
        plan = self.plan
        every = max(1, plan.pods // plan.sidecar_pods)
        sidecars = set(range(every // 2, plan.pods, every)[: plan.sidecar_pods])
        now = _now()
        chunk = 5000
        for start in range(0, plan.pods, chunk):
            indices = range(start, min(start + chunk, plan.pods))
            pods = [workload_pod(index, plan, index in sidecars) for index in indices]
            self._create("pods", pods, total=plan.pods, done_before=start)
            self._patch_status(
                "pod status",
                [
                    (pod, running_status(pod, index, now))
                    for index, pod in zip(indices, pods, strict=True)
                ],
                total=plan.pods,
                done_before=start,
            )

    def _kruise_objects(self) -> None:
        self._create(
            "NodeImages", [node_image(index, self.plan) for index in range(self.plan.nodes)]
        )
        objects = kruise_objects(self.plan)
        self._create("Kruise objects", objects)
        now = _now()
        completed = [
            obj
            for kind, count in (
                ("ImagePullJob", self.plan.image_pull_jobs // 2),
                ("ImageListPullJob", self.plan.image_list_pull_jobs // 2),
            )
            for obj in [o for o in objects if o["kind"] == kind][:count]
        ]
        self._patch_status(
            "completed pull jobs",
            [
                (
                    obj,
                    {
                        "status": {
                            "desired": 1,
                            "succeeded": 1,
                            "startTime": now,
                            "completionTime": now,
                        }
                    },
                )
                for obj in completed
            ],
            quiet=True,
        )

    def _create(
        self,
        what: str,
        objects: Iterable[dict[str, Any]],
        *,
        total: int | None = None,
        done_before: int = 0,
    ) -> None:
        items = list(objects)
        started = time.monotonic()
        created = 0
        # In slices, so that Ctrl-C waits for one slice at most, not for every queued request.
        for first in range(0, len(items), CREATE_SLICE):
            slice_ = items[first : first + CREATE_SLICE]
            created += create_all(self.client, slice_, workers=self.workers)
        elapsed = max(time.monotonic() - started, 1e-6)
        say(
            f"  {what}: {done_before + created}/{total or len(items)} created"
            f" ({created / elapsed:.0f}/s)"
        )

    def _patch_status(
        self,
        what: str,
        patches: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
        *,
        total: int | None = None,
        done_before: int = 0,
        quiet: bool = False,
    ) -> None:
        started = time.monotonic()

        def patch(pair: tuple[Mapping[str, Any], Mapping[str, Any]]) -> int:
            obj, body = pair
            path = f"{collection_path(obj)}/{obj['metadata']['name']}/status"
            self.client.patch(path, body, counted_as="status")
            return 1

        pool = ThreadPoolExecutor(max_workers=self.workers)
        try:
            done = sum(pool.map(patch, patches))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        elapsed = max(time.monotonic() - started, 1e-6)
        if not quiet:
            say(
                f"  {what}: {done_before + done}/{total or len(patches)} written"
                f" ({done / elapsed:.0f}/s)"
            )


def stop_controllers(plane: ControlPlane) -> list[str]:
    """Stop the controller manager and the scheduler (see the module docstring for why)."""
    stopped = []
    for component in plane.components:
        if component.name in ("kube-controller-manager", "kube-scheduler") and component.alive():
            assert component.process is not None
            end_process_group(component.process)
            stopped.append(component.name)
    return stopped


def object_counts(client: KubeClient) -> dict[str, int]:
    """How many objects each LIST the readers send returns, read back from the API."""
    lists = {
        "nodes": "/api/v1/nodes",
        "pods (all namespaces)": "/api/v1/pods",
        "pods not restarted always": (
            "/api/v1/pods",
            {"fieldSelector": "spec.restartPolicy!=Always"},
        ),
        "kruise-daemon pods": (
            f"/api/v1/namespaces/{KRUISE_NAMESPACE}/pods",
            {"labelSelector": "control-plane=daemon"},
        ),
        "deployments (all namespaces)": "/apis/apps/v1/deployments",
        f"daemonsets ({KRUISE_NAMESPACE})": (
            f"/apis/apps/v1/namespaces/{KRUISE_NAMESPACE}/daemonsets"
        ),
        "helm release secrets": (
            "/api/v1/namespaces/default/secrets",
            {"labelSelector": "owner=helm,name=kruise,status=deployed"},
        ),
        **{plural: f"/apis/{KRUISE_API}/{plural}" for plural in KRUISE_PLURALS},
        "clonesets": f"/apis/{KRUISE_API}/clonesets",
        "daemonsets (apps.kruise.io)": f"/apis/{KRUISE_API}/daemonsets",
        "statefulsets (apps.kruise.io v1beta1)": "/apis/apps.kruise.io/v1beta1/statefulsets",
    }
    counts = {}
    for label, target in lists.items():
        path, params = target if isinstance(target, tuple) else (target, None)
        try:
            counts[label] = client.count(path, params)
        except KubeRequestError as error:
            if error.status != 404:
                raise
            counts[label] = 0
    return counts


def pages_needed(count: int) -> int:
    return max(1, math.ceil(count / PAGE_SIZE))


# The LISTs behind each `requests.by_resource` key of the facts, by their object_counts() label
# (one key can cover two LISTs: `pods` is the daemon pods and the others, `daemonsets` the apps/v1
# ones in kruise-system and apps.kruise.io's). Keys not here (version, discovery) are no LISTs.
OURS_LISTS: Mapping[str, tuple[str, ...]] = {
    "nodes": ("nodes",),
    # kruise_info lists the daemon's pods, then only pods not restarted always (the sidecar
    # terminator's candidates); kubectl get pods -A lists every pod.
    "pods": ("kruise-daemon pods", "pods not restarted always"),
    "deployments": ("deployments (all namespaces)",),
    "daemonsets": (f"daemonsets ({KRUISE_NAMESPACE})", "daemonsets (apps.kruise.io)"),
    "secrets": ("helm release secrets",),
    **{plural: (plural,) for plural in KRUISE_PLURALS},
    "clonesets": ("clonesets",),
    "statefulsets": ("statefulsets (apps.kruise.io v1beta1)",),
}


# --- the readers -------------------------------------------------------------------------------


@dataclass
class Measurement:
    variant: str
    wall_s: float
    detail: dict[str, float] = field(default_factory=dict)


def try_planner(
    build_plan: Callable[..., Any] | None, facts: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, str | None]:
    """One untimed build_plan on the facts; (plan, None), or (None, why it is not measured)."""
    if build_plan is None:
        return None, None
    try:
        plan = build_plan({}, facts, target_version=PLAN_TARGET_VERSION)
    except Exception as error:  # the planner is another engineer's work in progress
        return None, f"not measured: build_plan failed on the cluster facts: {error!r}"
    if not isinstance(plan, dict):
        return None, f"not measured: build_plan returned {type(plan).__name__}, not a plan"
    return plan, None


def read_in_process(
    kubeconfig: Path, build_plan: Callable[..., Any] | None
) -> tuple[Measurement, dict[str, Any], dict[str, Any] | None]:
    """kruise_info's reading as the module does it (settings, client, facts), then the plan."""
    started = time.perf_counter()
    reader = KubeClient(load_settings({"kubeconfig": str(kubeconfig)}))
    facts = collect_cluster_facts(reader)
    collected = time.perf_counter()
    plan = None
    if build_plan is not None:
        plan = build_plan({}, facts, target_version=PLAN_TARGET_VERSION)
    finished = time.perf_counter()
    measurement = Measurement(
        "ours_in_process",
        finished - started,
        {"collect_s": collected - started, "plan_s": finished - collected},
    )
    return measurement, facts, plan


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def ansible_command(kubeconfig: Path) -> list[str]:
    return [
        str(VENV_BIN / "ansible"),
        "localhost",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        "-m",
        "kruise_cri.remediation.kruise_info",
        "-a",
        json.dumps({"kubeconfig": str(kubeconfig)}),
    ]


def read_with_ansible(kubeconfig: Path, log: Path) -> tuple[Measurement, dict[str, Any]]:
    """`ansible localhost -m kruise_cri.remediation.kruise_info`, with the repository's
    ansible.cfg: the ad hoc command prints `localhost | SUCCESS => RESULT`, RESULT in YAML
    (callback_result_format = yaml), parsed after the clock stops."""
    started = time.perf_counter()
    returncode = run_process_group(ansible_command(kubeconfig), log, ansible_env())
    wall = time.perf_counter() - started
    text = log.read_text(errors="replace")
    head, separator, body = text.partition("=>")
    if returncode != 0 or not separator or "SUCCESS" not in head:
        raise BenchmarkError(f"kruise_info through ansible failed ({returncode}); log {log}")
    result = yaml.load(body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return Measurement("ours_ansible", wall), result["kruise"]


@dataclass
class KubectlRun:
    durations: dict[str, float]
    sequence_s: float
    requests: dict[str, dict[str, int]] = field(default_factory=dict)


def read_with_kubectl(
    kubectl: Path, kubeconfig: Path, workdir: Path, *, verbose: bool = False
) -> KubectlRun:
    """Every command once, in order, output to /dev/null, with a fresh HOME (so an empty discovery
    cache the first command fills). With ``verbose``, -v=6 and the requests counted per command."""
    home = Path(tempfile.mkdtemp(prefix="kc-kubectl-home-", dir=workdir))
    durations: dict[str, float] = {}
    requests: dict[str, dict[str, int]] = {}
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    sequence_started = time.perf_counter()
    try:
        for name, args in KUBECTL_COMMANDS:
            command = [str(kubectl), "--kubeconfig", str(kubeconfig), *args]
            if verbose:
                command.append("-v=6")
            started = time.perf_counter()
            completed = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                text=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
            durations[name] = time.perf_counter() - started
            if completed.returncode != 0:
                raise BenchmarkError(
                    f"kubectl {' '.join(args)} exited with {completed.returncode}:"
                    f" {completed.stderr[-2000:]}"
                )
            if verbose:
                requests[name] = count_kubectl_requests(completed.stderr)
        sequence = time.perf_counter() - sequence_started
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return KubectlRun(durations, sequence, requests)


def count_kubectl_requests(log: str) -> dict[str, int]:
    """Requests in a -v=6 log: discovery (/api, /apis, /apis/<group>/<version>, /openapi) and the
    rest (the LIST pages)."""
    counts: Counter[str] = Counter()
    for line in log.splitlines():
        for pattern in KUBECTL_REQUEST_LINES:
            match = pattern.search(line)
            if match is None:
                continue
            path = re.sub(r"^https?://[^/]+", "", match["url"]).split("?", 1)[0]
            parts = [part for part in path.split("/") if part]
            discovery = (
                parts in (["api"], ["apis"], ["version"])
                or (parts[:1] == ["api"] and len(parts) == 2)
                or (parts[:1] == ["apis"] and len(parts) <= 3)
                or parts[:1] == ["openapi"]
            )
            counts["discovery" if discovery else "list"] += 1
            break
    counts["total"] = counts["discovery"] + counts["list"]
    return {"total": counts["total"], "discovery": counts["discovery"], "list": counts["list"]}


def run_process_group(command: list[str], log: Path, env: Mapping[str, str]) -> int:
    """Run ``command`` in a session of its own (output to ``log``); on an interruption the whole
    group ends, so Ansible's workers and module processes go too."""
    with open(log, "w") as output:
        process = subprocess.Popen(
            command,
            env=dict(env),
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            return process.wait(COMMAND_TIMEOUT)
        except BaseException:
            end_process_group(process)
            raise


def wait_for_kubectl() -> Path:
    """kubectl, built on first use; another process may be building it right now (the build holds
    a lock), so a build error is retried until KUBECTL_WAIT runs out."""
    deadline = time.monotonic() + KUBECTL_WAIT
    while True:
        try:
            return ensure_kubernetes_binary("kubectl")
        except Exception as error:
            if time.monotonic() > deadline:
                raise BenchmarkError(f"no kubectl after {KUBECTL_WAIT:.0f} s: {error}") from error
            say(f"kubectl not ready yet ({error}); retrying in 15 s")
            time.sleep(15)


# --- checks ------------------------------------------------------------------------------------


def check_facts(facts: Mapping[str, Any], plan: ClusterPlan) -> dict[str, Any]:
    """What the facts say, and every way they differ from the cluster that was built
    (``problems``; the benchmark reports them and exits 1, after measuring anyway)."""
    kinds = facts["feature_use"]["kinds"]
    daemon = facts.get("daemon") or {}
    states = Counter(node["daemon_pod_state"] for node in facts["nodes"])
    runtimes = Counter(node["container_runtime_version"] for node in facts["nodes"])
    expected_kinds = {
        "ContainerRecreateRequest": {"crd": True, "count": plan.container_recreate_requests},
        "ImagePullJob": {
            "crd": True,
            "count": plan.image_pull_jobs,
            "active": plan.image_pull_jobs - plan.image_pull_jobs // 2,
        },
        "ImageListPullJob": {
            "crd": True,
            "count": plan.image_list_pull_jobs,
            "active": plan.image_list_pull_jobs - plan.image_list_pull_jobs // 2,
        },
        "NodeImage": {
            "crd": True,
            "count": plan.nodes,
            "with_images": plan.node_images_with_images,
        },
        "PodProbeMarker": {"crd": True, "count": plan.pod_probe_markers},
        "NodePodProbe": {"crd": True, "count": plan.node_pod_probe_count},
    }
    problems = []
    if len(facts["nodes"]) != plan.nodes:
        problems.append(f"{len(facts['nodes'])} nodes, expected {plan.nodes}")
    for kind, expected in expected_kinds.items():
        if kinds.get(kind) != expected:
            problems.append(f"{kind}: {kinds.get(kind)}, expected {expected}")
    sidecar = facts["feature_use"]["sidecar_terminator_pods"]["count"]
    if sidecar != plan.sidecar_pods:
        problems.append(f"{sidecar} sidecar-terminator pods, expected {plan.sidecar_pods}")
    if facts["feature_use"]["predownload_workloads"]["count"] != 2:
        problems.append(f"predownload workloads {facts['feature_use']['predownload_workloads']}")
    if len(daemon.get("crash_looping") or []) != plan.crash_looping_daemons:
        problems.append(
            f"{len(daemon.get('crash_looping') or [])} crash-looping daemon pods,"
            f" expected {plan.crash_looping_daemons}"
        )
    if states.get("crash-looping", 0) + states.get("running", 0) != plan.nodes:
        problems.append(f"daemon pod states per node {dict(states)}")
    if (facts.get("version"), (facts.get("install") or {}).get("method")) != ("1.6.3", "helm"):
        problems.append(f"version {facts.get('version')} install {facts.get('install')}")
    return {
        "problems": problems,
        "nodes": len(facts["nodes"]),
        "runtimes": dict(sorted(runtimes.items())),
        "daemon_pod_states": dict(sorted(states.items())),
        "kinds": kinds,
        "sidecar_terminator_pods": sidecar,
        "findings": len(facts.get("findings") or []),
    }


# Kinds kruise_info reads in full (not with count()): a truncated pagination shows there.
FULL_LIST_KINDS = {
    "ImagePullJob": "imagepulljobs",
    "ImageListPullJob": "imagelistpulljobs",
    "NodeImage": "nodeimages",
}


def truncated_lists(facts: Mapping[str, Any], counts: Mapping[str, int]) -> list[str]:
    """Plurals of the kinds whose count in the facts is below the objects the API holds."""
    kinds = facts["feature_use"]["kinds"]
    return [
        plural
        for kind, plural in FULL_LIST_KINDS.items()
        if int(kinds.get(kind, {}).get("count") or 0) < counts[plural]
    ]


def time_skipped_pages(kubeconfig: Path, plurals: Sequence[str], repeat: int) -> dict[str, Any]:
    """The time of the LIST pages after the first of each of ``plurals``, read and parsed as
    kruise_info reads pages, taking the continue token from the parsed page: what a correct
    pagination would add to ours. Median of ``repeat`` rounds."""
    rounds = []
    pages = 0
    for _unused in range(repeat):
        reader = KubeClient(load_settings({"kubeconfig": str(kubeconfig)}))
        elapsed = 0.0
        pages = 0
        for plural in plurals:
            path = f"/apis/{KRUISE_API}/{plural}"
            token = json.loads(reader.get_raw(path, {"limit": PAGE_SIZE}))["metadata"].get(
                "continue"
            )
            while token:
                started = time.perf_counter()
                page = json.loads(reader.get_raw(path, {"limit": PAGE_SIZE, "continue": token}))
                token = page["metadata"].get("continue")
                elapsed += time.perf_counter() - started
                pages += 1
        rounds.append(elapsed)
    return {"lists": list(plurals), "pages": pages, **summary(rounds)}


# --- the report --------------------------------------------------------------------------------


def summary(values: Sequence[float]) -> dict[str, Any]:
    return {
        "runs_s": [round(value, 3) for value in values],
        "median_s": round(statistics.median(values), 3),
        "min_s": round(min(values), 3),
    }


def profile_collect(kubeconfig: Path, top: int = 25) -> dict[str, str]:
    """One collect_cluster_facts under cProfile: the top functions by own and cumulative time."""
    profiler = cProfile.Profile()
    reader = KubeClient(load_settings({"kubeconfig": str(kubeconfig)}))
    profiler.enable()
    collect_cluster_facts(reader)
    profiler.disable()
    reports = {}
    for order in ("tottime", "cumulative"):
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream)
        stats.strip_dirs().sort_stats(order).print_stats(top)
        reports[order] = stream.getvalue()
    return reports


def process_memory(pid: int) -> dict[str, int]:
    """Resident and peak resident set of ``pid``, MiB (from /proc)."""
    memory = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _unused, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                memory[key] = int(value.split()[0]) // 1024
    return {"rss_mib": memory.get("VmRSS", 0), "peak_rss_mib": memory.get("VmHWM", 0)}


def mem_available_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return 0


def table(output: Mapping[str, Any]) -> str:
    header = (
        f"{'reader':<32} {'median s':>9} {'min s':>7} {'requests':>9} {'LIST pages needed':>18}"
        f" {'x kubectl+pods':>15} {'x kubectl':>10}"
    )
    lines = [header, "-" * len(header)]
    for row in output["results"]:
        lines.append(
            f"{row['label']:<32} {row['median_s']:>9.2f} {row['min_s']:>7.2f}"
            f" {row['requests']:>9} {row['list_pages_needed']:>18}"
            f" {row['ratio_to_kubectl_with_pods']:>15.2f}"
            f" {row['ratio_to_kubectl_without_pods']:>10.2f}"
        )
    return "\n".join(lines)


def print_report(output: Mapping[str, Any]) -> None:
    sizes = output["sizes"]
    print()
    print(
        f"cluster: {sizes['nodes']} nodes, {sizes['pods']} pods (+{sizes['daemon_pods']}"
        f" kruise-daemon pods) in {sizes['namespaces']} namespaces, {sizes['node_images']}"
        f" NodeImages; Kubernetes {output['machine']['kubernetes']},"
        f" {output['machine']['nproc']} CPUs"
    )
    print(f"background: {output['background']}")
    print(f"planner: {output['planner']}")
    print()
    print(table(output))
    print()
    ours = output["requests"]["ours"]
    print(
        f"ours: {ours['total']} requests = {ours['not_lists']} non-LIST (version, discovery)"
        f" + {ours['lists']} LIST pages; LIST pages needed: {ours['list_pages_needed']}"
        f" -> {'no more than needed' if ours['within_pages_needed'] else 'MORE than needed'}"
    )
    for key, entry in ours["by_resource"].items():
        if entry["needed"] is not None and entry["sent"] > entry["needed"]:
            print(f"  {key}: sent {entry['sent']}, needed {entry['needed']}")
    kubectl = output["requests"]["kubectl"]
    print(
        f"kubectl: {kubectl['total']} requests ({kubectl['discovery']} discovery,"
        f" {kubectl['list']} LIST pages; needed {kubectl['list_pages_needed']})"
    )
    for reader in ("ours_in_process", "ours_ansible"):
        for problem in output["checks"][reader]["problems"]:
            print(f"CHECK FAILED ({reader}): the facts say {problem}")
    if output["skipped_pages"]:
        skipped = output["skipped_pages"]
        print(
            f"ours skipped {skipped['pages']} LIST pages of {', '.join(skipped['lists'])}"
            f" (pagination stopped after the first page); reading them takes"
            f" {skipped['median_s']:.2f} s more: see 'ours, all pages (estimate)'"
        )
    goal = output["goal"]
    print(
        f"goal: {goal['reader']} / {goal['against']} = {goal['ratio']:.2f}x"
        f" ({'meets' if goal['met'] else 'MISSES'} the within-{goal['target_ratio']:.0f}x goal);"
        f" Ansible adds {goal['ansible_overhead_s']:.2f} s to the facts (process start,"
        " AnsiballZ, result rendering)"
    )
    if output.get("profile"):
        print()
        print("cProfile of collect_cluster_facts, by own time:")
        print(output["profile"]["tottime"])
    print(f"memory: {json.dumps(output['memory'])}")


# --- main ----------------------------------------------------------------------------------------


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=3, metavar="R", help="timed runs each")
    parser.add_argument(
        "--workers", type=int, default=12, help="parallel requests while creating (8 to 16)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile collect_cluster_facts even when ours is within the goal",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)
    if min(args.nodes, args.pods, args.repeat) < 1 or not 1 <= args.workers <= 16:
        parser.error("--nodes, --pods and --repeat must be positive, --workers 1 to 16")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with terminate_as_interrupt():
        output = run_benchmark(args, argv if argv is not None else sys.argv[1:])
    print_report(output)
    if args.json:
        args.json.write_text(json.dumps(output, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0 if output["facts_match_cluster"] else 1


def run_benchmark(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """Build the cluster, check every reader's result once, then time them interleaved; the
    control plane is stopped and the work directory removed before returning or raising."""
    started = time.monotonic()
    plan = ClusterPlan.sized(args.nodes, args.pods)
    kubectl = wait_for_kubectl()
    planner: Callable[..., Any] | None = build_plan
    planner_note = (
        f"measured (build_plan(node_facts={{}}, cluster facts, target {PLAN_TARGET_VERSION}))"
    )
    memory: dict[str, Any] = {"mem_available_mib_at_start": mem_available_mib()}
    workdir = Path(tempfile.mkdtemp(prefix="kc-cluster-bench-", dir="/tmp"))
    plane = ControlPlane(with_kwok=False, progress=sys.stdout)
    try:
        say(f"work directory {workdir}")
        plane.start()
        say(f"control plane directory {plane.directory}")
        stopped = stop_controllers(plane)
        say(f"stopped {', '.join(stopped)}: only etcd and kube-apiserver run from here on")
        builder = ClusterBuilder(plane, plan, args.workers)
        builder.build()
        client = client_for(plane.kubeconfig)
        counts = object_counts(client)
        server_version = client.get("/version").get("gitVersion")
        say(f"cluster built in {time.monotonic() - started:.0f} s: {json.dumps(counts)}")
        kubeconfig = plane.kubeconfig

        # Untimed: results checked, requests counted (also warms the API server's caches).
        say("checking runs (untimed)")
        first, facts, _unused = read_in_process(kubeconfig, None)
        checks: dict[str, Any] = {"ours_in_process": check_facts(facts, plan)}
        plan_result, planner_problem = try_planner(planner, facts)
        if planner_problem:
            planner, planner_note = None, planner_problem
            say(planner_problem)
        _unused, ansible_facts = read_with_ansible(kubeconfig, workdir / "ansible-check.log")
        checks["ours_ansible"] = check_facts(ansible_facts, plan)
        for reader in ("ours_in_process", "ours_ansible"):
            for problem in checks[reader]["problems"]:
                say(f"CHECK FAILED ({reader}): {problem}")
        truncated = truncated_lists(facts, counts)
        skipped: dict[str, Any] | None = None
        if truncated:
            say(f"ours reads only part of {', '.join(truncated)}: timing the pages it skips")
            skipped = time_skipped_pages(kubeconfig, truncated, args.repeat)
        counted = read_with_kubectl(kubectl, kubeconfig, workdir, verbose=True)
        if plan_result is not None:
            checks["plan"] = {
                "recommendation": (plan_result.get("recommendation") or {}).get("path"),
                "nodes": len(plan_result.get("nodes") or []),
                "findings": len(plan_result.get("findings") or []),
            }

        timings: dict[str, list[float]] = {name: [] for name in VARIANTS}
        loads_before: dict[str, list[float]] = {name: [] for name in VARIANTS}
        collect_times: list[float] = []
        plan_times: list[float] = []
        kubectl_runs: list[KubectlRun] = []
        module_reading: list[float] = []  # requests.seconds inside the module process
        for repeat in range(args.repeat):
            order = VARIANTS if repeat % 2 == 0 else tuple(reversed(VARIANTS))
            for variant in order:
                load = os.getloadavg()[0]
                if variant == "ours_in_process":
                    measurement, _unused, _unused = read_in_process(kubeconfig, planner)
                    collect_times.append(measurement.detail["collect_s"])
                    plan_times.append(measurement.detail["plan_s"])
                    wall = measurement.wall_s
                elif variant == "ours_ansible":
                    log = workdir / f"ansible-{repeat}.log"
                    measured, module_facts = read_with_ansible(kubeconfig, log)
                    module_reading.append(float(module_facts["requests"]["seconds"]))
                    wall = measured.wall_s
                else:
                    run = read_with_kubectl(kubectl, kubeconfig, workdir)
                    kubectl_runs.append(run)
                    wall = run.sequence_s
                timings[variant].append(wall)
                loads_before[variant].append(round(load, 2))
                say(
                    f"run {repeat + 1}/{args.repeat} {variant}: {wall:.2f} s"
                    f" (load before {load:.1f})"
                )

        memory["processes"] = {
            component.name: process_memory(component.process.pid)
            for component in plane.components
            if component.process is not None and component.alive()
        }
        memory["benchmark_peak_rss_mib"] = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        )
        memory["mem_available_mib_with_cluster"] = mem_available_mib()

        output = assemble(
            args=args,
            argv=argv,
            plan=plan,
            counts=counts,
            server_version=server_version,
            facts=facts,
            first=first,
            timings=timings,
            collect_times=collect_times,
            plan_times=plan_times,
            module_reading=module_reading,
            skipped=skipped,
            kubectl_runs=kubectl_runs,
            counted=counted,
            checks=checks,
            planner_note=planner_note,
            kubectl=kubectl,
        )
        output["memory"] = memory
        output["load_1min_before_runs"] = loads_before
        output["build_timings_s"] = builder.timings
        output["stopped_components"] = stopped
        if args.profile or not output["goal"]["met"]:
            say("profiling collect_cluster_facts (cProfile)")
            output["profile"] = profile_collect(kubeconfig)
        output["elapsed_s"] = round(time.monotonic() - started, 1)
        output["work_dir"] = str(workdir)
        output["control_plane_dir"] = str(plane.directory)
        return output
    finally:
        plane.stop()
        say("control plane stopped")
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def assemble(
    *,
    args: argparse.Namespace,
    argv: list[str],
    plan: ClusterPlan,
    counts: Mapping[str, int],
    server_version: str | None,
    facts: Mapping[str, Any],
    first: Measurement,
    timings: Mapping[str, list[float]],
    collect_times: list[float],
    plan_times: list[float],
    module_reading: list[float],
    skipped: Mapping[str, Any] | None,
    kubectl_runs: list[KubectlRun],
    counted: KubectlRun,
    checks: Mapping[str, Any],
    planner_note: str,
    kubectl: Path,
) -> dict[str, Any]:
    # Requests: ours, per facts key, against the LIST pages needed.
    by_resource = facts["requests"]["by_resource"]
    ours_by_resource: dict[str, dict[str, Any]] = {}
    not_lists = 0
    for key, sent in by_resource.items():
        lists = OURS_LISTS.get(key)
        needed = sum(pages_needed(counts[name]) for name in lists) if lists else None
        if needed is None:
            not_lists += sent
        ours_by_resource[key] = {
            "sent": sent,
            "needed": needed,
            "lists": {name: counts[name] for name in lists} if lists else None,
        }
    ours_lists = sum(e["sent"] for e in ours_by_resource.values() if e["needed"] is not None)
    ours_needed = sum(e["needed"] for e in ours_by_resource.values() if e["needed"] is not None)
    ours_total = int(facts["requests"]["count"])

    # kubectl: per command, requests counted from -v=6, pages needed from the object counts.
    kubectl_objects = {
        "nodes": counts["nodes"],
        "pods": counts["pods (all namespaces)"],
        **{plural: counts[plural] for plural in KRUISE_PLURALS},
    }
    per_command = {
        name: {
            **counted.requests[name],
            "objects": kubectl_objects[name],
            "list_pages_needed": pages_needed(kubectl_objects[name]),
            "median_s": round(statistics.median(run.durations[name] for run in kubectl_runs), 3),
        }
        for name, _unused in KUBECTL_COMMANDS
    }
    without_pods = [name for name, _unused in KUBECTL_COMMANDS if name != "pods"]

    def kubectl_total(names: Sequence[str], key: str) -> int:
        return sum(per_command[name][key] for name in names)

    all_commands = [name for name, _unused in KUBECTL_COMMANDS]
    kubectl_sets = {
        "kubectl (nodes + kinds)": without_pods,
        "kubectl (nodes + kinds + pods)": all_commands,
    }
    rows: list[dict[str, Any]] = [
        {
            "label": "ours in-process (facts + plan)",
            "variant": "ours_in_process",
            **summary(timings["ours_in_process"]),
            "plan": summary(plan_times),
            "requests": ours_total,
            "list_pages_needed": ours_needed,
        },
        {
            "label": "ours in-process (facts only)",
            "variant": "ours_in_process",
            **summary(collect_times),
            "requests": ours_total,
            "list_pages_needed": ours_needed,
        },
        {
            "label": "ours via ansible (kruise_info)",
            "variant": "ours_ansible",
            **summary(timings["ours_ansible"]),
            "module_reading": summary(module_reading),
            "requests": ours_total,
            "list_pages_needed": ours_needed,
        },
    ]
    if skipped is not None:
        # Not a measured run: ours plus the pages its pagination skips, timed on their own.
        facts_plan = timings["ours_in_process"]
        rows.append(
            {
                "label": "ours, all pages (estimate)",
                "variant": "ours_in_process_estimate",
                "runs_s": [],
                "median_s": round(statistics.median(facts_plan) + skipped["median_s"], 3),
                "min_s": round(min(facts_plan) + skipped["min_s"], 3),
                "requests": ours_total + skipped["pages"],
                "list_pages_needed": ours_needed,
                "note": f"ours (facts + plan) + the {skipped['pages']} skipped pages of"
                f" {', '.join(skipped['lists'])}, read and parsed on their own",
            }
        )
    for label, names in kubectl_sets.items():
        runs = [sum(run.durations[name] for name in names) for run in kubectl_runs]
        rows.append(
            {
                "label": label,
                "variant": "kubectl",
                "commands": [" ".join(dict(KUBECTL_COMMANDS)[name]) for name in names],
                **summary(runs),
                "sequence_wall_s": (
                    summary([run.sequence_s for run in kubectl_runs])
                    if names == all_commands
                    else None
                ),
                "requests": kubectl_total(names, "total"),
                "requests_discovery": kubectl_total(names, "discovery"),
                "requests_list": kubectl_total(names, "list"),
                "list_pages_needed": kubectl_total(names, "list_pages_needed"),
            }
        )
    by_label = {row["label"]: row for row in rows}
    fair = by_label["kubectl (nodes + kinds + pods)"]
    light = by_label["kubectl (nodes + kinds)"]
    for row in rows:
        row["ratio_to_kubectl_with_pods"] = round(row["median_s"] / fair["median_s"], 3)
        row["ratio_to_kubectl_without_pods"] = round(row["median_s"] / light["median_s"], 3)
    # With a truncated pagination ours reads less than it must: judge the estimate instead.
    ours = by_label.get("ours, all pages (estimate)") or by_label["ours in-process (facts + plan)"]
    ratio = ours["ratio_to_kubectl_with_pods"]
    goal = {
        "target_ratio": TARGET_RATIO,
        "reader": ours["label"],
        "against": fair["label"],
        "ratio": ratio,
        "met": ratio <= TARGET_RATIO,
        "ansible_overhead_s": round(
            by_label["ours via ansible (kruise_info)"]["median_s"]
            - by_label["ours in-process (facts only)"]["median_s"],
            3,
        ),
    }
    return {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": ["benchmarks/cluster_assess.py", *argv],
        "machine": {
            "nproc": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "kubernetes": server_version or KUBERNETES_VERSION,
            "kubectl": str(kubectl),
            "ansible_core": _ansible_version(),
            "mem_total_mib": _mem_total_mib(),
        },
        "sizes": {
            "nodes": plan.nodes,
            "pods": plan.pods,
            "daemon_pods": plan.nodes,
            "namespaces": plan.namespaces,
            "node_images": plan.nodes,
            "sidecar_terminator_pods": plan.sidecar_pods,
            "crash_looping_daemon_pods": plan.crash_looping_daemons,
            "runtimes": [runtime for runtime, _unused, _unused in RUNTIMES],
            "objects_per_list": dict(counts),
        },
        "settings": {"repeat": args.repeat, "page_size": PAGE_SIZE, "workers": args.workers},
        "background": (
            "kwok not started (nodes created Ready, without the kwok annotation); controller"
            " manager and scheduler stopped before any object was created: only etcd and"
            " kube-apiserver run while measuring (no heartbeats, no node-lifecycle rewrites)"
        ),
        "planner": planner_note,
        "kubectl_discovery": (
            "each command set runs with a fresh HOME: the first command fills an empty"
            " discovery cache (~/.kube/cache), the others reuse it"
        ),
        "results": rows,
        "first_run_s": round(first.wall_s, 3),
        "requests": {
            "ours": {
                "total": ours_total,
                "not_lists": not_lists,
                "lists": ours_lists,
                "list_pages_needed": ours_needed,
                "within_pages_needed": ours_lists <= ours_needed,
                "by_resource": ours_by_resource,
            },
            "kubectl": {
                "total": kubectl_total(all_commands, "total"),
                "discovery": kubectl_total(all_commands, "discovery"),
                "list": kubectl_total(all_commands, "list"),
                "list_pages_needed": kubectl_total(all_commands, "list_pages_needed"),
                "per_command": per_command,
            },
        },
        "goal": goal,
        "checks": dict(checks),
        "facts_match_cluster": not any(
            checks[reader]["problems"] for reader in ("ours_in_process", "ours_ansible")
        ),
        "skipped_pages": dict(skipped) if skipped else None,
    }


def _ansible_version() -> str:
    completed = subprocess.run(
        [str(VENV_BIN / "ansible"), "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return completed.stdout.splitlines()[0] if completed.stdout else "unknown"


def _mem_total_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        sys.exit(130)
    except BenchmarkError as error:
        print(f"cluster_assess: {error}", file=sys.stderr)
        sys.exit(1)
