"""build_facts: evidence (as the node module returns it) -> ansible_facts.kruise_cri."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_facts import (
    builder as facts_builder,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_facts.builder import (
    build_facts,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.kruise_compat import (
    KRUISE_LINES,
    candidate_socket_names,
)

V1 = "v1"
V1A2 = "v1alpha2"
CONTAINERD_SOCK = "/run/containerd/containerd.sock"
FLAGS_ENV = "/var/lib/kubelet/kubeadm-flags.env"
KUBEADM_DROPIN = "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
KUBEADM_DROPIN_TEXT = """\
[Service]
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""
DOCKER_CONTAINERD_IO = 'disabled_plugins = ["cri"]\n'


def call(ok: bool, code: int = 0, details: str = "", **fields: Any) -> dict[str, Any]:
    return {"ok": ok, "code": code, "details": details, "elapsed_ms": 1.0, **fields}


def cri_probes(apis: set[str], runtime_name: str = "", runtime_version: str = "") -> dict:
    probes = {}
    for api in (V1, V1A2):
        if api in apis:
            probes[api] = {
                "version": call(
                    True,
                    version="0.1.0",
                    runtime_name=runtime_name,
                    runtime_version=runtime_version,
                    runtime_api_version=api,
                ),
                "list_images": call(True, count=0),
            }
        else:
            probes[api] = {
                "version": call(False, 12, f"unknown service runtime.{api}.RuntimeService"),
                "list_images": call(False, 12, f"unknown service runtime.{api}.ImageService"),
            }
    return probes


STANDARD = {
    "/run/containerd/containerd.sock": "containerd",
    "/var/run/containerd/containerd.sock": "containerd",
    "/run/k3s/containerd/containerd.sock": "k3s",
    "/var/run/dockershim.sock": "dockershim",
    "/run/cri-dockerd.sock": "cri-dockerd",
    "/var/run/cri-dockerd.sock": "cri-dockerd",
    "/var/run/crio/crio.sock": "crio",
    "/var/run/docker.sock": "docker",
}


def node_sockets(
    live: dict[str, dict[str, Any]], location: str = "/var/run"
) -> list[dict[str, Any]]:
    """The candidate list the node module walks; ``live`` maps resolved socket -> probes.

    /var/run is a symlink to /run, as on most distributions.
    """
    paths: dict[str, list[str]] = {}
    for path, role in STANDARD.items():
        paths.setdefault(path, []).append(role)
    for name in candidate_socket_names():
        paths.setdefault(f"{location}/{name}", []).append("kruise")
    sockets = []
    for path, roles in paths.items():
        resolved = "/run/" + path[len("/var/run/") :] if path.startswith("/var/run/") else path
        probes = live.get(resolved)
        exists = probes is not None
        is_engine = resolved.endswith(("/docker.sock", "/pouchd.sock"))
        sockets.append(
            {
                "path": path,
                "resolved": resolved if exists else None,
                "exists": exists,
                "is_socket": exists,
                "roles": roles,
                "probes": {} if is_engine or not exists else probes,
                "error": None,
            }
        )
    return sockets


def evidence(
    sockets: list[dict[str, Any]],
    files: dict[str, str | None],
    *,
    kubelet_version: str | None = "v1.28.9",
    kubelet_processes: list[list[str]] | None = None,
    containerd_processes: list[list[str]] | None = None,
    docker: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "schema": 1,
        "host_root": "/",
        "probe_timeout": 2.0,
        "sockets": sockets,
        "docker": docker,
        "files": {
            path: {"content": content, "error": None if content is not None else "missing"}
            for path, content in files.items()
        },
        "kubelet_processes": kubelet_processes or [],
        "containerd_processes": containerd_processes or [],
        "kubelet_binary": (
            {
                "path": "/usr/bin/kubelet",
                "version_output": f"Kubernetes {kubelet_version}",
                "error": None,
            }
            if kubelet_version
            else None
        ),
    }


