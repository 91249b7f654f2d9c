"""Real lab nodes: Debian bookworm booted with systemd in systemd-nspawn, reached over SSH, each
with a real kubelet v1.23.17 and kube-proxy that join the nodes' own v1.24.17 control plane.

Where the host-root fleet (:mod:`kruise_cri.lab.fleet`) runs runtimes as processes of ours, a
real node is a machine of its own: systemd as PID 1, containerd, Docker, the kubelet and
kube-proxy as its systemd units, sshd, its own network namespace on a veth pair, and its own
``/run`` (a tmpfs inside the node; the host reaches its sockets at ``/proc/<init>/root/run``).
Playbooks reach it over SSH with a generated key and a known host key, exactly as they reach
production nodes.

- **Image.** ``debootstrap --variant=minbase`` of bookworm plus docker.io, containerd, runc,
  iptables and the CNI plugins installed with apt inside it (not booted), cached once under
  ``<cache>/nodes/<image>/`` (about a minute, 550 MB). debootstrap, systemd-nspawn and the
  systemd library it needs come from Debian's packages unpacked into the cache
  (:mod:`kruise_cri.lab.packages`), so the host needs neither installed.
- **Cluster.** :class:`RealNodes` starts the lab registry and a control plane of
  :data:`~kruise_cri.lab.kubernetes_build.NODE_PLANE_RELEASE` on the registry's lab address,
  then issues each node's kubelet and kube-proxy a client certificate before it boots.
- **A node** is an overlay of the image (ready in milliseconds) with real directories bound on
  ``/var/lib/docker`` and ``/var/lib/containerd`` (overlay cannot hold their snapshots); its
  kind (:data:`REAL_NODE_KINDS`) is a :class:`~kruise_cri.lab.nodes.NodeSpec`, the description
  the host-root fleet uses, and the kubelet's runtime flags. :func:`lay_out_node` writes it:
  which containerd build (binaries put in ``/usr/local/bin`` when it is not the image's 1.6), CRI
  on or off, Docker with its ``daemon.json``, a cri-dockerd-style shim, the kubelet as kubeadm
  leaves it, kube-proxy, and the pods' CNI bridge.
- **Boot.** ``systemd-nspawn --boot --register=no --keep-unit`` (there is no system bus on a
  host whose PID 1 is not systemd) with ``--network-veth``; a oneshot unit remounts the cgroup v1
  controllers writable before containerd and Docker start. The node is up when SSH answers, its
  runtimes' sockets exist and its Node is Ready.
- **Stop.** SIGTERM to every systemd-nspawn halts the nodes (a forced halt and SIGKILL after
  :data:`STOP_TIMEOUT`); the overlay is unmounted and the node's directory removed. The veth pair
  goes with the node's network namespace; then the plane and the registry stop.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import yaml
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeRequestError,
)

from kruise_cri.lab.buildcache import cache_root, locked
from kruise_cri.lab.cluster_objects import client_for
from kruise_cri.lab.controlplane import ControlPlane, die_with_parent
from kruise_cri.lab.dockershim_build import ensure_dockershim
from kruise_cri.lab.kernel_tunables import KernelTunables
from kruise_cri.lab.kubernetes_build import (
    NODE_PLANE_RELEASE,
    NODE_RELEASE,
    ensure_control_plane,
    ensure_kubernetes_binary,
)
from kruise_cri.lab.nodes import (
    CONTAINERD_ENDPOINT,
    DOCKER_DAEMON_JSON,
    FLAGS_PATH,
    LINES,
    ContainerdSpec,
    NodeSpec,
    kubeadm_flags,
    kubeadm_node_files,
)
from kruise_cri.lab.packages import ensure_runtime
from kruise_cri.lab.pki import ClientIdentity
from kruise_cri.lab.registry import PAUSE_VERSION, LabRegistry, free_registry_index
from kruise_cri.lab.waiting import WaitTimeout, wait_until

SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BOOTSTRAP_INCLUDE = ("systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "iproute2")
IMAGE_PACKAGES = ("docker.io", "containerd", "runc", "iptables", "containernetworking-plugins")
# The containerd the image's apt installs; other builds are put beside it in /usr/local/bin.
IMAGE_CONTAINERD = "containerd-1.6"
# What migrate_runtime upgrades the nodes' CRI v1alpha2-only containerd to, from a release archive.
UPGRADE_CONTAINERD = "containerd-1.7"
CRI_V1ALPHA2_ONLY_CONTAINERDS = frozenset({"containerd-1.4"})
IMAGE_RECIPE = 1  # bump when the recipe below changes: the cached image is rebuilt
SUBNET = "10.213"  # node N: host side 10.213.N.1/30, node side 10.213.N.2/30
MACHINE_PREFIX = "kcn"
BOOT_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0
# One allocator of machine names, subnets and registry addresses at a time, across processes.
INDEX_LOCK = Path("/run/kruise-cri-real-nodes.lock")

# Where kubeadm's drop-in runs the kubelet.
KUBELET_PATH = "/usr/bin/kubelet"
# Where cri-dockerd serves Docker to a remote kubelet; the lab's standalone dockershim (the same
# CRI v1alpha2 server cri-dockerd 0.2 is) listens there on the docker-cri-off kind.
CRI_DOCKERD_SOCKET = "/run/cri-dockerd.sock"
POD_SUBNET = "10.214"  # node N's pods: 10.214.N.0/24, on the node's own bridge
DOCKER_POD_ACCESS_PATH = "etc/systemd/system/docker.service.d/20-kruise-cri-lab-pods.conf"
# Docker sets FORWARD's policy to DROP, which keeps the API server from the webhooks of pods on
# the node; DOCKER-USER is where Docker lets an admin open what it closes.
DOCKER_POD_ACCESS_DROPIN = """\
[Service]
ExecStartPost=/bin/sh -c 'iptables -C DOCKER-USER -d {subnet} -j ACCEPT 2>/dev/null || \\
  iptables -I DOCKER-USER -d {subnet} -j ACCEPT'
