"""Read what a cluster says about OpenKruise: install, version, feature gates, kruise-daemon's
health, every node's runtime, and the use of features that need kruise-daemon.

:func:`collect_cluster_facts` does the reading through a :class:`KubeClient`; the functions it
calls to interpret objects are pure and tested on their own. The facts' shape is documented in
``docs/cluster-facts.md``.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.access import Access
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    TABLE,
    KubeClient,
    KubeRequestError,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.values import (
    mask_values,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.findings import (
    Severity,
    finding,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.daemon_crash import (
    crash_cause,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.feature_gates import (
    parse_feature_gates,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    line_of,
    version_from_image,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.wording import natural_key

if TYPE_CHECKING:
    from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
        ClusterModule,
    )

CLUSTER_FACTS_SCHEMA = 1
KRUISE_GROUP = "apps.kruise.io"
MANAGER_NAME = "kruise-controller-manager"
MANAGER_IMAGE_NAME = "kruise-manager"
DAEMON_NAME = "kruise-daemon"
DAEMON_LABEL_SELECTOR = "control-plane=daemon"
SOCKET_MOUNT_PATH = "/hostvarrun"
HELM_RELEASE_ANNOTATION = "meta.helm.sh/release-name"
HELM_NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
PREDOWNLOAD_ANNOTATION_PREFIX = "apps.kruise.io/image-predownload-"
SIDECAR_TERMINATOR_ENV = "KRUISE_TERMINATE_SIDECAR_WHEN_JOB_EXIT"
SIDECAR_TERMINATOR_WITH_IMAGE_ENV = "KRUISE_TERMINATE_SIDECAR_WHEN_JOB_EXIT_WITH_IMAGE"
# The sidecar terminator ignores pods restarted always (isInterestingPod): the API server
# leaves them out, so a cluster of Deployments costs one small page, not every pod.
SIDECAR_CANDIDATE_PODS = {"fieldSelector": "spec.restartPolicy!=Always"}
EXAMPLES_CAP = 10
CRASH_LOOP_RESTARTS = 3

# Daemon-dependent kinds (group apps.kruise.io, v1alpha1): plural, namespaced.
DAEMON_KINDS: Mapping[str, tuple[str, bool]] = {
    "ContainerRecreateRequest": ("containerrecreaterequests", True),
    "ImagePullJob": ("imagepulljobs", True),
    "ImageListPullJob": ("imagelistpulljobs", True),
    "NodeImage": ("nodeimages", False),
    "PodProbeMarker": ("podprobemarkers", True),
    "NodePodProbe": ("nodepodprobes", False),
}
# Workloads whose image pre-download annotations ask kruise-daemon to pull ahead of updates.
PREDOWNLOAD_WORKLOADS: Mapping[str, tuple[str, str]] = {
    "CloneSet": ("v1alpha1", "clonesets"),
    "DaemonSet": ("v1alpha1", "daemonsets"),
    "StatefulSet": ("v1beta1", "statefulsets"),
}


def read_needs(namespace: str, release_namespace: str | None) -> list[Access]:
    """Everything kruise_info lists when OpenKruise runs in ``namespace``, installed by a Helm
    release of ``release_namespace`` (None: manifests): what it needs to leave nothing unknown.
    (The release's configmaps are listed too, and may be refused, when its secrets hold none.)"""
    needs = [
        Access("list", "nodes"),
        Access("list", "deployments", "apps", why="where the kruise manager runs"),
        Access("list", "daemonsets", "apps", namespace),
        Access(
            "list", "pods", why="the daemon's pods; the sidecar terminator's, in every namespace"
        ),
    ]
    if release_namespace:
        needs.append(Access("list", "secrets", namespace=release_namespace, why="the Helm release"))
    needs += [Access("list", plural, KRUISE_GROUP) for plural, _namespaced in DAEMON_KINDS.values()]
    needs += [
        Access("list", plural, KRUISE_GROUP) for _version, plural in PREDOWNLOAD_WORKLOADS.values()
    ]
    return needs


def permission_for(path: str, verb: str = "list") -> str:
    """The RBAC permission a request to ``path`` needs, as ``verb resource.group`` (the core
    group has no suffix), with `` in NAMESPACE`` for a namespaced request:
    ``/apis/apps/v1/deployments`` -> ``list deployments.apps``,
    ``/api/v1/namespaces/default/secrets`` -> ``list secrets in default``."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    if parts[0] == "api":
        group, rest = "", parts[2:]
    elif parts[0] == "apis" and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return f"{verb} {path} (non-resource URL)"
    if not rest:
        return f"get {path} (non-resource URL)"
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    resource = f"{rest[0]}.{group}" if group else rest[0]
    return f"{verb} {resource}" + (f" in {namespace}" if namespace else "")


@dataclass(frozen=True)
class ReadFailure:
    """One read the API server refused or failed: what it needed and what the server said."""

    status: int
    message: str
    permission: str

    @classmethod
    def of(cls, error: KubeRequestError, verb: str = "list") -> ReadFailure:
        return cls(error.status, error.message, permission_for(error.path, verb))

    @property
    def error(self) -> str:
        return f"HTTP {self.status} {self.message}"

    @property
    def missing_permission(self) -> str | None:
        """The permission lacking, when the server said so (403); None for other failures."""
        return self.permission if self.status == 403 else None

    def describe(self) -> str:
        """``HTTP 403 ...; missing permission: list deployments.apps``."""
        if self.missing_permission:
            return f"{self.error}; missing permission: {self.missing_permission}"
        return self.error

    def entry(self) -> dict[str, Any]:
        """What a facts entry that could not be read carries."""
        return {"error": self.error, "missing_permission": self.missing_permission}


@dataclass
class Notes:
    """What reading noticed: findings, and the permissions the API server refused (403)."""

    findings: list[dict[str, Any]] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)

    def add(self, severity: Severity, source: str, message: str) -> None:
        self.findings.append(finding(severity, source, message))

    def failed(self, source: str, failure: ReadFailure, what: str = "cannot list") -> None:
        if failure.missing_permission:
            self.missing.add(failure.missing_permission)
        fix = (
            " (grant it to the user kruise_info runs as, then run again)"
            if failure.missing_permission
            else ""
        )
        self.add("warning", source, f"{what}: {failure.describe()}{fix}")


def flag_value(args: Iterable[str], flag: str) -> str | None:
    """The value of ``--flag=value`` or ``--flag value`` in a container's args (last wins)."""
    found: str | None = None
    items = list(args)
    for index, arg in enumerate(items):
        if arg.startswith(f"{flag}="):
            found = arg.split("=", 1)[1]
        elif arg == flag and index + 1 < len(items):
            found = items[index + 1]
    return found


def decode_helm_release(encoded: str | bytes) -> dict[str, Any]:
    """Helm 3 stores a release as base64(gzip(JSON)) in the data field ``release`` of its
    secret (which the API base64-encodes once more) or configmap. Takes the field's value as the
    API returns it for a secret (twice encoded) or a configmap (once)."""
    data = base64.b64decode(encoded)
    if not data.startswith(b"\x1f\x8b"):
        data = base64.b64decode(data)
    if data.startswith(b"\x1f\x8b"):
        data = gzip.decompress(data)
    release = json.loads(data)
    if not isinstance(release, dict):
        raise ValueError("a Helm release must be a JSON object")
    return release


def helm_release_summary(release: Mapping[str, Any]) -> dict[str, Any]:
    chart = release.get("chart") or {}
    metadata = chart.get("metadata") or {}
    info = release.get("info") or {}
    return {
        "release": release.get("name"),
        "namespace": release.get("namespace"),
        "revision": release.get("version"),
        "status": info.get("status"),
        "chart": metadata.get("name"),
        "chart_version": metadata.get("version"),
        "app_version": metadata.get("appVersion"),
        # Helm values may hold secrets: masked but for what kruise-cri reads and shows.
        "values": mask_values(release.get("config") or {}),
    }


def is_kruise_manager(deployment: Mapping[str, Any]) -> bool:
    metadata = deployment.get("metadata") or {}
    if metadata.get("name") == MANAGER_NAME:
        return True
    return any(
        MANAGER_IMAGE_NAME in str(container.get("image") or "")
        and "daemon" not in str(metadata.get("name") or "")
        for container in _containers(deployment)
    )


def _containers(workload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}
    return list(spec.get("containers") or [])


def _manager_container(deployment: Mapping[str, Any]) -> Mapping[str, Any]:
    containers = _containers(deployment)
    for container in containers:
        if container.get("name") == "manager":
            return container
    for container in containers:
        if MANAGER_IMAGE_NAME in str(container.get("image") or ""):
            return container
    return containers[0] if containers else {}


def _args(container: Mapping[str, Any]) -> list[str]:
    return [str(a) for a in (container.get("command") or [])] + [
        str(a) for a in (container.get("args") or [])
    ]


def manager_entry(deployment: Mapping[str, Any]) -> dict[str, Any]:
    container = _manager_container(deployment)
    status = deployment.get("status") or {}
    return {
        "name": (deployment.get("metadata") or {}).get("name"),
        "image": container.get("image"),
        "replicas": (deployment.get("spec") or {}).get("replicas"),
        "ready_replicas": status.get("readyReplicas") or 0,
        "args": _args(container),
    }


def feature_gates_entry(args: list[str]) -> dict[str, Any]:
    argument = flag_value(args, "--feature-gates")
    gates = parse_feature_gates(argument)
    return {
        "argument": argument,
        "gates": gates,
        "daemon_enabled": gates.get("KruiseDaemon", True),
    }


def daemon_entry(daemonset: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    metadata = daemonset.get("metadata") or {}
    status = daemonset.get("status") or {}
    spec = ((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = _containers(daemonset)
    container = next(
        (c for c in containers if c.get("name") == "daemon"), containers[0] if containers else {}
    )
    socket_location = None
    volume_by_mount = {
        m.get("name"): m.get("mountPath") for m in container.get("volumeMounts") or []
    }
    for volume in spec.get("volumes") or []:
        if volume_by_mount.get(volume.get("name")) == SOCKET_MOUNT_PATH and volume.get("hostPath"):
            socket_location = volume["hostPath"].get("path")
    crash_looping = [
        state
        for state in (daemon_pod_state(pod) for pod in pods)
        if state["state"] == "crash-looping"
    ]
    return {
        "name": metadata.get("name"),
        "namespace": metadata.get("namespace"),
        "image": container.get("image"),
        "desired": status.get("desiredNumberScheduled") or 0,
        "ready": status.get("numberReady") or 0,
        "available": status.get("numberAvailable") or 0,
        "updated": status.get("updatedNumberScheduled") or 0,
        "socket_location": socket_location,
        "socket_file": flag_value(_args(container), "--socket-file") or None,
        "crash_looping": [
            {
                "pod": state["pod"],
                "node": state["node"],
                "restarts": state["restarts"],
                "reason": state["reason"],
                "last_exit_code": state["last_exit_code"],
                "last_message": state["last_message"],
                "cause": crash_cause(state["last_exit_code"], state["last_message"]),
            }
            for state in sorted(crash_looping, key=lambda s: (str(s["node"]), str(s["pod"])))
        ],
    }


def daemon_pod_state(pod: Mapping[str, Any]) -> dict[str, Any]:
    """How a daemon pod fares: running, crash-looping, pending (not started yet) or failed."""
    metadata = pod.get("metadata") or {}
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    waiting_reason = None
    last_exit: int | None = None
    last_message: str | None = None
    for container_status in statuses:
        waiting = (container_status.get("state") or {}).get("waiting") or {}
        waiting_reason = waiting_reason or waiting.get("reason")
        terminated = (container_status.get("lastState") or {}).get("terminated") or {}
        if terminated:
            last_exit = terminated.get("exitCode")
            last_message = terminated.get("message") or terminated.get("reason")
    ready = bool(statuses) and all(s.get("ready") for s in statuses)
    if waiting_reason == "CrashLoopBackOff" or (
        not ready and restarts >= CRASH_LOOP_RESTARTS and last_exit not in (None, 0)
    ):
        state = "crash-looping"
    elif ready and status.get("phase") == "Running":
        state = "running"
    elif status.get("phase") in ("Failed", "Unknown"):
        state = "failed"
    else:
        state = "pending"
    return {
        "pod": metadata.get("name"),
        "node": (pod.get("spec") or {}).get("nodeName"),
        "state": state,
        "restarts": restarts,
        "reason": waiting_reason,
        "last_exit_code": last_exit,
        "last_message": last_message,
    }


def node_entry(node: Mapping[str, Any]) -> dict[str, Any]:
    status = node.get("status") or {}
    info = status.get("nodeInfo") or {}
    runtime_version = str(info.get("containerRuntimeVersion") or "")
    runtime, separator, version = runtime_version.partition("://")
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    return {
        "name": (node.get("metadata") or {}).get("name"),
        "container_runtime_version": runtime_version or None,
        "runtime": runtime if separator and runtime else None,
        "runtime_version": version if separator else None,
        "kubelet_version": info.get("kubeletVersion"),
        "ready": ready,
        "unschedulable": bool((node.get("spec") or {}).get("unschedulable")),
        "daemon_pod": None,
        "daemon_pod_state": "none",
    }


def is_terminated_sidecar(container: Mapping[str, Any]) -> bool:
    """A container kruise-manager's sidecar terminator stops when the Job's main containers end
    (``isSidecar`` in pkg/controller/sidecarterminator): the env ``..._WHEN_JOB_EXIT`` set to
    true, or ``..._WHEN_JOB_EXIT_WITH_IMAGE`` set at all."""
    for env in container.get("env") or []:
        name = env.get("name")
        value = str(env.get("value") or "")
        if name == SIDECAR_TERMINATOR_ENV and value.lower() == "true":
            return True
        if name == SIDECAR_TERMINATOR_WITH_IMAGE_ENV and value:
            return True
    return False


def node_entry_from_row(columns: list[str], cells: list[Any]) -> dict[str, Any] | None:
    """A node entry from a row of the API server's node table (what ``kubectl get nodes -o wide``
    shows): Status is ``Ready``, ``NotReady`` or ``Unknown``, then ``,SchedulingDisabled`` when
    cordoned. None when the table lacks a column the entry needs."""
    try:
        row = dict(zip(columns, cells, strict=True))
        name, status = str(row["Name"]), str(row["Status"]).split(",")
        runtime_version = str(row["Container-Runtime"] or "")
        kubelet_version = row["Version"]
    except (KeyError, ValueError):
        return None
    runtime, separator, version = runtime_version.partition("://")
    return {
        "name": name,
        "container_runtime_version": runtime_version or None,
        "runtime": runtime if separator and runtime else None,
        "runtime_version": version if separator else None,
        "kubelet_version": kubelet_version or None,
        "ready": status[0] == "Ready",
        "unschedulable": "SchedulingDisabled" in status[1:],
        "daemon_pod": None,
        "daemon_pod_state": "none",
    }


def pods_with_sidecar_terminator(page: Mapping[str, Any]) -> list[str]:
    """``namespace/name`` of the pods on a page that the sidecar terminator acts on: not
    restarted always, with a terminated sidecar among their containers."""
    found = []
    for pod in page.get("items") or []:
        spec = pod.get("spec") or {}
        if spec.get("restartPolicy", "Always") == "Always":
            continue
        if any(is_terminated_sidecar(container) for container in spec.get("containers") or []):
            metadata = pod.get("metadata") or {}
            found.append(f"{metadata.get('namespace')}/{metadata.get('name')}")
    return found


def image_pull_job_active(job: Mapping[str, Any]) -> bool:
    status = job.get("status") or {}
    return not status.get("completionTime")


def node_image_has_images(node_image: Mapping[str, Any]) -> bool:
    return bool((node_image.get("spec") or {}).get("images"))


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


def feature_use_summary(
    kinds: Mapping[str, Mapping[str, Any]], predownload: int, sidecar: int
) -> list[str]:
    lines = []
    for kind, entry in kinds.items():
        if kind == "NodeImage":
            if entry.get("with_images"):
                lines.append(_plural(entry["with_images"], "NodeImage") + " with images to pull")
        elif kind in ("ImagePullJob", "ImageListPullJob"):
            if entry.get("active"):
                lines.append(_plural(entry["active"], f"active {kind}"))
        elif entry.get("count"):
            lines.append(_plural(entry["count"], kind))
    if predownload:
        lines.append(_plural(predownload, "workload") + " with image pre-download annotations")
    if sidecar:
        lines.append(_plural(sidecar, "pod") + f" using {SIDECAR_TERMINATOR_ENV}")
    return lines


def collect_cluster_facts(reader: KubeClient) -> dict[str, Any]:
    """Read the cluster. Raises KubeAccessError when the API cannot be used at all; anything
    narrower (a kind missing, a 403 on one resource) becomes a finding, and what could not be read
    stays unknown (null) rather than counted as absent."""
    notes = Notes()
    version = reader.get("/version", counted_as="version")
    facts: dict[str, Any] = {
        "schema": CLUSTER_FACTS_SCHEMA,
        "api": {"server": reader.settings.host, "version": version.get("gitVersion")},
    }

    served, discovery_failures = _served_kruise_resources(reader, notes)
    # Three independent reads at once: the API server encodes one page while this process parses
    # another. Nodes and feature use in threads, the install and the daemon here.
    with ThreadPoolExecutor(max_workers=2) as pool:
        nodes_read = pool.submit(_node_entries, reader, notes)
        feature_use_read = pool.submit(_feature_use, reader, served, discovery_failures, notes)
        facts.update(_install_and_daemon(reader, notes))
        node_objects, nodes_failure = nodes_read.result()
        feature_use = feature_use_read.result()
    daemon_pods = facts.pop("_daemon_pods")
    manager_unknown = facts.pop("_manager_unknown")
    unread: dict[str, dict[str, Any]] = facts.pop("_unread")
    if nodes_failure is not None:
        unread = {"nodes": nodes_failure.entry(), **unread}
    nodes = {entry["name"]: entry for entry in node_objects}
    for pod in daemon_pods:
        state = daemon_pod_state(pod)
        node = nodes.get(state["node"])
        if node is not None:
            node["daemon_pod"] = state["pod"]
            node["daemon_pod_state"] = state["state"]
    # Not seen is not absent: a refused read leaves the install unknown. CRDs alone do not
    # settle it while the manager could not be looked for (they outlive an uninstall that keeps
    # them), so a refused Deployments read is unknown whatever discovery shows.
    installed: bool | None
    if facts["manager"] is not None:
        installed = True
    elif manager_unknown:
        installed = None
    elif served:
        installed = True
    else:
        installed = None if discovery_failures else False
    return {
        "schema": facts["schema"],
        "api": facts["api"],
        "installed": installed,
        **{key: value for key, value in facts.items() if key not in ("schema", "api")},
        # Not listed is not none: null when the nodes could not be listed (see unread).
        "nodes": None
        if nodes_failure is not None
        else [nodes[name] for name in sorted(nodes, key=natural_key)],
        "feature_use": feature_use,
        "unread": unread,
        "missing_permissions": sorted(notes.missing),
        "findings": sorted(notes.findings, key=lambda f: (str(f["source"]), str(f["message"]))),
        "requests": reader.request_summary(),
    }


def _install_and_daemon(reader: KubeClient, notes: Notes) -> dict[str, Any]:
    """The manager, how it was installed, its feature gates, and kruise-daemon's DaemonSet and
    pods (under ``_daemon_pods``, for the caller to match with nodes)."""
    listed, deployments_failure = _try_list(reader, "/apis/apps/v1/deployments", notes)
    deployments = [d for d in listed if is_kruise_manager(d)]
    manager = sorted(
        deployments,
        key=lambda d: (d["metadata"].get("name") != MANAGER_NAME, d["metadata"].get("namespace")),
    )
    namespace = manager[0]["metadata"].get("namespace") if manager else None
    if len(manager) > 1:
        notes.add(
            "warning",
            "deployments",
            "more than one kruise manager Deployment: "
            + ", ".join(
                f"{d['metadata'].get('namespace')}/{d['metadata'].get('name')}" for d in manager
            )
            + f"; using {namespace}",
        )
    manager_facts = manager_entry(manager[0]) if manager else None
    gates = feature_gates_entry(manager_facts["args"] if manager_facts else [])

    daemonset = None
    pods: list[dict[str, Any]] = []
    # What could not be read here, by fact: the DaemonSet, its pods.
    unread: dict[str, dict[str, Any]] = {}
    if namespace:
        listed_daemonsets, daemonsets_failure = _try_list(
            reader, f"/apis/apps/v1/namespaces/{namespace}/daemonsets", notes
        )
        if daemonsets_failure:
            unread["daemon"] = daemonsets_failure.entry()
        daemonsets = [
            d
            for d in listed_daemonsets
            if d["metadata"].get("name") == DAEMON_NAME
            or (d["metadata"].get("labels") or {}).get("control-plane") == "daemon"
        ]
        if daemonsets:
            daemonset = daemonsets[0]
            pods, pods_failure = _try_list(
                reader,
                f"/api/v1/namespaces/{namespace}/pods",
                notes,
                {"labelSelector": DAEMON_LABEL_SELECTOR},
            )
            if pods_failure:
                unread["daemon_pods"] = pods_failure.entry()
    if manager:
        install = _install(reader, manager[0], daemonset, notes)
    else:
        install = {
            "method": None,
            "helm": None,
            "error": (
                "the Deployments could not be listed, so whether and how OpenKruise is "
                f"installed is unknown ({deployments_failure.describe()}): grant it to the user "
                "kruise_info runs as, then run again"
                if deployments_failure
                else None
            ),
        }
    daemon = daemon_entry(daemonset, pods) if daemonset else None
    if daemon is not None and "daemon_pods" in unread:
        daemon["crash_looping"] = None  # unknown, not none
    kruise_version = version_from_image(manager_facts["image"]) if manager_facts else None
    if kruise_version is None and install.get("helm"):
        kruise_version = (install["helm"].get("app_version") or "").lstrip("v") or None
    return {
        "version": kruise_version,
        "line": line_of(kruise_version),
        "namespace": namespace,
        "manager": manager_facts,
        "install": install,
        "feature_gates": gates,
        "daemon": daemon,
        "_daemon_pods": pods,
        "_manager_unknown": deployments_failure is not None,
        "_unread": unread,
    }


def _try_list(
    reader: KubeClient,
    path: str,
    notes: Notes,
    params: Mapping[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], ReadFailure | None]:
    """Every item of a LIST, or ([], the failure) after noting it."""
    try:
        return list(reader.list_items(path, params, counted_as=_resource_name(path))), None
    except KubeRequestError as error:
        failure = ReadFailure.of(error)
        notes.failed(path, failure)
        return [], failure


def _list(
    reader: KubeClient,
    path: str,
    notes: Notes,
    params: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    return _try_list(reader, path, notes, params)[0]


def _node_entries(
    reader: KubeClient, notes: Notes
) -> tuple[list[dict[str, Any]], ReadFailure | None]:
    """Every node's entry, read as kubectl reads them: the server's table (a few cells a node)
    rather than whole Node objects; whole objects when the table lacks a column. With the
    failure when they could not be listed."""
    entries: list[dict[str, Any]] = []
    try:
        for raw in reader.list_pages(
            "/api/v1/nodes", {"includeObject": "None"}, accept=TABLE, counted_as="nodes"
        ):
            table = json.loads(raw)
            columns = [str(c.get("name")) for c in table.get("columnDefinitions") or []]
            for row in table.get("rows") or []:
                entry = node_entry_from_row(columns, list(row.get("cells") or []))
                if entry is None:
                    objects, failure = _try_list(reader, "/api/v1/nodes", notes)
                    return [node_entry(n) for n in objects], failure
                entries.append(entry)
    except KubeRequestError as error:
        failure = ReadFailure.of(error)
        notes.failed("nodes", failure)
        return [], failure
    return entries, None


def _resource_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _served_kruise_resources(
    reader: KubeClient, notes: Notes
) -> tuple[dict[str, set[str]], dict[str, ReadFailure]]:
    """Plural resource names served by apps.kruise.io, per version ({} when the group is absent),
    and the versions whose discovery failed (other than 404), with the failure."""
    served: dict[str, set[str]] = {}
    failures: dict[str, ReadFailure] = {}
    for version in ("v1alpha1", "v1beta1"):
        try:
            resources = (
                reader.get(f"/apis/{KRUISE_GROUP}/{version}", counted_as="discovery").get(
                    "resources"
                )
                or []
            )
        except KubeRequestError as error:
            if error.status != 404:
                failures[version] = ReadFailure.of(error, "get")
                notes.failed(f"{KRUISE_GROUP}/{version}", failures[version], "discovery failed")
            continue
        served[version] = {str(r.get("name")) for r in resources if "/" not in str(r.get("name"))}
    return served, failures


def helm_owner(*objects: Mapping[str, Any] | None) -> tuple[bool, str | None, str | None]:
    """Whether Helm manages these objects, from what Helm itself writes on everything it
    installs (the annotations ``meta.helm.sh/release-name`` and ``-namespace``, the label
    ``app.kubernetes.io/managed-by: Helm``), without reading the release: (managed, release,
    release namespace). The namespace defaults to the object's own."""
    managed = False
    for obj in objects:
        metadata = (obj or {}).get("metadata") or {}
        annotations = metadata.get("annotations") or {}
        release = annotations.get(HELM_RELEASE_ANNOTATION)
        if release:
            return (
                True,
                release,
                annotations.get(HELM_NAMESPACE_ANNOTATION) or metadata.get("namespace"),
            )
        managed = managed or (metadata.get("labels") or {}).get(MANAGED_BY_LABEL) == "Helm"
    return managed, None, None


def _unread_release(release: str | None, namespace: str | None) -> dict[str, Any]:
    """A Helm release known by name only."""
    return {
        "release": release,
        "namespace": namespace,
        "revision": None,
        "status": None,
        "chart": None,
        "chart_version": None,
        "app_version": None,
        "values": None,
    }


def _install(
    reader: KubeClient,
    manager: Mapping[str, Any],
    daemonset: Mapping[str, Any] | None,
    notes: Notes,
) -> dict[str, Any]:
    managed, release_name, release_namespace = helm_owner(manager, daemonset)
    if not managed:
        return {"method": "manifests", "helm": None, "error": None}
    if not release_name:
        error = (
            f"the kruise manager is labelled {MANAGED_BY_LABEL}: Helm but carries no "
            f"{HELM_RELEASE_ANNOTATION} annotation, so its Helm release is unknown: give the "
            "release and its namespace (kruise_cri_helm_release, kruise_cri_helm_namespace)"
        )
        notes.add("warning", "install", error)
        return {"method": "helm", "helm": _unread_release(None, None), "error": error}
    selector = {"labelSelector": f"owner=helm,name={release_name},status=deployed"}
    failures: list[ReadFailure] = []
    for kind in ("secrets", "configmaps"):
        stored_items, failure = _try_list(
            reader, f"/api/v1/namespaces/{release_namespace}/{kind}", notes, selector
        )
        if failure:
            failures.append(failure)
        for stored in stored_items:
            encoded = (stored.get("data") or {}).get("release")
            if not encoded:
                continue
            try:
                release = decode_helm_release(encoded)
            except (ValueError, OSError, EOFError) as error:
                notes.add(
                    "warning",
                    f"{release_namespace}/{stored['metadata'].get('name')}",
                    f"cannot decode the Helm release: {error}",
                )
                continue
            return {"method": "helm", "helm": helm_release_summary(release), "error": None}
    # Helm owns the objects whatever we could read: never fall back to the manifests path,
    # whose direct patches the next `helm upgrade` or `helm rollback` would undo.
    if failures:
        # Helm reads and writes the release with get and list, in secrets unless told to use
        # configmaps: name the secrets when they were refused, the configmaps only otherwise.
        needed = f"get/list {failures[0].permission.split(' ', 1)[1]}"
        error = (
            f"OpenKruise is installed by Helm release {release_name} (namespace "
            f"{release_namespace}), but the release cannot be read: "
            + "; ".join(failure.error for failure in failures)
            + f". Missing permission: {needed} (helm and kruise_info read the "
            "release there): grant it, then run again"
        )
        notes.add("warning", f"{release_namespace}/{release_name}", error)
    else:
        error = (
            f"OpenKruise is installed by Helm release {release_name} (namespace "
            f"{release_namespace}, from the {HELM_RELEASE_ANNOTATION} annotations), but no "
            "deployed revision of it was found (secrets or configmaps labelled owner=helm, "
            f"name={release_name}, status=deployed): check `helm history {release_name} -n "
            f"{release_namespace}` and finish or roll back the pending operation"
        )
        notes.add("warning", f"{release_namespace}/{release_name}", error)
    return {
        "method": "helm",
        "helm": _unread_release(release_name, release_namespace),
        "error": error,
    }


def _feature_use(
    reader: KubeClient,
    served: Mapping[str, set[str]],
    discovery_failures: Mapping[str, ReadFailure],
    notes: Notes,
) -> dict[str, Any]:
    v1alpha1 = served.get("v1alpha1", set())
    kinds: dict[str, dict[str, Any]] = {}
    for kind, (plural, _namespaced) in DAEMON_KINDS.items():
        path = f"/apis/{KRUISE_GROUP}/v1alpha1/{plural}"
        if "v1alpha1" in discovery_failures:
            # Whether the CRD exists is unknown, so is its use.
            kinds[kind] = {"crd": None, "count": None, **discovery_failures["v1alpha1"].entry()}
            continue
        if plural not in v1alpha1:
            kinds[kind] = {"crd": False, "count": 0}
            notes.add("info", f"{KRUISE_GROUP}/v1alpha1 {kind}", "CRD not installed")
            continue
        entry: dict[str, Any] = {"crd": True}
        try:
            if kind in ("ImagePullJob", "ImageListPullJob"):
                items = list(reader.list_items(path, counted_as=plural))
                entry["count"] = len(items)
                entry["active"] = sum(1 for item in items if image_pull_job_active(item))
            elif kind == "NodeImage":
                count = with_images = 0
                for item in reader.list_items(path, counted_as=plural):
                    count += 1
                    with_images += node_image_has_images(item)
                entry.update(count=count, with_images=with_images)
            else:
                entry["count"] = reader.count(path, counted_as=plural)
        except KubeRequestError as error:
            # Unknown, not none: a refused LIST says nothing about how many there are.
            failure = ReadFailure.of(error)
            entry = {"crd": True, "count": None, **failure.entry()}
            if kind in ("ImagePullJob", "ImageListPullJob"):
                entry["active"] = None
            elif kind == "NodeImage":
                entry["with_images"] = None
            notes.failed(f"{KRUISE_GROUP}/v1alpha1 {kind}", failure)
        kinds[kind] = entry

    predownload_examples: list[dict[str, Any]] = []
    predownload_count = 0
    predownload_failures: list[ReadFailure] = []
    for kind, (version, plural) in PREDOWNLOAD_WORKLOADS.items():
        path = f"/apis/{KRUISE_GROUP}/{version}/{plural}"
        if version in discovery_failures:
            predownload_failures.append(discovery_failures[version])
            continue
        if plural not in served.get(version, set()):
            continue
        try:
            for raw in reader.list_pages(path, metadata_only=True, counted_as=plural):
                if PREDOWNLOAD_ANNOTATION_PREFIX.encode() not in raw:
                    continue
                for item in json.loads(raw).get("items") or []:
                    metadata = item.get("metadata") or {}
                    keys = sorted(
                        k
                        for k in (metadata.get("annotations") or {})
                        if k.startswith(PREDOWNLOAD_ANNOTATION_PREFIX)
                    )
                    if keys:
                        predownload_count += 1
                        if len(predownload_examples) < EXAMPLES_CAP:
                            predownload_examples.append(
                                {
                                    "kind": kind,
                                    "namespace": metadata.get("namespace"),
                                    "name": metadata.get("name"),
                                    "annotations": keys,
                                }
                            )
        except KubeRequestError as error:
            failure = ReadFailure.of(error)
            predownload_failures.append(failure)
            notes.failed(f"{KRUISE_GROUP}/{version} {kind}", failure)

    sidecar_pods: list[str] = []
    sidecar_failure: ReadFailure | None = None
    try:
        for raw in reader.list_pages("/api/v1/pods", SIDECAR_CANDIDATE_PODS, counted_as="pods"):
            # Most pages hold no such pod: a byte search spares parsing them.
            if SIDECAR_TERMINATOR_ENV.encode() in raw:
                sidecar_pods.extend(pods_with_sidecar_terminator(json.loads(raw)))
    except KubeRequestError as error:
        sidecar_failure = ReadFailure.of(error)
        notes.failed("pods", sidecar_failure, "cannot list pods")

    found = (
        any(
            (
                entry.get("with_images")
                if kind == "NodeImage"
                else entry.get("active")
                if "active" in entry
                else entry.get("count")
            )
            for kind, entry in kinds.items()
        )
        or bool(predownload_count)
        or bool(sidecar_pods)
    )
    unchecked = (
        any("error" in entry for entry in kinds.values())
        or bool(predownload_failures)
        or sidecar_failure is not None
    )
    in_use: bool | None = True if found else None if unchecked else False
    predownload: dict[str, Any] = {"count": predownload_count, "examples": predownload_examples}
    if predownload_failures:
        predownload.update(count=None, **_joined_failures(predownload_failures))
    sidecar: dict[str, Any] = {
        "count": len(sidecar_pods),
        "examples": sorted(sidecar_pods)[:EXAMPLES_CAP],
    }
    if sidecar_failure is not None:
        sidecar.update(count=None, **sidecar_failure.entry())
    return {
        "kinds": kinds,
        "predownload_workloads": predownload,
        "sidecar_terminator_pods": sidecar,
        "in_use": in_use,
        "summary": feature_use_summary(kinds, predownload_count, len(sidecar_pods)),
    }


def _joined_failures(failures: list[ReadFailure]) -> dict[str, Any]:
    missing = sorted({f.missing_permission for f in failures if f.missing_permission})
    return {
        "error": "; ".join(dict.fromkeys(f.error for f in failures)),
        "missing_permission": ", ".join(missing) or None,
    }


def run_module(module: ClusterModule) -> dict[str, Any]:
    """The kruise_info module's result: the cluster facts as ``kruise``."""
    page_size = module.params["page_size"]
    if page_size < 1:
        module.fail_json(msg=f"page_size {page_size} must be 1 or more")
    return {"changed": False, "kruise": collect_cluster_facts(module.client(page_size=page_size))}
