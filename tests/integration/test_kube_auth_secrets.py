"""Secrets in the kube_auth options never reach Ansible's output, at any verbosity: a cluster
module runs through `ansible -vvv`, as a user runs it, with a bearer token and a proxy URL that
carries a password (the proxy is not listening, so the task fails after its retries)."""

from __future__ import annotations

import socket
import subprocess

from tests.integration.ansible_run import ansible_on_localhost

TOKEN = "t0ken-n3ver-sh0wn"
PROXY_PASSWORD = "pr0xy-pa55-n3ver-sh0wn"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ansible_vvv(module: str, args: dict[str, object]) -> subprocess.CompletedProcess[str]:
    return ansible_on_localhost(module, args, "-vvv")


def test_a_proxy_password_and_a_token_never_appear_in_verbose_output() -> None:
    proxy = f"http://kruise:{PROXY_PASSWORD}@127.0.0.1:{free_port()}"
    completed = ansible_vvv(
        "kruise_cri.remediation.node_drain",
        {
            "host": "https://127.0.0.1:6443",
            "api_key": TOKEN,
            "proxy": proxy,
            "name": "node-1",
            "state": "cordon",
            "timeout": 1,
        },
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 2, output
    # The module ran, failed on the unreachable proxy, and its arguments were shown, masked.
    assert "cannot reach the API server https://127.0.0.1:6443" in output, output
    assert '"module_args"' in output or "module_args" in output, output
    assert PROXY_PASSWORD not in output
    assert TOKEN not in output
