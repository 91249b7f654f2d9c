"""containerd config.toml in its three layouts: v1 (no version), v2 (1.x), v3 (2.x)."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_facts.containerd_config import (
    parse_containerd_config,
)

# What Docker's containerd.io package ships.
DOCKER_CONTAINERD_IO = """\
#   Copyright 2018-2022 Docker Inc.

#disabled_plugins = []
disabled_plugins = ["cri"]

#root = "/var/lib/containerd"
#state = "/run/containerd"
"""

V1_CRI = """\
[plugins.cri]
  sandbox_image = "k8s.gcr.io/pause:3.2"
  [plugins.cri.containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins.cri.containerd.runtimes.runc.options]
      SystemdCgroup = true
"""

V2_KUBEADM = """\
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.9"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = true
"""

V2_DISABLED = 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n'

V3_DEFAULT = """\
version = 3
root = '/var/lib/containerd'
state = '/run/containerd'

[grpc]
  address = '/run/containerd/containerd.sock'

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = 'registry.k8s.io/pause:3.10'

  [plugins.'io.containerd.cri.v1.runtime']
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          SystemdCgroup = false
"""

V2_OTHER_DEFAULT_RUNTIME = """\
version = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "crun"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun.options]
    SystemdCgroup = true
"""

K3S_PRIVATE = """\
version = 2
[grpc]
  address = "/run/k3s/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "rancher/mirrored-pause:3.6"
"""


CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "Docker's containerd.io: CRI off",
        DOCKER_CONTAINERD_IO,
        {"version": None, "cri_disabled": True, "systemd_cgroup": None, "sandbox_image": None},
    ),
    (
        "v1 layout with plugins.cri",
        V1_CRI,
        {
            "version": None,
            "cri_disabled": False,
            "systemd_cgroup": True,
            "sandbox_image": "k8s.gcr.io/pause:3.2",
        },
    ),
    (
        "v2 as kubeadm guides write it",
        V2_KUBEADM,
        {
            "version": 2,
            "cri_disabled": False,
            "systemd_cgroup": True,
            "sandbox_image": "registry.k8s.io/pause:3.9",
            "grpc_address": "/run/containerd/containerd.sock",
        },
    ),
    ("v2 with the CRI plugin URI disabled", V2_DISABLED, {"version": 2, "cri_disabled": True}),
    (
        "v3 as containerd 2.x writes it (single quotes)",
        V3_DEFAULT,
        {
            "version": 3,
            "cri_disabled": False,
            "systemd_cgroup": False,
            "sandbox_image": "registry.k8s.io/pause:3.10",
        },
    ),
    (
        "v3 with the CRI runtime plugin disabled",
        "version = 3\ndisabled_plugins = ['io.containerd.cri.v1.runtime']\n",
        {"version": 3, "cri_disabled": True},
    ),
    (
        "v3 with the CRI images plugin disabled",
        "version = 3\ndisabled_plugins = ['io.containerd.cri.v1.images']\n",
        {"version": 3, "cri_disabled": True},
    ),
    (
        "v2 does not know the v3 plugin ids",
        "version = 2\ndisabled_plugins = ['io.containerd.cri.v1.images']\n",
        {"version": 2, "cri_disabled": False},
    ),
    (
        "the default runtime's options count",
        V2_OTHER_DEFAULT_RUNTIME,
        {"systemd_cgroup": True},
    ),
    (
        "k3s's private containerd",
        K3S_PRIVATE,
        {
            "grpc_address": "/run/k3s/containerd/containerd.sock",
            "sandbox_image": "rancher/mirrored-pause:3.6",
        },
    ),
    (
        "an empty file: containerd defaults",
        "",
        {
            "version": None,
            "cri_disabled": False,
            "systemd_cgroup": None,
            "grpc_address": "/run/containerd/containerd.sock",
            "error": None,
        },
    ),
]


@pytest.mark.parametrize(("name", "content", "expected"), CASES, ids=[c[0] for c in CASES])
def test_layouts(name: str, content: str, expected: dict[str, Any]) -> None:
    parsed, _unused = parse_containerd_config(content, path="/etc/containerd/config.toml")
    assert {key: parsed[key] for key in expected} == expected
    assert parsed["path"] == "/etc/containerd/config.toml"


@pytest.mark.parametrize(
    ("content", "severity", "message"),
    [
        (
            "[plugins\nversion = 2\n",
            "error",
            "not valid TOML: ",
        ),
        (
            'version = 2\ndisabled_plugins = ["cri"]\n',
            "error",
            'disabled_plugins holds "cri" in a version 2 config, which expects plugin URIs',
        ),
        (
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n',
            "warning",
            'disabled_plugins names "io.containerd.grpc.v1.cri" in a version 1 config',
        ),
        ("version = 4\n", "error", "config version 4 is not one containerd knows"),
        ('version = "2"\n', "error", "version must be an integer, not '2'"),
        ("disabled_plugins = 'cri'\n", "error", "disabled_plugins must be a list of strings"),
        (
            'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n'
            'SystemdCgroup = "true"\n',
            "error",
            "SystemdCgroup must be true or false, not 'true'",
        ),
        ('imports = ["/etc/containerd/conf.d/*.toml"]\n', "info", "imports ["),
        ("version = 3\n", "info", "config version 3 is read only by containerd 2.x"),
    ],
)
def test_problems_become_findings(content: str, severity: str, message: str) -> None:
    _unused, findings = parse_containerd_config(content, path="/etc/containerd/config.toml")
    assert any(
        f["severity"] == severity
        and f["source"] == "/etc/containerd/config.toml"
        and f["message"].startswith(message)
        for f in findings
    ), findings


def test_malformed_toml_names_line_and_column() -> None:
    parsed, _unused = parse_containerd_config("version = 2\n[plugins\n", path="/x.toml")
    assert parsed["error"].startswith("not valid TOML:")
    assert "line 2" in parsed["error"]


@pytest.mark.parametrize(
    ("read_error", "has_finding"), [("missing", False), ("permission denied", True)]
)
def test_unreadable_files(read_error: str, has_finding: bool) -> None:
    parsed, findings = parse_containerd_config(None, path="/x.toml", read_error=read_error)
    assert parsed["error"] == read_error
    assert bool(findings) is has_finding
