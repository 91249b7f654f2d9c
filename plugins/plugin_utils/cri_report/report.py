"""Fleet assessment report: aggregate every node's kruise_cri facts and render them.

Controller-only (Python 3.11, jinja2). Everything taken from the facts, the cluster facts and the
plan is untrusted text: the HTML renderer autoescapes it, the markdown and text renderers escape or
strip it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypedDict

import jinja2
import markupsafe
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.daemon_features import (
    STOPS_WORKING as DAEMON_FEATURES,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    BRIDGE_LINE,
    BRIDGE_RELEASE,
    BRIDGE_RELEASE_DATE,
    parse_version,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    LINES as KNOWN_LINES,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.html import (
    HTML_TEMPLATE,
)

REPORT_SCHEMA = 1
VERDICT_ORDER = ("incompatible", "unknown", "compatible")
INCOMPATIBLE_HOSTS_CAP = 50
CRASH_LOOPING_SHOWN = 50  # crash-looping daemon pods listed in markdown and HTML (JSON: all)
MESSAGE_SHOWN = 300  # characters of a pod's last message shown in markdown and HTML

_LINE_RE = re.compile(r"^\d+\.\d+$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

Verdict = Literal["compatible", "incompatible", "unknown"]


class EndpointEntry(TypedDict):
    socket: str | None
    aliases: list[str]
    kind: str | None
    runtime_name: str | None
    runtime_version: str | None
    cri_api_versions: list[str]
    error: str | None


class DaemonEntry(TypedDict):
    starts: bool | None
    socket: str | None
    runtimes: list[str]


class FindingEntry(TypedDict):
    severity: str
    source: str | None
    message: str


class NodeEntry(TypedDict):
    host: str
    verdict: Verdict
    reason: str
    runtime: str
    kubelet_runtime: str | None
    kubelet_endpoint: str | None
    kubelet_version: str | None
    daemon: DaemonEntry | None
    endpoints: list[EndpointEntry]
    docker: dict[str, Any] | None
    findings: list[FindingEntry]
    lines: dict[str, bool]


class PathEntry(TypedDict, total=False):
    id: str
    title: str
    fits: str  # yes | partly | no | not needed | unknown
    hosts: list[str]  # the nodes the statement is about
    statement: str
    costs: list[str]


def parse_kruise_version(value: object) -> tuple[str, str]:
    """Return (normalised version, line) for "1.6.0", "v1.6" and the like."""
    parsed = parse_version(value)
    if parsed is None or parsed.suffix:
        raise ValueError(
            f"kruise_version {value!r} is not a version: expected X.Y or X.Y.Z, "
            "optionally with a leading v (for example 1.6.0)"
        )
    return parsed.release, parsed.line


def build_report(
    hosts: Mapping[str, Any],
    *,
    kruise_version: str,
    generated_at: str,
    unreachable: Mapping[str, str] | None = None,
    failed: Mapping[str, str] | None = None,
    cluster: Mapping[str, Any] | None = None,
    plan: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Aggregate per-host kruise_cri facts into the report dict (JSON-serialisable, ordered).

    ``cluster`` is the ``kruise`` dict of kruise_info (docs/cluster-facts.md): the report keeps a
    trimmed view of it. ``plan`` is remediation_plan's ``plan`` (docs/planner.md), kept as is.
    Both are ``null`` in the report when not given.
    """
    version, line = parse_kruise_version(kruise_version)
    if not isinstance(generated_at, str):
        raise ValueError(f"generated_at {generated_at!r} must be a string")
    unreachable = dict(unreachable or {})
    failed = dict(failed or {})

    nodes: list[NodeEntry] = []
    for host in _sorted_hosts([*hosts, *unreachable, *failed]):
        # A host listed as unreachable or failed in this run wins over facts it may still carry.
        if host in unreachable:
            nodes.append(_unassessed_node(host, f"unreachable: {_text(unreachable[host])}"))
        elif host in failed:
            nodes.append(_unassessed_node(host, f"fact gathering failed: {_text(failed[host])}"))
        else:
            nodes.append(_node_from_facts(host, hosts[host], line))

    counts = Counter(node["verdict"] for node in nodes)
    if counts["incompatible"]:
        overall: Verdict = "incompatible"
    elif counts["unknown"] or not nodes:
        overall = "unknown"
    else:
        overall = "compatible"

    by_runtime = Counter(node["runtime"] for node in nodes)
    return {
        "schema": REPORT_SCHEMA,
        "generated_at": generated_at,
        "target": {"kruise_version": version, "line": line},
        "summary": {
            "nodes": len(nodes),
            "compatible": counts["compatible"],
            "incompatible": counts["incompatible"],
            "unknown": counts["unknown"],
            "by_runtime": {label: by_runtime[label] for label in _sorted_hosts(by_runtime)},
            "verdict": overall,
        },
        "per_line": _per_line(nodes, line),
        "groups": {
            verdict: [node for node in nodes if node["verdict"] == verdict]
            for verdict in VERDICT_ORDER
        },
        "paths": _paths(nodes, line),
        "cluster": None if cluster is None else cluster_view(cluster),
        "plan": None if plan is None else _checked_plan(plan),
    }


def _natural_key(value: str) -> list[Any]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", value)]


def _sorted_hosts(hosts: Iterable[str]) -> list[str]:
    return sorted(set(hosts), key=_natural_key)


def _line_key(line: str) -> tuple[int, ...]:
    return tuple(int(part) for part in line.split("."))


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _opt_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _unassessed_node(host: str, reason: str) -> NodeEntry:
    return {
        "host": host,
        "verdict": "unknown",
        "reason": reason,
        "runtime": "unknown",
        "kubelet_runtime": None,
        "kubelet_endpoint": None,
        "kubelet_version": None,
        "daemon": None,
        "endpoints": [],
        "docker": None,
        "findings": [],
        "lines": {},
    }


