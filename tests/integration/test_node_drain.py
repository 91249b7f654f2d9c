"""node_drain against a real control plane: kube-controller-manager keeps PodDisruptionBudget
status and ReplicaSets, the scheduler places replacements, kwok plays the kubelet (pods become
Running; pods being deleted go away). The module runs through `ansible`, as a user runs it.

Nodes are ours alone (``drain-*``, tainted so that no other test's pod lands there). The pods of
the main scenario start on ``drain-src`` while the spare nodes are cordoned. The drain starts with
the spares still cordoned: the first pod of each Deployment behind a budget (maxUnavailable 1) is
evicted, its replacement stays Pending, and the budget refuses the others; only once the spares are
uncordoned do replacements run elsewhere and the budget lets the next evictions through.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kruise_cri.lab.cluster_objects import bound_pod, create_all, ensure_pod_namespace, kwok_node
from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.waiting import WaitTimeout, wait_until
from tests.integration.ansible_run import ansible_on_localhost
from tests.integration.kube_helpers import run_cluster_module

MODULE = "kruise_cri.remediation.node_drain"
NAMESPACE = "drain-test"
SOURCE = "drain-src"
SPARES = ("drain-spare-1", "drain-spare-2")
IDLE = "drain-idle"
STUCK = "drain-stuck"
TAINT = {"key": "kruise-cri.test/drain", "value": "only", "effect": "NoSchedule"}
TOLERATION = {"key": TAINT["key"], "operator": "Equal", "value": "only", "effect": "NoSchedule"}
PDB_DEPLOYMENTS = {"web": 3, "api": 3}
# How long the drain runs with no schedulable spare (its budgets must hold all that time).
BLOCKED_SECONDS = 3.0


def node(name: str, pool: str, *, unschedulable: bool = False) -> dict[str, Any]:
    obj = kwok_node(name, "containerd://1.7.24", "v1.33.1", labels={"drain-test": pool})
    obj["spec"]["taints"] = [TAINT]
    if unschedulable:
        obj["spec"]["unschedulable"] = True
    return obj


def template(app: str, pool: str, *, empty_dir: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "nodeSelector": {"drain-test": pool},
        "tolerations": [TOLERATION],
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 5,
        "containers": [{"name": "app", "image": "registry.example/app:1.0"}],
    }
    if empty_dir:
        spec["volumes"] = [{"name": "scratch", "emptyDir": {}}]
        spec["containers"][0]["volumeMounts"] = [{"name": "scratch", "mountPath": "/scratch"}]
    return {"metadata": {"labels": {"app": app}}, "spec": spec}


def deployment(app: str, replicas: int, pool: str = "pool", **kwargs: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": app, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": template(app, pool, **kwargs),
        },
    }


def pdb(app: str, **budget: Any) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": app, "namespace": NAMESPACE},
        "spec": {"selector": {"matchLabels": {"app": app}}, **budget},
    }


def pods_on(kube, node_name: str) -> dict[str, dict[str, Any]]:
    listed = kube.get("/api/v1/pods", {"fieldSelector": f"spec.nodeName={node_name}"})
    return {p["metadata"]["name"]: p for p in listed["items"]}


def running(pods: dict[str, dict[str, Any]]) -> bool:
    return all((p.get("status") or {}).get("phase") == "Running" for p in pods.values())


def unschedulable(kube, name: str) -> bool:
    return bool(kube.get(f"/api/v1/nodes/{name}").get("spec", {}).get("unschedulable"))


def budgets_settled(kube, names: list[str], allowed: int) -> bool:
    for name in names:
        budget = kube.get(f"/apis/policy/v1/namespaces/{NAMESPACE}/poddisruptionbudgets/{name}")
        status = budget.get("status") or {}
        if status.get("observedGeneration") != budget["metadata"].get("generation"):
            return False
        if status.get("disruptionsAllowed") != allowed:
            return False
    return True


def not_terminating(pods: dict[str, dict[str, Any]], app: str) -> int:
    return sum(
        1
        for name, p in pods.items()
        if name.startswith(f"{app}-") and not p["metadata"].get("deletionTimestamp")
    )


def uncordon_spares_once_blocked(kube, seen: dict[str, Any]) -> None:
    """Runs beside the drain: once one pod of each budgeted Deployment is being evicted, wait
    BLOCKED_SECONDS, note how many of their pods still run on the source, uncordon the spares."""
    try:
        wait_until(
            "one evicted pod of each budgeted Deployment",
            lambda: all(
                not_terminating(pods_on(kube, SOURCE), app) < replicas
                for app, replicas in PDB_DEPLOYMENTS.items()
            ),
            timeout=120,
        )
        time.sleep(BLOCKED_SECONDS)
        pods = pods_on(kube, SOURCE)
        seen["running"] = {app: not_terminating(pods, app) for app in PDB_DEPLOYMENTS}
    except WaitTimeout as error:
        seen["error"] = str(error)
    finally:
        for name in SPARES:
            kube.patch(f"/api/v1/nodes/{name}", {"spec": {"unschedulable": False}})


def drain(plane: ControlPlane, *extra: str, **args: Any) -> dict[str, Any]:
    return run_cluster_module(MODULE, {"kubeconfig": str(plane.kubeconfig), **args}, *extra)


def shown_diff(plane: ControlPlane, *extra: str, **args: Any) -> str:
    """What `ansible --diff` prints for one run of the module (--tree results carry no diff)."""
    completed = ansible_on_localhost(
        MODULE, {"kubeconfig": str(plane.kubeconfig), **args}, "--diff", *extra
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


@pytest.fixture(scope="module")
def cluster(control_plane: ControlPlane, kube) -> Iterator[dict[str, Any]]:
    """The main scenario's workloads on drain-src, every one Running, budgets settled."""
    ensure_pod_namespace(kube, NAMESPACE)
    create_all(
        kube,
        [
            node(SOURCE, "pool"),
            *(node(name, "pool", unschedulable=True) for name in SPARES),
            node(IDLE, "idle"),
            node(STUCK, "stuck"),
        ],
    )
    # An OpenKruise Advanced DaemonSet's pod: owned by apps.kruise.io/v1alpha1 DaemonSet. Without
    # kruise's CRDs the garbage collector cannot resolve the owner and leaves the pod alone; when
    # another test module has installed them, a real (controller-less) owner object is created.
    kruise_owner = {
        "apiVersion": "apps.kruise.io/v1alpha1",
        "kind": "DaemonSet",
        "name": "kruise-agent",
        "uid": str(uuid.uuid4()),
        "controller": True,
    }
    crds = kube.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")["items"]
    if any(c["metadata"]["name"] == "daemonsets.apps.kruise.io" for c in crds):
        created = kube.post(
            f"/apis/apps.kruise.io/v1alpha1/namespaces/{NAMESPACE}/daemonsets",
            {
                "apiVersion": "apps.kruise.io/v1alpha1",
                "kind": "DaemonSet",
                "metadata": {"name": "kruise-agent", "namespace": NAMESPACE},
                "spec": {"selector": {"matchLabels": {"app": "kruise-agent"}}, "template": {}},
            },
        )
        kruise_owner["uid"] = created["metadata"]["uid"]
    mirror = bound_pod(f"static-web-{SOURCE}", NAMESPACE, SOURCE, labels={"app": "static"})
    mirror["metadata"]["annotations"] = {
        "kubernetes.io/config.mirror": "0f1e2d3c",
        "kubernetes.io/config.source": "file",
    }
    create_all(
        kube,
        [
            *(deployment(app, replicas) for app, replicas in PDB_DEPLOYMENTS.items()),
            *(pdb(app, maxUnavailable=1) for app in PDB_DEPLOYMENTS),
            deployment("cache", 1, empty_dir=True),
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": "db", "namespace": NAMESPACE},
                "spec": {
                    "replicas": 1,
                    "serviceName": "db",
                    "selector": {"matchLabels": {"app": "db"}},
                    "template": template("db", "pool"),
                },
            },
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": {"name": "agent", "namespace": NAMESPACE},
                "spec": {
                    "selector": {"matchLabels": {"app": "agent"}},
                    "template": template("agent", "pool"),
                },
            },
            bound_pod("solo", NAMESPACE, SOURCE, labels={"app": "solo"}),
            bound_pod(
                "kruise-agent-x1",
                NAMESPACE,
                SOURCE,
                labels={"app": "kruise-agent"},
                owner=kruise_owner,
            ),
            mirror,
            # The stuck scenario: a budget that never allows an eviction.
            deployment("stuck", 2, pool="stuck"),
            pdb("stuck", minAvailable=2),
        ],
    )
    expected = sum(PDB_DEPLOYMENTS.values()) + 6  # cache, db-0, agent, solo, kruise, mirror

    def source_ready() -> dict[str, dict[str, Any]] | None:
        pods = pods_on(kube, SOURCE)
        return pods if len(pods) == expected and running(pods) else None

    before = wait_until(f"{expected} Running pods on {SOURCE}", source_ready, timeout=120)
    wait_until(
        "2 Running pods on drain-stuck",
        lambda: len(pods_on(kube, STUCK)) == 2 and running(pods_on(kube, STUCK)),
        timeout=120,
    )
    wait_until("the budgets' status", lambda: budgets_settled(kube, list(PDB_DEPLOYMENTS), 1))
    wait_until("the stuck budget's status", lambda: budgets_settled(kube, ["stuck"], 0))
    yield {"before": before}
    kube.send("DELETE", f"/api/v1/namespaces/{NAMESPACE}")
    for name in (SOURCE, *SPARES, IDLE, STUCK):
        kube.send("DELETE", f"/api/v1/nodes/{name}")


