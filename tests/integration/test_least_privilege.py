"""Least privilege, path by path: assess, drain, pin (Helm) and disable (Helm) run as service
accounts of a real control plane with RBAC, OpenKruise installed by real helm.

For each path, a token with exactly the permissions the path needs completes it, and a token
missing any one of them fails before changing anything, with a message naming the verb and the
resource (for assess, which changes nothing: the facts and the plan name the permission and leave
what it would have read unknown). The permissions are those of the rbac/ files users apply,
written out by hand, not taken from the code's needs functions, so that the code asking for too
little (a change, then a 403) or too much (a refusal with every needed permission granted), or a
file granting too little or too much, fails a test."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.plan import (
    build_plan,
)

from kruise_cri.lab.cluster_objects import client_for, create_all, ensure_namespace, kwok_node
from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.waiting import wait_until
from tests.integration.ansible_run import REPO_ROOT
from tests.integration.kube_helpers import (
    helm,
    replica_set_on,
    run_cluster_module,
    running_pod_on,
)
from tests.integration.remediation_helpers import (
    DAEMON,
    MANAGER,
    RELEASE_NAMESPACE,
    container_of,
    daemon_pods,
    flat,
    get_or_none,
    helm_history,
    helm_install,
    kruise_plane,
    package_charts,
    pod_ready,
    run_playbook,
)
from tests.integration.service_accounts import (
    Account,
    Permission,
    grant_accounts,
    rbac_permissions,
)

NODES = {
    "lp-docker": ("docker://20.10.24", "v1.23.17"),
    "lp-containerd-17": ("containerd://1.7.24", "v1.28.15"),
}
DRAIN_NODE = "lp-drain"
APPS = "lp-apps"
TAINT = {"key": "kruise-cri.test/least-privilege", "value": "drain", "effect": "NoSchedule"}
ACCOUNTS_NAMESPACE = "kruise-cri-least"
KRUISE = "apps.kruise.io"
LEASES = "coordination.k8s.io"

# ------------------------------------------------------------------------------------------
# The permissions each path needs: the Roles and ClusterRoles of rbac/, which users apply, for a
# default install (OpenKruise in kruise-system, its Helm release `kruise` in default) as this
# lab has it; the drained node's pods are in lp-apps.

RBAC = REPO_ROOT / "rbac"
# The lab's chart serves no v1beta1 StatefulSet of apps.kruise.io: nothing reads it here.
NOT_SERVED = [("list", "statefulsets", KRUISE)]
ASSESS = rbac_permissions(RBAC / "assess.yml", not_served=NOT_SERVED)
DRAIN = rbac_permissions(RBAC / "drain.yml")
PIN = rbac_permissions(RBAC / "pin-helm.yml")
DISABLE = rbac_permissions(RBAC / "disable-helm.yml", not_served=NOT_SERVED)

MATRICES = {"assess": ASSESS, "drain": DRAIN, "pin": PIN, "disable": DISABLE}
PLAYBOOKS = {"pin": "pin_kruise", "disable": "disable_kruise_daemon"}


def account_name(path: str, missing: Permission | None) -> str:
    if missing is None:
        return f"{path}-exact"
    return f"{path}-{MATRICES[path].index(missing)}"


def without(path: str, missing: Permission) -> list[Permission]:
    return [p for p in MATRICES[path] if p != missing]


# ------------------------------------------------------------------------------------------
# Fixtures. Each run the lock serialises takes 10 to 15 s of one core (ansible-playbook and its
# modules), so the disable matrix runs on a control plane of its own, beside the others.


def accounts_for(paths: Sequence[str]) -> dict[str, Sequence[Permission]]:
    """For each path, an account with exactly its permissions and one without each of them."""
    wanted: dict[str, Sequence[Permission]] = {}
    for path in paths:
        wanted[account_name(path, None)] = MATRICES[path]
        for missing in MATRICES[path]:
            wanted[account_name(path, missing)] = without(path, missing)
    return wanted


def install_kruise(plane: ControlPlane, kube: KubeClient, directory: Path) -> dict[str, Path]:
    """OpenKruise 1.6.3 (release kruise in default) from the lab's chart, its daemon Ready on
    every node; the charts."""
    charts = package_charts(plane, directory / "charts")
    helm_install(plane, charts["1.6.3"], {"manager": {"replicas": 1}}, directory)
    wait_until(
        "the daemon pods Ready on every node",
        lambda: (
            len(daemon_pods(kube)) == len(nodes_of(kube))
            and all(pod_ready(p) for p in daemon_pods(kube))
        ),
    )
    return charts


def nodes_of(kube: KubeClient) -> list[str]:
    return [node["metadata"]["name"] for node in kube.get("/api/v1/nodes")["items"]]


@pytest.fixture(scope="module", autouse=True)
def disable_runs(tmp_path_factory) -> Iterator[Future[dict[Permission | None, Run]]]:
    """The disable matrix, run in the background on a control plane of its own from the
    module's start."""
    directory = tmp_path_factory.mktemp("lp-disable")
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(disable_matrix, directory)
        yield future
        future.cancel()


