"""Remediation planner: from node facts and cluster facts, which way out fits and what it costs.

Controller-only (Python 3.11), pure: no I/O. ``build_plan`` takes each node's ``kruise_cri`` facts
(docs/facts.md) and, optionally, the cluster's ``kruise`` facts (docs/cluster-facts.md), and says
per node and per path (migrate the runtime, pin OpenKruise 1.5.5, disable kruise-daemon, nothing
to do) whether it fits, what it costs and how risky it is, then recommends one path with the exact
``ansible-playbook`` command lines. docs/planner.md describes the rules and the output.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ansible_collections.kruise_cri.remediation.plugins.module_utils.findings import finding
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.daemon_features import (
    STOPS_WORKING as DAEMON_FEATURES,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.feature_gates import (
    DAEMON_GATE,
    DEFAULT_FEATURE_GATES,
    GATES_1_5,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    BRIDGE_LINE,
    BRIDGE_RELEASE,
    BRIDGE_RELEASE_DATE,
    parse_version,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    LINES as KRUISE_LINES,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.kruise_compat import (
    V1,
    V1ALPHA2,
    cri_apis_of_line,
)

PLAN_SCHEMA = 1
COLLECTION = "kruise_cri.remediation"
INVENTORY_PLACEHOLDER = "INVENTORY"
MANUAL_STEPS_DOC = "docs/planner.md#doing-it-by-hand"
DEFAULT_NAMESPACE = "kruise-system"
HELM_REPO = "https://openkruise.github.io/charts/"

MIGRATE = "migrate_runtime"
PIN = "pin_1_5"
DISABLE = "disable_daemon"
NOTHING = "nothing_to_do"
PATH_IDS = (MIGRATE, PIN, DISABLE, NOTHING)
PATH_TITLES = {
    MIGRATE: "Migrate Docker nodes to containerd",
    PIN: f"Pin OpenKruise {BRIDGE_RELEASE}",
    DISABLE: "Disable kruise-daemon",
    NOTHING: "Nothing to do",
}

Feasible = Literal["yes", "partly", "no", "not needed"]
NodeFeasible = Literal["yes", "no", "not needed", "unknown"]
RiskLevel = Literal["low", "medium", "high"]
RISK_ORDER: tuple[RiskLevel, ...] = ("low", "medium", "high")
UNKNOWN_MARK = "of unknown compatibility"

# Feature gates kruise-manager 1.5.5 knows; it refuses to start on any other name.
BRIDGE_FEATURE_GATES = GATES_1_5


@dataclass(frozen=True)
class PlaybookCall:
    """How a path is run: the collection playbook, its extra vars, and whether it takes --limit."""

    playbook: str
    extra_vars: tuple[tuple[str, str], ...] = ()
    limit_to_nodes: bool = False

    @property
    def fqcn(self) -> str:
        return f"{COLLECTION}.{self.playbook}"


PLAYBOOK_CALLS: dict[str, PlaybookCall] = {
    MIGRATE: PlaybookCall("migrate_runtime", limit_to_nodes=True),
    PIN: PlaybookCall("pin_kruise", extra_vars=(("kruise_cri_target_version", BRIDGE_RELEASE),)),
    DISABLE: PlaybookCall("disable_kruise_daemon"),
}

_RUNTIME_FAMILIES = {
    "docker": "docker",
    "containerd": "containerd",
    "cri-o": "crio",
    "crio": "crio",
}

_NUMBERS_RE = re.compile(r"^v?(\d+)\.(\d+)")


@dataclass
class Node:
    name: str
    host: str | None
    source: Literal["facts", "cluster", "none"]
    confidence: Literal["probed", "inferred", "assumed", "unknown"]
    runtime: str | None
    runtime_version: str | None
    kubelet_version: str | None
    cri_api_versions: list[str] | None
    target_compatible: bool | None
    bridge_compatible: bool | None
    reason: str
    bridge_reason: str
    carried_registries: list[str]
    paths: dict[str, dict[str, str]]

    @property
    def blocking(self) -> bool:
        return self.target_compatible is not True

    @property
    def docker(self) -> bool:
        return self.runtime == "docker"

    @property
    def limit_name(self) -> str:
        return self.host or self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "host": self.host,
            "source": self.source,
            "confidence": self.confidence,
            "runtime": self.runtime,
            "runtime_version": self.runtime_version,
            "kubelet_version": self.kubelet_version,
            "cri_api_versions": self.cri_api_versions,
            "target_compatible": self.target_compatible,
            "bridge_compatible": self.bridge_compatible,
            "reason": self.reason,
            "paths": self.paths,
        }


@dataclass(frozen=True)
class Installation:
    """What the cluster facts say about the current OpenKruise install (None: not known)."""

    known: bool
    installed: bool | None
    version: str | None
    line: str | None
    method: str | None
    namespace: str
    release: str | None
    chart_version: str | None
    feature_gates: str | None
    daemon_enabled: bool | None
    features_in_use: bool | None
    features_summary: tuple[str, ...]
    manager_name: str | None
    manager_ready: int | None
    socket_location: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "known": self.known,
            "installed": self.installed,
            "version": self.version,
            "line": self.line,
            "method": self.method,
            "namespace": self.namespace if self.installed else None,
            "helm_release": self.release,
            "chart_version": self.chart_version,
            "feature_gates": self.feature_gates,
            "daemon_enabled": self.daemon_enabled,
            "features_in_use": self.features_in_use,
            "features_summary": list(self.features_summary),
        }


@dataclass(frozen=True)
class Context:
    version: str
    line: str
    nodes: tuple[Node, ...]
    install: Installation
    features_wanted: bool
    inventory: str
    shipped: frozenset[str]

    @property
    def blocking(self) -> list[Node]:
        return [node for node in self.nodes if node.blocking]

    @property
    def incompatible(self) -> list[Node]:
        return [node for node in self.nodes if node.target_compatible is False]

    @property
    def unknown(self) -> list[Node]:
        return [node for node in self.nodes if node.target_compatible is None]

    @property
    def migratable(self) -> list[Node]:
        return [node for node in self.blocking if node.docker]

    @property
    def not_migratable(self) -> list[Node]:
        return [node for node in self.blocking if not node.docker]

    @property
    def daemon_disabled(self) -> bool:
        return self.install.daemon_enabled is False

    @property
    def keep_features(self) -> bool:
        """Keep the daemon's features unless the cluster is known not to use them."""
        return self.features_wanted or self.install.features_in_use is not False


# ---------------------------------------------------------------------------------------------
# Entry point


def build_plan(
    node_facts: Mapping[str, Any],
    cluster: Mapping[str, Any] | None,
    *,
    target_version: str,
    node_names: Mapping[str, str] | None = None,
    shipped_playbooks: Collection[str] = (),
    inventory_hint: str | None = None,
    daemon_features_wanted: bool = False,
) -> dict[str, Any]:
    """Plan the way out for ``target_version``; JSON-serialisable, same input -> same output."""
    version, line = parse_target_version(target_version)
    facts = _checked_node_facts(node_facts)
    names = _checked_node_names(node_names, facts)
    cluster_facts = _checked_cluster(cluster)
    if not isinstance(daemon_features_wanted, bool):
        raise ValueError(
            f"daemon_features_wanted must be true or false, got {daemon_features_wanted!r}"
        )
    if inventory_hint is not None and not isinstance(inventory_hint, str):
        raise ValueError(
            f"inventory_hint must be the inventory path as a string, got {inventory_hint!r}"
        )
    if (
        isinstance(shipped_playbooks, str)
        or not isinstance(shipped_playbooks, Collection)
        or not all(isinstance(name, str) for name in shipped_playbooks)
    ):
        raise ValueError(
            "shipped_playbooks must be a collection of playbook names such as "
            f"['assess', 'pin_kruise'], got {shipped_playbooks!r}"
        )

    findings: list[dict[str, str]] = []
    install = _installation(cluster_facts)
    nodes = _nodes(facts, names, cluster_facts, line, install, findings)
    ctx = Context(
        version=version,
        line=line,
        nodes=tuple(nodes),
        install=install,
        features_wanted=daemon_features_wanted,
        inventory=inventory_hint or INVENTORY_PLACEHOLDER,
        shipped=frozenset(shipped_playbooks),
    )
    for node in ctx.nodes:
        node.paths = _node_paths(ctx, node)
    _cluster_findings(ctx, cluster_facts, findings)

    paths = {
        MIGRATE: _migrate_path(ctx),
        PIN: _pin_path(ctx),
        DISABLE: _disable_path(ctx),
        NOTHING: _nothing_path(ctx),
    }
    return {
        "schema": PLAN_SCHEMA,
        "target_version": version,
        "target_line": line,
        "cluster_known": cluster_facts is not None,
        "installation": install.to_dict(),
        "recommendation": _recommend(ctx, paths),
        "paths": [paths[path_id] for path_id in PATH_IDS],
        "nodes": [node.to_dict() for node in ctx.nodes],
        "findings": findings,
    }


