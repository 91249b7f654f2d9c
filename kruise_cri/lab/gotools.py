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

import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kruise_cri.lab.packages import cache_root

BUILD_RECORD = "build.json"
LOG_TAIL_LINES = 40
DOWNLOAD_TIMEOUT = 900.0
BUILD_TIMEOUT = 3600.0


class GoToolBuildError(RuntimeError):
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


# The one table of Go tools the lab builds. To add a tool, add a pin; for example
# kube-apiserver: module k8s.io/kubernetes, package cmd/kube-apiserver, stamps on
# k8s.io/component-base/version.{gitVersion,gitMajor,gitMinor,buildDate,gitTreeState};
# helm: module helm.sh/helm/v3, package cmd/helm, stamp helm.sh/helm/v3/internal/version.version;
# kwok: module sigs.k8s.io/kwok, package cmd/kwok, stamp sigs.k8s.io/kwok/pkg/consts.Version.
# Only versions the module proxy serves can be pinned (`go list -m -versions MODULE`).
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
    )
}


def ensure_go_tool(name: str, *, cache: Path | None = None) -> Path:
    """The path of the pinned tool ``name``, built from its Go module on first use."""
    pin = _pin(name)
    version_dir = _version_dir(pin, cache)
    binary = version_dir / pin.name
    if _cached(pin, version_dir):
        return binary
    version_dir.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    with _locked(version_dir.parent / f".{pin.version}.lock"):
        if _cached(pin, version_dir):
            return binary
        _build(pin, version_dir)
    return binary


def go_tool_record(name: str, *, cache: Path | None = None) -> dict[str, object] | None:
    """The ``build.json`` of the cached build of ``name`` (when and how it was built), or None."""
    pin = _pin(name)
    version_dir = _version_dir(pin, cache)
    if not _cached(pin, version_dir):
        return None
    return json.loads((version_dir / BUILD_RECORD).read_text())


def _pin(name: str) -> GoToolPin:
    pin = GO_TOOL_PINS.get(name)
    if pin is None:
        raise KeyError(f"unknown Go tool {name!r}; known: {', '.join(GO_TOOL_PINS)}")
    return pin


def _version_dir(pin: GoToolPin, cache: Path | None) -> Path:
    return (cache if cache is not None else cache_root()) / "bin" / pin.name / pin.version


def _cached(pin: GoToolPin, version_dir: Path) -> bool:
    binary = version_dir / pin.name
    try:
        record = json.loads((version_dir / BUILD_RECORD).read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(record, dict)
        and record.get("fingerprint") == pin.fingerprint()
        and binary.is_file()
        and os.access(binary, os.X_OK)
    )


def _go_binary() -> str:
    candidates = [shutil.which("go"), "/usr/local/go/bin/go", "/usr/lib/go/bin/go"]
    found = next((path for path in candidates if path and os.access(path, os.X_OK)), None)
    if found is None:
        raise GoToolBuildError("no `go` found on PATH (nor /usr/local/go/bin/go); install Go")
    return found


