"""What a node's files become when its kubelet moves to containerd: containerd's config for its
major version, Docker's registries as hosts.toml, the kubelet's flags; and the backups that put
them back."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.file_backup import (
    BackupError,
    FileBackup,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.runtime_switch import (
    CONTAINERD_ENDPOINT,
    SwitchError,
    containerd_config,
    pod_infra_image,
    registry_hosts,
    retarget_arguments,
    retarget_kubelet_config,
    retarget_kubelet_file,
    runtime_flags,
)

FLAGS = runtime_flags(CONTAINERD_ENDPOINT, True)


def test_containerd_1_config_enables_cri_with_the_kubelet_s_settings() -> None:
    config = tomllib.loads(
        containerd_config(1, "reg:5000/pause:3.6", True, {"restrict_oom_score_adj": True})
    )
    assert config["version"] == 2
    assert "disabled_plugins" not in config
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == "reg:5000/pause:3.6"
    assert cri["restrict_oom_score_adj"] is True
    assert cri["registry"]["config_path"] == "/etc/containerd/certs.d"
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["runtime_type"] == "io.containerd.runc.v2"
    assert runc["options"]["SystemdCgroup"] is True


def test_containerd_2_config_uses_schema_version_3() -> None:
    config = tomllib.loads(containerd_config(2, "pause:3.10", False))
    assert config["version"] == 3
    images = config["plugins"]["io.containerd.cri.v1.images"]
    assert images["pinned_images"]["sandbox"] == "pause:3.10"
    assert images["registry"]["config_path"] == "/etc/containerd/certs.d"
    runc = config["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is False


def test_containerd_config_refuses_unknown_majors_and_odd_keys() -> None:
    with pytest.raises(SwitchError, match=r"containerd 3\.x has no known config schema"):
        containerd_config(3, None, True)
    with pytest.raises(SwitchError, match="not a plain TOML key"):
        containerd_config(1, None, True, {'a"]\n[evil': 1})


def test_docker_registries_become_hosts_toml() -> None:
    files, notes = registry_hosts(
        ["http://10.0.0.1:5000", "https://mirror.example.com/"],
        ["10.0.0.1:5000", "127.0.0.0/8", "10.20.0.0/16"],
    )
    hub = tomllib.loads(files["docker.io"])
    assert hub["server"] == "https://registry-1.docker.io"
    assert list(hub["host"]) == ["http://10.0.0.1:5000", "https://mirror.example.com"]
    assert hub["host"]["http://10.0.0.1:5000"]["capabilities"] == ["pull", "resolve"]
    insecure = tomllib.loads(files["10.0.0.1:5000"])
    assert insecure["host"]["https://10.0.0.1:5000"]["skip_verify"] is True
    assert "http://10.0.0.1:5000" in insecure["host"]
    assert notes == [
        "insecure registry range 10.20.0.0/16 is not carried over: containerd names registries "
        "by host; add a hosts.toml per registry in that range"
    ]
    with pytest.raises(SwitchError, match=r"registry 'ftp://x' in daemon\.json"):
        registry_hosts(["ftp://x"], [])


def test_arguments_lose_dockershim_flags_and_gain_the_endpoint_in_place() -> None:
    arguments = [
        "--container-runtime=docker",
        "--network-plugin",
        "cni",
        "--pod-infra-container-image=pause:3.6",
        "--cni-bin-dir=/opt/cni/bin",
    ]
    assert retarget_arguments(arguments, FLAGS, add=False) == (
        [*FLAGS, "--pod-infra-container-image=pause:3.6"],
        True,
    )
    assert retarget_arguments(["--v=2"], FLAGS, add=False) == (["--v=2"], False)
    assert retarget_arguments(["--v=2"], FLAGS, add=True) == (["--v=2", *FLAGS], True)
    newer = runtime_flags(CONTAINERD_ENDPOINT, False)
    assert newer == [f"--container-runtime-endpoint={CONTAINERD_ENDPOINT}"]


def test_env_files_and_drop_ins_are_rewritten_in_their_own_syntax() -> None:
    env = 'KUBELET_KUBEADM_ARGS="--container-runtime=docker --network-plugin=cni"\n'
    assert retarget_kubelet_file(env, FLAGS, add=False) == (
        f'KUBELET_KUBEADM_ARGS="{" ".join(FLAGS)}"\n',
        True,
    )
    drop_in = (
        "[Service]\n"
        'Environment="KUBELET_EXTRA_ARGS=--container-runtime=docker --v=2"\n'
        "ExecStart=\n"
        "ExecStart=/usr/bin/kubelet $KUBELET_EXTRA_ARGS --docker-endpoint=unix:///d.sock\n"
    )
    text, placed = retarget_kubelet_file(drop_in, FLAGS, add=False)
    assert placed
    assert f'Environment="KUBELET_EXTRA_ARGS={" ".join(FLAGS)} --v=2"\n' in text
    assert "ExecStart=/usr/bin/kubelet $KUBELET_EXTRA_ARGS\n" in text
    untouched = "KUBELET_EXTRA_ARGS=--node-ip=10.0.0.2\n"
    assert retarget_kubelet_file(untouched, FLAGS, add=False) == (untouched, False)
    assert retarget_kubelet_file(untouched, FLAGS, add=True)[0] == (
        f"KUBELET_EXTRA_ARGS=--node-ip=10.0.0.2 {' '.join(FLAGS)}\n"
    )


def test_kubelet_config_gets_its_endpoint_field() -> None:
    config = "kind: KubeletConfiguration\ncgroupDriver: systemd\n"
    assert retarget_kubelet_config(config, CONTAINERD_ENDPOINT).endswith(
        f"containerRuntimeEndpoint: {CONTAINERD_ENDPOINT}\n"
    )
    old = "containerRuntimeEndpoint: unix:///run/cri-dockerd.sock\nkind: KubeletConfiguration\n"
    assert retarget_kubelet_config(old, CONTAINERD_ENDPOINT).splitlines()[0] == (
        f"containerRuntimeEndpoint: {CONTAINERD_ENDPOINT}"
    )


def test_pod_infra_image_is_the_last_one_set() -> None:
    assert (
        pod_infra_image(["--pod-infra-container-image=a:1", '"--pod-infra-container-image b:2"'])
        == "b:2"
    )
    assert pod_infra_image(["--v=2"]) is None


def test_backups_keep_the_first_original_and_restore_everything(tmp_path: Path) -> None:
    config = tmp_path / "etc/containerd/config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("original\n")
    config.chmod(0o640)
    hosts = tmp_path / "etc/containerd/certs.d/docker.io/hosts.toml"
    backup = FileBackup(str(tmp_path / "backup"))
    assert backup.write(str(config), "first change\n")
    assert backup.write(str(hosts), "server = 'x'\n")
    # A rerun after an interrupted run: a new FileBackup, the second change saves nothing new.
    again = FileBackup(str(tmp_path / "backup"))
    assert again.write(str(config), "second change\n")
    assert not again.write(str(config), "second change\n")
    assert oct((tmp_path / "backup").stat().st_mode & 0o777) == "0o700"
    manifest = json.loads((tmp_path / "backup/manifest.json").read_text())
    assert sorted(manifest["files"]) == sorted([str(config), str(hosts)])
    assert sorted(again.restore()) == sorted([str(config), str(hosts)])
    assert config.read_text() == "original\n"
    assert oct(config.stat().st_mode & 0o777) == "0o640"
    assert not hosts.exists() and not hosts.parent.exists()
    assert not (tmp_path / "etc/containerd/certs.d").exists()


def test_directories_made_for_several_files_go_when_the_last_file_goes(tmp_path: Path) -> None:
    certs = tmp_path / "certs.d"
    backup = FileBackup(str(tmp_path / "backup"))
    for host in ("10.0.0.1:5000", "docker.io"):  # the first file makes certs.d itself
        backup.write(str(certs / host / "hosts.toml"), f"server = '{host}'\n")
    backup.restore()
    assert not certs.exists()


def test_backups_refuse_planted_links(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("secret\n")
    link = tmp_path / "config.toml"
    os.symlink(target, link)
    with pytest.raises(BackupError, match="is not a regular file"):
        FileBackup(str(tmp_path / "backup")).write(str(link), "x\n")
    assert target.read_text() == "secret\n"
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad/manifest.json").write_text("{")
    with pytest.raises(BackupError, match="not a kruise-cri backup manifest"):
        FileBackup(str(tmp_path / "bad"))
