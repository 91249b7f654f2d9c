"""Run Ansible itself, as a user would, against this checkout's collection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(REPO_ROOT / ".collections"),
        ANSIBLE_NOCOLOR="1",
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def ansible_env_without_cluster() -> dict[str, str]:
    """:func:`ansible_env` without what names a cluster ($KUBECONFIG, K8S_AUTH_*), so that a test
    gives the only way in."""
    return {
        key: value
        for key, value in ansible_env().items()
        if key != "KUBECONFIG" and not key.startswith("K8S_AUTH_")
    }


def run_module(
    inventory: Path | str,
    pattern: str,
    module: str,
    args: dict[str, Any] | None = None,
    *extra: str,
) -> dict[str, dict[str, Any]]:
    """Run one module through `ansible` itself; returns each host's result (from --tree)."""
    with tempfile.TemporaryDirectory(prefix="kc-tree-") as tree:
        command = [str(VENV_BIN / "ansible"), pattern, "-i", str(inventory), "-m", module]
        if args:
            command += ["-a", json.dumps(args)]
        completed = subprocess.run(
            [*command, "--tree", tree, *extra],
            env=ansible_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        results = {path.name: json.loads(path.read_text()) for path in Path(tree).iterdir()}
    # The tree callback drops the "failed" flag; a failed host has no facts and ansible exits 2.
    for result in results.values():
        if completed.returncode != 0 and "ansible_facts" not in result:
            result.setdefault("failed", True)
    if not results:
        raise AssertionError(
            f"ansible returned no host result (rc {completed.returncode}):\n{completed.stdout}\n"
            f"{completed.stderr}"
        )
    return results


def ansible_on_localhost(
    module: str,
    args: Mapping[str, Any],
    *extra: str,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``ansible localhost -m MODULE -a ARGS`` on this Python (which has the kubernetes client), as
    a user runs one module, in ``env`` (default :func:`ansible_env`); its output as printed."""
    return subprocess.run(
        [
            str(VENV_BIN / "ansible"),
            "localhost",
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            "-m",
            module,
            "-a",
            json.dumps(dict(args)),
            *extra,
        ],
        env=dict(env) if env is not None else ansible_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