def _node_from_facts(host: str, facts: object, line: str) -> NodeEntry:
    if not isinstance(facts, Mapping):
        return _unassessed_node(host, "no kruise_cri facts were gathered for this host")
    if facts.get("schema") != 1:
        return _unassessed_node(
            host, f"kruise_cri facts schema {facts.get('schema')!r} is not supported (expected 1)"
        )
    kubelet = _mapping(facts.get("kubelet"))
    endpoints = [_endpoint(item) for item in _list(facts.get("endpoints")) if _is_mapping(item)]
    docker = _docker(facts.get("docker"))
    daemon_lines = _mapping(facts.get("kruise_daemon"))
    lines = {
        key: value["compatible"]
        for key, value in sorted(daemon_lines.items(), key=lambda kv: _line_key_safe(kv[0]))
        if isinstance(key, str)
        and _LINE_RE.match(key)
        and _is_mapping(value)
        and isinstance(value.get("compatible"), bool)
    }
    target = daemon_lines.get(line)
    verdict: Verdict
    daemon: DaemonEntry | None = None
    if line in lines and _is_mapping(target):
        verdict = "compatible" if lines[line] else "incompatible"
        reason = _opt_text(target.get("reason")) or (
            f"kruise-daemon {line} {'can' if lines[line] else 'cannot'} "
            "manage the kubelet's runtime on this node"
        )
        starts = target.get("starts")
        daemon = {
            "starts": starts if isinstance(starts, bool) else None,
            "socket": _opt_text(target.get("socket")),
            "runtimes": [_text(item) for item in _list(target.get("runtimes"))],
        }
    else:
        verdict = "unknown"
        reason = f"the facts hold no verdict for kruise-daemon {line}"
    return {
        "host": host,
        "verdict": verdict,
        "reason": reason,
        "runtime": _runtime_label(kubelet, endpoints, docker),
        "kubelet_runtime": _opt_text(kubelet.get("runtime")),
        "kubelet_endpoint": _opt_text(kubelet.get("runtime_endpoint")),
        "kubelet_version": _opt_text(kubelet.get("version")),
        "daemon": daemon,
        "endpoints": endpoints,
        "docker": docker,
        "findings": [_finding(item) for item in _list(facts.get("findings")) if _is_mapping(item)],
        "lines": lines,
    }


def _is_mapping(value: object) -> bool:
    return isinstance(value, Mapping)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _line_key_safe(key: object) -> tuple[int, ...]:
    return _line_key(key) if isinstance(key, str) and _LINE_RE.match(key) else (10**9,)


def _endpoint(raw: Mapping[str, Any]) -> EndpointEntry:
    return {
        "socket": _opt_text(raw.get("socket")),
        "aliases": [_text(item) for item in _list(raw.get("aliases"))],
        "kind": _opt_text(raw.get("kind")),
        "runtime_name": _opt_text(raw.get("runtime_name")),
        "runtime_version": _opt_text(raw.get("runtime_version")),
        "cri_api_versions": [_text(item) for item in _list(raw.get("cri_api_versions"))],
        "error": _opt_text(raw.get("error")),
    }


def _docker(raw: object) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        return None
    daemon_json = _mapping(raw.get("daemon_json"))
    return {
        "socket": _opt_text(raw.get("socket")),
        "version": _opt_text(raw.get("version")),
        "api_version": _opt_text(raw.get("api_version")),
        "cgroup_driver": _opt_text(raw.get("cgroup_driver")),
        "registry_mirrors": [_text(item) for item in _list(daemon_json.get("registry_mirrors"))],
        "insecure_registries": [
            _text(item) for item in _list(daemon_json.get("insecure_registries"))
        ],
        "error": _opt_text(raw.get("error")),
    }


def _finding(raw: Mapping[str, Any]) -> FindingEntry:
    return {
        "severity": _opt_text(raw.get("severity")) or "info",
        "source": _opt_text(raw.get("source")),
        "message": _opt_text(raw.get("message")) or "",
    }


def _strip_unix(endpoint: str) -> str:
    return endpoint[len("unix://") :] if endpoint.startswith("unix://") else endpoint


def _endpoint_label(endpoint: EndpointEntry) -> str | None:
    if not endpoint["runtime_name"]:
        return None
    return " ".join(
        part for part in (endpoint["runtime_name"], endpoint["runtime_version"]) if part
    )


def _runtime_label(
    kubelet: Mapping[str, Any], endpoints: list[EndpointEntry], docker: dict[str, Any] | None
) -> str:
    """Name the runtime the kubelet drives, e.g. "containerd v1.4.13" or "docker 20.10.24"."""
    kubelet_runtime = _opt_text(kubelet.get("runtime"))
    if kubelet_runtime == "docker" and docker and docker["version"]:
        return f"docker {docker['version']}"
    kubelet_endpoint = _opt_text(kubelet.get("runtime_endpoint"))
    if kubelet_endpoint:
        path = _strip_unix(kubelet_endpoint)
        for endpoint in endpoints:
            if path == endpoint["socket"] or path in endpoint["aliases"]:
                label = _endpoint_label(endpoint)
                if label:
                    return label
    if kubelet_runtime:
        return kubelet_runtime
    for endpoint in endpoints:
        label = _endpoint_label(endpoint)
        if label:
            return label
    if docker and docker["version"]:
        return f"docker {docker['version']}"
    return "unknown"


def _per_line(nodes: list[NodeEntry], target_line: str) -> dict[str, dict[str, int]]:
    lines = set(KNOWN_LINES) | {target_line}
    for node in nodes:
        lines.update(node["lines"])
    per_line: dict[str, dict[str, int]] = {}
    for line in sorted(lines, key=_line_key):
        compatible = sum(1 for node in nodes if node["lines"].get(line) is True)
        incompatible = sum(1 for node in nodes if node["lines"].get(line) is False)
        per_line[line] = {
            "compatible": compatible,
            "incompatible": incompatible,
            "unknown": len(nodes) - compatible - incompatible,
        }
    return per_line


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _verb(n: int, singular: str, plural: str) -> str:
    return singular if n == 1 else plural


