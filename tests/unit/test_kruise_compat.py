"""kruise-daemon compatibility model: every line against every kind of node.

Evidence entries below have the shape cri_facts' node module returns (docs/facts.md); the probe
details strings are those real runtimes answer.
"""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.kruise_compat import (
    KRUISE_LINES,
    candidate_socket_names,
    daemon_verdict,
    daemon_verdicts,
    line_of,
    served_apis,
)

V1 = "v1"
V1A2 = "v1alpha2"


def call_ok(**fields: Any) -> dict[str, Any]:
    return {"ok": True, "code": 0, "details": "", "elapsed_ms": 1.0, **fields}


def call_failed(code: int, details: str) -> dict[str, Any]:
    return {"ok": False, "code": code, "details": details, "elapsed_ms": 0.5}


def cri_probes(apis: set[str], runtime_name: str, runtime_version: str) -> dict[str, Any]:
    """What a runtime serving exactly ``apis`` answers to Version and ListImages."""
    probes = {}
    for api in (V1, V1A2):
        if api in apis:
            probes[api] = {
                "version": call_ok(
                    version="0.1.0",
                    runtime_name=runtime_name,
                    runtime_version=runtime_version,
                    runtime_api_version=api,
                ),
                "list_images": call_ok(count=3),
            }
        else:
            probes[api] = {
                "version": call_failed(12, f"unknown service runtime.{api}.RuntimeService"),
                "list_images": call_failed(12, f"unknown service runtime.{api}.ImageService"),
            }
    return probes


def socket(
    path: str,
    probes: dict[str, Any] | None = None,
    *,
    resolved: str | None = None,
    roles: tuple[str, ...] = ("kruise",),
    exists: bool = True,
    is_socket: bool = True,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "path": path,
        "resolved": (resolved or path) if exists else None,
        "exists": exists,
        "is_socket": is_socket,
        "roles": list(roles),
        "probes": probes or {},
        "error": error,
    }


def var_run(name: str, probes: dict[str, Any] | None = None, **kw: Any) -> list[dict[str, Any]]:
    """A runtime socket at /run/NAME seen both as /run/NAME and /var/run/NAME (symlinked)."""
    roles = kw.pop("roles", ("containerd",))
    return [
        socket(f"/run/{name}", probes, roles=roles, **kw),
        socket(f"/var/run/{name}", probes, resolved=f"/run/{name}", roles=("kruise",), **kw),
    ]


CONTAINERD_1_4 = cri_probes({V1A2}, "containerd", "v1.4.13")
CONTAINERD_1_6 = cri_probes({V1, V1A2}, "containerd", "v1.6.20")
CONTAINERD_1_7 = cri_probes({V1, V1A2}, "containerd", "v1.7.24")
CONTAINERD_2_1 = cri_probes({V1}, "containerd", "v2.1.9")
CRI_DISABLED = cri_probes(set(), "containerd", "")
DOCKERSHIM = cri_probes({V1A2}, "docker", "20.10.24+dfsg1")
CRI_DOCKERD_0_2 = cri_probes({V1A2}, "docker", "20.10.24+dfsg1")
CRI_DOCKERD_0_3 = cri_probes({V1, V1A2}, "docker", "20.10.24+dfsg1")
CRIO_1_24 = cri_probes({V1, V1A2}, "cri-o", "1.24.6")

CONTAINERD_ENDPOINT = "unix:///run/containerd/containerd.sock"
DOCKERSHIM_ENDPOINT = "unix:///var/run/dockershim.sock"


def containerd_node(probes: dict[str, Any]) -> list[dict[str, Any]]:
    return var_run("containerd/containerd.sock", probes)


def docker_dockershim_node(containerd_probes: dict[str, Any]) -> list[dict[str, Any]]:
    """Kubelet <= 1.23 with dockershim; Docker's containerd beside it."""
    return [
        *var_run("containerd/containerd.sock", containerd_probes),
        socket(
            "/var/run/dockershim.sock",
            DOCKERSHIM,
            resolved="/run/dockershim.sock",
            roles=("dockershim", "kruise"),
        ),
        socket("/var/run/docker.sock", resolved="/run/docker.sock", roles=("docker", "kruise")),
    ]


