"""One version and one set of floors for the collection (galaxy.yml, meta/runtime.yml) and the
project around it (pyproject.toml). Lab-only: pyproject.toml is not in the collection's tarball,
so galaxy.yml's build_ignore leaves this file out too."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from ansible_collections.kruise_cri.remediation.plugins.module_utils.python_floor import (
    CONTROLLER_PYTHON,
)
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

REPO_ROOT = Path(__file__).resolve().parents[2]


def galaxy() -> dict:
    return yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())


def project() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]


def test_galaxy_and_pyproject_give_one_version():
    assert galaxy()["version"] == project()["version"]


def test_the_python_floor_is_pyprojects():
    needed = ".".join(map(str, CONTROLLER_PYTHON))
    assert SpecifierSet(project()["requires-python"]) == SpecifierSet(f">={needed}")


def test_requires_ansible_has_a_lower_bound_only_the_oldest_ansible_core_tested():
    runtime = yaml.safe_load((REPO_ROOT / "meta/runtime.yml").read_text())
    specifiers = list(SpecifierSet(runtime["requires_ansible"]))
    assert [spec.operator for spec in specifiers] == [">="]
    (core,) = [
        Requirement(dep) for dep in project()["dependencies"] if dep.startswith("ansible-core")
    ]
    (core_floor,) = [spec.version for spec in core.specifier if spec.operator == ">="]
    assert specifiers[0].version.split(".")[:2] == core_floor.split(".")[:2]