def test_bad_input_fails_before_any_change(control_plane: ControlPlane, kube, cluster) -> None:
    missing = drain(control_plane, name="drain-nowhere")
    assert missing["failed"]
    assert "node 'drain-nowhere' not found" in missing["msg"] and "name=" in missing["msg"]
    negative = drain(control_plane, name=SOURCE, timeout=-5)
    assert negative["failed"]
    assert "timeout=-5" in negative["msg"] and "timeout=300" in negative["msg"]
    bad_selector = drain(control_plane, name=SOURCE, pod_selector="app in (web")
    assert bad_selector["failed"] and "pod_selector=" in bad_selector["msg"]
    assert not unschedulable(kube, SOURCE)
    assert set(pods_on(kube, SOURCE)) == set(cluster["before"])


def test_cordon_and_uncordon_are_idempotent(control_plane: ControlPlane, kube, cluster) -> None:
    preview = drain(control_plane, "--check", name=IDLE, state="cordon")
    assert not preview.get("failed"), preview.get("msg")
    assert preview["changed"] is True
    assert preview["unschedulable"] == {"before": False, "after": True}
    shown = shown_diff(control_plane, "--check", name=IDLE, state="cordon")
    assert re.search(r'^-\s*"?unschedulable"?: false', shown, re.MULTILINE), shown
    assert re.search(r'^\+\s*"?unschedulable"?: true', shown, re.MULTILINE), shown
    assert not unschedulable(kube, IDLE)

    assert drain(control_plane, name=IDLE, state="cordon")["changed"] is True
    assert unschedulable(kube, IDLE)
    again = drain(control_plane, name=IDLE, state="cordon")
    assert again["changed"] is False and again["msg"] == f"node {IDLE} is already cordoned"

    assert drain(control_plane, "--check", name=IDLE, state="uncordon")["changed"] is True
    assert unschedulable(kube, IDLE)
    assert drain(control_plane, name=IDLE, state="uncordon")["changed"] is True
    assert drain(control_plane, name=IDLE, state="uncordon")["changed"] is False
    assert not unschedulable(kube, IDLE)


