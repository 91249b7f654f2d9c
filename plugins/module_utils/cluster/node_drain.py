"""Cordon, drain and uncordon a node through the Eviction API, for the ``node_drain`` module.

The decisions are pure functions, tested on their own: which pods to evict, skip or refuse and
why (:func:`decide_pod`, :func:`plan_drain`), what an answer of the eviction subresource means
(:func:`interpret_eviction`), the retry and polling schedules (:func:`backoff_delay`,
:func:`next_poll_interval`), and the messages and result entries. :func:`run_node_drain` does the
I/O through a :class:`KubeClient`:

1. GET the node and LIST its pods; classify them. Pods that may not be evicted without an option
   fail the task here, before anything changed. So do missing permissions: before the reads,
   and again before the first change, the credentials' access to every request the task will
   make is asked of the API server (:func:`read_needs`, :func:`change_needs`, :mod:`.access`).
2. Cordon (PATCH ``spec.unschedulable``) unless it is already cordoned, LIST again (a pod may
   have been scheduled in between) and classify again.
3. Evict, ``concurrency`` requests in flight at most. A pod that a PodDisruptionBudget protects
   (HTTP 429) is tried again after an exponential, jittered backoff until the deadline; waiting
   holds no worker, so blocked pods never stall the others. When one pod a budget refused gets
   evicted, the budget's other waiters start their backoff over: the budget frees up again as
   soon as that pod's replacement is ready. An accepted eviction is confirmed
   when the pod's UID is gone from the node's pod list (one metadata-only LIST per poll for all
   pods, not one GET per pod); a pod recreated under the same name has another UID.
4. At the deadline, the pods left and why (the PDB's name) fail the task, and the node is
   uncordoned again if this call cordoned it (unless ``leave_cordoned_on_failure``).

Every request is retried by the client (:mod:`.client`) through transient failures (the API
server restarting, 429, 5xx) until the task's deadline, except the answers of the eviction
subresource, which are this module's to interpret (a 429 is a PodDisruptionBudget's refusal).
Uncordoning after a failure is retried for at least :data:`UNCORDON_RETRY_SECONDS` more, so an
outage that outlasts the deadline does not leave the node cordoned. Any error ends the task with
a message naming what failed.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster import access
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.access import (
    Access,
    AccessCheck,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeAccessError,
    KubeClient,
    KubeRequestError,
    exponential_backoff,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.drain_capacity import (
    CapacityVerdict,
    capacity_message,
    drain_capacity,
)

if TYPE_CHECKING:
    from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
        ClusterModule,
    )

STATES = ("cordon", "drain", "uncordon")
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
FINISHED_PHASES = ("Succeeded", "Failed")
KRUISE_GROUP = "apps.kruise.io"
EVICTION_V1 = "policy/v1"
EVICTION_V1BETA1 = "policy/v1beta1"
BACKOFF_INITIAL = 0.5
BACKOFF_CAP = 5.0
POLL_INITIAL = 0.2
POLL_CAP = 1.0
MAX_CONCURRENCY = 64
# A last eviction attempt is sent this long before the deadline rather than after it.
LAST_TRY_MARGIN = 0.05
LISTED_IN_MESSAGES = 10
# Uncordoning a node this task cordoned, after the drain failed, is retried through transient
# failures until the deadline or at least this long.
UNCORDON_RETRY_SECONDS = 60.0
# Looks at the node after its evicted pods are gone, for pods bound since the cordon (a
# scheduler whose cache has not seen the cordon yet places an evicted pod's replacement on
# the same node); more rounds than this means something binds pods past the cordon.
LATE_POD_ROUNDS = 3

_PDB_NAME = re.compile(r"^The disruption budget (\S+) ")
_NOT_REGISTERED = re.compile(r"no kind .?Eviction.? is registered|not registered", re.IGNORECASE)


class DrainError(Exception):
    """The task cannot go on; the message names the problem and the fix."""


# ---------------------------------------------------------------------------- options


@dataclass(frozen=True)
class DrainOptions:
    node: str
    state: str = "drain"
    timeout: float = 300.0
    grace_period: int | None = None
    pod_selector: str | None = None
    force: bool = False
    delete_emptydir_data: bool = False
    ignore_daemonsets: bool = True
    concurrency: int = 16
    leave_cordoned_on_failure: bool = False
    capacity_check: bool = False


def validate_options(params: Mapping[str, Any]) -> list[str]:
    """What is wrong with the module's input, each naming the option and the fix."""
    problems = []
    name = params.get("name")
    if not name or not str(name).strip():
        problems.append("name is empty: give the node's name as `kubectl get nodes` shows it")
    timeout = params.get("timeout")
    if timeout is not None and timeout <= 0:
        problems.append(
            f"timeout={timeout} is not a time the drain can take: give a positive number of "
            "seconds, for example timeout=300"
        )
    grace = params.get("grace_period")
    if grace is not None and grace < 0:
        problems.append(
            f"grace_period={grace} is negative: give 0 (stop at once) or more seconds, or leave "
            "it unset to use each pod's terminationGracePeriodSeconds"
        )
    concurrency = params.get("concurrency")
    if concurrency is not None and not 1 <= concurrency <= MAX_CONCURRENCY:
        problems.append(
            f"concurrency={concurrency} is out of range: give 1 to {MAX_CONCURRENCY} evictions "
            "in flight (16 by default)"
        )
    return problems