def parse_target_version(value: object) -> tuple[str, str]:
    """``"1.6.0"``/``"v1.6"`` -> ("1.6.0", "1.6"); a modelled line (1.4 to 1.8) is required."""
    parsed = parse_version(value.strip() if isinstance(value, str) else value)
    if parsed is None or parsed.suffix:
        raise ValueError(
            f"target_version {value!r} is not a version: give the OpenKruise version you run or "
            "want as X.Y or X.Y.Z, optionally with a leading v (for example 1.6.0)"
        )
    line = parsed.line
    if line not in KRUISE_LINES:
        raise ValueError(
            f"target_version {value!r} is on line {line}, which the node facts hold no verdict "
            f"for: give a version of one of the lines {', '.join(KRUISE_LINES)}"
        )
    return parsed.release, line


# ---------------------------------------------------------------------------------------------
# Inputs


def _kind(value: object) -> str:
    for kind, name in ((str, "a string"), (bool, "a boolean"), (list, "a list")):
        if isinstance(value, kind):
            return name
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def _checked_node_facts(node_facts: object) -> dict[str, Mapping[str, Any] | None]:
    if not isinstance(node_facts, Mapping):
        raise ValueError(
            "node_facts must map each inventory host to its kruise_cri facts "
            f"(hostvars[host].kruise_cri), got {_kind(node_facts)}"
        )
    checked: dict[str, Mapping[str, Any] | None] = {}
    for host, facts in node_facts.items():
        if not isinstance(host, str) or not host:
            raise ValueError(f"node_facts: host names must be non-empty strings, got {host!r}")
        if facts is not None and not isinstance(facts, Mapping):
            raise ValueError(
                f"node_facts[{host!r}] must be that host's kruise_cri facts (a dict, as "
                f"kruise_cri.remediation.cri_facts returns them) or null, got {_kind(facts)}"
            )
        checked[host] = facts
    return checked


def _checked_node_names(node_names: object, facts: Mapping[str, object]) -> dict[str, str]:
    if node_names is None:
        return {host: host for host in facts}
    if not isinstance(node_names, Mapping):
        raise ValueError(
            f"node_names must map inventory host -> Kubernetes node name, got {_kind(node_names)}"
        )
    for host, name in node_names.items():
        if not isinstance(host, str) or not isinstance(name, str) or not name:
            raise ValueError(
                "node_names must map inventory host -> Kubernetes node name (both strings), "
                f"got {host!r}: {name!r}"
            )
    names = {host: node_names.get(host, host) for host in facts}
    by_name: dict[str, str] = {}
    for host in sorted(names):
        other = by_name.setdefault(names[host], host)
        if other != host:
            raise ValueError(
                f"node_names: hosts {other!r} and {host!r} both map to node {names[host]!r}; "
                "each inventory host must name its own Kubernetes node"
            )
    return names


