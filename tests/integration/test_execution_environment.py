"""The collection's execution environment, as ansible-builder sees it, without building an image.

The collection is built and installed the normal way (`ansible-galaxy collection build`, then
`install TARBALL -p DIR`); `ansible-builder introspect` must find the requirements the collection
declares in meta/execution-environment.yml. The repository's execution-environment.yml must turn
into a build context (`ansible-builder create`) that installs this collection from its tarball,
ansible-core in the supported range and the helm release the lab pins, verified by its sha256.
No container engine, no network: the steps of our own that the build would run are run here, on
the build context (the collection's install) and on a fake helm release on disk.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest
import yaml
from ansible.release import __version__ as ansible_core_version
from bindep.depends import Depends
from packaging.requirements import Requirement

from kruise_cri.lab.gotools import GO_TOOL_PINS

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
EE_FILE = REPO_ROOT / "execution-environment.yml"
GALAXY = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())
COLLECTION = f"{GALAXY['namespace']}.{GALAXY['name']}"
# bindep's profiles on the execution environment's base image (UBI 9, an rpm platform).
UBI9_PROFILES = ["default", "platform:rpm", "platform:redhat", "platform:rhel", "platform:rhel-9"]


def _env(cwd: Path, path_first: Path = VENV_BIN) -> dict[str, str]:
    """The venv's tools first; no ansible.cfg (``cwd`` is never the checkout) and no configured
    collections, so that no collection installed elsewhere counts as already there."""
    env = dict(
        os.environ,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_COLLECTIONS_PATH=str(cwd / "no-configured-collections"),
        PATH=f"{path_first}{os.pathsep}{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
    )
    env.pop("ANSIBLE_CONFIG", None)
    return env


def _run(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [str(arg) for arg in argv],
        cwd=cwd,
        env=_env(cwd),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, (
        f"{' '.join(map(str, argv))} exited {completed.returncode}:\n"
        f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    )
    return completed


def _requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def collection_tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("collection-build")
    _run(
        VENV_BIN / "ansible-galaxy", "collection", "build", "--output-path", out, REPO_ROOT, cwd=out
    )
    (tarball,) = out.glob("*.tar.gz")
    assert tarball.name == f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
    return tarball


@pytest.fixture(scope="module")
def build_context(collection_tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`ansible-builder create` with the repository's execution-environment.yml, copied unchanged
    beside a build/ holding the tarball, as the README's commands leave them."""
    work = tmp_path_factory.mktemp("ee")
    shutil.copy(EE_FILE, work / EE_FILE.name)
    (work / "build").mkdir()
    shutil.copy(collection_tarball, work / "build" / collection_tarball.name)
    context = work / "build" / "ee"
    completed = _run(
        VENV_BIN / "ansible-builder",
        "create",
        "--file",
        work / EE_FILE.name,
        "--context",
        context,
        "--output-filename",
        "Containerfile",
        cwd=work,
    )
    output = completed.stdout + completed.stderr
    # A source that matches nothing is only a warning for ansible-builder.
    assert "No matches" not in output and "does not exist" not in output, output
    return context


