"""Run the lab's helm (built from its Go module) against a kubeconfig."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from kruise_cri.lab.gotools import ensure_go_tool

# The lab's stand-in for the upstream OpenKruise chart (charts/README.md): the one place that
# says where it is, for the lab, the tests that package it (as 1.6.3 and 1.5.5) and the benchmarks.
KRUISE_CHART = Path(__file__).resolve().parent / "charts" / "kruise"
HELM_TIMEOUT = 300.0


class HelmError(RuntimeError):
    """helm exited non-zero; the message has its output."""


def run_helm(
    kubeconfig: Path | str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``helm --kubeconfig KUBECONFIG ARGS``, with a throwaway HOME so no user's helm settings or
    repositories are read or written."""
    with tempfile.TemporaryDirectory(prefix="kruise-cri-helm-home-") as home:
        completed = subprocess.run(
            [str(ensure_go_tool("helm")), "--kubeconfig", str(kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=HELM_TIMEOUT,
            check=False,
            env={"HOME": home, "PATH": "/usr/bin:/bin"},
        )
    if check and completed.returncode != 0:
        raise HelmError(
            f"helm {' '.join(args)} failed ({completed.returncode}):\n"
            f"{completed.stdout}{completed.stderr}"
        )
    return completed


def package_kruise_chart(version: str, directory: Path, *, kubeconfig: Path | str = "") -> Path:
    """The lab's chart packaged as OpenKruise ``version`` (``1.6.0``, ``1.5.5``; chart and app
    version alike, as upstream numbers them): ``<directory>/kruise-<version>.tgz``."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    run_helm(
        kubeconfig or "/dev/null",
        "package",
        str(KRUISE_CHART),
        "--version",
        version,
        "--app-version",
        version,
        "-d",
        str(directory),
    )
    return directory / f"kruise-{version}.tgz"
