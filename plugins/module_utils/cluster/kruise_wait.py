"""Is OpenKruise healthy after a change? kruise-manager rolled out and Ready, kruise-daemon Ready
on every node it is scheduled to (or gone), images of the expected line, the expected gates.

:func:`evaluate` is pure: it takes the objects as the API returns them and lists what is not yet
as expected. :func:`wait_until_ready` polls through a ``read`` callable until the state has been as
expected for ``stable_seconds`` in a row, or the deadline passes: a crash-looping kruise-daemon is
Running (and briefly Ready) between restarts, so one good look proves nothing. It gives up early
when a kruise-daemon pod of the new template has already restarted ``crash_restarts`` times: the
kubelet's back-off only grows from there, and waiting out the deadline would keep a node without a
working daemon for the whole of it.
:func:`read_snapshot` is that ``read`` for a cluster, :func:`run_module` the kruise_wait module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.access import Access
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeAccessError,
    KubeClient,
    KubeRequestError,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_info import (
    daemon_pod_state,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_manifests import (
    container_gates,
    container_index,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.feature_gates import (
    FeatureGatesError,
    normalize_feature_gates,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    line_of,
    version_from_image,
)

if TYPE_CHECKING:
    from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
        ClusterModule,
    )

DAEMON_EXPECTATIONS = ("present", "absent", "any")
PROBLEMS_SHOWN = 8


@dataclass(frozen=True)
class Expectation:
    version_line: str | None = None  # "1.5": manager (and daemon) images of that line
    feature_gates: str | None = None  # the manager's --feature-gates, compared normalised
    daemon: str = "present"  # present | absent | any
    crash_restarts: int = 0  # give up once a new daemon pod crash-loops this often; 0: never


@dataclass(frozen=True)
class Snapshot:
    deployment: Mapping[str, Any] | None
    daemonset: Mapping[str, Any] | None
    daemon_pods: Sequence[Mapping[str, Any]]
    manager_pods: Sequence[Mapping[str, Any]] = ()


def _containers(workload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}
    return list(spec.get("containers") or [])


def _image_problem(what: str, image: str | None, line: str | None) -> str | None:
    if line is None:
        return None
    version = version_from_image(image)
    if line_of(version) != line:
        return f"{what} image is {image}, not a {line}.x version"
    return None


def manager_problems(
    deployment: Mapping[str, Any] | None,
    expect: Expectation,
    pods: Sequence[Mapping[str, Any]] = (),
) -> list[str]:
    if deployment is None:
        return ["the kruise-manager Deployment does not exist"]
    name = (deployment.get("metadata") or {}).get("name")
    container = _containers(deployment)[container_index(deployment, "manager", "kruise-manager")]
    problems = []
    image_problem = _image_problem(f"{name}'s", container.get("image"), expect.version_line)
    if image_problem:
        problems.append(image_problem)
    if expect.feature_gates is not None:
        running = container_gates(container)
        try:
            same = normalize_feature_gates(running) == normalize_feature_gates(expect.feature_gates)
        except FeatureGatesError:
            same = False
        if not same:
            problems.append(
                f"{name} runs with --feature-gates={running!r}, not {expect.feature_gates!r}"
            )
    metadata = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    wanted = int(spec.get("replicas") if spec.get("replicas") is not None else 1)
    if int(status.get("observedGeneration") or 0) < int(metadata.get("generation") or 0):
        problems.append(f"{name}: the Deployment controller has not seen the change yet")
        return problems
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    ready = int(status.get("readyReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < wanted:
        problems.append(f"{name}: {updated} of {wanted} replicas updated")
    elif total > updated:
        problems.append(
            f"{name}: {total - updated} old replicas still running (the new ones are not "
            "available yet)"
        )
    if ready < wanted or available < wanted:
        problems.append(f"{name}: {min(ready, available)} of {wanted} replicas Ready")
    # The new pods (the template's image and arguments) that do not come up, and why.
    for pod in _live(pods):
        pod_container = _pod_container(pod, container.get("name"))
        if pod_container is None or any(
            pod_container.get(key) != container.get(key) for key in ("image", "args", "command")
        ):
            continue
        state = daemon_pod_state(pod)
        problem = _pod_problem(state)
        if problem:
            problems.append(problem)
    return problems


def _live(pods: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]


def _pod_container(pod: Mapping[str, Any], name: Any) -> Mapping[str, Any] | None:
    containers = (pod.get("spec") or {}).get("containers") or []
    return next((c for c in containers if c.get("name") == name), None)


def _pod_problem(state: Mapping[str, Any]) -> str | None:
    where = f"{state['pod']} on {state['node'] or 'no node yet'}"
    if state["state"] == "crash-looping":
        message = state["last_message"] or state["reason"] or "no message"
        if state["last_exit_code"] not in (None, 0):
            # Without a termination message the kubelet says only "Error"; the code tells a
            # fatal exit (255) from a panic (2).
            message = f"{message} (exit code {state['last_exit_code']})"
        return f"{where} is crash-looping ({state['restarts']} restarts): {message}"
    if state["state"] != "running":
        return f"{where} is {state['state']}, not Ready"
    return None


def daemon_problems(
    daemonset: Mapping[str, Any] | None,
    pods: Sequence[Mapping[str, Any]],
    expect: Expectation,
) -> list[str]:
    live_pods = _live(pods)
    if expect.daemon == "any":
        return []
    if expect.daemon == "absent":
        problems = []
        if daemonset is not None:
            problems.append("the kruise-daemon DaemonSet still exists")
        if live_pods:
            problems.append(f"{len(live_pods)} kruise-daemon pods still exist")
        return problems
    if daemonset is None:
        return ["the kruise-daemon DaemonSet does not exist"]
    name = (daemonset.get("metadata") or {}).get("name")
    index = container_index(daemonset, "daemon", "kruise")
    image = _containers(daemonset)[index].get("image")
    problems = []
    image_problem = _image_problem(f"{name}'s", image, expect.version_line)
    if image_problem:
        problems.append(image_problem)
    metadata = daemonset.get("metadata") or {}
    status = daemonset.get("status") or {}
    if int(status.get("observedGeneration") or 0) < int(metadata.get("generation") or 0):
        problems.append(f"{name}: the DaemonSet controller has not seen the change yet")
        return problems
    desired = int(status.get("desiredNumberScheduled") or 0)
    for field, label in (
        ("updatedNumberScheduled", "updated"),
        ("numberReady", "Ready"),
        ("numberAvailable", "available"),
    ):
        count = int(status.get(field) or 0)
        if count < desired:
            problems.append(f"{name}: {count} of {desired} nodes have an {label} pod")
    for pod in sorted(live_pods, key=lambda p: str((p.get("spec") or {}).get("nodeName"))):
        state = daemon_pod_state(pod)
        pod_images = [c.get("image") for c in (pod.get("spec") or {}).get("containers") or []]
        if image not in pod_images:
            where = f"{state['pod']} on {state['node'] or 'no node yet'}"
            problems.append(f"{where} still runs {', '.join(map(str, pod_images))}")
        else:
            problem = _pod_problem(state)
            if problem:
                problems.append(problem)
    return problems


def hopeless_daemon_pods(snapshot: Snapshot, expect: Expectation) -> list[str]:
    """Daemon pods of the DaemonSet's current image that crash-loop and have restarted at least
    ``expect.crash_restarts`` times, described; empty when that limit is 0 or none do."""
    if not expect.crash_restarts or expect.daemon != "present" or snapshot.daemonset is None:
        return []
    index = container_index(snapshot.daemonset, "daemon", "kruise")
    image = _containers(snapshot.daemonset)[index].get("image")
    hopeless = []
    for pod in _live(snapshot.daemon_pods):
        containers = (pod.get("spec") or {}).get("containers") or []
        state = daemon_pod_state(pod)
        if (
            image in [c.get("image") for c in containers]
            and state["state"] == "crash-looping"
            and state["restarts"] >= expect.crash_restarts
        ):
            hopeless.append(str(_pod_problem(state)))
    return sorted(hopeless)


def evaluate(snapshot: Snapshot, expect: Expectation) -> dict[str, Any]:
    manager = manager_problems(snapshot.deployment, expect, snapshot.manager_pods)
    daemon = daemon_problems(snapshot.daemonset, snapshot.daemon_pods, expect)
    crash_looping = sorted(
        str(state["node"])
        for state in (daemon_pod_state(p) for p in snapshot.daemon_pods)
        if state["state"] == "crash-looping"
    )
    return {
        "ready": not manager and not daemon,
        "problems": manager + daemon,
        "manager_problems": manager,
        "daemon_problems": daemon,
        "crash_looping_nodes": crash_looping,
        "hopeless": hopeless_daemon_pods(snapshot, expect),
    }


def wait_until_ready(
    read: Callable[[], Snapshot],
    expect: Expectation,
    *,
    timeout: float,
    stable_seconds: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll until ready for ``stable_seconds`` in a row; the last evaluation with ``ready``
    (False when the deadline passed), ``waited`` and ``checks``."""
    started = clock()
    deadline = started + timeout
    ready_since: float | None = None
    checks = 0
    while True:
        now = clock()
        result = evaluate(read(), expect)
        checks += 1
        if result["ready"]:
            ready_since = now if ready_since is None else ready_since
            if now - ready_since >= stable_seconds:
                return {**result, "waited": round(now - started, 1), "checks": checks}
        else:
            ready_since = None
        if result["hopeless"]:
            result["problems"] = [
                f"gave up after {now - started:.0f} s: the new kruise-daemon crash-loops",
                *result["hopeless"],
            ]
            return {**result, "ready": False, "waited": round(now - started, 1), "checks": checks}
        if now >= deadline:
            if result["ready"] and ready_since is not None:
                result["problems"] = [
                    f"Ready for only {now - ready_since:.0f} s of the {stable_seconds:.0f} s "
                    "required in a row"
                ]
            return {
                **result,
                "ready": False,
                "waited": round(now - started, 1),
                "checks": checks,
            }
        sleep(max(0.0, min(interval, deadline - now)))


