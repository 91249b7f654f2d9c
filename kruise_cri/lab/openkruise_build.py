"""kruise-daemon and kruise-manager of real OpenKruise releases, built from their Go module.

No registry here ships OpenKruise's binaries or images, so the lab builds them from
``github.com/openkruise/kruise``. Go applies only the main module's ``replace`` directives, and
kruise pins every ``k8s.io`` module through its own ``replace`` block, so each version has a
wrapper module in ``kruise_cri/lab/openkruise/<version>/`` that requires kruise at that version
and repeats the block; its ``go.sum`` pins every dependency. The module proxy serves v1.5.5,
v1.6.0, v1.7.0 and v1.8.2 (v1.6.1-1.6.4, v1.7.1-1.7.4 and v1.8.1 are refused); 1.5.5 (the last
release that speaks CRI v1alpha2) and 1.6.0 (the first that speaks only v1) are the pair that
matters, so those are the wrappers kept.

Each binary is cached as ``<cache>/bin/<command>/<version>/<command>``; a build takes
about 5 minutes of a 2-core machine, the second command of a version mostly links.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from kruise_cri.lab.buildcache import BuildSession, CachedBuild, GoBuildError

MODULE = "github.com/openkruise/kruise"
OPENKRUISE_VERSIONS = ("v1.5.5", "v1.6.0")
# The command, the package that builds it.
OPENKRUISE_COMMANDS = {"kruise-daemon": f"{MODULE}/cmd/daemon", "kruise-manager": MODULE}
WRAPPERS_DIR = Path(__file__).resolve().parent / "openkruise"
SOURCE_FILES = ("go.mod", "go.sum", "tools.go")
BUILD_TIMEOUT = 3600.0
LDFLAGS = "-s -w"


class OpenKruiseBuildError(GoBuildError):
    """A kruise command could not be built or does not run. The message ends with the tail of
    the build log."""


def source_fingerprint(command: str, version: str, wrappers_dir: Path = WRAPPERS_DIR) -> str:
    """Hash of the wrapper module, the command and the link flags; a cached binary with another
    one is rebuilt."""
    digest = hashlib.sha256(f"{command}\0{version}\0{LDFLAGS}\0".encode())
    for name in SOURCE_FILES:
        digest.update(name.encode() + b"\0" + (wrappers_dir / version / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def ensure_openkruise_binary(command: str, version: str, *, cache: Path | None = None) -> Path:
    """The path of ``command`` (``kruise-daemon`` or ``kruise-manager``) of OpenKruise
    ``version`` (one of :data:`OPENKRUISE_VERSIONS`), built on first use."""
    if command not in OPENKRUISE_COMMANDS:
        raise KeyError(f"unknown command {command!r}; known: {', '.join(OPENKRUISE_COMMANDS)}")
    if version not in OPENKRUISE_VERSIONS:
        raise KeyError(
            f"no wrapper module for OpenKruise {version!r}; known: {', '.join(OPENKRUISE_VERSIONS)}"
        )
    build = _cached_build(command, version, cache)
    return build.ensure(lambda session: _build(command, version, session))


def prepare_openkruise(*, cache: Path | None = None) -> dict[str, Path]:
    """Both commands of every version with a wrapper, by ``<command>-<version>``: what the
    real-daemon tests run and the lab's images hold."""
    return {
        f"{command}-{version}": ensure_openkruise_binary(command, version, cache=cache)
        for version in OPENKRUISE_VERSIONS
        for command in OPENKRUISE_COMMANDS
    }


def _cached_build(command: str, version: str, cache: Path | None) -> CachedBuild:
    return CachedBuild(
        command,
        version,
        source_fingerprint(command, version),
        cache,
        OpenKruiseBuildError,
    )


def _build(command: str, version: str, session: BuildSession) -> dict[str, object]:
    package = OPENKRUISE_COMMANDS[command]
    go_version = session.go_build(package, WRAPPERS_DIR / version, LDFLAGS, BUILD_TIMEOUT)
    # kruise stamps no version; `--help` proves the binary starts and parses its flags.
    session.check_version_report(["--help"], "--feature-gates")
    return {
        "tool": command,
        "module": MODULE,
        "version": version,
        "package": OPENKRUISE_COMMANDS[command],
        "ldflags": LDFLAGS,
        "go_version": go_version,
    }
