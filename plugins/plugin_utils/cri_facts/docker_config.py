"""Parse Docker's /etc/docker/daemon.json: the settings a move to containerd must carry over.

Controller side (Python 3.11). Problems become findings ({severity, source, message}), never
exceptions: dockerd itself refuses to start on invalid JSON or on wrongly typed options, so those
are errors.
"""

from __future__ import annotations

import json
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.findings import (
    Finding,
    finding,
)

DAEMON_JSON_PATH = "/etc/docker/daemon.json"


_LIST_OPTIONS = {
    "registry-mirrors": "registry_mirrors",
    "insecure-registries": "insecure_registries",
    "exec-opts": "exec_opts",
}
_STRING_OPTIONS = {"data-root": "data_root", "graph": "graph", "log-driver": "log_driver"}


def empty_daemon_json(path: str = DAEMON_JSON_PATH) -> dict[str, Any]:
    return {
        "path": path,
        "registry_mirrors": [],
        "insecure_registries": [],
        "data_root": None,
        "exec_opts": [],
        "cgroup_driver": None,
        "log_driver": None,
        "log_opts": {},
        "error": None,
    }


def cgroup_driver_from_exec_opts(exec_opts: list[str]) -> str | None:
    """``native.cgroupdriver=systemd`` -> ``systemd`` (dockerd lower-cases the key; last wins)."""
    driver = None
    for option in exec_opts:
        key, sep, value = option.partition("=")
        if sep and key.strip().lower() == "native.cgroupdriver":
            driver = value.strip()
    return driver


def parse_daemon_json(
    content: str | None, *, path: str = DAEMON_JSON_PATH, read_error: str | None = None
) -> tuple[dict[str, Any], list[Finding]]:
    """The migration-relevant parts of daemon.json, and what is odd about it.

    A missing file is normal (dockerd runs on defaults): empty values, no error, no finding.
    """
    result = empty_daemon_json(path)
    findings: list[Finding] = []
    if content is None:
        if read_error and read_error != "missing":
            result["error"] = f"cannot read: {read_error}"
            findings.append(finding("warning", path, f"cannot read {path}: {read_error}"))
        return result, findings
    text = content.lstrip("\ufeff")
    if not text.strip():
        return result, findings
    duplicates: list[str] = []

    def keep_last_noting_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj and key not in duplicates:
                duplicates.append(key)
            obj[key] = value
        return obj

    try:
        data = json.loads(text, object_pairs_hook=keep_last_noting_duplicates)
    except json.JSONDecodeError as error:
        message = f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        result["error"] = message
        findings.append(
            finding("error", path, f"{message}; dockerd refuses to start with this file")
        )
        return result, findings
    for key in duplicates:
        findings.append(
            finding("warning", path, f"key {key!r} appears more than once; the last one counts")
        )
    if not isinstance(data, dict):
        result["error"] = f"the top level is a JSON {type(data).__name__}, not an object"
        findings.append(finding("error", path, result["error"]))
        return result, findings

    for option, field in _LIST_OPTIONS.items():
        if option not in data:
            continue
        value = data[option]
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            result[field] = list(value)
        else:
            findings.append(
                finding(
                    "error",
                    path,
                    f"{option} must be a list of strings, not {json.dumps(value)}; "
                    "dockerd refuses to start",
                )
            )

    strings: dict[str, str] = {}
    for option, field in _STRING_OPTIONS.items():
        if option not in data:
            continue
        value = data[option]
        if isinstance(value, str):
            strings[field] = value
        else:
            findings.append(
                finding(
                    "error",
                    path,
                    f"{option} must be a string, not {json.dumps(value)}; dockerd refuses to start",
                )
            )
    result["log_driver"] = strings.get("log_driver")
    if "data_root" in strings and "graph" in strings:
        findings.append(
            finding(
                "error",
                path,
                "both data-root and the deprecated graph are set; dockerd rejects the pair",
            )
        )
        result["data_root"] = strings["data_root"]
    elif "data_root" in strings:
        result["data_root"] = strings["data_root"]
    elif "graph" in strings:
        result["data_root"] = strings["graph"]
        findings.append(
            finding(
                "warning",
                path,
                f"uses the deprecated graph option ({strings['graph']}) instead of data-root; "
                "newer Docker releases no longer accept it",
            )
        )

    if "log-opts" in data:
        log_opts = data["log-opts"]
        if isinstance(log_opts, dict):
            for key, value in log_opts.items():
                if isinstance(value, str):
                    result["log_opts"][key] = value
                else:
                    findings.append(
                        finding(
                            "error",
                            path,
                            f"log-opts {key} must be a string, not {json.dumps(value)} "
                            f'(write "{value}"); dockerd refuses to start',
                        )
                    )
        else:
            findings.append(
                finding("error", path, f"log-opts must be an object, not {json.dumps(log_opts)}")
            )

    result["cgroup_driver"] = cgroup_driver_from_exec_opts(result["exec_opts"])
    return result, findings
