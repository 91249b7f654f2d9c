"""The node modules of runtime_migration on a bare node Python (3.6 under ansible-core 2.16, 3.8
under 2.19), through `ansible` itself, against real containerd builds: the config they write is
loaded by that containerd (1.6 with schema 2, 2.1 with schema 3), a 1.4 is refused, check mode
writes nothing, reruns change nothing, and the backups put every file back."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from kruise_cri.lab.packages import ensure_runtime
from tests.integration.ansible_run import run_module

pytestmark = pytest.mark.runtimes


def containerd(build: str) -> str:
    return str(ensure_runtime(build).root / "usr/bin/containerd")


@pytest.fixture
def node(tmp_path: Path, bare_python: Path) -> Path:
    inventory = tmp_path / "hosts.yml"
    host = {"ansible_connection": "local", "ansible_python_interpreter": str(bare_python)}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"node": host}}}))
    return inventory


def config_dump(build: str, config: Path) -> subprocess.CompletedProcess[str]:
    """What that containerd makes of the file: ``containerd --config FILE config dump``."""
    dump = subprocess.run(
        [containerd(build), "--config", str(config), "config", "dump"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert dump.returncode == 0, dump.stderr
    return dump


def call(inventory: Path, module: str, args: dict[str, Any], *extra: str) -> dict[str, Any]:
    return run_module(inventory, "node", f"kruise_cri.remediation.{module}", args, *extra)["node"]


@pytest.mark.parametrize("build", ["containerd-1.6", "containerd-2"])
def test_the_config_written_is_one_the_real_containerd_loads(
    node: Path, tmp_path: Path, build: str
) -> None:
    config = tmp_path / "etc/containerd/config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n')
    args = {
        "containerd_binary": containerd(build),
        "sandbox_image": "10.0.0.1:5000/pause:3.6",
        "systemd_cgroup": True,
        "registry_mirrors": ["http://10.0.0.1:5000"],
        "insecure_registries": ["10.0.0.1:5000", "10.20.0.0/16"],
        "runtime_options": {"restrict_oom_score_adj": True},
        "config_file": str(config),
        "certs_dir": str(tmp_path / "etc/containerd/certs.d"),
        "backup_dir": str(tmp_path / "backup"),
    }
    preview = call(node, "containerd_cri_config", args, "--check", "--diff")
    assert preview["changed"] and not preview.get("failed"), preview
    assert "disabled_plugins" in config.read_text()  # check mode wrote nothing
    assert not (tmp_path / "backup").exists()
    written = call(node, "containerd_cri_config", args)
    assert written["changed"] and len(written["written"]) == 3, written
    assert written["notes"] == [
        "insecure registry range 10.20.0.0/16 is not carried over: containerd names registries "
        "by host; add a hosts.toml per registry in that range"
    ]
    dump = config_dump(build, config)
    assert "SystemdCgroup = true" in dump.stdout
    assert "10.0.0.1:5000/pause:3.6" in dump.stdout
    again = call(node, "containerd_cri_config", args)
    assert not again["changed"], again
    restored = call(node, "node_file_backup", {"backup_dir": str(tmp_path / "backup")})
    assert restored["changed"] and len(restored["files"]) == 3
    assert config.read_text().startswith("version = 2\ndisabled_plugins")
    assert not (tmp_path / "etc/containerd/certs.d").exists()
    assert not (tmp_path / "backup").exists()


def test_a_containerd_that_serves_only_v1alpha2_is_refused(node: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    refused = call(
        node,
        "containerd_cri_config",
        {
            "containerd_binary": containerd("containerd-1.4"),
            "systemd_cgroup": False,
            "config_file": str(config),
            "certs_dir": str(tmp_path / "certs.d"),
            "backup_dir": str(tmp_path / "backup"),
        },
    )
    assert refused.get("failed"), refused
    assert "containerd 1.4.13 serves CRI v1alpha2 only" in refused["msg"]
    assert not config.exists() and not (tmp_path / "backup").exists()


def test_the_kubelet_is_pointed_at_containerd_and_back(node: Path, tmp_path: Path) -> None:
    flags = tmp_path / "kubeadm-flags.env"
    original = (
        'KUBELET_KUBEADM_ARGS="--container-runtime=docker --network-plugin=cni '
        '--pod-infra-container-image=10.0.0.1:5000/pause:3.6"\n'
    )
    flags.write_text(original)
    flags.chmod(0o640)
    extra = tmp_path / "default-kubelet"
    extra.write_text('KUBELET_EXTRA_ARGS="--node-ip=10.0.0.2"\n')
    args = {
        "runtime_flag": True,
        "files": [str(flags), str(extra), str(tmp_path / "absent")],
        "config_file": str(tmp_path / "config.yaml"),
        "backup_dir": str(tmp_path / "backup"),
    }
    preview = call(node, "kubelet_runtime_endpoint", args, "--check")
    assert preview["changed"] and preview["changed_files"] == [str(flags)], preview
    assert flags.read_text() == original
    done = call(node, "kubelet_runtime_endpoint", args)
    assert done["changed"] and not done["units_changed"], done
    assert flags.read_text() == (
        'KUBELET_KUBEADM_ARGS="--container-runtime=remote '
        "--container-runtime-endpoint=unix:///run/containerd/containerd.sock "
        '--pod-infra-container-image=10.0.0.1:5000/pause:3.6"\n'
    )
    assert oct(flags.stat().st_mode & 0o777) == "0o640"
    assert not call(node, "kubelet_runtime_endpoint", args)["changed"]
    assert call(node, "node_file_backup", {"backup_dir": str(tmp_path / "backup")})["changed"]
    assert flags.read_text() == original
    nothing = call(node, "kubelet_runtime_endpoint", {**args, "files": [str(tmp_path / "x")]})
    assert nothing.get("failed") and "no kubelet file sets its arguments" in nothing["msg"]


def release_archive(path: Path, build: str) -> Path:
    """``bin/`` of a containerd build, as containerd's release archives lay it out."""
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        for binary in sorted((ensure_runtime(build).root / "usr/bin").iterdir()):
            archive.add(binary, arcname=f"bin/{binary.name}")
    return path


