"""Helpers for tests against the real control plane: helm, waiting, running cluster modules."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.gotools import ensure_go_tool
from tests.integration.ansible_run import REPO_ROOT, run_module

CHART_DIR = REPO_ROOT / "tests" / "charts" / "kruise"
T = TypeVar("T")


def helm(plane: ControlPlane, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the lab's real helm against ``plane``."""
    completed = subprocess.run(
        [str(ensure_go_tool("helm")), "--kubeconfig", str(plane.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"HOME": str(plane.kubeconfig.parent), "PATH": "/usr/bin:/bin"},
    )
    if check and completed.returncode != 0:
        raise AssertionError(
            f"helm {' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}"
        )
    return completed


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def run_cluster_module(module: str, args: dict[str, Any], *extra: str) -> dict[str, Any]:
    """Run a cluster module on localhost with this Python (which has the kubernetes client)."""
    results = run_module(
        "localhost,",
        "localhost",
        module,
        args,
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        *extra,
    )
    return results["localhost"]


def chart_dir() -> Path:
    return CHART_DIR