def options_from_params(params: Mapping[str, Any]) -> DrainOptions:
    return DrainOptions(
        node=str(params["name"]).strip(),
        state=params.get("state") or "drain",
        timeout=float(params.get("timeout") or 300),
        grace_period=params.get("grace_period"),
        pod_selector=params.get("pod_selector") or None,
        force=bool(params.get("force")),
        delete_emptydir_data=bool(params.get("delete_emptydir_data")),
        ignore_daemonsets=params.get("ignore_daemonsets") is not False,
        concurrency=int(params.get("concurrency") or 16),
        leave_cordoned_on_failure=bool(params.get("leave_cordoned_on_failure")),
        capacity_check=bool(params.get("capacity_check")),
    )


# ---------------------------------------------------------------------------- which pods


@dataclass(frozen=True)
class PodRef:
    namespace: str
    name: str
    uid: str
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class PodDecision:
    action: str  # evict | skip | refuse
    reason: str = ""  # why a pod is skipped or refused
    notes: tuple[str, ...] = ()  # what evicting it means (data lost, not recreated)


def controller_of(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ownerReference with ``controller: true``, as ``metav1.GetControllerOf``."""
    for reference in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if reference.get("controller"):
            return reference
    return None


def _daemonset_label(reference: Mapping[str, Any]) -> str:
    api_version = str(reference.get("apiVersion") or "")
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    if group == KRUISE_GROUP:
        return f"OpenKruise Advanced DaemonSet {reference.get('name')} ({api_version})"
    return f"DaemonSet {reference.get('name')}" + (
        f" ({api_version})" if api_version and api_version != "apps/v1" else ""
    )


def decide_pod(
    pod: Mapping[str, Any],
    *,
    force: bool = False,
    delete_emptydir_data: bool = False,
    ignore_daemonsets: bool = True,
) -> PodDecision:
    """Evict, skip or refuse one pod of the node, with kubectl drain's rules: mirror pods and
    DaemonSet pods (any controller of kind DaemonSet: apps/v1 and OpenKruise's
    apps.kruise.io Advanced DaemonSet) are skipped, finished pods are always evicted, pods
    with emptyDir volumes need ``delete_emptydir_data`` and pods without a controller need
    ``force``."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    if MIRROR_ANNOTATION in (metadata.get("annotations") or {}):
        return PodDecision(
            "skip", "mirror pod of a static pod: the kubelet runs it from a file, not the API"
        )
    phase = (pod.get("status") or {}).get("phase")
    finished = phase in FINISHED_PHASES
    controller = controller_of(pod)
    if controller is not None and controller.get("kind") == "DaemonSet" and not finished:
        owner = _daemonset_label(controller)
        if ignore_daemonsets:
            return PodDecision(
                "skip", f"managed by {owner}, which would start it again on this node"
            )
        return PodDecision(
            "refuse",
            f"managed by {owner}; set ignore_daemonsets=true to leave DaemonSet pods in place",
        )
    if finished:
        return PodDecision("evict", notes=(f"finished ({phase})",))
    problems: list[str] = []
    notes: list[str] = []
    empty_dirs = [
        str(volume.get("name"))
        for volume in spec.get("volumes") or []
        if isinstance(volume, Mapping) and "emptyDir" in volume
    ]
    if empty_dirs:
        volumes = ", ".join(empty_dirs)
        if delete_emptydir_data:
            notes.append(f"emptyDir data deleted ({volumes})")
        else:
            problems.append(
                f"its emptyDir data ({volumes}) would be lost; set delete_emptydir_data=true "
                "to evict it anyway"
            )
    if controller is None:
        if force:
            notes.append("no controller: nothing recreates it")
        else:
            problems.append(
                "no controller manages it (no ownerReference with controller: true), so "
                "nothing would recreate it; set force=true to evict it anyway"
            )
    if problems:
        return PodDecision("refuse", "; ".join(problems))
    return PodDecision("evict", notes=tuple(notes))


@dataclass
class DrainPlan:
    evict: list[PodRef] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)


def _identity(pod: Mapping[str, Any]) -> tuple[str, str, str]:
    metadata = pod.get("metadata") or {}
    return (
        str(metadata.get("namespace") or ""),
        str(metadata.get("name") or ""),
        str(metadata.get("uid") or ""),
    )


def plan_drain(pods: Iterable[Mapping[str, Any]], options: DrainOptions) -> DrainPlan:
    """Every pod of the node, classified; each list sorted by namespace and name."""
    plan = DrainPlan()
    for pod in sorted(pods, key=lambda p: _identity(p)[:2]):
        namespace, name, uid = _identity(pod)
        decision = decide_pod(
            pod,
            force=options.force,
            delete_emptydir_data=options.delete_emptydir_data,
            ignore_daemonsets=options.ignore_daemonsets,
        )
        if decision.action == "evict":
            plan.evict.append(PodRef(namespace, name, uid, decision.notes))
        else:
            entry = {"namespace": namespace, "name": name, "reason": decision.reason}
            (plan.skipped if decision.action == "skip" else plan.refused).append(entry)
    return plan


def _listing(entries: list[str]) -> str:
    shown = "; ".join(entries[:LISTED_IN_MESSAGES])
    hidden = len(entries) - LISTED_IN_MESSAGES
    return shown + (f"; and {hidden} more" if hidden > 0 else "")


