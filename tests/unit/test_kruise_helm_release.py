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


# --------------------------------------------------------------------------------------------
# Permissions

MANIFEST_1_6 = """
apiVersion: v1
kind: Namespace
metadata: {name: kruise-system}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: clonesets.apps.kruise.io}
spec: {group: apps.kruise.io}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: kruise-controller-manager, namespace: kruise-system}
spec: {template: {spec: {containers: [{name: manager, image: "m:v1.6.3"}]}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: kruise-daemon, namespace: kruise-system}
spec: {template: {spec: {containers: [{name: daemon, image: "m:v1.6.3"}]}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: kruise-manager}
"""
# KruiseDaemon=false: the manager's args change, the DaemonSet goes, a ConfigMap comes.
MANIFEST_DISABLED = """
apiVersion: v1
kind: Namespace
metadata: {name: kruise-system}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: clonesets.apps.kruise.io}
spec: {group: apps.kruise.io}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: kruise-controller-manager, namespace: kruise-system}
spec: {template: {spec: {containers: [{name: manager, image: "m:v1.6.3", args: [x]}]}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: kruise-manager}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: gates, namespace: kruise-system}
"""
SERVED = {
    ("v1", "Namespace"): ("", "namespaces", False),
    ("v1", "ServiceAccount"): ("", "serviceaccounts", True),
    ("v1", "ConfigMap"): ("", "configmaps", True),
    ("apps/v1", "Deployment"): ("apps", "deployments", True),
    ("apps/v1", "DaemonSet"): ("apps", "daemonsets", True),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): (
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        False,
    ),
}


def served(api_version: str, kind: str):
    return SERVED.get((api_version, kind))


def described(needs) -> list[str]:
    return [need.describe() for need in needs]


def test_storage_needs_per_operation_and_driver():
    assert described(hr.storage_needs("default", "read")) == ["list secrets in namespace default"]
    assert described(hr.storage_needs("default", "upgrade")) == [
        "list secrets in namespace default",
        "create secrets in namespace default",
        "update secrets in namespace default",
    ]
    assert described(hr.storage_needs("d", "rollback", resource="configmaps", prunes=True)) == [
        "list configmaps in namespace d",
        "get configmaps in namespace d",
        "create configmaps in namespace d",
        "update configmaps in namespace d",
        "delete configmaps in namespace d",
    ]
    assert hr.storage_needs("d", "upgrade", resource=None) == []
    assert hr.release_storage(None) == hr.release_storage("Secret") == "secrets"
    assert hr.release_storage("configmap") == "configmaps"
    assert hr.release_storage("sql") is None


def test_helm_prunes_the_oldest_revision_only_once_the_release_has_had_max_history():
    assert not hr.prunes_history(9)
    assert hr.prunes_history(10)
    assert not hr.prunes_history(50, max_history=0)


def test_object_needs_get_everything_and_change_only_what_changes():
    needs = described(hr.object_needs(MANIFEST_1_6, MANIFEST_DISABLED, served, "default"))
    assert needs == [
        "get namespaces kruise-system",
        "get customresourcedefinitions.apiextensions.k8s.io clonesets.apps.kruise.io",
        "get deployments.apps kruise-controller-manager in namespace kruise-system",
        "patch deployments.apps kruise-controller-manager in namespace kruise-system",
        # A namespaced object without a namespace lives in the release's.
        "get serviceaccounts kruise-manager in namespace default",
        "get configmaps gates in namespace kruise-system",
        "create configmaps in namespace kruise-system",
        "get daemonsets.apps kruise-daemon in namespace kruise-system",
        "delete daemonsets.apps kruise-daemon in namespace kruise-system",
    ]


def test_a_kind_discovery_does_not_know_is_taken_as_its_plural():
    manifest = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: n}\n"
    assert described(hr.object_needs(None, manifest, lambda *_: None, "default")) == [
        "get widgets.example.com w in namespace n",
        "create widgets.example.com in namespace n",
    ]


def test_an_upgrade_needs_its_way_back_and_the_health_check():
    needs = hr.upgrade_needs("default", MANIFEST_1_6, MANIFEST_DISABLED, served)
    text = described(needs)
    assert text[:3] == [
        "list secrets in namespace default",
        "create secrets in namespace default",
        "update secrets in namespace default",
    ]
    # helm rollback gets the recorded revision by name, recreates what the upgrade deletes and
    # deletes what it creates.
    for way_back in (
        "get secrets in namespace default",
        "create daemonsets.apps in namespace kruise-system",
        "delete configmaps gates in namespace kruise-system",
    ):
        assert way_back in text
        assert next(n for n in needs if n.describe() == way_back).why == hr.ROLLBACK_WHY
    assert "list pods in namespace kruise-system" in text  # kruise_wait
    assert "list replicasets.apps in namespace kruise-system" not in text
    waited = described(hr.upgrade_needs("default", MANIFEST_1_6, MANIFEST_1_6, served, wait=True))
    assert "list replicasets.apps in namespace kruise-system" in waited
    assert not any(line.startswith(("patch", "create", "delete")) for line in waited[3:])


def test_a_rollback_needs_the_reverse_change_and_no_health_check():
    text = described(hr.rollback_needs("default", MANIFEST_DISABLED, MANIFEST_1_6, served))
    assert text[:4] == [
        "list secrets in namespace default",
        "get secrets in namespace default",
        "create secrets in namespace default",
        "update secrets in namespace default",
    ]
    assert "create daemonsets.apps in namespace kruise-system" in text
    assert "delete configmaps gates in namespace kruise-system" in text
    assert "list pods in namespace kruise-system" not in text


class Discovery:
    def __init__(self):
        self.paths: list[str] = []

    def get(self, path, params=None, **kwargs):
        self.paths.append(path)
        if path == "/apis/apps/v1":
            return {
                "resources": [
                    {"name": "deployments", "kind": "Deployment", "namespaced": True},
                    {"name": "deployments/scale", "kind": "Scale", "namespaced": True},
                ]
            }
        if path == "/api/v1":
            return {"resources": [{"name": "namespaces", "kind": "Namespace", "namespaced": False}]}
        raise hr.KubeRequestError(404, path, "not found")


def test_discovery_maps_kinds_to_resources_once_per_group_version():
    client = Discovery()
    resource_of = hr.discovery_lookup(client)  # type: ignore[arg-type]
    assert resource_of("apps/v1", "Deployment") == ("apps", "deployments", True)
    assert resource_of("apps/v1", "Scale") is None
    assert resource_of("v1", "Namespace") == ("", "namespaces", False)
    assert resource_of("example.com/v1", "Widget") is None
    assert resource_of("example.com/v1", "Gadget") is None
    assert client.paths == ["/apis/apps/v1", "/api/v1", "/apis/example.com/v1"]
