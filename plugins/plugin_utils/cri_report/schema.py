"""The report's shape: its schema number, the order of the verdict groups and its entries' types
(build_report in model.py fills them)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

REPORT_SCHEMA = 2  # 2: the ways out are the plan's only (no node-only "paths")
VERDICT_ORDER = ("incompatible", "unknown", "compatible")

Verdict = Literal["compatible", "incompatible", "unknown"]


class EndpointEntry(TypedDict):
    socket: str | None
    aliases: list[str]
    kind: str | None
    runtime_name: str | None
    runtime_version: str | None
    cri_api_versions: list[str]
    error: str | None


class DaemonEntry(TypedDict):
    starts: bool | None
    socket: str | None
    runtimes: list[str]


class FindingEntry(TypedDict):
    severity: str
    source: str | None
    message: str


class NodeEntry(TypedDict):
    host: str
    verdict: Verdict
    reason: str
    runtime: str
    kubelet_runtime: str | None
    kubelet_endpoint: str | None
    kubelet_version: str | None
    daemon: DaemonEntry | None
    endpoints: list[EndpointEntry]
    docker: dict[str, Any] | None
    findings: list[FindingEntry]
    lines: dict[str, bool]


class PathEntry(TypedDict, total=False):
    id: str
    title: str
    fits: str  # yes | partly | no | not needed | unknown
    hosts: list[str]  # the nodes the statement is about
    statement: str
    costs: list[str]