def test_containerd_is_upgraded_from_a_release_archive_and_back(node: Path, tmp_path: Path) -> None:
    install_dir = tmp_path / "usr/local/bin"
    install_dir.mkdir(parents=True)
    for binary in (ensure_runtime("containerd-1.4").root / "usr/bin").iterdir():
        shutil.copy2(binary, install_dir / binary.name)
    args = {
        "archive": str(release_archive(tmp_path / "containerd-1.7.tar.gz", "containerd-1.7")),
        "install_dir": str(install_dir),
        "backup_dir": str(tmp_path / "backup"),
    }
    preview = call(node, "containerd_binaries", args, "--check", "--diff")
    assert preview["changed"] and not preview.get("failed"), preview
    assert (preview["version_before"], preview["version_after"]) == ("1.4.13", "1.7.24")
    version = [str(install_dir / "containerd"), "--version"]
    assert "1.4.13" in subprocess.run(version, capture_output=True, text=True, check=False).stdout
    done = call(node, "containerd_binaries", args)
    assert done["changed"] and str(install_dir / "containerd") in done["installed"], done
    assert "1.7.24" in subprocess.run(version, capture_output=True, text=True, check=False).stdout
    assert not call(node, "containerd_binaries", args)["changed"]
    restored = call(node, "node_file_backup", {"backup_dir": str(tmp_path / "backup")})
    assert restored["changed"], restored
    assert "1.4.13" in subprocess.run(version, capture_output=True, text=True, check=False).stdout
    assert oct((install_dir / "containerd").stat().st_mode & 0o777) == "0o755"
    old = release_archive(tmp_path / "containerd-1.4.tar.gz", "containerd-1.4")
    refused = call(node, "containerd_binaries", {**args, "archive": str(old)})
    assert refused.get("failed") and "is 1.4.13, which serves CRI v1alpha2 only" in refused["msg"]
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    missing = call(node, "containerd_binaries", {**args, "archive": str(empty)})
    assert missing.get("failed") and "has no bin/containerd" in missing["msg"]


# A containerd 1.4 node's config as old guides wrote it: version 1, plugins by their bare IDs.
VERSION_1_CONFIG = """root = "/var/lib/containerd"
disabled_plugins = ["aufs"]

[plugins]
  [plugins.cri]
    sandbox_image = "10.0.0.1:5000/pause:3.5"
    [plugins.cri.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.cri.containerd.runtimes.runc.options]
        SystemdCgroup = true
    [plugins.cri.registry]
      config_path = "/etc/containerd/certs.d"
"""


@pytest.mark.parametrize(
    ("build", "version", "sandbox"),
    [
        ("containerd-1.7", 2, 'sandbox_image = "10.0.0.1:5000/pause:3.5"'),
        ("containerd-2", 3, "sandbox = '10.0.0.1:5000/pause:3.5'"),
    ],
)
def test_a_version_1_config_is_carried_to_what_the_new_containerd_reads(
    node: Path, tmp_path: Path, build: str, version: int, sandbox: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(VERSION_1_CONFIG)
    args = {
        "containerd_binary": containerd(build),
        "config_file": str(config),
        "backup_dir": str(tmp_path / "backup"),
    }
    preview = call(node, "containerd_config_migrate", args, "--check", "--diff")
    assert preview["changed"] and not preview.get("failed"), preview
    assert (preview["version_before"], preview["version_after"]) == (1, version)
    assert config.read_text() == VERSION_1_CONFIG  # check mode wrote nothing
    migrated = call(node, "containerd_config_migrate", args)
    assert migrated["changed"] and not migrated.get("failed"), migrated
    # The new containerd loads it with every setting, and warns of no key it ignores.
    dump = config_dump(build, config)
    assert "unknown key" not in dump.stderr, dump.stderr
    assert f"version = {version}" in dump.stdout
    assert sandbox in dump.stdout
    assert "SystemdCgroup = true" in dump.stdout
    assert "/etc/containerd/certs.d" in dump.stdout
    again = call(node, "containerd_config_migrate", args)
    assert not again["changed"], again
    restored = call(node, "node_file_backup", {"backup_dir": str(tmp_path / "backup")})
    assert restored["changed"] and config.read_text() == VERSION_1_CONFIG


def test_a_setting_the_new_containerd_would_drop_is_refused(node: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    # systemd_cgroup was the runc.v1 shim's switch; containerd 2.x has no such key.
    text = 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  systemd_cgroup = true\n'
    config.write_text(text)
    args = {"containerd_binary": containerd("containerd-2"), "config_file": str(config)}
    refused = call(node, "containerd_config_migrate", args)
    assert refused.get("failed"), refused
    assert (
        "would ignore settings of this file after the migration: systemd_cgroup" in refused["msg"]
    )
    assert refused["msg"].endswith("(nothing was changed)")
    assert config.read_text() == text