def cri_dockerd_node(
    cri_dockerd: dict[str, Any],
    path: str = "cri-dockerd.sock",
    containerd_probes: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    if containerd_probes is None:
        containerd_probes = CRI_DISABLED
    return [
        *var_run("containerd/containerd.sock", containerd_probes),
        *var_run(path, cri_dockerd, roles=("cri-dockerd",)),
        socket("/var/run/docker.sock", resolved="/run/docker.sock", roles=("docker", "kruise")),
    ]


def k3s_node(location: str) -> list[dict[str, Any]]:
    k3s = socket("/run/k3s/containerd/containerd.sock", CONTAINERD_1_7, roles=("k3s", "kruise"))
    missing = [
        socket(f"{location}/{name}", exists=False, is_socket=False)
        for name in candidate_socket_names()
        if f"{location}/{name}" != k3s["path"]
    ]
    return [k3s, *missing]


def crio_node() -> list[dict[str, Any]]:
    return var_run("crio/crio.sock", CRIO_1_24, roles=("crio",))


# (node, sockets, kubelet family, kubelet endpoint, socket location, socket file,
#  {line: (starts, compatible, socket, reason fragment)})
Y = True
N = False
CASES: list[tuple[str, list[dict[str, Any]], str | None, str | None, str, str | None, dict]] = [
    (
        "containerd 1.4 (v1alpha2 only)",
        containerd_node(CONTAINERD_1_4),
        "containerd",
        CONTAINERD_ENDPOINT,
        "/var/run",
        None,
        {
            "1.4": (Y, Y, "/run/containerd/containerd.sock", "(CRI v1alpha2)"),
            "1.5": (Y, Y, "/run/containerd/containerd.sock", "(CRI v1alpha2)"),
            "1.6": (
                N,
                N,
                None,
                "containerd v1.4.13 at /run/containerd/containerd.sock serves "
                "only CRI v1alpha2; kruise-daemon 1.6 needs CRI v1",
            ),
            "1.7": (N, N, None, "kruise-daemon 1.7 needs CRI v1"),
            "1.8": (N, N, None, "kruise-daemon 1.8 needs CRI v1"),
        },
    ),
    (
        "containerd 1.6 (both APIs)",
        containerd_node(CONTAINERD_1_6),
        "containerd",
        CONTAINERD_ENDPOINT,
        "/var/run",
        None,
        {
            "1.4": (Y, Y, "/run/containerd/containerd.sock", "containerd v1.6.20"),
            "1.5": (Y, Y, "/run/containerd/containerd.sock", "(CRI v1)"),
            "1.6": (Y, Y, "/run/containerd/containerd.sock", "(CRI v1)"),
            "1.7": (Y, Y, "/run/containerd/containerd.sock", "(CRI v1)"),
            "1.8": (Y, Y, "/run/containerd/containerd.sock", "(CRI v1)"),
        },
    ),
    (
        "containerd 1.7 (both APIs)",
        containerd_node(CONTAINERD_1_7),
        "containerd",
        CONTAINERD_ENDPOINT,
        "/var/run",
        None,
        {
            line: (Y, Y, "/run/containerd/containerd.sock", "containerd v1.7.24")
            for line in KRUISE_LINES
        },
    ),
    (
        "containerd 2.1 (v1 only)",
        containerd_node(CONTAINERD_2_1),
        "containerd",
        CONTAINERD_ENDPOINT,
        "/var/run",
        None,
        {
            "1.4": (
                N,
                N,
                None,
                "containerd v2.1.9 at /run/containerd/containerd.sock serves "
                "only CRI v1; kruise-daemon 1.4 needs CRI v1alpha2",
            ),
            "1.5": (Y, Y, "/run/containerd/containerd.sock", "(CRI v1)"),
            "1.6": (Y, Y, "/run/containerd/containerd.sock", "(CRI v1)"),
            "1.7": (Y, Y, "/run/containerd/containerd.sock", "(CRI v1)"),
            "1.8": (Y, Y, "/run/containerd/containerd.sock", "(CRI v1)"),
        },
    ),
    (
        "docker + dockershim, Docker's containerd with CRI disabled",
        docker_dockershim_node(CRI_DISABLED),
        "docker",
        DOCKERSHIM_ENDPOINT,
        "/var/run",
        None,
        {
            "1.4": (Y, Y, "/run/dockershim.sock", "(docker (dockershim))"),
            "1.5": (Y, Y, "/run/dockershim.sock", "(CRI v1alpha2)"),
            "1.6": (
                N,
                N,
                None,
                "docker 20.10.24+dfsg1 at /run/dockershim.sock serves only CRI "
                "v1alpha2; kruise-daemon 1.6 needs CRI v1",
            ),
            "1.7": (N, N, None, "its CRI service is off"),
            "1.8": (
                N,
                N,
                None,
                "/run/containerd/containerd.sock answers UNIMPLEMENTED to every "
                "CRI call (unknown service runtime.v1.RuntimeService)",
            ),
        },
    ),
    (
        "docker + dockershim, CRI-enabled containerd 1.6 beside it",
        docker_dockershim_node(CONTAINERD_1_6),
        "docker",
        DOCKERSHIM_ENDPOINT,
        "/var/run",
        None,
        {
            "1.4": (Y, Y, "/run/dockershim.sock", "the runtime the kubelet uses"),
            "1.5": (Y, Y, "/run/dockershim.sock", "the runtime the kubelet uses"),
            "1.6": (
                Y,
                N,
                "/run/containerd/containerd.sock",
                "kruise-daemon 1.6 would start with containerd v1.6.20 at "
                "/run/containerd/containerd.sock (CRI v1), but the kubelet runs pods on "
                "docker (dockershim); container restarts and image pre-download would not "
                "work for this node's pods",
            ),
            "1.7": (Y, N, "/run/containerd/containerd.sock", "serves only CRI v1alpha2"),
            "1.8": (Y, N, "/run/containerd/containerd.sock", "docker (dockershim)"),
        },
    ),
    (
        "cri-dockerd 0.2 at /run/cri-dockerd.sock (v1alpha2 only)",
        cri_dockerd_node(CRI_DOCKERD_0_2),
        "docker",
        "unix:///run/cri-dockerd.sock",
        "/var/run",
        None,
        {
            "1.4": (N, N, None, "daemon.socketFile=cri-dockerd.sock would select it"),
            "1.5": (
                N,
                N,
                None,
                "/var/run/docker.sock is there but /var/run/dockershim.sock is "
                "not, so kruise-daemon 1.5 skips docker",
            ),
            "1.6": (
                N,
                N,
                None,
                "docker 20.10.24+dfsg1 at /run/cri-dockerd.sock serves only "
                "CRI v1alpha2; kruise-daemon 1.6 needs CRI v1",
            ),
            "1.7": (
                N,
                N,
                None,
                "docker 20.10.24+dfsg1 at /run/cri-dockerd.sock serves only "
                "CRI v1alpha2; kruise-daemon 1.7 needs CRI v1",
            ),
            "1.8": (N, N, None, "kruise-daemon 1.8 needs CRI v1"),
        },
    ),
    (
        "cri-dockerd 0.2 selected with daemon.socketFile",
        cri_dockerd_node(CRI_DOCKERD_0_2),
        "docker",
        "unix:///run/cri-dockerd.sock",
        "/var/run",
        "cri-dockerd.sock",
        {
            "1.4": (Y, Y, "/run/cri-dockerd.sock", "(docker (cri-dockerd))"),
            "1.5": (Y, Y, "/run/cri-dockerd.sock", "(CRI v1alpha2)"),
            "1.6": (N, N, None, "serves only CRI v1alpha2; kruise-daemon 1.6 needs CRI v1"),
            "1.7": (N, N, None, "kruise-daemon 1.7 needs CRI v1"),
            "1.8": (N, N, None, "kruise-daemon 1.8 needs CRI v1"),
        },
    ),
    (
        "cri-dockerd 0.3 at /run/cri-dockerd.sock",
        cri_dockerd_node(CRI_DOCKERD_0_3),
        "docker",
        "unix:///run/cri-dockerd.sock",
        "/var/run",
        None,
        {
            "1.4": (
                N,
                N,
                None,
                "cri-dockerd's socket /run/cri-dockerd.sock is not among the "
                "names kruise-daemon 1.4 looks for; daemon.socketFile=cri-dockerd.sock",
            ),
            "1.5": (N, N, None, "daemon.socketFile=cri-dockerd.sock"),
            "1.6": (N, N, None, "daemon.socketFile=cri-dockerd.sock"),
            "1.7": (
                Y,
                Y,
                "/run/cri-dockerd.sock",
                "docker 20.10.24+dfsg1 at "
                "/run/cri-dockerd.sock (CRI v1), the runtime the kubelet uses",
            ),
            "1.8": (Y, Y, "/run/cri-dockerd.sock", "(docker (cri-dockerd))"),
        },
    ),
    (
        "cri-dockerd 0.3 selected with daemon.socketFile",
        cri_dockerd_node(CRI_DOCKERD_0_3),
        "docker",
        "unix:///run/cri-dockerd.sock",
        "/var/run",
        "cri-dockerd.sock",
        {line: (Y, Y, "/run/cri-dockerd.sock", "docker (cri-dockerd)") for line in KRUISE_LINES},
    ),
    (
        "cri-dockerd 0.3 at /run/cri-dockerd/cri-dockerd.sock",
        cri_dockerd_node(CRI_DOCKERD_0_3, "cri-dockerd/cri-dockerd.sock"),
        "docker",
        "unix:///run/cri-dockerd/cri-dockerd.sock",
        "/var/run",
        None,
        {
            "1.4": (N, N, None, "daemon.socketFile=cri-dockerd/cri-dockerd.sock"),
            "1.5": (N, N, None, "daemon.socketFile=cri-dockerd/cri-dockerd.sock"),
            "1.6": (N, N, None, "daemon.socketFile=cri-dockerd/cri-dockerd.sock"),
            "1.7": (N, N, None, "daemon.socketFile=cri-dockerd/cri-dockerd.sock"),
            "1.8": (Y, Y, "/run/cri-dockerd/cri-dockerd.sock", "(CRI v1)"),
        },
    ),
    (
        "cri-dockerd 0.3 with Docker's containerd serving CRI too",
        cri_dockerd_node(CRI_DOCKERD_0_3, containerd_probes=CONTAINERD_1_6),
        "docker",
        "unix:///run/cri-dockerd.sock",
        "/var/run",
        None,
        {
            "1.4": (
                Y,
                N,
                "/run/containerd/containerd.sock",
                "but the kubelet runs pods on docker (cri-dockerd)",
            ),
            "1.5": (Y, N, "/run/containerd/containerd.sock", "daemon.socketFile=cri-dockerd.sock"),
            "1.6": (Y, N, "/run/containerd/containerd.sock", "docker (cri-dockerd)"),
            "1.7": (
                Y,
                N,
                "/run/containerd/containerd.sock",
                "it can restart docker containers "
                "through /run/cri-dockerd.sock, but image pre-download and pod probes go to "
                "its first runtime, containerd v1.6.20 at /run/containerd/containerd.sock",
            ),
            "1.8": (Y, N, "/run/containerd/containerd.sock", "image pre-download and pod probes"),
        },
    ),
    (
        "CRI-O 1.24",
        crio_node(),
        "crio",
        "unix:///var/run/crio/crio.sock",
        "/var/run",
        None,
        {line: (Y, Y, "/run/crio/crio.sock", "cri-o 1.24.6") for line in KRUISE_LINES},
    ),
    (
        "k3s, default daemon.socketLocation",
        k3s_node("/var/run"),
        "containerd",
        "unix:///run/k3s/containerd/containerd.sock",
        "/var/run",
        None,
        {
            line: (
                N,
                N,
                None,
                "no CRI socket under /var/run (daemon.socketLocation) that "
                f"kruise-daemon {line} looks for; k3s's socket "
                "/run/k3s/containerd/containerd.sock is found only with "
                "daemon.socketLocation=/run/k3s",
            )
            for line in KRUISE_LINES
        },
    ),
    (
        "k3s, daemon.socketLocation=/run/k3s",
        k3s_node("/run/k3s"),
        "containerd",
        "unix:///run/k3s/containerd/containerd.sock",
        "/run/k3s",
        None,
        {
            line: (Y, Y, "/run/k3s/containerd/containerd.sock", "the runtime the kubelet uses")
            for line in KRUISE_LINES
        },
    ),
    (
        "k3s next to a CRI-enabled system containerd",
        [*containerd_node(CONTAINERD_1_7), *k3s_node("/var/run")],
        "containerd",
        "unix:///run/k3s/containerd/containerd.sock",
        "/var/run",
        None,
        {
            line: (
                Y,
                N,
                "/run/containerd/containerd.sock",
                "for containerd containers it would use "
                "/run/containerd/containerd.sock, but the kubelet's containerd is at "
                "/run/k3s/containerd/containerd.sock",
            )
            for line in KRUISE_LINES
        },
    ),
    (
        "daemon.socketFile naming a socket that exists",
        containerd_node(CONTAINERD_1_7),
        "containerd",
        CONTAINERD_ENDPOINT,
        "/var/run",
        "containerd/containerd.sock",
        {
            line: (Y, Y, "/run/containerd/containerd.sock", "the runtime the kubelet uses")
            for line in KRUISE_LINES
        },
    ),
    (
        "daemon.socketFile naming a socket that is not there",
        containerd_node(CONTAINERD_1_7),
        "containerd",
        CONTAINERD_ENDPOINT,
        "/var/run",
        "containerd.sock",
        {
            line: (
                N,
                N,
                None,
                "daemon.socketFile=containerd.sock: /var/run/containerd.sock does "
                f"not exist, and kruise-daemon {line} does not fall back to detection",
            )
            for line in KRUISE_LINES
        },
    ),
    (
        "no sockets at all",
        [],
        "containerd",
        CONTAINERD_ENDPOINT,
        "/var/run",
        None,
        {
            line: (
                N,
                N,
                None,
                "no CRI socket under /var/run (daemon.socketLocation) that "
                f"kruise-daemon {line} looks for",
            )
            for line in KRUISE_LINES
        },
    ),
    (
        "a socket that exists but refuses connections",
        var_run("containerd/containerd.sock", None, error="connection refused"),
        "containerd",
        CONTAINERD_ENDPOINT,
        "/var/run",
        None,
        {
            line: (
                N,
                N,
                None,
                "/var/run/containerd/containerd.sock does not answer: connection refused",
            )
            for line in KRUISE_LINES
        },
    ),
    (
        "a directory where the socket should be",
        var_run(
            "containerd/containerd.sock", None, is_socket=False, error="not a socket: a directory"
        ),
        "containerd",
        CONTAINERD_ENDPOINT,
        "/var/run",
        None,
        {
            line: (N, N, None, "exists but is not a socket (not a socket: a directory)")
            for line in KRUISE_LINES
        },
    ),
    (
        "kubelet runtime unknown",
        containerd_node(CONTAINERD_1_7),
        None,
        None,
        "/var/run",
        None,
        {
            line: (
                Y,
                Y,
                "/run/containerd/containerd.sock",
                "the kubelet's runtime could not be determined",
            )
            for line in KRUISE_LINES
        },
    ),
    (
        "kubelet runtime unknown and nothing starts",
        containerd_node(CONTAINERD_1_4),
        None,
        None,
        "/var/run",
        None,
        {
            "1.4": (Y, Y, "/run/containerd/containerd.sock", "could not be determined"),
            "1.5": (Y, Y, "/run/containerd/containerd.sock", "could not be determined"),
            "1.6": (N, N, None, "serves only CRI v1alpha2"),
            "1.7": (N, N, None, "serves only CRI v1alpha2"),
            "1.8": (N, N, None, "serves only CRI v1alpha2"),
        },
    ),
]


@pytest.mark.parametrize(
    ("node", "sockets", "family", "endpoint", "location", "socket_file", "expected"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_every_line_on_every_node(
    node: str,
    sockets: list[dict[str, Any]],
    family: str | None,
    endpoint: str | None,
    location: str,
    socket_file: str | None,
    expected: dict[str, tuple[bool, bool, str | None, str]],
) -> None:
    verdicts = daemon_verdicts(
        sockets,
        family,
        socket_location=location,
        socket_file=socket_file,
        docker_api_ok=True,
        kubelet_endpoint=endpoint,
    )
    assert list(verdicts) == list(KRUISE_LINES)
    for line, (starts, compatible, first_socket, fragment) in expected.items():
        verdict = verdicts[line]
        assert list(verdict) == ["compatible", "starts", "socket", "runtimes", "reason", "crash"]
        assert (verdict["crash"] is None) == starts, f"{node} / {line}: {verdict['crash']}"
        assert (verdict["starts"], verdict["compatible"], verdict["socket"]) == (
            starts,
            compatible,
            first_socket,
        ), f"{node} / {line}: {verdict['reason']}"
        assert fragment in verdict["reason"], f"{node} / {line}: {verdict['reason']}"
        assert bool(verdict["runtimes"]) == starts


CONTAINERD_1_4 = cri_probes({V1A2}, "containerd", "v1.4.13")


@pytest.mark.parametrize(
    ("sockets", "line", "exit_code", "kind", "cause"),
    [
        # From 1.5 a CRI image service that cannot be created leaves the factory's error unset:
        # nothing passes, NewFactory returns (nil, nil) and the daemon panics on the nil factory.
        (containerd_node(CONTAINERD_1_4), "1.6", 2, "panic", "serves only CRI v1alpha2"),
        (containerd_node(CRI_DISABLED), "1.6", 2, "panic", "UNIMPLEMENTED to every CRI call"),
        (containerd_node(CRI_DISABLED), "1.8", 2, "panic", "its CRI service is off"),
        # 1.5 falls back to v1alpha2 unprobed, so ListImages fails and sets the error: fatal.
        (containerd_node(CRI_DISABLED), "1.5", 255, "fatal", "its CRI service is off"),
        # 1.4 creates the image service without a call: ListImages again.
        (containerd_node(CONTAINERD_2_1), "1.4", 255, "fatal", "serves only CRI v1"),
        # dockershim fails at the runtime service, which sets the error even though Docker's
        # CRI-disabled containerd fails afterwards: the dockershim message, exit 255.
        (docker_dockershim_node(CRI_DISABLED), "1.6", 255, "fatal", "dockershim.sock"),
        (docker_dockershim_node(CRI_DISABLED), "1.7", 255, "fatal", "dockershim.sock"),
        # 1.8 has no Docker candidate left: only the CRI-disabled containerd, a panic.
        (docker_dockershim_node(CRI_DISABLED), "1.8", 2, "panic", "its CRI service is off"),
        ([], "1.6", 255, "fatal", "not found container runtime sock"),
    ],
    ids=[
        "containerd 1.4, 1.6",
        "CRI off, 1.6",
        "CRI off, 1.8",
        "CRI off, 1.5",
        "containerd 2, 1.4",
        "dockershim + CRI off, 1.6",
        "dockershim + CRI off, 1.7",
        "dockershim + CRI off, 1.8",
        "no socket, 1.6",
    ],
)
def test_how_a_daemon_that_finds_no_runtime_ends(
    sockets: list[dict[str, Any]], line: str, exit_code: int, kind: str, cause: str
) -> None:
    verdict = daemon_verdicts(sockets, "containerd", docker_api_ok=True)[line]
    assert verdict["starts"] is False
    crash = verdict["crash"]
    assert (crash["exit_code"], crash["kind"]) == (exit_code, kind), crash
    assert cause in crash["cause"], crash


def test_runtimes_lists_every_passing_runtime_in_detection_order() -> None:
    sockets = [*docker_dockershim_node(CONTAINERD_1_6), *crio_node()]
    verdicts = daemon_verdicts(
        sockets, "docker", docker_api_ok=True, kubelet_endpoint=DOCKERSHIM_ENDPOINT
    )
    assert verdicts["1.5"]["runtimes"] == ["docker", "containerd", "cri-o"]
    assert verdicts["1.6"]["runtimes"] == ["containerd", "cri-o"]
    assert verdicts["1.6"]["socket"] == "/run/containerd/containerd.sock"


def test_docker_candidate_needs_the_docker_engine_api() -> None:
    sockets = docker_dockershim_node(CRI_DISABLED)
    verdict = daemon_verdict(
        "1.5", sockets, "docker", docker_api_ok=False, kubelet_endpoint=DOCKERSHIM_ENDPOINT
    )
    assert not verdict["starts"]
    assert "the Docker Engine API at /var/run/docker.sock does not answer" in verdict["reason"]


def test_unchecked_docker_engine_api_is_said_in_the_reason() -> None:
    verdict = daemon_verdict(
        "1.4",
        docker_dockershim_node(CRI_DISABLED),
        "docker",
        docker_api_ok=None,
        kubelet_endpoint=DOCKERSHIM_ENDPOINT,
    )
    assert verdict["compatible"]
    assert "the Docker Engine API at /var/run/docker.sock was not checked" in verdict["reason"]


@pytest.mark.parametrize(
    ("docker_version", "line", "refused_by"),
    [
        ("20.10.24+dfsg1", "1.5", None),
        ("24.0.7", "1.4", None),
        ("25.0.3", "1.4", "1.24"),  # kruise 1.4/1.5 pin Engine API 1.23
        ("28.1.1", "1.5", "1.24"),
        ("29.0.4", "1.5", "1.44"),
        ("29.0.4", "1.6", "1.44"),  # 1.6/1.7 pin 1.24
    ],
)
def test_pinned_docker_client_api_against_newer_engines(
    docker_version: str, line: str, refused_by: str | None
) -> None:
    verdict = daemon_verdict(
        line,
        docker_dockershim_node(CRI_DISABLED),
        "docker",
        docker_api_ok=True,
        docker_version=docker_version,
        kubelet_endpoint=DOCKERSHIM_ENDPOINT,
    )
    assert verdict["starts"] is (refused_by is None), verdict["reason"]
    if refused_by:
        assert (
            f"which Docker {docker_version} refuses (its minimum is {refused_by})"
            in verdict["reason"]
        )


def test_dockershim_without_docker_sock_is_skipped() -> None:
    sockets = [s for s in docker_dockershim_node(CRI_DISABLED) if "docker.sock" not in s["path"]]
    verdict = daemon_verdict(
        "1.5", sockets, "docker", docker_api_ok=True, kubelet_endpoint=DOCKERSHIM_ENDPOINT
    )
    assert not verdict["starts"]
    assert (
        "/var/run/dockershim.sock is there but /var/run/docker.sock is not, so "
        "kruise-daemon 1.5 skips docker"
    ) in verdict["reason"]


@pytest.mark.parametrize("line", ["1.4", "1.5"])
def test_the_socket_file_hint_for_dockershim_names_the_pair_and_the_runtime_name(line) -> None:
    sockets = [s for s in docker_dockershim_node(CRI_DISABLED) if "docker.sock" not in s["path"]]
    verdict = daemon_verdict(
        line, sockets, "docker", docker_api_ok=True, kubelet_endpoint=DOCKERSHIM_ENDPOINT
    )
    assert "not among the names" not in verdict["reason"]
    assert (
        f"kruise-daemon {line} looks for dockershim's socket /run/dockershim.sock only as a pair "
        "with docker.sock; daemon.socketFile=dockershim.sock selects it alone, and the runtime "
        "name it reports (docker) decides whether kruise-daemon can act on the kubelet's pods"
    ) in verdict["reason"]


def test_1_5_falls_back_to_v1alpha2_only_on_unimplemented() -> None:
    probes = cri_probes({V1A2}, "containerd", "v1.4.13")
    probes[V1]["list_images"] = call_failed(14, "connection closed")
    sockets = containerd_node(probes)
    verdict = daemon_verdict("1.5", sockets, "containerd", kubelet_endpoint=CONTAINERD_ENDPOINT)
    assert not verdict["starts"]
    assert (
        "CRI v1 ListImages on /run/containerd/containerd.sock failed with UNAVAILABLE: "
        "connection closed"
    ) in verdict["reason"]
    assert daemon_verdict("1.4", sockets, "containerd")["starts"]


def test_1_5_picks_image_and_runtime_api_separately() -> None:
    probes = cri_probes({V1, V1A2}, "containerd", "v1.6.0")
    probes[V1]["version"] = call_failed(12, "unknown service runtime.v1.RuntimeService")
    verdict = daemon_verdict("1.5", containerd_node(probes), "containerd")
    assert verdict["starts"]
    assert "(CRI v1alpha2)" in verdict["reason"]
    assert not daemon_verdict("1.6", containerd_node(probes), "containerd")["starts"]


def test_version_answer_with_empty_fields_fails_validation() -> None:
    probes = cri_probes({V1}, "containerd", "v2.0.0")
    probes[V1]["version"]["runtime_api_version"] = ""
    verdict = daemon_verdict("1.6", containerd_node(probes), "containerd")
    assert not verdict["starts"]
    assert "leaves runtime_api_version empty" in verdict["reason"]


def test_pouch_is_detected_before_docker_until_1_8() -> None:
    pouch = cri_probes({V1, V1A2}, "pouch", "1.3.0")
    sockets = [
        socket("/var/run/pouchd.sock", roles=("kruise",)),
        socket("/var/run/pouchcri.sock", pouch, roles=("pouch", "kruise")),
        *containerd_node(CONTAINERD_1_7),
    ]
    verdicts = daemon_verdicts(sockets, "pouch", kubelet_endpoint="unix:///var/run/pouchcri.sock")
    for line in ("1.4", "1.5", "1.6", "1.7"):
        assert verdicts[line]["runtimes"] == ["pouch", "containerd"], line
        assert verdicts[line]["compatible"], verdicts[line]["reason"]
    assert verdicts["1.8"]["runtimes"] == ["containerd"]
    assert not verdicts["1.8"]["compatible"]


def test_socket_location_is_normalised() -> None:
    verdict = daemon_verdict("1.6", k3s_node("/run/k3s"), "containerd", socket_location="/run/k3s/")
    assert verdict["socket"] == "/run/k3s/containerd/containerd.sock"


def test_malformed_socket_entries_are_ignored() -> None:
    sockets: list[Any] = [None, {"no": "path"}, *containerd_node(CONTAINERD_1_7)]
    assert daemon_verdict("1.8", sockets, "containerd")["compatible"]


def test_served_apis_needs_both_calls() -> None:
    probes = cri_probes({V1, V1A2}, "containerd", "v1.7.0")
    probes[V1A2]["list_images"] = call_failed(13, "boom")
    assert served_apis({"probes": probes}) == [V1]
    assert served_apis({"probes": {}}) == []


def test_candidate_socket_names_cover_every_line_in_order() -> None:
    assert candidate_socket_names() == [
        "pouchd.sock",
        "pouchcri.sock",
        "docker.sock",
        "dockershim.sock",
        "containerd.sock",
        "containerd/containerd.sock",
        "crio.sock",
        "crio/crio.sock",
        "cri-dockerd.sock",
        "cri-dockerd/cri-dockerd.sock",
    ]


@pytest.mark.parametrize(
    ("version", "line"),
    [
        ("1.6.1", "1.6"),
        ("v1.5.5", "1.5"),
        ("1.4", "1.4"),
        ("v1.8.0-rc.1", "1.8"),
        (" 1.7.4 ", "1.7"),
    ],
)
def test_line_of(version: str, line: str) -> None:
    assert line_of(version) == line


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("latest", "'latest' is not of the form MAJOR.MINOR[.PATCH]"),
        ("1", "is not of the form"),
        ("", "is not of the form"),
        ("1.9.0", "belongs to line 1.9, which is not modelled; known lines: 1.4, 1.5"),
    ],
)
def test_line_of_rejects(version: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace(".", r"\.")):
        line_of(version)


def test_unknown_line_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown kruise line '1\.3'"):
        daemon_verdict("1.3", [], None)


def test_a_wrong_socket_file_points_at_the_right_one() -> None:
    verdict = daemon_verdict(
        "1.6",
        containerd_node(CONTAINERD_1_7),
        "containerd",
        socket_file="containerd.sock",
        kubelet_endpoint=CONTAINERD_ENDPOINT,
    )
    assert verdict["reason"].endswith(
        "containerd's socket /run/containerd/containerd.sock would be selected by "
        "daemon.socketFile=containerd/containerd.sock"
    )


def test_no_socket_file_hint_for_a_socket_that_would_fail_anyway() -> None:
    verdict = daemon_verdict(
        "1.8",
        docker_dockershim_node(CONTAINERD_1_6),
        "docker",
        docker_api_ok=True,
        kubelet_endpoint=DOCKERSHIM_ENDPOINT,
    )
    assert "socketFile" not in verdict["reason"]
    assert verdict["reason"].endswith(
        "(docker 20.10.24+dfsg1 at /run/dockershim.sock serves only CRI v1alpha2; "
        "kruise-daemon 1.8 needs CRI v1)"
    )


def test_socket_outside_the_location_with_an_unknown_name() -> None:
    custom = socket("/opt/rt/runtime.sock", CONTAINERD_1_7, roles=("kubelet",))
    verdict = daemon_verdict(
        "1.6", [custom], "containerd", kubelet_endpoint="unix:///opt/rt/runtime.sock"
    )
    assert verdict["reason"].endswith(
        "the kubelet's socket /opt/rt/runtime.sock is outside /var/run and not among the names "
        "kruise-daemon 1.6 looks for; daemon.socketLocation=/opt/rt with "
        "daemon.socketFile=runtime.sock would select it"
    )
