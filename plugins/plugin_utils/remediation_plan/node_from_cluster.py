"""A node's verdict inferred from the cluster (status.nodeInfo: runtime and kubelet version)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    BRIDGE_LINE,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.fact_values import (
    as_text,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.kruise_compat import (
    V1,
    V1ALPHA2,
    cri_apis_of_line,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.installation import (
    Installation,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.nodes import (
    RUNTIME_FAMILIES,
    Node,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.versions import (
    major_minor,
)


def node_from_cluster(
    name: str, host: str | None, entry: Mapping[str, Any], line: str, install: Installation
) -> Node:
    label = as_text(entry.get("container_runtime_version"))
    runtime_name = as_text(entry.get("runtime"))
    version = as_text(entry.get("runtime_version"))
    if runtime_name is None and label and "://" in label:
        runtime_name, version = label.split("://", 1)
    runtime = RUNTIME_FAMILIES.get(runtime_name or "", runtime_name)
    kubelet_version = as_text(entry.get("kubelet_version"))
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


def _served_apis(
    runtime: str | None, version: str | None, kubelet_version: str | None
) -> tuple[frozenset[str] | None, str, Literal["inferred", "assumed"]]:
    """The CRI APIs the kubelet's runtime serves, as far as status.nodeInfo tells."""
    numbers = major_minor(version)
    if runtime == "docker":
        kubelet = major_minor(kubelet_version)
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
        numbers = major_minor(version)
        if numbers is not None and numbers[0] >= 25:
            return (
                False,
                f"kruise-daemon {line} lists Docker images with Engine API 1.23, which Docker "
                f"{version} refuses",
            )
    if apis & needed:
        return True, f"kruise-daemon {line} speaks CRI {' or '.join(sorted(needed & apis))}"
    return False, f"kruise-daemon {line} needs CRI {' or '.join(sorted(needed))}"


def _is_k3s(kubelet_version: str | None) -> bool:
    return kubelet_version is not None and ("+k3s" in kubelet_version or "+rke2" in kubelet_version)
