"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok, for the tests and the lab.

:class:`ControlPlane` starts the five as child processes of the caller, each in a session of its
own and bound to die with the calling thread (``PR_SET_PDEATHSIG``), with every listener on
127.0.0.1. Clients authenticate with certificates from one private CA (:mod:`kruise_cri.lab.pki`);
the generated kubeconfig (0600) is the administrator's (group ``system:masters``), the controller
manager and scheduler use their own identities, as in a kubeadm cluster. kwok plays the kubelet
for nodes annotated ``kwok.x-k8s.io/node: fake`` (see ``kwok-stages.yaml``). ``stop`` ends every
process and removes the directory, so nothing is left: no process, port or file.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import yaml

from kruise_cri.lab.buildcache import log_tail
from kruise_cri.lab.gotools import ensure_go_tool
from kruise_cri.lab.kubernetes_build import CURRENT, KubernetesRelease, ensure_control_plane
from kruise_cri.lab.packages import ensure_runtime
from kruise_cri.lab.pki import (
    ClientCredentials,
    ClientIdentity,
    ControlPlanePki,
    issue_client,
    write_pki,
)

KWOK_STAGES = Path(__file__).resolve().parent / "kwok-stages.yaml"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
CRASH_LOOP_ANNOTATION = "kruise-cri.lab/crash-loop"
CRASH_EXIT_CODE_ANNOTATION = "kruise-cri.lab/crash-exit-code"
LOOPBACK = "127.0.0.1"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 10.0
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
SERVICE_CLUSTER_IP = "10.96.0.1"  # the `kubernetes` Service's, the first of the range
KWOK_POD_CIDR = "10.244.0.0/16"
KWOK_NODE_IP = "10.255.0.1"

ADMIN = ClientIdentity("admin", "kruise-cri-admin", ("system:masters",))
CONTROLLER_MANAGER = ClientIdentity("controller-manager", "system:kube-controller-manager")
SCHEDULER = ClientIdentity("scheduler", "system:kube-scheduler")
KWOK = ClientIdentity("kwok", "kwok-controller", ("system:masters",))
# kube-apiserver's own identity towards kubelets (logs, exec), as kubeadm names it.
KUBELET_CLIENT = ClientIdentity(
    "apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("system:masters",)
)


class ControlPlaneError(RuntimeError):
    """The control plane did not start. The message ends with the failing components' logs."""


@dataclass
class Component:
    name: str
    command: list[str]
    log_path: Path
    ready: Callable[[], bool]
    process: subprocess.Popen[bytes] | None = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def describe_failure(self) -> str:
        if self.process is None:
            state = "not started"
        elif self.alive():
            state = "running"
        else:
            state = f"exited with {self.process.returncode}"
        return f"--- {self.name} ({state}), {self.log_path}:\n{log_tail(self.log_path, 25)}"