def test_unmanaged_and_emptydir_pods_are_refused_without_options(
    control_plane: ControlPlane, kube, cluster
) -> None:
    result = drain(control_plane, name=SOURCE)
    assert result["failed"]
    refused = {p["name"]: p["reason"] for p in result["refused"]}
    cache = next(name for name in cluster["before"] if name.startswith("cache-"))
    assert set(refused) == {"solo", cache}
    assert "set force=true" in refused["solo"]
    assert "delete_emptydir_data=true" in refused[cache]
    assert result["msg"].endswith("nothing was changed")
    # Refused before the cordon: the result says what the node is.
    assert result["unschedulable"] == {"before": False, "after": False}
    assert not unschedulable(kube, SOURCE)
    assert set(pods_on(kube, SOURCE)) == set(cluster["before"])


def test_check_mode_reports_what_it_would_evict(control_plane: ControlPlane, kube, cluster) -> None:
    before = cluster["before"]
    result = drain(control_plane, "--check", name=SOURCE, force=True, delete_emptydir_data=True)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True and result["evicted"] == []
    would = {p["name"] for p in result["would_evict"]}
    skipped = {p["name"]: p["reason"] for p in result["skipped_pods"]}
    assert would == {n for n in before if n.split("-")[0] in ("web", "api", "cache", "db", "solo")}
    assert set(skipped) == {n for n in before if n.split("-")[0] in ("agent", "kruise", "static")}
    assert result["unschedulable"] == {"before": False, "after": True}
    assert not unschedulable(kube, SOURCE)
    after = pods_on(kube, SOURCE)
    assert {n: p["metadata"]["uid"] for n, p in after.items()} == {
        n: p["metadata"]["uid"] for n, p in before.items()
    }


