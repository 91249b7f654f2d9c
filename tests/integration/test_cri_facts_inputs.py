"""cri_facts on odd and bad inputs: clear errors, findings instead of tracebacks, bounded time."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kruise_cri.lab.runtimes import HostRoot
from tests.integration.ansible_run import run_module

MODULE = "kruise_cri.remediation.cri_facts"


@pytest.fixture
def host_root() -> Iterator[HostRoot]:
    with HostRoot() as root:
        yield root


@pytest.fixture
def node_inventory(tmp_path: Path, bare_python: Path) -> Path:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "node": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": str(bare_python),
                        }
                    }
                }
            }
        )
    )
    return inventory


def facts_of(inventory: Path, args: dict, *extra: str) -> dict:
    result = run_module(inventory, "node", MODULE, args, *extra)["node"]
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    return result["ansible_facts"]["kruise_cri"]


def timed_facts(inventory: Path, args: dict) -> tuple[dict, float]:
    started = time.monotonic()
    facts = facts_of(inventory, args)
    return facts, time.monotonic() - started


def failure_of(inventory: Path, args: dict) -> str:
    result = run_module(inventory, "node", MODULE, args)["node"]
    assert result.get("failed"), result
    assert "Traceback" not in str(result)
    return result["msg"]


@pytest.mark.parametrize(
    ("args", "names"),
    [
        ({"host_root": "/nonexistent/node"}, ["host_root", "/nonexistent/node"]),
        ({"probe_timeout": 0}, ["probe_timeout", "greater than 0"]),
        ({"probe_timeout": 3600}, ["probe_timeout", "at most"]),
        ({"kruise_socket_location": "var/run"}, ["kruise_socket_location", "absolute"]),
        ({"kruise_socket_file": "../etc/passwd"}, ["kruise_socket_file", "relative"]),
        ({"extra_sockets": ["tcp://10.0.0.1:1234"]}, ["extra_sockets", "unix:///path"]),
    ],
)
def test_invalid_option_names_the_option_and_the_fix(node_inventory, args, names) -> None:
    message = failure_of(node_inventory, args)
    for name in names:
        assert name in message


def test_regular_file_where_a_socket_should_be(node_inventory, host_root: HostRoot) -> None:
    target = host_root.node_path("/run/containerd/containerd.sock")
    target.parent.mkdir(parents=True)
    target.write_text("not a socket")
    facts = facts_of(node_inventory, {"host_root": str(host_root.path)})
    assert facts["endpoints"] == [] or all(not e["cri_api_versions"] for e in facts["endpoints"])
    text = yaml.safe_dump(facts)
    assert "not a socket" in text
    for line in ("1.4", "1.5", "1.6", "1.7", "1.8"):
        assert facts["kruise_daemon"][line]["starts"] is False


def test_socket_that_never_answers_costs_at_most_the_timeout(
    node_inventory, host_root: HostRoot
) -> None:
    path = host_root.node_path("/run/containerd/containerd.sock")
    path.parent.mkdir(parents=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(16)  # accepted by the kernel, never read from: a hung runtime
    try:
        facts, elapsed = timed_facts(
            node_inventory, {"host_root": str(host_root.path), "probe_timeout": 1.0}
        )
    finally:
        listener.close()
    endpoint = facts["endpoints"][0]
    assert endpoint["cri_api_versions"] == []
    probes = yaml.safe_dump(endpoint)
    assert "DEADLINE" in probes.upper() or "no answer" in probes
    # One module run, Ansible's own start-up included; without the deadline this would hang.
    assert elapsed < 15


def test_malformed_files_become_findings(node_inventory, host_root: HostRoot) -> None:
    files = {
        "/var/lib/kubelet/kubeadm-flags.env": 'KUBELET_KUBEADM_ARGS="--config\n',
        "/var/lib/kubelet/config.yaml": "kind: KubeletConfiguration\ncgroupDriver: [unclosed\n",
        "/etc/docker/daemon.json": '{"registry-mirrors": ["https://m"],,}',
        "/etc/containerd/config.toml": "version = 2\n[plugins\n",
        "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf": (
            "[Service]\n"
            'Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"\n'
            "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\n"
            "ExecStart=\n"
            "ExecStart=/usr/bin/kubelet $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS\n"
        ),
    }
    for node_path, content in files.items():
        target = host_root.node_path(node_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    facts = facts_of(node_inventory, {"host_root": str(host_root.path)})
    sources = {finding["source"] for finding in facts["findings"]}
    for node_path in list(files)[:4]:
        assert node_path in sources, f"no finding for {node_path}: {facts['findings']}"


def test_check_mode_gives_the_same_facts(fleet, node_inventory) -> None:
    root = str(fleet.roots["node-containerd-1-6"].path)
    normal = facts_of(node_inventory, {"host_root": root})
    checked = facts_of(node_inventory, {"host_root": root}, "--check")
    assert checked["kruise_daemon"] == normal["kruise_daemon"]
    assert [e["socket"] for e in checked["endpoints"]] == [e["socket"] for e in normal["endpoints"]]


def test_docker_socket_that_drips_bytes_costs_at_most_the_timeout(
    node_inventory, host_root: HostRoot
) -> None:
    path = host_root.node_path("/run/docker.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(4)
    stop = threading.Event()

    def drip() -> None:  # a wedged daemon: one byte at a time, never a whole answer
        listener.settimeout(0.2)
        connections = []
        while not stop.is_set():
            with contextlib.suppress(OSError):
                connections.append(listener.accept()[0])
            for connection in connections:
                with contextlib.suppress(OSError):
                    connection.send(b"H")
        for connection in connections:
            connection.close()

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    try:
        facts, elapsed = timed_facts(
            node_inventory, {"host_root": str(host_root.path), "probe_timeout": 1.0}
        )
    finally:
        stop.set()
        dripper.join()
        listener.close()
    assert facts["docker"] is None or facts["docker"]["error"]
    assert elapsed < 15