"""
CNI_NETWORK = "kruise-cri-lab"
# Docker's own default cgroup driver. The kubelet's must match its runtime's, and the systemd
# driver needs a systemd that owns the cgroup controllers, which the node's systemd does not.
REAL_DOCKER_DAEMON_JSON: dict[str, object] = {
    **DOCKER_DAEMON_JSON,
    "exec-opts": ["native.cgroupdriver=cgroupfs"],
}
KUBELET_SETTINGS: dict[str, object] = {
    "failSwapOn": False,
    "authentication": {
        "anonymous": {"enabled": False},
        "webhook": {"enabled": True},
        "x509": {"clientCAFile": "/etc/kubernetes/pki/ca.crt"},
    },
    "authorization": {"mode": "Webhook"},
}
REMOTE_CONTAINERD = (
    "--container-runtime=remote",
    f"--container-runtime-endpoint={CONTAINERD_ENDPOINT}",
)


@dataclass(frozen=True)
class RealKind:
    """A kind of real node: what it runs (the same NodeSpec the host-root fleet uses, so
    verdicts and crash expectations are written once) and how its kubelet v1.23.17 reaches the
    runtime."""

    spec: NodeSpec
    kubelet_flags: tuple[str, ...]
    # A standalone dockershim serving Docker at this socket, as cri-dockerd does.
    shim_socket: str | None = None


def _real_kind(
    kind: str,
    description: str,
    containerd: ContainerdSpec,
    kubelet_flags: tuple[str, ...],
    *,
    compatible_lines: frozenset[str],
    kruise_daemon_1_6_exit_code: int | None,
    docker: bool = False,
    shim_socket: str | None = None,
) -> RealKind:
    spec = NodeSpec(
        name=real_node_name(kind),
        description=description,
        containerds=(containerd,),
        with_docker=docker,
        with_dockershim=docker,
        docker_daemon_json=REAL_DOCKER_DAEMON_JSON if docker else None,
        files=kubeadm_node_files(
            kubelet_flags,
            "cgroupfs",
            settings={**KUBELET_SETTINGS, "cgroupRoot": node_cgroup_root(real_node_name(kind))},
        ),
        compatible_lines=compatible_lines,
        kubelet_version=NODE_RELEASE.version,
        kruise_daemon_1_6_exit_code=kruise_daemon_1_6_exit_code,
    )
    return RealKind(spec, kubelet_flags, shim_socket)


def real_node_name(kind: str) -> str:
    return f"nspawn-{kind}"


CGROUP_ROOT_PARENT = "kruise-cri-lab"
HOST_CGROUPS = Path("/sys/fs/cgroup")


def node_cgroup_root(node_name: str) -> str:
    """The node's own cgroup root, beneath which its kubelet puts every pod.

    The nodes share the host's cgroup v1 hierarchies (nspawn gives no cgroup namespace there), and
    a kubelet removes the pod cgroups under its root that belong to no pod of its own: with the
    default root every kubelet removed the others' pods' cgroups, and a container restarting in
    one failed to start (exit 128, StartError)."""
    return f"/{CGROUP_ROOT_PARENT}/{node_name}"


def remove_cgroup_root(root: str, cgroups: Path = HOST_CGROUPS) -> None:
    """Remove a stopped node's cgroup root from every hierarchy, deepest first (a cgroup goes
    with rmdir only, once empty); one still in use is left, and so is the shared parent while
    another node has its root there."""
    for controller in cgroups.iterdir():
        top = controller / root.lstrip("/")
        if not top.is_dir():
            continue
        for directory, _subdirectories, _files in sorted(
            os.walk(top), key=lambda walked: walked[0].count("/"), reverse=True
        ):
            with contextlib.suppress(OSError):
                os.rmdir(directory)
        with contextlib.suppress(OSError):
            os.rmdir(top.parent)


# The kinds of real node, by the name `kruise-cri lab up --nodes` takes. How kruise-daemon 1.6.0
# ends on each is measured (test_real_nodes.py runs the real daemon and checks it again).
REAL_NODE_KINDS: Mapping[str, RealKind] = {
    "docker-dockershim": _real_kind(
        "docker-dockershim",
        "Docker 20.10 through the kubelet's built-in dockershim (kubelet 1.23); Docker's own "
        "containerd 1.6 with the CRI plugin disabled",
        ContainerdSpec(IMAGE_CONTAINERD, cri=False),
        ("--container-runtime=docker", "--network-plugin=cni"),
        compatible_lines=frozenset({"1.4", "1.5"}),
        kruise_daemon_1_6_exit_code=255,
        docker=True,
    ),
    "containerd-1-4": _real_kind(
        "containerd-1-4",
        "containerd 1.4.13 (CRI v1alpha2 only), kubelet 1.23 with a remote endpoint",
        ContainerdSpec("containerd-1.4"),
        REMOTE_CONTAINERD,
        compatible_lines=frozenset({"1.4", "1.5"}),
        kruise_daemon_1_6_exit_code=2,
    ),
    "containerd-1-7": _real_kind(
        "containerd-1-7",
        "containerd 1.7.24 (CRI v1 and v1alpha2), kubelet 1.23 with a remote endpoint",
        ContainerdSpec("containerd-1.7"),
        REMOTE_CONTAINERD,
        compatible_lines=frozenset(LINES),
        kruise_daemon_1_6_exit_code=None,
    ),
    # Docker as older Docker packages install it, on a containerd 1.4 with the CRI plugin off,
    # served to the kubelet by a cri-dockerd-style shim. kruise-daemon looks for dockershim.sock
    # only: every line skips Docker here, and 1.6 panics on the CRI-less containerd. Migrating
    # it upgrades that containerd too (it could not serve CRI v1 if its plugin were on).
    "docker-cri-off": _real_kind(
        "docker-cri-off",
        "Docker 20.10 on containerd 1.4.13 with the CRI plugin disabled, served to kubelet "
        "1.23 by a cri-dockerd-style shim (CRI v1alpha2) at /run/cri-dockerd.sock",
        ContainerdSpec("containerd-1.4", cri=False),
        ("--container-runtime=remote", f"--container-runtime-endpoint=unix://{CRI_DOCKERD_SOCKET}"),
        compatible_lines=frozenset(),
        kruise_daemon_1_6_exit_code=2,
        docker=True,
        shim_socket=CRI_DOCKERD_SOCKET,
    ),
}


class RealNodeError(RuntimeError):
    """A real node could not be built, booted or reached; the message says which and why."""


def parse_kinds(text: str) -> list[str]:
    """``all`` or a comma-separated list of :data:`REAL_NODE_KINDS` names, in the given order."""
    if text.strip() == "all":
        return list(REAL_NODE_KINDS)
    kinds = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [kind for kind in kinds if kind not in REAL_NODE_KINDS]
    if unknown or not kinds:
        raise ValueError(
            f"unknown node kind(s) {', '.join(unknown) or repr(text)}; use all or a comma-separated "
            f"list of {', '.join(REAL_NODE_KINDS)}"
        )
    return list(dict.fromkeys(kinds))


# ---------------------------------------------------------------------------------------------
# Tools and the image
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NspawnTools:
    nspawn: Path
    library_dir: Path  # systemd's private library, for LD_LIBRARY_PATH
    debootstrap: Path
    debootstrap_dir: Path

    def nspawn_env(self) -> dict[str, str]:
        return {**os.environ, "LD_LIBRARY_PATH": str(self.library_dir)}


def ensure_nspawn_tools(*, cache: Path | None = None) -> NspawnTools:
    container = ensure_runtime("systemd-container", cache=cache).root
    systemd = ensure_runtime("libsystemd-shared", cache=cache).root
    debootstrap = ensure_runtime("debootstrap", cache=cache).root
    tools = NspawnTools(
        nspawn=container / "usr/bin/systemd-nspawn",
        library_dir=systemd / "usr/lib/x86_64-linux-gnu/systemd",
        debootstrap=debootstrap / "usr/sbin/debootstrap",
        debootstrap_dir=debootstrap / "usr/share/debootstrap",
    )
    for path in (tools.nspawn, tools.debootstrap, tools.debootstrap_dir, tools.library_dir):
        if not path.exists():
            raise RealNodeError(f"{path} is missing from the unpacked Debian package")
    return tools


def image_name() -> str:
    recipe = json.dumps([SUITE, BOOTSTRAP_INCLUDE, IMAGE_PACKAGES, IMAGE_RECIPE])
    return f"debian-{SUITE}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def ensure_node_image(
    tools: NspawnTools, *, cache: Path | None = None, stream: TextIO | None = None
) -> Path:
    """The node image's root directory, built on first use (about a minute)."""
    images = (cache if cache is not None else cache_root()) / "nodes"
    images.mkdir(mode=0o755, parents=True, exist_ok=True)
    image = images / image_name()
    complete = images / f"{image.name}.complete"
    if complete.exists() and image.is_dir():
        return image
    with locked(images / f".{image.name}.lock"):
        if complete.exists() and image.is_dir():
            return image
        shutil.rmtree(image, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(dir=images, prefix=f".build-{image.name}-"))
        log_path = images / f"{image.name}.build.log"
        try:
            with open(log_path, "w") as log:
                _say(stream, f"  building the node image {image.name} (debootstrap {SUITE})")
                _logged(
                    [
                        str(tools.debootstrap),
                        "--variant=minbase",
                        f"--include={','.join(BOOTSTRAP_INCLUDE)}",
                        SUITE,
                        str(staging),
                        DEBIAN_MIRROR,
                    ],
                    log,
                    log_path,
                    env={**os.environ, "DEBOOTSTRAP_DIR": str(tools.debootstrap_dir)},
                )
                _say(stream, f"  installing {', '.join(IMAGE_PACKAGES)} into the image")
                install = (
                    "export DEBIAN_FRONTEND=noninteractive && apt-get update -q && "
                    "apt-get install -y -q --no-install-recommends "
                    + " ".join(IMAGE_PACKAGES)
                    + " && apt-get clean && rm -rf /var/lib/apt/lists/*"
                )
                _logged(
                    [
                        str(tools.nspawn),
                        "-q",
                        "-D",
                        str(staging),
                        "--register=no",
                        "--keep-unit",
                        "sh",
                        "-c",
                        install,
                    ],
                    log,
                    log_path,
                    env=tools.nspawn_env(),
                )
            staging.chmod(0o755)
            staging.rename(image)
            complete.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return image


