"""Kubernetes for the lab, built from ``k8s.io/kubernetes``: two releases.

No registry here ships kube-apiserver, so the lab builds it. :data:`CURRENT` (v1.37) gives the
control plane of the quick lab (kwok nodes) and kubectl, the baseline the benchmarks compare
against. :data:`NODE_RELEASE` (v1.23.17, the last with the kubelet's built-in dockershim) gives
the real nodes' kubelet; its module also builds the lab's standalone dockershim. The version-skew
policy allows a kubelet at most two minor versions older than the API server (three from v1.28),
so a v1.37 server cannot take v1.23 kubelets: they join :data:`NODE_PLANE_RELEASE`, a v1.24.17
control plane. (v1.23's own kube-apiserver cannot be built from its module: the generated
``pkg/generated/openapi`` code is not in the v1.23 module zip; from v1.24 it is.)

``k8s.io/kubernetes`` cannot be built as a plain dependency: it requires its staging modules
(``k8s.io/api`` and 30 more) at ``v0.0.0`` and points them at ``./staging/src``, which its module
zip lacks. Each release's wrapper module (``kruise_cri/lab/kubernetes/``, ``kubernetes-1.23/``,
``kubernetes-1.24/``) replaces each with the published ``v0.X.Y`` of the same
release, and its ``go.sum`` pins every dependency. The release build's version stamps
(``hack/lib/version.sh``) are applied with ``-X``, so ``/version`` reports the real version, as
Helm's ``kubeVersion`` checks need.

Each command is cached as ``<cache>/bin/<command>/<version>/<command>``; they share Go's build
cache, so after the first the others mostly link.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from kruise_cri.lab.buildcache import BuildSession, CachedBuild, GoBuildError

LAB_DIR = Path(__file__).resolve().parent
CONTROL_PLANE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
BUILD_TIMEOUT = 3600.0


@dataclass(frozen=True)
class KubernetesRelease:
    """One release of ``k8s.io/kubernetes`` and the wrapper module that builds it. To move a
    release: change its version and date here, replace v0.X.Y in its go.mod and run
    ``go mod tidy`` there (every staging module must be served at v0.X.Y)."""

    version: str
    # The tag's time as the module proxy reports it (`go mod download -json`), the build date.
    source_date: str
    source_dir: Path
    commands: tuple[str, ...]
    # The tag's commit, stamped as gitCommit when known.
    commit: str = ""
    source_files: tuple[str, ...] = ("go.mod", "go.sum", "tools.go")
    # Releases whose kube-aggregator serves /version from client-go's copy of the stamps need
    # them there too, as their hack/lib/version.sh set them.
    stamp_client_go: bool = False

    @property
    def minor(self) -> int:
        return int(self.version.split(".")[1])

    def version_ldflags(self) -> str:
        bare = self.version.removeprefix("v")
        variables = {
            "gitVersion": self.version,
            "gitMajor": bare.split(".")[0],
            "gitMinor": bare.split(".")[1],
            **({"gitCommit": self.commit} if self.commit else {}),
            "gitTreeState": "clean",
            "buildDate": self.source_date,
        }
        packages = ["k8s.io/component-base/version"]
        if self.stamp_client_go:
            packages.append("k8s.io/client-go/pkg/version")
        stamps = [
            f"-X {package}.{name}={value}"
            for package in packages
            for name, value in variables.items()
        ]
        return " ".join(["-s", "-w", *stamps])

    def source_fingerprint(self, command: str) -> str:
        """Hash of the wrapper module, the command and the link flags; a cached binary with
        another one is rebuilt."""
        digest = hashlib.sha256(command.encode() + b"\0")
        for name in self.source_files:
            content = (self.source_dir / name).read_bytes()
            digest.update(name.encode() + b"\0" + content + b"\0")
        digest.update(self.version_ldflags().encode())
        return digest.hexdigest()[:16]


CURRENT = KubernetesRelease(
    version="v1.37.2",
    source_date="2026-10-27T12:01:04Z",
    source_dir=LAB_DIR / "kubernetes",
    commands=(*CONTROL_PLANE_COMMANDS, "kubectl"),
)
NODE_RELEASE = KubernetesRelease(
    version="v1.23.17",
    source_date="2023-02-22T13:26:30Z",
    source_dir=LAB_DIR / "kubernetes-1.23",
    commands=("kubelet", "kube-proxy"),
    commit="953be8927218ec8067e1af2641e540238ffd7576",
    source_files=("go.mod", "go.sum", "tools.go", "main.go"),
    stamp_client_go=True,
)
NODE_PLANE_RELEASE = KubernetesRelease(
    version="v1.24.17",
    source_date="2023-08-23T23:35:27Z",
    source_dir=LAB_DIR / "kubernetes-1.24",
    commands=CONTROL_PLANE_COMMANDS,
    commit="22a9682c8fe855c321be75c5faacde343f909b04",
    stamp_client_go=True,
)
RELEASES = (CURRENT, NODE_RELEASE, NODE_PLANE_RELEASE)
KUBERNETES_VERSION = CURRENT.version
KUBERNETES_COMMANDS = CURRENT.commands


class KubernetesBuildError(GoBuildError):
    """A Kubernetes command could not be built or does not report its version. The message ends
    with the tail of the build log."""


def ensure_kubernetes_binary(
    command: str, *, release: KubernetesRelease = CURRENT, cache: Path | None = None
) -> Path:
    """The path of ``command`` (one of the release's commands), built on first use. With an
    empty Go build cache the first command takes about 10 minutes of a 2-core machine."""
    if command not in release.commands:
        raise KeyError(
            f"unknown command {command!r} for Kubernetes {release.version}; "
            f"known: {', '.join(release.commands)}"
        )
    return _cached_build(command, release, cache).ensure(
        lambda session: _build(command, release, session)
    )


def ensure_control_plane(
    *, release: KubernetesRelease = CURRENT, cache: Path | None = None
) -> dict[str, Path]:
    """Every control-plane command of ``release``, by name."""
    return {
        command: ensure_kubernetes_binary(command, release=release, cache=cache)
        for command in CONTROL_PLANE_COMMANDS
    }


def kubernetes_record(
    command: str, *, release: KubernetesRelease = CURRENT, cache: Path | None = None
) -> dict[str, object] | None:
    """The ``build.json`` of the cached build of ``command``, or None."""
    build = _cached_build(command, release, cache)
    return build.record() if build.valid() else None


def _cached_build(command: str, release: KubernetesRelease, cache: Path | None) -> CachedBuild:
    return CachedBuild(
        command,
        release.version,
        release.source_fingerprint(command),
        cache,
        KubernetesBuildError,
    )


def _build(command: str, release: KubernetesRelease, session: BuildSession) -> dict[str, object]:
    package = f"k8s.io/kubernetes/cmd/{command}"
    ldflags = release.version_ldflags()
    go_version = session.go_build(package, release.source_dir, ldflags, BUILD_TIMEOUT)
    version_check = ["version", "--client"] if command == "kubectl" else ["--version"]
    session.check_version_report(version_check, release.version)
    return {
        "tool": command,
        "module": "k8s.io/kubernetes",
        "version": release.version,
        "ldflags": ldflags,
        "go_version": go_version,
    }