@dataclass
class ControlPlane:
    """Start with :meth:`start` (or ``with ControlPlane() as plane``); the kubeconfig is
    :attr:`kubeconfig`. ``directory`` defaults to a new one under /tmp, removed by :meth:`stop`;
    a directory given by the caller stays, with the components' logs, for its owner to remove.
    etcd's data (on /dev/shm when writable) is always removed."""

    directory: Path | None = None
    with_kwok: bool = True
    # Which Kubernetes, and where kube-apiserver listens: loopback unless real nodes must reach
    # it (their kubelets join NODE_PLANE_RELEASE on a lab address; see real_nodes).
    release: KubernetesRelease = CURRENT
    address: str = LOOPBACK
    progress: TextIO | None = None
    extra_apiserver_flags: tuple[str, ...] = ()
    components: list[Component] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    _owns_directory: bool = False
    _pki: ControlPlanePki | None = None
    _cleanup_paths: list[Path] = field(default_factory=list)

    @property
    def kubeconfig(self) -> Path:
        return self._dir / "admin.kubeconfig"

    @property
    def ca_certificate(self) -> Path:
        if self._pki is None:
            raise RuntimeError("the control plane has not been started")
        return self._pki.ca_certificate

    @property
    def server(self) -> str:
        return f"https://{self.address}:{self.ports['apiserver']}"

    @property
    def _dir(self) -> Path:
        if self.directory is None:
            raise RuntimeError("the control plane has not been started")
        return self.directory

    def start(self) -> ControlPlane:
        binaries = self._binaries()
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="kruise-cri-cp-", dir="/tmp"))
            self._owns_directory = True
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            self._start(binaries)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for component in reversed(self.components):
            _terminate(component.process)
        self.components.clear()
        for path in self._cleanup_paths:
            shutil.rmtree(path, ignore_errors=True)
        self._cleanup_paths.clear()
        if self.directory is not None and self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def restart_apiserver(self, down_seconds: float, *, graceful: bool = False) -> float:
        """An outage of the API server: stop kube-apiserver (SIGKILL, as a crash; SIGTERM when
        ``graceful``), keep it down ``down_seconds``, start it again with the same flags on the
        same port and wait until it is ready. etcd and the other components keep running. The
        seconds the server was unavailable (the down time plus its start). Call it from the
        thread that will stop the plane: the new process dies with the thread that starts it."""
        apiserver = next((c for c in self.components if c.name == "kube-apiserver"), None)
        if apiserver is None:
            raise RuntimeError("the control plane has not been started")
        stopped = time.monotonic()
        if graceful:
            _terminate(apiserver.process)
        else:
            _kill(apiserver.process)
        time.sleep(max(0.0, stopped + down_seconds - time.monotonic()))
        self._spawn(apiserver)
        self._wait_ready([apiserver])
        return time.monotonic() - stopped

    def state(self) -> dict[str, object]:
        """What a user needs to reach the plane, JSON-serialisable."""
        return {
            "kubernetes_version": self.release.version,
            "server": self.server,
            "kubeconfig": str(self.kubeconfig),
            "directory": str(self._dir),
            "ports": dict(self.ports),
            "components": {
                c.name: {"pid": c.process.pid if c.process else None, "log": str(c.log_path)}
                for c in self.components
            },
        }

    def _binaries(self) -> dict[str, Path]:
        self._say("Building or finding kube-apiserver, kube-controller-manager, kube-scheduler")
        binaries = ensure_control_plane(release=self.release)
        etcd = ensure_runtime("etcd").etcd
        if etcd is None:
            raise ControlPlaneError("the etcd-server package has no usr/bin/etcd")
        binaries["etcd"] = etcd
        if self.with_kwok:
            binaries["kwok"] = ensure_go_tool("kwok")
        return binaries

    def _start(self, binaries: dict[str, Path]) -> None:
        directory = self._dir
        for name in (
            "etcd_client",
            "etcd_peer",
            "apiserver",
            "controller_manager",
            "scheduler",
            "kwok",
        ):
            self.ports[name] = _free_port()
        self._pki = write_pki(
            directory / "pki",
            (ADMIN, CONTROLLER_MANAGER, SCHEDULER, KWOK, KUBELET_CLIENT),
            server_names=(
                *dict.fromkeys((LOOPBACK, self.address)),
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                SERVICE_CLUSTER_IP,
            ),
        )
        kubeconfigs = {
            identity.file_stem: self._write_kubeconfig(identity)
            for identity in (ADMIN, CONTROLLER_MANAGER, SCHEDULER, KWOK)
        }
        etcd = self._etcd(binaries["etcd"])
        self._launch([etcd])
        apiserver = self._apiserver(binaries["kube-apiserver"])
        self._launch([apiserver])
        followers = [
            self._controller_manager(binaries["kube-controller-manager"], kubeconfigs),
            self._scheduler(binaries["kube-scheduler"], kubeconfigs),
        ]
        if self.with_kwok:
            followers.append(self._kwok(binaries["kwok"], kubeconfigs))
        self._launch(followers)
        self._say(f"Control plane ready: {self.server} (kubeconfig {self.kubeconfig})")

    def client_kubeconfig(self, identity: ClientIdentity, path: Path) -> Path:
        """A new client certificate for ``identity`` and a self-contained kubeconfig (certificates
        embedded, 0600) at ``path``, for a client on another machine, such as a node's kubelet."""
        assert self._pki is not None
        credentials = issue_client(self._pki, identity)
        return self._kubeconfig_file(identity, credentials, path, embed=True)

    def _write_kubeconfig(self, identity: ClientIdentity) -> Path:
        assert self._pki is not None
        credentials = self._pki.clients[identity.file_stem]
        path = self._dir / f"{identity.file_stem}.kubeconfig"
        return self._kubeconfig_file(identity, credentials, path, embed=False)

    def _kubeconfig_file(
        self, identity: ClientIdentity, credentials: ClientCredentials, path: Path, *, embed: bool
    ) -> Path:
        assert self._pki is not None

        def reference(name: str, file: Path) -> dict[str, str]:
            if embed:
                return {f"{name}-data": base64.b64encode(file.read_bytes()).decode()}
            return {name: str(file)}

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "kruise-cri-lab",
                    "cluster": {
                        "server": self.server,
                        **reference("certificate-authority", self._pki.ca_certificate),
                    },
                }
            ],
            "users": [
                {
                    "name": identity.user,
                    "user": {
                        **reference("client-certificate", credentials.certificate),
                        **reference("client-key", credentials.key),
                    },
                }
            ],
            "contexts": [
                {
                    "name": "kruise-cri-lab",
                    "context": {"cluster": "kruise-cri-lab", "user": identity.user},
                }
            ],
            "current-context": "kruise-cri-lab",
        }
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as kubeconfig:
            yaml.safe_dump(config, kubeconfig, sort_keys=False)
        return path

    def _component(self, name: str, command: list[str], ready: Callable[[], bool]) -> Component:
        return Component(name, command, self._dir / "logs" / f"{name}.log", ready)

    def _etcd(self, binary: Path) -> Component:
        client = f"http://{LOOPBACK}:{self.ports['etcd_client']}"
        peer = f"http://{LOOPBACK}:{self.ports['etcd_peer']}"
        # On tmpfs when there is one: fsync is free there, and etcd's data is thrown away anyway.
        data_root = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else self._dir
        data_dir = Path(tempfile.mkdtemp(prefix="kruise-cri-etcd-", dir=data_root))
        self._cleanup_paths.append(data_dir)
        command = [
            str(binary),
            "--name=lab",
            f"--data-dir={data_dir}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=lab={peer}",
            "--quota-backend-bytes=8589934592",
            "--log-level=warn",
        ]
        return self._component(
            "etcd", command, lambda: _http_ok(f"{client}/health", b'"health":"true"')
        )

    def _apiserver(self, binary: Path) -> Component:
        pki = self._pki
        assert pki is not None
        command = [
            str(binary),
            f"--etcd-servers=http://{LOOPBACK}:{self.ports['etcd_client']}",
            f"--bind-address={self.address}",
            f"--advertise-address={self.address}",
            f"--secure-port={self.ports['apiserver']}",
            f"--tls-cert-file={pki.serving_certificate}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_certificate}",
            f"--kubelet-client-certificate={pki.clients[KUBELET_CLIENT.file_stem].certificate}",
            f"--kubelet-client-key={pki.clients[KUBELET_CLIENT.file_stem].key}",
            # Real nodes' names are not in any DNS: reach their kubelets by address.
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            "--authorization-mode=Node,RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.service_account_public_key}",
            f"--service-account-signing-key-file={pki.service_account_private_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            # The host runs no kube-proxy, so Service IPs lead nowhere from here: call webhooks
            # (kruise-manager's) at their endpoints' addresses, as clusters without a proxy on
            # their masters do.
            "--enable-aggregator-routing=true",
            # The `kubernetes` Service cannot point at a loopback address.
            *(["--endpoint-reconciler-type=none"] if self.address == LOOPBACK else []),
            # Watch-list streams (a gate from v1.27) need etcd's progress notifications, which
            # Debian's etcd 3.4 cannot give: clients such as kwok then only catch up on
            # re-lists, 10-40 s late.
            *(["--feature-gates=WatchList=false"] if self.release.minor >= 27 else []),
            "--max-requests-inflight=1000",
            "--max-mutating-requests-inflight=500",
            "--profiling=false",
            "--v=1",
            *self.extra_apiserver_flags,
        ]
        return self._component("kube-apiserver", command, self._apiserver_ready)

    def _controller_manager(self, binary: Path, kubeconfigs: dict[str, Path]) -> Component:
        pki = self._pki
        assert pki is not None
        kubeconfig = kubeconfigs[CONTROLLER_MANAGER.file_stem]
        port = self.ports["controller_manager"]
        command = [
            str(binary),
            *_serving_flags(kubeconfig, port),
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki.service_account_private_key}",
            f"--root-ca-file={pki.ca_certificate}",
            f"--cluster-signing-cert-file={pki.ca_certificate}",
            f"--cluster-signing-key-file={pki.ca_key}",
            "--v=1",
        ]
        return self._component("kube-controller-manager", command, lambda: _https_healthz(port))

    def _scheduler(self, binary: Path, kubeconfigs: dict[str, Path]) -> Component:
        kubeconfig = kubeconfigs[SCHEDULER.file_stem]
        port = self.ports["scheduler"]
        command = [str(binary), *_serving_flags(kubeconfig, port), "--v=1"]
        return self._component("kube-scheduler", command, lambda: _https_healthz(port))

    def _kwok(self, binary: Path, kubeconfigs: dict[str, Path]) -> Component:
        port = self.ports["kwok"]
        command = [
            str(binary),
            f"--kubeconfig={kubeconfigs[KWOK.file_stem]}",
            f"--config={KWOK_STAGES}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
            f"--cidr={KWOK_POD_CIDR}",
            f"--node-ip={KWOK_NODE_IP}",
            "--node-lease-duration-seconds=40",
            f"--server-address={LOOPBACK}:{port}",
        ]
        return self._component(
            "kwok", command, lambda: _http_ok(f"http://{LOOPBACK}:{port}/healthz", b"ok")
        )

    def _apiserver_ready(self) -> bool:
        pki = self._pki
        assert pki is not None
        admin = pki.clients[ADMIN.file_stem]
        context = ssl.create_default_context(cafile=str(pki.ca_certificate))
        context.load_cert_chain(str(admin.certificate), str(admin.key))
        return _http_ok(f"{self.server}/readyz", b"ok", context)

    def _launch(self, components: Iterable[Component]) -> None:
        started = list(components)
        for component in started:
            self._spawn(component)
            self.components.append(component)
        self._wait_ready(started)

    def _spawn(self, component: Component) -> None:
        self._say(f"  starting {component.name}")
        component.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(component.log_path, "ab") as log:
            component.process = subprocess.Popen(
                component.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._dir,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    def _wait_ready(self, started: list[Component]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        waiting = list(started)
        while waiting:
            for component in list(waiting):
                if not component.alive():
                    raise ControlPlaneError(
                        f"{component.name} exited during start\n" + component.describe_failure()
                    )
                if component.ready():
                    waiting.remove(component)
            if waiting and time.monotonic() > deadline:
                raise ControlPlaneError(
                    f"not ready within {START_TIMEOUT:.0f} s: "
                    + ", ".join(c.name for c in waiting)
                    + "\n"
                    + "\n".join(c.describe_failure() for c in waiting)
                )
            time.sleep(0.1)

    def _say(self, message: str) -> None:
        if self.progress is not None:
            self.progress.write(message + "\n")
            self.progress.flush()


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:
    """In the child between fork and exec: SIGTERM when the thread that started it dies."""
    if _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")


def _terminate(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _kill(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _serving_flags(kubeconfig: Path, port: int) -> list[str]:
    """What kube-controller-manager and kube-scheduler share: their identity for the API server
    (also to check who calls them), a loopback port of their own, and no leader election."""
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={port}",
        "--leader-elect=false",
    ]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _http_ok(url: str, expected: bytes, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return response.status == 200 and expected in response.read()
    except (OSError, urllib.error.URLError, ssl.SSLError):
        return False


def _https_healthz(port: int) -> bool:
    # The component serves a self-signed certificate of its own: only liveness is checked here.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return _http_ok(f"https://{LOOPBACK}:{port}/healthz", b"ok", context)