def _logged(
    command: list[str],
    log: TextIO,
    log_path: Path,
    *,
    env: Mapping[str, str],
    timeout: float = 1200,
) -> None:
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    completed = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(env),
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
        raise RealNodeError(
            f"{Path(command[0]).name} failed with exit code {completed.returncode}; "
            f"log {log_path}:\n{tail}"
        )


def _say(stream: TextIO | None, message: str) -> None:
    if stream is not None:
        stream.write(message + "\n")
        stream.flush()


# ---------------------------------------------------------------------------------------------
# One node
# ---------------------------------------------------------------------------------------------

CGROUPS_SCRIPT_PATH = "/usr/local/sbin/kruise-cri-cgroups"
# The controllers writable, and the node's cgroup root (node_cgroup_root) in each: the kubelet
# refuses a root that does not exist. A new cpuset cgroup has no CPUs or memory nodes until given
# its parent's.
CGROUPS_SCRIPT = """\
#!/bin/sh
root={root}
for controller in /sys/fs/cgroup/*/; do
  mountpoint -q "$controller" || continue
  mount -o remount,bind,rw "$controller" || true
  mkdir -p "$controller$root"
done
parent=/sys/fs/cgroup/cpuset
for part in $(echo "$root" | tr / ' '); do
  dir=$parent/$part
  for file in cpuset.cpus cpuset.mems; do
    [ -f "$dir/$file" ] && [ -z "$(cat "$dir/$file")" ] && cat "$parent/$file" > "$dir/$file"
  done
  parent=$dir
done
exit 0
"""
CGROUPS_UNIT = f"""\
[Unit]
Description=Make the cgroup v1 controllers writable and give the kubelet its root (kruise-cri lab)
DefaultDependencies=no
Before=containerd.service docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart={CGROUPS_SCRIPT_PATH}

[Install]
WantedBy=multi-user.target
"""
CONTAINERD_DROPIN = """\
[Service]
ExecStart=
ExecStart=/usr/local/bin/containerd
"""
SHIM_UNIT = """\
[Unit]
Description=Docker's CRI shim: the dockershim of Kubernetes 1.23, as cri-dockerd (kruise-cri lab)
After=docker.service
Requires=docker.service

[Service]
ExecStart=/usr/local/bin/dockershim --listen=unix://{socket} \\
  --docker-endpoint=unix:///run/docker.sock --root-directory=/var/lib/dockershim \\
  --pod-infra-container-image={pause} --network-plugin=cni \\
  --cni-conf-dir=/etc/cni/net.d --cni-bin-dir=/opt/cni/bin --streaming-address=127.0.0.1:0
Restart=on-failure

[Install]
WantedBy=multi-user.target
"""
# The unit the kubelet packages install; kubeadm's drop-in (the kind's files) sets its command.
KUBELET_UNIT = """\
[Unit]
Description=kubelet: The Kubernetes Node Agent
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=2

[Install]
WantedBy=multi-user.target
"""
KUBE_PROXY_UNIT = """\
[Unit]
Description=kube-proxy: Services on this node (kruise-cri lab)
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/local/bin/kube-proxy --config=/var/lib/kube-proxy/config.conf
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
"""


