"""What the report keeps of kruise_info's cluster facts (docs/cluster-facts.md) and of
remediation_plan's plan (docs/planner.md): both checked for their schema, the cluster trimmed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.wording import (
    sorted_naturally,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.fact_values import (
    finding_entries,
    is_mapping,
    jsonable,
    optional_text,
    texts,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.fact_values import (
    as_bool,
    as_int,
    as_list,
    as_mapping,
)


def _checked_schema(value: object, what: str, hint: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be {hint} (a dict), got {type(value).__name__}")
    if value.get("schema") != 1:
        raise ValueError(
            f"{what}: schema {value.get('schema')!r} is not supported (expected {hint}, schema 1)"
        )
    return value


def checked_plan(plan: object) -> dict[str, Any]:
    """The plan as is (a plain JSON copy); ValueError when it is not a schema 1 plan."""
    checked = _checked_schema(plan, "plan", "the plan of kruise_cri.remediation.remediation_plan")
    return jsonable(checked)


def cluster_view(cluster: Mapping[str, Any]) -> dict[str, Any]:
    """The part of kruise_info's cluster facts the report keeps.

    Left out: the manager's arguments (their feature gates are kept, parsed), the Helm release's
    values other than featureGates and daemon.socketLocation/socketFile (values can hold secrets),
    the per-node list (the plan has every node with its verdict) and the seconds reading took
    (it differs on every run and would make every report a change).
    """
    cluster = _checked_schema(
        cluster, "cluster", "the kruise dict of kruise_cri.remediation.kruise_info"
    )
    api = as_mapping(cluster.get("api"))
    manager = cluster.get("manager")
    gates = as_mapping(cluster.get("feature_gates"))
    requests = as_mapping(cluster.get("requests"))
    nodes = [node for node in as_list(cluster.get("nodes")) if is_mapping(node)]
    return {
        "api": {
            "server": optional_text(api.get("server")),
            "version": optional_text(api.get("version")),
        },
        "installed": as_bool(cluster.get("installed")),
        "version": optional_text(cluster.get("version")),
        "line": optional_text(cluster.get("line")),
        "namespace": optional_text(cluster.get("namespace")),
        "manager": {
            "name": optional_text(manager.get("name")),
            "image": optional_text(manager.get("image")),
            "replicas": as_int(manager.get("replicas")),
            "ready_replicas": as_int(manager.get("ready_replicas")),
        }
        if isinstance(manager, Mapping)
        else None,
        "install": _install(as_mapping(cluster.get("install"))),
        "feature_gates": {
            "argument": optional_text(gates.get("argument")),
            "gates": {
                str(name): value
                for name, value in as_mapping(gates.get("gates")).items()
                if isinstance(value, bool)
            },
            "daemon_enabled": as_bool(gates.get("daemon_enabled")),
        },
        "daemon": _daemon(cluster.get("daemon")),
        "nodes": _nodes(nodes),
        "feature_use": _feature_use(as_mapping(cluster.get("feature_use"))),
        "unread": _unread(as_mapping(cluster.get("unread"))),
        "findings": finding_entries(cluster.get("findings")),
        "requests": {
            "count": as_int(requests.get("count")),
            "by_resource": {
                str(name): count
                for name, count in as_mapping(requests.get("by_resource")).items()
                if as_int(count) is not None
            },
        },
    }


def _unread(unread: Mapping[str, Any]) -> dict[str, str]:
    """What kruise_info could not read (nodes, daemon, daemon_pods): its error and the
    permission missing, so that the report says unknown rather than none."""
    reasons = {}
    for fact, entry in sorted(unread.items()):
        entry = as_mapping(entry)
        error = optional_text(entry.get("error")) or "not read"
        missing = optional_text(entry.get("missing_permission"))
        reasons[str(fact)] = f"{error}; missing permission: {missing}" if missing else error
    return reasons


def _helm_values(values: object) -> dict[str, Any]:
    """Only the values the assessment is about: the rest may hold anything, secrets included."""
    values = as_mapping(values)
    kept: dict[str, Any] = {}
    if "featureGates" in values:
        kept["featureGates"] = optional_text(values["featureGates"])
    daemon = as_mapping(values.get("daemon"))
    socket = {
        key: optional_text(daemon[key]) for key in ("socketLocation", "socketFile") if key in daemon
    }
    if socket:
        kept["daemon"] = socket
    return kept


def _install(install: Mapping[str, Any]) -> dict[str, Any]:
    helm = install.get("helm")
    helm_view = None
    if isinstance(helm, Mapping):
        helm_view = {
            "release": optional_text(helm.get("release")),
            "namespace": optional_text(helm.get("namespace")),
            "revision": as_int(helm.get("revision")),
            "status": optional_text(helm.get("status")),
            "chart": optional_text(helm.get("chart")),
            "chart_version": optional_text(helm.get("chart_version")),
            "app_version": optional_text(helm.get("app_version")),
            "values": _helm_values(helm.get("values")),
        }
    return {"method": optional_text(install.get("method")), "helm": helm_view}


def _daemon(daemon: object) -> dict[str, Any] | None:
    if not isinstance(daemon, Mapping):
        return None
    return {
        "name": optional_text(daemon.get("name")),
        "namespace": optional_text(daemon.get("namespace")),
        "image": optional_text(daemon.get("image")),
        **{key: as_int(daemon.get(key)) for key in ("desired", "ready", "available", "updated")},
        "socket_location": optional_text(daemon.get("socket_location")),
        "socket_file": optional_text(daemon.get("socket_file")),
        "crash_looping": [
            {
                "pod": optional_text(pod.get("pod")),
                "node": optional_text(pod.get("node")),
                "restarts": as_int(pod.get("restarts")),
                "reason": optional_text(pod.get("reason")),
                "last_exit_code": as_int(pod.get("last_exit_code")),
                "last_message": optional_text(pod.get("last_message")),
                "cause": optional_text(pod.get("cause")),
            }
            for pod in as_list(daemon.get("crash_looping"))
            if is_mapping(pod)
        ],
    }


def _nodes(nodes: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts only: the plan lists every node with its verdict."""
    runtimes = Counter(
        optional_text(node.get("container_runtime_version")) or "unknown" for node in nodes
    )
    states = Counter(optional_text(node.get("daemon_pod_state")) or "none" for node in nodes)
    return {
        "count": len(nodes),
        "ready": sum(1 for node in nodes if node.get("ready") is True),
        "by_runtime": {label: runtimes[label] for label in sorted_naturally(runtimes)},
        "daemon_pods": {state: states[state] for state in sorted(states)},
    }


def _bools_and_ints(entry: object) -> dict[str, Any]:
    """The bool and int fields of a feature-use entry (crd, count, active, with_images)."""
    return {
        str(key): value
        for key, value in as_mapping(entry).items()
        if isinstance(value, bool) or as_int(value) is not None
    }


def _feature_use(feature_use: Mapping[str, Any]) -> dict[str, Any]:
    predownload = as_mapping(feature_use.get("predownload_workloads"))
    sidecar = as_mapping(feature_use.get("sidecar_terminator_pods"))
    return {
        "in_use": as_bool(feature_use.get("in_use")),
        "summary": texts(feature_use.get("summary")),
        "kinds": {
            str(kind): _bools_and_ints(entry)
            for kind, entry in as_mapping(feature_use.get("kinds")).items()
            if is_mapping(entry)
        },
        "predownload_workloads": {
            "count": as_int(predownload.get("count")) or 0,
            "examples": jsonable(as_list(predownload.get("examples"))[:10]),
        },
        "sidecar_terminator_pods": {
            "count": as_int(sidecar.get("count")) or 0,
            "examples": texts(as_list(sidecar.get("examples"))[:10]),
        },
    }