DOCKER_ENGINE = {
    "socket": "/run/docker.sock",
    "ok": True,
    "version": "20.10.24+dfsg1",
    "api_version": "1.41",
    "cgroup_driver": "cgroupfs",
    "root_dir": "/var/lib/docker",
    "registry_mirrors": [],
    "insecure_registries": ["127.0.0.0/8"],
    "error": None,
}


def containerd_node(probes: dict, *, config: str, kubelet_version: str = "v1.28.9") -> dict:
    return evidence(
        node_sockets({CONTAINERD_SOCK: probes}),
        {
            FLAGS_ENV: 'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint='
            'unix:///run/containerd/containerd.sock"\n',
            KUBEADM_DROPIN: KUBEADM_DROPIN_TEXT,
            "/var/lib/kubelet/config.yaml": "kind: KubeletConfiguration\ncgroupDriver: systemd\n",
            "/etc/containerd/config.toml": config,
            "/etc/docker/daemon.json": None,
            "/etc/default/kubelet": None,
        },
        kubelet_version=kubelet_version,
        containerd_processes=[["/usr/bin/containerd"]],
    )


def docker_node() -> dict:
    """Kubelet 1.23 with dockershim; Docker's containerd with CRI disabled."""
    live = {
        CONTAINERD_SOCK: cri_probes(set()),
        "/run/dockershim.sock": cri_probes({V1A2}, "docker", "20.10.24+dfsg1"),
        "/run/docker.sock": {},
    }
    return evidence(
        node_sockets(live),
        {
            FLAGS_ENV: 'KUBELET_KUBEADM_ARGS="--network-plugin=cni"\n',
            KUBEADM_DROPIN: KUBEADM_DROPIN_TEXT,
            "/var/lib/kubelet/config.yaml": "kind: KubeletConfiguration\ncgroupDriver: systemd\n",
            "/etc/containerd/config.toml": DOCKER_CONTAINERD_IO,
            "/etc/docker/daemon.json": '{"registry-mirrors": ["https://mirror.example"],\n'
            ' "exec-opts": ["native.cgroupdriver=systemd"]}\n',
        },
        kubelet_version="v1.23.17",
        docker=DOCKER_ENGINE,
        containerd_processes=[["/usr/bin/containerd", "--config", "/etc/containerd/config.toml"]],
    )


def test_containerd_node_end_to_end() -> None:
    facts = build_facts(
        containerd_node(cri_probes({V1, V1A2}, "containerd", "v1.7.24"), config="version = 2\n")
    )
    assert list(facts) == [
        "schema",
        "host_root",
        "endpoints",
        "docker",
        "containerd_configs",
        "kubelet",
        "kruise_daemon",
        "findings",
    ]
    assert facts["schema"] == 1 and facts["host_root"] == "/"
    [endpoint] = facts["endpoints"]
    assert {k: v for k, v in endpoint.items() if k != "probes"} == {
        "socket": CONTAINERD_SOCK,
        "aliases": ["/var/run/containerd/containerd.sock"],
        "kind": "containerd",
        "runtime_name": "containerd",
        "runtime_version": "v1.7.24",
        "cri_api_versions": [V1, V1A2],
        "error": None,
    }
    assert endpoint["probes"][V1]["version"]["runtime_api_version"] == V1
    assert facts["docker"] is None
    assert facts["containerd_configs"] == [
        {
            "path": "/etc/containerd/config.toml",
            "version": 2,
            "cri_disabled": False,
            "systemd_cgroup": None,
            "sandbox_image": None,
            "grpc_address": CONTAINERD_SOCK,
            "error": None,
        }
    ]
    kubelet = facts["kubelet"]
    assert (kubelet["runtime"], kubelet["runtime_endpoint"], kubelet["source"]) == (
        "containerd",
        "unix:///run/containerd/containerd.sock",
        FLAGS_ENV,
    )
    assert kubelet["cgroup_driver"] == "systemd"
    assert kubelet["version"] == "v1.28.9"
    assert all(facts["kruise_daemon"][line]["compatible"] for line in KRUISE_LINES)
    assert facts["findings"] == []


