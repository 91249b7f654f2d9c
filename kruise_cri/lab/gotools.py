"""Build Go command-line tools from their Go modules into a private cache.

Each tool is pinned once, in :data:`GO_TOOL_PINS`: the Go module, its version, the package of the
command inside it and the ``-X`` linker flags that stamp the version into the binary (what the
upstream Makefile would stamp). :func:`ensure_go_tool` fetches the module source through the Go
module proxy (``go mod download``, into Go's own module cache, never into the repository), builds
the command inside that source tree (so the module's own ``go.mod``, ``go.sum`` and replace
directives apply) and installs the binary as ``<cache>/bin/<tool>/<version>/<tool>`` with a
``build.json`` record beside it. Later calls return the cached binary without running ``go``.
Concurrent builds of the same tool (threads or processes) are serialised with a lock file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kruise_cri.lab.buildcache import BuildSession, CachedBuild, GoBuildError

DOWNLOAD_TIMEOUT = 900.0
BUILD_TIMEOUT = 3600.0


class GoToolBuildError(GoBuildError):
    """A pinned Go tool could not be fetched, built or verified. The message ends with the log
    tail of the step that failed."""


@dataclass(frozen=True)
class GoToolPin:
    """Where a Go command comes from and how it is stamped.

    ``version_ldflags`` maps a Go variable (``import/path.Name``) to its value; values are
    ``str.format`` templates over :meth:`template_values` (``{version}`` = ``v1.34.0``,
    ``{bare_version}`` = ``1.34.0``, ``{major}``, ``{minor}``, ``{source_date}`` = the module
    version's publication time from the proxy, ISO 8601 UTC, for reproducible build dates).
    ``version_check`` is run on the built binary; its output must contain ``version_expect``
    (same templates), proving the stamp took effect.
    """

    name: str
    module: str
    version: str
    package: str  # the command's directory inside the module, e.g. "cmd/crictl"
    version_ldflags: Mapping[str, str] = field(default_factory=dict)
    cgo: bool = False
    tags: tuple[str, ...] = ()
    version_check: tuple[str, ...] = ("--version",)
    version_expect: str = "{bare_version}"

    def template_values(self, source_date: str) -> dict[str, str]:
        bare = self.version.removeprefix("v")
        parts = bare.split(".")
        return {
            "version": self.version,
            "bare_version": bare,
            "major": parts[0],
            "minor": parts[1] if len(parts) > 1 else "0",
            "source_date": source_date,
        }

    def ldflags(self, source_date: str) -> str:
        values = self.template_values(source_date)
        stamps = [
            f"-X {variable}={template.format(**values)}"
            for variable, template in self.version_ldflags.items()
        ]
        return " ".join(["-s", "-w", *stamps])

    def fingerprint(self) -> str:
        """Changes whenever anything that shapes the binary changes; a cached build with another
        fingerprint is rebuilt."""
        described = json.dumps(
            {
                "module": self.module,
                "version": self.version,
                "package": self.package,
                "version_ldflags": dict(self.version_ldflags),
                "cgo": self.cgo,
                "tags": list(self.tags),
            },
            sort_keys=True,
        )
        return hashlib.sha256(described.encode()).hexdigest()[:16]


# The one table of Go tools the lab builds from their own modules. To add a tool, add a pin.
# Only versions the module proxy serves can be pinned (`go list -m -versions MODULE`). The
# Kubernetes control plane is pinned in kubernetes_build.py: it needs a wrapper module.
GO_TOOL_PINS: Mapping[str, GoToolPin] = {
    pin.name: pin
    for pin in (
        GoToolPin(
            name="crictl",
            module="sigs.k8s.io/cri-tools",
            version="v1.34.0",
            package="cmd/crictl",
            version_ldflags={"sigs.k8s.io/cri-tools/pkg/version.Version": "{bare_version}"},
        ),
        GoToolPin(
            name="helm",
            module="helm.sh/helm/v3",
            version="v3.22.0",
            package="cmd/helm",
            version_ldflags={
                "helm.sh/helm/v3/internal/version.version": "{version}",
                "helm.sh/helm/v3/internal/version.gitTreeState": "clean",
            },
            version_check=("version", "--short"),
            version_expect="{version}",
        ),
        GoToolPin(
            name="kwok",
            module="sigs.k8s.io/kwok",
            version="v0.8.0",
            package="cmd/kwok",
            version_ldflags={"sigs.k8s.io/kwok/pkg/consts.Version": "{bare_version}"},
        ),
    )
}


def ensure_go_tool(name: str, *, cache: Path | None = None) -> Path:
    """The path of the pinned tool ``name``, built from its Go module on first use."""
    pin = _pin(name)
    return _cached_build(pin, cache).ensure(lambda session: _build(pin, session))


def go_tool_record(name: str, *, cache: Path | None = None) -> dict[str, object] | None:
    """The ``build.json`` of the cached build of ``name`` (when and how it was built), or None."""
    build = _cached_build(_pin(name), cache)
    return build.record() if build.valid() else None


def _pin(name: str) -> GoToolPin:
    pin = GO_TOOL_PINS.get(name)
    if pin is None:
        raise KeyError(f"unknown Go tool {name!r}; known: {', '.join(GO_TOOL_PINS)}")
    return pin


def _cached_build(pin: GoToolPin, cache: Path | None) -> CachedBuild:
    return CachedBuild(pin.name, pin.version, pin.fingerprint(), cache, GoToolBuildError)


def _build(pin: GoToolPin, session: BuildSession) -> dict[str, object]:
    download = _download(pin, session)
    source_dir = Path(str(download["Dir"]))
    source_date = str(download.get("Time") or "")
    go_version = session.go_build(
        "./" + pin.package.strip("/"),
        source_dir,
        pin.ldflags(source_date),
        BUILD_TIMEOUT,
        cgo=pin.cgo,
        tags=pin.tags,
    )
    if pin.version_check:
        expected = pin.version_expect.format(**pin.template_values(source_date))
        session.check_version_report(pin.version_check, expected)
    return {
        "tool": pin.name,
        "module": pin.module,
        "version": pin.version,
        "package": pin.package,
        "ldflags": pin.ldflags(source_date),
        "cgo": pin.cgo,
        "tags": list(pin.tags),
        "go_version": go_version,
        "source_sum": download.get("Sum"),
    }


def _download(pin: GoToolPin, session: BuildSession) -> dict[str, object]:
    # Run outside any Go module, so no go.mod around the caller is read or changed.
    output = session.go_run(
        ["mod", "download", "-json", f"{pin.module}@{pin.version}"],
        session.staging,
        {"GOFLAGS": ""},
        DOWNLOAD_TIMEOUT,
        check=False,
    )
    try:
        download = json.loads(output)
    except ValueError:
        session.fail(f"go mod download {pin.module}@{pin.version} printed no JSON")
    if not isinstance(download, dict) or download.get("Error") or not download.get("Dir"):
        error = download.get("Error") if isinstance(download, dict) else download
        raise GoToolBuildError(
            f"cannot fetch {pin.module}@{pin.version} for {pin.name}: {error}"
            f" (is the version served by the module proxy? `go list -m -versions {pin.module}`)"
        )
    return download