def refusal_message(node: str, refused: list[dict[str, str]], *, changed: bool = False) -> str:
    entries = [f"{p['namespace']}/{p['name']} ({p['reason']})" for p in refused]
    tail = "" if changed else "; nothing was changed"
    return (
        f"cannot drain node {node}: {len(refused)} pod(s) must not be evicted without an option: "
        f"{_listing(entries)}{tail}"
    )


def eviction_warnings(evicted: Iterable[PodRef], *, check_mode: bool = False) -> list[str]:
    """One warning per kind of loss: pods nothing recreates, emptyDir data deleted."""
    verb = "would be" if check_mode else "were"
    unmanaged = [p.key for p in evicted if any(n.startswith("no controller") for n in p.notes)]
    local = [p.key for p in evicted if any(n.startswith("emptyDir") for n in p.notes)]
    warnings = []
    if unmanaged:
        warnings.append(
            f"{len(unmanaged)} pod(s) without a controller {verb} evicted (force=true) and will "
            f"not come back: {_listing(unmanaged)}"
        )
    if local:
        warnings.append(
            f"{len(local)} pod(s) {verb} evicted with their emptyDir data "
            f"(delete_emptydir_data=true): {_listing(local)}"
        )
    return warnings


# ---------------------------------------------------------------------------- evictions


@dataclass(frozen=True)
class EvictionOutcome:
    kind: str  # evicted | gone | retry | fallback | failed | unsent (the API server unreachable)
    reason: str = ""
    pdb: str | None = None


def eviction_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(name, safe='')}/eviction"


def eviction_body(pod: PodRef, api_version: str, grace_period: int | None) -> dict[str, Any]:
    """The Eviction, with a UID precondition: if the pod was replaced by one of the same name,
    the API answers 409 instead of evicting the newcomer."""
    delete_options: dict[str, Any] = {"preconditions": {"uid": pod.uid}} if pod.uid else {}
    if grace_period is not None:
        delete_options["gracePeriodSeconds"] = grace_period
    body: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": "Eviction",
        "metadata": {"name": pod.name, "namespace": pod.namespace},
    }
    if delete_options:
        body["deleteOptions"] = delete_options
    return body


def pdb_name(messages: Iterable[str]) -> str | None:
    """The PodDisruptionBudget named by a ``DisruptionBudget`` status cause."""
    for message in messages:
        match = _PDB_NAME.match(message)
        if match:
            return match.group(1)
    return None


def _status_document(body: bytes | str | Mapping[str, Any] | None) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        return body
    if not body:
        return {}
    try:
        document = json.loads(body)
    except ValueError:
        return {"message": (body.decode(errors="replace") if isinstance(body, bytes) else body)}
    return document if isinstance(document, Mapping) else {}


def interpret_eviction(
    status: int, body: bytes | str | Mapping[str, Any] | None, api_version: str = EVICTION_V1
) -> EvictionOutcome:
    """What one answer of ``POST pods/NAME/eviction`` means for that pod."""
    if status < 300:
        return EvictionOutcome("evicted")
    document = _status_document(body)
    message = str(document.get("message") or "").strip()
    details = document.get("details") or {}
    causes = [c for c in details.get("causes") or [] if isinstance(c, Mapping)]
    # A StatusCause's type is serialised as "reason".
    cause_types = {c.get("reason") or c.get("type") for c in causes}
    budget = [
        str(c.get("message") or "")
        for c in causes
        if (c.get("reason") or c.get("type")) == "DisruptionBudget"
    ]
    pdb = pdb_name(budget)
    budget_reason = "; ".join(m for m in budget if m) or message
    if status == 429:
        return EvictionOutcome("retry", budget_reason or "HTTP 429 Too Many Requests", pdb)
    if status == 404:
        if details.get("kind") in ("pods", "pod") or (details.get("name") and "pods" in message):
            return EvictionOutcome("gone", "already deleted")
        if api_version == EVICTION_V1:
            return EvictionOutcome("fallback", f"no policy/v1 eviction: {message}")
        return EvictionOutcome(
            "failed", f"the API server has no pods/eviction subresource (HTTP 404: {message})"
        )
    if (
        status in (400, 415)
        and api_version == EVICTION_V1
        and EVICTION_V1 in message
        and _NOT_REGISTERED.search(message)
    ):
        return EvictionOutcome("fallback", message)
    if status == 409:
        if "precondition" in message.lower():
            return EvictionOutcome("gone", "replaced by a new pod of the same name")
        return EvictionOutcome("retry", f"conflict: {message}")
    if status == 403:
        if budget:
            return EvictionOutcome("retry", budget_reason, pdb)
        if "NamespaceTerminating" in cause_types:
            return EvictionOutcome("retry", f"namespace terminating: {message}")
        return EvictionOutcome("failed", f"forbidden: {message}")
    if status == 500 and "more than one PodDisruptionBudget" in message:
        return EvictionOutcome(
            "failed", f"{message} Make the budgets' selectors cover each pod at most once"
        )
    if status >= 500:
        return EvictionOutcome("retry", f"HTTP {status}: {message}")
    return EvictionOutcome("failed", f"HTTP {status}: {message}")


def backoff_delay(
    step: int,
    random_fraction: float,
    *,
    initial: float = BACKOFF_INITIAL,
    cap: float = BACKOFF_CAP,
) -> float:
    """Seconds before trying a refused eviction again: ``initial`` doubled per refusal so far
    (``step`` >= 1), jittered by +-20 % (``random_fraction`` in [0, 1)), never over ``cap``.
    Jitter spreads the retries of pods behind one budget, so one of them tends to try soon
    after the budget allows a disruption again."""
    return exponential_backoff(
        step, random_fraction, initial=initial, cap=cap, jitter_low=0.8, jitter_spread=0.4
    )


