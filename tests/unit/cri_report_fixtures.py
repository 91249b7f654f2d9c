"""Inputs the cri_report tests share: kruise_cri facts of a mixed fleet, kruise_info's cluster facts
for it, the plan, hostile text, and an HTML tag collector. tests/integration/test_cri_report_action.py
uses them too."""

from __future__ import annotations

import html.parser
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.model import (
    build_report,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.plan import (
    build_plan,
)

GENERATED_AT = "2025-01-02T03:04:05+00:00"


LINES = ("1.4", "1.5", "1.6", "1.7", "1.8")


def endpoint(
    socket: str,
    *,
    kind: str = "containerd",
    runtime_name: str | None = "containerd",
    runtime_version: str | None = None,
    apis: tuple[str, ...] = ("v1",),
    error: str | None = None,
    aliases: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "socket": socket,
        "aliases": list(aliases),
        "kind": kind,
        "runtime_name": runtime_name,
        "runtime_version": runtime_version,
        "cri_api_versions": list(apis),
        "error": error,
        "probes": {},
    }


def docker_engine(version: str = "20.10.24+dfsg1", mirrors: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "socket": "/run/docker.sock",
        "version": version,
        "api_version": "1.41",
        "cgroup_driver": "cgroupfs",
        "daemon_json": {
            "path": "/etc/docker/daemon.json",
            "registry_mirrors": list(mirrors),
            "insecure_registries": [],
            "data_root": None,
            "exec_opts": [],
            "log_driver": None,
            "log_opts": {},
            "error": None,
        },
        "error": None,
    }


def line_verdicts(
    compatible: set[str],
    reasons: dict[str, str],
    *,
    socket: str | None,
    runtime: str,
    overrides: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """kruise_daemon: a compatible line starts on `socket` and manages the kubelet's runtime."""
    verdicts = {}
    for line in LINES:
        ok = line in compatible
        verdicts[line] = {
            "compatible": ok,
            "starts": ok,
            "socket": socket if ok else None,
            "runtimes": [runtime] if ok else [],
            "reason": reasons.get(line, f"kruise-daemon {line}: see endpoints"),
            **overrides.get(line, {}),
        }
    return verdicts


def kruise_facts(
    *,
    endpoints: list[dict[str, Any]],
    kubelet_runtime: str,
    kubelet_endpoint: str,
    compatible_lines: set[str],
    reasons: dict[str, str] | None = None,
    docker: dict[str, Any] | None = None,
    kubelet_version: str | None = "v1.27.3",
    findings: list[dict[str, Any]] | None = None,
    daemon_overrides: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """ansible_facts.kruise_cri for one host, shaped as docs/facts.md describes."""
    first_socket = endpoints[0]["socket"] if endpoints else None
    return {
        "schema": 1,
        "host_root": "/",
        "endpoints": endpoints,
        "docker": docker,
        "containerd_configs": [],
        "kubelet": {
            "runtime_endpoint": kubelet_endpoint,
            "runtime": kubelet_runtime,
            "source": "/var/lib/kubelet/kubeadm-flags.env",
            "container_runtime_flag": "remote",
            "cgroup_driver": "systemd",
            "config_file": "/var/lib/kubelet/config.yaml",
            "version": kubelet_version,
        },
        "kruise_daemon": line_verdicts(
            compatible_lines,
            reasons or {},
            socket=first_socket,
            runtime=kubelet_runtime,
            overrides=daemon_overrides or {},
        ),
        "findings": findings or [],
    }


CONTAINERD_SOCK = "/run/containerd/containerd.sock"


def containerd_node(version: str, apis: tuple[str, ...], lines: set[str], reason: str) -> dict:
    return kruise_facts(
        endpoints=[
            endpoint(
                CONTAINERD_SOCK,
                runtime_version=version,
                apis=apis,
                aliases=("/var/run/containerd/containerd.sock",),
            )
        ],
        kubelet_runtime="containerd",
        kubelet_endpoint="unix:///run/containerd/containerd.sock",
        compatible_lines=lines,
        reasons={"1.6": reason},
    )


def mixed_fleet() -> tuple[dict[str, dict], dict[str, str]]:
    hosts = {
        "node-ctd14": containerd_node(
            "v1.4.13",
            ("v1alpha2",),
            {"1.4", "1.5"},
            f"containerd v1.4.13 at {CONTAINERD_SOCK} serves only CRI v1alpha2; "
            "kruise-daemon 1.6 needs CRI v1",
        ),
        "node-ctd16": containerd_node(
            "v1.6.20",
            ("v1", "v1alpha2"),
            set(LINES),
            f"containerd v1.6.20 at {CONTAINERD_SOCK} serves CRI v1",
        ),
        "node-ctd21": containerd_node(
            "v2.1.9",
            ("v1",),
            {"1.5", "1.6", "1.7", "1.8"},
            f"containerd v2.1.9 at {CONTAINERD_SOCK} serves CRI v1",
        ),
        "node-dockershim": kruise_facts(
            endpoints=[
                endpoint(
                    "/run/dockershim.sock",
                    kind="dockershim",
                    runtime_name="docker",
                    runtime_version="20.10.24+dfsg1",
                    apis=("v1alpha2",),
                )
            ],
            docker=docker_engine(mirrors=("https://mirror.example.invalid",)),
            kubelet_runtime="docker",
            kubelet_endpoint="unix:///var/run/dockershim.sock",
            kubelet_version="v1.23.17",
            compatible_lines={"1.4", "1.5"},
            reasons={
                "1.6": "dockershim at /run/dockershim.sock serves only CRI v1alpha2; "
                "kruise-daemon 1.6 needs CRI v1"
            },
        ),
        "node-docker-cri-ctd": kruise_facts(
            endpoints=[
                endpoint(CONTAINERD_SOCK, runtime_version="v1.6.20", apis=("v1", "v1alpha2")),
                endpoint(
                    "/run/dockershim.sock",
                    kind="dockershim",
                    runtime_name="docker",
                    runtime_version="20.10.24+dfsg1",
                    apis=("v1alpha2",),
                ),
            ],
            docker=docker_engine(),
            kubelet_runtime="docker",
            kubelet_endpoint="unix:///var/run/dockershim.sock",
            kubelet_version="v1.23.17",
            compatible_lines={"1.4", "1.5"},
            reasons={
                "1.6": "kruise-daemon 1.6 starts on containerd v1.6.20 but the kubelet runs "
                "pods on docker, which it cannot manage"
            },
            daemon_overrides={
                line: {"starts": True, "socket": CONTAINERD_SOCK, "runtimes": ["containerd"]}
                for line in ("1.6", "1.7", "1.8")
            },
            findings=[
                {
                    "severity": "warning",
                    "source": "/etc/containerd/config.toml",
                    "message": "containerd serves CRI but the kubelet uses Docker",
                }
            ],
        ),
    }
    unreachable = {"node-gone": "Failed to connect to the host via ssh: Connection timed out"}
    return hosts, unreachable


def sample_report() -> dict[str, Any]:
    hosts, unreachable = mixed_fleet()
    return build_report(
        hosts, kruise_version="1.6.0", generated_at=GENERATED_AT, unreachable=unreachable
    )


EVIL = '<script>alert("x")</script> a|b <img src=x onerror=alert(1)>'


def evil_report() -> dict[str, Any]:
    hosts, _unused = mixed_fleet()
    evil = hosts["node-ctd14"]
    evil["kruise_daemon"]["1.6"]["reason"] = EVIL
    evil["endpoints"][0]["error"] = "</td><script>bad()</script>"
    evil["endpoints"][0]["socket"] = "/run/<script>sock()</script>/c.sock"
    evil["findings"] = [{"severity": "<blink>", "source": "a|b", "message": "<marquee>x"}]
    hosts["<script>host|1"] = hosts.pop("node-ctd16")
    return build_report(hosts, kruise_version="1.6.0", generated_at=GENERATED_AT)


class TagCollector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


CRASH_MESSAGE = (
    "validate service connection: CRI v1 runtime API is not implemented for endpoint "
    '"unix:///hostvarrun/dockershim.sock": rpc error: code = Unimplemented'
)


def cluster_facts(
    *, crash_message: str = CRASH_MESSAGE, crash_pod: str = "kruise-daemon-7xk2p"
) -> dict[str, Any]:
    """kruise_info's kruise dict for the mixed fleet, shaped as docs/cluster-facts.md shows."""

    def node(name: str, runtime: str, kubelet: str, state: str) -> dict[str, Any]:
        kind, _unused, version = runtime.partition("://")
        return {
            "name": name,
            "container_runtime_version": runtime,
            "runtime": kind,
            "runtime_version": version,
            "kubelet_version": kubelet,
            "ready": True,
            "unschedulable": False,
            "daemon_pod": f"kruise-daemon-{name}",
            "daemon_pod_state": state,
        }

    return {
        "schema": 1,
        "api": {"server": "https://10.0.0.1:6443", "version": "v1.30.4"},
        "installed": True,
        "version": "1.6.3",
        "line": "1.6",
        "namespace": "kruise-system",
        "manager": {
            "name": "kruise-controller-manager",
            "image": "openkruise/kruise-manager:v1.6.3",
            "replicas": 2,
            "ready_replicas": 2,
            "args": ["--feature-gates=ImagePullJobGate=true", "--token=manager-arg-secret"],
        },
        "install": {
            "method": "helm",
            "helm": {
                "release": "kruise",
                "namespace": "kruise-system",
                "revision": 3,
                "status": "deployed",
                "chart": "kruise",
                "chart_version": "1.6.3",
                "app_version": "1.6.3",
                "values": {
                    "featureGates": "ImagePullJobGate=true",
                    "daemon": {"socketLocation": "/var/run", "extraEnv": "daemon-secret"},
                    "imagePullSecrets": [{"name": "registry-secret"}],
                },
            },
        },
        "feature_gates": {
            "argument": "ImagePullJobGate=true",
            "gates": {"ImagePullJobGate": True},
            "daemon_enabled": True,
        },
        "daemon": {
            "name": "kruise-daemon",
            "namespace": "kruise-system",
            "image": "openkruise/kruise-manager:v1.6.3",
            "desired": 5,
            "ready": 2,
            "available": 2,
            "updated": 5,
            "socket_location": "/var/run",
            "socket_file": None,
            "crash_looping": [
                {
                    "pod": crash_pod,
                    "node": "node-dockershim",
                    "restarts": 12,
                    "reason": "CrashLoopBackOff",
                    "last_exit_code": 1,
                    "last_message": crash_message,
                },
                {
                    "pod": "kruise-daemon-b8d4q",
                    "node": "node-ctd14",
                    "restarts": 9,
                    "reason": "CrashLoopBackOff",
                    "last_exit_code": 1,
                    "last_message": CRASH_MESSAGE,
                },
            ],
        },
        "nodes": [
            node("node-ctd14", "containerd://1.4.13", "v1.22.17", "crash-looping"),
            node("node-ctd16", "containerd://1.6.20", "v1.26.15", "running"),
            node("node-ctd21", "containerd://2.1.9", "v1.33.1", "running"),
            node("node-docker-cri-ctd", "docker://20.10.24", "v1.23.17", "crash-looping"),
            node("node-dockershim", "docker://20.10.24", "v1.23.17", "crash-looping"),
        ],
        "feature_use": {
            "kinds": {
                "ContainerRecreateRequest": {"crd": True, "count": 3},
                "ImagePullJob": {"crd": True, "count": 0, "active": 0},
                "NodePodProbe": {"crd": False, "count": 0},
            },
            "predownload_workloads": {"count": 0, "examples": []},
            "sidecar_terminator_pods": {"count": 0, "examples": []},
            "in_use": True,
            "summary": ["3 ContainerRecreateRequests"],
        },
        "findings": [
            {
                "severity": "warning",
                "source": "apps.kruise.io/v1alpha1 NodePodProbe",
                "message": "CRD not installed",
            }
        ],
        "requests": {"count": 23, "by_resource": {"nodes": 1, "pods": 2}, "seconds": 1.8},
    }


def planned_report(
    cluster: dict[str, Any] | None = None, *, with_cluster: bool = True
) -> dict[str, Any]:
    hosts, unreachable = mixed_fleet()
    cluster = (cluster or cluster_facts()) if with_cluster else None
    plan = build_plan(
        {**hosts, **dict.fromkeys(unreachable)},
        cluster,
        target_version="1.6.0",
        shipped_playbooks=["assess"],
        inventory_hint="inventories/prod/hosts.yml",
    )
    return build_report(
        hosts,
        kruise_version="1.6.0",
        generated_at=GENERATED_AT,
        unreachable=unreachable,
        cluster=cluster,
        plan=plan,
    )


PIN_COMMAND = (
    "ansible-playbook kruise_cri.remediation.pin_kruise -i inventories/prod/hosts.yml "
    "-e kruise_cri_target_version=1.5.5"
)
