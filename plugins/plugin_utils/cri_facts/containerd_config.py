"""Parse a containerd config.toml: config version, is CRI off, SystemdCgroup, the pause image.

Controller side (Python 3.11, tomllib). Layouts, from containerd's source:

* version 1 (or no ``version``): CRI plugin table ``plugins.cri``; ``disabled_plugins`` holds
  plugin IDs (``"cri"``) -- containerd 1.x matches IDs for v1 configs (V1DisabledFilter) and 2.x
  migrates ``cri`` to ``io.containerd.grpc.v1.cri``.
* version 2 (containerd 1.3-1.7): ``plugins."io.containerd.grpc.v1.cri"``; ``disabled_plugins``
  holds full URIs (V2DisabledFilter); a bare ``"cri"`` makes containerd refuse the file.
* version 3 (containerd 2.x): runtime options under ``plugins."io.containerd.cri.v1.runtime"``,
  the pause image as ``plugins."io.containerd.cri.v1.images".pinned_images.sandbox``; the CRI
  gRPC service is still ``io.containerd.grpc.v1.cri`` and depends on the two plugins above.
"""

from __future__ import annotations

import tomllib
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.findings import (
    Finding,
    finding,
)

DEFAULT_CONFIG_PATH = "/etc/containerd/config.toml"
DEFAULT_GRPC_ADDRESS = "/run/containerd/containerd.sock"
HIGHEST_CONFIG_VERSION = 3

CRI_GRPC_PLUGIN = "io.containerd.grpc.v1.cri"
CRI_RUNTIME_PLUGIN = "io.containerd.cri.v1.runtime"
CRI_IMAGES_PLUGIN = "io.containerd.cri.v1.images"


def empty_containerd_config(path: str) -> dict[str, Any]:
    return {
        "path": path,
        "version": None,
        "cri_disabled": False,
        "systemd_cgroup": None,
        "sandbox_image": None,
        "grpc_address": DEFAULT_GRPC_ADDRESS,
        "error": None,
    }


def _table(data: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        if not isinstance(data, dict):
            return {}
        data = data.get(key)
    return data if isinstance(data, dict) else {}


def _cri_disabled(version: int, disabled: list[str], path: str) -> tuple[bool, list[Finding]]:
    findings: list[Finding] = []
    if version <= 1:
        if "cri" in disabled:
            return True, findings
        if CRI_GRPC_PLUGIN in disabled:
            findings.append(
                finding(
                    "warning",
                    path,
                    f'disabled_plugins names "{CRI_GRPC_PLUGIN}" in a version 1 config: '
                    "containerd 1.x matches plugin IDs there and keeps CRI on; containerd 2.x "
                    "turns it off",
                )
            )
            return True, findings
        return False, findings
    if "cri" in disabled:
        findings.append(
            finding(
                "error",
                path,
                f'disabled_plugins holds "cri" in a version {version} config, which expects '
                f'plugin URIs such as "{CRI_GRPC_PLUGIN}": containerd refuses to start with it',
            )
        )
        return True, findings
    off = [CRI_GRPC_PLUGIN]
    if version >= 3:
        off += [CRI_RUNTIME_PLUGIN, CRI_IMAGES_PLUGIN]
    return any(plugin in disabled for plugin in off), findings


def _runtime_options(containerd_table: dict[str, Any]) -> dict[str, Any]:
    runtime_name = containerd_table.get("default_runtime_name")
    if not isinstance(runtime_name, str) or not runtime_name:
        runtime_name = "runc"
    return _table(containerd_table, "runtimes", runtime_name, "options")


def parse_containerd_config(
    content: str | None, *, path: str = DEFAULT_CONFIG_PATH, read_error: str | None = None
) -> tuple[dict[str, Any], list[Finding]]:
    """What a config says about CRI; containerd's defaults where it says nothing."""
    result = empty_containerd_config(path)
    findings: list[Finding] = []
    if content is None:
        result["error"] = read_error or "not read"
        if read_error != "missing":
            findings.append(finding("warning", path, f"cannot read {path}: {result['error']}"))
        return result, findings
    try:
        data = tomllib.loads(content)
    except tomllib.TOMLDecodeError as error:
        result["error"] = f"not valid TOML: {error}"
        findings.append(
            finding("error", path, f"not valid TOML: {error}; containerd refuses this file")
        )
        return result, findings

    raw_version = data.get("version")
    if raw_version is None:
        version = 1
    elif isinstance(raw_version, int) and not isinstance(raw_version, bool):
        version = raw_version
        result["version"] = raw_version
    else:
        result["error"] = f"version must be an integer, not {raw_version!r}"
        findings.append(finding("error", path, result["error"]))
        return result, findings
    if version > HIGHEST_CONFIG_VERSION or version < 1:
        findings.append(
            finding(
                "error",
                path,
                f"config version {version} is not one containerd knows (1 to "
                f"{HIGHEST_CONFIG_VERSION})",
            )
        )
    elif version == 3:
        findings.append(finding("info", path, "config version 3 is read only by containerd 2.x"))

    disabled = data.get("disabled_plugins", [])
    if not isinstance(disabled, list) or not all(isinstance(item, str) for item in disabled):
        findings.append(finding("error", path, "disabled_plugins must be a list of strings"))
        disabled = []
    result["cri_disabled"], more = _cri_disabled(version, disabled, path)
    findings.extend(more)

    address = _table(data, "grpc").get("address")
    if isinstance(address, str) and address:
        result["grpc_address"] = address

    imports = data.get("imports")
    if imports:
        findings.append(
            finding(
                "info",
                path,
                f"imports {imports}: settings in imported files are not reflected here",
            )
        )

    plugins = _table(data, "plugins")
    if version >= 3:
        runtime_table = _table(plugins, CRI_RUNTIME_PLUGIN, "containerd")
        images = _table(plugins, CRI_IMAGES_PLUGIN)
        sandbox = _table(images, "pinned_images").get("sandbox")
    else:
        cri = _table(plugins, "cri" if version <= 1 else CRI_GRPC_PLUGIN)
        runtime_table = _table(cri, "containerd")
        sandbox = cri.get("sandbox_image")
        if version <= 1 and isinstance(cri.get("systemd_cgroup"), bool):
            findings.append(
                finding(
                    "info",
                    path,
                    "plugins.cri.systemd_cgroup only affects the legacy io.containerd.runtime."
                    "v1.linux shim; runc v2 runtimes read SystemdCgroup in their options",
                )
            )
    systemd_cgroup = _runtime_options(runtime_table).get("SystemdCgroup")
    if isinstance(systemd_cgroup, bool):
        result["systemd_cgroup"] = systemd_cgroup
    elif systemd_cgroup is not None:
        findings.append(
            finding("error", path, f"SystemdCgroup must be true or false, not {systemd_cgroup!r}")
        )
    if isinstance(sandbox, str) and sandbox:
        result["sandbox_image"] = sandbox
    return result, findings
