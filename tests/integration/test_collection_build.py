"""What `ansible-galaxy collection build` puts in the collection's tarball: what collection users
need (plugins, roles, playbooks, meta, docs, README, the release notes, the unit tests
ansible-test runs), none of the project's lab, CLI, scripts, CI or tool files, and nothing a
user's run leaves in the checkout (galaxy.yml's build_ignore).

The build runs on a copy of the repository in which such leftovers are planted where the
playbooks and roles write them by default: the assess report and the pin's records of the way
back (with the Helm values). Takes a few seconds; needs nothing but ansible-galaxy.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_GALAXY = Path(sys.executable).parent / "ansible-galaxy"
GALAXY = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())

# What is not copied into the scratch checkout: virtualenvs, git, caches.
NOT_COPIED = shutil.ignore_patterns(
    ".venv*", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".ansible",
    ".cache", "*.egg-info", "tests/output", f"{GALAXY['namespace']}-{GALAXY['name']}-*.tar.gz",
)  # fmt: skip

# Folders of the checkout that ship whole.
SHIPPED_FOLDERS = ("plugins", "roles", "playbooks", "meta", "docs")
SHIPPED_FILES = ("README.md", "CHANGELOG.md", "changelogs/changelog.yaml", "meta/runtime.yml")
# The project's own files: none of them, nor anything beneath them, may ship.
PROJECT_ONLY = (
    "kruise_cri",
    "scripts",
    "benchmarks",
    "tests/integration",
    "tests/sanity",
    ".ci",
    ".collections",
    "pyproject.toml",
    "ansible.cfg",
    ".ansible-lint",
    ".yamllint",
    ".gitignore",
    "inventories",
    "changelogs/fragments",
)
LAB_IMPORT = re.compile(r"^\s*(?:from|import)\s+kruise_cri\b", re.MULTILINE)


def default_of(path: str, variable: str) -> str:
    """The default a playbook or role gives ``variable`` (``{{ variable | default('...') }}``)."""
    text = (REPO_ROOT / path).read_text()
    match = re.search(re.escape(variable) + r"\s*\|\s*default\('([^']+)'\)", text)
    assert match, f"{path} no longer defaults {variable}; update this test"
    return match.group(1)


# Where a run writes on the controller, by default relative to the directory it runs in: the
# checkout's root, or playbooks/ for someone who runs from there.
REPORT_DIR = default_of("playbooks/assess.yml", "kruise_cri_report_dir")
# Where the pin wrote its records before 0.3.0 (kruise_cri_backup_dir): old checkouts hold them.
BACKUP_DIR = "kruise-cri-backup"
PIN_RECORD = "pin-kruise-20261204T101112.123456Z-6f1c2d9e.json"
PLANTED = (
    *(f"{where}{REPORT_DIR}/report.{ext}" for where in ("", "playbooks/") for ext in ("html", "md", "json")),
    f"{REPORT_DIR}-before-upgrade/report.json",
    f"{BACKUP_DIR}/{PIN_RECORD}",
    f"playbooks/{BACKUP_DIR}/{PIN_RECORD}",
    # kruise_cri_backup_dir=. and kruise_cri_report_dir=. (or the README's --report-dir report).
    PIN_RECORD,
    "report.json",
    "report/report.html",
    # A user's own inventory beside the example, and the containerd archive migrate_runtime reads.
    "inventories/prod/hosts.yml",
    "containerd-1.7.24-linux-amd64.tar.gz",
)  # fmt: skip


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository with a user's leftovers planted in it."""
    copy = tmp_path_factory.mktemp("checkout") / "remediation"
    # symlinks=True: .collections links back to the root.
    shutil.copytree(REPO_ROOT, copy, symlinks=True, ignore=NOT_COPIED)
    for planted in PLANTED:
        path = copy / planted
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('{"values": {"secret": "planted by test_collection_build"}}\n')
    return copy


@pytest.fixture(scope="module")
def tarball(checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> tarfile.TarFile:
    out = tmp_path_factory.mktemp("built")
    subprocess.run(
        [str(ANSIBLE_GALAXY), "collection", "build", "--output-path", str(out), str(checkout)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    (built,) = out.glob("*.tar.gz")
    assert built.name == f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
    with tarfile.open(built) as archive:
        yield archive


@pytest.fixture(scope="module")
def names(tarball: tarfile.TarFile) -> set[str]:
    return {name.removeprefix("./").rstrip("/") for name in tarball.getnames()}


def files_under(root: Path, folder: str) -> list[str]:
    """The files under ``folder`` but caches and what a run wrote there."""
    leftovers = {"__pycache__", REPORT_DIR, BACKUP_DIR}
    return sorted(
        str(path.relative_to(root))
        for path in (root / folder).rglob("*")
        if path.is_file() and not leftovers & set(path.parts) and path.suffix != ".pyc"
    )


def test_what_users_need_ships(names: set[str], checkout: Path):
    for name in SHIPPED_FILES:
        assert name in names
    for folder in SHIPPED_FOLDERS:
        missing = [name for name in files_under(checkout, folder) if name not in names]
        assert files_under(checkout, folder), folder
        assert not missing, f"build_ignore leaves out files users need: {missing}"
    # ansible-test looks for unit tests here.
    assert any(name.startswith("tests/unit/test_") for name in names)


def test_no_project_file_ships(names: set[str]):
    shipped = sorted(
        name
        for name in names
        for project_only in PROJECT_ONLY
        if name == project_only or name.startswith(project_only + "/")
    )
    assert not shipped
    leftovers = [
        name
        for name in names
        if name.endswith((".egg-info", ".pyc"))
        or {"__pycache__", ".pytest_cache", ".ruff_cache", ".venv", ".git"} & set(name.split("/"))
    ]
    assert not leftovers


def test_nothing_a_run_leaves_behind_ships(names: set[str], checkout: Path):
    # Each planted file and the folders planting made (the shipped folders aside).
    planted = {
        "/".join(path.split("/")[:end]) for path in PLANTED for end in range(1, path.count("/") + 2)
    } - set(SHIPPED_FOLDERS)
    assert all((checkout / path).exists() for path in planted)
    shipped = sorted(planted & names)
    assert not shipped, f"build_ignore lets a run's leftovers into the tarball: {shipped}"


def test_shipped_tests_do_not_need_the_lab(tarball: tarfile.TarFile, names: set[str]):
    """The unit tests that import the lab package (kruise_cri) stay out: add a new one to
    galaxy.yml's build_ignore."""
    needing_lab = []
    for member in tarball.getmembers():
        if member.isfile() and member.name.startswith("tests/") and member.name.endswith(".py"):
            source = tarball.extractfile(member).read().decode()
            if LAB_IMPORT.search(source):
                needing_lab.append(member.name)
    assert not needing_lab, f"add these to galaxy.yml's build_ignore: {needing_lab}"
    assert "tests/unit/test_packaging.py" not in names  # reads pyproject.toml, which stays out
