"""Every plugin documents itself under its own name, as ansible-doc shows it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DOC = Path(sys.executable).with_name("ansible-doc")


def filter_names() -> list[str]:
    sys.path.insert(0, str(REPO_ROOT / ".collections"))
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
        [str(ANSIBLE_DOC), "-t", "filter", "--json", fqcn],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    doc = json.loads(result.stdout)[fqcn]["doc"]
    assert doc["name"] == name
    assert doc["short_description"]
    assert "_input" in doc["options"]
