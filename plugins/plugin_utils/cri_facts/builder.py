"""Turn the node's raw evidence into ``ansible_facts.kruise_cri`` (docs/facts.md).

Controller side (Python 3.11). Never raises on odd evidence: what is missing or malformed
becomes a finding, and a section that still fails is reported as an internal-error finding.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any, TypeVar

from ansible_collections.kruise_cri.remediation.plugins.module_utils.findings import (
    Finding,
    finding,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_facts.containerd_config import (
    DEFAULT_CONFIG_PATH,
    parse_containerd_config,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_facts.docker_config import (
    DAEMON_JSON_PATH,
    parse_daemon_json,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_facts.kubelet_config import (
    empty_kubelet_facts,
    endpoint_path,
    parse_kubelet,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.kruise_compat import (
    GRPC_CODE_NAMES,
    KRUISE_LINES,
    daemon_verdicts,
    runtime_identity,
    served_apis,
)

FACTS_SCHEMA = 1
EVIDENCE_SCHEMA = 1

T = TypeVar("T")

# Role -> endpoint kind, most specific first.
_KIND_BY_ROLE = (
    ("k3s", "k3s"),
    ("containerd", "containerd"),
    ("cri-dockerd", "cri-dockerd"),
    ("dockershim", "dockershim"),
    ("crio", "crio"),
    ("pouch", "pouch"),
    ("kubelet", "kubelet"),
    ("extra", "extra"),
)
_KIND_BY_NAME = {
    "containerd.sock": "containerd",
    "cri-dockerd.sock": "cri-dockerd",
    "dockershim.sock": "dockershim",
    "crio.sock": "crio",
    "pouchcri.sock": "pouch",
}
# Engine API sockets, not CRI (unless the kubelet or the user names them).
_ENGINE_SOCKET_NAMES = ("docker.sock", "pouchd.sock")
_CALL_LABELS = {"version": "Version", "list_images": "ListImages"}


def _guarded(findings: list[Finding], section: str, default: T, build: Callable[[], T]) -> T:
    try:
        return build()
    except Exception as error:  # odd evidence must end as a finding, never a traceback
        findings.append(
            finding(
                "error",
                "cri_facts",
                f"internal error while building {section}: {type(error).__name__}: {error}",
            )
        )
        return default


def _roles(entry: dict[str, Any]) -> list[str]:
    roles = entry.get("roles")
    return [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else []


def _is_cri_entry(entry: dict[str, Any]) -> bool:
    roles = _roles(entry)
    if roles == ["docker"]:
        return False
    name = posixpath.basename(str(entry.get("path")))
    return not (name in _ENGINE_SOCKET_NAMES and "kubelet" not in roles and "extra" not in roles)


def _kind(entries: list[dict[str, Any]]) -> str:
    roles = {role for entry in entries for role in _roles(entry)}
    for role, kind in _KIND_BY_ROLE:
        if role in roles:
            return kind
    for entry in entries:
        named = _KIND_BY_NAME.get(posixpath.basename(str(entry.get("path"))))
        if named:
            return named
    return "extra"


def _socket_key(entry: dict[str, Any]) -> str:
    resolved = entry.get("resolved")
    return resolved if isinstance(resolved, str) and resolved else str(entry.get("path"))


def _valid_sockets(evidence: dict[str, Any], findings: list[Finding]) -> list[dict[str, Any]]:
    raw = evidence.get("sockets")
    if raw is None:
        findings.append(finding("warning", "evidence", "no sockets in the evidence"))
        return []
    if not isinstance(raw, list):
        findings.append(finding("error", "evidence", "sockets is not a list"))
        return []
    sockets = []
    for index, entry in enumerate(raw):
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            sockets.append(entry)
        else:
            findings.append(finding("warning", "evidence", f"sockets[{index}] has no path"))
    return sockets


def _all_unimplemented(probes: dict[str, Any]) -> bool:
    calls = [
        call
        for api_probe in probes.values()
        if isinstance(api_probe, dict)
        for call in api_probe.values()
        if isinstance(call, dict)
    ]
    return bool(calls) and all(call.get("code") == 12 and not call.get("ok") for call in calls)


def _first_unimplemented_details(probes: dict[str, Any]) -> str:
    for api in ("v1", "v1alpha2"):
        call = (probes.get(api) or {}).get("version") or {}
        if call.get("details"):
            return str(call["details"])
    return "UNIMPLEMENTED"


def _endpoint_error(
    entry: dict[str, Any], aliases: list[str], configs: list[dict[str, Any]]
) -> str | None:
    if served_apis(entry):
        return None
    probes = entry.get("probes") if isinstance(entry.get("probes"), dict) else {}
    if entry.get("error"):
        return str(entry["error"])
    if not probes:
        return "not probed"
    if _all_unimplemented(probes):
        for config in configs:
            if config.get("cri_disabled") and config.get("grpc_address") in aliases:
                return (
                    "CRI plugin disabled: every CRI call answers UNIMPLEMENTED "
                    f"(disabled_plugins in {config['path']})"
                )
        return (
            "every CRI call answers UNIMPLEMENTED "
            f"({_first_unimplemented_details(probes)}): no CRI service on this socket"
        )
    for api in ("v1", "v1alpha2"):
        for call_name in ("version", "list_images"):
            call = (probes.get(api) or {}).get(call_name)
            if isinstance(call, dict) and not call.get("ok") and call.get("code") != 12:
                code = call.get("code")
                name = GRPC_CODE_NAMES.get(code, str(code)) if isinstance(code, int) else "error"
                details = f": {call['details']}" if call.get("details") else ""
                label = _CALL_LABELS[call_name]
                return f"no CRI API answered both calls; {api} {label}: {name}{details}"
    return "no CRI API answered both Version and ListImages"


def build_endpoints(
    sockets: list[dict[str, Any]], configs: list[dict[str, Any]], findings: list[Finding]
) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for entry in sockets:
        if entry.get("exists") is not True or not _is_cri_entry(entry):
            continue
        if entry.get("is_socket") is not True:
            findings.append(
                finding(
                    "warning",
                    str(entry["path"]),
                    f"{entry['path']} exists but is not a socket"
                    + (f" ({entry['error']})" if entry.get("error") else ""),
                )
            )
            continue
        groups.setdefault(_socket_key(entry), []).append(entry)
    endpoints = []
    for socket, entries in groups.items():
        probed = next(
            (e for e in entries if isinstance(e.get("probes"), dict) and e["probes"]), entries[0]
        )
        aliases = sorted({str(e["path"]) for e in entries} - {socket})
        name, version = runtime_identity(probed)
        endpoints.append(
            {
                "socket": socket,
                "aliases": aliases,
                "kind": _kind(entries),
                "runtime_name": name,
                "runtime_version": version,
                "cri_api_versions": served_apis(probed),
                "error": _endpoint_error(probed, [socket, *aliases], configs),
                "probes": probed.get("probes") if isinstance(probed.get("probes"), dict) else {},
            }
        )
    return endpoints


def _containerd_config_paths(
    evidence: dict[str, Any], findings: list[Finding]
) -> list[tuple[str, bool]]:
    """(path, named by a running containerd) in order, the default path first."""
    paths: list[tuple[str, bool]] = [(DEFAULT_CONFIG_PATH, False)]
    processes = evidence.get("containerd_processes") or []
    if not isinstance(processes, list):
        findings.append(finding("warning", "evidence", "containerd_processes is not a list"))
        processes = []
    for argv in processes:
        if not isinstance(argv, list):
            continue
        words = [str(arg) for arg in argv]
        for index, arg in enumerate(words[1:], 1):
            path = None
            if arg in ("--config", "-c") and index + 1 < len(words):
                path = words[index + 1]
            elif arg.startswith("--config="):
                path = arg.split("=", 1)[1]
            if path and not path.startswith("/"):
                findings.append(
                    finding(
                        "info",
                        path,
                        f"a running containerd uses the relative config path {path}, which "
                        "depends on its working directory; not read",
                    )
                )
            elif path:
                if path == DEFAULT_CONFIG_PATH:
                    paths[0] = (path, True)
                elif all(path != known for known, _named in paths):
                    paths.append((path, True))
    return paths


def build_containerd_configs(
    evidence: dict[str, Any], files: dict[str, Any], findings: list[Finding]
) -> list[dict[str, Any]]:
    configs = []
    for path, named in _containerd_config_paths(evidence, findings):
        entry = files.get(path)
        if not isinstance(entry, dict):
            if named:
                findings.append(
                    finding("warning", path, f"a running containerd uses {path}; it was not read")
                )
            continue
        if entry.get("content") is None and entry.get("error") == "missing":
            if named:
                findings.append(
                    finding("warning", path, f"a running containerd names {path}, which is missing")
                )
            continue
        config, more = parse_containerd_config(
            entry.get("content") if isinstance(entry.get("content"), str) else None,
            path=path,
            read_error=str(entry.get("error")) if entry.get("error") else None,
        )
        findings.extend(more)
        config["grpc_address"] = _node_address(config.get("grpc_address"), evidence)
        configs.append(config)
    return configs


def _node_address(address: Any, evidence: dict[str, Any]) -> Any:
    """A containerd started beneath a host root by hand (an offline copy, the lab) names its socket
    by the host path; the node knows it as the path beneath the root."""
    host_root = str(evidence.get("host_root") or "/").rstrip("/")
    if isinstance(address, str) and host_root and address.startswith(host_root + "/"):
        return address[len(host_root) :]
    return address


def build_docker(
    evidence: dict[str, Any], files: dict[str, Any], findings: list[Finding]
) -> dict[str, Any] | None:
    entry = files.get(DAEMON_JSON_PATH)
    content = entry.get("content") if isinstance(entry, dict) else None
    read_error = entry.get("error") if isinstance(entry, dict) else None
    docker = evidence.get("docker")
    if not isinstance(docker, dict):
        if isinstance(content, str):
            # Still worth reading: a migration carries these settings, and a malformed file
            # would keep Docker from starting again on the way back.
            findings.extend(parse_daemon_json(content, path=DAEMON_JSON_PATH)[1])
            findings.append(
                finding(
                    "info",
                    DAEMON_JSON_PATH,
                    f"{DAEMON_JSON_PATH} exists but no Docker Engine socket answers",
                )
            )
        return None
    daemon_json, more = parse_daemon_json(
        content if isinstance(content, str) else None,
        path=DAEMON_JSON_PATH,
        read_error=str(read_error) if read_error else None,
    )
    findings.extend(more)
    error = docker.get("error")
    if not error and docker.get("ok") is False:
        error = "the Docker Engine API did not answer"
    return {
        "socket": docker.get("socket"),
        "version": docker.get("version"),
        "api_version": docker.get("api_version"),
        "cgroup_driver": docker.get("cgroup_driver"),
        "daemon_json": daemon_json,
        "error": error or None,
    }


def _socket_runtime_names(endpoints: list[dict[str, Any]]) -> dict[str, str]:
    names: dict[str, str] = {}
    for endpoint in endpoints:
        if endpoint.get("runtime_name"):
            for path in [endpoint["socket"], *endpoint["aliases"]]:
                names[path] = endpoint["runtime_name"]
    return names


def _cgroup_findings(
    kubelet: dict[str, Any],
    docker: dict[str, Any] | None,
    configs: list[dict[str, Any]],
    endpoints: list[dict[str, Any]],
) -> list[Finding]:
    findings: list[Finding] = []
    driver = kubelet.get("cgroup_driver")
    if not driver:
        return findings
    docker_driver = docker.get("cgroup_driver") if docker else None
    if kubelet.get("runtime") == "docker" and docker_driver and docker_driver != driver:
        findings.append(
            finding(
                "warning",
                str(docker.get("socket") if docker else "docker"),
                f"Docker uses the {docker_driver} cgroup driver, the kubelet {driver}",
            )
        )
    path = endpoint_path(kubelet.get("runtime_endpoint"))
    if kubelet.get("runtime") != "containerd" or not path:
        return findings
    aliases = {path}
    for endpoint in endpoints:
        if path == endpoint["socket"] or path in endpoint["aliases"]:
            aliases.update([endpoint["socket"], *endpoint["aliases"]])
    for config in configs:
        systemd = config.get("systemd_cgroup")
        serves_kubelet = config.get("grpc_address") in aliases
        if serves_kubelet and systemd is not None and systemd != (driver == "systemd"):
            findings.append(
                finding(
                    "warning",
                    config["path"],
                    f"SystemdCgroup = {str(systemd).lower()} but the kubelet uses the "
                    f"{driver} cgroup driver",
                )
            )
    return findings


def _unknown_verdicts(reason: str) -> dict[str, dict[str, Any]]:
    return {
        line: {
            "compatible": False,
            "starts": False,
            "socket": None,
            "runtimes": [],
            "reason": reason,
        }
        for line in KRUISE_LINES
    }


def build_facts(
    evidence: dict[str, Any],
    *,
    socket_location: str = "/var/run",
    socket_file: str | None = None,
) -> dict[str, Any]:
    findings: list[Finding] = []
    if not isinstance(evidence, dict):
        findings.append(finding("error", "evidence", "the evidence is not a mapping"))
        evidence = {}
    if evidence.get("schema") != EVIDENCE_SCHEMA:
        findings.append(
            finding(
                "warning",
                "evidence",
                f"evidence schema {evidence.get('schema')!r}, expected {EVIDENCE_SCHEMA}",
            )
        )
    files = evidence.get("files")
    if not isinstance(files, dict):
        if files is not None:
            findings.append(finding("error", "evidence", "files is not a mapping"))
        files = {}

    no_entries: list[dict[str, Any]] = []
    sockets = _guarded(findings, "sockets", no_entries, lambda: _valid_sockets(evidence, findings))
    configs = _guarded(
        findings,
        "containerd_configs",
        no_entries,
        lambda: build_containerd_configs(evidence, files, findings),
    )
    endpoints = _guarded(
        findings, "endpoints", no_entries, lambda: build_endpoints(sockets, configs, findings)
    )
    docker = _guarded(findings, "docker", None, lambda: build_docker(evidence, files, findings))

    def kubelet_section() -> dict[str, Any]:
        kubelet: dict[str, Any]
        kubelet, more = parse_kubelet(
            files,
            evidence.get("kubelet_processes"),
            evidence.get("kubelet_binary"),
            socket_runtime_names=_socket_runtime_names(endpoints),
        )
        findings.extend(more)
        return kubelet

    kubelet = _guarded(findings, "kubelet", empty_kubelet_facts(), kubelet_section)
    findings.extend(
        _guarded(
            findings,
            "cgroup checks",
            [],
            lambda: _cgroup_findings(kubelet, docker, configs, endpoints),
        )
    )
    raw_docker = evidence.get("docker") if isinstance(evidence.get("docker"), dict) else None
    kruise = _guarded(
        findings,
        "kruise_daemon",
        _unknown_verdicts("the compatibility model could not run on this evidence"),
        lambda: daemon_verdicts(
            sockets,
            kubelet.get("runtime"),
            socket_location=socket_location,
            socket_file=socket_file,
            docker_api_ok=raw_docker.get("ok") if raw_docker else None,
            docker_version=raw_docker.get("version") if raw_docker else None,
            kubelet_endpoint=kubelet.get("runtime_endpoint"),
        ),
    )
    denied = [
        endpoint["socket"]
        for endpoint in endpoints
        if "permission denied" in str(endpoint.get("error") or "").lower()
    ]
    if denied:
        findings.append(
            finding(
                "error",
                denied[0],
                f"permission denied on {', '.join(denied)}: the verdicts below are not "
                "reliable; run as root (kruise_cri_become: true)",
            )
        )
    unique: list[Finding] = []
    for entry in findings:
        if entry not in unique:
            unique.append(entry)
    return {
        "schema": FACTS_SCHEMA,
        "host_root": evidence.get("host_root"),
        "endpoints": endpoints,
        "docker": docker,
        "containerd_configs": configs,
        "kubelet": kubelet,
        "kruise_daemon": kruise,
        "findings": unique,
    }