def disable_matrix(directory: Path) -> dict[Permission | None, Run]:
    with kruise_plane(directory / "plane", NODES) as plane:
        kube = client_for(plane.kubeconfig)
        charts = install_kruise(plane, kube, directory)
        accounts = grant_accounts(
            plane,
            kube,
            directory,
            accounts_for(["disable"]),
            accounts_namespace=ACCOUNTS_NAMESPACE,
        )
        return run_matrix("disable", plane, kube, accounts, lambda: disable_vars(charts))


@pytest.fixture(scope="module")
def plane(tmp_path_factory) -> Iterator[ControlPlane]:
    with kruise_plane(tmp_path_factory.mktemp("lp-plane"), NODES) as running:
        yield running


@pytest.fixture(scope="module")
def kube(plane: ControlPlane) -> KubeClient:
    return client_for(plane.kubeconfig)


@pytest.fixture(scope="module")
def installed(plane, kube, tmp_path_factory) -> dict[str, Path]:
    """OpenKruise installed (the charts), and on a node of its own a ReplicaSet's pod that a
    drain evicts."""
    drain_node = kwok_node(DRAIN_NODE, "containerd://1.7.24", "v1.28.15")
    drain_node["spec"]["taints"] = [TAINT]
    create_all(kube, [drain_node])
    ensure_namespace(kube, APPS)
    create_all(kube, [replica_set_on("lp-web", APPS, DRAIN_NODE, TAINT)])
    charts = install_kruise(plane, kube, tmp_path_factory.mktemp("lp-install"))
    wait_until("the app's pod Running on the drained node", lambda: app_pod(kube))
    return charts


@pytest.fixture(scope="module")
def accounts(plane, installed, kube, tmp_path_factory) -> dict[str, Account]:
    return grant_accounts(
        plane,
        kube,
        tmp_path_factory.mktemp("lp-accounts"),
        accounts_for(["assess", "drain", "pin"]),
        accounts_namespace=ACCOUNTS_NAMESPACE,
    )


def app_pod(kube: KubeClient) -> dict[str, Any] | None:
    return running_pod_on(kube, APPS, DRAIN_NODE)


def in_parallel(work: Callable[[str], Any], names: Sequence[str]) -> dict[str, Any]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(names, pool.map(work, names), strict=True))


def ids(permissions: Sequence[Permission]) -> list[str]:
    return [p.label for p in permissions]


# ------------------------------------------------------------------------------------------
# assess: kruise_info and the plan


def kruise_info(account: Account) -> dict[str, Any]:
    result = run_cluster_module(
        "kruise_cri.remediation.kruise_info", {"kubeconfig": str(account.kubeconfig)}
    )
    assert not result.get("failed"), result.get("msg")
    return result["kruise"]


def plan_of(facts: Mapping[str, Any]) -> dict[str, Any]:
    return build_plan({}, facts, target_version="1.6.0", shipped_playbooks=("assess",))


@pytest.fixture(scope="module")
def assessed(accounts) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """(facts, plan) per assess account; kruise_info only reads, so all run at once."""
    names = [account_name("assess", None)] + [account_name("assess", p) for p in ASSESS]

    def assess(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        facts = kruise_info(accounts[name])
        return facts, plan_of(facts)

    return in_parallel(assess, names)


def as_kruise_info_names(permission: Permission) -> str:
    """kruise_info's spelling: ``list secrets in default``."""
    return permission.named + (f" in {permission.namespace}" if permission.namespace else "")


# What each read would have told, which must stay unknown (null) without it, never empty or
# absent; and the plan must not build on it.
Check = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]
UNKNOWN_WITHOUT: dict[str, Check] = {
    "list nodes": lambda facts, plan: (
        facts["nodes"] is None and not plan["recommendation"]["summary"].startswith("Every node")
    ),
    "list deployments.apps": lambda facts, plan: (
        facts["installed"] is None and plan["installation"]["installed"] is None
    ),
    "list daemonsets.apps": lambda facts, plan: (
        facts["daemon"] is None and "daemon" in facts["unread"]
    ),
    "list pods": lambda facts, plan: (
        facts["feature_use"]["sidecar_terminator_pods"]["count"] is None
        and facts["daemon"]["crash_looping"] is None
        and "daemon_pods" in facts["unread"]
    ),
    "list secrets": lambda facts, plan: (
        facts["install"]["method"] == "helm" and facts["install"]["helm"]["values"] is None
    ),
    "list clonesets.apps.kruise.io": lambda facts, plan: (
        facts["feature_use"]["predownload_workloads"]["count"] is None
    ),
    "list daemonsets.apps.kruise.io": lambda facts, plan: (
        facts["feature_use"]["predownload_workloads"]["count"] is None
    ),
}


