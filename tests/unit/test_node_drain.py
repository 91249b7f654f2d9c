"""node_drain's decisions (pure functions) and its eviction loop against an in-memory API."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from types import SimpleNamespace
from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster import node_drain as nd
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeRequestError,
)


def pod(
    name: str,
    *,
    namespace: str = "shop",
    uid: str | None = None,
    owner_kind: str | None = "ReplicaSet",
    owner_api: str = "apps/v1",
    controller: bool = True,
    phase: str = "Running",
    empty_dir: bool = False,
    mirror: bool = False,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": uid or f"uid-{name}",
        "labels": dict(labels or {}),
    }
    if owner_kind:
        metadata["ownerReferences"] = [
            {"apiVersion": owner_api, "kind": owner_kind, "name": "owner", "controller": controller}
        ]
    if mirror:
        metadata["annotations"] = {nd.MIRROR_ANNOTATION: "hash"}
    volumes = [{"name": "scratch", "emptyDir": {}}] if empty_dir else []
    return {
        "metadata": metadata,
        "spec": {"nodeName": "n1", "volumes": volumes},
        "status": {"phase": phase},
    }


# ---------------------------------------------------------------------------- input


def test_valid_input_has_no_problem():
    params = {"name": "n1", "timeout": 300, "grace_period": 0, "concurrency": 16}
    assert nd.validate_options(params) == []


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"name": "n1", "timeout": -5}, ["timeout=-5", "timeout=300"]),
        ({"name": "n1", "timeout": 0}, ["timeout=0", "positive"]),
        ({"name": "n1", "grace_period": -1}, ["grace_period=-1", "terminationGracePeriodSeconds"]),
        ({"name": "n1", "concurrency": 0}, ["concurrency=0", "1 to 64"]),
        ({"name": "n1", "concurrency": 65}, ["concurrency=65"]),
        ({"name": " "}, ["name is empty", "kubectl get nodes"]),
    ],
)
def test_bad_input_names_the_option_and_the_fix(params, names):
    problems = nd.validate_options(params)
    assert len(problems) == 1
    for text in names:
        assert text in problems[0]


def test_options_from_module_params():
    options = nd.options_from_params(
        {
            "name": " n1 ",
            "state": "drain",
            "timeout": 30,
            "grace_period": None,
            "pod_selector": "",
            "force": True,
            "delete_emptydir_data": False,
            "ignore_daemonsets": None,
            "concurrency": 4,
            "leave_cordoned_on_failure": False,
        }
    )
    assert options.node == "n1" and options.timeout == 30.0 and options.force
    assert options.pod_selector is None and options.ignore_daemonsets is True
    assert options.concurrency == 4


# ---------------------------------------------------------------------------- which pods


def test_replicated_pod_is_evicted_without_notes():
    assert nd.decide_pod(pod("web")) == nd.PodDecision("evict")


def test_mirror_pods_are_skipped_even_when_finished():
    for phase in ("Running", "Succeeded"):
        decision = nd.decide_pod(pod("etcd", owner_kind="Node", mirror=True, phase=phase))
        assert decision.action == "skip"
        assert "mirror pod" in decision.reason


def test_daemonset_pods_are_skipped_apps_and_openkruise():
    apps = nd.decide_pod(pod("proxy", owner_kind="DaemonSet"))
    assert apps.action == "skip"
    assert apps.reason.startswith("managed by DaemonSet owner")
    kruise = nd.decide_pod(
        pod("kd", owner_kind="DaemonSet", owner_api="apps.kruise.io/v1alpha1", empty_dir=True)
    )
    assert kruise.action == "skip"
    assert "OpenKruise Advanced DaemonSet owner (apps.kruise.io/v1alpha1)" in kruise.reason


def test_daemonset_pods_are_refused_without_ignore_daemonsets():
    decision = nd.decide_pod(pod("proxy", owner_kind="DaemonSet"), ignore_daemonsets=False)
    assert decision.action == "refuse"
    assert "ignore_daemonsets=true" in decision.reason


def test_finished_pods_are_evicted_whatever_their_owner_or_volumes():
    for candidate in (
        pod("job", owner_kind=None, phase="Succeeded", empty_dir=True),
        pod("ds", owner_kind="DaemonSet", phase="Failed"),
    ):
        decision = nd.decide_pod(candidate)
        assert decision.action == "evict", candidate


def test_unmanaged_pods_need_force():
    refused = nd.decide_pod(pod("scratch", owner_kind=None))
    assert refused.action == "refuse" and "set force=true" in refused.reason
    # An ownerReference without controller: true does not manage the pod.
    assert nd.decide_pod(pod("scratch", controller=False)).action == "refuse"
    allowed = nd.decide_pod(pod("scratch", owner_kind=None), force=True)
    assert allowed.action == "evict"
    assert allowed.notes == ("no controller: nothing recreates it",)


def test_emptydir_pods_need_delete_emptydir_data():
    refused = nd.decide_pod(pod("cache", empty_dir=True))
    assert refused.action == "refuse"
    assert "emptyDir data (scratch)" in refused.reason
    assert "delete_emptydir_data=true" in refused.reason
    allowed = nd.decide_pod(pod("cache", empty_dir=True), delete_emptydir_data=True)
    assert allowed == nd.PodDecision("evict", notes=("emptyDir data deleted (scratch)",))


def test_both_problems_are_named_in_one_refusal():
    decision = nd.decide_pod(pod("both", owner_kind=None, empty_dir=True))
    assert "delete_emptydir_data=true" in decision.reason and "force=true" in decision.reason


def test_plan_sorts_and_buckets_every_pod():
    options = nd.DrainOptions(node="n1", force=True)
    plan = nd.plan_drain(
        [
            pod("web-b"),
            pod("web-a"),
            pod("proxy", namespace="kube-system", owner_kind="DaemonSet"),
            pod("solo", owner_kind=None),
            pod("cache", empty_dir=True),
        ],
        options,
    )
    assert [p.key for p in plan.evict] == ["shop/solo", "shop/web-a", "shop/web-b"]
    assert [p["name"] for p in plan.skipped] == ["proxy"]
    assert plan.refused == [
        {
            "namespace": "shop",
            "name": "cache",
            "reason": nd.decide_pod(pod("cache", empty_dir=True)).reason,
        }
    ]
    message = nd.refusal_message("n1", plan.refused)
    assert message.startswith("cannot drain node n1: 1 pod(s)")
    assert "shop/cache (" in message and message.endswith("nothing was changed")


def test_messages_list_ten_pods_and_count_the_rest():
    refused = [{"namespace": "ns", "name": f"p{i}", "reason": "r"} for i in range(13)]
    message = nd.refusal_message("n1", refused)
    assert "ns/p9 (r)" in message and "ns/p10" not in message and "and 3 more" in message


def test_warnings_name_what_is_lost():
    refs = [
        nd.PodRef("a", "solo", "u1", ("no controller: nothing recreates it",)),
        nd.PodRef("a", "cache", "u2", ("emptyDir data deleted (scratch)",)),
        nd.PodRef("a", "web", "u3"),
    ]
    warnings = nd.eviction_warnings(refs, check_mode=True)
    assert warnings == [
        "1 pod(s) without a controller would be evicted (force=true) and will not come back: "
        "a/solo",
        "1 pod(s) would be evicted with their emptyDir data (delete_emptydir_data=true): a/cache",
    ]


# ---------------------------------------------------------------------------- evictions


def test_eviction_body_carries_the_uid_precondition_and_grace_period():
    ref = nd.PodRef("shop", "web", "uid-1")
    assert nd.eviction_body(ref, "policy/v1", 15) == {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "web", "namespace": "shop"},
        "deleteOptions": {"preconditions": {"uid": "uid-1"}, "gracePeriodSeconds": 15},
    }
    assert "gracePeriodSeconds" not in nd.eviction_body(ref, "policy/v1", None)["deleteOptions"]
    assert nd.eviction_path("shop", "web") == "/api/v1/namespaces/shop/pods/web/eviction"


def status(code: int, message: str, reason: str = "", **details: Any) -> bytes:
    return json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": message,
            "reason": reason,
            "details": details,
            "code": code,
        }
    ).encode()


# As kube-apiserver 1.37 writes it (a StatusCause's type is serialised as "reason").
PDB_MESSAGE = "The disruption budget web needs 2 healthy pods and has 2 currently"
PDB_REFUSAL = status(
    429,
    "Cannot evict pod as it would violate the pod's disruption budget.",
    "TooManyRequests",
    causes=[
        {
            "reason": "DisruptionBudget",
            "message": PDB_MESSAGE,
        }
    ],
)


@pytest.mark.parametrize(
    ("code", "body", "version", "expected"),
    [
        (201, b"", "policy/v1", nd.EvictionOutcome("evicted")),
        (
            429,
            PDB_REFUSAL,
            "policy/v1",
            nd.EvictionOutcome(
                "retry", "The disruption budget web needs 2 healthy pods and has 2 currently", "web"
            ),
        ),
        (
            429,
            status(
                429,
                "Cannot evict pod",
                causes=[
                    {
                        "reason": "DisruptionBudget",
                        "message": "The disruption budget db is still being processed by the "
                        "server.",
                    }
                ],
            ),
            "policy/v1",
            nd.EvictionOutcome(
                "retry", "The disruption budget db is still being processed by the server.", "db"
            ),
        ),
        (
            429,
            status(429, "Too many requests, please try again later."),
            "policy/v1",
            nd.EvictionOutcome("retry", "Too many requests, please try again later."),
        ),
        (
            404,
            status(404, 'pods "web" not found', "NotFound", name="web", kind="pods"),
            "policy/v1",
            nd.EvictionOutcome("gone", "already deleted"),
        ),
        (
            404,
            status(404, "the server could not find the requested resource", "NotFound"),
            "policy/v1",
            nd.EvictionOutcome(
                "fallback",
                "no policy/v1 eviction: the server could not find the requested resource",
            ),
        ),
        (
            400,
            status(400, 'no kind "Eviction" is registered for version "policy/v1" in scheme'),
            "policy/v1",
            nd.EvictionOutcome(
                "fallback", 'no kind "Eviction" is registered for version "policy/v1" in scheme'
            ),
        ),
        (
            409,
            status(
                409,
                'Operation cannot be fulfilled on Pod "web": the UID in the precondition (a) does '
                "not match the UID in record (b). The object might have been deleted and then "
                "recreated",
                "Conflict",
            ),
            "policy/v1",
            nd.EvictionOutcome("gone", "replaced by a new pod of the same name"),
        ),
        (
            403,
            status(
                403,
                'poddisruptionbudget.policy "web" is forbidden: pdb disruptions allowed is '
                "negative",
                causes=[
                    {
                        "reason": "DisruptionBudget",
                        "message": "The disruption budget web does not allow evicting pods "
                        "currently: pdb disruptions allowed is negative",
                    }
                ],
            ),
            "policy/v1",
            nd.EvictionOutcome(
                "retry",
                "The disruption budget web does not allow evicting pods currently: pdb "
                "disruptions allowed is negative",
                "web",
            ),
        ),
        (
            403,
            status(
                403, "namespace shop is terminating", causes=[{"reason": "NamespaceTerminating"}]
            ),
            "policy/v1",
            nd.EvictionOutcome("retry", "namespace terminating: namespace shop is terminating"),
        ),
        (
            403,
            status(403, 'admission webhook "pub.kruise.io" denied the request'),
            "policy/v1",
            nd.EvictionOutcome(
                "failed", 'forbidden: admission webhook "pub.kruise.io" denied the request'
            ),
        ),
        (
            500,
            status(
                500,
                "This pod has more than one PodDisruptionBudget, which the eviction subresource "
                "does not support.",
            ),
            "policy/v1",
            nd.EvictionOutcome(
                "failed",
                "This pod has more than one PodDisruptionBudget, which the eviction subresource "
                "does not support. Make the budgets' selectors cover each pod at most once",
            ),
        ),
        (
            504,
            status(504, 'couldn\'t update PodDisruptionBudget "web" due to conflicts'),
            "policy/v1",
            nd.EvictionOutcome(
                "retry", 'HTTP 504: couldn\'t update PodDisruptionBudget "web" due to conflicts'
            ),
        ),
    ],
)
def test_eviction_answers(code, body, version, expected):
    assert nd.interpret_eviction(code, body, version) == expected


def test_v1beta1_404_is_a_failure_not_a_loop():
    outcome = nd.interpret_eviction(
        404, status(404, "the server could not find the requested resource"), "policy/v1beta1"
    )
    assert outcome.kind == "failed" and "no pods/eviction subresource" in outcome.reason


def test_a_body_that_is_not_json_is_kept_as_the_message():
    outcome = nd.interpret_eviction(502, b"<html>bad gateway</html>")
    assert outcome == nd.EvictionOutcome("retry", "HTTP 502: <html>bad gateway</html>")


def test_backoff_doubles_from_half_a_second_to_five_with_jitter():
    middle = [nd.backoff_delay(n, 0.5) for n in range(1, 8)]
    assert middle == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert nd.backoff_delay(1, 0.0) == pytest.approx(0.4)
    assert nd.backoff_delay(1, 0.999999) == pytest.approx(0.6, abs=1e-5)
    assert nd.backoff_delay(4, 0.0) == pytest.approx(3.2)
    # Never over the cap, whatever the jitter.
    assert all(nd.backoff_delay(n, 0.999) <= 5.0 for n in range(1, 20))
    assert nd.backoff_delay(30, 0.0) == pytest.approx(4.0)


def test_poll_interval_is_short_while_pods_go_and_backs_off_to_a_second():
    assert nd.next_poll_interval(None, False) == nd.POLL_INITIAL
    interval = nd.POLL_INITIAL
    seen = []
    for _unused in range(5):
        interval = nd.next_poll_interval(interval, False)
        seen.append(interval)
    assert seen == [0.4, 0.8, 1.0, 1.0, 1.0]
    assert nd.next_poll_interval(1.0, True) == nd.POLL_INITIAL


def test_left_reasons_say_why():
    ref = nd.PodRef("shop", "web", "u")
    blocked = nd.PodTask(ref, attempts=4, refusals=4, reason="The disruption budget web ...")
    blocked.pdb = "web"
    assert nd.left_reason(blocked).startswith("blocked by PodDisruptionBudget web (4 refusals)")
    terminating = nd.PodTask(ref, attempts=1, evicted_at=1.0)
    assert nd.left_reason(terminating).startswith("evicted, still terminating")
    failed = nd.PodTask(ref, attempts=1, failed=True, reason="forbidden: no")
    assert nd.left_reason(failed) == "eviction failed: forbidden: no"
    assert nd.left_reason(nd.PodTask(ref)) == "not evicted before the deadline"
    entry = nd.left_entry(blocked)
    assert entry == {
        "namespace": "shop",
        "name": "web",
        "uid": "u",
        "reason": nd.left_reason(blocked),
        "pdb": "web",
        "attempts": 4,
        "evicted": False,
    }
    message = nd.deadline_message("n1", 5, [entry], 2, "The node was uncordoned again")
    assert message.startswith(
        "drain of node n1 did not finish within 5 s: 1 pod(s) left (2 evicted)"
    )
    assert "shop/web: blocked by PodDisruptionBudget web" in message


# ---------------------------------------------------------------------------- the loop


class FakeCluster:
    """Enough of the API server for node_drain: nodes, pods, evictions with PDB refusals,
    metadata-only lists. Thread-safe; evicted pods disappear after ``delete_delay``."""

    def __init__(self, nodes: Mapping[str, bool], pods: list[dict[str, Any]]) -> None:
        self.lock = threading.Lock()
        self.nodes = {name: {"spec": {"unschedulable": u}} for name, u in nodes.items()}
        self.pods = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in pods}
        self.settings = SimpleNamespace(host="https://fake:6443")
        self.requests: Counter[str] = Counter()
        self.patches: list[tuple[str, bool]] = []
        self.refusals: dict[str, int] = {}  # pod name -> 429s left (-1: forever)
        self.answers: dict[str, list[tuple[int, bytes]]] = {}  # pod name -> scripted answers
        self.v1_missing = False
        self.delete_delay = 0.0
        self.pending_deletes: list[tuple[float, tuple[str, str], str]] = []
        self.eviction_versions: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.eviction_latency = 0.0
        self.after_patch: Callable[[], None] | None = None
        self.after_eviction: Callable[[str], None] | None = None  # called with the pod's name

    # -- KubeClient's surface
    def request_summary(self) -> dict[str, Any]:
        return {"count": sum(self.requests.values()), "by_resource": dict(self.requests)}

    def get(self, path: str, params=None, **kwargs: Any) -> Any:
        self.requests[kwargs.get("counted_as") or path] += 1
        name = path.rsplit("/", 1)[1]
        if name not in self.nodes:
            raise KubeRequestError(404, path, f'nodes "{name}" not found')
        return self.nodes[name]

    def patch(self, path: str, body: Any, **kwargs: Any) -> Any:
        self.requests["nodes"] += 1
        name = path.rsplit("/", 1)[1]
        value = body["spec"]["unschedulable"]
        self.nodes[name]["spec"]["unschedulable"] = value
        self.patches.append((name, value))
        if self.after_patch:
            self.after_patch()
        return self.nodes[name]

    def _expire(self) -> None:
        now = time.monotonic()
        for entry in list(self.pending_deletes):
            when, key, uid = entry
            if when <= now:
                self.pending_deletes.remove(entry)
                if key in self.pods and self.pods[key]["metadata"]["uid"] == uid:
                    del self.pods[key]

    def _node_pods(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        node = params["fieldSelector"].split("=", 1)[1]
        selector = params.get("labelSelector")
        with self.lock:
            self._expire()
            found = [p for p in self.pods.values() if p["spec"]["nodeName"] == node]
        if selector:
            if "=" not in selector or selector.startswith("="):
                raise KubeRequestError(400, "/api/v1/pods", f"unable to parse {selector}")
            key, value = selector.split("=", 1)
            found = [p for p in found if p["metadata"]["labels"].get(key) == value]
        return found

    def list_items(self, path: str, params=None, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.requests[kwargs.get("counted_as") or path] += 1
        return iter(json.loads(json.dumps(self._node_pods(params))))

    def list_pages(self, path: str, params=None, **kwargs: Any) -> Iterator[bytes]:
        assert kwargs.get("metadata_only")
        self.requests[kwargs.get("counted_as") or path] += 1
        items = [{"metadata": {"uid": p["metadata"]["uid"]}} for p in self._node_pods(params)]
        yield json.dumps({"items": items}).encode()

    def send(self, method: str, path: str, params=None, *, body: Any = None, **kwargs) -> bytes:
        assert method == "POST" and path.endswith("/eviction")
        with self.lock:
            self.requests["pods/eviction"] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.eviction_latency:
                time.sleep(self.eviction_latency)
            return self._evict(path, body)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _evict(self, path: str, body: Mapping[str, Any]) -> bytes:
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        version = body["apiVersion"]
        with self.lock:
            self.eviction_versions.append(version)
            if version == "policy/v1" and self.v1_missing:
                raise KubeRequestError(
                    404, path, "not found", status(404, "the server could not find it")
                )
            scripted = self.answers.get(name)
            if scripted:
                code, answer = scripted.pop(0)
                raise KubeRequestError(code, path, "scripted", answer)
            current = self.pods.get((namespace, name))
            if current is None:
                raise KubeRequestError(404, path, "nf", status(404, "nf", name=name, kind="pods"))
            wanted = body["deleteOptions"]["preconditions"]["uid"]
            if current["metadata"]["uid"] != wanted:
                raise KubeRequestError(
                    409, path, "c", status(409, "the UID in the precondition does not match")
                )
            left = self.refusals.get(name, 0)
            if left:
                self.refusals[name] = left - 1 if left > 0 else left
                raise KubeRequestError(429, path, "pdb", PDB_REFUSAL)
            self.pending_deletes.append(
                (time.monotonic() + self.delete_delay, (namespace, name), wanted)
            )
            if self.after_eviction:
                self.after_eviction(name)
        return b'{"kind":"Status","status":"Success"}'


def drain(cluster: FakeCluster, **overrides: Any) -> nd.DrainOutcome:
    check_mode = overrides.pop("check_mode", False)
    diff = overrides.pop("diff", False)
    access_check = overrides.pop("access_check", None)
    options = nd.DrainOptions(**{"node": "n1", "timeout": 5.0, **overrides})
    return nd.run_node_drain(
        cluster,  # type: ignore[arg-type]
        options,
        check_mode=check_mode,
        diff=diff,
        backoff_initial=0.02,
        backoff_cap=0.1,
        access_check=access_check,
    )


def test_cordon_and_uncordon_are_idempotent_with_diff_and_check_mode():
    cluster = FakeCluster({"n1": False}, [])
    preview = drain(cluster, state="cordon", check_mode=True, diff=True)
    assert not preview.failed and preview.result["changed"] is True
    assert preview.result["diff"] == {
        "before": {"unschedulable": False},
        "after": {"unschedulable": True},
    }
    assert cluster.patches == []
    assert drain(cluster, state="cordon").result["changed"] is True
    assert cluster.patches == [("n1", True)]
    again = drain(cluster, state="cordon")
    assert again.result["changed"] is False and again.msg == "node n1 is already cordoned"
    assert drain(cluster, state="uncordon", check_mode=True).result["changed"] is True
    assert cluster.patches == [("n1", True)]
    assert drain(cluster, state="uncordon").result["changed"] is True
    assert drain(cluster, state="uncordon").result["changed"] is False
    assert cluster.patches == [("n1", True), ("n1", False)]


def test_no_such_node_fails_naming_it():
    outcome = drain(FakeCluster({"n1": False}, []), node="n9")
    assert outcome.failed
    assert outcome.msg.startswith("node 'n9' not found in the cluster at https://fake:6443")
    assert "check name=" in outcome.msg


def test_bad_pod_selector_fails_before_any_change():
    cluster = FakeCluster({"n1": False}, [pod("web")])
    outcome = drain(cluster, pod_selector="=oops")
    assert outcome.failed and "pod_selector='=oops'" in outcome.msg
    assert cluster.patches == []


def test_refused_pods_fail_before_any_change():
    cluster = FakeCluster({"n1": False}, [pod("web"), pod("solo", owner_kind=None)])
    outcome = drain(cluster)
    assert outcome.failed and outcome.msg.endswith("nothing was changed")
    assert outcome.result["refused"][0]["name"] == "solo"
    assert outcome.result["changed"] is False
    assert cluster.patches == [] and cluster.requests["pods/eviction"] == 0


@pytest.mark.parametrize("cordoned", [False, True])
@pytest.mark.parametrize("check_mode", [False, True])
def test_refused_pods_report_the_node_as_it_is(cordoned, check_mode):
    """The task refused before cordoning: ``after`` is what the node is, not what a drain
    would have made of it."""
    cluster = FakeCluster({"n1": cordoned}, [pod("cache", empty_dir=True)])
    outcome = drain(cluster, check_mode=check_mode)
    assert outcome.failed and outcome.result["refused"][0]["name"] == "cache"
    assert outcome.result["unschedulable"] == {"before": cordoned, "after": cordoned}
    assert cluster.nodes["n1"]["spec"]["unschedulable"] is cordoned


def test_failed_cordon_reports_the_node_as_it_is():
    cluster = FakeCluster({"n1": False}, [pod("web")])

    def refuse(path: str, body: Any, **kwargs: Any) -> Any:
        raise KubeRequestError(403, path, 'nodes "n1" is forbidden')

    cluster.patch = refuse  # type: ignore[method-assign]
    outcome = drain(cluster)
    assert outcome.failed and outcome.msg.startswith("cannot cordon node 'n1'")
    assert outcome.result["unschedulable"] == {"before": False, "after": False}
    assert outcome.result["changed"] is False


def test_check_mode_reports_what_would_be_evicted_and_changes_nothing():
    cluster = FakeCluster(
        {"n1": False},
        [pod("web"), pod("solo", owner_kind=None), pod("proxy", owner_kind="DaemonSet")],
    )
    outcome = drain(cluster, check_mode=True, diff=True, force=True)
    assert not outcome.failed and outcome.result["changed"] is True
    assert [p["name"] for p in outcome.result["would_evict"]] == ["solo", "web"]
    assert [p["name"] for p in outcome.result["skipped_pods"]] == ["proxy"]
    assert outcome.result["diff"]["before"]["pods_to_evict"] == ["shop/solo", "shop/web"]
    assert outcome.warnings and "would be evicted" in outcome.warnings[0]
    assert cluster.patches == [] and cluster.requests["pods/eviction"] == 0
    assert len(cluster.pods) == 3


def test_drain_retries_budget_refusals_and_waits_for_deletion():
    cluster = FakeCluster({"n1": False}, [pod(f"web-{i}") for i in range(4)] + [pod("api")])
    cluster.refusals = {"web-1": 2, "web-2": 3}
    cluster.delete_delay = 0.15
    outcome = drain(cluster, diff=True)
    assert not outcome.failed, outcome.msg
    result = outcome.result
    assert result["changed"] is True and cluster.patches == [("n1", True)]
    evicted = {p["name"]: p for p in result["evicted"]}
    assert set(evicted) == {"web-0", "web-1", "web-2", "web-3", "api"}
    assert evicted["web-1"]["refusals"] == 2 and evicted["web-1"]["pdb"] == "web"
    assert evicted["web-2"]["attempts"] == 4
    assert all(p["seconds"] >= 0.15 for p in result["evicted"])
    assert result["evictions"] == {"pods": 5, "requests": 10, "refusals": 5}
    assert result["diff"]["after"] == {"unschedulable": True, "pods_to_evict": []}
    assert cluster.pods == {}
    timings = result["timings"]
    assert set(timings) >= {"preflight", "cordon", "evictions", "drain", "total"}
    # Waiting for deletion is one metadata LIST per poll, not one GET per pod.
    assert cluster.requests["pods (wait for deletion)"] < 10


def test_second_drain_changes_nothing():
    cluster = FakeCluster({"n1": False}, [pod("web"), pod("proxy", owner_kind="DaemonSet")])
    assert drain(cluster).result["changed"] is True
    again = drain(cluster)
    assert not again.failed and again.result["changed"] is False
    assert again.result["evicted"] == []


def test_deadline_fails_naming_the_budget_and_uncordons():
    cluster = FakeCluster({"n1": False}, [pod("web"), pod("db-0"), pod("api")])
    cluster.refusals = {"db-0": -1}
    started = time.monotonic()
    outcome = drain(cluster, timeout=1.0)
    assert time.monotonic() - started < 2.0
    assert outcome.failed
    assert outcome.msg.startswith("drain of node n1 did not finish within 1 s: 1 pod(s) left")
    assert "shop/db-0: blocked by PodDisruptionBudget web" in outcome.msg
    assert "uncordoned again" in outcome.msg
    assert outcome.result["left"][0]["pdb"] == "web"
    assert outcome.result["uncordoned"] is True
    assert outcome.result["unschedulable"] == {"before": False, "after": False}
    assert cluster.patches == [("n1", True), ("n1", False)]
    assert sorted(p["name"] for p in outcome.result["evicted"]) == ["api", "web"]
    # Refused pods were tried until close to the deadline, with backoff, not hammered.
    assert 5 < outcome.result["left"][0]["attempts"] < 40


def test_deadline_with_leave_cordoned_on_failure_keeps_the_node_cordoned():
    cluster = FakeCluster({"n1": False}, [pod("db-0")])
    cluster.refusals = {"db-0": -1}
    outcome = drain(cluster, timeout=1.0, leave_cordoned_on_failure=True)
    assert outcome.failed and "stays cordoned (leave_cordoned_on_failure=true)" in outcome.msg
    assert cluster.patches == [("n1", True)]
    assert outcome.result["uncordoned"] is False and outcome.result["changed"] is True


def test_a_node_cordoned_before_stays_cordoned_on_failure():
    cluster = FakeCluster({"n1": True}, [pod("db-0")])
    cluster.refusals = {"db-0": -1}
    outcome = drain(cluster, timeout=1.0)
    assert outcome.failed and "uncordon" not in outcome.msg
    assert cluster.patches == []


def test_pod_replaced_under_the_same_name_is_not_waited_for():
    cluster = FakeCluster({"n1": False}, [pod("db-0", uid="old")])
    cluster.delete_delay = 0.1

    def replace_after_eviction() -> None:
        # The StatefulSet controller recreates db-0 on this node at once (new UID).
        time.sleep(0.05)
        with cluster.lock:
            cluster.pending_deletes.clear()
            cluster.pods[("shop", "db-0")] = pod("db-0", uid="new")

    original = cluster._evict

    def evict_then_replace(path, body):
        answer = original(path, body)
        if body["deleteOptions"]["preconditions"]["uid"] == "old":
            threading.Thread(target=replace_after_eviction).start()
        return answer

    cluster._evict = evict_then_replace  # type: ignore[method-assign]
    outcome = drain(cluster)
    assert not outcome.failed, outcome.msg
    # The old UID gone is done although db-0 is still there; the new db-0, bound to the cordoned
    # node, is then evicted as a late pod.
    assert [e["uid"] for e in outcome.result["evicted"]] == ["old", "new"]
    assert outcome.result["late_pods"] == ["shop/db-0"]


def test_uid_precondition_conflict_counts_as_gone():
    cluster = FakeCluster({"n1": True}, [pod("db-0", uid="old")])
    # Listed with UID "old", but the API holds a new db-0 by the time of the eviction.
    cluster.answers["db-0"] = [
        (409, status(409, "Precondition failed: UID in precondition: old, UID in object meta: new"))
    ]
    outcome = drain(cluster)
    assert not outcome.failed
    assert outcome.result["evicted"][0]["notes"] == ["replaced by a new pod of the same name"]


def test_policy_v1beta1_fallback_when_v1_eviction_is_missing():
    cluster = FakeCluster({"n1": False}, [pod(f"web-{i}") for i in range(3)])
    cluster.v1_missing = True
    outcome = drain(cluster, concurrency=1)
    assert not outcome.failed, outcome.msg
    assert outcome.result["eviction_api"] == "policy/v1beta1"
    # One v1 attempt finds the subresource missing; every later one uses v1beta1.
    assert cluster.eviction_versions == ["policy/v1"] + ["policy/v1beta1"] * 3


def test_permanent_eviction_errors_fail_without_waiting_for_the_deadline():
    cluster = FakeCluster({"n1": False}, [pod("web"), pod("db")])
    cluster.answers["db"] = [(403, status(403, "admission webhook denied the request"))]
    started = time.monotonic()
    outcome = drain(cluster, timeout=30.0)
    assert time.monotonic() - started < 5
    assert outcome.failed
    assert "could not be evicted: shop/db: eviction failed: forbidden" in outcome.msg
    assert outcome.result["uncordoned"] is True
    assert [p["name"] for p in outcome.result["evicted"]] == ["web"]


def test_pod_bound_between_listing_and_cordon_is_classified_too():
    cluster = FakeCluster({"n1": False}, [pod("web")])

    def bind_unmanaged_pod() -> None:
        if cluster.nodes["n1"]["spec"]["unschedulable"]:
            cluster.pods[("shop", "late")] = pod("late", owner_kind=None)

    cluster.after_patch = bind_unmanaged_pod
    outcome = drain(cluster)
    assert outcome.failed and outcome.result["refused"][0]["name"] == "late"
    assert "uncordoned again" in outcome.msg
    assert cluster.patches == [("n1", True), ("n1", False)]
    assert cluster.requests["pods/eviction"] == 0


def test_a_replacement_bound_to_the_cordoned_node_is_evicted_too():
    # A scheduler whose cache lags the cordon binds the evicted pod's replacement to the node.
    cluster = FakeCluster({"n1": False}, [pod("web-a")])

    def replace_on_same_node(name: str) -> None:
        if name == "web-a":
            cluster.pods[("shop", "web-b")] = pod("web-b")

    cluster.after_eviction = replace_on_same_node
    outcome = drain(cluster)
    assert not outcome.failed, outcome.msg
    assert outcome.result["late_pods"] == ["shop/web-b"]
    assert [e["name"] for e in outcome.result["evicted"]] == ["web-a", "web-b"]
    assert cluster._node_pods({"fieldSelector": "spec.nodeName=n1"}) == []
    assert "2 pod(s) evicted" in outcome.msg


def test_pods_that_keep_arriving_past_the_cordon_fail_the_drain_and_uncordon():
    cluster = FakeCluster({"n1": False}, [pod("job-0")])
    born = iter(range(1, 100))

    def bind_another(name: str) -> None:
        another = f"job-{next(born)}"
        cluster.pods[("shop", another)] = pod(another)

    cluster.after_eviction = bind_another
    outcome = drain(cluster)
    assert outcome.failed
    assert "pods keep being bound to the cordoned node (shop/job-4)" in outcome.msg
    assert "spec.nodeName" in outcome.msg and "uncordoned again" in outcome.msg
    assert outcome.result["late_pods"] == ["shop/job-1", "shop/job-2", "shop/job-3"]
    assert cluster.patches == [("n1", True), ("n1", False)]


def test_a_late_pod_that_must_not_be_evicted_fails_naming_it():
    cluster = FakeCluster({"n1": True}, [pod("web")])
    cluster.after_eviction = lambda name: cluster.pods.setdefault(
        ("shop", "solo"), pod("solo", owner_kind=None)
    )
    outcome = drain(cluster)
    assert outcome.failed and outcome.result["refused"][0]["name"] == "solo"
    assert "force=true" in outcome.msg
    assert cluster.patches == []  # cordoned before: left so


def test_concurrency_bounds_requests_in_flight_not_waiting_pods():
    pods = [pod(f"web-{i}") for i in range(24)]
    cluster = FakeCluster({"n1": True}, pods)
    cluster.eviction_latency = 0.02
    # Half of them are blocked for a while: they must not hold the workers.
    cluster.refusals = {f"web-{i}": 3 for i in range(0, 24, 2)}
    outcome = drain(cluster, concurrency=4)
    assert not outcome.failed, outcome.msg
    assert cluster.max_in_flight <= 4
    assert len(outcome.result["evicted"]) == 24


def test_pod_selector_limits_the_drain():
    cluster = FakeCluster(
        {"n1": True}, [pod("web", labels={"app": "web"}), pod("db", labels={"app": "db"})]
    )
    outcome = drain(cluster, pod_selector="app=web")
    assert [p["name"] for p in outcome.result["evicted"]] == ["web"]
    assert ("shop", "db") in cluster.pods


def test_a_cause_written_with_type_instead_of_reason_is_read_too():
    body = {
        "message": "Cannot evict pod",
        "details": {"causes": [{"type": "DisruptionBudget", "message": PDB_MESSAGE}]},
    }
    assert nd.interpret_eviction(429, body).pdb == "web"


def test_eviction_of_a_budgets_pod_wakes_the_budgets_other_waiters():
    tasks = [nd.PodTask(nd.PodRef("shop", f"web-{i}", f"u{i}")) for i in range(3)]
    other = nd.PodTask(nd.PodRef("shop", "db-0", "d0"))
    run = nd.EvictionRun(
        FakeCluster({"n1": True}, []),  # type: ignore[arg-type]
        "n1",
        [*tasks, other],
        grace_period=None,
        concurrency=4,
        deadline=time.monotonic() + 60,
        rng=lambda: 0.5,
    )
    now = time.monotonic()
    for task in (*tasks[1:], other):
        task.pdb = "web" if task in tasks else "db"
        task.backoff_step = 5
        run._push(now + 5.0, task)
    tasks[0].pdb = "web"
    run._apply(tasks[0], "policy/v1", nd.EvictionOutcome("evicted"))
    # web's waiters are due again in about 0.5 s, their backoff started over; db's are not.
    for waiter in tasks[1:]:
        assert waiter.due is not None and waiter.due - now < 1.0
        assert waiter.backoff_step == 0
    assert other.due == pytest.approx(now + 5.0) and other.backoff_step == 5
    # The queue hands out each task once, at its new time; the stale entries are dropped.
    popped = []
    while run._next_due() is not None:
        popped.append(run._pop().pod.name)
    assert popped in (["web-1", "web-2", "db-0"], ["web-2", "web-1", "db-0"])


# ---------------------------------------------------------------------------- permissions


class Authorizer:
    """An access check that refuses ``refused`` (described as Access.describe) and remembers
    what it was asked, in order."""

    def __init__(self, *refused: str) -> None:
        self.refused = set(refused)
        self.asked: list[list[str]] = []

    def __call__(self, needs):
        needs = list(needs)
        self.asked.append([need.describe() for need in needs])
        return [need for need in needs if need.describe() in self.refused]


def test_read_and_change_needs():
    options = nd.DrainOptions("n1")
    assert [a.describe() for a in nd.read_needs(options)] == ["get nodes n1", "list pods"]
    cordon = nd.DrainOptions("n1", state="cordon")
    assert [a.describe() for a in nd.read_needs(cordon)] == ["get nodes n1"]
    assert [
        a.describe()
        for a in nd.change_needs(options, cordon=True, eviction_namespaces=["shop", "db", "shop"])
    ] == [
        "patch nodes n1",
        "create pods/eviction in namespace db",
        "create pods/eviction in namespace shop",
    ]
    assert nd.change_needs(options, cordon=False) == []


def test_a_missing_eviction_permission_fails_before_the_cordon_in_check_mode_too():
    for check_mode in (True, False):
        cluster = FakeCluster({"n1": False}, [pod("web"), pod("db", namespace="data")])
        authorizer = Authorizer("create pods/eviction in namespace data")
        outcome = drain(cluster, access_check=authorizer, check_mode=check_mode)
        assert outcome.failed
        assert outcome.msg == (
            "the credentials may not drain node n1: they lack create pods/eviction in namespace "
            "data. Grant it (the permissions each playbook needs are in docs/permissions.md) or "
            "use other credentials. Nothing was changed."
        )
        assert cluster.patches == []
        assert cluster.requests["pods/eviction"] == 0
        assert authorizer.asked == [
            ["get nodes n1", "list pods"],
            [
                "patch nodes n1",
                "create pods/eviction in namespace data",
                "create pods/eviction in namespace shop",
            ],
        ]


def test_a_missing_read_fails_before_reading():
    cluster = FakeCluster({"n1": False}, [pod("web")])
    outcome = drain(cluster, access_check=Authorizer("list pods"))
    assert outcome.failed and "they lack list pods (the node's pods, in every namespace)" in (
        outcome.msg
    )
    assert cluster.requests == {}


def test_a_cordoned_node_needs_no_patch_and_cordon_asks_only_when_it_changes():
    cluster = FakeCluster({"n1": True}, [pod("web")])
    authorizer = Authorizer("patch nodes n1")
    assert not drain(cluster, access_check=authorizer).failed
    assert authorizer.asked[1] == ["create pods/eviction in namespace shop"]
    again = drain(cluster, state="cordon", access_check=authorizer)
    assert not again.failed and again.msg == "node n1 is already cordoned"
    refused = drain(cluster, state="uncordon", access_check=authorizer)
    assert refused.failed and "they lack patch nodes n1" in refused.msg
    assert cluster.nodes["n1"]["spec"]["unschedulable"] is True


def test_a_pod_bound_in_a_new_namespace_after_the_cordon_is_asked_about_then_uncordoned():
    cluster = FakeCluster({"n1": False}, [pod("web")])

    def bind_pod_elsewhere() -> None:
        if cluster.nodes["n1"]["spec"]["unschedulable"]:
            cluster.pods[("data", "late")] = pod("late", namespace="data")

    cluster.after_patch = bind_pod_elsewhere
    outcome = drain(cluster, access_check=Authorizer("create pods/eviction in namespace data"))
    assert outcome.failed
    assert outcome.msg.startswith(
        "the credentials may not drain node n1: they lack create pods/eviction in namespace "
        "data. Grant it"
    )
    assert "Nothing was changed" not in outcome.msg
    assert "uncordoned again" in outcome.msg
    assert cluster.patches == [("n1", True), ("n1", False)]
    assert cluster.requests["pods/eviction"] == 0