def next_poll_interval(previous: float | None, progressed: bool) -> float:
    """How long until the next look for deleted pods: short while pods go away, doubling up to
    :data:`POLL_CAP` while none does (a real kubelet may take the whole grace period)."""
    if previous is None or progressed:
        return POLL_INITIAL
    return min(POLL_CAP, previous * 2)


@dataclass
class PodTask:
    pod: PodRef
    attempts: int = 0  # eviction requests sent
    refusals: int = 0  # answers that asked to try again (429 from a budget, ...)
    reason: str = ""  # the last refusal or the failure
    pdb: str | None = None
    evicted_at: float | None = None
    gone_at: float | None = None
    failed: bool = False
    backoff_step: int = 0  # refusals since the budget last let one of its pods go
    due: float | None = None  # when the next attempt is queued for; None when not queued
    ticket: int = 0  # the queue entry that is current (older entries are stale)


def left_reason(task: PodTask) -> str:
    """Why a pod is still on the node when the drain ends."""
    if task.failed:
        return f"eviction failed: {task.reason}"
    if task.evicted_at is not None:
        return (
            "evicted, still terminating (its grace period or finalizers outlast the timeout; "
            "grace_period= shortens it)"
        )
    if task.refusals and task.pdb:
        return (
            f"blocked by PodDisruptionBudget {task.pdb} ({task.refusals} refusals): {task.reason}"
        )
    if task.refusals:
        return f"eviction refused {task.refusals} times: {task.reason}"
    return "not evicted before the deadline"


def left_entry(task: PodTask) -> dict[str, Any]:
    return {
        "namespace": task.pod.namespace,
        "name": task.pod.name,
        "uid": task.pod.uid,
        "reason": left_reason(task),
        "pdb": task.pdb,
        "attempts": task.attempts,
        "evicted": task.evicted_at is not None,
    }


def evicted_entry(task: PodTask, started: float) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "namespace": task.pod.namespace,
        "name": task.pod.name,
        "uid": task.pod.uid,
        "attempts": task.attempts,
        "refusals": task.refusals,
        "pdb": task.pdb,
        "seconds": round((task.gone_at or started) - started, 3),
    }
    notes = list(task.pod.notes)
    if task.evicted_at is None and task.reason:
        notes.append(task.reason)
    if notes:
        entry["notes"] = notes
    return entry


def deadline_message(
    node: str, timeout: float, left: list[dict[str, Any]], evicted: int, node_note: str
) -> str:
    entries = [f"{p['namespace']}/{p['name']}: {p['reason']}" for p in left]
    return (
        f"drain of node {node} did not finish within {timeout:g} s: {len(left)} pod(s) left "
        f"({evicted} evicted): {_listing(entries)}. {node_note}"
    )


