"""containerd's config.toml versions: which one a file is, and version 1 rewritten as 2."""

from __future__ import annotations

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.containerd_config_versions import (
    ConfigVersionError,
    config_version,
    version_1_to_2,
    version_read_by,
)

# As containerd 1.2-era guides left it (and as many 1.4 nodes still have it).
V1 = """# containerd 1.4, written long ago
root = "/var/lib/containerd"
disabled_plugins = ["aufs", "zfs"]

[plugins]
  [plugins.cri]
    sandbox_image = "k8s.gcr.io/pause:3.5"
    [plugins.cri.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.cri.containerd.runtimes.runc.options]
        SystemdCgroup = true
    [plugins.cri.registry.mirrors."docker.io"]
      endpoint = ["http://10.0.0.1:5000"]
  [plugins."overlayfs"]
    root_path = "/data/overlay"
"""


def test_versions() -> None:
    assert config_version(V1) == 1
    assert config_version('version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n') == 2
    assert config_version("# comment\nversion = 3 # new\n") == 3
    assert config_version("[debug]\nversion = 2\n") == 1  # a key of a table, not the file's
    assert version_read_by((1, 7, 24)) == 2
    assert version_read_by((2, 1, 9)) == 3


def test_version_1_becomes_2_with_every_setting_kept() -> None:
    converted = version_1_to_2(V1)
    assert converted.startswith("version = 2\n# containerd 1.4, written long ago\n")
    assert 'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", ' in converted
    assert '  [plugins."io.containerd.grpc.v1.cri"]\n    sandbox_image' in converted
    assert (
        '      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n'
        "        SystemdCgroup = true" in converted
    )
    assert '[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]' in converted
    assert '[plugins."io.containerd.snapshotter.v1.overlayfs"]' in converted
    assert config_version(converted) == 2
    assert version_1_to_2(V1).count("\n") == V1.count("\n") + 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[plugins.fancy]\n  x = 1\n", "plugin 'fancy' of this version 1 config is not one of"),
        ('disabled_plugins = ["fancy"]\n', "plugin 'fancy'"),
        ("[plugins]\n  cri = { sandbox_image = 'x' }\n", "sets plugins inline under [plugins]"),
    ],
)
def test_what_cannot_be_carried_is_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigVersionError, match=r"by hand") as raised:
        version_1_to_2(text)
    assert message in str(raised.value)
