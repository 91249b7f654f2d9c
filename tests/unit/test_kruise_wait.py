"""Readiness after a change: rollouts, every node's daemon pod, stability over time."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeRequestError,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_wait import (
    Expectation,
    Snapshot,
    describe_problems,
    evaluate,
    read_needs,
    read_snapshot,
    wait_until_ready,
)

IMAGE_15 = "openkruise/kruise-manager:v1.5.5"
IMAGE_16 = "openkruise/kruise-manager:v1.6.3"


def deployment(
    image: str = IMAGE_15, gates: str = "ImagePullJobGate=true", **status: int
) -> dict[str, Any]:
    return {
        "metadata": {"name": "kruise-controller-manager", "generation": 2},
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "manager", "image": image, "args": [f"--feature-gates={gates}"]}
                    ]
                }
            },
        },
        "status": {
            "observedGeneration": 2,
            "replicas": 2,
            "updatedReplicas": 2,
            "readyReplicas": 2,
            "availableReplicas": 2,
            **status,
        },
    }


def daemonset(image: str = IMAGE_15, desired: int = 2, **status: int) -> dict[str, Any]:
    return {
        "metadata": {"name": "kruise-daemon", "generation": 5},
        "spec": {"template": {"spec": {"containers": [{"name": "daemon", "image": image}]}}},
        "status": {
            "observedGeneration": 5,
            "desiredNumberScheduled": desired,
            "updatedNumberScheduled": desired,
            "numberReady": desired,
            "numberAvailable": desired,
            **status,
        },
    }


def pod(node: str, image: str = IMAGE_15, state: str = "running", **extra: Any) -> dict:
    statuses: list[dict[str, Any]] = []
    phase = "Pending"
    if state == "running":
        phase = "Running"
        statuses = [{"ready": True, "restartCount": 0, "state": {"running": {}}}]
    elif state == "crash":
        phase = "Running"
        statuses = [
            {
                "ready": False,
                "restartCount": 7,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "message": "CRI v1 not implemented"}},
            }
        ]
    return {
        "metadata": {"name": f"kruise-daemon-{node}", **extra},
        "spec": {"nodeName": node, "containers": [{"name": "daemon", "image": image}]},
        "status": {"phase": phase, "containerStatuses": statuses},
    }


EXPECT = Expectation(version_line="1.5", feature_gates="ImagePullJobGate=true")


def test_all_ready():
    result = evaluate(Snapshot(deployment(), daemonset(), [pod("a"), pod("b")]), EXPECT)
    assert result["ready"] is True
    assert result["problems"] == []


def test_crash_looping_pod_is_named_with_its_message():
    result = evaluate(
        Snapshot(deployment(), daemonset(numberReady=1), [pod("a"), pod("b", state="crash")]),
        EXPECT,
    )
    assert result["ready"] is False
    assert result["crash_looping_nodes"] == ["b"]
    assert any(
        "kruise-daemon-b on b is crash-looping (7 restarts): CRI v1 not implemented (exit code 1)"
        in problem
        for problem in result["problems"]
    )


def test_old_images_and_unfinished_rollouts_are_problems():
    result = evaluate(
        Snapshot(
            deployment(image=IMAGE_16, updatedReplicas=1, readyReplicas=1),
            daemonset(updatedNumberScheduled=1),
            [pod("a"), pod("b", image=IMAGE_16)],
        ),
        EXPECT,
    )
    problems = " | ".join(result["problems"])
    assert "kruise-controller-manager's image is openkruise/kruise-manager:v1.6.3, not a 1.5.x" in (
        problems
    )
    assert "1 of 2 replicas updated" in problems
    assert "1 of 2 nodes have an updated pod" in problems
    assert f"kruise-daemon-b on b still runs {IMAGE_16}" in problems


def test_unobserved_generation_and_wrong_gates():
    result = evaluate(
        Snapshot(deployment(gates="A=true", observedGeneration=1), daemonset(), [pod("a")]),
        EXPECT,
    )
    assert "not 'ImagePullJobGate=true'" in result["problems"][0]
    assert "has not seen the change yet" in result["problems"][1]


def test_gates_compare_normalised():
    snapshot = Snapshot(deployment(gates="ImagePullJobGate=True"), daemonset(), [pod("a")])
    assert evaluate(snapshot, EXPECT)["ready"] is True


def test_absent_daemon():
    expect = Expectation(feature_gates="ImagePullJobGate=true", daemon="absent")
    gone = Snapshot(deployment(), None, [pod("a", deletionTimestamp="now")])
    assert evaluate(gone, expect)["ready"] is True
    still = evaluate(Snapshot(deployment(), daemonset(), [pod("a")]), expect)
    assert still["problems"] == [
        "the kruise-daemon DaemonSet still exists",
        "1 kruise-daemon pods still exist",
    ]


def test_missing_objects():
    result = evaluate(Snapshot(None, None, []), Expectation())
    assert result["problems"] == [
        "the kruise-manager Deployment does not exist",
        "the kruise-daemon DaemonSet does not exist",
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_wait_needs_the_state_to_hold_for_the_stable_window():
    clock = Clock()
    good = Snapshot(deployment(), daemonset(), [pod("a"), pod("b")])
    crash = Snapshot(deployment(), daemonset(), [pod("a"), pod("b", state="crash")])
    # Ready at t=0 and t=2, crash-looping at t=4 (a restart), then ready for good.
    sequence = [good, good, crash] + [good] * 20
    reads = iter(sequence)
    result = wait_until_ready(
        lambda: next(reads),
        EXPECT,
        timeout=60,
        stable_seconds=5,
        interval=2,
        clock=clock,
        sleep=clock.sleep,
    )
    assert result["ready"] is True
    assert result["waited"] == 12.0  # ready from t=6, held until t=12 (>= 5 s)


def test_wait_gives_up_at_the_deadline_with_the_last_problems():
    clock = Clock()
    crash = Snapshot(deployment(), daemonset(), [pod("a", state="crash")])
    result = wait_until_ready(
        lambda: crash,
        EXPECT,
        timeout=10,
        stable_seconds=3,
        interval=2,
        clock=clock,
        sleep=clock.sleep,
    )
    assert result["ready"] is False
    assert result["waited"] == 10.0
    assert result["crash_looping_nodes"] == ["a"]


def test_wait_gives_up_early_when_a_new_daemon_pod_keeps_crashing():
    clock = Clock()
    # A 1.5.5 pod that restarted twice, then a third time; another node's pod still runs 1.6.
    twice = pod("a", state="crash")
    twice["status"]["containerStatuses"][0]["restartCount"] = 2
    states = iter(
        [Snapshot(deployment(), daemonset(), [twice, pod("b", image=IMAGE_16, state="crash")])] * 3
        + [Snapshot(deployment(), daemonset(), [pod("a", state="crash")])] * 10
    )
    result = wait_until_ready(
        lambda: next(states),
        Expectation(version_line="1.5", crash_restarts=3),
        timeout=600,
        stable_seconds=5,
        interval=2,
        clock=clock,
        sleep=clock.sleep,
    )
    assert result["ready"] is False
    assert result["waited"] == 6.0
    assert result["problems"] == [
        "gave up after 6 s: the new kruise-daemon crash-loops",
        "kruise-daemon-a on a is crash-looping (7 restarts): CRI v1 not implemented (exit code 1)",
    ]


@pytest.mark.parametrize(
    ("expect", "image"),
    [
        (Expectation(version_line="1.5"), IMAGE_15),  # the limit is off by default
        (Expectation(version_line="1.5", crash_restarts=3), IMAGE_16),  # an old pod
        (Expectation(daemon="any", crash_restarts=3), IMAGE_15),
    ],
)
def test_crash_loops_that_do_not_end_the_wait_early(expect: Expectation, image: str):
    result = evaluate(
        Snapshot(deployment(), daemonset(), [pod("a", image=image, state="crash")]), expect
    )
    assert result["hopeless"] == []


def test_wait_that_is_ready_but_not_long_enough_says_so():
    clock = Clock()
    states = iter([Snapshot(None, None, [])] * 4 + [Snapshot(deployment(), daemonset(), [])] * 9)
    result = wait_until_ready(
        lambda: next(states),
        Expectation(),
        timeout=8,
        stable_seconds=5,
        interval=2,
        clock=clock,
        sleep=clock.sleep,
    )
    assert result["ready"] is False
    assert "Ready for only 0 s" in result["problems"][0]


def test_describe_problems_caps_the_list():
    text = describe_problems([f"p{i}" for i in range(12)])
    assert text.endswith("p7; and 4 more")


def test_a_new_manager_pod_that_crash_loops_is_named_old_ones_are_not():
    rolling = deployment(replicas=2, updatedReplicas=1, readyReplicas=1, availableReplicas=1)
    rolling["spec"]["replicas"] = 1  # the new pod surged next to the old one
    new_container = rolling["spec"]["template"]["spec"]["containers"][0]
    new_pod = pod("a", state="crash")
    new_pod["spec"]["containers"] = [dict(new_container)]
    old_pod = pod("b")
    old_pod["spec"]["containers"] = [{**new_container, "args": ["--feature-gates=Old=true"]}]
    result = evaluate(
        Snapshot(rolling, daemonset(), [pod("a"), pod("b")], manager_pods=[new_pod, old_pod]),
        EXPECT,
    )
    assert result["problems"] == [
        "kruise-controller-manager: 1 old replicas still running (the new ones are not available "
        "yet)",
        "kruise-daemon-a on a is crash-looping (7 restarts): CRI v1 not implemented (exit code 1)",
    ]


# ---------------------------------------------------------------------------- reading the cluster


class FakeReader:
    """GETs of the named objects (404 for the others) and pod LISTs by label selector."""

    def __init__(self, objects: dict[str, Any], pods: dict[str, list[dict[str, Any]]]) -> None:
        self.objects = objects
        self.pods = pods
        self.requests: list[tuple[str, str]] = []

    def get(self, path: str, **kwargs: Any) -> Any:
        self.requests.append((kwargs["counted_as"], path))
        if path not in self.objects:
            raise KubeRequestError(404, path, "not found")
        return self.objects[path]

    def list_items(self, path: str, params: dict[str, str], **kwargs: Any) -> Any:
        self.requests.append((kwargs["counted_as"], f"{path}?{params['labelSelector']}"))
        return iter(self.pods.get(params["labelSelector"], []))


APPS = "/apis/apps/v1/namespaces/kruise-system"
PODS = "/api/v1/namespaces/kruise-system/pods"


def read(reader: FakeReader) -> Snapshot:
    return read_snapshot(
        reader,  # type: ignore[arg-type]
        "kruise-system",
        manager_name="kruise-controller-manager",
        daemon_name="kruise-daemon",
        daemon_selector="control-plane=daemon",
    )


def test_snapshot_finds_pods_by_the_workloads_selectors():
    manager = deployment()
    manager["spec"]["selector"] = {"matchLabels": {"control-plane": "controller-manager"}}
    daemon = daemonset()
    daemon["spec"]["selector"] = {"matchLabels": {"tier": "node", "control-plane": "daemon-x"}}
    reader = FakeReader(
        {
            f"{APPS}/deployments/kruise-controller-manager": manager,
            f"{APPS}/daemonsets/kruise-daemon": daemon,
        },
        {
            "control-plane=daemon-x,tier=node": [pod("n1")],
            "control-plane=controller-manager": [{"metadata": {"name": "m"}}],
        },
    )
    snapshot = read(reader)
    assert snapshot.deployment is manager and snapshot.daemonset is daemon
    assert [p["spec"]["nodeName"] for p in snapshot.daemon_pods] == ["n1"]
    assert [p["metadata"]["name"] for p in snapshot.manager_pods] == ["m"]
    assert [resource for resource, _unused in reader.requests] == [
        "daemonsets",
        "pods",
        "deployments",
        "pods",
    ]


def test_snapshot_without_the_workloads_uses_the_daemon_selector_option():
    reader = FakeReader({}, {"control-plane=daemon": [pod("n1", state="pending")]})
    snapshot = read(reader)
    assert snapshot.deployment is None and snapshot.daemonset is None
    assert len(snapshot.daemon_pods) == 1 and list(snapshot.manager_pods) == []
    assert reader.requests[1] == ("pods", f"{PODS}?control-plane=daemon")


def test_snapshot_passes_on_errors_other_than_404():
    reader = FakeReader({}, {})

    def forbidden(path: str, **kwargs: Any) -> Any:
        raise KubeRequestError(403, path, "forbidden")

    reader.get = forbidden  # type: ignore[method-assign]
    with pytest.raises(KubeRequestError) as raised:  # a 403 is not an absent object
        read(reader)
    assert raised.value.status == 403


def test_read_needs_are_what_read_snapshot_reads():
    assert [need.describe() for need in read_needs("ks", "mgr", "dmn")] == [
        "get deployments.apps mgr in namespace ks",
        "get daemonsets.apps dmn in namespace ks",
        "list pods in namespace ks",
    ]
    manager = deployment()
    manager["spec"]["selector"] = {"matchLabels": {"control-plane": "controller-manager"}}
    reader = FakeReader({f"{APPS}/deployments/kruise-controller-manager": manager}, {})
    read(reader)
    sent = {
        (resource, path.split("?")[0].rsplit("/", 1)[-1] if resource != "pods" else "")
        for resource, path in reader.requests
    }
    needed = {
        (need.resource, need.name)
        for need in read_needs("kruise-system", "kruise-controller-manager", "kruise-daemon")
    }
    assert sent == needed