def _stages(containerfile: str) -> dict[str, str]:
    """Each build stage's instructions, by stage name."""
    parts = re.split(r"^FROM \S+ AS (\w+)$", containerfile, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _run_step(stage: str, marker: str, containerfile: str) -> str:
    """The one RUN of ``stage`` that mentions ``marker``, joined as the container engine joins
    continued lines: the shell command the build runs."""
    joined = _stages(containerfile)[stage].replace("\\\n", "")
    steps = [line for line in joined.splitlines() if line.startswith("RUN ") and marker in line]
    assert len(steps) == 1, steps
    return steps[0].removeprefix("RUN ")


def _sandboxed(step: str, *replacements: tuple[str, str]) -> str:
    """``step`` with the image's paths (and URLs) swapped for ours, each of which must be there."""
    for real, ours in replacements:
        assert real in step, real
        step = step.replace(real, ours)
    return step


def _sh(script: str, cwd: Path, path_first: Path = VENV_BIN) -> subprocess.CompletedProcess[str]:
    """A build step's shell command, with $PYCMD (ansible-builder's ARG) this Python."""
    return subprocess.run(
        ["sh", "-c", script],
        cwd=cwd,
        env=dict(_env(cwd, path_first), PYCMD=sys.executable),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_requirements_txt_lists_what_the_controller_code_imports() -> None:
    imported: set[str] = set()
    for path in (REPO_ROOT / "plugins").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.partition(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"ansible", "ansible_collections"}
    distributions = importlib.metadata.packages_distributions()
    assert third_party <= set(distributions), third_party - set(distributions)
    needed = {_normalized(dist) for module in third_party for dist in distributions[module]}
    listed = {
        _normalized(Requirement(line).name): Requirement(line)
        for line in _requirement_lines(REPO_ROOT / "requirements.txt")
    }
    assert needed - {"ansible-core"} == set(listed)
    assert {"kubernetes", "pyyaml", "jinja2", "markupsafe"} <= set(listed)
    # The same ranges as the CLI's own dependencies, where it has them.
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    for line in project["dependencies"]:
        declared = Requirement(line)
        if (name := _normalized(declared.name)) in listed:
            assert listed[name].specifier == declared.specifier, name


def test_introspect_finds_the_installed_collections_requirements(
    collection_tarball: Path, tmp_path: Path
) -> None:
    collections = tmp_path / "collections"
    _run(
        VENV_BIN / "ansible-galaxy",
        "collection",
        "install",
        "--offline",
        collection_tarball,
        "-p",
        collections,
        cwd=tmp_path,
    )
    installed = collections / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]
    for name in ("meta/execution-environment.yml", "requirements.txt", "bindep.txt"):
        assert (installed / name).is_file(), name

    pip_out, bindep_out = tmp_path / "requirements.txt", tmp_path / "bindep.txt"
    completed = _run(
        VENV_BIN / "ansible-builder",
        "introspect",
        collections,
        "--write-pip",
        pip_out,
        "--write-bindep",
        bindep_out,
        cwd=tmp_path,
    )
    found = yaml.safe_load(completed.stdout[completed.stdout.index("---") :])
    python = {line.split("#")[0].strip(): line for line in found["python"]}
    system = {line.split("#")[0].strip(): line for line in found["system"]}
    # PyYAML is listed too, but ansible-builder leaves it out: ansible-core brings it.
    for requirement in ("kubernetes>=30", "urllib3>=2", "jinja2>=3.1", "markupsafe>=2.0"):
        assert requirement in python, found["python"]
        assert python[requirement].endswith(f"# from collection {COLLECTION}")
    assert set(system) == {"openssh-clients [platform:rpm]", "openssh-client [platform:dpkg]"}
    # Neither the test nor the lint tools, nor ansible-core (the environment's own).
    assert not any(
        name in line
        for line in python
        for name in ("pytest", "ruff", "yamllint", "ansible-lint", "ansible-core", "grpcio")
    )
    # The combined file the image build hands to bindep selects the ssh client on UBI 9 and on
    # Debian, by the right package name.
    depends = Depends(bindep_out.read_text())
    rpm = depends.list_all_packages(depends.active_rules(UBI9_PROFILES))
    dpkg = depends.list_all_packages(
        depends.active_rules(["default", "platform:dpkg", "platform:debian"])
    )
    assert (rpm, dpkg) == (["openssh-clients"], ["openssh-client"])
    assert "kubernetes>=30" in pip_out.read_text()


def test_create_makes_four_stages_on_python_3_11_with_the_supported_ansible_core(
    build_context: Path,
) -> None:
    containerfile = (build_context / "Containerfile").read_text()
    assert list(_stages(containerfile)) == ["base", "galaxy", "builder", "final"]
    args = dict(re.findall(r'^ARG (\w+)="(.*)"$', containerfile, flags=re.MULTILINE))
    python = re.fullmatch(r"/usr/bin/python(\d+)\.(\d+)", args["PYCMD"])
    assert python and tuple(map(int, python.groups())) >= (3, 11), args["PYCMD"]
    refs = {
        _normalized(Requirement(ref).name): Requirement(ref)
        for ref in args["ANSIBLE_INSTALL_REFS"].split()
    }
    assert set(refs) == {"ansible-core", "ansible-runner"}
    core = refs["ansible-core"].specifier
    assert all(version in core for version in ("2.16.0", ansible_core_version))
    assert not any(version in core for version in ("2.15.13", "2.20.0"))
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    (declared,) = (r for r in map(Requirement, project["dependencies"]) if r.name == "ansible-core")
    assert core == declared.specifier


def test_the_galaxy_stage_installs_the_collection_from_its_tarball(
    build_context: Path, collection_tarball: Path, tmp_path: Path
) -> None:
    containerfile = (build_context / "Containerfile").read_text()
    stages = _stages(containerfile)
    copied = build_context / "_build" / "collections" / collection_tarball.name
    assert copied.read_bytes() == collection_tarball.read_bytes()
    assert "COPY _build /build\nWORKDIR /build\n" in stages["galaxy"]
    # Nothing from a Galaxy server.
    requirements = yaml.safe_load((build_context / "_build" / "requirements.yml").read_text())
    assert requirements == {"collections": []}
    step = _run_step("galaxy", "kruise_cri-remediation-*.tar.gz", containerfile)

    # The step, run here on the context's _build/ (the image's /build).
    installed_to = tmp_path / "usr-share-ansible-collections"
    completed = _sh(
        _sandboxed(
            step,
            ("/build/collections/", f"{build_context}/_build/collections/"),
            ("/usr/share/ansible/collections", str(installed_to)),
        ),
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed
    installed = installed_to / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]
    manifest = json.loads((installed / "MANIFEST.json").read_text())
    assert manifest["collection_info"]["version"] == GALAXY["version"]
    # The builder stage introspects that folder (introspect.py's default) and the final stage
    # installs what it found; here, the collection's own requirements.
    assert "RUN $PYCMD /output/scripts/introspect.py introspect --" in stages["builder"]
    assert "install-from-bindep" in stages["final"]
    found = _run(VENV_BIN / "ansible-builder", "introspect", installed_to, cwd=tmp_path).stdout
    assert f"kubernetes>=30  # from collection {COLLECTION}" in found
    assert f"openssh-clients [platform:rpm]  # from collection {COLLECTION}" in found

    # Two tarballs (an older build left in build/): refused, naming both.
    two = tmp_path / "two"
    two.mkdir()
    shutil.copy(collection_tarball, two / collection_tarball.name)
    shutil.copy(collection_tarball, two / "kruise_cri-remediation-0.0.1.tar.gz")
    refused = _sh(
        _sandboxed(
            step,
            ("/build/collections/", f"{two}/"),
            ("/usr/share/ansible/collections", str(tmp_path / "unused")),
        ),
        cwd=tmp_path,
    )
    assert refused.returncode != 0
    assert "want one kruise_cri-remediation tarball" in refused.stderr, refused
    assert "kruise_cri-remediation-0.0.1.tar.gz" in refused.stderr
    assert not (tmp_path / "unused").exists()


def _fake_helm_release(directory: Path, version: str, arch: str) -> Path:
    directory.mkdir()
    script = f"#!/bin/sh\necho {version}+g0123456\n".encode()
    member = tarfile.TarInfo(f"linux-{arch}/helm")
    member.size, member.mode = len(script), 0o755
    path = directory / f"helm-{version}-linux-{arch}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        archive.addfile(member, io.BytesIO(script))
    return path


def test_the_final_stage_installs_the_labs_helm_release_only_if_its_sha256_matches(
    build_context: Path, tmp_path: Path
) -> None:
    version = GO_TOOL_PINS["helm"].version
    step = _run_step("final", "get.helm.sh", (build_context / "Containerfile").read_text())
    assert f"helm_version={version};" in step
    assert '"https://get.helm.sh/helm-${helm_version}-linux-${arch}.tar.gz"' in step
    assert "| sha256sum -c -;" in step
    pins = dict(re.findall(r"\barch=(amd64|arm64); sum=([0-9a-f]{64}) ;;", step))
    assert set(pins) == {"amd64", "arm64"}

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine())
    if arch is None:
        pytest.skip(f"the step pins no helm build for {platform.machine()}")
    release = _fake_helm_release(tmp_path / "release", version, arch)
    scratch, bin_dir = tmp_path / "scratch", tmp_path / "bin"
    bin_dir.mkdir()
    # The step as written, with get.helm.sh, /tmp and /usr/local/bin swapped for folders here.
    sandboxed = _sandboxed(
        step,
        ("/tmp", str(scratch)),
        ("https://get.helm.sh/", release.parent.as_uri() + "/"),
        ("/usr/local/bin/helm", str(bin_dir / "helm")),
    )

    scratch.mkdir()
    refused = _sh(sandboxed, tmp_path, path_first=bin_dir)
    assert refused.returncode != 0
    assert "FAILED" in refused.stdout + refused.stderr, refused
    assert not (bin_dir / "helm").exists()

    shutil.rmtree(scratch)
    scratch.mkdir()
    fake_sum = hashlib.sha256(release.read_bytes()).hexdigest()
    installed = _sh(sandboxed.replace(pins[arch], fake_sum), tmp_path, path_first=bin_dir)
    assert installed.returncode == 0, installed
    assert (bin_dir / "helm").stat().st_mode & 0o777 == 0o755
    assert installed.stdout.splitlines()[-1] == f"{version}+g0123456"
    assert not list(scratch.iterdir())
