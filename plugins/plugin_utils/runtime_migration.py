"""What runtime_migration does to a node, decided from its cri_facts alone: which case (Docker
to containerd; containerd too old for CRI v1), or why the node is left alone, and the settings the
new runtime must carry (cgroup driver, sandbox image, registries, where the kubelet's endpoint is
set). Pure: the role asks, the node modules act."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

CONTAINERD_ENDPOINT = "unix:///run/containerd/containerd.sock"
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
# Docker's units, and cri-dockerd's (upstream's names and the lab's shim): stopped and disabled.
DOCKER_UNITS = (
    "docker.socket",
    "docker.service",
    "cri-docker.socket",
    "cri-docker.service",
    "cri-dockerd.service",
)
DOCKER = "docker"
UPGRADE = "containerd-upgrade"
MIGRATED = "migrated"
REFUSED = "refused"


def _minor(version: str | None) -> tuple[int, int] | None:
    match = re.match(r"^v?(\d+)\.(\d+)", version or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def _endpoint(facts: Mapping[str, Any], socket: str | None) -> Mapping[str, Any] | None:
    for endpoint in facts.get("endpoints") or []:
        if socket and (endpoint.get("socket") == socket or socket in endpoint.get("aliases", [])):
            return endpoint
    return None


def _socket(endpoint: str | None) -> str | None:
    if not endpoint:
        return None
    return endpoint[len("unix://") :] if endpoint.startswith("unix://") else endpoint


def migration_step(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The node's case and the settings of its switch, from its ``kruise_cri`` facts."""
    kubelet = facts.get("kubelet") or {}
    runtime = kubelet.get("runtime")
    version = kubelet.get("version")
    minor = _minor(version)
    docker = facts.get("docker") or {}
    daemon_json = docker.get("daemon_json") or {}
    step: dict[str, Any] = {
        "case": REFUSED,
        "reason": "",
        "from_runtime": runtime,
        "from_endpoint": kubelet.get("runtime_endpoint"),
        "kubelet_version": version,
        "runtime_flag": minor is not None and minor < (1, 27),
        "config_field": bool(kubelet.get("config_file"))
        and kubelet.get("source") == kubelet.get("config_file"),
        "systemd_cgroup": (kubelet.get("cgroup_driver") or docker.get("cgroup_driver"))
        == "systemd",
        "sandbox_image": kubelet.get("sandbox_image"),
        "registry_mirrors": list(daemon_json.get("registry_mirrors") or []),
        "insecure_registries": list(daemon_json.get("insecure_registries") or []),
        "docker_data_root": daemon_json.get("data_root") or docker.get("root_dir"),
        "endpoint": CONTAINERD_ENDPOINT,
        "docker_units": list(DOCKER_UNITS),
    }
    if minor is None:
        step["reason"] = (
            "the kubelet's version is unknown (kubelet --version gave nothing); it decides "
            "between --container-runtime=remote and containerRuntimeEndpoint: install the "
            "kubelet at /usr/bin/kubelet or fix it"
        )
        return step
    containerd = _endpoint(facts, CONTAINERD_SOCKET)
    if runtime == "docker":
        if containerd is None:
            step["reason"] = (
                f"no containerd socket at {CONTAINERD_SOCKET}: install containerd 1.6 or newer "
                "(Docker's containerd.io, or the distribution's containerd) and start it first"
            )
            return step
        step["case"] = DOCKER
        step["reason"] = (
            f"the kubelet runs Docker through {kubelet.get('runtime_endpoint')}; containerd "
            "beside it will serve CRI v1"
        )
        return step
    if runtime == "containerd":
        served = _endpoint(facts, _socket(kubelet.get("runtime_endpoint")))
        versions = (served or {}).get("cri_api_versions") or []
        if "v1" in versions:
            step["case"] = MIGRATED
            step["reason"] = (
                f"the kubelet runs containerd {(served or {}).get('runtime_version')}, which "
                "serves CRI v1: nothing to migrate"
            )
            return step
        step["case"] = UPGRADE
        step["reason"] = (
            f"the kubelet runs containerd {(served or {}).get('runtime_version') or '(unknown)'}"
            f", which serves CRI {', '.join(versions) or 'nothing'} only"
        )
        return step
    step["reason"] = (
        f"the kubelet runs {runtime or 'an unknown runtime'} at "
        f"{kubelet.get('runtime_endpoint')}; migrate_runtime moves Docker and containerd 1.5 or "
        "older to a containerd that serves CRI v1, not this runtime"
    )
    return step


def unit_states(systemctl_show: str) -> dict[str, dict[str, str]]:
    """``systemctl show -p Id,LoadState,UnitFileState,ActiveState UNIT...`` output, by unit,
    keeping the units that exist."""
    units: dict[str, dict[str, str]] = {}
    for block in systemctl_show.strip().split("\n\n"):
        fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if fields.get("Id") and fields.get("LoadState") == "loaded":
            units[fields["Id"]] = {
                "enabled": fields.get("UnitFileState", ""),
                "active": fields.get("ActiveState", ""),
            }
    return units


# The packages Docker Engine comes in (Docker's own repository, the distributions', Moby's), and
# those containerd comes in. Removing Docker must never take containerd with it (kubespray #8431).
DOCKER_PACKAGES = (
    "docker-ce",
    "docker-ce-cli",
    "docker-ce-rootless-extras",
    "docker-buildx-plugin",
    "docker-compose-plugin",
    "docker.io",
    "docker-engine",
    "docker",
    "moby-engine",
    "moby-cli",
)
CONTAINERD_PACKAGES = ("containerd.io", "containerd", "moby-containerd")


def docker_removal(installed: Mapping[str, Any]) -> dict[str, Any]:
    """Which of ``installed`` (``ansible_facts.packages``) go when Docker is removed, which
    containerd package must stay (marked installed by hand, so no autoremove takes it), and why
    removing is refused when no package holds containerd."""
    remove = [name for name in DOCKER_PACKAGES if name in installed]
    keep = [name for name in CONTAINERD_PACKAGES if name in installed]
    refusal = ""
    if remove and not keep:
        refusal = (
            f"no package of {', '.join(CONTAINERD_PACKAGES)} is installed, so containerd was not "
            f"installed from a package, and removing {', '.join(remove)} could take it with "
            "it: remove Docker by hand, or set kruise_cri_remove_docker=false"
        )
    return {"remove": remove, "keep": keep, "refusal": refusal}