def describe_problems(problems: Sequence[str]) -> str:
    shown = list(problems[:PROBLEMS_SHOWN])
    if len(problems) > PROBLEMS_SHOWN:
        shown.append(f"and {len(problems) - PROBLEMS_SHOWN} more")
    return "; ".join(shown)


# --------------------------------------------------------------------------------------------
# Reading the cluster, and the module


def _get_or_none(client: KubeClient, path: str, resource: str) -> Any:
    try:
        return client.get(path, counted_as=resource)
    except KubeRequestError as error:
        if error.status == 404:
            return None
        raise


def _selector(labels: Mapping[str, Any]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def read_needs(
    namespace: str,
    manager_name: str = "kruise-controller-manager",
    daemon_name: str = "kruise-daemon",
) -> list[Access]:
    """What :func:`read_snapshot` reads. A change that this check follows asks for them before
    it begins (kruise_helm_release, kruise_manifests), so that credentials that could not check
    the outcome change nothing."""
    why = "the health check after the change"
    return [
        Access("get", "deployments", "apps", namespace, name=manager_name, why=why),
        Access("get", "daemonsets", "apps", namespace, name=daemon_name, why=why),
        Access("list", "pods", namespace=namespace, why=why),
    ]


def read_snapshot(
    client: KubeClient,
    namespace: str,
    *,
    manager_name: str,
    daemon_name: str,
    daemon_selector: str,
) -> Snapshot:
    """One look at the manager Deployment, the kruise-daemon DaemonSet (None when absent) and
    their pods. The daemon's pods are found by the DaemonSet's selector, or ``daemon_selector``
    once it is gone."""
    base = f"/apis/apps/v1/namespaces/{namespace}"
    daemonset = _get_or_none(client, f"{base}/daemonsets/{daemon_name}", "daemonsets")
    selector = daemon_selector
    if daemonset is not None:
        labels = ((daemonset.get("spec") or {}).get("selector") or {}).get("matchLabels")
        if labels:
            selector = _selector(labels)
    pods = list(
        client.list_items(
            f"/api/v1/namespaces/{namespace}/pods",
            {"labelSelector": selector},
            counted_as="pods",
        )
    )
    deployment = _get_or_none(client, f"{base}/deployments/{manager_name}", "deployments")
    manager_pods = []
    labels = ((deployment or {}).get("spec") or {}).get("selector", {}).get("matchLabels")
    if labels:
        manager_pods = list(
            client.list_items(
                f"/api/v1/namespaces/{namespace}/pods",
                {"labelSelector": _selector(labels)},
                counted_as="pods",
            )
        )
    return Snapshot(
        deployment=deployment,
        daemonset=daemonset,
        daemon_pods=pods,
        manager_pods=manager_pods,
    )


def run_module(module: ClusterModule) -> dict[str, Any]:
    """The kruise_wait module's result; the task fails when the deadline passes."""
    params = module.params
    if (
        params["timeout"] < 0
        or params["stable_seconds"] < 0
        or params["crash_restarts"] < 0
        or params["interval"] <= 0
    ):
        module.fail_json(
            msg="timeout, stable_seconds and crash_restarts must be 0 or more, interval above 0"
        )
    if params["stable_seconds"] > params["timeout"]:
        module.fail_json(
            msg=f"stable_seconds {params['stable_seconds']} is longer than timeout "
            f"{params['timeout']}: the wait could never succeed"
        )
    namespace = params["namespace"]
    client = module.client()
    # Reads are retried through transient failures (an API server restarting, 429, 5xx) until
    # the wait's own deadline, so a short outage only delays the checks.
    client.deadline = time.monotonic() + params["timeout"]

    def read() -> Snapshot:
        return read_snapshot(
            client,
            namespace,
            manager_name=params["manager_name"],
            daemon_name=params["daemon_name"],
            daemon_selector=params["daemon_selector"],
        )

    expect = Expectation(
        version_line=params["version_line"],
        feature_gates=params["feature_gates"],
        daemon=params["daemon"],
        crash_restarts=params["crash_restarts"],
    )
    try:
        result = wait_until_ready(
            read,
            expect,
            timeout=params["timeout"],
            stable_seconds=params["stable_seconds"],
            interval=params["interval"],
        )
    except (KubeAccessError, KubeRequestError) as error:
        module.fail_json(msg=f"cannot read OpenKruise's state: {error}")
    if not result["ready"]:
        module.fail_json(
            msg=f"OpenKruise in {namespace} is not as expected after {result['waited']} s: "
            + describe_problems(result["problems"]),
            **result,
        )
    return {"changed": False, **result}