def _build(pin: GoToolPin, version_dir: Path) -> None:
    go = _go_binary()
    started = time.monotonic()
    log_path = version_dir.parent / f"{pin.version}.build.log"
    staging = Path(tempfile.mkdtemp(dir=version_dir.parent, prefix=f".build-{pin.version}-"))
    try:
        with open(log_path, "w") as log:
            download = _download(go, pin, staging, log, log_path)
            source_dir = Path(download["Dir"])
            source_date = str(download.get("Time") or "")
            go_version = _run(go, [go, "env", "GOVERSION"], staging, log, log_path).strip()
            command = [
                go,
                "build",
                "-trimpath",
                "-buildvcs=false",
                "-mod=readonly",
                "-ldflags",
                pin.ldflags(source_date),
                "-o",
                str(staging / pin.name),
            ]
            if pin.tags:
                command += ["-tags", ",".join(pin.tags)]
            command.append("./" + pin.package.strip("/"))
            environment = {"CGO_ENABLED": "1" if pin.cgo else "0", "GOFLAGS": ""}
            _run(go, command, source_dir, log, log_path, environment, BUILD_TIMEOUT)
            _verify(pin, staging / pin.name, source_date, log_path)
        record = {
            "tool": pin.name,
            "module": pin.module,
            "version": pin.version,
            "package": pin.package,
            "ldflags": pin.ldflags(source_date),
            "cgo": pin.cgo,
            "tags": list(pin.tags),
            "go_version": go_version,
            "source_sum": download.get("Sum"),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.monotonic() - started, 1),
            "fingerprint": pin.fingerprint(),
        }
        (staging / BUILD_RECORD).write_text(json.dumps(record, indent=2) + "\n")
        staging.chmod(0o755)
        if version_dir.exists():
            shutil.rmtree(version_dir)
        staging.rename(version_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _download(
    go: str, pin: GoToolPin, workdir: Path, log: object, log_path: Path
) -> dict[str, object]:
    # Run outside any Go module, so no go.mod around the caller is read or changed.
    output = _run(
        go,
        [go, "mod", "download", "-json", f"{pin.module}@{pin.version}"],
        workdir,
        log,
        log_path,
        {"GOFLAGS": ""},
        DOWNLOAD_TIMEOUT,
        check=False,
    )
    try:
        download = json.loads(output)
    except ValueError:
        raise GoToolBuildError(
            f"go mod download {pin.module}@{pin.version} printed no JSON; log {log_path}:\n"
            + _tail(log_path)
        ) from None
    if download.get("Error") or not download.get("Dir"):
        raise GoToolBuildError(
            f"cannot fetch {pin.module}@{pin.version} for {pin.name}: {download.get('Error')}"
            f" (is the version served by the module proxy? `go list -m -versions {pin.module}`)"
        )
    return download


def _run(
    go: str,
    command: list[str],
    cwd: Path | None,
    log: object,
    log_path: Path,
    environment: dict[str, str] | None = None,
    timeout: float = 120.0,
    *,
    check: bool = True,
) -> str:
    """Run a go command; stderr goes to the build log, stdout is returned (and logged)."""
    step = f"go {command[1]} {command[-1]}"
    env = dict(os.environ)
    env.update(environment or {})
    env["PATH"] = os.pathsep.join([str(Path(go).parent), env.get("PATH", "")])
    log.write(f"$ {shlex.join(command)}\n")  # type: ignore[attr-defined]
    log.flush()  # type: ignore[attr-defined]
    try:
        completed = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,  # type: ignore[arg-type]
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GoToolBuildError(
            f"{step} did not finish within {timeout:.0f} s; log {log_path}:\n" + _tail(log_path)
        ) from None
    log.write(completed.stdout)  # type: ignore[attr-defined]
    log.flush()  # type: ignore[attr-defined]
    if check and completed.returncode != 0:
        raise GoToolBuildError(
            f"{step} failed with exit code {completed.returncode};"
            f" log {log_path}:\n" + _tail(log_path)
        )
    return completed.stdout


def _verify(pin: GoToolPin, binary: Path, source_date: str, log_path: Path) -> None:
    if not pin.version_check:
        return
    expected = pin.version_expect.format(**pin.template_values(source_date))
    try:
        completed = subprocess.run(
            [str(binary), *pin.version_check],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        output = completed.stdout + completed.stderr
    except (OSError, subprocess.TimeoutExpired) as error:
        output = str(error)
    if expected not in output:
        raise GoToolBuildError(
            f"built {pin.name} does not report version {expected!r} (ldflags not applied?);"
            f" `{pin.name} {' '.join(pin.version_check)}` said: {output.strip()[:500]};"
            f" build log {log_path}"
        )


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(no log: {error})"


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
