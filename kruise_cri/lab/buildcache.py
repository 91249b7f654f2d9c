"""The lab's private cache, and building Go binaries into it.

A build of ``<name>`` at ``<version>`` lives in ``<cache>/bin/<name>/<version>/``: the binary and
a ``build.json`` record whose ``fingerprint`` names everything that shaped it. A build is made in
a staging directory beside it and renamed into place only when complete, so a version directory
is either absent or whole. ``<version>.build.log`` beside it keeps the log of the last build, and
``.<version>.lock`` serialises concurrent builders (threads or processes).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TextIO

BUILD_RECORD = "build.json"
LOG_TAIL_LINES = 40
GO_COMMAND_TIMEOUT = 120.0


class GoBuildError(RuntimeError):
    """A Go binary could not be built or verified. The message ends with the build log tail."""


def cache_root() -> Path:
    """``$KRUISE_CRI_CACHE`` or ``~/.cache/kruise-cri``."""
    configured = os.environ.get("KRUISE_CRI_CACHE")
    if configured:
        return Path(configured).expanduser().resolve()
    return Path.home() / ".cache" / "kruise-cri"


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if missing) for the block."""
    with open(lock_path, "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of the log at ``path``, or why it cannot be read."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(no log: {error})"


def go_binary(error: type[GoBuildError] = GoBuildError) -> str:
    """The ``go`` command: from PATH, else from the usual install locations."""
    candidates = [shutil.which("go"), "/usr/local/go/bin/go", "/usr/lib/go/bin/go"]
    found = next((path for path in candidates if path and os.access(path, os.X_OK)), None)
    if found is None:
        raise error("no `go` found on PATH (nor /usr/local/go/bin/go); install Go")
    return found


@dataclass(frozen=True)
class BuildSession:
    """One build in progress: the staging directory that becomes the version directory, and
    the build log every go command writes to."""

    go: str
    staging: Path
    binary: Path  # where the build must leave the binary, inside ``staging``
    log: TextIO
    log_path: Path
    error: type[GoBuildError]

    def go_run(
        self,
        arguments: Sequence[str],
        cwd: Path,
        environment: Mapping[str, str] | None = None,
        timeout: float = GO_COMMAND_TIMEOUT,
        *,
        check: bool = True,
    ) -> str:
        """Run ``go ARGUMENTS``; stderr goes to the build log, stdout is returned (and logged).
        The go command's own directory leads PATH, for the toolchain it runs."""
        command = [self.go, *arguments]
        step = f"go {arguments[0]} {arguments[-1]}"
        env = {**os.environ, **(environment or {})}
        env["PATH"] = os.pathsep.join([str(Path(self.go).parent), env.get("PATH", "")])
        self.log.write(f"$ {shlex.join(command)}\n")
        self.log.flush()
        try:
            completed = subprocess.run(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self.log,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self.fail(f"{step} did not finish within {timeout:.0f} s")
        self.log.write(completed.stdout)
        self.log.flush()
        if check and completed.returncode != 0:
            self.fail(f"{step} failed with exit code {completed.returncode}")
        return completed.stdout

    def go_build(
        self,
        package: str,
        module_dir: Path,
        ldflags: str,
        timeout: float,
        *,
        cgo: bool = False,
        tags: Sequence[str] = (),
    ) -> str:
        """Build ``package`` inside ``module_dir`` into :attr:`binary`, reproducibly (no paths
        or VCS state in the binary; ``go.mod``/``go.sum`` used as they are); returns the Go
        version that built it."""
        go_version = self.go_run(["env", "GOVERSION"], self.staging).strip()
        command = ["build", "-trimpath", "-buildvcs=false", "-mod=readonly"]
        command += ["-ldflags", ldflags, "-o", str(self.binary)]
        if tags:
            command += ["-tags", ",".join(tags)]
        environment = {"CGO_ENABLED": "1" if cgo else "0", "GOFLAGS": ""}
        self.go_run([*command, package], module_dir, environment, timeout)
        return go_version

    def fail(self, message: str) -> NoReturn:
        """Raise ``message`` followed by the build log's tail."""
        self.log.flush()
        raise self.error(f"{message}; log {self.log_path}:\n" + log_tail(self.log_path))

    def check_version_report(self, arguments: Sequence[str], expected: str) -> None:
        """Run the built binary with ``arguments``; its output must contain ``expected``
        (proof that the ``-X`` version stamps took effect)."""
        try:
            completed = subprocess.run(
                [str(self.binary), *arguments],
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
            name = self.binary.name
            raise self.error(
                f"built {name} does not report version {expected!r} (ldflags not applied?);"
                f" `{name} {' '.join(arguments)}` said: {output.strip()[:500]};"
                f" build log {self.log_path}"
            )


BuildSteps = Callable[[BuildSession], Mapping[str, object]]


@dataclass(frozen=True)
class CachedBuild:
    """The cache slot of binary ``name`` at ``version``. A build there is valid while its
    record carries ``fingerprint`` and the binary is an executable file."""

    name: str
    version: str
    fingerprint: str
    cache: Path | None = None  # None: cache_root()
    error: type[GoBuildError] = GoBuildError

    @property
    def directory(self) -> Path:
        root = self.cache if self.cache is not None else cache_root()
        return root / "bin" / self.name / self.version

    @property
    def binary(self) -> Path:
        return self.directory / self.name

    @property
    def log_path(self) -> Path:
        return self.directory.parent / f"{self.version}.build.log"

    def record(self) -> dict[str, object] | None:
        """The ``build.json`` of whatever build is in the slot, valid or not; None if none."""
        try:
            record = json.loads((self.directory / BUILD_RECORD).read_text())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def valid(self) -> bool:
        record = self.record()
        return (
            record is not None
            and record.get("fingerprint") == self.fingerprint
            and self.binary.is_file()
            and os.access(self.binary, os.X_OK)
        )

    def ensure(self, steps: BuildSteps) -> Path:
        """The binary, built by ``steps`` unless a valid build is cached. ``steps`` leaves the
        binary at ``session.binary`` and returns what the record should say about the build;
        the record gains ``built_at``, ``build_seconds`` and ``fingerprint``."""
        if self.valid():
            return self.binary
        self.directory.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        with locked(self.directory.parent / f".{self.version}.lock"):
            if not self.valid():
                self._build(steps)
        return self.binary

    def _build(self, steps: BuildSteps) -> None:
        go = go_binary(self.error)
        started = time.monotonic()
        version_dir = self.directory
        staging = Path(tempfile.mkdtemp(dir=version_dir.parent, prefix=f".build-{self.version}-"))
        try:
            with open(self.log_path, "w") as log:
                session = BuildSession(
                    go=go,
                    staging=staging,
                    binary=staging / self.name,
                    log=log,
                    log_path=self.log_path,
                    error=self.error,
                )
                described = dict(steps(session))
            record = {
                **described,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "build_seconds": round(time.monotonic() - started, 1),
                "fingerprint": self.fingerprint,
            }
            (staging / BUILD_RECORD).write_text(json.dumps(record, indent=2) + "\n")
            staging.chmod(0o755)
            if version_dir.exists():
                shutil.rmtree(version_dir)
            staging.rename(version_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
