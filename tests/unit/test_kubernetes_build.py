"""The pins of the lab's Kubernetes build agree with each other, and cached builds are reused."""

from __future__ import annotations

import re

import pytest

from kruise_cri.lab import kubernetes_build as kb
from kruise_cri.lab.gotools import GO_TOOL_PINS

RELEASES = pytest.mark.parametrize("release", kb.RELEASES, ids=lambda release: release.version)


def _go_mod(release: kb.KubernetesRelease) -> str:
    return (release.source_dir / "go.mod").read_text()


@RELEASES
def test_the_wrapper_requires_the_pinned_kubernetes_release(release):
    assert re.search(
        rf"^(require |\t)k8s\.io/kubernetes {re.escape(release.version)}$", _go_mod(release), re.M
    )


@RELEASES
def test_every_staging_module_is_replaced_with_the_same_release(release):
    staging = "v0." + release.version.removeprefix("v1.")
    replaced = re.findall(
        r"^\t(k8s\.io/[\w-]+) => (k8s\.io/[\w-]+) (v\S+)$", _go_mod(release), re.M
    )
    # v1.23's block also pins non-staging k8s.io modules (klog, gengo) at their own versions.
    tagged = [(s, t, v) for s, t, v in replaced if re.fullmatch(r"v0\.\d+\.\d+", v)]
    assert len(tagged) >= 25
    for source, target, version in tagged:
        assert source == target
        assert version == staging, f"{source} is replaced with {version}, not {staging}"


@RELEASES
def test_go_sum_pins_the_kubernetes_module(release):
    go_sum = (release.source_dir / "go.sum").read_text()
    assert f"k8s.io/kubernetes {release.version} h1:" in go_sum


@RELEASES
def test_every_command_is_imported_by_the_wrapper(release):
    tools = (release.source_dir / "tools.go").read_text()
    for command in release.commands:
        assert f'_ "k8s.io/kubernetes/cmd/{command}"' in tools


@RELEASES
def test_each_command_has_its_own_cache_slot(release):
    fingerprints = {command: release.source_fingerprint(command) for command in release.commands}
    assert len(set(fingerprints.values())) == len(release.commands)


@RELEASES
def test_version_stamps_are_what_the_release_build_sets(release):
    flags = release.version_ldflags()
    assert f"-X k8s.io/component-base/version.gitVersion={release.version}" in flags
    assert "-X k8s.io/component-base/version.gitMajor=1" in flags
    assert f"-X k8s.io/component-base/version.gitMinor={release.minor}" in flags
    assert "-X k8s.io/component-base/version.gitTreeState=clean" in flags


def test_the_real_nodes_kubelet_and_plane_keep_the_version_skew_policy():
    # A kubelet may be at most two minor versions older than the API server (before v1.28):
    # the current release is too far ahead of v1.23 kubelets, the node plane is not.
    assert kb.CURRENT.minor - kb.NODE_RELEASE.minor > 2
    assert 0 <= kb.NODE_PLANE_RELEASE.minor - kb.NODE_RELEASE.minor <= 2
    assert kb.NODE_RELEASE.commands == ("kubelet", "kube-proxy")
    assert kb.NODE_PLANE_RELEASE.commands == kb.CONTROL_PLANE_COMMANDS


def test_unknown_command_names_the_release_and_what_it_builds(tmp_path):
    with pytest.raises(KeyError, match=r"kubelet.*v1\.37\.2.*kubectl"):
        kb.ensure_kubernetes_binary("kubelet", cache=tmp_path)


def test_tools_are_pinned_to_versions_with_their_stamps():
    assert GO_TOOL_PINS["helm"].version.startswith("v3.")
    assert "helm.sh/helm/v3/internal/version.version" in GO_TOOL_PINS["helm"].version_ldflags
    assert GO_TOOL_PINS["kwok"].version_ldflags == {
        "sigs.k8s.io/kwok/pkg/consts.Version": "{bare_version}"
    }
