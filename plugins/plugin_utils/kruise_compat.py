"""Would kruise-daemon of a given line start on a node, and would it act on the kubelet's runtime?

Controller side (Python 3.11). The model follows OpenKruise's runtime detection, read per release:
``pkg/daemon/criruntime/factory.go`` (``detectRuntime``, ``NewFactory``) and
``pkg/daemon/criruntime/imageruntime/{cri,helpers,docker}.go`` at tags v1.4.0-v1.4.2,
v1.5.0-v1.5.5, v1.6.0-v1.6.4, v1.7.0-v1.7.4 (and branch release-1.7), v1.8.0-v1.8.4.

What the daemon does, in every line:

1. With ``--socket-file=NAME`` (chart ``daemon.socketFile``) it stats ``/hostvarrun/NAME`` and uses
   it as a generic CRI socket; detection is skipped, and a missing file means no runtime at all.
2. Otherwise it stats a fixed, ordered list of names under ``/hostvarrun`` (the host's
   ``daemon.socketLocation``) and keeps every one that exists, in that order.
3. Each kept socket is validated: image service ``ListImages``, then runtime service ``Version``
   (all four VersionResponse fields must be set). Failures are skipped; every socket that passes
   is kept and the first one serves images, pod probes and the default runtime.
4. The daemon fails ("failed to new runtime factory") only when no socket passes.
5. It acts on a pod's containers through ``GetRuntimeServiceByName(prefix)``: the first kept
   runtime whose VersionResponse ``runtime_name`` equals the pod's container-ID prefix, which the
   kubelet sets from its own runtime's ``runtime_name`` (``docker``, ``containerd``, ``cri-o``).

The CRI API versions each line speaks come from the Kubernetes libraries it is built on: 1.4 uses
k8s 1.22 (v1alpha2 only); 1.5 uses k8s 1.24 (runtime: v1 ``Version``, falling back to v1alpha2
only on UNIMPLEMENTED; images: v1 ``ImageFsInfo``, same fallback); 1.6 onwards use k8s 1.26+
(v1 only; any error is final).

The Docker candidate (docker.sock + dockershim.sock, lines 1.4-1.7) lists images through the
Docker Engine API with a pinned client version: 1.23 in 1.4/1.5, 1.24 in 1.6/1.7. Docker 25
refuses API versions below 1.24 and Docker 29 below 1.44.

In the upstream repository the tag v1.7.5 points at the same commit as v1.8.3 (release-1.8);
line 1.7 is modelled from v1.7.0-v1.7.4 and branch release-1.7, which agree.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    LINES as KRUISE_LINES,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    parse_version,
)

# The VersionResponse runtime_name of each kubelet runtime family: the pods' container-ID prefix.
RUNTIME_NAME_BY_FAMILY = {
    "containerd": "containerd",
    "docker": "docker",
    "crio": "cri-o",
    "pouch": "pouch",
}
FAMILY_BY_RUNTIME_NAME = {name: family for family, name in RUNTIME_NAME_BY_FAMILY.items()}

GRPC_UNIMPLEMENTED = 12
GRPC_CODE_NAMES = {
    0: "OK",
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    7: "PERMISSION_DENIED",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    16: "UNAUTHENTICATED",
}

V1 = "v1"
V1ALPHA2 = "v1alpha2"

# How a line chooses the CRI API version.
ONLY_V1ALPHA2 = "only-v1alpha2"
V1_FALLBACK_ON_UNIMPLEMENTED = "v1-then-v1alpha2-on-unimplemented"
ONLY_V1 = "only-v1"

# Candidate kinds, as in factory.go.
POUCH = "pouch"
DOCKER = "docker"
CONTAINERD = "containerd"
COMMON_CRI = "common-cri"


@dataclass(frozen=True)
class Candidate:
    """One detection rule: the names that must all exist under the socket location."""

    kind: str
    cri_name: str
    engine_name: str | None = None  # pouchd.sock / docker.sock, checked next to the CRI socket


@dataclass(frozen=True)
class LineModel:
    line: str
    candidates: tuple[Candidate, ...]
    api_choice: str
    # API version pinned by the Docker Engine client of the docker candidate (None: no docker).
    docker_client_api: str | None
    # Pouch images go through pouchd's own API (1.4) rather than CRI on pouchcri.sock (1.5+).
    pouch_images_via_engine: bool
    read_from: str


_POUCH = Candidate(POUCH, "pouchcri.sock", "pouchd.sock")
_DOCKER = Candidate(DOCKER, "dockershim.sock", "docker.sock")
_CONTAINERD = (
    Candidate(CONTAINERD, "containerd.sock"),
    Candidate(CONTAINERD, "containerd/containerd.sock"),
)
_CRIO = (Candidate(COMMON_CRI, "crio.sock"), Candidate(COMMON_CRI, "crio/crio.sock"))
_CRI_DOCKERD = Candidate(COMMON_CRI, "cri-dockerd.sock")
_CRI_DOCKERD_DIR = Candidate(COMMON_CRI, "cri-dockerd/cri-dockerd.sock")

LINE_MODELS: dict[str, LineModel] = {
    "1.4": LineModel(
        "1.4",
        (_POUCH, _DOCKER, *_CONTAINERD, *_CRIO),
        ONLY_V1ALPHA2,
        "1.23",
        True,
        "v1.4.0..v1.4.2 factory.go, imageruntime/cri.go (k8s.io/kubernetes v1.22.6)",
    ),
    "1.5": LineModel(
        "1.5",
        (_POUCH, _DOCKER, *_CONTAINERD, *_CRIO),
        V1_FALLBACK_ON_UNIMPLEMENTED,
        "1.23",
        False,
        "v1.5.0..v1.5.5 factory.go, imageruntime/helpers.go (k8s.io/kubernetes v1.24.16)",
    ),
    "1.6": LineModel(
        "1.6",
        (_POUCH, _DOCKER, *_CONTAINERD, *_CRIO),
        ONLY_V1,
        "1.24",
        False,
        "v1.6.0..v1.6.4 factory.go, imageruntime/helpers.go (k8s.io/kubernetes v1.26)",
    ),
    "1.7": LineModel(
        "1.7",
        (_POUCH, _DOCKER, *_CONTAINERD, *_CRIO, _CRI_DOCKERD),
        ONLY_V1,
        "1.24",
        False,
        "v1.7.0..v1.7.4 and branch release-1.7 factory.go (k8s.io/kubernetes v1.28)",
    ),
    "1.8": LineModel(
        "1.8",
        (*_CONTAINERD, *_CRIO, _CRI_DOCKERD, _CRI_DOCKERD_DIR),
        ONLY_V1,
        None,
        False,
        "v1.8.0..v1.8.4 factory.go (k8s.io/kubernetes v1.30.10); docker and pouch removed",
    ),
}


def line_of(version: str) -> str:
    """``"1.6.1"`` -> ``"1.6"``; ``"v1.5.5"`` and ``"1.7"`` work too."""
    parsed = parse_version(version.strip() if isinstance(version, str) else version)
    if parsed is None:
        raise ValueError(
            f"kruise version {version!r} is not of the form MAJOR.MINOR[.PATCH] "
            "(optionally with a leading 'v'), e.g. '1.5.5' or 'v1.6.1'"
        )
    line = parsed.line
    if line not in LINE_MODELS:
        raise ValueError(
            f"kruise version {version!r} belongs to line {line}, which is not modelled; "
            f"known lines: {', '.join(KRUISE_LINES)}"
        )
    return line


_CRI_APIS_BY_CHOICE = {
    ONLY_V1ALPHA2: frozenset({V1ALPHA2}),
    V1_FALLBACK_ON_UNIMPLEMENTED: frozenset({V1, V1ALPHA2}),
    ONLY_V1: frozenset({V1}),
}


def cri_apis_of_line(line: str) -> frozenset[str]:
    """The CRI API versions kruise-daemon of *line* can speak to a runtime."""
    return _CRI_APIS_BY_CHOICE[LINE_MODELS[line].api_choice]


def candidate_socket_names() -> list[str]:
    """Every name any line looks for under daemon.socketLocation, in detection order."""
    names: list[str] = []
    for model in LINE_MODELS.values():
        for candidate in model.candidates:
            for name in (candidate.engine_name, candidate.cri_name):
                if name and name not in names:
                    names.append(name)
    return names


# ---------------------------------------------------------------------------------------------
# Reading the evidence
# ---------------------------------------------------------------------------------------------


def _call(entry: dict[str, Any], api: str, call: str) -> dict[str, Any] | None:
    probes = entry.get("probes")
    if not isinstance(probes, dict):
        return None
    api_probe = probes.get(api)
    if not isinstance(api_probe, dict):
        return None
    outcome = api_probe.get(call)
    return outcome if isinstance(outcome, dict) else None


def _ok(outcome: dict[str, Any] | None) -> bool:
    return bool(outcome and outcome.get("ok") is True)


def _code(outcome: dict[str, Any] | None) -> int | None:
    if not outcome:
        return None
    code = outcome.get("code")
    return code if isinstance(code, int) else None


def _unimplemented(outcome: dict[str, Any] | None) -> bool:
    return _code(outcome) == GRPC_UNIMPLEMENTED and not _ok(outcome)


def served_apis(entry: dict[str, Any]) -> list[str]:
    """CRI API versions on which both Version and ListImages answered."""
    return [
        api
        for api in (V1, V1ALPHA2)
        if _ok(_call(entry, api, "version")) and _ok(_call(entry, api, "list_images"))
    ]


def runtime_identity(entry: dict[str, Any]) -> tuple[str | None, str | None]:
    """(runtime_name, runtime_version) from whichever Version call answered."""
    for api in (V1, V1ALPHA2):
        outcome = _call(entry, api, "version")
        if _ok(outcome):
            name = outcome.get("runtime_name") if outcome else None
            version = outcome.get("runtime_version") if outcome else None
            return (name or None, version or None)
    return (None, None)


def _socket_path(entry: dict[str, Any]) -> str:
    resolved = entry.get("resolved")
    return resolved if isinstance(resolved, str) and resolved else str(entry.get("path"))


def _describe_runtime(entry: dict[str, Any]) -> str:
    name, version = runtime_identity(entry)
    if name and version:
        return f"{name} {version}"
    return name or "the runtime"


def _describe_call_failure(entry: dict[str, Any], api: str, call: str) -> str:
    outcome = _call(entry, api, call)
    label = {"version": "Version", "list_images": "ListImages"}[call]
    where = _socket_path(entry)
    if outcome is None:
        return f"CRI {api} {label} was not probed on {where}"
    code = _code(outcome)
    code_name = GRPC_CODE_NAMES.get(code, str(code)) if code is not None else "an error"
    details = outcome.get("details") or ""
    suffix = f": {details}" if details else ""
    return f"CRI {api} {label} on {where} failed with {code_name}{suffix}"


# ---------------------------------------------------------------------------------------------
# One candidate, one line
# ---------------------------------------------------------------------------------------------


@dataclass
class CandidateOutcome:
    candidate: Candidate
    detected: bool
    cri_entry: dict[str, Any] | None = None
    passed: bool = False
    runtime_name: str | None = None
    runtime_version: str | None = None
    cri_api: str | None = None
    failure: str | None = None  # why a detected candidate fails validation
    skipped: str | None = None  # why a half-present candidate was not detected
    # Whether the failure becomes the factory's error. factory.go declares ``err`` anew (``:=``)
    # in the CRI case, so a CRI image service that cannot be created leaves the outer error
    # untouched; when nothing passes and no outer error was set, NewFactory returns (nil, nil)
    # and the daemon dereferences the nil factory: a Go panic (exit 2), not klog.Fatal (255).
    reported: bool = True

    @property
    def socket(self) -> str | None:
        return _socket_path(self.cri_entry) if self.cri_entry else None


@dataclass
class _Context:
    sockets_by_path: dict[str, dict[str, Any]]
    location: str
    docker_api_ok: bool | None
    docker_version: str | None
    notes: list[str] = field(default_factory=list)


def _normalise_location(location: str) -> str:
    location = "/" + str(location).strip().strip("/")
    return posixpath.normpath(location)


def _lookup(ctx: _Context, name: str) -> dict[str, Any] | None:
    path = ctx.location.rstrip("/") + "/" + name
    entry = ctx.sockets_by_path.get(path)
    if entry is None:
        entry = ctx.sockets_by_path.get(posixpath.normpath(path))
    return entry


def _exists(entry: dict[str, Any] | None) -> bool:
    # kruise uses os.Stat: anything that exists (after symlinks) counts, socket or not.
    return bool(entry and entry.get("exists") is True)


def _connection_failure(entry: dict[str, Any]) -> str | None:
    where = entry.get("path")
    if entry.get("is_socket") is not True:
        error = entry.get("error") or "not a socket"
        return f"{where} exists but is not a socket ({error})"
    probes = entry.get("probes")
    if entry.get("error") and not served_apis(entry):
        return f"{where} does not answer: {entry.get('error')}"
    if not isinstance(probes, dict) or not probes:
        return f"{where} was not probed over CRI"
    return None


def _negotiate(entry: dict[str, Any], call: str, choice: str) -> tuple[str | None, str | None]:
    """The API a line would use for one service, or (None, failure sentence)."""
    if choice == ONLY_V1ALPHA2:
        apis = [V1ALPHA2]
    elif choice == ONLY_V1:
        apis = [V1]
    else:
        first = _call(entry, V1, call)
        apis = [V1, V1ALPHA2] if _unimplemented(first) else [V1]
    api = apis[-1]
    if _ok(_call(entry, api, call)):
        return api, None
    return None, _describe_call_failure(entry, api, call)


def _version_complete(entry: dict[str, Any], api: str) -> str | None:
    outcome = _call(entry, api, "version") or {}
    missing = [
        name
        for name in ("version", "runtime_name", "runtime_version", "runtime_api_version")
        if not outcome.get(name)
    ]
    if missing:
        return (
            f"CRI {api} Version on {_socket_path(entry)} leaves {', '.join(missing)} empty, "
            "which the kubelet's CRI client rejects"
        )
    return None


def _api_mismatch_sentence(entry: dict[str, Any], line: str, choice: str) -> str | None:
    """The plain reason when the socket speaks CRI, only not the version this line needs."""
    served = served_apis(entry)
    if not served:
        all_unimplemented = all(
            _unimplemented(_call(entry, api, call))
            for api in (V1, V1ALPHA2)
            for call in ("version", "list_images")
        )
        if all_unimplemented:
            details = (_call(entry, V1, "version") or {}).get("details") or "UNIMPLEMENTED"
            return (
                f"{_socket_path(entry)} answers UNIMPLEMENTED to every CRI call ({details}): "
                "its CRI service is off"
            )
        return None
    needed = {ONLY_V1ALPHA2: [V1ALPHA2], ONLY_V1: [V1]}.get(choice, [V1, V1ALPHA2])
    if any(api in served for api in needed):
        return None
    only = " and ".join(f"CRI {api}" for api in served)
    need = " or ".join(f"CRI {api}" for api in needed)
    return (
        f"{_describe_runtime(entry)} at {_socket_path(entry)} serves only {only}; "
        f"kruise-daemon {line} needs {need}"
    )


def _validate_cri(entry: dict[str, Any], line: str, choice: str) -> tuple[str | None, str | None]:
    """(runtime API used, None) when the socket passes ListImages + Version, else (None, why)."""
    failure = _connection_failure(entry)
    if failure:
        return None, failure
    mismatch = _api_mismatch_sentence(entry, line, choice)
    image_api, failure = _negotiate(entry, "list_images", choice)
    if image_api is None:
        return None, mismatch or failure
    runtime_api, failure = _negotiate(entry, "version", choice)
    if runtime_api is None:
        return None, mismatch or failure
    incomplete = _version_complete(entry, runtime_api)
    if incomplete:
        return None, incomplete
    return runtime_api, None


def _docker_min_api(docker_version: str | None) -> str | None:
    """The oldest Engine API a Docker daemon accepts by default, from its version."""
    if not docker_version:
        return None
    match = re.match(r"^v?(\d+)\.", docker_version.strip())
    if not match:
        return None
    major = int(match.group(1))
    if major >= 29:
        return "1.44"
    if major >= 25:
        return "1.24"
    return None


def _api_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _docker_images_failure(ctx: _Context, model: LineModel, engine_path: str) -> str | None:
    if ctx.docker_api_ok is False:
        return f"the Docker Engine API at {engine_path} does not answer"
    client = model.docker_client_api
    minimum = _docker_min_api(ctx.docker_version)
    if client and minimum and _api_tuple(client) < _api_tuple(minimum):
        return (
            f"kruise-daemon {model.line} lists Docker images with Engine API {client}, "
            f"which Docker {ctx.docker_version} refuses (its minimum is {minimum})"
        )
    if ctx.docker_api_ok is None:
        ctx.notes.append(f"the Docker Engine API at {engine_path} was not checked")
    return None


def _evaluate(ctx: _Context, model: LineModel, candidate: Candidate) -> CandidateOutcome:
    cri_entry = _lookup(ctx, candidate.cri_name)
    if candidate.engine_name is None:
        if not _exists(cri_entry):
            return CandidateOutcome(candidate, detected=False)
        return _finish_cri(candidate, cri_entry, model)

    engine_entry = _lookup(ctx, candidate.engine_name)
    location = ctx.location
    if not _exists(engine_entry) and not _exists(cri_entry):
        return CandidateOutcome(candidate, detected=False)
    if not _exists(cri_entry):
        return CandidateOutcome(
            candidate,
            detected=False,
            skipped=(
                f"{location}/{candidate.engine_name} is there but {location}/"
                f"{candidate.cri_name} is not, so kruise-daemon {model.line} skips "
                f"{candidate.kind}"
            ),
        )
    if not _exists(engine_entry):
        return CandidateOutcome(
            candidate,
            detected=False,
            skipped=(
                f"{location}/{candidate.cri_name} is there but {location}/"
                f"{candidate.engine_name} is not, so kruise-daemon {model.line} skips "
                f"{candidate.kind}"
            ),
        )
    if cri_entry is None or engine_entry is None:
        raise ValueError(f"{candidate.kind}: the CRI socket or the engine socket was not read")
    engine_path = str(engine_entry.get("path"))
    images_via_engine = candidate.kind == DOCKER or (
        candidate.kind == POUCH and model.pouch_images_via_engine
    )
    if images_via_engine:
        if engine_entry.get("is_socket") is not True:
            return _finish(candidate, cri_entry, None, f"{engine_path} exists but is not a socket")
        if candidate.kind == DOCKER:
            failure = _docker_images_failure(ctx, model, engine_path)
            if failure:
                return _finish(candidate, cri_entry, None, failure)
        failure = _connection_failure(cri_entry)
        if failure:
            return _finish(candidate, cri_entry, None, failure)
        runtime_api, failure = _negotiate(cri_entry, "version", model.api_choice)
        if runtime_api is None:
            mismatch = _api_mismatch_sentence(cri_entry, model.line, model.api_choice)
            return _finish(candidate, cri_entry, None, mismatch or failure)
        incomplete = _version_complete(cri_entry, runtime_api)
        return _finish(candidate, cri_entry, None if incomplete else runtime_api, incomplete)
    return _finish_cri(candidate, cri_entry, model)


def _finish_cri(
    candidate: Candidate, cri_entry: dict[str, Any], model: LineModel
) -> CandidateOutcome:
    runtime_api, failure = _validate_cri(cri_entry, model.line, model.api_choice)
    outcome = _finish(candidate, cri_entry, runtime_api, failure)
    if not outcome.passed:
        outcome.reported = not _image_service_not_created(cri_entry, model.api_choice)
    return outcome


def _image_service_not_created(entry: dict[str, Any], choice: str) -> bool:
    """Whether NewCRIImageService itself fails: from 1.5 it probes CRI v1 images first (1.5
    falls back to v1alpha2, unprobed, on UNIMPLEMENTED only); 1.4 creates it without a call."""
    if choice == ONLY_V1ALPHA2:
        return False
    probe = _call(entry, V1, "list_images")
    if choice == ONLY_V1:
        return not _ok(probe)
    return not _ok(probe) and not _unimplemented(probe)


def _finish(
    candidate: Candidate,
    cri_entry: dict[str, Any],
    runtime_api: str | None,
    failure: str | None,
) -> CandidateOutcome:
    outcome = CandidateOutcome(candidate, detected=True, cri_entry=cri_entry)
    if runtime_api is None:
        outcome.failure = failure or f"{_socket_path(cri_entry)} did not pass validation"
        return outcome
    version = _call(cri_entry, runtime_api, "version") or {}
    outcome.passed = True
    outcome.cri_api = runtime_api
    outcome.runtime_name = version.get("runtime_name") or None
    outcome.runtime_version = version.get("runtime_version") or None
    return outcome


# ---------------------------------------------------------------------------------------------
# Verdicts
# ---------------------------------------------------------------------------------------------


def _resolve_endpoint(
    sockets_by_path: dict[str, dict[str, Any]], endpoint: str | None
) -> tuple[str | None, dict[str, Any] | None]:
    if not endpoint:
        return None, None
    path = endpoint[len("unix://") :] if endpoint.startswith("unix://") else endpoint
    if not path.startswith("/"):
        return None, None
    entry = sockets_by_path.get(path)
    if entry is None:
        entry = next(
            (item for item in sockets_by_path.values() if item.get("resolved") == path), None
        )
    if entry is None:
        return path, None
    return _socket_path(entry), entry


def _kubelet_label(family: str, endpoint_path: str | None) -> str:
    base = posixpath.basename(endpoint_path or "")
    if family == "docker" and base == "dockershim.sock":
        return "docker (dockershim)"
    if family == "docker" and base == "cri-dockerd.sock":
        return "docker (cri-dockerd)"
    return family


def _owner_label(ctx: _Context, socket: str) -> str:
    roles: list[str] = []
    identity: str | None = None
    for entry in ctx.sockets_by_path.values():
        if _socket_path(entry) == socket:
            roles.extend(entry.get("roles") or [])
            identity = identity or runtime_identity(entry)[0]
    for role, label in (
        ("k3s", "k3s's"),
        ("cri-dockerd", "cri-dockerd's"),
        ("dockershim", "dockershim's"),
        ("crio", "CRI-O's"),
        ("containerd", "containerd's"),
        ("pouch", "pouch's"),
        ("kubelet", "the kubelet's"),
    ):
        if role in roles:
            return label
    return f"{identity}'s" if identity else "the"


def _aliases(ctx: _Context, socket: str) -> list[str]:
    """Every node path in the evidence that leads to this socket, the socket itself first."""
    paths = [socket]
    for entry in ctx.sockets_by_path.values():
        if _socket_path(entry) == socket:
            for path in (entry.get("path"), entry.get("resolved")):
                if isinstance(path, str) and path not in paths:
                    paths.append(path)
    return paths


def _reachability_hint(
    ctx: _Context, model: LineModel, entry: dict[str, Any], socket_file: str | None
) -> str | None:
    """How daemon.socketLocation/socketFile would make this line find a socket it misses."""
    socket = _socket_path(entry)
    paths = _aliases(ctx, socket)
    owner = _owner_label(ctx, socket)
    prefix = ctx.location.rstrip("/") + "/"
    names = [c.cri_name for c in model.candidates if c.engine_name is None]
    engine_beside = {c.cri_name: c.engine_name for c in model.candidates if c.engine_name}
    relatives = [path[len(prefix) :] for path in paths if path.startswith(prefix)]
    if relatives:
        if socket_file is None and any(relative in names for relative in relatives):
            return None  # detection reaches it already
        relative = relatives[0]
        if socket_file is not None:
            return f"{owner} socket {socket} would be selected by daemon.socketFile={relative}"
        if relative in engine_beside:
            runtime_name = runtime_identity(entry)[0] or "unknown"
            return (
                f"kruise-daemon {model.line} looks for {owner} socket {socket} only as a pair "
                f"with {engine_beside[relative]}; daemon.socketFile={relative} selects it alone, "
                f"and the runtime name it reports ({runtime_name}) decides whether kruise-daemon "
                "can act on the kubelet's pods"
            )
        return (
            f"{owner} socket {socket} is not among the names kruise-daemon "
            f"{model.line} looks for; daemon.socketFile={relative} would select it"
        )
    if socket_file is not None:
        return (
            f"{owner} socket {socket} is outside {ctx.location}; it is reached with "
            f"daemon.socketLocation={posixpath.dirname(socket)} and "
            f"daemon.socketFile={posixpath.basename(socket)}"
        )
    for name in sorted(names, key=len, reverse=True):
        for path in paths:
            if path.endswith("/" + name):
                location = path[: -len(name) - 1] or "/"
                return (
                    f"{owner} socket {socket} is found only with daemon.socketLocation={location}"
                )
    return (
        f"{owner} socket {socket} is outside {ctx.location} and not among the names kruise-daemon "
        f"{model.line} looks for; daemon.socketLocation={posixpath.dirname(socket)} with "
        f"daemon.socketFile={posixpath.basename(socket)} would select it"
    )


def _missed_sockets(
    ctx: _Context, outcomes: list[CandidateOutcome], accepted: list[str]
) -> list[dict[str, Any]]:
    """Live CRI sockets in the evidence that this line does not reach but could use."""
    reached = {o.socket for o in outcomes if o.detected and o.socket}
    seen: set[str] = set()
    missed = []
    for entry in ctx.sockets_by_path.values():
        if entry.get("is_socket") is not True:
            continue
        socket = _socket_path(entry)
        if socket in reached or socket in seen:
            continue
        if not any(api in accepted for api in served_apis(entry)):
            continue
        seen.add(socket)
        missed.append(entry)
    return missed


def _accepted_apis(choice: str) -> list[str]:
    return {ONLY_V1ALPHA2: [V1ALPHA2], ONLY_V1: [V1]}.get(choice, [V1, V1ALPHA2])


def _describe_impl(outcome: CandidateOutcome) -> str:
    name = outcome.runtime_name or "a runtime"
    version = f" {outcome.runtime_version}" if outcome.runtime_version else ""
    return f"{name}{version} at {outcome.socket}"


def _verdict(
    model: LineModel,
    ctx: _Context,
    socket_file: str | None,
    kubelet_family: str | None,
    kubelet_endpoint: str | None,
) -> dict[str, Any]:
    line = model.line
    if socket_file:
        candidates: tuple[Candidate, ...] = (Candidate(COMMON_CRI, socket_file),)
    else:
        candidates = model.candidates
    outcomes = [_evaluate(ctx, model, candidate) for candidate in candidates]
    passed = [o for o in outcomes if o.passed]
    kubelet_socket, kubelet_entry = _resolve_endpoint(ctx.sockets_by_path, kubelet_endpoint)

    runtimes: list[str] = []
    for outcome in passed:
        name = outcome.runtime_name or "unknown"
        if name not in runtimes:
            runtimes.append(name)

    if not passed:
        reason = _not_starting_reason(model, ctx, socket_file, outcomes, kubelet_entry)
        return {
            "compatible": False,
            "starts": False,
            "socket": None,
            "runtimes": [],
            "reason": reason,
            "crash": _crash(outcomes),
        }

    first = passed[0]
    started = f"kruise-daemon {line} would start with {_describe_impl(first)} (CRI {first.cri_api})"
    notes = "".join(f"; {note}" for note in dict.fromkeys(ctx.notes))

    def verdict(compatible: bool, reason: str) -> dict[str, Any]:
        return {
            "compatible": compatible,
            "starts": True,
            "socket": first.socket,
            "runtimes": runtimes,
            "reason": reason + notes,
            "crash": None,
        }

    if not kubelet_family:
        return verdict(
            True,
            f"{started}; the kubelet's runtime could not be determined, so whether it acts on "
            "this node's pods is unknown",
        )

    kubelet_name = RUNTIME_NAME_BY_FAMILY.get(kubelet_family, kubelet_family)
    label = _kubelet_label(kubelet_family, kubelet_socket)
    by_name = next((o for o in passed if o.runtime_name == kubelet_name), None)
    if by_name is None:
        why = _why_kubelet_socket_missing(model, ctx, socket_file, outcomes, kubelet_entry)
        return verdict(
            False,
            f"{started}, but the kubelet runs pods on {label}; container restarts and image "
            f"pre-download would not work for this node's pods{why}",
        )
    if kubelet_socket and kubelet_entry is not None and by_name.socket != kubelet_socket:
        why = _why_kubelet_socket_missing(model, ctx, socket_file, outcomes, kubelet_entry)
        return verdict(
            False,
            f"{started}; for {kubelet_name} containers it would use {by_name.socket}, but the "
            f"kubelet's {label} is at {kubelet_socket}, so container restarts and image "
            f"pre-download would act on the wrong runtime{why}",
        )
    if by_name.socket != first.socket:
        return verdict(
            False,
            f"{started}: it can restart {kubelet_name} containers through {by_name.socket}, "
            "but image pre-download and pod probes go to its first runtime, "
            f"{_describe_impl(first)}, not to the kubelet's {label}",
        )
    return verdict(True, f"{started}, the runtime the kubelet uses ({label})")


def _crash(outcomes: list[CandidateOutcome]) -> dict[str, Any]:
    """How a daemon that finds no usable runtime ends: klog.Fatal ("Failed to new daemon:
    failed to new runtime factory: ...", exit 255) with the last error the factory kept, or a
    nil-pointer panic (exit 2) when every failure was a CRI image service that could not be
    created, as on containerd 1.4 or a containerd whose CRI plugin is off, from 1.6."""
    detected = [outcome for outcome in outcomes if outcome.detected]
    if not detected:
        return {"exit_code": 255, "kind": "fatal", "cause": "not found container runtime sock"}
    reported = [outcome for outcome in detected if outcome.reported]
    if reported:
        return {"exit_code": 255, "kind": "fatal", "cause": reported[-1].failure}
    return {
        "exit_code": 2,
        "kind": "panic",
        "cause": "no CRI image service could be created ("
        + "; ".join(str(outcome.failure) for outcome in detected)
        + "), and the runtime factory comes back empty without an error",
    }


def _why_kubelet_socket_missing(
    model: LineModel,
    ctx: _Context,
    socket_file: str | None,
    outcomes: list[CandidateOutcome],
    kubelet_entry: dict[str, Any] | None,
) -> str:
    if kubelet_entry is None:
        return ""
    socket = _socket_path(kubelet_entry)
    for outcome in outcomes:
        if outcome.detected and outcome.socket == socket and outcome.failure:
            return f" ({outcome.failure})"
    for outcome in outcomes:
        if outcome.skipped and outcome.candidate.cri_name == posixpath.basename(socket):
            return f" ({outcome.skipped})"
    mismatch = _api_mismatch_sentence(kubelet_entry, model.line, model.api_choice)
    if mismatch or not served_apis(kubelet_entry):
        return f" ({mismatch})" if mismatch else ""
    hint = _reachability_hint(ctx, model, kubelet_entry, socket_file)
    return f" ({hint})" if hint else ""


def _not_starting_reason(
    model: LineModel,
    ctx: _Context,
    socket_file: str | None,
    outcomes: list[CandidateOutcome],
    kubelet_entry: dict[str, Any] | None,
) -> str:
    line = model.line
    location = ctx.location
    detected = [o for o in outcomes if o.detected]
    parts: list[str] = []
    if socket_file and not detected:
        parts.append(
            f"daemon.socketFile={socket_file}: {location}/{socket_file} does not exist, and "
            f"kruise-daemon {line} does not fall back to detection when socketFile is set"
        )
    elif not detected:
        parts.append(
            f"no CRI socket under {location} (daemon.socketLocation) that kruise-daemon "
            f"{line} looks for"
        )
        parts.extend(o.skipped for o in outcomes if o.skipped)
    else:
        parts.extend(o.failure for o in detected if o.failure)
        parts.extend(o.skipped for o in outcomes if o.skipped)
    accepted = _accepted_apis(model.api_choice)
    missed = _missed_sockets(ctx, outcomes, accepted)
    if kubelet_entry is not None:
        kubelet_socket = _socket_path(kubelet_entry)
        missed.sort(key=lambda entry: _socket_path(entry) != kubelet_socket)
        reached = {o.socket for o in detected}
        unusable = all(_socket_path(entry) != kubelet_socket for entry in missed)
        if kubelet_socket not in reached and unusable:
            # The kubelet's own socket is out of this line's reach and would fail anyway.
            parts.append(_api_mismatch_sentence(kubelet_entry, line, model.api_choice) or "")
    for entry in missed:
        hint = _reachability_hint(ctx, model, entry, socket_file)
        if hint:
            parts.append(hint)
    unique = list(dict.fromkeys(part for part in parts if part))
    return "; ".join(unique)


def daemon_verdict(
    line: str,
    sockets: list[dict[str, Any]],
    kubelet_runtime: str | None,
    *,
    socket_location: str = "/var/run",
    socket_file: str | None = None,
    docker_api_ok: bool | None = None,
    docker_version: str | None = None,
    kubelet_endpoint: str | None = None,
) -> dict[str, Any]:
    """The verdict for one line; see daemon_verdicts."""
    if line not in LINE_MODELS:
        raise ValueError(f"unknown kruise line {line!r}; known lines: {', '.join(KRUISE_LINES)}")
    sockets_by_path: dict[str, dict[str, Any]] = {}
    for entry in sockets or []:
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            sockets_by_path.setdefault(entry["path"], entry)
    ctx = _Context(
        sockets_by_path=sockets_by_path,
        location=_normalise_location(socket_location or "/var/run"),
        docker_api_ok=docker_api_ok,
        docker_version=docker_version,
    )
    file_name = socket_file.strip().lstrip("/") if socket_file and socket_file.strip() else None
    return _verdict(LINE_MODELS[line], ctx, file_name, kubelet_runtime or None, kubelet_endpoint)


def daemon_verdicts(
    sockets: list[dict[str, Any]],
    kubelet_runtime: str | None,
    *,
    socket_location: str = "/var/run",
    socket_file: str | None = None,
    docker_api_ok: bool | None = None,
    docker_version: str | None = None,
    kubelet_endpoint: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Per line: {compatible, starts, socket, runtimes, reason, crash}; ``crash`` says how a
    daemon that does not start ends ({exit_code, kind: fatal or panic, cause}), else None.

    ``sockets`` are evidence socket entries; the candidate ``NAME`` under ``socket_location`` is
    the entry whose ``path`` is ``socket_location/NAME``. ``kubelet_runtime`` is the kubelet's
    runtime family (docker, containerd, crio, pouch) and ``kubelet_endpoint`` its CRI endpoint;
    with the endpoint the verdict also checks that the daemon uses the kubelet's own socket.
    ``docker_api_ok`` is whether the Docker Engine API answered; ``docker_version`` the Engine
    version (Docker 25+ and 29+ refuse the old API versions kruise's Docker client pins).
    """
    return {
        line: daemon_verdict(
            line,
            sockets,
            kubelet_runtime,
            socket_location=socket_location,
            socket_file=socket_file,
            docker_api_ok=docker_api_ok,
            docker_version=docker_version,
            kubelet_endpoint=kubelet_endpoint,
        )
        for line in KRUISE_LINES
    }