def test_containerd_1_4_node_is_incompatible_from_1_6() -> None:
    facts = build_facts(
        containerd_node(
            cri_probes({V1A2}, "containerd", "v1.4.13"), config="", kubelet_version="v1.23.17"
        )
    )
    # kubelet 1.23 without --container-runtime=remote still runs dockershim.
    assert facts["kubelet"]["runtime"] == "docker"
    assert facts["endpoints"][0]["cri_api_versions"] == [V1A2]
    verdict = facts["kruise_daemon"]["1.6"]
    assert not verdict["starts"]
    assert verdict["reason"] == (
        "containerd v1.4.13 at /run/containerd/containerd.sock serves only CRI v1alpha2; "
        "kruise-daemon 1.6 needs CRI v1"
    )


def test_docker_node_end_to_end() -> None:
    facts = build_facts(docker_node())
    by_socket = {e["socket"]: e for e in facts["endpoints"]}
    assert set(by_socket) == {CONTAINERD_SOCK, "/run/dockershim.sock"}  # docker.sock is no CRI
    assert by_socket[CONTAINERD_SOCK]["error"] == (
        "CRI plugin disabled: every CRI call answers UNIMPLEMENTED "
        "(disabled_plugins in /etc/containerd/config.toml)"
    )
    assert by_socket[CONTAINERD_SOCK]["cri_api_versions"] == []
    assert by_socket[CONTAINERD_SOCK]["runtime_name"] is None
    dockershim = by_socket["/run/dockershim.sock"]
    assert (dockershim["kind"], dockershim["cri_api_versions"]) == ("dockershim", [V1A2])
    assert facts["containerd_configs"][0]["cri_disabled"] is True

    docker = facts["docker"]
    assert docker["version"] == "20.10.24+dfsg1" and docker["error"] is None
    assert docker["daemon_json"]["registry_mirrors"] == ["https://mirror.example"]
    assert docker["daemon_json"]["cgroup_driver"] == "systemd"

    kubelet = facts["kubelet"]
    assert (kubelet["runtime"], kubelet["generation"]) == ("docker", "dockershim")
    assert kubelet["runtime_endpoint"] == "unix:///var/run/dockershim.sock"

    verdicts = facts["kruise_daemon"]
    assert [verdicts[line]["compatible"] for line in KRUISE_LINES] == [
        True,
        True,
        False,
        False,
        False,
    ]
    assert verdicts["1.5"]["socket"] == "/run/dockershim.sock"
    assert verdicts["1.5"]["runtimes"] == ["docker"]
    assert "kruise-daemon 1.6 needs CRI v1" in verdicts["1.6"]["reason"]
    # Docker's engine says cgroupfs while the kubelet says systemd.
    assert {
        "severity": "warning",
        "source": "/run/docker.sock",
        "message": "Docker uses the cgroupfs cgroup driver, the kubelet systemd",
    } in facts["findings"]


def test_generic_unimplemented_error_without_a_config_saying_why() -> None:
    data = docker_node()
    data["files"]["/etc/containerd/config.toml"] = {"content": None, "error": "missing"}
    facts = build_facts(data)
    containerd = next(e for e in facts["endpoints"] if e["socket"] == CONTAINERD_SOCK)
    assert containerd["error"] == (
        "every CRI call answers UNIMPLEMENTED (unknown service runtime.v1.RuntimeService): "
        "no CRI service on this socket"
    )


