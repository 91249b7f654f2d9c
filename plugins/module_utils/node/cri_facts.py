# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""Collect the raw evidence about a node's container runtimes (see docs/facts.md).

Everything here only reads: sockets are asked over gRPC and the Docker API, files are read with a
size cap, /proc is scanned for the kubelet's and containerd's argv.
"""

from __future__ import absolute_import, division, print_function

import errno
import os
import re
import subprocess
import threading
import time

from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.cri_probe import (
    probe_cri_socket,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.docker_api import (
    docker_engine_facts,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.host_paths import (
    PathLoopError,
    node_path_kind,
    resolve_node_path,
    under_root,
)

__metaclass__ = type

EVIDENCE_SCHEMA = 1
MAX_FILE_BYTES = 1024 * 1024
KUBELET_VERSION_TIMEOUT = 5.0

# Where runtimes put their CRI sockets (node paths) and what they are.
STANDARD_SOCKETS = (
    ("/run/containerd/containerd.sock", "containerd"),
    ("/var/run/containerd/containerd.sock", "containerd"),
    ("/run/k3s/containerd/containerd.sock", "k3s"),
    ("/var/run/dockershim.sock", "dockershim"),
    ("/run/cri-dockerd.sock", "cri-dockerd"),
    ("/var/run/cri-dockerd.sock", "cri-dockerd"),
    ("/run/cri-dockerd/cri-dockerd.sock", "cri-dockerd"),
    ("/var/run/crio/crio.sock", "crio"),
    ("/run/crio/crio.sock", "crio"),
    ("/var/run/pouchcri.sock", "pouch"),
    ("/var/run/docker.sock", "docker"),
)

# Every name any kruise-daemon line (1.4 to 1.8) looks for under daemon.socketLocation.
KRUISE_SOCKET_NAMES = (
    "pouchd.sock",
    "pouchcri.sock",
    "docker.sock",
    "dockershim.sock",
    "containerd.sock",
    "containerd/containerd.sock",
    "crio.sock",
    "crio/crio.sock",
    "cri-dockerd.sock",
    "cri-dockerd/cri-dockerd.sock",
)

# Sockets that speak an engine API rather than CRI.
NON_CRI_NAMES = ("docker.sock", "pouchd.sock")

KUBELET_UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
KUBELET_FILES = (
    "/var/lib/kubelet/kubeadm-flags.env",
    "/etc/default/kubelet",
    "/etc/sysconfig/kubelet",
    "/var/lib/kubelet/config.yaml",
)
RUNTIME_FILES = ("/etc/docker/daemon.json", "/etc/containerd/config.toml")
KUBELET_BINARIES = ("/usr/bin/kubelet", "/usr/local/bin/kubelet")

CONFIG_FLAG = re.compile(r"--config(?:=|\s+)[\"']?([^\s\"']+)")
ENDPOINT_FLAG = re.compile(r"--container-runtime-endpoint(?:=|\s+)[\"']?([^\s\"']+)")
ENDPOINT_YAML_KEY = re.compile(
    r"^[\"']?containerRuntimeEndpoint[\"']?\s*:\s*[\"']?([^\s\"'#]+)", re.MULTILINE
)


def endpoint_to_path(endpoint):
    """``unix:///run/x.sock`` or ``/run/x.sock`` -> ``/run/x.sock``; other schemes -> None."""
    endpoint = endpoint.strip()
    if endpoint.startswith("unix://"):
        endpoint = endpoint[len("unix://") :]
    elif "://" in endpoint:
        return None
    return endpoint if endpoint.startswith("/") else None