def test_drain_waits_for_budgets_and_leaves_daemon_and_mirror_pods(
    control_plane: ControlPlane, kube, cluster
) -> None:
    before = cluster["before"]
    seen: dict[str, Any] = {}
    uncordoner = threading.Thread(target=uncordon_spares_once_blocked, args=(kube, seen))
    uncordoner.start()
    try:
        result = drain(
            control_plane, name=SOURCE, force=True, delete_emptydir_data=True, timeout=240
        )
    finally:
        uncordoner.join()
    assert "error" not in seen, seen["error"]
    # While no spare was schedulable, the budgets held: one pod of each Deployment evicted,
    # two left, for several seconds.
    assert seen["running"] == {app: replicas - 1 for app, replicas in PDB_DEPLOYMENTS.items()}
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["unschedulable"] == {"before": False, "after": True}
    assert unschedulable(kube, SOURCE)

    evicted = {p["name"]: p for p in result["evicted"]}
    expected = {n for n in before if n.split("-")[0] in ("web", "api", "cache", "db", "solo")}
    assert set(evicted) == expected
    assert all(evicted[n]["uid"] == before[n]["metadata"]["uid"] for n in evicted)
    skipped = {p["name"]: p["reason"] for p in result["skipped_pods"]}
    assert skipped["kruise-agent-x1"].startswith("managed by OpenKruise Advanced DaemonSet")
    assert skipped[f"static-web-{SOURCE}"].startswith("mirror pod")
    agent = next(n for n in skipped if n.startswith("agent-"))
    assert skipped[agent] == "managed by DaemonSet agent, which would start it again on this node"

    # maxUnavailable 1 over 3 pods on this node: the first went at once, each budget refused
    # the other two until replacements ran on the spares.
    for app in PDB_DEPLOYMENTS:
        pods = sorted(
            (p for n, p in evicted.items() if n.startswith(f"{app}-")), key=lambda p: p["seconds"]
        )
        assert [p["refusals"] > 0 for p in pods] == [False, True, True], pods
        assert [p["pdb"] for p in pods] == [None, app, app]
    assert result["evictions"]["refusals"] >= 4
    assert result["eviction_api"] == "policy/v1"
    assert set(result["timings"]) >= {"preflight", "cordon", "evictions", "drain", "total"}

    # Only what must stay is left; replacements run on the spares.
    left = pods_on(kube, SOURCE)
    assert set(left) == set(skipped)

    def replacements_ready() -> bool:
        for app, replicas in PDB_DEPLOYMENTS.items():
            status = kube.get(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{app}")["status"]
            if status.get("readyReplicas") != replicas:
                return False
        return True

    wait_until("web and api back at full strength", replacements_ready, timeout=180)
    db = kube.get(f"/api/v1/namespaces/{NAMESPACE}/pods/db-0")
    assert db["spec"]["nodeName"] in SPARES
    # The StatefulSet recreated db-0 under the same name: the drain waited for the old UID.
    assert db["metadata"]["uid"] != before["db-0"]["metadata"]["uid"]
    assert "solo" not in {
        p["metadata"]["name"] for p in kube.get(f"/api/v1/namespaces/{NAMESPACE}/pods")["items"]
    }


def test_second_drain_and_uncordon_are_idempotent(
    control_plane: ControlPlane, kube, cluster
) -> None:
    again = drain(control_plane, name=SOURCE, force=True, delete_emptydir_data=True)
    assert not again.get("failed"), again.get("msg")
    assert again["changed"] is False and again["evicted"] == []
    assert drain(control_plane, name=SOURCE, state="uncordon")["changed"] is True
    assert drain(control_plane, name=SOURCE, state="uncordon")["changed"] is False


def test_budget_that_never_allows_eviction_fails_at_the_deadline_and_uncordons(
    control_plane: ControlPlane, kube, cluster
) -> None:
    stuck = pods_on(kube, STUCK)
    result = drain(control_plane, name=STUCK, timeout=4)
    assert result["failed"]
    message = result["msg"]
    assert message.startswith(f"drain of node {STUCK} did not finish within 4 s: 2 pod(s) left")
    assert "blocked by PodDisruptionBudget stuck" in message
    assert "needs 2 healthy pods and has 2 currently" in message
    assert "uncordoned again" in message
    assert {p["name"] for p in result["left"]} == set(stuck)
    assert {p["pdb"] for p in result["left"]} == {"stuck"}
    assert all(p["attempts"] >= 3 for p in result["left"])
    assert result["uncordoned"] is True and not unschedulable(kube, STUCK)
    assert set(pods_on(kube, STUCK)) == set(stuck)

    kept = drain(control_plane, name=STUCK, timeout=2, leave_cordoned_on_failure=True)
    assert kept["failed"] and "stays cordoned" in kept["msg"]
    assert unschedulable(kube, STUCK)
    assert drain(control_plane, name=STUCK, state="uncordon")["changed"] is True


class LaggingScheduler:
    """A second scheduler (the pods name it in schedulerName; kube-scheduler leaves them alone)
    that binds through pods/binding, as a scheduler whose cache has not seen the cordon does:
    the first ``to_late_node`` pods go to LATE whatever its unschedulable says, the rest to
    LATE_SPARE. Each pod carries a finalizer that this scheduler removes once the pod's
    replacement is bound, so the replacement is on its node before the old pod is gone."""

    FINALIZER = "kruise-cri.test/held-until-replaced"

    def __init__(self, kube, to_late_node: int) -> None:
        self.kube = kube
        self.to_late_node = to_late_node
        self.stop = threading.Event()
        self.bound: list[tuple[str, str]] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> LaggingScheduler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        for pod in self._pods():
            if self.FINALIZER in (pod["metadata"].get("finalizers") or []):
                self._release(pod)

    def _pods(self) -> list[dict[str, Any]]:
        listed = self.kube.get(
            f"/api/v1/namespaces/{NAMESPACE}/pods", {"labelSelector": "app=late"}
        )
        return listed["items"]

    def _release(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        self.kube.patch(
            f"/api/v1/namespaces/{NAMESPACE}/pods/{name}", {"metadata": {"finalizers": None}}
        )

    def _loop(self) -> None:
        try:
            while not self.stop.wait(0.05):
                pods = self._pods()
                for pod in pods:
                    if pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
                        continue
                    target = LATE if len(self.bound) < self.to_late_node else LATE_SPARE
                    name = pod["metadata"]["name"]
                    self.kube.post(
                        f"/api/v1/namespaces/{NAMESPACE}/pods/{name}/binding",
                        {
                            "apiVersion": "v1",
                            "kind": "Binding",
                            "metadata": {"name": name},
                            "target": {"apiVersion": "v1", "kind": "Node", "name": target},
                        },
                    )
                    self.bound.append((name, target))
                live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
                if live and all(p["spec"].get("nodeName") for p in live):
                    for pod in pods:
                        if pod["metadata"].get("deletionTimestamp") and self.FINALIZER in (
                            pod["metadata"].get("finalizers") or []
                        ):
                            self._release(pod)
        except BaseException as error:  # reported by the test
            self.error = error


LATE = "drain-late"
LATE_SPARE = "drain-late-spare"


@pytest.fixture
def late_nodes(kube, cluster) -> Iterator[None]:
    create_all(kube, [node(LATE, "late"), node(LATE_SPARE, "late")])
    yield
    kube.send("DELETE", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/late")
    wait_until("the late pods gone", lambda: not LaggingScheduler(kube, 0)._pods(), timeout=60)
    for name in (LATE, LATE_SPARE):
        kube.send("DELETE", f"/api/v1/nodes/{name}")


def late_deployment() -> dict[str, Any]:
    late = deployment("late", 1, pool="late")
    late["spec"]["template"]["spec"]["schedulerName"] = "lagging-scheduler"
    late["spec"]["template"]["metadata"]["finalizers"] = [LaggingScheduler.FINALIZER]
    return late


@pytest.mark.parametrize("to_late_node", [2, 1000], ids=["once", "always"])
def test_a_pod_bound_to_the_node_after_the_cordon_is_evicted_or_named(
    control_plane: ControlPlane, kube, late_nodes, to_late_node: int
) -> None:
    with LaggingScheduler(kube, to_late_node) as scheduler:
        create_all(kube, [late_deployment()])
        wait_until(
            f"the late pod Running on {LATE}",
            lambda: len(pods_on(kube, LATE)) == 1 and running(pods_on(kube, LATE)),
            timeout=60,
        )
        result = drain(control_plane, name=LATE, timeout=60)
        assert scheduler.error is None, scheduler.error
    first, replacement = scheduler.bound[0][0], scheduler.bound[1][0]
    assert scheduler.bound[1][1] == LATE  # bound past the cordon
    if to_late_node == 2:
        assert not result.get("failed"), result.get("msg")
        assert sorted(p["name"] for p in result["evicted"]) == sorted([first, replacement])
        assert result["late_pods"] == [f"{NAMESPACE}/{replacement}"]
        assert pods_on(kube, LATE) == {}
        assert scheduler.bound[2][1] == LATE_SPARE
        assert unschedulable(kube, LATE)
    else:
        assert result["failed"]
        assert (
            f"drain of node {LATE} failed: pods keep being bound to the cordoned node"
            in (result["msg"])
        )
        assert "spec.nodeName" in result["msg"] and "uncordoned again" in result["msg"]
        assert len(result["late_pods"]) == 3
        assert not unschedulable(kube, LATE)