def _host_list(hosts: list[str], limit: int = 10) -> str:
    shown = ", ".join(hosts[:limit])
    return shown + (f" and {len(hosts) - limit} more" if len(hosts) > limit else "")


MIGRATION_COSTS = (
    "Each node is cordoned and drained, and the kubelet restarts on the new runtime",
    "CRI v1 needs containerd 1.6 or newer with the CRI plugin enabled",
    "Images pulled by Docker are not visible to containerd: they are pulled again",
    "Registry mirrors and insecure registries in /etc/docker/daemon.json must be carried over",
)
PIN_COSTS = (
    f"{BRIDGE_RELEASE} ({BRIDGE_RELEASE_DATE}) is the last {BRIDGE_LINE} release: features and fixes "
    "from 1.6 on are not available",
    f"Downgrading a 1.6+ installation re-applies the {BRIDGE_LINE} CRDs",
)


def _paths(nodes: list[NodeEntry], line: str) -> list[PathEntry]:
    incompatible = [node for node in nodes if node["verdict"] == "incompatible"]
    unknown_hosts = [node["host"] for node in nodes if node["verdict"] == "unknown"]
    docker_hosts = [node["host"] for node in incompatible if node["kubelet_runtime"] == "docker"]
    other_hosts = [node["host"] for node in incompatible if node["kubelet_runtime"] != "docker"]
    unassessed_note = (
        f" {_count(len(unknown_hosts), 'node')} could not be assessed "
        f"({_host_list(unknown_hosts)})."
        if unknown_hosts
        else ""
    )

    migrate: PathEntry
    if not incompatible:
        migrate = {
            "fits": "not needed",
            "hosts": [],
            "statement": f"No node is incompatible with kruise-daemon {line}; "
            "no runtime migration is needed." + unassessed_note,
        }
    elif not other_hosts:
        n = len(docker_hosts)
        migrate = {
            "fits": "yes",
            "hosts": docker_hosts,
            "statement": f"{'The' if n == 1 else f'All {n}'} incompatible "
            f"{_verb(n, 'node runs', 'nodes run')} the kubelet on Docker "
            f"({_host_list(docker_hosts)}). Moving {_verb(n, 'it', 'them')} to containerd "
            "removes the incompatibility." + unassessed_note,
        }
    elif docker_hosts:
        migrate = {
            "fits": "partly",
            "hosts": docker_hosts,
            "statement": f"{len(docker_hosts)} of {_count(len(incompatible), 'incompatible node')} "
            f"{_verb(len(docker_hosts), 'runs', 'run')} the kubelet on Docker "
            f"({_host_list(docker_hosts)}); moving "
            f"{_verb(len(docker_hosts), 'it', 'them')} to containerd fixes "
            f"{_verb(len(docker_hosts), 'that node', 'those')}. "
            f"{_count(len(other_hosts), 'other node')} ({_host_list(other_hosts)}) "
            f"{_verb(len(other_hosts), 'is', 'are')} not Docker-based: "
            f"{_verb(len(other_hosts), 'its reason says', 'their reasons say')} what is missing."
            + unassessed_note,
        }
    else:
        migrate = {
            "fits": "no",
            "hosts": [],
            "statement": "No incompatible node runs the kubelet on Docker, so a "
            "Docker-to-containerd migration does not apply; the node reasons say what is "
            "missing." + unassessed_note,
        }
    migrate["costs"] = list(MIGRATION_COSTS) if docker_hosts else []

    bridge_blockers = [node["host"] for node in nodes if node["lines"].get(BRIDGE_LINE) is False]
    bridge_unknown = [node["host"] for node in nodes if BRIDGE_LINE not in node["lines"]]
    bridge_ok = len(nodes) - len(bridge_blockers) - len(bridge_unknown)
    pin: PathEntry
    if not nodes:
        pin = {"fits": "unknown", "hosts": [], "statement": "No node was assessed."}
    elif bridge_blockers:
        n = len(bridge_blockers)
        pin = {
            "fits": "no",
            "hosts": bridge_blockers,
            "statement": f"Not feasible: {_count(n, 'node')} {_verb(n, 'is', 'are')} not "
            f"compatible with kruise-daemon {BRIDGE_LINE} either ({_host_list(bridge_blockers)}).",
        }
    elif bridge_unknown:
        pin = {
            "fits": "unknown",
            "hosts": bridge_unknown,
            "statement": f"Every assessed node ({bridge_ok}) is compatible with kruise-daemon "
            f"{BRIDGE_LINE}; {_count(len(bridge_unknown), 'node')} could not be assessed "
            f"({_host_list(bridge_unknown)}).",
        }
    else:
        pin = {
            "fits": "yes",
            "hosts": [],
            "statement": f"Every node ({bridge_ok}) is compatible with kruise-daemon "
            f"{BRIDGE_LINE}, so pinning OpenKruise {BRIDGE_RELEASE} is feasible fleet-wide.",
        }
    pin["costs"] = list(PIN_COSTS) if nodes else []

    disable: PathEntry = {
        "fits": "yes",
        "hosts": [],
        "statement": "Always feasible: add KruiseDaemon=false to the chart's featureGates "
        "(merged with the gates already set). kruise-manager keeps running without the daemon, "
        "but the features below stop working. Whether the cluster uses them is not assessed here.",
        "costs": list(DAEMON_FEATURES),
    }
    return [
        {"id": "migrate_runtime", "title": "Migrate Docker nodes to containerd", **migrate},
        {"id": "pin_bridge_line", "title": f"Pin OpenKruise {BRIDGE_RELEASE}", **pin},
        {"id": "disable_daemon", "title": "Disable kruise-daemon", **disable},
    ]


# ---------------------------------------------------------------------------------------------
# Cluster facts and plan