def kube_proxy_config(node_name: str) -> str:
    """iptables mode, as kubeadm's ConfigMap sets it; conntrack left as the host has it (its
    sysctls and module parameters are the host's)."""
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": "/var/lib/kube-proxy/kubeconfig.conf"},
        "mode": "iptables",
        "clusterCIDR": f"{POD_SUBNET}.0.0/16",
        "hostnameOverride": node_name,
        "conntrack": {
            "maxPerCore": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }
    return yaml.safe_dump(config, sort_keys=False)


# A container has no /dev/kmsg, which the kubelet's OOM watcher opens: the console stands in.
KUBELET_LAB_DROPIN = """\
[Unit]
After=containerd.service docker.service kruise-cri-cgroups.service

[Service]
ExecStartPre=/bin/ln -sf /dev/console /dev/kmsg
"""
# dockershim starts every pod's sandbox with oom_score_adj -998, which a machine without
# CAP_SYS_RESOURCE in its bounding set (this sandbox, for one) refuses: runc fails with "can't get
# final child's PID from pipe". containerd has restrict_oom_score_adj for this; Docker has no such
# option, so on such a machine Docker nodes run runc behind this wrapper, which raises a negative
# oomScoreAdj in the bundle to the node's own before it hands over. A stand-in for a kernel
# permission the machine lacks, used only where it lacks it.
CAP_SYS_RESOURCE = 24
OOM_SCORE_RUNTIME = "runc-oom-restricted"
OOM_SCORE_RUNC_PATH = "/usr/local/bin/runc-oom-restricted"
OOM_SCORE_RUNC = """\
#!/usr/bin/python3
import json, os, sys

arguments = sys.argv[1:]
if "create" in arguments or "run" in arguments:
    bundle = "."
    for flag in ("--bundle", "-b"):
        if flag in arguments[:-1]:
            bundle = arguments[arguments.index(flag) + 1]
    path = os.path.join(bundle, "config.json")
    with open(path) as handle:
        config = json.load(handle)
    floor = int(open("/proc/self/oom_score_adj").read())
    process = config.get("process") or {}
    if process.get("oomScoreAdj", floor) < floor:
        process["oomScoreAdj"] = floor
        with open(path, "w") as handle:
            json.dump(config, handle)
os.execv("/usr/bin/runc", ["runc", *arguments])
"""
CRI_ON = 'version = 2\n\n[plugins."io.containerd.grpc.v1.cri"]\n  restrict_oom_score_adj = true\n'
CRI_OFF = 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n'


def cri_config(registry: str | None) -> str:
    """containerd's CRI configuration: sandboxes from the lab registry's pause, which also
    mirrors Docker Hub (plain HTTP, as an internal mirror often is)."""
    if registry is None:
        return CRI_ON
    cri = '[plugins."io.containerd.grpc.v1.cri"]'
    return (
        f'{CRI_ON}  sandbox_image = "{registry}/pause:{PAUSE_VERSION}"\n'
        f'\n{cri[:-1]}.registry.mirrors."{registry}"]\n  endpoint = ["http://{registry}"]\n'
        f'\n{cri[:-1]}.registry.mirrors."docker.io"]\n  endpoint = ["http://{registry}"]\n'
    )


def docker_daemon_json(
    spec: NodeSpec, registry: str | None, *, oom_score_runtime: bool = False
) -> dict[str, object]:
    """The kind's daemon.json, with the lab registry as Docker Hub mirror and insecure registry;
    with ``oom_score_runtime``, runc behind :data:`OOM_SCORE_RUNC` (see there)."""
    config = dict(spec.docker_daemon_json or {})
    if registry is not None:
        config["registry-mirrors"] = [f"http://{registry}"]
        config["insecure-registries"] = [registry]
    if oom_score_runtime:
        config["runtimes"] = {OOM_SCORE_RUNTIME: {"path": OOM_SCORE_RUNC_PATH}}
        config["default-runtime"] = OOM_SCORE_RUNTIME
    return config


