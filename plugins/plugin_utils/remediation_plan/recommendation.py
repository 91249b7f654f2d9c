"""The recommendation: the chosen path with its command lines, manual steps and overall risk."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.choice import (
    Choice,
    choose,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.commands import (
    CONTAINERD_ARCHIVE_PLACEHOLDER,
    CONTAINERD_RELEASES,
    MANUAL_STEPS_DOC,
    PLAYBOOK_CALLS,
    manual_steps,
    playbook_command,
    playbook_launch,
    runs_by_playbook,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.context import (
    Context,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.path_ids import (
    MIGRATE,
    PATH_TITLES,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.risk import (
    UNKNOWN_MARK,
    RiskLevel,
    max_risk,
    unknown_note,
)


@dataclass
class _Steps:
    """How the chosen steps are run: by playbook, or by hand where that cannot be."""

    reasons: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    launches: list[dict[str, Any]] = field(default_factory=list)
    first_command: str | None = None
    not_shipped: list[str] = field(default_factory=list)
    manual_steps: list[str] = field(default_factory=list)


def recommend(ctx: Context, paths: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    choice = choose(ctx, paths)
    steps = _run_steps(ctx, choice)
    level, risk_reasons = _overall_risk(ctx, paths[choice.path_id], choice)
    return {
        "path": choice.path_id,
        "title": PATH_TITLES[choice.path_id],
        "summary": choice.summary,
        "reasons": [*choice.reasons, *steps.reasons],
        "steps": list(choice.steps),
        "command": steps.first_command,
        "commands": steps.commands,
        "launches": steps.launches,
        "not_shipped": steps.not_shipped,
        "manual_steps": steps.manual_steps,
        "manual_steps_doc": MANUAL_STEPS_DOC if steps.manual_steps else None,
        "risk": {"level": level, "reasons": risk_reasons},
    }


def _run_steps(ctx: Context, choice: Choice) -> _Steps:
    steps = _Steps()
    for index, step in enumerate(choice.steps):
        call = PLAYBOOK_CALLS[step]
        step_nodes = ctx.migratable if step == MIGRATE else []
        if not runs_by_playbook(ctx, step):
            steps.reasons.append(
                f"OpenKruise is not installed: {call.fqcn} changes an installed OpenKruise and "
                "does not apply; the manual steps say how to install the right version"
            )
            steps.manual_steps += manual_steps(ctx, step, step_nodes)
            continue
        if step != MIGRATE and (ctx.install.install_error or ctx.install.installed is None):
            steps.reasons.append(
                f"{call.fqcn} refuses to change anything while kruise_info cannot read the "
                "install: "
                + (ctx.install.install_error or "whether OpenKruise is installed is unknown")
            )
        steps.commands.append(playbook_command(step, ctx.inventory, step_nodes))
        steps.launches.append(playbook_launch(step, step_nodes))
        if index == 0:
            steps.first_command = steps.commands[0]
        if call.playbook not in ctx.shipped:
            steps.not_shipped.append(call.fqcn)
            steps.manual_steps += manual_steps(ctx, step, step_nodes)
    if any(node.old_containerd for node in ctx.migratable) and MIGRATE in choice.steps:
        steps.reasons.append(
            f"the containerd upgrade takes a release archive of containerd 1.6 or newer for the "
            f"nodes' architecture (containerd-<version>-linux-<arch>.tar.gz from "
            f"{CONTAINERD_RELEASES}): replace {CONTAINERD_ARCHIVE_PLACEHOLDER} with its path on "
            "the controller"
        )
    if steps.not_shipped:
        steps.reasons.append(
            f"{', '.join(steps.not_shipped)} {'is' if len(steps.not_shipped) == 1 else 'are'} "
            f"not shipped in this collection yet: follow the manual steps ({MANUAL_STEPS_DOC}); "
            "the command is what it will be"
        )
    return steps


def _overall_risk(
    ctx: Context, path: Mapping[str, Any], choice: Choice
) -> tuple[RiskLevel, list[str]]:
    """The chosen path's risk, raised for unknown nodes and for what the choice leaves broken."""
    reasons = list(path["risk"]["reasons"]) + choice.extra_risk
    level: RiskLevel = path["risk"]["level"]
    if ctx.unknown:
        if not any(UNKNOWN_MARK in reason for reason in reasons):
            reasons += unknown_note(ctx, "the plan may not fit them")
        level = max_risk(level, "medium")
    if choice.extra_risk:
        level = max_risk(level, "medium")
    return level, reasons