class EvictionRun:
    """Evicts ``tasks`` with at most ``concurrency`` requests in flight, retrying refused ones
    with backoff until ``deadline``, and confirms each deletion by UID."""

    def __init__(
        self,
        client: KubeClient,
        node: str,
        tasks: list[PodTask],
        *,
        grace_period: int | None,
        concurrency: int,
        deadline: float,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        backoff_initial: float = BACKOFF_INITIAL,
        backoff_cap: float = BACKOFF_CAP,
    ) -> None:
        self.client = client
        self.node = node
        self.tasks = tasks
        self.grace_period = grace_period
        self.concurrency = concurrency
        self.deadline = deadline
        self.clock = clock
        self.rng = rng
        self.backoff_initial = backoff_initial
        self.backoff_cap = backoff_cap
        self.api_version = EVICTION_V1
        self.first_sent: float | None = None
        self.last_accepted: float | None = None
        self.finished: float | None = None
        self._queue: list[tuple[float, int, PodTask]] = []
        self._waiting: dict[str, PodTask] = {}
        self._order = 0

    def _push(self, due: float, task: PodTask) -> None:
        self._order += 1
        task.due, task.ticket = due, self._order
        heapq.heappush(self._queue, (due, self._order, task))

    def _next_due(self) -> float | None:
        """When the first queued attempt is due, dropping entries a wake-up made stale."""
        while self._queue and self._queue[0][1] != self._queue[0][2].ticket:
            heapq.heappop(self._queue)
        return self._queue[0][0] if self._queue else None

    def _pop(self) -> PodTask:
        task = heapq.heappop(self._queue)[2]
        task.due = None
        return task

    def _wake_waiters(self, pdb: str, now: float) -> None:
        """A pod ``pdb`` refused was just evicted: the budget allows disruptions again as soon
        as that pod's replacement is ready. Its other waiters start their backoff over (about
        0.5 s), so one of them catches the budget soon after that instead of up to 5 s later."""
        for waiter in self.tasks:
            if waiter.pdb != pdb or waiter.due is None:
                continue
            due = now + backoff_delay(
                1, self.rng(), initial=self.backoff_initial, cap=self.backoff_cap
            )
            if due < waiter.due:
                waiter.backoff_step = 0
                self._push(due, waiter)

    def _evict(self, pod: PodRef, api_version: str) -> EvictionOutcome:
        # The client resends it through connection failures: a second eviction of the same pod
        # is harmless (its UID precondition answers 409 once the pod was replaced, 404 once it
        # is gone). Every answer (429 from a budget, 5xx) is interpreted here.
        try:
            self.client.send(
                "POST",
                eviction_path(pod.namespace, pod.name),
                body=eviction_body(pod, api_version, self.grace_period),
                counted_as="pods/eviction",
                deadline=self.deadline,
                idempotent=True,
                retry_statuses=(),
            )
        except KubeRequestError as error:
            return interpret_eviction(
                error.status, error.body or {"message": error.message}, api_version
            )
        except KubeAccessError as error:
            return EvictionOutcome("unsent", str(error))
        return EvictionOutcome("evicted")

    def _apply(self, task: PodTask, api_version: str, outcome: EvictionOutcome) -> None:
        now = self.clock()
        if outcome.kind == "evicted":
            task.evicted_at = self.last_accepted = now
            self._waiting[task.pod.uid] = task
            if task.pdb:
                self._wake_waiters(task.pdb, now)
        elif outcome.kind == "gone":
            task.gone_at = now
            task.reason = outcome.reason
        elif outcome.kind == "fallback":
            if api_version == EVICTION_V1:
                self.api_version = EVICTION_V1BETA1
            self._push(now, task)
        elif outcome.kind == "unsent":
            # The client retried until the deadline: at the deadline the pod keeps what was
            # known of it (a budget's refusal, ...); before it, the server cannot be used at all
            # (credentials, certificate) and the pod fails with why.
            if now < self.deadline - LAST_TRY_MARGIN:
                task.failed = True
                task.reason = outcome.reason
        elif outcome.kind == "retry":
            task.refusals += 1
            task.backoff_step += 1
            task.reason = outcome.reason
            task.pdb = outcome.pdb or task.pdb
            delay = backoff_delay(
                task.backoff_step, self.rng(), initial=self.backoff_initial, cap=self.backoff_cap
            )
            due = min(now + delay, self.deadline - LAST_TRY_MARGIN)
            if due > now:
                self._push(due, task)
        else:
            task.failed = True
            task.reason = outcome.reason

    def _present_uids(self) -> set[str]:
        uids = set()
        try:
            for raw in self.client.list_pages(
                "/api/v1/pods",
                {"fieldSelector": f"spec.nodeName={self.node}"},
                metadata_only=True,
                counted_as="pods (wait for deletion)",
                deadline=self.deadline,
            ):
                for item in json.loads(raw).get("items") or []:
                    uids.add(str((item.get("metadata") or {}).get("uid") or ""))
        except (KubeAccessError, KubeRequestError, ValueError) as error:
            raise DrainError(
                f"cannot list the pods of node {self.node} to see which evicted pods are gone: "
                f"{error}"
            ) from error
        return uids

    def _poll(self) -> bool:
        """Mark the evicted pods whose UID left the node; whether any did."""
        present = self._present_uids()
        now = self.clock()
        gone = [uid for uid in self._waiting if uid not in present]
        for uid in gone:
            self._waiting.pop(uid).gone_at = now
        return bool(gone)

    def run(self) -> None:
        start = self.clock()
        for task in self.tasks:
            if task.attempts == 0:  # tasks added since the last run; the others are settled
                self._push(start, task)
        inflight: dict[Future[EvictionOutcome], tuple[PodTask, str]] = {}
        poll_interval = POLL_INITIAL
        next_poll = float("inf")
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            try:
                while True:
                    now = self.clock()
                    if now >= self.deadline:
                        break
                    while len(inflight) < self.concurrency:
                        due = self._next_due()
                        if due is None or due > now:
                            break
                        task = self._pop()
                        task.attempts += 1
                        if self.first_sent is None:
                            self.first_sent = now
                        future = pool.submit(self._evict, task.pod, self.api_version)
                        inflight[future] = (task, self.api_version)
                    if self._waiting and now >= next_poll:
                        progressed = self._poll()
                        poll_interval = next_poll_interval(poll_interval, progressed)
                        next_poll = self.clock() + poll_interval
                    due = self._next_due()
                    if due is None and not inflight and not self._waiting:
                        break
                    wake = self.deadline
                    if self._waiting:
                        wake = min(wake, next_poll)
                    if due is not None and len(inflight) < self.concurrency:
                        wake = min(wake, due)
                    timeout = max(0.0, wake - self.clock())
                    if not inflight:
                        time.sleep(timeout)
                        continue
                    done = wait(list(inflight), timeout=timeout, return_when=FIRST_COMPLETED).done
                    for future in done:
                        task, version = inflight.pop(future)
                        outcome = future.result()
                        self._apply(task, version, outcome)
                        if outcome.kind == "evicted":
                            poll_interval = POLL_INITIAL
                            next_poll = min(next_poll, self.clock() + POLL_INITIAL)
            finally:
                # Requests still in flight at the deadline end on their own; an eviction they
                # got accepted counts, so the report says what really happened.
                for future, (task, version) in inflight.items():
                    try:
                        outcome = future.result()
                    except (KubeAccessError, KubeRequestError):
                        continue
                    if outcome.kind in ("evicted", "gone", "failed"):
                        self._apply(task, version, outcome)
        if self._waiting:
            # One last look, at or after the deadline: what it cannot see stays "terminating".
            with contextlib.suppress(DrainError):
                self._poll()
        self.finished = self.clock()

    def left(self) -> list[PodTask]:
        return [t for t in self.tasks if t.gone_at is None]

    def done(self) -> list[PodTask]:
        return [t for t in self.tasks if t.gone_at is not None]