def test_k3s_with_its_socket_location() -> None:
    k3s_sock = "/run/k3s/containerd/containerd.sock"
    k3s_config = "/var/lib/rancher/k3s/agent/etc/containerd/config.toml"
    data = evidence(
        node_sockets({k3s_sock: cri_probes({V1, V1A2}, "containerd", "v1.7.15-k3s1")}, "/run/k3s"),
        {k3s_config: 'version = 2\n[grpc]\naddress = "/run/k3s/containerd/containerd.sock"\n'},
        kubelet_version=None,
        kubelet_processes=[["/usr/local/bin/k3s", "server"]],
        containerd_processes=[["containerd", "-c", k3s_config, "-a", k3s_sock]],
    )
    default = build_facts(data)
    assert [e["kind"] for e in default["endpoints"]] == ["k3s"]
    assert default["kubelet"]["runtime_endpoint"] == f"unix://{k3s_sock}"
    assert default["containerd_configs"][0]["grpc_address"] == k3s_sock
    assert not default["kruise_daemon"]["1.6"]["starts"]

    moved = build_facts(data, socket_location="/run/k3s")
    assert moved["kruise_daemon"]["1.6"] == {
        "compatible": True,
        "starts": True,
        "socket": k3s_sock,
        "runtimes": ["containerd"],
        "reason": "kruise-daemon 1.6 would start with containerd v1.7.15-k3s1 at "
        f"{k3s_sock} (CRI v1), the runtime the kubelet uses (containerd)",
        "crash": None,
    }


def test_socket_file_reaches_the_model() -> None:
    live = {
        "/run/cri-dockerd.sock": cri_probes({V1, V1A2}, "docker", "24.0.5"),
        "/run/docker.sock": {},
    }
    data = evidence(
        node_sockets(live),
        {
            FLAGS_ENV: "KUBELET_KUBEADM_ARGS=--container-runtime-endpoint=unix:///run/cri-dockerd.sock"
        },
        docker=DOCKER_ENGINE,
    )
    assert not build_facts(data)["kruise_daemon"]["1.6"]["starts"]
    verdict = build_facts(data, socket_file="cri-dockerd.sock")["kruise_daemon"]["1.6"]
    assert verdict["compatible"], verdict["reason"]


def test_cgroup_driver_mismatch_with_containerd() -> None:
    config = (
        'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n'
        "SystemdCgroup = false\n"
    )
    facts = build_facts(containerd_node(cri_probes({V1}, "containerd", "v2.0.0"), config=config))
    assert {
        "severity": "warning",
        "source": "/etc/containerd/config.toml",
        "message": "SystemdCgroup = false but the kubelet uses the systemd cgroup driver",
    } in facts["findings"]


@pytest.mark.parametrize(
    ("socket_entry", "error"),
    [
        ({"probes": {}, "error": "connection refused"}, "connection refused"),
        ({"probes": {}, "error": None}, "not probed"),
        (
            {
                "probes": {
                    V1: {
                        "version": call(False, 4, "context deadline exceeded"),
                        "list_images": call(False, 4, "context deadline exceeded"),
                    },
                    V1A2: {"version": call(False, 12, "x"), "list_images": call(False, 12, "x")},
                },
                "error": None,
            },
            "no CRI API answered both calls; v1 Version: DEADLINE_EXCEEDED: context deadline "
            "exceeded",
        ),
    ],
)
def test_endpoint_errors_in_plain_words(socket_entry: dict[str, Any], error: str) -> None:
    sockets = [
        {
            "path": "/run/crio/crio.sock",
            "resolved": "/run/crio/crio.sock",
            "exists": True,
            "is_socket": True,
            "roles": ["crio"],
            **socket_entry,
        }
    ]
    facts = build_facts(evidence(sockets, {}))
    assert facts["endpoints"][0]["error"] == error


def test_odd_sockets_become_findings() -> None:
    sockets = [
        {
            "path": "/var/run/dockershim.sock",
            "resolved": "/var/run/dockershim.sock",
            "exists": True,
            "is_socket": False,
            "roles": ["dockershim"],
            "probes": {},
            "error": "not a socket: a directory",
        },
        "not a dict",
        {"no": "path"},
    ]
    facts = build_facts(evidence(sockets, {}))
    assert facts["endpoints"] == []
    messages = [f["message"] for f in facts["findings"]]
    assert "/var/run/dockershim.sock exists but is not a socket (not a socket: a directory)" in (
        messages
    )
    assert "sockets[1] has no path" in messages and "sockets[2] has no path" in messages


