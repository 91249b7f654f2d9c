"""The pins of the lab's Kubernetes build agree with each other, and cached builds are reused."""

from __future__ import annotations

import re

from kruise_cri.lab import kubernetes_build as kb
from kruise_cri.lab.gotools import GO_TOOL_PINS


def _go_mod() -> str:
    return (kb.SOURCE_DIR / "go.mod").read_text()


def test_the_wrapper_requires_the_pinned_kubernetes_release():
    assert re.search(
        rf"^require k8s\.io/kubernetes {re.escape(kb.KUBERNETES_VERSION)}$", _go_mod(), re.M
    )


def test_every_staging_module_is_replaced_with_the_same_release():
    staging = "v0." + kb.KUBERNETES_VERSION.removeprefix("v1.")
    replaced = re.findall(r"^\t(k8s\.io/[\w-]+) => (k8s\.io/[\w-]+) (v\S+)$", _go_mod(), re.M)
    assert len(replaced) >= 30
    for source, target, version in replaced:
        assert source == target
        assert version == staging, f"{source} is replaced with {version}, not {staging}"


def test_go_sum_pins_the_kubernetes_module():
    go_sum = (kb.SOURCE_DIR / "go.sum").read_text()
    assert f"k8s.io/kubernetes {kb.KUBERNETES_VERSION} h1:" in go_sum


def test_each_command_has_its_own_cache_slot():
    fingerprints = {command: kb.source_fingerprint(command) for command in kb.KUBERNETES_COMMANDS}
    assert len(set(fingerprints.values())) == len(kb.KUBERNETES_COMMANDS)


def test_version_stamps_are_what_the_release_build_sets():
    flags = kb.version_ldflags()
    assert f"-X k8s.io/component-base/version.gitVersion={kb.KUBERNETES_VERSION}" in flags
    assert "-X k8s.io/component-base/version.gitMajor=1" in flags
    assert "-X k8s.io/component-base/version.gitMinor=37" in flags
    assert "-X k8s.io/component-base/version.gitTreeState=clean" in flags


def test_tools_are_pinned_to_versions_with_their_stamps():
    assert GO_TOOL_PINS["helm"].version.startswith("v3.")
    assert "helm.sh/helm/v3/internal/version.version" in GO_TOOL_PINS["helm"].version_ldflags
    assert GO_TOOL_PINS["kwok"].version_ldflags == {
        "sigs.k8s.io/kwok/pkg/consts.Version": "{bare_version}"
    }