def host_can_lower_oom_scores(status: Path = Path("/proc/self/status")) -> bool:
    """Whether this machine's bounding set has CAP_SYS_RESOURCE, without which no process, a
    node's runc included, may set a negative oom_score_adj."""
    for line in status.read_text().splitlines():
        if line.startswith("CapBnd:"):
            return bool(int(line.split()[1], 16) >> CAP_SYS_RESOURCE & 1)
    return False


@dataclass(frozen=True)
class KubeletJoin:
    """What a node's kubelet needs to join the lab's cluster."""

    node_name: str
    node_ip: str
    kubeconfig: Path  # self-contained, with the node's client certificate
    proxy_kubeconfig: Path  # the same for kube-proxy (system:kube-proxy)
    ca_certificate: Path
    pod_subnet: str  # CIDR of the node's bridge


def node_sockets(kind: RealKind) -> list[str]:
    """The sockets (paths inside the node) that must exist before the node counts as up; the
    kubelet's built-in dockershim makes /run/dockershim.sock."""
    spec = kind.spec
    sockets = ["run/containerd/containerd.sock"]
    if spec.with_docker:
        sockets.append("run/docker.sock")
        sockets.append((kind.shim_socket or "/run/dockershim.sock").lstrip("/"))
    return sockets


def cni_config(pod_subnet: str) -> str:
    """A bridge for the node's pods, addresses from ``pod_subnet``, the bridge their gateway."""
    config = {
        "cniVersion": "0.4.0",
        "name": CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": pod_subnet}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
            # Docker sets the FORWARD policy to DROP: accept the pods' own traffic.
            {"type": "firewall", "backend": "iptables"},
        ],
    }
    return json.dumps(config, indent=2) + "\n"


def lay_out_node(
    root: Path,
    kind: RealKind,
    hostname: str,
    public_key: str,
    registry: str,
    kubelet: KubeletJoin,
) -> None:
    """Lay ``kind`` out in the node's root (through its overlay): its runtimes pulling from
    ``registry`` (``host:port``) and a kubelet that joins the cluster at boot."""
    spec = kind.spec

    def write(relative: str, text: str, mode: int = 0o644) -> Path:
        path = root / relative.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
        return path

    def enable(unit: str, target: str = "multi-user.target") -> None:
        link = root / f"etc/systemd/system/{target}.wants/{unit}"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(f"/etc/systemd/system/{unit}")

    def mask(unit: str) -> None:
        link = root / f"etc/systemd/system/{unit}"
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")

    pause = f"{registry}/pause:{PAUSE_VERSION}"
    write("etc/hostname", hostname + "\n")
    (root / "root/.ssh").mkdir(mode=0o700, parents=True, exist_ok=True)
    write("root/.ssh/authorized_keys", public_key, 0o600)
    write(CGROUPS_SCRIPT_PATH, CGROUPS_SCRIPT.format(root=node_cgroup_root(spec.name)), 0o755)
    write("etc/systemd/system/kruise-cri-cgroups.service", CGROUPS_UNIT)
    enable("kruise-cri-cgroups.service")
    containerd = spec.containerds[0]
    write("etc/containerd/config.toml", cri_config(registry) if containerd.cri else CRI_OFF)
    if containerd.build != IMAGE_CONTAINERD:
        build = ensure_runtime(containerd.build)
        bin_dir = root / "usr/local/bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        for binary in sorted((build.root / "usr/bin").iterdir()):
            if binary.is_file() and binary.name.startswith(("containerd", "ctr")):
                shutil.copy2(binary, bin_dir / binary.name)
        write("etc/systemd/system/containerd.service.d/kruise-cri.conf", CONTAINERD_DROPIN)
    if spec.with_docker:
        restrict = not host_can_lower_oom_scores()
        if restrict:
            write(OOM_SCORE_RUNC_PATH, OOM_SCORE_RUNC, 0o755)
        config = docker_daemon_json(spec, registry, oom_score_runtime=restrict)
        write("etc/docker/daemon.json", json.dumps(config, indent=2))
        write(DOCKER_POD_ACCESS_PATH, DOCKER_POD_ACCESS_DROPIN.format(subnet=kubelet.pod_subnet))
    else:
        mask("docker.service")
        mask("docker.socket")
    if kind.shim_socket:
        (root / "usr/local/bin").mkdir(parents=True, exist_ok=True)
        shutil.copy2(ensure_dockershim(), root / "usr/local/bin/dockershim")
        write(
            "etc/systemd/system/cri-dockerd.service",
            SHIM_UNIT.format(socket=kind.shim_socket, pause=pause),
        )
        enable("cri-dockerd.service")
    # The pod network: Debian's CNI plugins, at the path runtimes look in.
    write(f"etc/cni/net.d/10-{CNI_NETWORK}.conflist", cni_config(kubelet.pod_subnet))
    cni_bin = root / "opt/cni/bin"
    cni_bin.parent.mkdir(parents=True, exist_ok=True)
    cni_bin.unlink(missing_ok=True)
    cni_bin.symlink_to("/usr/lib/cni")
    # The kubelet, as kubeadm leaves it: the kind's files, its flags with the lab's pause image.
    for node_path, content in spec.files.items():
        write(node_path, content)
    write(FLAGS_PATH, kubeadm_flags(*kind.kubelet_flags, f"--pod-infra-container-image={pause}"))
    write(
        "etc/default/kubelet",
        f'KUBELET_EXTRA_ARGS="--hostname-override={kubelet.node_name} '
        f'--node-ip={kubelet.node_ip}"\n',
    )
    write("etc/kubernetes/kubelet.conf", kubelet.kubeconfig.read_text(), 0o600)
    write("etc/kubernetes/pki/ca.crt", kubelet.ca_certificate.read_text())
    kubelet_path = root / KUBELET_PATH.lstrip("/")
    kubelet_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ensure_kubernetes_binary("kubelet", release=NODE_RELEASE), kubelet_path)
    write("etc/systemd/system/kubelet.service", KUBELET_UNIT)
    write("etc/systemd/system/kubelet.service.d/20-kruise-cri-lab.conf", KUBELET_LAB_DROPIN)
    enable("kubelet.service")
    # kube-proxy, so pods (kruise-manager and kruise-daemon among them) reach the `kubernetes`
    # Service at its ClusterIP.
    write("var/lib/kube-proxy/kubeconfig.conf", kubelet.proxy_kubeconfig.read_text(), 0o600)
    write("var/lib/kube-proxy/config.conf", kube_proxy_config(kubelet.node_name))
    proxy_path = root / "usr/local/bin/kube-proxy"
    proxy_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ensure_kubernetes_binary("kube-proxy", release=NODE_RELEASE), proxy_path)
    write("etc/systemd/system/kube-proxy.service", KUBE_PROXY_UNIT)
    enable("kube-proxy.service")


