"""Values merging (values), kubeVersion constraints (semver), chart references and the helm
wrapper (kruise_helm_release)."""

from __future__ import annotations

import json

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster import (
    kruise_helm_release as hr,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.semver import (
    ConstraintError,
    satisfies,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.values import (
    deep_merge,
    dig,
)


def test_deep_merge_keeps_every_user_value_and_null_removes():
    user = {
        "featureGates": "A=true",
        "daemon": {"socketLocation": "/run", "extraEnvs": [{"name": "X", "value": "1"}]},
        "manager": {"replicas": 3, "image": {"repository": "mirror/kruise-manager"}},
    }
    merged = deep_merge(user, {"manager": {"image": {"tag": "v1.5.5"}}, "featureGates": None})
    assert merged == {
        "daemon": {"socketLocation": "/run", "extraEnvs": [{"name": "X", "value": "1"}]},
        "manager": {
            "replicas": 3,
            "image": {"repository": "mirror/kruise-manager", "tag": "v1.5.5"},
        },
    }
    assert user["featureGates"] == "A=true"  # the input is not changed
    assert deep_merge(user, {}) == user
    assert deep_merge({"a": {"b": 1}}, {"a": 2}) == {"a": 2}


def test_dig():
    values = {"manager": {"image": {"tag": "v1"}}}
    assert dig(values, "manager.image.tag") == "v1"
    assert dig(values, "manager.image.repository") is None
    assert dig(values, "manager.image.tag.x") is None
    assert dig(None, "a") is None


@pytest.mark.parametrize(
    ("version", "constraint", "expected"),
    [
        ("v1.37.2", ">= 1.16.0-0", True),
        ("v1.37.2", ">= 1.18.0-0", True),
        ("v1.15.3", ">= 1.16.0-0", False),
        ("v1.28.3-eks-1", ">= 1.16.0-0", True),
        # a prerelease server only meets comparators that name a prerelease (Masterminds v3)
        ("v1.28.3-eks-1", ">= 1.16.0", False),
        ("v1.28.3+k3s1", ">=1.16.0", True),
        ("v1.28.3", ">=1.20.0, <1.29.0", True),
        ("v1.29.0", ">=1.20.0 <1.29.0", False),
        ("v1.29.0", "<1.20.0 || >=1.29.0", True),
        ("v1.28.3", "~1.28.0", True),
        ("v1.29.0", "~1.28.0", False),
        ("v1.28.3", "^1.20", True),
        ("v2.0.0", "^1.20", False),
        ("v1.28.3", "1.28.x", True),
        ("v1.28.3", "1.27", False),
        ("v1.28.3", "> 1.27", True),
        ("v1.27.9", "> 1.27", False),
        ("v1.27.9", "<= 1.27", True),
        ("v1.28.0", "<= 1.27", False),
        ("v1.28.0", "!= 1.28.0", False),
        ("v1.28.0", "1.20 - 1.28.0", True),
        ("v1.28.1", "1.20 - 1.28.0", False),
        ("v1.28.1", "", True),
    ],
)
def test_kube_version_constraints_as_helm_reads_them(version, constraint, expected):
    assert satisfies(version, constraint) is expected


def test_unreadable_constraints_and_versions_raise():
    with pytest.raises(ConstraintError):
        satisfies("v1.28.0", ">= banana")
    with pytest.raises(ValueError):
        satisfies("banana", ">= 1.16.0")


def test_chart_sources():
    local = hr.chart_source("/charts/kruise-1.5.5.tgz", hr.DEFAULT_CHART_REPO_URL, "1.5.5", bool)
    assert local.local_path == "/charts/kruise-1.5.5.tgz"
    repo = hr.chart_source("openkruise/kruise", hr.DEFAULT_CHART_REPO_URL, "1.5.5", lambda _: False)
    assert repo.pull_args == (
        "kruise",
        "--repo",
        "https://openkruise.github.io/charts/",
        "--version",
        "1.5.5",
    )
    own_repos = hr.chart_source("openkruise/kruise", "", "1.5.5", lambda _: False)
    assert own_repos.pull_args == ("openkruise/kruise", "--version", "1.5.5")
    oci = hr.chart_source("oci://reg/charts/kruise", "https://x", "1.5.5", lambda _: False)
    assert oci.pull_args == ("oci://reg/charts/kruise", "--version", "1.5.5")
    with pytest.raises(ValueError):
        hr.chart_source(" ", None, None, bool)


MANIFEST_BEFORE = """
---
# Source: kruise/templates/manager.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: kruise-controller-manager, namespace: kruise-system}
spec: {replicas: 2}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: kruise-daemon, namespace: kruise-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: kruise-system}
"""
MANIFEST_AFTER = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: kruise-controller-manager, namespace: kruise-system}
spec: {replicas: 3}
---
apiVersion: v1
kind: Namespace
metadata: {name: kruise-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: extra, namespace: kruise-system}
"""


def test_manifest_changes():
    assert hr.manifest_changes(MANIFEST_BEFORE, MANIFEST_AFTER) == {
        "added": ["ConfigMap kruise-system/extra"],
        "removed": ["DaemonSet kruise-system/kruise-daemon"],
        "changed": ["Deployment kruise-system/kruise-controller-manager"],
    }
    assert hr.manifest_changes(None, "") == {"added": [], "removed": [], "changed": []}


def test_connection_args_keep_the_token_off_the_command_line():
    args, env = hr.connection_args(
        {
            "kubeconfig": "/k",
            "context": "c",
            "api_key": "s3cret",
            "validate_certs": False,
            "ca_cert": "/ca",
            "proxy": "http://p:3128",
        }
    )
    assert args == [
        "--kubeconfig",
        "/k",
        "--kube-context",
        "c",
        "--kube-ca-file",
        "/ca",
        "--kube-insecure-skip-tls-verify",
    ]
    assert env["HELM_KUBETOKEN"] == "s3cret"
    assert "s3cret" not in " ".join(args)
    assert env["HTTPS_PROXY"] == "http://p:3128"
    with pytest.raises(ValueError, match="kubeconfig"):
        hr.connection_args({"client_cert": "/c", "client_key": "/k"})


class FakeHelm:
    def __init__(self, outputs):
        self.outputs = outputs
        self.calls = []

    def __call__(self, argv, env):
        self.calls.append((argv, dict(env)))
        key = " ".join(argv[3:])
        for prefix, output in self.outputs.items():
            if key.startswith(prefix):
                return output
        return 1, "", f"unexpected {key}"


def test_helm_cli_reads_a_release():
    fake = FakeHelm(
        {
            "status kruise -n default -o json": (
                0,
                json.dumps(
                    {"version": 4, "info": {"status": "deployed"}, "config": {"featureGates": "A"}}
                ),
                "",
            ),
            "get metadata kruise -n default -o json": (
                0,
                json.dumps({"chart": "kruise", "version": "1.6.3", "appVersion": "1.6.3"}),
                "",
            ),
            "status gone": (1, "", "Error: release: not found"),
            "history kruise -n default --max 2 -o json": (
                0,
                json.dumps([{"revision": 3}, {"revision": 4}]),
                "",
            ),
        }
    )
    cli = hr.HelmCli("helm", ["--kubeconfig", "/k"], {"HELM_KUBETOKEN": "t"}, fake)
    release = cli.release("kruise", "default")
    assert release.summary() == {
        "release": "kruise",
        "namespace": "default",
        "revision": 4,
        "status": "deployed",
        "chart": "kruise",
        "chart_version": "1.6.3",
        "app_version": "1.6.3",
        "values": {"featureGates": "A"},
    }
    assert cli.release("gone", "default") is None
    assert [e["revision"] for e in cli.history("kruise", "default", 2)] == [4, 3]
    assert fake.calls[0][1] == {"HELM_KUBETOKEN": "t"}
    with pytest.raises(hr.HelmError, match="rc 1"):
        cli.call("upgrade", "x")