def test_containerd_process_config_findings() -> None:
    data = evidence([], {"/etc/containerd/config.toml": None, "/opt/c.toml": None})
    data["containerd_processes"] = [
        ["containerd", "--config=/opt/c.toml"],
        ["containerd", "-c", "/srv/x.toml"],
    ]
    facts = build_facts(data)
    assert facts["containerd_configs"] == []
    messages = [f["message"] for f in facts["findings"]]
    assert "a running containerd names /opt/c.toml, which is missing" in messages
    assert "a running containerd uses /srv/x.toml; it was not read" in messages


def test_daemon_json_without_docker_engine() -> None:
    facts = build_facts(evidence([], {"/etc/docker/daemon.json": "{}"}))
    assert facts["docker"] is None
    assert {
        "severity": "info",
        "source": "/etc/docker/daemon.json",
        "message": "/etc/docker/daemon.json exists but no Docker Engine socket answers",
    } in facts["findings"]


def test_docker_engine_that_does_not_answer() -> None:
    engine = {"socket": "/run/docker.sock", "ok": False, "error": None}
    facts = build_facts(evidence([], {}, docker=engine))
    assert facts["docker"]["error"] == "the Docker Engine API did not answer"
    assert facts["docker"]["daemon_json"]["error"] is None


@pytest.mark.parametrize(
    "bad",
    [
        {},
        None,
        [],
        {
            "schema": 2,
            "sockets": "x",
            "files": [],
            "kubelet_processes": "y",
            "containerd_processes": 5,
            "docker": "z",
            "kubelet_binary": [],
        },
        {
            "schema": 1,
            "sockets": [
                {
                    "path": "/a.sock",
                    "exists": True,
                    "is_socket": True,
                    "roles": "kruise",
                    "probes": {"v1": "x", "v1alpha2": None},
                }
            ],
        },
    ],
)
def test_never_raises_on_odd_evidence(bad: Any) -> None:
    facts = build_facts(bad)
    assert set(facts["kruise_daemon"]) == set(KRUISE_LINES)
    assert facts["kubelet"]["runtime"] is None
    assert isinstance(facts["findings"], list)


def test_wrong_schema_is_a_finding() -> None:
    facts = build_facts({"schema": 7})
    assert {
        "severity": "warning",
        "source": "evidence",
        "message": "evidence schema 7, expected 1",
    } in facts["findings"]


def test_a_failing_section_becomes_an_internal_error_finding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> dict:
        raise KeyError("boom")

    monkeypatch.setattr(facts_builder, "daemon_verdicts", broken)
    facts = build_facts(docker_node())
    assert facts["kruise_daemon"]["1.5"]["starts"] is False
    assert {
        "severity": "error",
        "source": "cri_facts",
        "message": "internal error while building kruise_daemon: KeyError: 'boom'",
    } in facts["findings"]
    assert facts["kubelet"]["runtime"] == "docker"  # the other sections still stand


def test_relative_containerd_config_path_is_not_guessed() -> None:
    data = evidence([], {})
    data["containerd_processes"] = [["containerd", "--config", "config.toml"]]
    facts = build_facts(data)
    assert facts["containerd_configs"] == []
    assert {
        "severity": "info",
        "source": "config.toml",
        "message": "a running containerd uses the relative config path config.toml, which "
        "depends on its working directory; not read",
    } in facts["findings"]


def test_permission_denied_sockets_say_run_as_root() -> None:
    evidence = {
        "schema": 1,
        "host_root": "/",
        "sockets": [
            {
                "path": "/run/containerd/containerd.sock",
                "resolved": "/run/containerd/containerd.sock",
                "exists": True,
                "is_socket": True,
                "roles": ["containerd"],
                "probes": {},
                "error": "permission denied",
            }
        ],
        "docker": None,
        "files": {},
        "kubelet_processes": [],
        "containerd_processes": [],
        "kubelet_binary": None,
    }
    facts = build_facts(evidence)
    assert any(
        "kruise_cri_become" in finding["message"] and finding["severity"] == "error"
        for finding in facts["findings"]
    )