def test_assess_reads_everything_with_exactly_its_permissions(assessed):
    facts, plan = assessed[account_name("assess", None)]
    assert facts["missing_permissions"] == []
    assert facts["unread"] == {}
    assert facts["installed"] is True
    assert facts["install"]["method"] == "helm"
    assert facts["install"]["helm"]["revision"] == 1
    assert facts["daemon"]["name"] == "kruise-daemon"
    assert {node["name"] for node in facts["nodes"]} == {*NODES, DRAIN_NODE}
    assert facts["feature_use"]["in_use"] is False
    assert "missing permission" not in json.dumps(plan["findings"])


@pytest.mark.parametrize("missing", ASSESS, ids=ids(ASSESS))
def test_assess_names_each_missing_permission_and_claims_nothing_it_could_not_read(
    assessed, missing
):
    facts, plan = assessed[account_name("assess", missing)]
    named = as_kruise_info_names(missing)
    # Reads that this permission would have allowed may be refused too (the configmaps helm
    # may keep a release in, the daemon's pods in its namespace); granted ones never.
    granted = {as_kruise_info_names(p) for p in without("assess", missing)}
    assert named in facts["missing_permissions"]
    assert not granted & set(facts["missing_permissions"])
    assert any(named in f["message"] for f in plan["findings"]), plan["findings"]
    if missing.group == KRUISE and missing.resource not in ("clonesets", "daemonsets"):
        kinds = facts["feature_use"]["kinds"]
        entry = next(e for e in kinds.values() if e.get("missing_permission") == named)
        assert entry["count"] is None
    else:
        assert UNKNOWN_WITHOUT[missing.named](facts, plan), (facts, plan["recommendation"])
    if missing.group == KRUISE or missing.named == "list pods":
        assert facts["feature_use"]["in_use"] is None
        assert plan["installation"]["features_in_use"] is None


# ------------------------------------------------------------------------------------------
# drain: the node_drain module


def drain_as(account: Account) -> dict[str, Any]:
    return run_cluster_module(
        "kruise_cri.remediation.node_drain",
        {"kubeconfig": str(account.kubeconfig), "name": DRAIN_NODE, "timeout": 60},
    )


def node_unschedulable(kube: KubeClient) -> bool:
    return bool(kube.get(f"/api/v1/nodes/{DRAIN_NODE}")["spec"].get("unschedulable"))


def test_drain_refuses_each_missing_permission_before_cordoning(accounts, kube):
    pod = app_pod(kube)
    assert pod is not None
    names = [account_name("drain", p) for p in DRAIN]
    results = in_parallel(lambda name: drain_as(accounts[name]), names)
    problems = []
    for missing, name in zip(DRAIN, names, strict=True):
        result = results[name]
        message = " ".join(str(result.get("msg")).split())
        if not result.get("failed") or missing.named not in message:
            problems.append(f"{missing.label}: {message}")
        elif "Nothing was changed" not in message:
            problems.append(f"{missing.label}: says nothing of the node's state: {message}")
    assert not node_unschedulable(kube)
    assert app_pod(kube)["metadata"]["uid"] == pod["metadata"]["uid"]
    assert not problems, "\n".join(problems)


def test_drain_works_with_exactly_its_permissions(accounts, kube):
    pod = app_pod(kube)
    result = drain_as(accounts[account_name("drain", None)])
    assert not result.get("failed"), result.get("msg")
    assert [e["name"] for e in result["evicted"]] == [pod["metadata"]["name"]]
    assert node_unschedulable(kube)
    kube.patch(f"/api/v1/nodes/{DRAIN_NODE}", {"spec": {"unschedulable": False}})


# ------------------------------------------------------------------------------------------
# pin and disable: the playbooks, Helm path


@dataclass(frozen=True)
class Run:
    """One run of a playbook: its output (flattened), exit code, the state before and after,
    and whether the account's token shows in the output."""

    output: str
    returncode: int
    before: dict[str, Any]
    after: dict[str, Any]
    seconds: float
    token_shown: bool


def kruise_state(kube: KubeClient) -> dict[str, Any]:
    """What a refused run must leave as it was (read without helm: this runs twice a run)."""
    daemonset = get_or_none(kube, DAEMON)
    manager = kube.get(MANAGER)
    stored = kube.get(
        f"/api/v1/namespaces/{RELEASE_NAMESPACE}/secrets",
        {"labelSelector": "owner=helm,name=kruise"},
    )["items"]
    return {
        "revisions": sorted(int(secret["metadata"]["labels"]["version"]) for secret in stored),
        "manager": (manager["metadata"]["generation"], container_of(manager, "manager")["image"]),
        "daemonset": daemonset["metadata"]["generation"] if daemonset else None,
        "leases": sorted(lease["metadata"]["name"] for lease in leases(kube)),
    }


