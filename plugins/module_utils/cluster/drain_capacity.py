"""Whether the pods a drain evicts fit on the cluster's other nodes, as the scheduler's basic
filters see it: the node Ready and schedulable, its NoSchedule/NoExecute taints tolerated, the
pod's nodeSelector and required node affinity matched, and room for the pod's requests (CPU,
memory, pod slots) in the node's allocatable less what the pods already there request.

Pure functions over Node and Pod objects as the API returns them. Pods are placed largest first,
each on the node with the most room left that accepts it (the scheduler's default spreads pods
too). Pod (anti-)affinity, topology spread, ports, volumes and extended resources are not
modelled: a "fits" can still meet a scheduler that says no, never the other way round for the
resources counted here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

_SUFFIXES = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE]|)$")
_EXPONENT = re.compile(r"^[eE][+-]?[0-9]+$")
FINISHED_PHASES = ("Succeeded", "Failed")
# Taints with these effects keep new pods off a node unless tolerated.
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")


def parse_quantity(text: object) -> Decimal:
    """A Kubernetes resource quantity (``500m``, ``1.5``, ``128Mi``, ``1e3``) as a number."""
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    number, suffix = match.groups()
    try:
        value = Decimal(number)
    except InvalidOperation as error:
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from error
    if _EXPONENT.match(suffix):
        return value * Decimal(10) ** int(suffix[1:])
    return value * _SUFFIXES[suffix]


@dataclass(frozen=True)
class Resources:
    cpu: Decimal = Decimal(0)  # cores
    memory: Decimal = Decimal(0)  # bytes
    pods: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu + other.cpu, self.memory + other.memory, self.pods + other.pods)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu - other.cpu, self.memory - other.memory, self.pods - other.pods)

    def fits_in(self, room: Resources) -> bool:
        return self.cpu <= room.cpu and self.memory <= room.memory and self.pods <= room.pods

    def short(self) -> str:
        return f"cpu {_cores(self.cpu)}, memory {_bytes(self.memory)}"


def _cores(value: Decimal) -> str:
    millis = int(value * 1000)
    return f"{millis // 1000}" if millis % 1000 == 0 else f"{millis}m"


def _bytes(value: Decimal) -> str:
    for unit, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if value >= size:
            return f"{(value / size).quantize(Decimal('0.1')).normalize():f}{unit}"
    return f"{int(value)}"


def _amounts(resources: Mapping[str, Any] | None) -> Resources:
    resources = resources or {}
    return Resources(
        cpu=parse_quantity(resources.get("cpu", 0)),
        memory=parse_quantity(resources.get("memory", 0)),
    )


def _most(first: Resources, second: Resources) -> Resources:
    return Resources(
        max(first.cpu, second.cpu), max(first.memory, second.memory), max(first.pods, second.pods)
    )


def pod_requests(pod: Mapping[str, Any]) -> Resources:
    """What the scheduler reserves for a pod: its containers' requests summed, or the largest
    init container's if larger (init containers run one at a time), plus the pod's overhead,
    and one pod slot. A container with limits and no requests requests its limits."""
    spec = pod.get("spec") or {}

    def requested(container: Mapping[str, Any]) -> Resources:
        resources = container.get("resources") or {}
        return _amounts({**(resources.get("limits") or {}), **(resources.get("requests") or {})})

    total = Resources()
    for container in spec.get("containers") or []:
        total += requested(container)
    for container in spec.get("initContainers") or []:
        total = _most(total, requested(container))
    return total + _amounts(spec.get("overhead")) + Resources(pods=1)


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """``v1.Toleration.ToleratesTaint``."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return bool(key) and (toleration.get("value") or "") == (taint.get("value") or "")


