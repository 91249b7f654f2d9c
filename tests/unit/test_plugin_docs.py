"""Every plugin documents itself under its own name, as ansible-doc shows it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import COLLECTIONS_PATH, REPO_ROOT

# ansible-doc of the running ansible-core (ansible-test's virtualenvs have no console scripts).
ANSIBLE_DOC = [sys.executable, "-m", "ansible.cli.doc"]
# Also under ansible-test, whose ANSIBLE_COLLECTIONS_PATH (if any) names its own tree.
DOC_ENVIRONMENT = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH)}


def filter_names() -> list[str]:
    names = []
    for path in sorted((REPO_ROOT / "plugins" / "filter").glob("*.py")):
        module = __import__(
            f"ansible_collections.kruise_cri.remediation.plugins.filter.{path.stem}",
            fromlist=["FilterModule"],
        )
        names.extend(module.FilterModule().filters())
    return names


@pytest.mark.parametrize("name", filter_names())
def test_each_filter_has_its_own_documentation(name: str) -> None:
    fqcn = f"kruise_cri.remediation.{name}"
    result = subprocess.run(
        [*ANSIBLE_DOC, "-t", "filter", "--json", fqcn],
        cwd=REPO_ROOT,
        env=DOC_ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    doc = json.loads(result.stdout)[fqcn]["doc"]
    assert doc["name"] == name
    assert doc["short_description"]
    assert "_input" in doc["options"]


MODULES = sorted(
    path.stem
    for path in (REPO_ROOT / "plugins" / "modules").glob("*.py")
    if path.stem != "__init__"
)


@pytest.mark.parametrize("name", MODULES)
def test_each_module_s_documentation_loads_in_ansible_doc(name: str) -> None:
    """ansible-doc reads DOCUMENTATION, EXAMPLES and RETURN as YAML and checks their types: a
    colon inside a description, for one, breaks the page."""
    fqcn = f"kruise_cri.remediation.{name}"
    result = subprocess.run(
        [*ANSIBLE_DOC, "--json", fqcn],
        cwd=REPO_ROOT,
        env=DOC_ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and "ERROR" not in result.stderr, result.stderr
    page = json.loads(result.stdout)[fqcn]
    assert page["doc"]["module"] == name
    assert page["return"], f"{name} documents no return values"
    assert page["examples"].strip()
