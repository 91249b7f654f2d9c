"""kruise_info, the planner and the pin and disable pre-flights run as a user who may read only part
of the cluster: a real control plane with RBAC, OpenKruise installed by real helm, and service
accounts whose tokens carry exactly the permissions each test grants. A read the API server refuses
(403) must leave what it would have told unknown, name the permission it lacked, and stop the
playbooks before they change anything; never read as "none", "not installed" or "manifests"."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_info import (
    DAEMON_KINDS,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.plan import (
    build_plan,
)

from kruise_cri.lab.cluster_objects import client_for, create_all, ensure_namespace
from kruise_cri.lab.controlplane import ControlPlane
from tests.integration.kube_helpers import run_cluster_module
from tests.integration.remediation_helpers import (
    DAEMON,
    MANAGER,
    RELEASE_NAMESPACE,
    container_of,
    failed,
    helm_install,
    kruise_plane,
    package_charts,
    run_playbook,
)
from tests.integration.service_accounts import Permission, grant_account

NODES = {
    "perm-docker": ("docker://20.10.24", "v1.23.17"),
    "perm-containerd-17": ("containerd://1.7.24", "v1.28.15"),
}
GATES = "ImagePullJobGate=true"
ACCOUNTS_NAMESPACE = "kruise-cri-readers"
READ = ["get", "list", "watch"]
DAEMON_PLURALS = [plural for plural, _unused in DAEMON_KINDS.values()]
# Everything kruise_info, kruise_pin_check and helm's release reads need; each test leaves some out.
CLUSTER_READS: dict[tuple[str, str], None] = dict.fromkeys(
    [
        ("", "nodes"),
        ("", "pods"),
        ("apps", "deployments"),
        ("apps", "daemonsets"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        *(("apps.kruise.io", plural) for plural in DAEMON_PLURALS),
        ("apps.kruise.io", "clonesets"),
        ("apps.kruise.io", "daemonsets"),
        ("apps.kruise.io", "statefulsets"),
    ]
)
RELEASE_READS = ("secrets", "configmaps")  # in the release's namespace, as helm reads them
# The playbooks take their lock (a Lease in the release's namespace) before the pre-flight that
# refuses: a reader needs it to get there.
LOCK = [
    Permission(verb, "leases", "coordination.k8s.io", RELEASE_NAMESPACE)
    for verb in ("get", "create", "update", "delete")
]


@pytest.fixture(scope="module")
def plane(tmp_path_factory) -> Iterator[ControlPlane]:
    with kruise_plane(tmp_path_factory.mktemp("perm-plane"), NODES) as running:
        yield running


@pytest.fixture(scope="module")
def kube(plane: ControlPlane) -> KubeClient:
    return client_for(plane.kubeconfig)


@pytest.fixture(scope="module")
def charts(plane: ControlPlane, tmp_path_factory) -> dict[str, Path]:
    return package_charts(plane, tmp_path_factory.mktemp("perm-charts"))


@pytest.fixture(scope="module")
def installed(plane, kube, charts, tmp_path_factory) -> ControlPlane:
    """OpenKruise 1.6.3 from the lab's chart by real helm (release `kruise` in `default`), and
    a ContainerRecreateRequest in use. Every test only reads, so one install serves them all."""
    helm_install(plane, charts["1.6.3"], {"featureGates": GATES}, tmp_path_factory.mktemp("v"))
    ensure_namespace(kube, "apps")
    ensure_namespace(kube, ACCOUNTS_NAMESPACE)
    create_all(
        kube,
        [
            {
                "apiVersion": "apps.kruise.io/v1alpha1",
                "kind": "ContainerRecreateRequest",
                "metadata": {"name": "restart-1", "namespace": "apps"},
                "spec": {"podName": "web-0", "containers": [{"name": "app"}]},
            }
        ],
    )
    return plane


def reader_kubeconfig(
    plane: ControlPlane,
    kube: KubeClient,
    directory: Path,
    name: str,
    *,
    without: Sequence[tuple[str, str]] = (),
    release_reads: bool = True,
) -> tuple[Path, str]:
    """A service account granted CLUSTER_READS but ``without`` (and, with ``release_reads``,
    RELEASE_READS in the release's namespace) and the LOCK, and a kubeconfig with its token:
    (path, token)."""
    permissions = [
        Permission(verb, resource, group)
        for group, resource in CLUSTER_READS
        if (group, resource) not in without
        for verb in READ
    ]
    if release_reads:
        permissions += [
            Permission(verb, resource, namespace=RELEASE_NAMESPACE)
            for resource in RELEASE_READS
            for verb in READ
        ]
    permissions += LOCK
    account = grant_account(
        plane, kube, directory, name, permissions, accounts_namespace=ACCOUNTS_NAMESPACE
    )
    return account.kubeconfig, account.token


def kruise_info(kubeconfig: Path) -> dict[str, Any]:
    result = run_cluster_module(
        "kruise_cri.remediation.kruise_info", {"kubeconfig": str(kubeconfig)}
    )
    assert not result.get("failed"), result.get("msg")
    return result["kruise"]


def plan_of(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The plan for 1.6.0 from the cluster's facts alone (the nodes inferred from it)."""
    return build_plan({}, facts, target_version="1.6.0", shipped_playbooks=("assess",))


def playbook_as(
    plane: ControlPlane, charts: Mapping[str, Path], kubeconfig: Path, name: str
) -> str:
    """Run a remediation playbook with ``kubeconfig``; its refusal, flattened."""
    chart = charts["1.5.5" if name == "pin_kruise" else "1.6.3"]
    variables = {"kruise_cri_kubeconfig": str(kubeconfig), "kruise_cri_chart_ref": str(chart)}
    return failed(run_playbook(name, plane, variables))


def images(kube: KubeClient) -> tuple[str, str]:
    return (
        container_of(kube.get(MANAGER), "manager")["image"],
        container_of(kube.get(DAEMON), "daemon")["image"],
    )


# ------------------------------------------------------------------------------------------
# 4. No permission on the daemon's kinds: their use is unknown, never "nothing uses them"


def test_refused_feature_use_is_unknown_and_names_each_missing_permission(
    installed, kube, charts, tmp_path
):
    plane = installed
    admin_view = kruise_info(plane.kubeconfig)["feature_use"]
    assert admin_view["in_use"] is True
    assert admin_view["kinds"]["ContainerRecreateRequest"]["count"] == 1

    kubeconfig, token = reader_kubeconfig(
        plane,
        kube,
        tmp_path,
        "no-daemon-kinds",
        without=[("apps.kruise.io", plural) for plural in DAEMON_PLURALS],
    )
    facts = kruise_info(kubeconfig)
    use = facts["feature_use"]
    assert use["in_use"] is None
    for kind, (plural, _unused) in DAEMON_KINDS.items():
        entry = use["kinds"][kind]
        assert entry["crd"] is True, kind
        assert entry["count"] is None, kind
        assert entry["error"].startswith("HTTP 403"), kind
        assert entry["missing_permission"] == f"list {plural}.apps.kruise.io", kind
        assert f"list {plural}.apps.kruise.io" in facts["missing_permissions"]
    assert facts["installed"] is True
    assert facts["install"]["method"] == "helm"
    assert facts["install"]["error"] is None

    # The planner keeps the features (the Docker node is migrated), never "disable: nothing
    # uses them", and says which permission is missing.
    plan = plan_of(facts)
    assert plan["installation"]["features_in_use"] is None
    assert plan["recommendation"]["path"] != "disable_daemon"
    disable = next(p for p in plan["paths"] if p["id"] == "disable_daemon")
    assert disable["risk"]["level"] != "low"
    assert "none of the daemon's features in use" not in json.dumps(disable)
    assert "list containerrecreaterequests.apps.kruise.io" in json.dumps(disable["risk"])
    assert any(
        "missing permission: list containerrecreaterequests.apps.kruise.io" in f["message"]
        for f in plan["findings"]
    )

    # The disable playbook refuses, naming the permission, and changes nothing.
    before = images(kube)
    refused = playbook_as(plane, charts, kubeconfig, "disable_kruise_daemon")
    assert "Disabling kruise-daemon is refused" in refused
    assert "missing permission: list containerrecreaterequests.apps.kruise.io" in refused
    assert images(kube) == before
    assert token not in refused


# ------------------------------------------------------------------------------------------
# 10. No permission on Deployments: whether OpenKruise is installed is unknown


def test_refused_deployments_leave_the_install_unknown_not_absent(
    installed, kube, charts, tmp_path
):
    plane = installed
    kubeconfig, token = reader_kubeconfig(
        plane, kube, tmp_path, "no-deployments", without=[("apps", "deployments")]
    )
    facts = kruise_info(kubeconfig)
    assert facts["installed"] is None
    assert facts["manager"] is None
    assert facts["install"]["method"] is None
    assert "missing permission: list deployments.apps" in facts["install"]["error"]
    assert "list deployments.apps" in facts["missing_permissions"]
    assert any(
        "missing permission: list deployments.apps" in f["message"] for f in facts["findings"]
    )

    plan = plan_of(facts)
    assert plan["installation"]["installed"] is None
    text = json.dumps(plan)
    assert "helm install" not in text
    assert "not installed" not in text
    assert not plan["recommendation"]["summary"].startswith("Install")
    assert any("list deployments.apps" in f["message"] for f in plan["findings"])

    before = images(kube)
    refused = playbook_as(plane, charts, kubeconfig, "pin_kruise")
    assert "Pinning OpenKruise is refused" in refused
    assert "missing permission: list deployments.apps" in refused
    assert "is not installed" not in refused
    assert images(kube) == before
    assert token not in refused


# ------------------------------------------------------------------------------------------
# 2. No permission on the release's secrets: still a Helm install, never the manifests path


def test_a_helm_install_behind_refused_secrets_is_helm_and_both_playbooks_refuse(
    installed, kube, charts, tmp_path
):
    plane = installed
    kubeconfig, token = reader_kubeconfig(plane, kube, tmp_path, "no-secrets", release_reads=False)
    facts = kruise_info(kubeconfig)
    install = facts["install"]
    assert install["method"] == "helm"
    assert install["helm"]["release"] == "kruise"
    assert install["helm"]["namespace"] == RELEASE_NAMESPACE
    assert install["helm"]["values"] is None  # not read: unknown, not empty
    assert f"get/list secrets in {RELEASE_NAMESPACE}" in install["error"]
    assert f"list secrets in {RELEASE_NAMESPACE}" in facts["missing_permissions"]
    assert facts["installed"] is True
    assert facts["version"] == "1.6.3"

    plan = plan_of(facts)
    assert plan["installation"]["method"] == "helm"
    assert f"get/list secrets in {RELEASE_NAMESPACE}" in json.dumps(plan["findings"])

    before = images(kube)
    pin = playbook_as(plane, charts, kubeconfig, "pin_kruise")
    assert "Pinning OpenKruise is refused" in pin
    assert f"get/list secrets in {RELEASE_NAMESPACE}" in pin
    assert "(manifests" not in pin
    disable = playbook_as(plane, charts, kubeconfig, "disable_kruise_daemon")
    assert "Disabling kruise-daemon is refused" in disable
    assert f"get/list secrets in {RELEASE_NAMESPACE}" in disable
    # Neither patched the Helm-owned Deployment or DaemonSet.
    assert images(kube) == before
    assert kube.get(DAEMON)["metadata"]["name"] == "kruise-daemon"
    assert token not in pin + disable