def _expression_matches(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key = expression.get("key")
    operator = expression.get("operator")
    values = [str(value) for value in expression.get("values") or []]
    present = key in labels
    value = labels.get(str(key), "")
    if operator == "In":
        return present and value in values
    if operator == "NotIn":
        return not present or value not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(values) == 1:
        try:
            have, want = int(value), int(values[0])
        except ValueError:
            return False
        return have > want if operator == "Gt" else have < want
    return False


def _required_affinity_matches(spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    required = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms")
    if not required:
        return True
    labels = (node.get("metadata") or {}).get("labels") or {}
    fields = {"metadata.name": (node.get("metadata") or {}).get("name") or ""}
    for term in required:
        expressions = term.get("matchExpressions") or []
        field_expressions = term.get("matchFields") or []
        if not expressions and not field_expressions:
            continue  # an empty term matches nothing
        if all(_expression_matches(e, labels) for e in expressions) and all(
            _expression_matches(e, fields) for e in field_expressions
        ):
            return True
    return False


def node_rejects(node: Mapping[str, Any], pod: Mapping[str, Any]) -> str | None:
    """Why the scheduler would not put ``pod`` on ``node`` whatever its room, or None."""
    spec = pod.get("spec") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    selector = spec.get("nodeSelector") or {}
    if any(labels.get(key) != value for key, value in selector.items()):
        return "nodeSelector"
    if not _required_affinity_matches(spec, node):
        return "node affinity"
    tolerations = spec.get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in BLOCKING_EFFECTS and not any(
            tolerates(toleration, taint) for toleration in tolerations
        ):
            return f"taint {taint.get('key')}:{taint.get('effect')}"
    return None


def node_unavailable(node: Mapping[str, Any]) -> str | None:
    """Why no new pod goes to ``node`` at all (cordoned, not Ready), or None."""
    if (node.get("spec") or {}).get("unschedulable"):
        return "cordoned"
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    if ready is None or ready.get("status") != "True":
        return "not Ready"
    return None


def allocatable(node: Mapping[str, Any]) -> Resources:
    status = (node.get("status") or {}).get("allocatable") or {}
    return Resources(
        cpu=parse_quantity(status.get("cpu", 0)),
        memory=parse_quantity(status.get("memory", 0)),
        pods=int(parse_quantity(status.get("pods", 0))),
    )


@dataclass
class CapacityVerdict:
    """Where the drained node's pods would go: ``unplaced`` lists the pods no node can take."""

    pods: int
    nodes_considered: int
    unplaced: list[dict[str, str]] = field(default_factory=list)
    nodes_unavailable: dict[str, str] = field(default_factory=dict)

    @property
    def fits(self) -> bool:
        return not self.unplaced

    def to_dict(self) -> dict[str, Any]:
        return {
            "fits": self.fits,
            "pods": self.pods,
            "nodes_considered": self.nodes_considered,
            "unplaced": self.unplaced,
            "nodes_unavailable": self.nodes_unavailable,
        }


def _key(pod: Mapping[str, Any]) -> str:
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('namespace')}/{metadata.get('name')}"


def drain_capacity(
    drained_node: str,
    to_place: Iterable[Mapping[str, Any]],
    nodes: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
) -> CapacityVerdict:
    """Whether ``to_place`` (the pods a drain of ``drained_node`` evicts) fit on the other
    ``nodes``, given every pod of the cluster (``pods``) and what it reserves where it runs."""
    used: dict[str, Resources] = {}
    for pod in pods:
        node_name = (pod.get("spec") or {}).get("nodeName")
        if node_name and (pod.get("status") or {}).get("phase") not in FINISHED_PHASES:
            used[node_name] = used.get(node_name, Resources()) + pod_requests(pod)
    candidates: dict[str, Mapping[str, Any]] = {}
    room: dict[str, Resources] = {}
    unavailable: dict[str, str] = {}
    for node in nodes:
        name = str((node.get("metadata") or {}).get("name") or "")
        if name == drained_node:
            continue
        reason = node_unavailable(node)
        if reason:
            unavailable[name] = reason
            continue
        candidates[name] = node
        room[name] = allocatable(node) - used.get(name, Resources())
    placing = [
        (pod_requests(pod), pod)
        for pod in to_place
        if (pod.get("status") or {}).get("phase") not in FINISHED_PHASES
    ]
    placing.sort(key=lambda item: (-item[0].cpu, -item[0].memory, _key(item[1])))
    verdict = CapacityVerdict(len(placing), len(candidates), nodes_unavailable=unavailable)
    for requests, pod in placing:
        rejections: dict[str, int] = {}
        fitting = []
        for name, node in candidates.items():
            reason = node_rejects(node, pod)
            if reason is None and not requests.fits_in(room[name]):
                reason = "not enough room"
            if reason is None:
                fitting.append(name)
            else:
                rejections[reason] = rejections.get(reason, 0) + 1
        if fitting:
            best = max(fitting, key=lambda name: (room[name].cpu, room[name].memory, name))
            room[best] -= requests
            continue
        why = ", ".join(f"{count} {reason}" for reason, count in sorted(rejections.items()))
        verdict.unplaced.append(
            {
                "pod": _key(pod),
                "requests": requests.short(),
                "why": f"no node takes it ({why or 'no other node is Ready and schedulable'})",
            }
        )
    return verdict


def capacity_message(node: str, verdict: CapacityVerdict, listed: int = 5) -> str:
    shown = "; ".join(
        f"{u['pod']} ({u['requests']}): {u['why']}" for u in verdict.unplaced[:listed]
    )
    hidden = len(verdict.unplaced) - listed
    return (
        f"drain of node {node} refused: {len(verdict.unplaced)} of its {verdict.pods} pod(s) "
        f"would have nowhere to run on the other {verdict.nodes_considered} Ready, schedulable "
        f"node(s): {shown}{f'; and {hidden} more' if hidden > 0 else ''}. Add room or nodes (or "
        "uncordon one), or set capacity_check=false to drain anyway and leave them Pending. "
        "Nothing was changed."
    )
