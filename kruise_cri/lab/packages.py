"""Fetch Debian builds of container runtimes into a private cache, without installing them.

The runtimes are downloaded with ``apt-get download`` through a private apt configuration (its own
sources list, package lists and cache under the cache root), so the system's apt state is never
read for sources nor written. Each package is unpacked with ``dpkg-deb -x`` into
``<cache>/runtimes/<package>-<version>/`` and recorded in ``<cache>/runtimes/<name>.json``; later
calls use the record and need no network.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kruise_cri.lab.buildcache import cache_root, locked

DEBIAN_MIRROR = "http://deb.debian.org/debian"
SUITES = ("bullseye", "bookworm", "trixie", "sid")
# Package lists older than this are refreshed before a download.
LISTS_MAX_AGE_SECONDS = 6 * 3600


class RuntimeFetchError(RuntimeError):
    """A runtime build could not be fetched, unpacked or does not match its pin."""


@dataclass(frozen=True)
class RuntimePin:
    """Which Debian package provides a lab runtime, and the upstream major.minor it must have."""

    name: str
    suite: str
    package: str
    version_prefix: str


RUNTIME_PINS: Mapping[str, RuntimePin] = {
    pin.name: pin
    for pin in (
        RuntimePin("containerd-1.4", "bullseye", "containerd", "1.4"),
        RuntimePin("containerd-1.6", "bookworm", "containerd", "1.6"),
        RuntimePin("containerd-1.7", "trixie", "containerd", "1.7"),
        RuntimePin("containerd-2", "sid", "containerd", "2"),
        RuntimePin("docker", "bookworm", "docker.io", "20.10"),
        RuntimePin("runc", "bookworm", "runc", "1.1"),
        RuntimePin("etcd", "bookworm", "etcd-server", "3.4"),
        # The lab's systemd nodes: debootstrap builds their image, systemd-nspawn boots them,
        # with the private library of the same systemd release (LD_LIBRARY_PATH).
        RuntimePin("debootstrap", "bookworm", "debootstrap", "1.0"),
        RuntimePin("systemd-container", "bookworm", "systemd-container", "252"),
        RuntimePin("libsystemd-shared", "bookworm", "libsystemd-shared", "252"),
        # The registry the real nodes pull from, and the static binaries of the test images.
        RuntimePin("docker-registry", "bookworm", "docker-registry", "2.8"),
        RuntimePin("busybox-static", "bookworm", "busybox-static", "1.35"),
    )
}

# Binaries looked up in an unpacked package, by attribute name of RuntimeBuild.
_BINARY_PATHS: Mapping[str, str] = {
    "containerd": "usr/bin/containerd",
    "ctr": "usr/bin/ctr",
    "containerd_shim_runc_v2": "usr/bin/containerd-shim-runc-v2",
    "dockerd": "usr/sbin/dockerd",
    "docker": "usr/bin/docker",
    "docker_init": "usr/bin/docker-init",
    "runc": "usr/sbin/runc",
    "etcd": "usr/bin/etcd",
}
_REQUIRED_BINARIES: Mapping[str, tuple[str, ...]] = {
    "containerd": ("containerd", "ctr", "containerd_shim_runc_v2"),
    "docker.io": ("dockerd", "docker"),
    "runc": ("runc",),
    "etcd-server": ("etcd",),
}


@dataclass(frozen=True)
class RuntimeBuild:
    """An unpacked runtime package. Binary paths are None when the package lacks them."""

    name: str
    suite: str
    package: str
    version: str
    upstream_version: str
    root: Path
    containerd: Path | None = None
    ctr: Path | None = None
    containerd_shim_runc_v2: Path | None = None
    dockerd: Path | None = None
    docker: Path | None = None
    docker_init: Path | None = None
    runc: Path | None = None
    etcd: Path | None = None

    @property
    def bin_dirs(self) -> list[Path]:
        """Directories holding this build's binaries, for a daemon's PATH."""
        dirs: list[Path] = []
        for attribute in _BINARY_PATHS:
            binary = getattr(self, attribute)
            if binary is not None and binary.parent not in dirs:
                dirs.append(binary.parent)
        return dirs

    @property
    def major_minor(self) -> str:
        return ".".join(self.upstream_version.split(".")[:2])


def upstream_version(debian_version: str) -> str:
    """``1:1.6.20~ds1-1+deb12u3`` -> ``1.6.20``; ``20.10.24+dfsg1-1+b6`` -> ``20.10.24``."""
    without_epoch = debian_version.split(":", 1)[-1]
    without_revision = without_epoch.rsplit("-", 1)[0] if "-" in without_epoch else without_epoch
    return re.split(r"[~+]", without_revision, maxsplit=1)[0]


def version_matches_pin(version: str, prefix: str) -> bool:
    """Whether upstream ``version`` has the pinned major (``"2"``) or major.minor (``"1.6"``)."""
    wanted = prefix.split(".")
    return version.split(".")[: len(wanted)] == wanted


def ensure_runtime(name: str, *, cache: Path | None = None) -> RuntimeBuild:
    """Return the unpacked build of the pinned runtime ``name``, downloading it if not cached."""
    pin = RUNTIME_PINS.get(name)
    if pin is None:
        raise KeyError(f"unknown runtime {name!r}; known: {', '.join(RUNTIME_PINS)}")
    root = cache if cache is not None else cache_root()
    cached = _load_record(root, pin)
    if cached is not None:
        return cached
    _make_dir(root)
    with locked(root / ".lock"):
        cached = _load_record(root, pin)
        if cached is not None:
            return cached
        return _fetch(root, pin)


def ensure_runtimes(names: Iterable[str], *, cache: Path | None = None) -> dict[str, RuntimeBuild]:
    return {name: ensure_runtime(name, cache=cache) for name in names}


def cached_runtime(name: str, *, cache: Path | None = None) -> RuntimeBuild | None:
    """The cached build of ``name``, or None; never touches the network."""
    return _load_record(cache if cache is not None else cache_root(), RUNTIME_PINS[name])


def _record_path(root: Path, pin: RuntimePin) -> Path:
    return root / "runtimes" / f"{pin.name}.json"


def _build_from(pin: RuntimePin, version: str, unpacked: Path) -> RuntimeBuild:
    binaries: dict[str, Path | None] = {}
    for attribute, relative in _BINARY_PATHS.items():
        candidate = unpacked / relative
        # docker-init is a symlink to tini-static, which is another package: keep only real files.
        binaries[attribute] = candidate if candidate.is_file() else None
    return RuntimeBuild(
        name=pin.name,
        suite=pin.suite,
        package=pin.package,
        version=version,
        upstream_version=upstream_version(version),
        root=unpacked,
        **binaries,
    )


def _missing_binaries(build: RuntimeBuild) -> list[str]:
    required = _REQUIRED_BINARIES.get(build.package, ())
    return [attribute for attribute in required if getattr(build, attribute) is None]


def _load_record(root: Path, pin: RuntimePin) -> RuntimeBuild | None:
    try:
        record = json.loads(_record_path(root, pin).read_text())
        version = str(record["version"])
        unpacked = root / "runtimes" / str(record["directory"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if record.get("package") != pin.package or record.get("suite") != pin.suite:
        return None
    if not unpacked.is_dir():
        return None
    build = _build_from(pin, version, unpacked)
    if _missing_binaries(build):
        return None
    return build


def _fetch(root: Path, pin: RuntimePin) -> RuntimeBuild:
    apt = _PrivateApt(root / "apt")
    downloads = root / "downloads"
    _make_dir(downloads)
    with tempfile.TemporaryDirectory(dir=downloads, prefix=f"{pin.name}-") as download_dir:
        deb = apt.download(pin.package, pin.suite, Path(download_dir))
        version = _deb_field(deb, "Version")
        upstream = upstream_version(version)
        if not version_matches_pin(upstream, pin.version_prefix):
            raise RuntimeFetchError(
                f"{pin.package}/{pin.suite} is now {version} (upstream {upstream}), but the pin"
                f" {pin.name!r} expects {pin.version_prefix}.x: update RUNTIME_PINS in"
                f" {__name__}"
            )
        runtimes = root / "runtimes"
        _make_dir(runtimes)
        directory = f"{pin.package}-{version}"
        unpacked = runtimes / directory
        if not unpacked.is_dir():
            staging = Path(tempfile.mkdtemp(dir=runtimes, prefix=f".unpack-{pin.package}-"))
            try:
                _run(["dpkg-deb", "-x", str(deb), str(staging)])
                staging.chmod(0o755)
                staging.rename(unpacked)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    build = _build_from(pin, version, unpacked)
    missing = _missing_binaries(build)
    if missing:
        raise RuntimeFetchError(f"{pin.package} {version} lacks {', '.join(missing)}")
    record = {
        "name": pin.name,
        "suite": pin.suite,
        "package": pin.package,
        "version": version,
        "directory": directory,
        "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write_atomically(_record_path(root, pin), json.dumps(record, indent=2) + "\n")
    return build


class _PrivateApt:
    """apt-get with its own sources, lists and cache; /etc/apt and dpkg's status are not used."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.sources = directory / "sources.list"
        self.lists = directory / "lists"
        self.cache = directory / "cache"

    def options(self) -> list[str]:
        return [
            "-o", f"Dir::Etc::SourceList={self.sources}",
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={self.lists}",
            "-o", f"Dir::Cache={self.cache}",
            "-o", "Dir::State::status=/dev/null",
            # Downloads land in directories the _apt user may not reach (e.g. under /root).
            "-o", f"APT::Sandbox::User={pwd.getpwuid(os.geteuid()).pw_name}",
            "-o", "Acquire::Languages=none",
            "-o", "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false",
            "-o", "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false",
            "-o", "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false",
            "-o", "Acquire::IndexTargets::deb::CNF::DefaultEnabled=false",
        ]  # fmt: skip

    def _prepare(self) -> None:
        for directory in (self.directory, self.lists / "partial", self.cache / "archives/partial"):
            _make_dir(directory)
        wanted = "".join(f"deb {DEBIAN_MIRROR} {suite} main\n" for suite in SUITES)
        if not self.sources.is_file() or self.sources.read_text() != wanted:
            _write_atomically(self.sources, wanted)
            for stale in self.lists.glob("*_InRelease"):
                stale.unlink()

    def _lists_fresh(self) -> bool:
        releases = list(self.lists.glob("*_InRelease"))
        if len(releases) < len(SUITES):
            return False
        oldest = min(release.stat().st_mtime for release in releases)
        return time.time() - oldest < LISTS_MAX_AGE_SECONDS

    def update(self) -> None:
        _progress(f"updating package lists for {', '.join(SUITES)}")
        _run(["apt-get", "-q", *self.options(), "update"])

    def download(self, package: str, suite: str, target: Path) -> Path:
        self._prepare()
        if not self._lists_fresh():
            self.update()
        try:
            return self._download(package, suite, target)
        except RuntimeFetchError:
            # The pool file may have been replaced by a newer upload since the lists were read.
            self.update()
            return self._download(package, suite, target)

    def _download(self, package: str, suite: str, target: Path) -> Path:
        _progress(f"downloading {package}/{suite}")
        _run(["apt-get", "-q", *self.options(), "download", f"{package}/{suite}"], cwd=target)
        debs = sorted(target.glob(f"{package}_*.deb"))
        if len(debs) != 1:
            raise RuntimeFetchError(f"apt-get download {package}/{suite} produced {debs}")
        return debs[0]


def _deb_field(deb: Path, field: str) -> str:
    return _run(["dpkg-deb", "-f", str(deb), field]).strip()


def _run(command: list[str], cwd: Path | None = None) -> str:
    completed = subprocess.run(
        command,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-15:])
        raise RuntimeFetchError(
            f"{command[0]} {command[-1]} failed ({completed.returncode}):\n{tail}"
        )
    return completed.stdout


def _progress(message: str) -> None:
    print(f"kruise-cri lab: {message}", file=sys.stderr, flush=True)


def _make_dir(path: Path) -> None:
    path.mkdir(mode=0o755, parents=True, exist_ok=True)


def _write_atomically(path: Path, content: str) -> None:
    _make_dir(path.parent)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(content)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