def _checked_cluster(cluster: object) -> Mapping[str, Any] | None:
    if cluster is None:
        return None
    if not isinstance(cluster, Mapping):
        raise ValueError(
            "cluster must be the kruise dict that kruise_cri.remediation.kruise_info returns, "
            f"or null when no kubeconfig was given; got {_kind(cluster)}"
        )
    if cluster.get("schema") != 1:
        hint = (
            "; it looks like the whole kruise_info result: pass its kruise key (result.kruise)"
            if isinstance(cluster.get("kruise"), Mapping)
            else ""
        )
        raise ValueError(
            f"cluster: schema {cluster.get('schema')!r} is not supported (expected the kruise "
            f"dict of kruise_info, schema 1){hint}"
        )
    return cluster


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _natural_key(value: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", value)]


def _numbers(version: str | None) -> tuple[int, int] | None:
    match = _NUMBERS_RE.match(version.strip()) if version else None
    return (int(match.group(1)), int(match.group(2))) if match else None


def _line_tuple(line: str) -> tuple[int, int]:
    major, minor = line.split(".")
    return int(major), int(minor)


def _bare_version(version: str | None) -> str | None:
    return version[1:] if version and version[:1] == "v" and version[1:2].isdigit() else version


# ---------------------------------------------------------------------------------------------
# The current installation


def _installation(cluster: Mapping[str, Any] | None) -> Installation:
    if cluster is None:
        return Installation(
            known=False,
            installed=None,
            version=None,
            line=None,
            method=None,
            namespace=DEFAULT_NAMESPACE,
            release=None,
            chart_version=None,
            feature_gates=None,
            daemon_enabled=None,
            features_in_use=None,
            features_summary=(),
            manager_name=None,
            manager_ready=None,
            socket_location=None,
        )
    installed = _bool(cluster.get("installed"))
    install = _mapping(cluster.get("install"))
    helm = _mapping(install.get("helm"))
    gates = _mapping(cluster.get("feature_gates"))
    values_gates = _mapping(helm.get("values")).get("featureGates")
    feature_gates = _text(gates.get("argument")) or _text(values_gates)
    use = _mapping(cluster.get("feature_use"))
    manager = _mapping(cluster.get("manager"))
    if installed is False:
        in_use: bool | None = False
        daemon_enabled: bool | None = None
    else:
        in_use = _bool(use.get("in_use"))
        daemon_enabled = _bool(gates.get("daemon_enabled"))
    return Installation(
        known=True,
        installed=installed,
        version=_text(cluster.get("version")),
        line=_text(cluster.get("line")),
        method=_text(install.get("method")),
        namespace=_text(cluster.get("namespace")) or DEFAULT_NAMESPACE,
        release=_text(helm.get("release")),
        chart_version=_text(helm.get("chart_version")),
        feature_gates=feature_gates,
        daemon_enabled=daemon_enabled,
        features_in_use=in_use,
        features_summary=tuple(str(item) for item in _list(use.get("summary"))),
        manager_name=_text(manager.get("name")),
        manager_ready=_int(manager.get("ready_replicas")),
        socket_location=_text(_mapping(cluster.get("daemon")).get("socket_location")),
    )


# ---------------------------------------------------------------------------------------------
# Nodes


def _nodes(
    facts: Mapping[str, Mapping[str, Any] | None],
    names: Mapping[str, str],
    cluster: Mapping[str, Any] | None,
    line: str,
    install: Installation,
    findings: list[dict[str, str]],
) -> list[Node]:
    cluster_nodes: dict[str, Mapping[str, Any]] = {}
    for entry in _list(_mapping(cluster).get("nodes")):
        name = _text(_mapping(entry).get("name"))
        if name:
            cluster_nodes[name] = entry
    host_of = {name: host for host, name in names.items()}
    nodes: list[Node] = []
    for name in sorted({*host_of, *cluster_nodes}, key=_natural_key):
        host = host_of.get(name)
        entry = cluster_nodes.get(name)
        node = _node(name, host, facts.get(host) if host else None, entry, line, install)
        nodes.append(node)
        if host is not None and cluster is not None and entry is None:
            findings.append(
                finding(
                    "warning",
                    name,
                    f"inventory host {host} is not a node of the cluster (no Node named {name}): "
                    "check node_names",
                )
            )
        if entry is not None and node.source == "facts":
            seen = _RUNTIME_FAMILIES.get(_text(entry.get("runtime")) or "")
            if seen and node.runtime and seen != node.runtime:
                findings.append(
                    finding(
                        "warning",
                        name,
                        f"the node's facts say the kubelet runs {node.runtime}, the cluster "
                        f"reports {entry.get('container_runtime_version')}: gather facts again "
                        "after a runtime change",
                    )
                )
    inferred = [node.name for node in nodes if node.source == "cluster"]
    if inferred:
        findings.append(
            finding(
                "info",
                "nodes",
                f"{_count(len(inferred), 'node')} without kruise_cri facts ({_names(inferred)}): "
                "verdicts inferred from status.nodeInfo (runtime and kubelet version)",
            )
        )
    return nodes


def _node(
    name: str,
    host: str | None,
    facts: Mapping[str, Any] | None,
    entry: Mapping[str, Any] | None,
    line: str,
    install: Installation,
) -> Node:
    if host is None and entry is not None:
        return _node_from_cluster(name, host, entry, line, install)
    problem = _facts_problem(facts, line)
    if facts is not None and problem is None:
        return _node_from_facts(name, host, facts, entry, line)
    if entry is not None:
        node = _node_from_cluster(name, host, entry, line, install)
        node.reason = f"{problem}; {node.reason}"
        return node
    cluster_note = (
        "and the cluster facts do not list it"
        if install.known
        else "and no cluster facts were given"
    )
    reason = f"{problem}, {cluster_note}: run kruise_cri.remediation.assess on it"
    return Node(
        name=name,
        host=host,
        source="none",
        confidence="unknown",
        runtime=None,
        runtime_version=None,
        kubelet_version=None,
        cri_api_versions=None,
        target_compatible=None,
        bridge_compatible=None,
        reason=reason,
        bridge_reason=reason,
        carried_registries=[],
        paths={},
    )


def _facts_problem(facts: Mapping[str, Any] | None, line: str) -> str | None:
    if facts is None:
        return "no kruise_cri facts were gathered for this host (unreachable or not assessed)"
    if facts.get("schema") != 1:
        return f"its kruise_cri facts have schema {facts.get('schema')!r} (expected 1)"
    verdict = _mapping(_mapping(facts.get("kruise_daemon")).get(line))
    if not isinstance(verdict.get("compatible"), bool):
        return f"its kruise_cri facts hold no verdict for kruise-daemon {line}"
    return None


def _node_from_facts(
    name: str,
    host: str | None,
    facts: Mapping[str, Any],
    entry: Mapping[str, Any] | None,
    line: str,
) -> Node:
    kubelet = _mapping(facts.get("kubelet"))
    docker = _mapping(facts.get("docker"))
    daemon = _mapping(facts.get("kruise_daemon"))
    target = _mapping(daemon.get(line))
    bridge = _mapping(daemon.get(BRIDGE_LINE))
    cluster_entry = _mapping(entry)
    runtime = _text(kubelet.get("runtime")) or _RUNTIME_FAMILIES.get(
        _text(cluster_entry.get("runtime")) or ""
    )
    kubelet_endpoint = _socket_path(_text(kubelet.get("runtime_endpoint")))
    served = None
    runtime_version = None
    for endpoint in _list(facts.get("endpoints")):
        endpoint = _mapping(endpoint)
        paths = {_text(endpoint.get("socket")), *map(_text, _list(endpoint.get("aliases")))}
        if kubelet_endpoint and kubelet_endpoint in paths:
            served = sorted(str(api) for api in _list(endpoint.get("cri_api_versions")))
            runtime_version = _bare_version(_text(endpoint.get("runtime_version")))
    if runtime == "docker" and _text(docker.get("version")):
        runtime_version = _text(docker.get("version"))
    daemon_json = _mapping(docker.get("daemon_json"))
    registries = [
        str(item)
        for key in ("registry_mirrors", "insecure_registries")
        for item in _list(daemon_json.get(key))
    ]
    bridge_compatible = _bool(bridge.get("compatible"))
    return Node(
        name=name,
        host=host,
        source="facts",
        confidence="probed",
        runtime=runtime,
        runtime_version=runtime_version or _text(cluster_entry.get("runtime_version")),
        kubelet_version=_text(kubelet.get("version"))
        or _text(cluster_entry.get("kubelet_version")),
        cri_api_versions=served,
        target_compatible=bool(target["compatible"]),
        bridge_compatible=bridge_compatible,
        reason=_text(target.get("reason"))
        or f"kruise-daemon {line} {'works' if target['compatible'] else 'does not work'} here",
        bridge_reason=_text(bridge.get("reason"))
        or (
            f"its kruise_cri facts hold no verdict for kruise-daemon {BRIDGE_LINE}"
            if bridge_compatible is None
            else f"kruise-daemon {BRIDGE_LINE} {'works' if bridge_compatible else 'fails'} here"
        ),
        carried_registries=registries,
        paths={},
    )


def _socket_path(endpoint: str | None) -> str | None:
    if endpoint is None:
        return None
    return endpoint[len("unix://") :] if endpoint.startswith("unix://") else endpoint


def _served_apis(
    runtime: str | None, version: str | None, kubelet_version: str | None
) -> tuple[frozenset[str] | None, str, Literal["inferred", "assumed"]]:
    """The CRI APIs the kubelet's runtime serves, as far as status.nodeInfo tells."""
    numbers = _numbers(version)
    if runtime == "docker":
        kubelet = _numbers(kubelet_version)
        if kubelet is None:
            return None, "Docker, but the kubelet version is unknown", "inferred"
        if kubelet <= (1, 23):
            return (
                frozenset({V1ALPHA2}),
                f"Docker through the kubelet's dockershim (kubelet {kubelet_version}), "
                "which serves only CRI v1alpha2",
                "inferred",
            )
        return (
            None,
            f"Docker on kubelet {kubelet_version}: through cri-dockerd, whose version (and so "
            "its CRI API versions) the cluster does not show",
            "inferred",
        )
    if runtime == "containerd":
        if numbers is None:
            return None, f"containerd of unknown version {version!r}", "inferred"
        if numbers >= (2, 0):
            return frozenset({V1}), f"containerd {version} serves only CRI v1", "inferred"
        if numbers >= (1, 6):
            return (
                frozenset({V1, V1ALPHA2}),
                f"containerd {version} serves CRI v1 and v1alpha2",
                "inferred",
            )
        return frozenset({V1ALPHA2}), f"containerd {version} serves only CRI v1alpha2", "inferred"
    if runtime == "crio":
        apis = {V1} if numbers is not None and numbers >= (1, 26) else {V1, V1ALPHA2}
        return (
            frozenset(apis),
            f"CRI-O {version or '(version unknown)'} is assumed to serve CRI "
            f"{' and '.join(sorted(apis))}",
            "assumed",
        )
    return None, f"runtime {runtime or 'unknown'} is not one the planner can judge", "inferred"


def _line_works(
    line: str, runtime: str | None, apis: frozenset[str], version: str | None
) -> tuple[bool, str]:
    needed = cri_apis_of_line(line)
    if runtime == "docker" and line in ("1.4", "1.5"):
        numbers = _numbers(version)
        if numbers is not None and numbers[0] >= 25:
            return (
                False,
                f"kruise-daemon {line} lists Docker images with Engine API 1.23, which Docker "
                f"{version} refuses",
            )
    if apis & needed:
        return True, f"kruise-daemon {line} speaks CRI {' or '.join(sorted(needed & apis))}"
    return False, f"kruise-daemon {line} needs CRI {' or '.join(sorted(needed))}"


def _node_from_cluster(
    name: str, host: str | None, entry: Mapping[str, Any], line: str, install: Installation
) -> Node:
    label = _text(entry.get("container_runtime_version"))
    runtime_name = _text(entry.get("runtime"))
    version = _text(entry.get("runtime_version"))
    if runtime_name is None and label and "://" in label:
        runtime_name, version = label.split("://", 1)
    runtime = _RUNTIME_FAMILIES.get(runtime_name or "", runtime_name)
    kubelet_version = _text(entry.get("kubelet_version"))
    apis, served, confidence = _served_apis(runtime, version, kubelet_version)
    shown = label or (f"{runtime_name}://{version}" if runtime_name else "no runtime reported")
    if apis is None:
        target: bool | None = None
        bridge: bool | None = None
        reason = f"inferred from the cluster ({shown}): {served}; run assess on it to know"
        bridge_reason = reason
    else:
        target, target_why = _line_works(line, runtime, apis, version)
        bridge, bridge_why = _line_works(BRIDGE_LINE, runtime, apis, version)
        reason = f"inferred from the cluster ({shown}): {served}; {target_why}"
        bridge_reason = f"inferred from the cluster ({shown}): {served}; {bridge_why}"
    location = install.socket_location or "/var/run"
    if _is_k3s(kubelet_version) and not location.startswith("/run/k3s"):
        target = bridge = False
        reason = bridge_reason = (
            f"inferred from the cluster ({shown}, kubelet {kubelet_version}): k3s and rke2 keep "
            "containerd's socket under /run/k3s, which kruise-daemon finds only with "
            f"daemon.socketLocation=/run/k3s (it is {location})"
        )
    return Node(
        name=name,
        host=host,
        source="cluster",
        confidence=confidence,
        runtime=runtime,
        runtime_version=version,
        kubelet_version=kubelet_version,
        cri_api_versions=sorted(apis) if apis is not None else None,
        target_compatible=target,
        bridge_compatible=bridge,
        reason=reason,
        bridge_reason=bridge_reason,
        carried_registries=[],
        paths={},
    )


def _is_k3s(kubelet_version: str | None) -> bool:
    return kubelet_version is not None and ("+k3s" in kubelet_version or "+rke2" in kubelet_version)


# ---------------------------------------------------------------------------------------------
# Per node, per path


def _node_paths(ctx: Context, node: Node) -> dict[str, dict[str, str]]:
    return {
        MIGRATE: _verdict(*_node_migrate(ctx, node)),
        PIN: _verdict(*_node_pin(ctx, node)),
        DISABLE: _verdict(*_node_disable(ctx, node)),
    }


def _verdict(feasible: NodeFeasible, why: str) -> dict[str, str]:
    return {"feasible": feasible, "why": why}


def _node_migrate(ctx: Context, node: Node) -> tuple[NodeFeasible, str]:
    if node.target_compatible:
        return "not needed", f"kruise-daemon {ctx.line} works on this node"
    if node.docker:
        why = (
            "the kubelet runs Docker: cordon and drain, switch the kubelet to containerd, uncordon"
        )
        if node.target_compatible is None:
            why += (
                f" (whether kruise-daemon {ctx.line} works on it now is unknown; "
                "afterwards it does)"
            )
        return "yes", why
    if node.runtime is None:
        return "unknown", "the node's runtime is unknown: run kruise_cri.remediation.assess on it"
    apis = set(node.cri_api_versions or ())
    if node.runtime == "containerd" and apis == {V1ALPHA2}:
        return (
            "no",
            f"not a Docker node: containerd {node.runtime_version or ''} serves only CRI "
            "v1alpha2; upgrade containerd to 1.6 or newer (drain, upgrade, uncordon) instead",
        )
    if apis == {V1} and V1 not in cri_apis_of_line(ctx.line):
        return (
            "no",
            f"not a Docker node: {node.runtime} serves only CRI v1, which kruise-daemon "
            f"{ctx.line} does not speak; run OpenKruise {BRIDGE_LINE} or newer instead",
        )
    return "no", f"not a Docker node ({node.runtime}): {node.reason}"


def _node_pin(ctx: Context, node: Node) -> tuple[NodeFeasible, str]:
    if ctx.line == BRIDGE_LINE:
        if node.target_compatible:
            return "not needed", f"the target is already on the {BRIDGE_LINE} line and works here"
        return (
            "no",
            f"the target is already on the {BRIDGE_LINE} line: pinning changes nothing here",
        )
    if node.bridge_compatible is None:
        return (
            "unknown",
            f"whether kruise-daemon {BRIDGE_LINE} works here is unknown: {node.reason}",
        )
    if node.target_compatible:
        if node.bridge_compatible:
            return "not needed", f"kruise-daemon {ctx.line} works on this node ({BRIDGE_LINE} too)"
        return "no", f"pinning {BRIDGE_RELEASE} would break this node: {node.bridge_reason}"
    if node.bridge_compatible:
        return "yes", node.bridge_reason
    return "no", node.bridge_reason


def _node_disable(ctx: Context, node: Node) -> tuple[NodeFeasible, str]:
    if ctx.daemon_disabled:
        return "not needed", "kruise-daemon is already disabled (KruiseDaemon=false)"
    if node.target_compatible:
        return (
            "not needed",
            f"kruise-daemon {ctx.line} works on this node; disabling removes it here too",
        )
    return "yes", "no kruise-daemon pod runs on any node once the DaemonSet is gone"


# ---------------------------------------------------------------------------------------------
# Cluster-wide findings


def _cluster_findings(
    ctx: Context, cluster: Mapping[str, Any] | None, findings: list[dict[str, str]]
) -> None:
    if cluster is None:
        findings.append(
            finding(
                "warning",
                "cluster",
                "no cluster facts (kruise_info) were given: the installed OpenKruise version, "
                "its install method, feature gates and whether the daemon's features are in use "
                "are unknown, and only nodes with kruise_cri facts are planned",
            )
        )
    elif ctx.install.installed is False:
        findings.append(
            finding(
                "info",
                "cluster",
                f"OpenKruise is not installed in this cluster: the plan is for installing "
                f"{ctx.version}",
            )
        )
    unknown = [node.name for node in ctx.nodes if node.source == "none"]
    if unknown:
        findings.append(
            finding(
                "warning",
                "nodes",
                f"{_count(len(unknown), 'node')} with neither facts nor cluster information "
                f"({_names(unknown)}): run kruise_cri.remediation.assess on "
                f"{_pronoun(len(unknown))}",
            )
        )
    for node in ctx.nodes:
        if node.blocking and node.docker and node.host is None:
            findings.append(
                finding(
                    "warning",
                    node.name,
                    f"node {node.name} is not in the inventory: add it (as a host of the nodes "
                    "group) before migrating it",
                )
            )
    daemon = _mapping(_mapping(cluster).get("daemon"))
    compatible = {node.name for node in ctx.nodes if node.target_compatible}
    for pod in sorted(
        (_mapping(item) for item in _list(daemon.get("crash_looping"))),
        key=lambda item: _natural_key(str(item.get("node") or "")),
    ):
        node_name = _text(pod.get("node"))
        if node_name in compatible and ctx.install.line == ctx.line:
            findings.append(
                finding(
                    "warning",
                    node_name,
                    f"kruise-daemon pod {pod.get('pod')} is crash-looping on {node_name}, whose "
                    f"verdict for {ctx.line} is compatible: {pod.get('last_message') or ''}",
                )
            )


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _pronoun(n: int) -> str:
    return "it" if n == 1 else "them"


def _names(names: Iterable[str], limit: int = 10) -> str:
    listed = list(names)
    shown = ", ".join(listed[:limit])
    return shown + (f" and {len(listed) - limit} more" if len(listed) > limit else "")


def _node_names(nodes: Iterable[Node]) -> list[str]:
    return [node.name for node in nodes]


# ---------------------------------------------------------------------------------------------
# Paths


def _path(
    path_id: str,
    feasible: Feasible,
    reasons: list[str],
    *,
    risk: tuple[RiskLevel, list[str]],
    nodes: list[Node],
    features_lost: Iterable[str] = (),
    drained: Iterable[Node] = (),
    helm_changes: Iterable[str] = (),
    notes: Iterable[str] = (),
) -> dict[str, Any]:
    drained_names = _node_names(drained)
    return {
        "id": path_id,
        "title": PATH_TITLES[path_id],
        "feasible": feasible,
        "reasons": reasons,
        "cost": {
            "features_lost": list(features_lost),
            "nodes_drained": len(drained_names),
            "drained_nodes": drained_names,
            "helm_changes": list(helm_changes),
            "notes": list(notes),
        },
        "risk": {"level": risk[0], "reasons": risk[1]},
        "nodes": _node_names(nodes),
    }


def _max_risk(*levels: RiskLevel) -> RiskLevel:
    return max(levels, key=RISK_ORDER.index)


def _unknown_note(ctx: Context, what: str) -> list[str]:
    unknown = ctx.unknown
    if not unknown:
        return []
    return [
        f"{_count(len(unknown), 'node')} {UNKNOWN_MARK} ({_names(_node_names(unknown))}): {what}"
    ]


def _webhook_note(ctx: Context, *, drains: bool) -> tuple[RiskLevel, list[str]]:
    if not ctx.install.installed:
        return "low", []
    note = (
        "OpenKruise's webhooks use failurePolicy: Fail on pods and pods/eviction: while no "
        "kruise-manager pod is ready, pod creation and evictions fail cluster-wide"
    )
    ready = ctx.install.manager_ready
    if drains and ready is not None and ready < 2:
        return "high", [
            f"{note}; kruise-manager has {_count(ready, 'ready replica')}: if it runs on a "
            "drained node, the drain stalls until it is ready again elsewhere"
        ]
    if not drains:
        note += " (as while kruise-manager rolls over to the change)"
    return "low", [note]


def _migrate_path(ctx: Context) -> dict[str, Any]:
    migratable = ctx.migratable
    others = ctx.not_migratable
    if not ctx.blocking:
        return _path(
            MIGRATE,
            "not needed",
            [f"every node can run kruise-daemon {ctx.line}"],
            risk=("low", []),
            nodes=[],
        )
    reasons: list[str] = []
    if migratable:
        reasons.append(
            f"{_count(len(migratable), 'node')} that kruise-daemon {ctx.line} cannot serve "
            f"{'runs' if len(migratable) == 1 else 'run'} the kubelet on Docker "
            f"({_names(_node_names(migratable))}): moving "
            f"{_pronoun(len(migratable))} to containerd fixes "
            f"{'it' if len(migratable) == 1 else 'them'}"
        )
    for node in others:
        reasons.append(f"{node.name}: {node.paths[MIGRATE]['why']}")
    feasible: Feasible = "yes" if not others else ("partly" if migratable else "no")
    if not migratable:
        return _path(MIGRATE, feasible, reasons, risk=("low", []), nodes=[])

    level: RiskLevel = "medium"
    risk_reasons = [
        f"drains {_count(len(migratable), 'node')}, one at a time: pods are evicted and "
        "rescheduled; PodDisruptionBudgets can stall a drain (kruise_info does not read them)",
        "images pulled by Docker are not visible to containerd: pods on a migrated node pull "
        "their images again",
    ]
    if len(migratable) == len(ctx.nodes) == 1:
        level = "high"
        risk_reasons.append("single-node cluster: draining it stops every workload")
    carried = [node.name for node in migratable if node.carried_registries]
    if carried:
        risk_reasons.append(
            f"registry mirrors or insecure registries in /etc/docker/daemon.json on "
            f"{_names(carried)} must be carried over to containerd (hosts.toml)"
        )
    webhook_level, webhook_reasons = _webhook_note(ctx, drains=True)
    level = _max_risk(level, webhook_level)
    risk_reasons += webhook_reasons
    risk_reasons += _unknown_note(ctx, "they may need migrating too")
    notes = [
        "the kubelet restarts on containerd; node annotation kubeadm.alpha.kubernetes.io/"
        "cri-socket is updated",
        "Docker's own containerd (containerd.io) must stay installed: removing docker-ce can "
        "remove it (kubespray #8431)",
        "until every Docker node is migrated, the cluster runs mixed runtimes",
    ]
    return _path(
        MIGRATE,
        feasible,
        reasons,
        risk=(level, risk_reasons),
        nodes=migratable,
        drained=migratable,
        notes=notes,
    )


def gates_unknown_to_bridge(feature_gates: str | None) -> list[str]:
    """Gates in a featureGates string that kruise-manager 1.5.5 would refuse to start with."""
    names = [gate.split("=", 1)[0].strip() for gate in (feature_gates or "").split(",")]
    return [name for name in names if name and name not in BRIDGE_FEATURE_GATES]


def _without_gates(feature_gates: str, names: Collection[str]) -> str:
    gates = [gate.strip() for gate in feature_gates.split(",") if gate.strip()]
    return ",".join(gate for gate in gates if gate.split("=", 1)[0].strip() not in names)


def _pin_helm_changes(ctx: Context) -> tuple[list[str], list[str]]:
    """(helm_changes, notes) of pinning 1.5.5."""
    install = ctx.install
    unknown_gates = gates_unknown_to_bridge(install.feature_gates)
    gate_change = (
        [
            f'featureGates: "{install.feature_gates}" -> '
            f'"{_without_gates(install.feature_gates or "", unknown_gates)}" '
            f"({BRIDGE_RELEASE} does not know {', '.join(unknown_gates)})"
        ]
        if unknown_gates
        else []
    )
    if install.installed is False:
        return [f"install chart kruise {BRIDGE_RELEASE} instead of {ctx.version}"], []
    current = install.chart_version or install.version
    if install.method == "manifests":
        return [
            f"manifest edits (OpenKruise was installed from manifests, not Helm): image "
            f"openkruise/kruise-manager:v{current or '<current>'} -> v{BRIDGE_RELEASE} in the "
            "kruise-controller-manager Deployment and the kruise-daemon DaemonSet",
            f"apply the {BRIDGE_RELEASE} CRDs (rendered from chart kruise {BRIDGE_RELEASE})",
            *gate_change,
        ], []
    if current == BRIDGE_RELEASE:
        return [f"chart kruise stays at {BRIDGE_RELEASE} (no change)", *gate_change], []
    changes = [
        f"chart version {current or '<installed>'} -> {BRIDGE_RELEASE} (image "
        f"openkruise/kruise-manager:v{BRIDGE_RELEASE})",
        f"CRDs re-applied from chart {BRIDGE_RELEASE} (the chart keeps them in templates/)",
        *gate_change,
    ]
    return changes, ["values are reused: featureGates and daemon.socketLocation stay as set"]


def _pin_risk(ctx: Context) -> tuple[RiskLevel, list[str]]:
    install = ctx.install
    level: RiskLevel = "low"
    reasons: list[str] = []
    installed_line = _numbers(install.line) or (0, 0)
    if not install.known:
        level = "medium"
        reasons.append(
            "the installed OpenKruise version is unknown (no cluster facts): from 1.6 or newer "
            f"this is a downgrade to {BRIDGE_RELEASE}"
        )
    elif install.installed and installed_line > _line_tuple(BRIDGE_LINE):
        level = "high" if installed_line > (1, 6) else "medium"
        reasons += [
            f"downgrade across minor versions ({install.version} -> {BRIDGE_RELEASE}): "
            "upstream does not test downgrades",
            f"the {BRIDGE_RELEASE} CRDs replace the current ones: fields added after "
            f"{BRIDGE_LINE} are pruned from the objects",
        ]
    unknown_gates = gates_unknown_to_bridge(install.feature_gates)
    if unknown_gates:
        level = "high"
        reasons.append(
            f"kruise-manager {BRIDGE_RELEASE} exits on feature gates it does not know "
            f"({', '.join(unknown_gates)}): remove them from featureGates in the same change"
        )
    reasons += _webhook_note(ctx, drains=False)[1]
    if ctx.unknown:
        level = _max_risk(level, "medium")
        reasons += _unknown_note(ctx, f"kruise-daemon {BRIDGE_LINE} may not work there either")
    return level, reasons


def _pin_path(ctx: Context) -> dict[str, Any]:
    blocking = ctx.blocking
    if not blocking:
        return _path(
            PIN,
            "not needed",
            [f"every node can run kruise-daemon {ctx.line}"],
            risk=("low", []),
            nodes=[],
        )
    if ctx.line == BRIDGE_LINE:
        return _path(
            PIN,
            "no",
            [
                f"the target {ctx.version} is already on the {BRIDGE_LINE} line: pinning "
                f"{BRIDGE_RELEASE} does not change the CRI API kruise-daemon speaks"
            ],
            risk=("low", []),
            nodes=[],
        )
    fixed = [node for node in blocking if node.bridge_compatible]
    stay_broken = [node for node in blocking if node.bridge_compatible is False]
    unknown = [node for node in blocking if node.bridge_compatible is None]
    broken_by_pin = [
        node for node in ctx.nodes if node.target_compatible and node.bridge_compatible is False
    ]
    reasons: list[str] = []
    if fixed:
        reasons.append(
            f"kruise-daemon {BRIDGE_LINE} works on {_count(len(fixed), 'node')} that "
            f"{ctx.line} cannot serve ({_names(_node_names(fixed))}): it speaks CRI v1 and "
            "v1alpha2"
        )
    reasons += [f"{node.name}: {node.bridge_reason}" for node in stay_broken]
    if unknown:
        reasons.append(
            f"whether kruise-daemon {BRIDGE_LINE} works on {_names(_node_names(unknown))} is "
            "unknown"
        )
    reasons += [
        f"{node.name} works with {ctx.line} but not with {BRIDGE_LINE}: {node.bridge_reason}"
        for node in broken_by_pin
    ]
    if not fixed:
        feasible: Feasible = "no"
    elif stay_broken or unknown or broken_by_pin:
        feasible = "partly"
    else:
        feasible = "yes"
    changes, notes = _pin_helm_changes(ctx)
    if _line_tuple(ctx.line) > _line_tuple(BRIDGE_LINE):
        notes.append(
            f"{BRIDGE_RELEASE} ({BRIDGE_RELEASE_DATE}) is the last {BRIDGE_LINE} release: features and "
            f"fixes of {ctx.line} are not available until the upgrade to {ctx.version}"
        )
    return _path(
        PIN,
        feasible,
        reasons,
        risk=_pin_risk(ctx),
        nodes=fixed,
        helm_changes=changes,
        notes=notes,
    )


def merged_feature_gates(current: str | None) -> str:
    """The chart's featureGates string with KruiseDaemon=false merged in (others kept, in order)."""
    gates = [gate.strip() for gate in (current or "").split(",") if gate.strip()]
    kept = [gate for gate in gates if gate.split("=", 1)[0].strip() != DAEMON_GATE]
    return ",".join([*kept, f"{DAEMON_GATE}=false"])


def _current_gates(ctx: Context) -> str | None:
    """The featureGates string to merge into: as running, the chart's default for a new
    install, None when unknown."""
    if ctx.install.feature_gates is not None:
        return ctx.install.feature_gates
    if ctx.install.installed is False:
        return DEFAULT_FEATURE_GATES
    return "" if ctx.install.installed else None


def _disable_helm_changes(ctx: Context) -> list[str]:
    current = _current_gates(ctx)
    before = current if current is not None else "<current gates>"
    after = merged_feature_gates(current if current is not None else "<current gates>")
    if ctx.install.installed is False:
        return [f'install with featureGates: "{after}"']
    if ctx.install.method == "manifests":
        return [
            "manifest edits (OpenKruise was installed from manifests, not Helm): "
            f"--feature-gates={before} -> --feature-gates={after} in the "
            "kruise-controller-manager Deployment",
            "delete the kruise-daemon DaemonSet (manifests do not skip it)",
        ]
    return [
        f'featureGates: "{before}" -> "{after}"',
        "the kruise-daemon DaemonSet is deleted by the upgrade",
    ]


def _disable_path(ctx: Context) -> dict[str, Any]:
    if ctx.daemon_disabled:
        return _path(
            DISABLE,
            "not needed",
            ["kruise-daemon is already disabled (KruiseDaemon=false)"],
            risk=("low", []),
            nodes=[],
            features_lost=DAEMON_FEATURES,
        )
    blocking = ctx.blocking
    if not blocking:
        return _path(
            DISABLE,
            "not needed",
            [f"every node can run kruise-daemon {ctx.line}"],
            risk=("low", []),
            nodes=[],
        )
    reasons = [
        f"kruise-daemon then runs on no node, so it cannot fail on the "
        f"{_count(len(blocking), 'node')} that {ctx.line} cannot serve "
        f"({_names(_node_names(blocking))})",
        "no drain and no version change: one change of featureGates",
    ]
    in_use = ctx.install.features_in_use
    if in_use:
        level: RiskLevel = "high"
        risk_reasons = [
            "the daemon's features are in use: "
            + (", ".join(ctx.install.features_summary) or "see kruise_info's feature_use")
            + "; the webhooks then reject new objects of these kinds and existing ones never "
            "complete"
        ]
    elif in_use is None:
        level = "medium"
        risk_reasons = [
            "whether the daemon's features are in use is unknown"
            + (" (no cluster facts)" if not ctx.install.known else "")
        ]
    else:
        level = "low"
        risk_reasons = [_unused_features_reason(ctx)]
    if ctx.features_wanted:
        level = _max_risk(level, "medium")
        risk_reasons.append("you want the daemon's features: disabling gives them up")
    risk_reasons += _webhook_note(ctx, drains=False)[1]
    notes = [
        "featureGates is one comma-separated string: the other gates are kept (merged, never "
        "overwritten); the chart skips the DaemonSet only on the exact text KruiseDaemon=false",
        "kubernetes.core.helm resets values unless they are reused or passed in full",
    ]
    if ctx.install.method == "manifests":
        notes = notes[:1]
    return _path(
        DISABLE,
        "yes",
        reasons,
        risk=(level, risk_reasons),
        nodes=blocking,
        features_lost=DAEMON_FEATURES,
        helm_changes=_disable_helm_changes(ctx),
        notes=notes,
    )


def _nothing_path(ctx: Context) -> dict[str, Any]:
    incompatible = ctx.incompatible
    unknown = ctx.unknown
    if ctx.daemon_disabled:
        reasons = ["kruise-daemon is disabled (KruiseDaemon=false): it runs on no node"]
        if ctx.blocking:
            reasons.append(
                f"{_count(len(ctx.blocking), 'node')} could not run kruise-daemon {ctx.line} "
                f"({_names(_node_names(ctx.blocking))}): fix {_pronoun(len(ctx.blocking))} before "
                "kruise-daemon is enabled again"
            )
        return _path(
            NOTHING,
            "yes",
            reasons,
            risk=("low", ["the daemon's features stay off while it is disabled"]),
            nodes=ctx.blocking,
            features_lost=DAEMON_FEATURES,
        )
    if incompatible:
        return _path(
            NOTHING,
            "no",
            [
                f"kruise-daemon {ctx.line} cannot serve {_count(len(incompatible), 'node')} "
                f"({_names(_node_names(incompatible))})"
            ],
            risk=(
                "high",
                [
                    "kruise-daemon crash-loops or cannot act on those nodes: container "
                    "restarts, image pre-download and probes fail there"
                ],
            ),
            nodes=ctx.blocking,
        )
    if unknown:
        return _path(
            NOTHING,
            "partly",
            [
                f"every node with a verdict can run kruise-daemon {ctx.line}; "
                f"{_count(len(unknown), 'node')} of unknown compatibility "
                f"({_names(_node_names(unknown))})"
            ],
            risk=("medium", _unknown_note(ctx, f"kruise-daemon {ctx.line} may fail there")),
            nodes=unknown,
        )
    return _path(
        NOTHING,
        "yes",
        [f"every node ({len(ctx.nodes)}) can run kruise-daemon {ctx.line}"],
        risk=("low", []),
        nodes=[],
    )


# ---------------------------------------------------------------------------------------------
# Commands


def playbook_command(path_id: str, inventory: str, limit: Iterable[str] = ()) -> str:
    """The ansible-playbook command line of a path, from PLAYBOOK_CALLS."""
    call = PLAYBOOK_CALLS[path_id]
    words = ["ansible-playbook", call.fqcn, "-i", inventory]
    hosts = list(limit)
    if call.limit_to_nodes and hosts:
        words += ["--limit", ",".join(hosts)]
    for key, value in call.extra_vars:
        words += ["-e", f"{key}={value}"]
    return " ".join(shlex.quote(word) for word in words)


def _set_gates(gates: str) -> str:
    """``--set featureGates=...`` with the commas escaped for Helm and quoted for the shell."""
    return "--set " + shlex.quote("featureGates=" + gates.replace(",", "\\,"))


def _manual_steps(ctx: Context, path_id: str, nodes: list[Node]) -> list[str]:
    if path_id == MIGRATE:
        return _manual_migrate(nodes)
    if path_id == PIN:
        return _manual_pin(ctx)
    return _manual_disable(ctx)


def _manual_migrate(nodes: list[Node]) -> list[str]:
    return [
        f"one node at a time ({_names(_node_names(nodes))}): kubectl cordon NODE; kubectl drain "
        "NODE --ignore-daemonsets --delete-emptydir-data",
        "stop the kubelet; stop and disable docker (keep containerd.io installed)",
        "write /etc/containerd/config.toml with the CRI plugin enabled, SystemdCgroup matching "
        "the kubelet's cgroupDriver, sandbox_image; carry Docker's registry mirrors and "
        "insecure registries over (hosts.toml); restart containerd",
        "point the kubelet at unix:///run/containerd/containerd.sock (kubeadm-flags.env, or "
        "containerRuntimeEndpoint in its config) and update the node annotation "
        "kubeadm.alpha.kubernetes.io/cri-socket",
        "start the kubelet, wait for Ready and containerd:// in "
        "status.nodeInfo.containerRuntimeVersion, then kubectl uncordon NODE",
    ]


def _manual_pin(ctx: Context) -> list[str]:
    install = ctx.install
    ns = shlex.quote(install.namespace)
    if install.installed is False:
        return [
            f"helm repo add openkruise {HELM_REPO}",
            f"helm install kruise openkruise/kruise -n {ns} --create-namespace --version "
            f"{BRIDGE_RELEASE}",
        ]
    if install.method == "manifests":
        manifest = f"kruise-{BRIDGE_RELEASE}.yaml"
        return [
            f"helm template kruise openkruise/kruise -n {ns} --version {BRIDGE_RELEASE} (with "
            f"the values the manifests were made with) > {manifest}",
            f"kubectl apply --server-side --force-conflicts -f {manifest}, then delete what it "
            "no longer renders",
        ]
    unknown_gates = gates_unknown_to_bridge(install.feature_gates)
    gates = (
        " " + _set_gates(_without_gates(install.feature_gates or "", unknown_gates))
        if unknown_gates
        else ""
    )
    return [
        f"helm upgrade {shlex.quote(install.release or 'kruise')} openkruise/kruise -n {ns} "
        # Not --reuse-values: across chart versions it keeps the old chart's defaults (its
        # manager.image.tag among them), so the pin would not change the image.
        f"--version {BRIDGE_RELEASE} --reset-then-reuse-values{gates}",
    ]


def _manual_disable(ctx: Context) -> list[str]:
    install = ctx.install
    ns = shlex.quote(install.namespace)
    current = _current_gates(ctx)
    gates = merged_feature_gates(current if current is not None else "<current gates>")
    if install.installed is False:
        return [
            f"helm repo add openkruise {HELM_REPO}",
            f"helm install kruise openkruise/kruise -n {ns} --create-namespace --version "
            f"{shlex.quote(ctx.version)} {_set_gates(gates)}",
        ]
    if install.method == "manifests":
        manager = shlex.quote(install.manager_name or "kruise-controller-manager")
        return [
            f"kubectl -n {ns} edit deployment {manager}: set --feature-gates={gates}",
            f"kubectl -n {ns} delete daemonset kruise-daemon",
        ]
    chart_version = install.chart_version or ctx.version
    return [
        f"helm upgrade {shlex.quote(install.release or 'kruise')} openkruise/kruise -n {ns} "
        f"--version {shlex.quote(chart_version)} --reuse-values {_set_gates(gates)}",
    ]


def _runs_by_playbook(ctx: Context, path_id: str) -> bool:
    """Pin and disable change an installed OpenKruise (a Helm release or manifests); with none
    installed there is nothing for them to change."""
    if path_id == MIGRATE:
        return True
    return ctx.install.installed is not False


# ---------------------------------------------------------------------------------------------
# Recommendation


@dataclass
class Choice:
    path_id: str
    summary: str
    reasons: list[str]
    steps: list[str]  # path ids run in order
    extra_risk: list[str]


def _unused_features_reason(ctx: Context) -> str:
    if ctx.install.installed is False:
        return "OpenKruise is not installed, so nothing uses the daemon's features yet"
    return "kruise_info found none of the daemon's features in use"


def _features_reason(ctx: Context) -> str:
    install = ctx.install
    if ctx.features_wanted and not install.features_in_use:
        return "you want the daemon's features (daemon_features_wanted)"
    if install.features_in_use:
        summary = ", ".join(install.features_summary) or "see kruise_info's feature_use"
        return f"the daemon's features are in use: {summary}"
    return (
        "whether the daemon's features are in use is unknown"
        + (" (no cluster facts)" if not install.known else "")
        + ": this path keeps them; if nothing uses them, disabling kruise-daemon is quicker"
    )


def _drain_scope(drained: int, untouched: int) -> str:
    if not untouched:
        return "every node is drained, one at a time"
    what = (
        "only that node is drained"
        if drained == 1
        else "only those nodes are drained, one at a time"
    )
    verb = "keeps" if untouched == 1 else "keep"
    return f"{what}; the other {_count(untouched, 'node')} {verb} running"


def _choose(ctx: Context, paths: Mapping[str, Mapping[str, Any]]) -> Choice:
    blocking = ctx.blocking
    migratable = ctx.migratable
    others = ctx.not_migratable

    if ctx.daemon_disabled:
        reasons = [
            "kruise-daemon is disabled (KruiseDaemon=false): it runs on no node, so nothing breaks",
            "while it is disabled these features are off: " + "; ".join(DAEMON_FEATURES),
        ]
        if not blocking:
            reasons.append(
                f"every node can run kruise-daemon {ctx.line}: removing {DAEMON_GATE}=false "
                "from featureGates brings the features back"
            )
            return Choice(NOTHING, "Nothing breaks: kruise-daemon is disabled.", reasons, [], [])
        if ctx.features_wanted and migratable:
            reasons.append(
                f"to re-enable it, first migrate the Docker nodes "
                f"({_names(_node_names(migratable))})"
                + (f" and fix {_names(_node_names(others))}" if others else "")
            )
            return Choice(
                MIGRATE,
                f"Migrate {_count(len(migratable), 'Docker node')} to containerd, then remove "
                f"{DAEMON_GATE}=false to get the daemon's features back.",
                reasons,
                [MIGRATE],
                [],
            )
        reasons.append(
            f"{_count(len(blocking), 'node')} could not run kruise-daemon {ctx.line} "
            f"({_names(_node_names(blocking))}): fix {_pronoun(len(blocking))} before "
            "kruise-daemon is enabled again"
        )
        return Choice(NOTHING, "Nothing breaks: kruise-daemon is disabled.", reasons, [], [])

    if not blocking:
        summary = f"Every node can run kruise-daemon {ctx.line}: "
        if ctx.install.installed is False:
            summary += f"install OpenKruise {ctx.version} as planned."
        elif ctx.install.line == ctx.line:
            summary += "nothing to change."
        else:
            summary += f"go ahead with OpenKruise {ctx.version}."
        return Choice(NOTHING, summary, list(paths[NOTHING]["reasons"]), [], [])

    if not ctx.incompatible:
        unknown = _names(_node_names(ctx.unknown))
        return Choice(
            NOTHING,
            f"Every node with a verdict can run kruise-daemon {ctx.line}; assess {unknown} "
            "before relying on it.",
            [
                f"no node is known to be incompatible with kruise-daemon {ctx.line}",
                f"{_count(len(ctx.unknown), 'node')} {UNKNOWN_MARK} ({unknown}): run "
                f"kruise_cri.remediation.assess on {_pronoun(len(ctx.unknown))} and plan again",
            ],
            [],
            [],
        )

    if _line_tuple(ctx.line) < _line_tuple(BRIDGE_LINE) and paths[PIN]["feasible"] == "yes":
        return Choice(
            PIN,
            f"Run OpenKruise {BRIDGE_RELEASE} instead of {ctx.version}: kruise-daemon "
            f"{BRIDGE_LINE} works on every node.",
            [
                f"kruise-daemon {ctx.line} cannot serve {_count(len(blocking), 'node')} "
                f"({_names(_node_names(blocking))})",
                f"{BRIDGE_LINE} speaks CRI v1 and v1alpha2, so it works on every node, and "
                "keeps the daemon's features",
            ],
            [PIN],
            [],
        )

    if not ctx.keep_features:
        summary = (
            f"Install OpenKruise {ctx.version} with {DAEMON_GATE}=false: no drain, and nothing "
            "uses the daemon's features yet."
            if ctx.install.installed is False
            else f"Disable kruise-daemon ({DAEMON_GATE}=false): one featureGates change, no "
            "drain, and nothing in the cluster uses the daemon's features."
        )
        return Choice(
            DISABLE,
            summary,
            [
                f"kruise-daemon {ctx.line} cannot serve {_count(len(blocking), 'node')} "
                f"({_names(_node_names(blocking))})",
                _unused_features_reason(ctx),
                "disabling is the quickest way out: no drain, no version change",
            ],
            [DISABLE],
            [],
        )

    features = _features_reason(ctx)
    if not others:
        reasons = [
            f"kruise-daemon {ctx.line} cannot serve {_count(len(migratable), 'node')} "
            f"({_names(_node_names(migratable))}), and "
            f"{'it runs' if len(migratable) == 1 else 'all of them run'} the kubelet on Docker",
            features,
            _drain_scope(len(migratable), len(ctx.nodes) - len(migratable)),
        ]
        return Choice(
            MIGRATE,
            f"Migrate {_count(len(migratable), 'Docker node')} to containerd "
            f"({_names(_node_names(migratable))}): kruise-daemon {ctx.line} then works "
            "everywhere and keeps its features.",
            reasons,
            [MIGRATE],
            [],
        )

    pin_helps = (
        ctx.line != BRIDGE_LINE
        and all(node.bridge_compatible is not False for node in others)
        and not any(
            node.target_compatible and node.bridge_compatible is False for node in ctx.nodes
        )
    )
    why_not = "; ".join(f"{node.name}: {node.paths[MIGRATE]['why']}" for node in others)
    if pin_helps:
        reasons = [
            f"{_count(len(others), 'node')} cannot be migrated by this tool now ({why_not})",
            f"kruise-daemon {BRIDGE_LINE} speaks CRI v1 and v1alpha2: pinning OpenKruise "
            f"{BRIDGE_RELEASE} keeps the daemon working meanwhile",
            features,
        ]
        upgrade = [
            node.name
            for node in others
            if node.runtime == "containerd" and node.paths[MIGRATE]["feasible"] == "no"
        ]
        then: list[str] = []
        if migratable:
            then.append(f"migrate the Docker nodes ({_names(_node_names(migratable))})")
        if upgrade:
            then.append(f"upgrade containerd to 1.6 or newer on {_names(upgrade)}")
        unknown_others = [node.name for node in others if node.target_compatible is None]
        if unknown_others:
            then.append(f"assess {_names(unknown_others)}")
        reasons.append(
            "then " + ", ".join(then or ["fix the remaining nodes"]) + f", and upgrade to "
            f"{ctx.version}"
        )
        verb = "Stay on" if ctx.install.version == BRIDGE_RELEASE else "Pin"
        then_summary = [f"migrate {_count(len(migratable), 'Docker node')} to containerd"]
        then_summary = then_summary if migratable else []
        then_summary.append(f"{'assess or fix' if unknown_others else 'fix'} the other nodes")
        return Choice(
            PIN,
            f"{verb} OpenKruise {BRIDGE_RELEASE} now as a bridge; "
            f"{' and '.join(then_summary)} before moving to {ctx.version}.",
            reasons,
            [PIN, MIGRATE] if migratable else [PIN],
            [],
        )

    if migratable:
        return Choice(
            MIGRATE,
            f"Migrate {_count(len(migratable), 'Docker node')} to containerd; the other "
            f"{_count(len(others), 'node')} need fixing by hand.",
            [
                f"kruise-daemon {ctx.line} cannot serve {_count(len(blocking), 'node')}",
                features,
                f"pinning {BRIDGE_RELEASE} does not help the others ({why_not})",
            ],
            [MIGRATE],
            [f"kruise-daemon keeps failing on {_names(_node_names(others))} until they are fixed"],
        )
    return Choice(
        DISABLE,
        "Disable kruise-daemon: no other path makes it work on every node.",
        [
            f"kruise-daemon {ctx.line} cannot serve {_count(len(blocking), 'node')} ({why_not})",
            "none of them runs Docker, and pinning " + BRIDGE_RELEASE + " does not help them",
            features,
        ],
        [DISABLE],
        [],
    )


def _recommend(ctx: Context, paths: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    choice = _choose(ctx, paths)
    path = paths[choice.path_id]
    reasons = list(choice.reasons)
    commands: list[str] = []
    first_command: str | None = None
    not_shipped: list[str] = []
    manual_steps: list[str] = []
    for index, step in enumerate(choice.steps):
        call = PLAYBOOK_CALLS[step]
        step_nodes = ctx.migratable if step == MIGRATE else []
        if not _runs_by_playbook(ctx, step):
            reasons.append(
                f"OpenKruise is not installed: {call.fqcn} changes an installed OpenKruise and "
                "does not apply; the manual steps say how to install the right version"
            )
            manual_steps += _manual_steps(ctx, step, step_nodes)
            continue
        commands.append(
            playbook_command(step, ctx.inventory, (node.limit_name for node in step_nodes))
        )
        if index == 0:
            first_command = commands[0]
        if call.playbook not in ctx.shipped:
            not_shipped.append(call.fqcn)
            manual_steps += _manual_steps(ctx, step, step_nodes)
    if not_shipped:
        reasons.append(
            f"{', '.join(not_shipped)} {'is' if len(not_shipped) == 1 else 'are'} not shipped "
            f"in this collection yet: follow the manual steps ({MANUAL_STEPS_DOC}); the "
            "command is what it will be"
        )
    risk_reasons = list(path["risk"]["reasons"]) + choice.extra_risk
    level = path["risk"]["level"]
    if ctx.unknown:
        if not any(UNKNOWN_MARK in reason for reason in risk_reasons):
            risk_reasons += _unknown_note(ctx, "the plan may not fit them")
        level = _max_risk(level, "medium")
    if choice.extra_risk:
        level = _max_risk(level, "medium")
    return {
        "path": choice.path_id,
        "title": PATH_TITLES[choice.path_id],
        "summary": choice.summary,
        "reasons": reasons,
        "steps": list(choice.steps),
        "command": first_command,
        "commands": commands,
        "not_shipped": not_shipped,
        "manual_steps": manual_steps,
        "manual_steps_doc": MANUAL_STEPS_DOC if manual_steps else None,
        "risk": {"level": level, "reasons": risk_reasons},
    }
