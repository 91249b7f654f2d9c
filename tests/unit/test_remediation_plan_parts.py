"""The planner's parts on their own: wording, feature-gate strings, and imports without cycles."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.wording import (
    count,
    joined_names,
    natural_key,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils import (
    remediation_plan,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.feature_gates import (
    gates_unknown_to_bridge,
    gates_without,
    merged_feature_gates,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.versions import (
    bare_version,
    major_minor,
)

from tests.conftest import COLLECTIONS_PATH

PACKAGE = remediation_plan.__name__
# The interpreter's own path too: ansible-test puts ansible-core on PYTHONPATH.
IMPORT_PATH = os.pathsep.join([str(COLLECTIONS_PATH), os.environ.get("PYTHONPATH", "")])


def _modules() -> list[str]:
    return sorted(
        info.name for info in pkgutil.walk_packages(remediation_plan.__path__, prefix=f"{PACKAGE}.")
    )


@pytest.mark.parametrize("module", _modules())
def test_every_module_imports_first_on_its_own(module: str) -> None:
    """A cycle shows only when its module is the first one imported: each gets a fresh
    interpreter."""
    subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        check=True,
        env={"PYTHONPATH": IMPORT_PATH},
    )


def test_every_module_is_found() -> None:
    names = {name.rsplit(".", 1)[1] for name in _modules()}
    assert {"plan", "inputs", "choice", "commands", "migrate", "pin", "disable"} <= names
    assert importlib.util.find_spec(f"{PACKAGE}.planner") is None


def test_wording() -> None:
    assert count(1, "node") == "1 node"
    assert count(2, "node") == "2 nodes"
    assert joined_names([f"n{i}" for i in range(12)]).endswith("n9 and 2 more")
    assert sorted(["node-10", "node-2", "node-1"], key=natural_key) == [
        "node-1",
        "node-2",
        "node-10",
    ]


def test_versions() -> None:
    assert major_minor("v1.23.17") == (1, 23)
    assert major_minor("latest") is None
    assert bare_version("v1.7.24") == "1.7.24"
    assert bare_version("vX") == "vX"


def test_feature_gate_strings() -> None:
    gates = "ImagePullJobGate=true, NotARealGate=true"
    assert gates_unknown_to_bridge(gates) == ["NotARealGate"]
    assert gates_without(gates, ["NotARealGate"]) == ("ImagePullJobGate=true")
    assert merged_feature_gates("KruiseDaemon=true,A=true") == "KruiseDaemon=false,A=true"