# ---------------------------------------------------------------------------- permissions


def read_needs(options: DrainOptions) -> list[Access]:
    """The reads of every state: the node, and for a drain the node's pods, listed across all
    namespaces (before the drain, and while waiting for evicted pods to go)."""
    needs = [Access("get", "nodes", name=options.node)]
    if options.state == "drain":
        needs.append(Access("list", "pods", why="the node's pods, in every namespace"))
        if options.capacity_check:
            needs.append(Access("list", "nodes", why="room for the node's pods elsewhere"))
    return needs


def change_needs(
    options: DrainOptions, *, cordon: bool, eviction_namespaces: Iterable[str] = ()
) -> list[Access]:
    """The changes, once the node and its pods are known: ``cordon`` when ``spec.unschedulable``
    changes (cordoning, uncordoning, or cordoning before a drain, which a failed drain undoes
    with the same patch), and an eviction in each namespace of the pods to evict."""
    needs = [Access("patch", "nodes", name=options.node)] if cordon else []
    needs += [
        Access("create", "pods", namespace=namespace, subresource="eviction")
        for namespace in sorted(set(eviction_namespaces))
    ]
    return needs


def _action(options: DrainOptions) -> str:
    return f"{options.state} node {options.node}"


# ---------------------------------------------------------------------------- the task


@dataclass
class DrainOutcome:
    failed: bool
    msg: str
    result: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def node_path(name: str) -> str:
    return f"/api/v1/nodes/{quote(name, safe='')}"


def read_node(client: KubeClient, name: str, deadline: float | None = None) -> Mapping[str, Any]:
    try:
        return client.get(node_path(name), counted_as="nodes", deadline=deadline)
    except KubeRequestError as error:
        if error.status == 404:
            raise DrainError(
                f"node {name!r} not found in the cluster at {client.settings.host}: check name= "
                "(`kubectl get nodes` lists the nodes) and the kubeconfig or context"
            ) from error
        raise DrainError(f"cannot read node {name!r}: {error}") from error


def set_unschedulable(
    client: KubeClient, name: str, value: bool, deadline: float | None = None
) -> None:
    # A merge patch that sets one field: sending it twice (a retry) is harmless.
    try:
        client.patch(
            node_path(name),
            {"spec": {"unschedulable": value}},
            counted_as="nodes",
            deadline=deadline,
        )
    except KubeRequestError as error:
        action = "cordon" if value else "uncordon"
        raise DrainError(
            f"cannot {action} node {name!r}: {error}. The credentials need patch on nodes"
        ) from error


def list_node_pods(
    client: KubeClient, options: DrainOptions, deadline: float | None = None
) -> list[dict[str, Any]]:
    params = {"fieldSelector": f"spec.nodeName={options.node}"}
    if options.pod_selector:
        params["labelSelector"] = options.pod_selector
    try:
        return list(client.list_items("/api/v1/pods", params, counted_as="pods", deadline=deadline))
    except KubeRequestError as error:
        if error.status == 400 and options.pod_selector:
            raise DrainError(
                f"pod_selector={options.pod_selector!r} is not a label selector the API server "
                f"accepts: {error.message}. Use kubectl's -l syntax, for example "
                "app=web,tier!=db"
            ) from error
        raise DrainError(f"cannot list the pods of node {options.node!r}: {error}") from error


def check_capacity(
    client: KubeClient,
    options: DrainOptions,
    node_pods: list[dict[str, Any]],
    plan: DrainPlan,
    deadline: float | None = None,
) -> CapacityVerdict:
    """Whether the pods the drain evicts fit on the other nodes (:mod:`.drain_capacity`)."""
    evicted = {p.uid for p in plan.evict}
    to_place = [pod for pod in node_pods if (pod.get("metadata") or {}).get("uid") in evicted]
    try:
        nodes = list(client.list_items("/api/v1/nodes", {}, counted_as="nodes", deadline=deadline))
        pods = list(
            client.list_items(
                "/api/v1/pods",
                {"fieldSelector": "status.phase!=Succeeded,status.phase!=Failed"},
                counted_as="pods",
                deadline=deadline,
            )
        )
        verdict = drain_capacity(options.node, to_place, nodes, pods)
    except KubeRequestError as error:
        raise DrainError(
            f"cannot read the cluster's nodes and pods to check room for node {options.node}'s "
            f"pods: {error}"
        ) from error
    except ValueError as error:  # a quantity the API server would not have stored
        raise DrainError(f"cannot check room for node {options.node}'s pods: {error}") from error
    return verdict


def _diff(before: bool, after: bool, pods_before: list[str] | None = None) -> dict[str, Any]:
    diff: dict[str, Any] = {"before": {"unschedulable": before}, "after": {"unschedulable": after}}
    if pods_before is not None:
        diff["before"]["pods_to_evict"] = pods_before
        diff["after"]["pods_to_evict"] = []
    return diff