def read_node_file(host_root, node_path):
    """Read a node file; its symlinks resolve inside host_root, never to the machine we run on."""
    try:
        resolved = resolve_node_path(host_root, node_path)
    except PathLoopError:
        return {"content": None, "error": "too many levels of symbolic links"}
    except OSError as error:
        return {"content": None, "error": error.strerror or str(error)}
    if resolved is None:
        return {"content": None, "error": "missing"}
    host_path = under_root(host_root, resolved)
    try:
        if not os.path.isfile(host_path):
            return {"content": None, "error": "not a file"}
        with open(host_path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except (IOError, OSError) as error:
        if error.errno == errno.EACCES:
            return {"content": None, "error": "permission denied"}
        return {"content": None, "error": error.strerror or str(error)}
    if len(data) > MAX_FILE_BYTES:
        return {"content": None, "error": "too large (over %d bytes)" % MAX_FILE_BYTES}
    return {"content": data.decode("utf-8", "replace"), "error": None}


def kubelet_unit_files(host_root):
    """kubelet.service and its drop-ins in every unit directory, each directory once (on a
    merged-/usr node /lib/systemd/system is /usr/lib/systemd/system)."""
    paths = []
    seen_dirs = set()
    for unit_dir in KUBELET_UNIT_DIRS:
        try:
            resolved_dir = resolve_node_path(host_root, unit_dir)
        except (PathLoopError, OSError):
            continue
        if resolved_dir is None or resolved_dir in seen_dirs:
            continue
        seen_dirs.add(resolved_dir)
        paths.append(unit_dir + "/kubelet.service")
        try:
            dropins = resolve_node_path(host_root, unit_dir + "/kubelet.service.d")
            names = os.listdir(under_root(host_root, dropins)) if dropins else []
        except (PathLoopError, OSError):
            continue
        for name in sorted(names):
            if name.endswith(".conf"):
                paths.append(unit_dir + "/kubelet.service.d/" + name)
    return paths


def process_argvs(host_root, programs):
    """argv of every running process whose executable name is one of ``programs``."""
    proc = under_root(host_root, "/proc")
    argvs = []
    try:
        pids = [name for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return argvs
    for pid in pids:
        try:
            with open(os.path.join(proc, pid, "cmdline"), "rb") as handle:
                raw = handle.read()
        except (IOError, OSError):
            continue
        argv = [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]
        if argv and os.path.basename(argv[0]) in programs:
            argvs.append(argv)
    return argvs


def kubelet_binary_version(host_root, timeout=KUBELET_VERSION_TIMEOUT):
    for node_path in KUBELET_BINARIES:
        host_path = under_root(host_root, node_path)
        if not os.path.isfile(host_path):
            continue
        found = {"path": node_path, "version_output": None, "error": None}
        if os.path.realpath(host_root) != "/":
            found["error"] = "not run: binaries beneath a host_root other than / are not executed"
            return found
        try:
            output = subprocess.check_output(
                [host_path, "--version"],
                stderr=subprocess.STDOUT,
                timeout=timeout,
                universal_newlines=True,
            )
            found["version_output"] = output.strip()
        except (OSError, subprocess.SubprocessError) as error:
            found["error"] = str(error)
        return found
    return None


def socket_candidates(kubelet_endpoints, socket_location, socket_file, extra_sockets):
    """Ordered (node path, role) pairs; one path may carry several roles."""
    candidates = list(STANDARD_SOCKETS)
    location = "/" + socket_location.strip("/")
    for name in KRUISE_SOCKET_NAMES:
        candidates.append((location.rstrip("/") + "/" + name, "kruise"))
    if socket_file:
        candidates.append((location.rstrip("/") + "/" + socket_file, "kruise"))
    for endpoint in kubelet_endpoints:
        candidates.append((endpoint, "kubelet"))
    for path in extra_sockets:
        candidates.append((path, "extra"))
    ordered = []
    roles = {}
    for path, role in candidates:
        if path not in roles:
            ordered.append(path)
            roles[path] = []
        if role not in roles[path]:
            roles[path].append(role)
    return [(path, roles[path]) for path in ordered]


def is_cri_candidate(path, roles):
    """docker.sock and pouchd.sock speak an engine API, unless a user names them as CRI."""
    if roles == ["docker"]:
        return False
    named_by_user = "kubelet" in roles or "extra" in roles
    return named_by_user or os.path.basename(path) not in NON_CRI_NAMES


def run_in_threads(jobs, deadline_seconds):
    """Run callables concurrently; returns their results in order. Probes are I/O bound.

    A job still running at the deadline is abandoned (its thread is a daemon) and reported as
    not answering: however a peer misbehaves, collection costs about one deadline.
    """
    results = [None] * len(jobs)

    def run(index, job):
        try:
            results[index] = job()
        except Exception as error:  # a bug must become a finding, not a lost thread
            results[index] = {
                "probes": {},
                "ok": False,
                "error": "internal error: %s: %s" % (type(error).__name__, error),
            }

    threads = [threading.Thread(target=run, args=(index, job)) for index, job in enumerate(jobs)]
    for thread in threads:
        thread.daemon = True
        thread.start()
    deadline = time.monotonic() + deadline_seconds
    for index, thread in enumerate(threads):
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            results[index] = {
                "probes": {},
                "ok": False,
                "error": "no answer within %.1f s" % deadline_seconds,
            }
    return results


def collect_evidence(
    host_root, probe_timeout, socket_location="/var/run", socket_file=None, extra_sockets=()
):
    files = {}
    for node_path in KUBELET_FILES + tuple(kubelet_unit_files(host_root)) + RUNTIME_FILES:
        files[node_path] = read_node_file(host_root, node_path)

    # k3s and rke2 run the kubelet inside their own process.
    kubelet_processes = process_argvs(host_root, ("kubelet", "k3s", "rke2"))
    containerd_processes = process_argvs(host_root, ("containerd",))
    flag_texts = [entry["content"] for entry in files.values() if entry["content"]]
    flag_texts.extend(" ".join(argv) for argv in kubelet_processes)
    config_paths = set()
    for text in flag_texts:
        config_paths.update(CONFIG_FLAG.findall(text))
    for argv in containerd_processes:
        for index, arg in enumerate(argv[1:], 1):
            if arg in ("--config", "-c") and index + 1 < len(argv):
                config_paths.add(argv[index + 1])
            elif arg.startswith("--config="):
                config_paths.add(arg.split("=", 1)[1])
    for node_path in sorted(config_paths):
        if node_path.startswith("/") and node_path not in files:
            files[node_path] = read_node_file(host_root, node_path)

    kubelet_endpoints = []
    for text in flag_texts + [entry["content"] for entry in files.values() if entry["content"]]:
        for endpoint in ENDPOINT_FLAG.findall(text) + ENDPOINT_YAML_KEY.findall(text):
            path = endpoint_to_path(endpoint)
            if path and path not in kubelet_endpoints:
                kubelet_endpoints.append(path)

    sockets = []
    for path, roles in socket_candidates(
        kubelet_endpoints, socket_location, socket_file, extra_sockets
    ):
        resolved, kind = node_path_kind(host_root, path)
        sockets.append(
            {
                "path": path,
                "resolved": resolved,
                "exists": kind not in ("missing", "loop") and not kind.startswith("error: "),
                "is_socket": kind == "socket",
                "kind": kind,
                "roles": roles,
                "probes": {},
                "error": None if kind == "socket" else describe_kind(kind),
            }
        )

    # Probe each distinct CRI socket once, all at the same time: the whole collection then costs
    # at most one probe timeout, however many sockets do not answer.
    to_probe = []
    for entry in sockets:
        if (
            entry["is_socket"]
            and is_cri_candidate(entry["path"], entry["roles"])
            and entry["resolved"] not in to_probe
        ):
            to_probe.append(entry["resolved"])
    docker_socket = next(
        (
            entry["resolved"]
            for entry in sockets
            if entry["is_socket"] and os.path.basename(entry["path"]) == "docker.sock"
        ),
        None,
    )
    jobs = [
        (lambda resolved=resolved: probe_cri_socket(under_root(host_root, resolved), probe_timeout))
        for resolved in to_probe
    ]
    if docker_socket:
        jobs.append(
            lambda: docker_engine_facts(under_root(host_root, docker_socket), probe_timeout)
        )
    jobs.append(lambda: kubelet_binary_version(host_root, probe_timeout))
    # Each probe bounds itself by probe_timeout; the slack covers thread start-up only.
    results = run_in_threads(jobs, probe_timeout + 0.5)
    kubelet_binary = results.pop()
    docker = results.pop() if docker_socket else None
    if docker:
        docker["socket"] = docker_socket
    probe_by_socket = dict(zip(to_probe, results))
    for entry in sockets:
        probe = probe_by_socket.get(entry["resolved"]) if entry["is_socket"] else None
        if probe is not None and is_cri_candidate(entry["path"], entry["roles"]):
            entry["probes"] = probe["probes"]
            entry["error"] = probe["error"]
        del entry["kind"]

    return {
        "schema": EVIDENCE_SCHEMA,
        "host_root": host_root,
        "probe_timeout": probe_timeout,
        "sockets": sockets,
        "docker": docker,
        "files": files,
        "kubelet_processes": kubelet_processes,
        "containerd_processes": containerd_processes,
        "kubelet_binary": kubelet_binary,
    }


def describe_kind(kind):
    if kind.startswith("error: "):
        return kind[len("error: ") :]
    return {
        "missing": None,
        "loop": "too many levels of symbolic links",
        "file": "not a socket: a regular file",
        "directory": "not a socket: a directory",
        "other": "not a socket",
    }.get(kind)
