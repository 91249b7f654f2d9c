"""The lab's image registry and the images the lab builds itself.

There is no registry to pull from here, so the real nodes pull from one of the lab's own:
Debian's ``docker-registry`` (distribution 2.8) on ``10.213.0.<n>``, an address the host holds
on its loopback and every node reaches through its default route. Docker
nodes reach it as Docker nodes reach a company mirror, through ``registry-mirrors`` and
``insecure-registries`` in ``daemon.json`` (Docker Hub names such as ``busybox:1.35`` come from
the mirror); containerd nodes through their CRI registry configuration. So the runtime migration
has real registry configuration to carry over, and pulls after a switch are real pulls.

The images are built here, from sources no registry is needed for:

- ``pause:3.6``: ``build/pause/linux/pause.c`` of the Kubernetes module (v1.23.17, the version
  the kubelets and dockershim are built from), compiled statically with the host's gcc;
- ``library/busybox:1.35``: Debian's ``busybox-static`` with the applets the tests use, for
  workloads that are static binaries;
- ``openkruise/kruise-manager:v1.5.5`` and ``:v1.6.0``: ``/manager`` and ``/kruise-daemon`` built
  from the kruise module (:mod:`kruise_cri.lab.openkruise_build`), laid out as upstream's image,
  which the chart runs as both the manager Deployment and the daemon DaemonSet. Nodes pull them by
  their Docker Hub name through the mirror, as a cluster behind a company mirror does.

Each is one layer, written as a reproducible tar (fixed owners and times), pushed with the
registry's HTTP API v2 (blob uploads, then a schema 2 manifest).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import shutil
import signal
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kruise_cri.lab.buildcache import cache_root, go_binary, locked
from kruise_cri.lab.controlplane import die_with_parent
from kruise_cri.lab.openkruise_build import OPENKRUISE_VERSIONS, ensure_openkruise_binary
from kruise_cri.lab.packages import ensure_runtime

REGISTRY_PORT = 5000
SUBNET = "10.213.0"
START_TIMEOUT = 30.0
KUBERNETES_SOURCE = "k8s.io/kubernetes@v1.23.17"
PAUSE_VERSION = "3.6"
KRUISE_REPOSITORY = "openkruise/kruise-manager"
NOBODY = 65534
PASSWD = b"root:x:0:0:root:/root:/bin/ash\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"
GROUP = b"root:x:0:root\nnobody:x:65534:\n"
BUSYBOX_APPLETS = ("sh", "echo", "sleep", "cat", "ls", "true", "false", "env", "hostname", "wget")
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"


class RegistryError(RuntimeError):
    """The lab registry could not start, or an image could not be built or pushed."""


@dataclass(frozen=True)
class ImageFile:
    path: str  # inside the image, without a leading /
    data: bytes | None = None  # None with ``link``: a symlink
    mode: int = 0o755
    link: str | None = None
    directory: bool = False
    owner: int = 0  # uid and gid


def layer_tar(files: list[ImageFile]) -> bytes:
    """A reproducible, uncompressed layer: root-owned, time 0, in the order given."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directories: set[str] = set()
        for entry in files:
            parts = entry.path.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                directory = "/".join(parts[:depth])
                if directory not in directories:
                    directories.add(directory)
                    info = tarfile.TarInfo(directory)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
            info = tarfile.TarInfo(entry.path)
            info.mode, info.uid, info.gid = entry.mode, entry.owner, entry.owner
            if entry.directory:
                info.type = tarfile.DIRTYPE
                directories.add(entry.path)
                tar.addfile(info)
            elif entry.link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, entry.link
                tar.addfile(info)
            else:
                data = entry.data or b""
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def image_blobs(
    layer: bytes, run: dict[str, list[str]], *, compresslevel: int = 9
) -> tuple[bytes, bytes, bytes]:
    """(gzipped layer, config JSON, manifest JSON) of a one-layer linux/amd64 image; ``run``
    is its ``Entrypoint`` and/or ``Cmd``."""
    compressed = gzip.compress(layer, compresslevel=compresslevel, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {**run, "Env": ["PATH=/bin:/usr/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
            "history": [{"created_by": "kruise-cri lab"}],
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": CONFIG_TYPE, "size": len(config), "digest": _digest(config)},
            "layers": [
                {"mediaType": LAYER_TYPE, "size": len(compressed), "digest": _digest(compressed)}
            ],
        },
        sort_keys=True,
    ).encode()
    return compressed, config, manifest


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def pause_binary(*, cache: Path | None = None) -> Path:
    """Kubernetes' pause, compiled statically from the module's source, cached."""
    target = (cache if cache is not None else cache_root()) / "bin" / "pause" / PAUSE_VERSION
    binary = target / "pause"
    if binary.is_file():
        return binary
    target.mkdir(mode=0o755, parents=True, exist_ok=True)
    with locked(target.parent / f".{PAUSE_VERSION}.lock"):
        if binary.is_file():
            return binary
        download = subprocess.run(
            [go_binary(RegistryError), "mod", "download", "-json", KUBERNETES_SOURCE],
            capture_output=True,
            text=True,
            cwd=target,
            check=False,
        )
        try:
            source_dir = Path(json.loads(download.stdout)["Dir"])
        except (ValueError, KeyError) as error:
            raise RegistryError(f"cannot fetch {KUBERNETES_SOURCE}: {download.stderr}") from error
        source = source_dir / "build/pause/linux/pause.c"
        staging = target / "pause.tmp"
        compiled = subprocess.run(
            [
                "gcc",
                "-Os",
                "-Wall",
                "-static",
                f'-DVERSION="{PAUSE_VERSION}"',
                "-o",
                str(staging),
                str(source),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if compiled.returncode != 0:
            raise RegistryError(f"gcc could not build {source}: {compiled.stderr.strip()}")
        subprocess.run(["strip", str(staging)], capture_output=True, check=False)
        staging.rename(binary)
    return binary


def pause_image() -> tuple[bytes, dict[str, list[str]]]:
    layer = layer_tar([ImageFile("pause", pause_binary().read_bytes())])
    return layer, {"Entrypoint": ["/pause"]}


def busybox_image() -> tuple[bytes, dict[str, list[str]]]:
    busybox = ensure_runtime("busybox-static").root / "bin/busybox"
    files = [ImageFile("bin/busybox", busybox.read_bytes())]
    files += [ImageFile(f"bin/{applet}", link="busybox") for applet in BUSYBOX_APPLETS]
    return layer_tar(files), {"Cmd": ["sh"]}


def kruise_image(version: str) -> tuple[bytes, dict[str, list[str]]]:
    """OpenKruise ``version``'s manager image, laid out as kruise's Dockerfile lays it out: both
    binaries at the paths the chart runs, ``/log`` (its protection log) and ``/tmp`` (its webhook
    certificates) owned by ``nobody``, the user the manager runs as, and a passwd naming only
    root and nobody. Upstream's Alpine base adds CA certificates and tzdata, which the lab's
    plain-HTTP registry and UTC clocks do not need."""
    files = [
        ImageFile("manager", ensure_openkruise_binary("kruise-manager", version).read_bytes()),
        ImageFile("kruise-daemon", ensure_openkruise_binary("kruise-daemon", version).read_bytes()),
        ImageFile("log", directory=True, owner=NOBODY),
        ImageFile("tmp", directory=True, owner=NOBODY),
        ImageFile("etc/passwd", PASSWD, mode=0o644),
        ImageFile("etc/group", GROUP, mode=0o644),
    ]
    return layer_tar(files), {"Entrypoint": ["/manager"]}


class LabRegistry:
    """docker-registry on ``10.213.0.<index>:5000`` (an address on the host's loopback, which
    the nodes reach through their default route), storing in ``directory`` (removed by
    :meth:`stop`, with the address)."""

    def __init__(self, directory: Path, index: int) -> None:
        self.directory = directory
        self.index = index
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{SUBNET}.{self.index}"

    @property
    def host(self) -> str:
        """``host:port``, as image names and daemon.json name it."""
        return f"{self.address}:{REGISTRY_PORT}"

    def start(self) -> LabRegistry:
        binary = ensure_runtime("docker-registry").root / "usr/bin/docker-registry"
        storage = self.directory / "storage"
        storage.mkdir(mode=0o700, parents=True, exist_ok=True)
        config = self.directory / "config.yml"
        config.write_text(
            json.dumps(
                {
                    "version": 0.1,
                    "log": {"level": "warn"},
                    "storage": {"filesystem": {"rootdirectory": str(storage)}},
                    "http": {"addr": self.host},
                }
            )
        )
        _ip("addr", "add", f"{self.address}/32", "dev", "lo")
        try:
            with open(self.directory / "registry.log", "wb") as log:
                self.process = subprocess.Popen(
                    [str(binary), "serve", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=die_with_parent,
                )
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RegistryError(
                    f"docker-registry exited ({self.process.returncode}); log "
                    f"{self.directory / 'registry.log'}"
                )
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.2)
        raise RegistryError(f"docker-registry did not answer at {self.host} in {START_TIMEOUT} s")

    def push(
        self,
        repository: str,
        tag: str,
        layer: bytes,
        run: dict[str, list[str]],
        *,
        compresslevel: int = 9,
    ) -> str:
        """Push a one-layer image; returns its manifest digest."""
        compressed, config, manifest = image_blobs(layer, run, compresslevel=compresslevel)
        for blob in (compressed, config):
            self._put_blob(repository, blob)
        request = urllib.request.Request(
            f"http://{self.host}/v2/{repository}/manifests/{tag}",
            data=manifest,
            method="PUT",
            headers={"Content-Type": MANIFEST_TYPE},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.headers.get("Docker-Content-Digest") or _digest(manifest)

    def push_lab_images(self) -> dict[str, str]:
        """The lab's images, by the name a node pulls them with."""
        pushed = {}
        for repository, tag, (layer, run) in (
            ("pause", PAUSE_VERSION, pause_image()),
            ("library/busybox", "1.35", busybox_image()),
        ):
            self.push(repository, tag, layer, run)
            pushed[f"{self.host}/{repository}:{tag}"] = repository
        return pushed

    def push_kruise_images(self) -> dict[str, str]:
        """OpenKruise's manager image of every version the lab builds, by the name a node pulls
        it with. Fast compression: the binaries are 150 MB a version, pushed on every start."""
        pushed = {}
        for version in OPENKRUISE_VERSIONS:
            layer, run = kruise_image(version)
            self.push(KRUISE_REPOSITORY, version, layer, run, compresslevel=1)
            pushed[f"{self.host}/{KRUISE_REPOSITORY}:{version}"] = KRUISE_REPOSITORY
        return pushed

    def _put_blob(self, repository: str, blob: bytes) -> None:
        start = urllib.request.Request(
            f"http://{self.host}/v2/{repository}/blobs/uploads/", data=b"", method="POST"
        )
        with urllib.request.urlopen(start, timeout=30) as response:
            location = response.headers["Location"]
        if location.startswith("/"):
            location = f"http://{self.host}{location}"
        separator = "&" if "?" in location else "?"
        finish = urllib.request.Request(
            f"{location}{separator}digest={_digest(blob)}",
            data=blob,
            method="PUT",
            headers={"Content-Type": "application/octet-stream"},
        )
        try:
            with urllib.request.urlopen(finish, timeout=60):
                pass
        except urllib.error.HTTPError as error:
            detail = error.read()[:300]
            raise RegistryError(f"pushing a blob to {repository}: {error} {detail!r}") from error

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        subprocess.run(
            ["ip", "addr", "del", f"{self.address}/32", "dev", "lo"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.directory, ignore_errors=True)


def free_registry_index() -> int:
    """The lowest n whose 10.213.0.n no lab registry holds (on lo) yet."""
    shown = subprocess.run(
        ["ip", "-o", "-4", "addr", "show", "dev", "lo"], capture_output=True, text=True, check=False
    ).stdout
    return next(i for i in range(1, 250) if f" {SUBNET}.{i}/32 " not in shown)


def _ip(*arguments: str) -> None:
    completed = subprocess.run(["ip", *arguments], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RegistryError(f"`ip {' '.join(arguments)}` failed: {completed.stderr.strip()}")