def run_node_drain(
    client: KubeClient,
    options: DrainOptions,
    *,
    check_mode: bool = False,
    diff: bool = False,
    clock: Callable[[], float] = time.monotonic,
    rng: Callable[[], float] = random.random,
    backoff_initial: float = BACKOFF_INITIAL,
    backoff_cap: float = BACKOFF_CAP,
    access_check: AccessCheck | None = None,
) -> DrainOutcome:
    """Cordon, uncordon or drain ``options.node``. Failures (bad input, refused pods, missing
    permissions, the deadline, the API) come back as a failed outcome; nothing raises but
    programming errors. ``access_check`` (:func:`.access.checker`) is asked about every
    request before the reads and before the first change, in check mode too; None skips it."""
    started = clock()
    # The task's deadline, for the evictions and for every request's retries.
    deadline = started + options.timeout
    timings: dict[str, float] = {}
    result: dict[str, Any] = {"node": options.node, "state": options.state, "changed": False}

    def finish(failed: bool, msg: str, warnings: list[str] | None = None) -> DrainOutcome:
        timings["total"] = round(clock() - started, 3)
        result["timings"] = timings
        result["requests"] = client.request_summary()
        return DrainOutcome(failed, msg, result, warnings or [])

    def refused(needs: list[Access]) -> str | None:
        return access.refusal_if_denied(access_check, needs, _action(options))

    try:
        refusal = refused(read_needs(options))
        if refusal:
            return finish(True, refusal)
        node = read_node(client, options.node, deadline)
    except (DrainError, KubeAccessError) as error:
        return finish(True, str(error))
    before = bool((node.get("spec") or {}).get("unschedulable"))

    if options.state in ("cordon", "uncordon"):
        wanted = options.state == "cordon"
        changed = before != wanted
        try:
            refusal = refused(change_needs(options, cordon=changed))
        except KubeAccessError as error:
            return finish(True, str(error))
        if refusal:
            return finish(True, refusal)
        result.update(changed=changed, unschedulable={"before": before, "after": wanted})
        if diff:
            result["diff"] = _diff(before, wanted)
        if changed and not check_mode:
            try:
                set_unschedulable(client, options.node, wanted, deadline)
            except (DrainError, KubeAccessError) as error:
                result["changed"] = False
                return finish(True, str(error))
        done = "cordoned" if wanted else "uncordoned"
        if not changed:
            return finish(False, f"node {options.node} is already {done}")
        verb = f"would be {done}" if check_mode else done
        return finish(False, f"node {options.node} {verb}")

    # drain: classify first, so refusals fail before anything changes
    try:
        node_pods = list_node_pods(client, options, deadline)
        plan = plan_drain(node_pods, options)
    except (DrainError, KubeAccessError) as error:
        return finish(True, str(error))
    timings["preflight"] = round(clock() - started, 3)
    result["skipped_pods"] = list(plan.skipped)
    # What the node is: refused pods fail the task before it is cordoned.
    result["unschedulable"] = {"before": before, "after": before}
    if plan.refused:
        result["refused"] = plan.refused
        return finish(True, refusal_message(options.node, plan.refused))
    eviction_namespaces = {p.namespace for p in plan.evict}
    try:
        refusal = refused(
            change_needs(options, cordon=not before, eviction_namespaces=eviction_namespaces)
        )
    except KubeAccessError as error:
        return finish(True, str(error))
    if refusal:
        return finish(True, refusal)
    if options.capacity_check:
        try:
            verdict = check_capacity(client, options, node_pods, plan, deadline)
        except (DrainError, KubeAccessError) as error:
            return finish(True, str(error))
        result["capacity"] = verdict.to_dict()
        if not verdict.fits:
            return finish(True, capacity_message(options.node, verdict))

    if check_mode:
        result["unschedulable"]["after"] = True  # as it would be
        result["would_evict"] = [
            {"namespace": p.namespace, "name": p.name, "uid": p.uid, "notes": list(p.notes)}
            for p in plan.evict
        ]
        result["evicted"] = []
        result["changed"] = not before or bool(plan.evict)
        if diff and result["changed"]:
            result["diff"] = _diff(before, True, [p.key for p in plan.evict])
        return finish(
            False,
            f"node {options.node}: would "
            + ("" if before else "cordon it and ")
            + f"evict {len(plan.evict)} pod(s), skip {len(plan.skipped)}",
            eviction_warnings(plan.evict, check_mode=True),
        )

    def relist() -> DrainPlan:
        """The node's pods again: a refused one, or one in a namespace not yet asked about
        and not allowed, fails the drain."""
        plan = plan_drain(list_node_pods(client, options, deadline), options)
        result["skipped_pods"] = list(plan.skipped)
        if plan.refused:
            result["refused"] = plan.refused
            raise DrainError(refusal_message(options.node, plan.refused, changed=True))
        new_namespaces = {p.namespace for p in plan.evict} - eviction_namespaces
        if new_namespaces:
            refusal = refused(
                change_needs(options, cordon=False, eviction_namespaces=new_namespaces)
            )
            if refusal:
                raise DrainError(refusal.removesuffix(" Nothing was changed.").rstrip("."))
            eviction_namespaces.update(new_namespaces)
        return plan

    cordoned_here = False
    run: EvictionRun | None = None
    try:
        if not before:
            mark = clock()
            set_unschedulable(client, options.node, True, deadline)
            cordoned_here = True
            result["unschedulable"]["after"] = True
            # A pod may have been bound between the first LIST and the cordon.
            plan = relist()
            timings["cordon"] = round(clock() - mark, 3)
        result["changed"] = cordoned_here
        pods_before = [p.key for p in plan.evict]
        run = EvictionRun(
            client,
            options.node,
            [PodTask(p) for p in plan.evict],
            grace_period=options.grace_period,
            concurrency=options.concurrency,
            deadline=deadline,
            clock=clock,
            rng=rng,
            backoff_initial=backoff_initial,
            backoff_cap=backoff_cap,
        )
        run.run()
        handled = {t.pod.uid for t in run.tasks}
        for _round in range(LATE_POD_ROUNDS):
            if run.left():
                break
            late = [p for p in relist().evict if p.uid not in handled]
            if not late:
                break
            run.tasks.extend(PodTask(p) for p in late)
            handled.update(p.uid for p in late)
            result.setdefault("late_pods", []).extend(p.key for p in late)
            run.run()
        else:
            late = [p.key for p in relist().evict if p.uid not in handled]
            if late and not run.left():
                raise DrainError(
                    f"drain of node {options.node} failed: pods keep being bound to the "
                    f"cordoned node ({_listing(late)}); whatever creates them sets "
                    "spec.nodeName itself or tolerates node.kubernetes.io/unschedulable"
                )
        _record_run(result, timings, run, started)
        left = run.left()
        if left:
            result["left"] = [left_entry(t) for t in left]
            failed_early = all(t.failed for t in left)
            if failed_early:
                entries = [f"{t.pod.key}: {left_reason(t)}" for t in left]
                raise DrainError(
                    f"drain of node {options.node} failed: {len(left)} pod(s) could not be "
                    f"evicted: {_listing(entries)}"
                )
            raise _DeadlineExpired(len(run.done()))
    except (DrainError, KubeAccessError, KubeRequestError, _DeadlineExpired) as error:
        if run is not None:
            _record_run(result, timings, run, started)
            result["left"] = [left_entry(t) for t in run.left()]
        note = _restore_after_failure(
            client, options, cordoned_here, result, max(deadline, clock() + UNCORDON_RETRY_SECONDS)
        )
        if isinstance(error, _DeadlineExpired):
            message = deadline_message(
                options.node, options.timeout, result["left"], error.evicted, note
            )
        elif isinstance(error, KubeRequestError):
            message = f"drain of node {options.node} failed: {error}" + (
                f". {note}" if note else ""
            )
        else:
            message = f"{error}. {note}" if note else str(error)
        still_cordoned = cordoned_here and not result.get("uncordoned")
        result["changed"] = bool(result.get("evicted")) or still_cordoned
        return finish(True, message, eviction_warnings(_done_refs(run)))
    except BaseException:
        # A bug must not leave a node cordoned by this task behind.
        _restore_after_failure(
            client, options, cordoned_here, result, max(deadline, clock() + UNCORDON_RETRY_SECONDS)
        )
        raise

    result["changed"] = cordoned_here or bool(result.get("evicted"))
    if diff and result["changed"]:
        result["diff"] = _diff(before, True, pods_before)
    evicted = len(result.get("evicted") or [])
    return finish(
        False,
        f"node {options.node} drained in {clock() - started:.1f} s: {evicted} pod(s) evicted, "
        f"{len(plan.skipped)} skipped",
        eviction_warnings(_done_refs(run)),
    )