def _jsonable(value: object) -> Any:
    """A plain JSON copy: Ansible's tagged str/dict/list subclasses become plain types."""
    return json.loads(json.dumps(value, default=str))


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _opt_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _checked_schema(value: object, what: str, hint: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be {hint} (a dict), got {type(value).__name__}")
    if value.get("schema") != 1:
        raise ValueError(
            f"{what}: schema {value.get('schema')!r} is not supported (expected {hint}, schema 1)"
        )
    return value


def _checked_plan(plan: object) -> dict[str, Any]:
    checked = _checked_schema(plan, "plan", "the plan of kruise_cri.remediation.remediation_plan")
    return _jsonable(checked)


def _helm_values(values: object) -> dict[str, Any]:
    """Only the values the assessment is about: the rest may hold anything, secrets included."""
    values = _mapping(values)
    kept: dict[str, Any] = {}
    if "featureGates" in values:
        kept["featureGates"] = _opt_text(values["featureGates"])
    daemon = _mapping(values.get("daemon"))
    socket = {
        key: _opt_text(daemon[key]) for key in ("socketLocation", "socketFile") if key in daemon
    }
    if socket:
        kept["daemon"] = socket
    return kept


def _cluster_install(install: Mapping[str, Any]) -> dict[str, Any]:
    helm = install.get("helm")
    helm_view = None
    if isinstance(helm, Mapping):
        helm_view = {
            "release": _opt_text(helm.get("release")),
            "namespace": _opt_text(helm.get("namespace")),
            "revision": _opt_int(helm.get("revision")),
            "status": _opt_text(helm.get("status")),
            "chart": _opt_text(helm.get("chart")),
            "chart_version": _opt_text(helm.get("chart_version")),
            "app_version": _opt_text(helm.get("app_version")),
            "values": _helm_values(helm.get("values")),
        }
    return {"method": _opt_text(install.get("method")), "helm": helm_view}


def _cluster_daemon(daemon: object) -> dict[str, Any] | None:
    if not isinstance(daemon, Mapping):
        return None
    return {
        "name": _opt_text(daemon.get("name")),
        "namespace": _opt_text(daemon.get("namespace")),
        "image": _opt_text(daemon.get("image")),
        **{key: _opt_int(daemon.get(key)) for key in ("desired", "ready", "available", "updated")},
        "socket_location": _opt_text(daemon.get("socket_location")),
        "socket_file": _opt_text(daemon.get("socket_file")),
        "crash_looping": [
            {
                "pod": _opt_text(pod.get("pod")),
                "node": _opt_text(pod.get("node")),
                "restarts": _opt_int(pod.get("restarts")),
                "reason": _opt_text(pod.get("reason")),
                "last_exit_code": _opt_int(pod.get("last_exit_code")),
                "last_message": _opt_text(pod.get("last_message")),
            }
            for pod in _list(daemon.get("crash_looping"))
            if _is_mapping(pod)
        ],
    }


def _cluster_nodes(nodes: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts only: the plan lists every node with its verdict."""
    runtimes = Counter(
        _opt_text(node.get("container_runtime_version")) or "unknown" for node in nodes
    )
    states = Counter(_opt_text(node.get("daemon_pod_state")) or "none" for node in nodes)
    return {
        "count": len(nodes),
        "ready": sum(1 for node in nodes if node.get("ready") is True),
        "by_runtime": {label: runtimes[label] for label in _sorted_hosts(runtimes)},
        "daemon_pods": {state: states[state] for state in sorted(states)},
    }


def _counts(entry: object) -> dict[str, Any]:
    """The bool and int fields of a feature-use entry (crd, count, active, with_images)."""
    return {
        str(key): value
        for key, value in _mapping(entry).items()
        if isinstance(value, bool) or _opt_int(value) is not None
    }


def _cluster_feature_use(feature_use: Mapping[str, Any]) -> dict[str, Any]:
    predownload = _mapping(feature_use.get("predownload_workloads"))
    sidecar = _mapping(feature_use.get("sidecar_terminator_pods"))
    return {
        "in_use": _opt_bool(feature_use.get("in_use")),
        "summary": [_text(item) for item in _list(feature_use.get("summary"))],
        "kinds": {
            str(kind): _counts(entry)
            for kind, entry in _mapping(feature_use.get("kinds")).items()
            if _is_mapping(entry)
        },
        "predownload_workloads": {
            "count": _opt_int(predownload.get("count")) or 0,
            "examples": _jsonable(_list(predownload.get("examples"))[:10]),
        },
        "sidecar_terminator_pods": {
            "count": _opt_int(sidecar.get("count")) or 0,
            "examples": [_text(item) for item in _list(sidecar.get("examples"))[:10]],
        },
    }


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
    api = _mapping(cluster.get("api"))
    manager = cluster.get("manager")
    gates = _mapping(cluster.get("feature_gates"))
    requests = _mapping(cluster.get("requests"))
    nodes = [node for node in _list(cluster.get("nodes")) if _is_mapping(node)]
    return {
        "api": {"server": _opt_text(api.get("server")), "version": _opt_text(api.get("version"))},
        "installed": _opt_bool(cluster.get("installed")),
        "version": _opt_text(cluster.get("version")),
        "line": _opt_text(cluster.get("line")),
        "namespace": _opt_text(cluster.get("namespace")),
        "manager": {
            "name": _opt_text(manager.get("name")),
            "image": _opt_text(manager.get("image")),
            "replicas": _opt_int(manager.get("replicas")),
            "ready_replicas": _opt_int(manager.get("ready_replicas")),
        }
        if isinstance(manager, Mapping)
        else None,
        "install": _cluster_install(_mapping(cluster.get("install"))),
        "feature_gates": {
            "argument": _opt_text(gates.get("argument")),
            "gates": {
                str(name): value
                for name, value in _mapping(gates.get("gates")).items()
                if isinstance(value, bool)
            },
            "daemon_enabled": _opt_bool(gates.get("daemon_enabled")),
        },
        "daemon": _cluster_daemon(cluster.get("daemon")),
        "nodes": _cluster_nodes(nodes),
        "feature_use": _cluster_feature_use(_mapping(cluster.get("feature_use"))),
        "findings": [
            _finding(item) for item in _list(cluster.get("findings")) if _is_mapping(item)
        ],
        "requests": {
            "count": _opt_int(requests.get("count")),
            "by_resource": {
                str(name): count
                for name, count in _mapping(requests.get("by_resource")).items()
                if _opt_int(count) is not None
            },
        },
    }


def recommendation(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The plan's recommendation, or None for a report without a plan."""
    plan = report.get("plan")
    found = plan.get("recommendation") if isinstance(plan, Mapping) else None
    return dict(found) if isinstance(found, Mapping) else None


# ---------------------------------------------------------------------------------------------
# What the markdown and HTML renderers show of the cluster and the plan (text, unescaped)

_RISK_TONE = {"low": "ok", "medium": "warn", "high": "bad"}
_FEASIBLE_TONE = {"yes": "ok", "partly": "warn", "no": "bad", "not needed": "muted"}


def _texts(value: object) -> list[str]:
    return [_text(item) for item in _list(value) if item is not None]


def _recommendation_view(report: Mapping[str, Any]) -> dict[str, Any] | None:
    rec = recommendation(report)
    if rec is None:
        return None
    path = _opt_text(rec.get("path")) or "unknown"
    risk = _mapping(rec.get("risk"))
    level = _opt_text(risk.get("level")) or "unknown"
    manual_steps = _texts(rec.get("manual_steps"))
    # A command is for copying into a shell: one line, no control characters.
    commands = [_plain(command) for command in _texts(rec.get("commands"))]
    if manual_steps:
        no_command = "No playbook applies yet: follow the manual steps below."
    elif path == "nothing_to_do":
        no_command = "Nothing to run."
    else:
        no_command = "No command: see the reasons below."
    return {
        "path": path,
        "title": _opt_text(rec.get("title")) or path,
        "summary": _opt_text(rec.get("summary")) or "",
        "reasons": _texts(rec.get("reasons")),
        "commands": commands,
        "no_command": no_command,
        "not_shipped": _texts(rec.get("not_shipped")),
        "manual_steps": manual_steps,
        "manual_steps_doc": _opt_text(rec.get("manual_steps_doc")),
        "risk_level": level,
        "risk_tone": _RISK_TONE.get(level, "muted"),
        "risk_reasons": _texts(risk.get("reasons")),
    }


def _plan_paths_view(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    rec = _mapping(plan.get("recommendation"))
    chosen = _opt_text(rec.get("path"))
    steps = set(_texts(rec.get("steps")))
    paths = []
    for path in _list(plan.get("paths")):
        if not _is_mapping(path):
            continue
        cost = _mapping(path.get("cost"))
        risk = _mapping(path.get("risk"))
        path_id = _opt_text(path.get("id")) or "?"
        feasible = _opt_text(path.get("feasible")) or "unknown"
        level = _opt_text(risk.get("level")) or "unknown"
        paths.append(
            {
                "id": path_id,
                "title": _opt_text(path.get("title")) or path_id,
                "recommended": path_id == chosen,
                "step": path_id in steps and path_id != chosen,
                "feasible": feasible,
                "feasible_tone": _FEASIBLE_TONE.get(feasible, "muted"),
                "reasons": _texts(path.get("reasons")),
                "features_lost": _texts(cost.get("features_lost")),
                "nodes_drained": _opt_int(cost.get("nodes_drained")) or 0,
                "drained_nodes": _texts(cost.get("drained_nodes")),
                "helm_changes": _texts(cost.get("helm_changes")),
                "notes": _texts(cost.get("notes")),
                "risk_level": level,
                "risk_tone": _RISK_TONE.get(level, "muted"),
                "risk_reasons": _texts(risk.get("reasons")),
            }
        )
    return paths


def _plan_findings(plan: Mapping[str, Any]) -> list[FindingEntry]:
    return [_finding(item) for item in _list(plan.get("findings")) if _is_mapping(item)]


def _install_how(view: Mapping[str, Any]) -> str:
    """How OpenKruise was installed, e.g. "Helm release kruise (namespace kruise-system, ...)"."""
    if view.get("installed") is False:
        return "not installed"
    install = _mapping(view.get("install"))
    helm = _mapping(install.get("helm"))
    if install.get("method") == "helm" and helm:
        details = [
            f"namespace {helm.get('namespace') or '?'}",
            f"chart {helm.get('chart') or '?'} {helm.get('chart_version') or '?'}",
        ]
        if helm.get("revision") is not None:
            details.append(f"revision {helm['revision']}")
        if helm.get("status"):
            details.append(str(helm["status"]))
        return f"Helm release {helm.get('release') or '?'} ({', '.join(details)})"
    if install.get("method") == "manifests":
        return "from manifests (no Helm release)"
    return "installed by unknown means"


def _install_text(view: Mapping[str, Any]) -> str:
    if view.get("installed") is False:
        return "not installed"
    return f"{view.get('version') or 'unknown version'}, {_install_how(view)}"


def _daemon_text(view: Mapping[str, Any]) -> str:
    daemon = view.get("daemon")
    if not isinstance(daemon, Mapping):
        if _mapping(view.get("feature_gates")).get("daemon_enabled") is False:
            return "disabled (no DaemonSet)"
        return "no kruise-daemon DaemonSet"
    parts = [f"{daemon.get('ready') or 0} of {daemon.get('desired') or 0} pods ready"]
    crashing = len(_list(daemon.get("crash_looping")))
    if crashing:
        parts.append(f"{_count(crashing, 'pod')} crash-looping")
    if daemon.get("socket_location"):
        parts.append(f"socket location {daemon['socket_location']}")
    if daemon.get("socket_file"):
        parts.append(f"socket file {daemon['socket_file']}")
    return ", ".join(parts)


def _feature_use_text(view: Mapping[str, Any]) -> str:
    feature_use = _mapping(view.get("feature_use"))
    summary = _texts(feature_use.get("summary"))
    if feature_use.get("in_use") is True:
        return "yes: " + "; ".join(summary) if summary else "yes"
    if feature_use.get("in_use") is False:
        return "none found"
    return "unknown"


def _cluster_display(cluster: object) -> dict[str, Any] | None:
    """What the markdown and HTML renderers show of the report's cluster view."""
    if not isinstance(cluster, Mapping):
        return None
    gates = _mapping(cluster.get("feature_gates"))
    daemon_enabled = gates.get("daemon_enabled")
    gates_text = _opt_text(gates.get("argument")) or "none set (defaults)"
    if daemon_enabled is False:
        gates_text += " · kruise-daemon disabled"
    elif daemon_enabled is True:
        gates_text += " · kruise-daemon enabled"
    manager = cluster.get("manager")
    nodes = _mapping(cluster.get("nodes"))
    by_runtime = _mapping(nodes.get("by_runtime"))
    rows: list[tuple[str, str]] = [("OpenKruise", _install_text(cluster))]
    if isinstance(manager, Mapping):
        rows.append(
            (
                "kruise-manager",
                f"{manager.get('ready_replicas') or 0} of {manager.get('replicas') or 0} "
                "replicas ready",
            )
        )
    rows += [
        ("Feature gates", gates_text),
        ("kruise-daemon", _daemon_text(cluster)),
        (
            "Nodes",
            f"{nodes.get('count') or 0} ({nodes.get('ready') or 0} ready): "
            + (", ".join(f"{label}: {n}" for label, n in by_runtime.items()) or "none"),
        ),
        ("Daemon features in use", _feature_use_text(cluster)),
    ]
    daemon = _mapping(cluster.get("daemon"))
    crashing = [pod for pod in _list(daemon.get("crash_looping")) if _is_mapping(pod)]
    return {
        "server": _opt_text(_mapping(cluster.get("api")).get("server")) or "unknown",
        "api_version": _opt_text(_mapping(cluster.get("api")).get("version")) or "unknown",
        "installed": cluster.get("installed"),
        "version": _opt_text(cluster.get("version")),
        "install_how": _install_how(cluster),
        "gates_argument": _opt_text(gates.get("argument")),
        "daemon_enabled": daemon_enabled,
        "daemon": daemon or None,
        "daemon_text": _daemon_text(cluster),
        "feature_use": _mapping(cluster.get("feature_use")),
        "by_runtime": dict(by_runtime),
        "rows": rows,
        "crash_looping": [
            {
                **pod,
                "message": _ellipsize(_plain(pod.get("last_message")), MESSAGE_SHOWN),
            }
            for pod in crashing[:CRASH_LOOPING_SHOWN]
        ],
        "crash_looping_total": len(crashing),
        "crash_looping_more": max(0, len(crashing) - CRASH_LOOPING_SHOWN),
        "findings": [
            _finding(item) for item in _list(cluster.get("findings")) if _is_mapping(item)
        ],
    }


# ---------------------------------------------------------------------------------------------
# Renderers


def render_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def _plain(value: object) -> str:
    """One line of printable text: control characters (ANSI escapes included) and newlines go."""
    text = "" if value is None else _text(value)
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    return _CONTROL_RE.sub("", text)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~!])")


def _md(value: object) -> str:
    """Escape untrusted text for a GitHub markdown table cell or paragraph."""
    text = _plain(value)
    if not text:
        return "—"
    return _MD_SPECIAL.sub(r"\\\1", text).replace("&", "&amp;")


def _target_lines(report: Mapping[str, Any]) -> tuple[str, str]:
    return report["target"]["line"], report["target"]["kruise_version"]


def render_markdown(report: Mapping[str, Any]) -> str:
    line, version = _target_lines(report)
    summary = report["summary"]
    out: list[str] = [
        "# kruise-daemon CRI assessment",
        "",
        f"Target: OpenKruise **{_md(version)}** (line {_md(line)}) · "
        f"Verdict: **{_md(summary['verdict'])}** · Generated: {_md(report['generated_at'])}",
        "",
        *_md_recommendation(report),
        "## Summary",
        "",
        "| Nodes | Compatible | Incompatible | Unknown |",
        "|---:|---:|---:|---:|",
        f"| {summary['nodes']} | {summary['compatible']} | {summary['incompatible']} "
        f"| {summary['unknown']} |",
        "",
    ]
    if summary["by_runtime"]:
        out += ["| Runtime (kubelet's) | Nodes |", "|---|---:|"]
        out += [f"| {_md(label)} | {n} |" for label, n in summary["by_runtime"].items()]
        out.append("")
    out += _md_cluster(report)
    out += [
        "## kruise-daemon lines",
        "",
        "| Line | Compatible | Incompatible | Unknown | Works everywhere |",
        "|---|---:|---:|---:|---|",
    ]
    for row_line, row in report["per_line"].items():
        label = f"**{_md(row_line)}** (target)" if row_line == line else _md(row_line)
        if _works_everywhere(row, summary["nodes"]):
            everywhere = "yes"
        elif _works_on_every_assessed_node(row):
            everywhere = "on every assessed node"
        else:
            everywhere = "no"
        out.append(
            f"| {label} | {row['compatible']} | {row['incompatible']} | {row['unknown']} "
            f"| {everywhere} |"
        )
    out += ["", "## Ways out", ""]
    if isinstance(report.get("plan"), Mapping):
        out += _md_plan_paths(report["plan"])
    else:
        for path in report["paths"]:
            out.append(
                f"- **{_md(path['title'])}** ({_md(_fit_label(path))}): {_md(path['statement'])}"
            )
            out += [f"  - {_md(cost)}" for cost in path.get("costs", [])]
    out += ["", "## Nodes", ""]
    for verdict in VERDICT_ORDER:
        nodes = report["groups"][verdict]
        out += [f"### {verdict.capitalize()} ({len(nodes)})", ""]
        if not nodes:
            out += ["None.", ""]
            continue
        out += [
            "| Host | Runtime | Kubelet runtime | Lines | Reason |",
            "|---|---|---|---|---|",
        ]
        for node in nodes:
            lines = " ".join(f"{_md(key)}{'✓' if ok else '✗'}" for key, ok in node["lines"].items())
            out.append(
                f"| {_md(node['host'])} | {_md(node['runtime'])} | "
                f"{_md(node['kubelet_runtime'])} | {lines or '—'} | {_md(node['reason'])} |"
            )
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _md_code(text: object) -> list[str]:
    """A fenced code block that untrusted text cannot close: the fence is longer than any run of
    backticks in the text (newlines and control characters are stripped first)."""
    line = _plain(text)
    longest = max((len(run) for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}sh", line, fence]


def _md_list(items: Iterable[object], indent: str = "") -> list[str]:
    return [f"{indent}- {_md(item)}" for item in items]


def _md_recommendation(report: Mapping[str, Any]) -> list[str]:
    rec = _recommendation_view(report)
    if rec is None:
        return []
    out = [
        "## Recommendation",
        "",
        f"**{_md(rec['title'])}** · risk: **{_md(rec['risk_level'])}**",
        "",
        _md(rec["summary"]),
        "",
    ]
    for index, command in enumerate(rec["commands"], 1):
        if len(rec["commands"]) > 1:
            out += [f"Step {index} of {len(rec['commands'])}:", ""]
        out += [*_md_code(command), ""]
    if not rec["commands"]:
        out += [_md(rec["no_command"]), ""]
    if rec["reasons"]:
        out += ["Why:", "", *_md_list(rec["reasons"]), ""]
    if rec["risk_reasons"]:
        out += [f"Risk ({_md(rec['risk_level'])}):", "", *_md_list(rec["risk_reasons"]), ""]
    if rec["manual_steps"]:
        where = f" ({_md(rec['manual_steps_doc'])})" if rec["manual_steps_doc"] else ""
        out += [f"Manual steps{where}:", "", *_md_list(rec["manual_steps"]), ""]
    return out


def _md_cluster(report: Mapping[str, Any]) -> list[str]:
    view = _cluster_display(report.get("cluster"))
    if view is None:
        return []
    out = [
        "## Cluster",
        "",
        f"API server {_md(view['server'])} (Kubernetes {_md(view['api_version'])})",
        "",
        "| What | State |",
        "|---|---|",
    ]
    out += [f"| {_md(label)} | {_md(value)} |" for label, value in view["rows"]]
    out.append("")
    crashing = view["crash_looping"]
    if crashing:
        out += [
            f"### Crash-looping kruise-daemon pods ({view['crash_looping_total']})",
            "",
            "| Pod | Node | Restarts | Last exit code | Last message |",
            "|---|---|---:|---:|---|",
        ]
        out += [
            f"| {_md(pod['pod'])} | {_md(pod['node'])} | {_md(pod['restarts'])} "
            f"| {_md(pod['last_exit_code'])} | {_md(pod['message'])} |"
            for pod in crashing
        ]
        if view["crash_looping_more"]:
            out += ["", f"And {view['crash_looping_more']} more (all of them in report.json)."]
        out.append("")
    if view["findings"]:
        out += ["### Cluster findings", ""]
        out += [
            f"- {_md(item['severity'])}: "
            + (f"{_md(item['source'])}: " if item["source"] else "")
            + _md(item["message"])
            for item in view["findings"]
        ]
        out.append("")
    return out


def _md_plan_paths(plan: Mapping[str, Any]) -> list[str]:
    paths = _plan_paths_view(plan)
    out = [
        "| Path | Feasible | Features lost | Nodes drained | Helm changes | Risk |",
        "|---|---|---|---:|---|---|",
    ]
    for path in paths:
        title = f"**{_md(path['title'])}**"
        if path["recommended"]:
            title += " (recommended)"
        elif path["step"]:
            title += " (then)"
        lost = "; ".join(_md(item) for item in path["features_lost"]) or "none"
        drained = str(path["nodes_drained"])
        if path["drained_nodes"]:
            drained += f" ({_md(_host_list(path['drained_nodes']))})"
        helm = "; ".join(_md(item) for item in path["helm_changes"]) or "none"
        out.append(
            f"| {title} | {_md(path['feasible'])} | {lost} | {drained} | {helm} "
            f"| {_md(path['risk_level'])} |"
        )
    out.append("")
    for path in paths:
        out.append(f"- **{_md(path['title'])}** ({_md(path['feasible'])})")
        out += _md_list(path["reasons"], "  ")
        out += _md_list(path["notes"], "  ")
        if path["risk_reasons"]:
            out.append(
                f"  - Risk ({_md(path['risk_level'])}): "
                + "; ".join(_md(item) for item in path["risk_reasons"])
            )
    findings = _plan_findings(plan)
    if findings:
        out += ["", "Notes from the plan:", ""]
        out += [
            f"- {_md(item['severity'])}: {_md(item['source'])}: {_md(item['message'])}"
            for item in findings
        ]
    return out


def _works_everywhere(row: Mapping[str, int], nodes: int) -> bool:
    return nodes > 0 and row["compatible"] == nodes


def _works_on_every_assessed_node(row: Mapping[str, int]) -> bool:
    return bool(row["compatible"] and row["unknown"] and not row["incompatible"])


def _fit_label(path: Mapping[str, Any]) -> str:
    return _FIT_LABELS.get(path["id"], {}).get(path["fits"], path["fits"])


def _ellipsize(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _display_width(text))


def summary_table(report: Mapping[str, Any], *, reason_width: int = 72) -> str:
    """Fixed-width text table for the end of a playbook run or a terminal."""
    line, _version = _target_lines(report)
    header = ("HOST", "RUNTIME", "KUBELET", f"KRUISE {line}", "REASON")
    rows: list[tuple[str, ...]] = []
    for verdict in VERDICT_ORDER:
        for node in report["groups"][verdict]:
            rows.append(
                (
                    _ellipsize(_plain(node["host"]), 40),
                    _ellipsize(_plain(node["runtime"]), 28),
                    _ellipsize(_plain(node["kubelet_runtime"] or "?"), 12),
                    verdict,
                    _ellipsize(_plain(node["reason"]), reason_width),
                )
            )
    widths = [max(_display_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
    text_lines = [
        "  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in [header, *rows]
    ]
    summary = report["summary"]
    text_lines.append(
        f"{_count(summary['nodes'], 'node')}: {summary['compatible']} compatible, "
        f"{summary['incompatible']} incompatible, {summary['unknown']} unknown; "
        f"kruise-daemon {line} verdict: {summary['verdict']}"
    )
    return "\n".join(text_lines) + "\n"


def set_stats_summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """Small dict for ansible.builtin.set_stats; the caller adds the report paths."""
    summary = report["summary"]
    incompatible = [node["host"] for node in report["groups"]["incompatible"]]
    return {
        "kruise_version": report["target"]["kruise_version"],
        "line": report["target"]["line"],
        "verdict": summary["verdict"],
        "nodes": summary["nodes"],
        "compatible": summary["compatible"],
        "incompatible": summary["incompatible"],
        "unknown": summary["unknown"],
        "incompatible_hosts": incompatible[:INCOMPATIBLE_HOSTS_CAP],
        "incompatible_hosts_truncated": len(incompatible) > INCOMPATIBLE_HOSTS_CAP,
        "recommendation": _stats_recommendation(report),
    }


def _stats_recommendation(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """Path, title and command of the plan's recommendation (null without a plan)."""
    rec = recommendation(report)
    if rec is None:
        return None
    return {
        "path": _opt_text(rec.get("path")),
        "title": _opt_text(rec.get("title")),
        "command": _opt_text(rec.get("command")),
        "commands": _texts(rec.get("commands")),
        "risk": _opt_text(_mapping(rec.get("risk")).get("level")),
    }


# ---------------------------------------------------------------------------------------------
# HTML

_VERDICT_TITLES = {
    "incompatible": "Incompatible",
    "unknown": "Not assessed",
    "compatible": "Compatible",
}
_VERDICT_BLURBS = {
    "incompatible": "kruise-daemon {line} fails to start here, or starts but cannot act on the "
    "kubelet's runtime.",
    "unknown": "No usable facts for these nodes: they were unreachable, fact gathering failed, "
    "or the facts hold no verdict for {line}.",
    "compatible": "kruise-daemon {line} starts and manages the kubelet's runtime.",
}
_FIT_LABELS = {
    "migrate_runtime": {
        "yes": "fits every incompatible node",
        "partly": "fits some incompatible nodes",
        "no": "does not apply",
        "not needed": "not needed",
    },
    "pin_bridge_line": {
        "yes": "feasible fleet-wide",
        "no": "not feasible",
        "unknown": "unconfirmed",
    },
    "disable_daemon": {"yes": "always possible, with losses"},
}
_COSTS_TITLES = {
    "migrate_runtime": "What it takes",
    "pin_bridge_line": "What it costs",
    "disable_daemon": "What stops working",
}
_FIT_TONE = {"yes": "ok", "partly": "warn", "no": "bad", "not needed": "muted", "unknown": "warn"}


def _headline(report: Mapping[str, Any]) -> str:
    summary = report["summary"]
    line = report["target"]["line"]
    nodes = summary["nodes"]
    if nodes == 0:
        return "No nodes were assessed"
    if summary["incompatible"]:
        return (
            f"{summary['incompatible']} of {_count(nodes, 'node')} cannot run kruise-daemon {line}"
        )
    if summary["unknown"]:
        return f"No incompatible node found, but {summary['unknown']} of {nodes} not assessed"
    return f"Every node can run kruise-daemon {line}"


def _html_view(report: Mapping[str, Any]) -> dict[str, Any]:
    summary = report["summary"]
    line = report["target"]["line"]
    nodes = summary["nodes"]
    lines = []
    for row_line, row in report["per_line"].items():
        pct = {
            key: (100.0 * row[key] / nodes if nodes else 0.0)
            for key in ("compatible", "incompatible", "unknown")
        }
        lines.append(
            {
                "line": row_line,
                "is_target": row_line == line,
                "everywhere": _works_everywhere(row, nodes),
                "all_assessed": _works_on_every_assessed_node(row),
                "pct": {key: f"{value:.2f}" for key, value in pct.items()},
                **row,
            }
        )
    groups = [
        {
            "verdict": verdict,
            "title": _VERDICT_TITLES[verdict],
            "blurb": _VERDICT_BLURBS[verdict].format(line=line),
            "nodes": report["groups"][verdict],
        }
        for verdict in VERDICT_ORDER
        if report["groups"][verdict]
    ]
    paths = [
        {
            **path,
            "fit_label": _fit_label(path),
            "costs_title": _COSTS_TITLES.get(path["id"], "Costs"),
            "tone": "warn"
            if path["id"] == "disable_daemon"
            else _FIT_TONE.get(path["fits"], "muted"),
        }
        for path in report["paths"]
    ]
    plan = report.get("plan")
    return {
        "report": report,
        "summary": summary,
        "target": report["target"],
        "headline": _headline(report),
        "lines": lines,
        "groups": groups,
        "paths": paths,
        "node_total": nodes,
        "rec": _recommendation_view(report),
        "cluster": _cluster_display(report.get("cluster")),
        "plan_paths": _plan_paths_view(plan) if isinstance(plan, Mapping) else None,
        "plan_findings": _plan_findings(plan) if isinstance(plan, Mapping) else [],
    }


_HTML_ENV = jinja2.Environment(
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _break_after_slashes(value: object) -> markupsafe.Markup:
    """Escape, then let long paths wrap after a slash instead of mid-name."""
    return markupsafe.Markup("/<wbr>").join(
        markupsafe.escape(part) for part in ("" if value is None else str(value)).split("/")
    )


_HTML_ENV.filters["wbr"] = _break_after_slashes
_HTML = _HTML_ENV.from_string(HTML_TEMPLATE)


def render_html(report: Mapping[str, Any]) -> str:
    """One self-contained HTML page (inline CSS, no external resources)."""
    return _HTML.render(**_html_view(report))