@dataclass
class RealNode:
    """One booted node."""

    kind: str
    real_kind: RealKind
    index: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    init_pid: int | None = None

    @property
    def name(self) -> str:
        return real_node_name(self.kind)

    @property
    def spec(self) -> NodeSpec:
        return self.real_kind.spec

    @property
    def pod_subnet(self) -> str:
        return f"{POD_SUBNET}.{self.index}.0/24"

    @property
    def machine(self) -> str:
        return f"{MACHINE_PREFIX}{self.index}"

    @property
    def host_link(self) -> str:
        return f"ve-{self.machine}"

    @property
    def address(self) -> str:
        return f"{SUBNET}.{self.index}.2"

    @property
    def gateway(self) -> str:
        return f"{SUBNET}.{self.index}.1"

    @property
    def root(self) -> Path:
        return self.directory / "root"

    def install(self, source: Path, node_path: str, mode: int = 0o755) -> str:
        """Copy a host file into the node; returns its path as the node sees it."""
        target = self.root / node_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        target.chmod(mode)
        return "/" + node_path.lstrip("/")

    def var_run(self) -> Path:
        """The node's /run as the host reaches it (a tmpfs inside the node)."""
        if self.init_pid is None:
            raise RealNodeError(f"{self.name} is not running")
        return Path(f"/proc/{self.init_pid}/root/run")

    def start(
        self,
        tools: NspawnTools,
        image: Path,
        public_key: str,
        host_key: Path,
        registry: str,
        kubeconfig: Path,
        proxy_kubeconfig: Path,
        ca_certificate: Path,
    ) -> None:
        for part in ("upper", "work", "root", "var-lib-docker", "var-lib-containerd"):
            (self.directory / part).mkdir(mode=0o755, parents=True, exist_ok=True)
        lower, upper, work = image, self.directory / "upper", self.directory / "work"
        _run(
            [
                "mount",
                "-t",
                "overlay",
                "overlay",
                "-o",
                f"lowerdir={lower},upperdir={upper},workdir={work}",
                str(self.root),
            ]
        )
        join = KubeletJoin(
            self.name,
            self.address,
            kubeconfig,
            proxy_kubeconfig,
            ca_certificate,
            self.pod_subnet,
        )
        lay_out_node(self.root, self.real_kind, self.machine, public_key, registry, join)
        remove_cgroup_root(node_cgroup_root(self.name))  # left by a lab that was killed
        ssh_dir = self.root / "etc/ssh"
        for old_key in ssh_dir.glob("ssh_host_*"):
            old_key.unlink()
        shutil.copy2(host_key, ssh_dir / "ssh_host_ed25519_key")
        shutil.copy2(
            host_key.with_name(host_key.name + ".pub"), ssh_dir / "ssh_host_ed25519_key.pub"
        )
        console = open(self.directory / "console.log", "wb")  # noqa: SIM115 - the child's
        with console:
            self.process = subprocess.Popen(
                [
                    str(tools.nspawn),
                    "-q",
                    "-D",
                    str(self.root),
                    "--boot",
                    "--register=no",
                    "--keep-unit",
                    "--network-veth",
                    "-M",
                    self.machine,
                    "--system-call-filter=add_key keyctl request_key",
                    # Not in nspawn's default set; dockershim's sandboxes get oom_score_adj -998.
                    "--capability=CAP_SYS_RESOURCE",
                    f"--bind={self.directory / 'var-lib-docker'}:/var/lib/docker",
                    f"--bind={self.directory / 'var-lib-containerd'}:/var/lib/containerd",
                ],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                # /proc/sys/net writable (it is the node's own network namespace): kube-proxy
                # and the CNI bridge set forwarding and route_localnet there.
                env={**tools.nspawn_env(), "SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network"},
                preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + BOOT_TIMEOUT
        self.init_pid = self._wait_for_init(deadline)
        self._network(deadline)

    def _wait_for_init(self, deadline: float) -> int:
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RealNodeError(
                    f"{self.name}: systemd-nspawn exited ({self.process.returncode}); {self._console_tail()}"
                )
            with contextlib.suppress(OSError):
                for task in Path(f"/proc/{self.process.pid}/task").iterdir():
                    children = (task / "children").read_text().split()
                    if children and Path(f"/sys/class/net/{self.host_link}").exists():
                        return int(children[0])
            time.sleep(0.1)
        raise RealNodeError(
            f"{self.name}: no init process within {BOOT_TIMEOUT:.0f} s; {self._console_tail()}"
        )

    def _network(self, deadline: float) -> None:
        _run(["ip", "addr", "add", f"{self.gateway}/30", "dev", self.host_link])
        _run(["ip", "link", "set", self.host_link, "up"])
        # The API server calls webhooks (kruise-manager's) at their pods' addresses; the route
        # goes with the link when the node stops.
        _run(["ip", "route", "add", self.pod_subnet, "via", self.address, "dev", self.host_link])
        inside = (
            f"ip link set lo up && ip addr add {self.address}/30 dev host0 && "
            f"ip link set host0 up && ip route add default via {self.gateway}"
        )
        while True:
            completed = subprocess.run(
                ["nsenter", "-t", str(self.init_pid), "-n", "sh", "-c", inside],
                capture_output=True,
                text=True,
                check=False,
            )
            if completed.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RealNodeError(
                    f"{self.name}: cannot configure host0: {completed.stderr.strip()}"
                )
            time.sleep(0.2)  # host0 appears once nspawn has moved it in

    def wait_ready(self, ssh: list[str], deadline: float) -> None:
        """Until SSH answers and every runtime socket exists."""
        sockets = node_sockets(self.real_kind)
        last = ""
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RealNodeError(
                    f"{self.name}: the node stopped while booting; {self._console_tail()}"
                )
            missing = [s for s in sockets if not (self.var_run().parent / s).exists()]
            if not missing:
                completed = subprocess.run(
                    [*ssh, f"root@{self.address}", "true"],
                    capture_output=True,
                    text=True,
                    timeout=15,
                    check=False,
                )
                if completed.returncode == 0:
                    return
                last = completed.stderr.strip()
            else:
                last = f"waiting for {', '.join('/' + s for s in missing)}"
            time.sleep(0.3)
        raise RealNodeError(
            f"{self.name} is not ready within {BOOT_TIMEOUT:.0f} s: {last}; {self._console_tail()}"
        )

    def halt(self) -> None:
        """Ask the node to halt (SIGTERM to systemd-nspawn), without waiting."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                if self.init_pid is not None:
                    subprocess.run(
                        [
                            "nsenter",
                            "-t",
                            str(self.init_pid),
                            "-a",
                            "systemctl",
                            "--force",
                            "--force",
                            "halt",
                        ],
                        capture_output=True,
                        check=False,
                        timeout=10,
                    )
                try:
                    process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=STOP_TIMEOUT)
        self.process = None
        self.init_pid = None
        if os.path.ismount(self.root):
            unmounted = subprocess.run(["umount", str(self.root)], capture_output=True, check=False)
            if unmounted.returncode != 0:
                subprocess.run(["umount", "-l", str(self.root)], capture_output=True, check=False)
        remove_cgroup_root(node_cgroup_root(self.name))
        shutil.rmtree(self.directory, ignore_errors=True)

    def memory_bytes(self) -> int:
        """Resident memory of every process in the node (its PID namespace)."""
        if self.init_pid is None:
            return 0
        namespace = os.readlink(f"/proc/{self.init_pid}/ns/pid")
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if os.readlink(entry / "ns/pid") != namespace:
                    continue
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        return total

    def _console_tail(self) -> str:
        try:
            text = (self.directory / "console.log").read_text(errors="replace")
        except OSError:
            return "no console log"
        return "console: " + " | ".join(text.splitlines()[-8:])


def _run(command: list[str]) -> str:
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RealNodeError(f"`{' '.join(command)}` failed: {completed.stderr.strip()}")
    return completed.stdout


# ---------------------------------------------------------------------------------------------
# The nodes of one lab or test
# ---------------------------------------------------------------------------------------------


class RealNodes:
    """Real nodes of the given kinds in ``directory`` (theirs alone: :meth:`stop` removes it):
    an SSH key, the nodes' known host key, one tree per node, the lab registry, and the cluster
    their kubelets join: a :data:`NODE_PLANE_RELEASE` control plane (:attr:`plane`) listening on
    the registry's lab address, in ``plane_directory`` (default: inside ``directory``), with kwok
    beside it when ``with_kwok``."""

    def __init__(
        self,
        kinds: Iterable[str],
        directory: Path,
        *,
        progress: TextIO | None = None,
        plane_directory: Path | None = None,
        with_kwok: bool = False,
    ) -> None:
        self.kinds = list(kinds)
        self.directory = directory
        self.progress = progress
        self.plane_directory = plane_directory or directory / "cluster"
        self.with_kwok = with_kwok
        self.nodes: dict[str, RealNode] = {}
        self.registry: LabRegistry | None = None
        self.plane: ControlPlane | None = None
        self.tunables = KernelTunables()

    @property
    def key(self) -> Path:
        return self.directory / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.directory / "known_hosts"

    def ssh_command(self) -> list[str]:
        return ["ssh", *self.ssh_options()]

    def ssh_options(self) -> list[str]:
        return [
            "-i",
            str(self.key),
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
        ]

    def start(self) -> RealNodes:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        tools = ensure_nspawn_tools()
        image = ensure_node_image(tools, stream=self.progress)
        host_key = self.directory / "host_key"
        for key, comment in ((self.key, "kruise-cri lab"), (host_key, "kruise-cri lab node")):
            key.unlink(missing_ok=True)
            key.with_name(key.name + ".pub").unlink(missing_ok=True)
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)])
        host_key_pub = (self.directory / "host_key.pub").read_text().split()
        public_key = (self.directory / "id_ed25519.pub").read_text()
        try:
            with locked(INDEX_LOCK):
                self.registry = LabRegistry(self.directory / "registry", free_registry_index())
                _say(self.progress, f"  starting the lab registry at {self.registry.host}")
                self.registry.start()
                self.registry.push_lab_images()
                _say(self.progress, "  pushing OpenKruise's images to the lab registry")
                self.registry.push_kruise_images()
                plane = self._start_plane(self.registry.address)
                self.tunables.hold()
                taken = {link.name for link in Path("/sys/class/net").glob("ve-*")}
                free = (i for i in range(1, 250) if f"ve-{MACHINE_PREFIX}{i}" not in taken)
                for kind in self.kinds:
                    node = RealNode(kind, REAL_NODE_KINDS[kind], next(free), self.directory / kind)
                    self.nodes[kind] = node
                    _say(
                        self.progress,
                        f"  booting {node.name} ({node.spec.description}) at {node.address}",
                    )
                    node.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                    kubeconfig = plane.client_kubeconfig(
                        ClientIdentity(
                            f"node-{node.name}", f"system:node:{node.name}", ("system:nodes",)
                        ),
                        node.directory / "kubelet.conf",
                    )
                    proxy_kubeconfig = plane.client_kubeconfig(
                        ClientIdentity(f"kube-proxy-{node.name}", "system:kube-proxy"),
                        node.directory / "kube-proxy.conf",
                    )
                    node.start(
                        tools,
                        image,
                        public_key,
                        host_key,
                        self.registry.host,
                        kubeconfig,
                        proxy_kubeconfig,
                        plane.ca_certificate,
                    )
            self.known_hosts.write_text(
                "".join(
                    f"{node.address} {host_key_pub[0]} {host_key_pub[1]}\n"
                    for node in self.nodes.values()
                )
            )
            deadline = time.monotonic() + BOOT_TIMEOUT
            for node in self.nodes.values():
                node.wait_ready(self.ssh_command(), deadline)
            self._wait_nodes_ready(plane, deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_plane(self, address: str) -> ControlPlane:
        _say(self.progress, f"  starting the nodes' control plane ({NODE_PLANE_RELEASE.version})")
        self.plane = ControlPlane(
            directory=self.plane_directory,
            with_kwok=self.with_kwok,
            progress=self.progress,
            release=NODE_PLANE_RELEASE,
            address=address,
        )
        return self.plane.start()

    def _wait_nodes_ready(self, plane: ControlPlane, deadline: float) -> None:
        """Until every node's kubelet has registered its Node and reports Ready."""
        client = client_for(plane.kubeconfig)
        waiting: dict[str, str] = {}

        def all_ready() -> bool:
            waiting.clear()
            for node in self.nodes.values():
                try:
                    status = client.get(f"/api/v1/nodes/{node.name}")["status"]
                except KubeRequestError as error:
                    waiting[node.name] = f"not registered ({error.status})"
                    continue
                ready = next(
                    (c for c in status.get("conditions", []) if c["type"] == "Ready"), None
                )
                if ready is None or ready["status"] != "True":
                    waiting[node.name] = (ready or {}).get("message", "no Ready condition")
            return not waiting

        try:
            wait_until("every real node Ready", all_ready, max(deadline - time.monotonic(), 30))
        except WaitTimeout:
            detail = "; ".join(f"{name}: {why}" for name, why in waiting.items())
            raise RealNodeError(
                f"kubelets not Ready within {BOOT_TIMEOUT:.0f} s: {detail}"
            ) from None

    def stop(self) -> None:
        """Stop every node, their control plane and the registry; put the host's kernel tunables
        back if no other lab holds them; remove the directory (keys, known hosts, node trees,
        the registry's storage)."""
        for node in self.nodes.values():
            node.halt()  # all at once: each takes seconds to halt
        for node in reversed(list(self.nodes.values())):
            node.stop()
        self.nodes.clear()
        if self.plane is not None:
            self.plane.stop()
            self.plane = None
        self.tunables.release()
        if self.registry is not None:
            self.registry.stop()
            self.registry = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RealNodes:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def specs(self) -> dict[str, NodeSpec]:
        return {node.name: node.spec for node in self.nodes.values()}

    def containerd_archive(self) -> Path:
        """A release archive (``bin/`` as containerd's own) of :data:`UPGRADE_CONTAINERD`, what
        migrate_runtime upgrades the nodes' containerd 1.5 or older from."""
        build = ensure_runtime(UPGRADE_CONTAINERD)
        path = self.directory / f"containerd-{build.upstream_version}-linux.tar.gz"
        if not path.exists():
            with tarfile.open(path, "w:gz", compresslevel=1) as archive:
                for binary in sorted((build.root / "usr/bin").iterdir()):
                    if binary.is_file() and binary.name.startswith(("containerd", "ctr")):
                        archive.add(binary, arcname=f"bin/{binary.name}")
        return path

    def inventory_hosts(self) -> dict[str, dict[str, object]]:
        """Ansible host variables: SSH as root with the lab's key and known host key; on a
        machine that cannot lower OOM scores, the containerd a migration configures keeps them
        as the node's containerd does (see OOM_SCORE_RUNC)."""
        restricted: dict[str, object] = (
            {}
            if host_can_lower_oom_scores()
            else {"kruise_cri_containerd_runtime_options": {"restrict_oom_score_adj": True}}
        )
        upgradable = {
            node.name
            for node in self.nodes.values()
            if node.spec.containerds[0].build in CRI_V1ALPHA2_ONLY_CONTAINERDS
        }
        return {
            node.name: {
                **restricted,
                **(
                    {"kruise_cri_containerd_archive": str(self.containerd_archive())}
                    if node.name in upgradable
                    else {}
                ),
                "ansible_host": node.address,
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(self.key),
                "ansible_ssh_common_args": (
                    f"-o UserKnownHostsFile={self.known_hosts} -o StrictHostKeyChecking=yes"
                ),
                "ansible_python_interpreter": "/usr/bin/python3",
                "kruise_cri_become": False,
            }
            for node in self.nodes.values()
        }

    def inventory(self) -> dict[str, object]:
        return {"all": {"children": {"kube_nodes": {"hosts": self.inventory_hosts()}}}}


def prepare_real_nodes(kinds: Iterable[str], *, stream: TextIO | None = None) -> None:
    """Fetch and build what booting ``kinds`` needs, so the boot itself takes seconds."""
    kinds = list(kinds)
    if not kinds:
        return
    _say(stream, "Preparing the real nodes' image and tools (a minute or two, once)")
    tools = ensure_nspawn_tools()
    ensure_node_image(tools, stream=stream)
    for kind in kinds:
        real_kind = REAL_NODE_KINDS[kind]
        for containerd in real_kind.spec.containerds:
            ensure_runtime(containerd.build)
        if real_kind.shim_socket:
            ensure_dockershim()
    for command in NODE_RELEASE.commands:  # the kubelet and kube-proxy
        ensure_kubernetes_binary(command, release=NODE_RELEASE)
    ensure_control_plane(release=NODE_PLANE_RELEASE)