def run_module(module: ClusterModule) -> dict[str, Any]:
    """The node_drain module's result; a failed outcome fails the task with its result."""
    problems = validate_options(module.params)
    if problems:
        module.fail_json(msg="; ".join(problems))
    options = options_from_params(module.params)
    client = module.client(max_connections=options.concurrency)
    outcome = run_node_drain(
        client,
        options,
        check_mode=module.check_mode,
        diff=module._diff,
        access_check=access.checker(client),
    )
    for warning in outcome.warnings:
        module.warn(warning)
    if outcome.failed:
        module.fail_json(msg=outcome.msg, **outcome.result)
    return {"msg": outcome.msg, **outcome.result}


class _DeadlineExpired(Exception):
    def __init__(self, evicted: int) -> None:
        super().__init__("deadline expired")
        self.evicted = evicted


def _done_refs(run: EvictionRun | None) -> list[PodRef]:
    return [t.pod for t in run.done()] if run is not None else []


def _record_run(
    result: dict[str, Any], timings: dict[str, float], run: EvictionRun, started: float
) -> None:
    result["evicted"] = [evicted_entry(t, started) for t in run.done()]
    result["eviction_api"] = run.api_version
    refusals = sum(t.refusals for t in run.tasks)
    result["evictions"] = {
        "pods": len(run.tasks),
        "requests": sum(t.attempts for t in run.tasks),
        "refusals": refusals,
    }
    if run.first_sent is not None:
        if run.last_accepted is not None:
            timings["evictions"] = round(run.last_accepted - run.first_sent, 3)
        if run.finished is not None:
            timings["drain"] = round(run.finished - run.first_sent, 3)


def _restore_after_failure(
    client: KubeClient,
    options: DrainOptions,
    cordoned_here: bool,
    result: dict[str, Any],
    deadline: float | None = None,
) -> str:
    """Uncordon a node this task cordoned, unless told not to, retrying through transient
    failures until ``deadline``; what to tell the user."""
    if not cordoned_here:
        return ""
    if options.leave_cordoned_on_failure:
        result["uncordoned"] = False
        return "The node stays cordoned (leave_cordoned_on_failure=true)"
    try:
        set_unschedulable(client, options.node, False, deadline)
    except (DrainError, KubeAccessError) as error:
        result["uncordoned"] = False
        return f"The node stays cordoned: uncordoning it failed too: {error}"
    result["uncordoned"] = True
    result["unschedulable"] = {"before": False, "after": False}
    return (
        "The node was uncordoned again, as this task had cordoned it; "
        "set leave_cordoned_on_failure=true to keep it cordoned"
    )
