"""The Kubernetes control plane (and kubectl) for the lab, built from ``k8s.io/kubernetes``.

No registry here ships kube-apiserver, so the lab builds kube-apiserver, kube-controller-manager
and kube-scheduler itself, and kubectl, the baseline the benchmarks compare against.
``k8s.io/kubernetes`` cannot be built as a plain dependency: it requires its staging modules
(``k8s.io/api`` and 30 more) at ``v0.0.0`` and points them at ``./staging/src``, which its module
zip lacks. The wrapper module in ``kruise_cri/lab/kubernetes/`` replaces each with the published
``v0.X.Y`` of the same release, and its ``go.sum`` pins every dependency. The release build's
version stamps (``hack/lib/version.sh``) are applied with ``-X``, so ``/version`` reports the
real version, as Helm's ``kubeVersion`` checks need.

Each command is cached as ``<cache>/bin/<command>/<version>/<command>``; they share Go's build
cache, so after the first the others mostly link.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from kruise_cri.lab.buildcache import BuildSession, CachedBuild, GoBuildError

# To move to another release: change these two lines, replace v0.X.Y in kubernetes/go.mod and
# run `go mod tidy` there (every staging module must be served at v0.X.Y).
KUBERNETES_VERSION = "v1.37.2"
# The tag's time as the module proxy reports it (`go mod download -json`), the build date stamp.
KUBERNETES_SOURCE_DATE = "2026-10-27T12:01:04Z"
CONTROL_PLANE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
KUBERNETES_COMMANDS = (*CONTROL_PLANE_COMMANDS, "kubectl")
SOURCE_DIR = Path(__file__).resolve().parent / "kubernetes"
SOURCE_FILES = ("go.mod", "go.sum", "tools.go")
BUILD_TIMEOUT = 3600.0


class KubernetesBuildError(GoBuildError):
    """A control-plane command could not be built or does not report its version. The message
    ends with the tail of the build log."""


def version_ldflags() -> str:
    bare = KUBERNETES_VERSION.removeprefix("v")
    variables = {
        "gitVersion": KUBERNETES_VERSION,
        "gitMajor": bare.split(".")[0],
        "gitMinor": bare.split(".")[1],
        "gitTreeState": "clean",
        "buildDate": KUBERNETES_SOURCE_DATE,
    }
    stamps = [
        f"-X k8s.io/component-base/version.{name}={value}" for name, value in variables.items()
    ]
    return " ".join(["-s", "-w", *stamps])


def source_fingerprint(command: str, source_dir: Path = SOURCE_DIR) -> str:
    """Hash of the wrapper module, the command and the link flags; a cached binary with another
    one is rebuilt."""
    digest = hashlib.sha256(command.encode() + b"\0")
    for name in SOURCE_FILES:
        digest.update(name.encode() + b"\0" + (source_dir / name).read_bytes() + b"\0")
    digest.update(version_ldflags().encode())
    return digest.hexdigest()[:16]


def ensure_kubernetes_binary(command: str, *, cache: Path | None = None) -> Path:
    """The path of ``command`` (one of :data:`KUBERNETES_COMMANDS`), built on first use. With an
    empty Go build cache the first command takes about 10 minutes of a 2-core machine."""
    if command not in KUBERNETES_COMMANDS:
        raise KeyError(f"unknown command {command!r}; known: {', '.join(KUBERNETES_COMMANDS)}")
    return _cached_build(command, cache).ensure(lambda session: _build(command, session))


def ensure_control_plane(*, cache: Path | None = None) -> dict[str, Path]:
    """Every control-plane command, by name."""
    return {
        command: ensure_kubernetes_binary(command, cache=cache)
        for command in CONTROL_PLANE_COMMANDS
    }


def kubernetes_record(command: str, *, cache: Path | None = None) -> dict[str, object] | None:
    """The ``build.json`` of the cached build of ``command``, or None."""
    build = _cached_build(command, cache)
    return build.record() if build.valid() else None


def _cached_build(command: str, cache: Path | None) -> CachedBuild:
    return CachedBuild(
        command, KUBERNETES_VERSION, source_fingerprint(command), cache, KubernetesBuildError
    )


def _build(command: str, session: BuildSession) -> dict[str, object]:
    package = f"k8s.io/kubernetes/cmd/{command}"
    go_version = session.go_build(package, SOURCE_DIR, version_ldflags(), BUILD_TIMEOUT)
    version_check = ["version", "--client"] if command == "kubectl" else ["--version"]
    session.check_version_report(version_check, KUBERNETES_VERSION)
    return {
        "tool": command,
        "module": "k8s.io/kubernetes",
        "version": KUBERNETES_VERSION,
        "ldflags": version_ldflags(),
        "go_version": go_version,
    }