def leases(kube: KubeClient) -> list[dict[str, Any]]:
    return kube.get(f"/apis/{LEASES}/v1/namespaces/{RELEASE_NAMESPACE}/leases")["items"]


def put_back(plane: ControlPlane, kube: KubeClient, before: Mapping[str, Any]) -> None:
    """After a run that should have changed nothing and did, the state before, so that the
    next runs start from it: no lock left behind, the release at its revision before."""
    for lease in leases(kube):
        kube.delete(
            f"/apis/{LEASES}/v1/namespaces/{RELEASE_NAMESPACE}/leases/{lease['metadata']['name']}"
        )
    if kruise_state(kube)["revisions"][-1] != before["revisions"][-1]:
        helm(plane, "rollback", "kruise", str(before["revisions"][-1]), "-n", RELEASE_NAMESPACE)


def run_case(
    playbook: str,
    plane: ControlPlane,
    kube: KubeClient,
    account: Account,
    extra: Mapping[str, Any],
) -> Run:
    before = kruise_state(kube)
    started = time.monotonic()
    completed = run_playbook(
        playbook, plane, {"kruise_cri_kubeconfig": str(account.kubeconfig), **extra}
    )
    seconds = time.monotonic() - started
    after = kruise_state(kube)
    output = flat(completed)
    return Run(output, completed.returncode, before, after, seconds, account.token in output)


def run_matrix(
    path: str,
    plane: ControlPlane,
    kube: KubeClient,
    accounts: Mapping[str, Account],
    extra: Callable[[], Mapping[str, Any]],
) -> dict[Permission | None, Run]:
    """Every refused run of ``path``, then the run with exactly its permissions."""
    playbook = PLAYBOOKS[path]
    runs: dict[Permission | None, Run] = {}
    for missing in MATRICES[path]:
        run = run_case(playbook, plane, kube, accounts[account_name(path, missing)], extra())
        if run.after != run.before:
            put_back(plane, kube, run.before)
        runs[missing] = run
    runs[None] = run_case(playbook, plane, kube, accounts[account_name(path, None)], extra())
    return runs


def assert_refused_before_any_change(run: Run, missing: Permission) -> None:
    assert run.returncode != 0, run.output[-4000:]
    assert missing.named in run.output, run.output[-4000:]
    assert "nothing was changed" in run.output.lower(), run.output[-4000:]
    assert run.after == run.before, f"the refused run changed something ({run.seconds:.1f} s)"
    assert not run.token_shown


def pin_vars(charts: Mapping[str, Path]) -> dict[str, Any]:
    return {"kruise_cri_chart_ref": str(charts["1.5.5"])}


def disable_vars(charts: Mapping[str, Path]) -> dict[str, Any]:
    """The chart the release runs (its control plane sees no pin): the disable upgrades with
    the same one."""
    return {"kruise_cri_chart_ref": str(charts["1.6.3"])}


@pytest.fixture(scope="module")
def pin_runs(plane, installed, kube, accounts, tmp_path_factory) -> dict[Permission | None, Run]:
    return run_matrix("pin", plane, kube, accounts, lambda: pin_vars(installed))


@pytest.mark.parametrize("missing", PIN, ids=ids(PIN))
def test_pin_refuses_each_missing_permission_before_any_change(pin_runs, missing):
    assert_refused_before_any_change(pin_runs[missing], missing)


def test_pin_works_with_exactly_its_permissions(pin_runs, plane):
    run = pin_runs[None]
    assert run.returncode == 0, run.output[-6000:]
    assert run.after["revisions"] == [*run.before["revisions"], run.before["revisions"][-1] + 1]
    assert helm_history(plane)[-1]["chart"] == "kruise-1.5.5"
    assert run.after["manager"][1].endswith(":v1.5.5")
    assert run.after["leases"] == []


@pytest.mark.parametrize("missing", DISABLE, ids=ids(DISABLE))
def test_disable_refuses_each_missing_permission_before_any_change(disable_runs, missing):
    assert_refused_before_any_change(disable_runs.result()[missing], missing)


def test_disable_works_with_exactly_its_permissions(disable_runs):
    run = disable_runs.result()[None]
    assert run.returncode == 0, run.output[-6000:]
    assert run.after["revisions"] == [*run.before["revisions"], run.before["revisions"][-1] + 1]
    assert run.after["daemonset"] is None
    assert run.after["leases"] == []
