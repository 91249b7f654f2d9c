"""How a real node's kind becomes files in its root, and the kinds `lab up --nodes` takes."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
import yaml

from kruise_cri.lab.nodes import CONFIG_PATH, FLAGS_PATH, ContainerdSpec
from kruise_cri.lab.real_nodes import (
    CGROUPS_SCRIPT_PATH,
    CRI_OFF,
    CRI_ON,
    REAL_NODE_KINDS,
    KubeletJoin,
    host_can_lower_oom_scores,
    lay_out_node,
    node_cgroup_root,
    node_sockets,
    parse_kinds,
    remove_cgroup_root,
)


def test_kinds_all_and_lists() -> None:
    assert parse_kinds("all") == list(REAL_NODE_KINDS)
    assert parse_kinds(" containerd-1-7, containerd-1-4,containerd-1-7 ") == [
        "containerd-1-7",
        "containerd-1-4",
    ]


@pytest.mark.parametrize("text", ["", ",", "containerd-9", "all,docker"])
def test_unknown_kinds_are_named_with_the_known_ones(text: str) -> None:
    with pytest.raises(ValueError, match="use all or a comma-separated list of docker-dockershim"):
        parse_kinds(text)


def join(tmp_path: Path) -> KubeletJoin:
    kubeconfig = tmp_path / "kubelet.kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    return KubeletJoin("nspawn-x", "10.213.9.2", kubeconfig, kubeconfig, ca, "10.214.9.0/24")


def test_docker_with_its_cri_disabled_containerd_behind_a_cri_dockerd_shim(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    kind = REAL_NODE_KINDS["docker-cri-off"]
    lay_out_node(root, kind, "kcn9", "ssh-ed25519 AAAA test\n", "10.213.0.1:5000", join(tmp_path))
    assert (root / "etc/hostname").read_text() == "kcn9\n"
    keys = root / "root/.ssh/authorized_keys"
    assert keys.read_text() == "ssh-ed25519 AAAA test\n"
    assert oct(keys.stat().st_mode & 0o777) == "0o600"
    assert (root / "etc/containerd/config.toml").read_text() == CRI_OFF
    daemon_json = json.loads((root / "etc/docker/daemon.json").read_text())
    assert daemon_json["insecure-registries"] == ["10.213.0.1:5000"]
    # runc behind the oom_score_adj wrapper exactly where this host needs it
    wrapped = not host_can_lower_oom_scores()
    assert ("default-runtime" in daemon_json) == wrapped
    assert (root / "usr/local/bin/runc-oom-restricted").exists() == wrapped
    assert daemon_json["exec-opts"] == ["native.cgroupdriver=cgroupfs"]  # as the kubelet's
    # Docker on containerd 1.4 (a migration upgrades it): its binaries beside the image's 1.6,
    # which a drop-in replaces.
    assert (root / "usr/local/bin/containerd").exists()
    assert (
        "ExecStart=/usr/local/bin/containerd"
        in (root / "etc/systemd/system/containerd.service.d/kruise-cri.conf").read_text()
    )
    wants = root / "etc/systemd/system/multi-user.target.wants"
    for unit in ("kruise-cri-cgroups.service", "cri-dockerd.service", "kubelet.service"):
        assert os.readlink(wants / unit) == f"/etc/systemd/system/{unit}"
    shim = (root / "etc/systemd/system/cri-dockerd.service").read_text()
    assert "--listen=unix:///run/cri-dockerd.sock" in shim
    assert "--pod-infra-container-image=10.213.0.1:5000/pause:3.6" in shim
    assert not (root / "etc/systemd/system/docker.service").exists()  # not masked
    assert node_sockets(kind) == [
        "run/containerd/containerd.sock",
        "run/docker.sock",
        "run/cri-dockerd.sock",
    ]


def test_the_kubelet_is_laid_out_as_kubeadm_leaves_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    kind = REAL_NODE_KINDS["docker-dockershim"]
    lay_out_node(root, kind, "kcn7", "key\n", "10.213.0.1:5000", join(tmp_path))
    flags = (root / FLAGS_PATH.lstrip("/")).read_text()
    assert flags == (
        'KUBELET_KUBEADM_ARGS="--container-runtime=docker --network-plugin=cni '
        '--pod-infra-container-image=10.213.0.1:5000/pause:3.6"\n'
    )
    extra = (root / "etc/default/kubelet").read_text()
    assert "--hostname-override=nspawn-x" in extra and "--node-ip=10.213.9.2" in extra
    kubeconfig = root / "etc/kubernetes/kubelet.conf"
    assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
    config = yaml.safe_load((root / CONFIG_PATH.lstrip("/")).read_text())
    assert config["cgroupDriver"] == "cgroupfs"
    # Its own cgroup root, made before the kubelet starts (it refuses one that does not exist).
    assert config["cgroupRoot"] == "/kruise-cri-lab/nspawn-docker-dockershim"
    script = root / CGROUPS_SCRIPT_PATH.lstrip("/")
    assert "root=/kruise-cri-lab/nspawn-docker-dockershim\n" in script.read_text()
    assert os.access(script, os.X_OK)
    assert config["authentication"]["x509"]["clientCAFile"] == "/etc/kubernetes/pki/ca.crt"
    assert os.access(root / "usr/bin/kubelet", os.X_OK)
    assert (
        "ExecStartPre=/bin/ln -sf /dev/console /dev/kmsg"
        in (root / "etc/systemd/system/kubelet.service.d/20-kruise-cri-lab.conf").read_text()
    )
    # No standalone shim: the kubelet's own dockershim serves /run/dockershim.sock.
    assert not (root / "etc/systemd/system/cri-dockerd.service").exists()
    assert node_sockets(kind)[-1] == "run/dockershim.sock"
    network = json.loads((root / "etc/cni/net.d/10-kruise-cri-lab.conflist").read_text())
    assert network["plugins"][0]["ipam"]["ranges"] == [[{"subnet": "10.214.9.0/24"}]]
    assert os.readlink(root / "opt/cni/bin") == "/usr/lib/cni"


def test_the_host_can_lower_oom_scores_only_with_cap_sys_resource(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapBnd:\t000001fffeffffff\n")  # this sandbox: no bit 24
    assert not host_can_lower_oom_scores(status)
    status.write_text("Name:\tx\nCapBnd:\t000001ffffffffff\n")
    assert host_can_lower_oom_scores(status)


def test_a_node_without_docker_masks_it(tmp_path: Path) -> None:
    # containerd 1.7's kind, on the image's own containerd so no build is fetched.
    real_kind = REAL_NODE_KINDS["containerd-1-7"]
    spec = dataclasses.replace(real_kind.spec, containerds=(ContainerdSpec("containerd-1.6"),))
    root = tmp_path / "root"
    lay_out_node(
        root, dataclasses.replace(real_kind, spec=spec), "kcn8", "key\n", "r:5000", join(tmp_path)
    )
    assert (root / "etc/containerd/config.toml").read_text().startswith(CRI_ON)
    for unit in ("docker.service", "docker.socket"):
        assert os.readlink(root / "etc/systemd/system" / unit) == "/dev/null"


def test_every_kind_has_a_cgroup_root_of_its_own() -> None:
    roots = [
        yaml.safe_load(kind.spec.files[CONFIG_PATH])["cgroupRoot"]
        for kind in REAL_NODE_KINDS.values()
    ]
    assert len(set(roots)) == len(REAL_NODE_KINDS)
    assert roots == [node_cgroup_root(kind.spec.name) for kind in REAL_NODE_KINDS.values()]


def test_a_stopped_nodes_cgroup_root_goes_from_every_hierarchy(tmp_path: Path) -> None:
    gone = "kruise-cri-lab/nspawn-a/kubepods/besteffort/pod1"
    kept = "kruise-cri-lab/nspawn-b/kubepods"
    for controller in ("cpu", "memory", "pids"):
        (tmp_path / controller / gone).mkdir(parents=True)
    (tmp_path / "cpu" / kept).mkdir(parents=True)
    in_use = tmp_path / "pids/kruise-cri-lab/nspawn-a/kubepods/burstable/pod2"
    in_use.mkdir(parents=True)
    (in_use / "cgroup.procs").write_text("")  # rmdir fails on it, as on a cgroup with tasks
    remove_cgroup_root("/kruise-cri-lab/nspawn-a", tmp_path)
    assert not (tmp_path / "cpu/kruise-cri-lab/nspawn-a").exists()
    assert (tmp_path / "cpu" / kept).is_dir()  # another node's, and their parent
    assert not (tmp_path / "memory/kruise-cri-lab").exists()  # nobody's any more
    assert in_use.is_dir() and not (tmp_path / "pids" / gone).exists()
    remove_cgroup_root("/kruise-cri-lab/nspawn-c", tmp_path)  # none: nothing to do
