"""Which path the plan recommends and why: one function per situation, tried in order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.daemon_features import (
    STOPS_WORKING as DAEMON_FEATURES,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.feature_gates import (
    DAEMON_GATE,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    BRIDGE_LINE,
    BRIDGE_RELEASE,
    line_key,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.wording import (
    count,
    joined_names,
    pronoun,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.context import (
    Context,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.installation import (
    features_in_use_reason,
    features_unused_reason,
    features_use_unknown_reason,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.nodes import (
    cannot_serve,
    fix_before_enabling,
    joined_node_names,
    migration_words,
    runs_what_migration_fixes,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.path_ids import (
    DISABLE,
    MIGRATE,
    NOTHING,
    PIN,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.risk import (
    UNKNOWN_MARK,
)

DAEMON_IS_DISABLED = "Nothing breaks: kruise-daemon is disabled."


@dataclass
class Choice:
    path_id: str
    summary: str
    reasons: list[str]
    steps: list[str]  # path ids run in order
    extra_risk: list[str]


def choose(ctx: Context, paths: Mapping[str, Mapping[str, Any]]) -> Choice:
    if ctx.daemon_disabled:
        return _daemon_already_disabled(ctx)
    if not ctx.blocking:
        return _every_node_works(ctx, paths[NOTHING])
    if not ctx.incompatible:
        return _only_unknown_nodes_block(ctx)
    if line_key(ctx.line) < line_key(BRIDGE_LINE) and paths[PIN]["feasible"] == "yes":
        return _pin_instead_of_older_target(ctx)
    if not ctx.keep_features:
        return _disable_unused_daemon(ctx)
    return _keep_the_features(ctx)


def _daemon_already_disabled(ctx: Context) -> Choice:
    blocking = ctx.blocking
    migratable = ctx.migratable
    others = ctx.not_migratable
    reasons = [
        "kruise-daemon is disabled (KruiseDaemon=false): it runs on no node, so nothing breaks",
        "while it is disabled these features are off: " + "; ".join(DAEMON_FEATURES),
    ]
    if not blocking:
        reasons.append(
            f"every node can run kruise-daemon {ctx.line}: removing {DAEMON_GATE}=false "
            "from featureGates brings the features back"
        )
        return Choice(NOTHING, DAEMON_IS_DISABLED, reasons, [], [])
    if ctx.features_wanted and migratable:
        reasons.append(
            f"to re-enable it, first {migration_words(migratable, named=True)}"
            + (f" and fix {joined_node_names(others)}" if others else "")
        )
        return Choice(
            MIGRATE,
            f"{_capitalized(migration_words(migratable))}, then remove "
            f"{DAEMON_GATE}=false to get the daemon's features back.",
            reasons,
            [MIGRATE],
            [],
        )
    reasons.append(fix_before_enabling(ctx.line, blocking))
    return Choice(NOTHING, DAEMON_IS_DISABLED, reasons, [], [])


def _every_node_works(ctx: Context, nothing_path: Mapping[str, Any]) -> Choice:
    if ctx.install.nodes_unread:
        return _nodes_unread(ctx, nothing_path)
    summary = f"Every node can run kruise-daemon {ctx.line}: "
    if ctx.install.installed is False:
        summary += f"install OpenKruise {ctx.version} as planned."
    elif ctx.install.installed is None and ctx.install.known:
        summary += "nothing to change (whether OpenKruise is installed could not be read)."
    elif ctx.install.line == ctx.line:
        summary += "nothing to change."
    else:
        summary += f"go ahead with OpenKruise {ctx.version}."
    return Choice(NOTHING, summary, list(nothing_path["reasons"]), [], [])


def _nodes_unread(ctx: Context, nothing_path: Mapping[str, Any]) -> Choice:
    """No node known to block, but the cluster's nodes could not be listed: nodes without facts
    are not known to exist, let alone to work."""
    known = count(len(ctx.nodes), "node")
    return Choice(
        NOTHING,
        f"No node known to kruise-cri blocks kruise-daemon {ctx.line} ({known}), but the "
        "cluster's nodes could not be listed: grant the missing permission and assess again "
        "before relying on this.",
        [
            f"the cluster's nodes could not be listed ({ctx.install.nodes_unread}): nodes "
            "without kruise_cri facts are unknown",
            *nothing_path["reasons"],
        ],
        [],
        [],
    )


def _only_unknown_nodes_block(ctx: Context) -> Choice:
    unknown = joined_node_names(ctx.unknown)
    return Choice(
        NOTHING,
        f"Every node with a verdict can run kruise-daemon {ctx.line}; assess {unknown} "
        "before relying on it.",
        [
            f"no node is known to be incompatible with kruise-daemon {ctx.line}",
            f"{count(len(ctx.unknown), 'node')} {UNKNOWN_MARK} ({unknown}): run "
            f"kruise_cri.remediation.assess on {pronoun(len(ctx.unknown))} and plan again",
        ],
        [],
        [],
    )


def _pin_instead_of_older_target(ctx: Context) -> Choice:
    """A 1.4 target that 1.5.5 fixes everywhere: pinning is an upgrade, not a bridge."""
    return Choice(
        PIN,
        f"Run OpenKruise {BRIDGE_RELEASE} instead of {ctx.version}: kruise-daemon "
        f"{BRIDGE_LINE} works on every node.",
        [
            cannot_serve(ctx.line, ctx.blocking),
            f"{BRIDGE_LINE} speaks CRI v1 and v1alpha2, so it works on every node, and "
            "keeps the daemon's features",
        ],
        [PIN],
        [],
    )


def _disable_unused_daemon(ctx: Context) -> Choice:
    summary = (
        f"Install OpenKruise {ctx.version} with {DAEMON_GATE}=false: no drain, and nothing "
        "uses the daemon's features yet."
        if ctx.install.installed is False
        else f"Disable kruise-daemon ({DAEMON_GATE}=false): one featureGates change, no "
        "drain, and nothing in the cluster uses the daemon's features."
    )
    return Choice(
        DISABLE,
        summary,
        [
            cannot_serve(ctx.line, ctx.blocking),
            features_unused_reason(ctx.install),
            "disabling is the quickest way out: no drain, no version change",
        ],
        [DISABLE],
        [],
    )


def _keep_the_features(ctx: Context) -> Choice:
    """The daemon's features are (or may be) wanted: disabling is the last resort."""
    features = _features_reason(ctx)
    if not ctx.not_migratable:
        return _migrate_every_blocking_node(ctx, features)
    if _pin_bridges_the_others(ctx):
        return _pin_as_bridge(ctx, features)
    if ctx.migratable:
        return _migrate_and_fix_the_others_by_hand(ctx, features)
    return _disable_as_last_resort(ctx, features)


def _features_reason(ctx: Context) -> str:
    install = ctx.install
    if ctx.features_wanted and not install.features_in_use:
        return "you want the daemon's features (daemon_features_wanted)"
    if install.features_in_use:
        return features_in_use_reason(install)
    return (
        features_use_unknown_reason(install)
        + ": this path keeps them; if nothing uses them, disabling kruise-daemon is quicker"
    )


def _migrate_every_blocking_node(ctx: Context, features: str) -> Choice:
    migratable = ctx.migratable
    reasons = [
        cannot_serve(ctx.line, migratable) + f", and {runs_what_migration_fixes(migratable)}",
        features,
        _drain_scope(len(migratable), len(ctx.nodes) - len(migratable)),
    ]
    return Choice(
        MIGRATE,
        f"{_capitalized(migration_words(migratable, named=True))}: kruise-daemon {ctx.line} "
        "then works "
        "everywhere and keeps its features.",
        reasons,
        [MIGRATE],
        [],
    )


def _drain_scope(drained: int, untouched: int) -> str:
    if not untouched:
        return "every node is drained, one at a time"
    what = (
        "only that node is drained"
        if drained == 1
        else "only those nodes are drained, one at a time"
    )
    verb = "keeps" if untouched == 1 else "keep"
    return f"{what}; the other {count(untouched, 'node')} {verb} running"


def _pin_bridges_the_others(ctx: Context) -> bool:
    """1.5.5 would serve the nodes migration cannot fix, and break no node that works now."""
    return (
        ctx.line != BRIDGE_LINE
        and all(node.bridge_compatible is not False for node in ctx.not_migratable)
        and not any(
            node.target_compatible and node.bridge_compatible is False for node in ctx.nodes
        )
    )


def _why_not_migratable(ctx: Context) -> str:
    return "; ".join(f"{node.name}: {node.paths[MIGRATE]['why']}" for node in ctx.not_migratable)


def _pin_as_bridge(ctx: Context, features: str) -> Choice:
    migratable = ctx.migratable
    others = ctx.not_migratable
    reasons = [
        f"{count(len(others), 'node')} cannot be migrated by this tool now "
        f"({_why_not_migratable(ctx)})",
        f"kruise-daemon {BRIDGE_LINE} speaks CRI v1 and v1alpha2: pinning OpenKruise "
        f"{BRIDGE_RELEASE} keeps the daemon working meanwhile",
        features,
    ]
    unknown_others = [node.name for node in others if node.target_compatible is None]
    then: list[str] = []
    if migratable:
        then.append(migration_words(migratable, named=True))
    if unknown_others:
        then.append(f"assess {joined_names(unknown_others)}")
    reasons.append(
        "then " + ", ".join(then or ["fix the remaining nodes"]) + f", and upgrade to {ctx.version}"
    )
    verb = "Stay on" if ctx.install.version == BRIDGE_RELEASE else "Pin"
    # Docker nodes the bridge cannot serve either (Docker behind cri-dockerd, its containerd's
    # CRI off): pinned first, their kruise-daemon 1.5.5 would crash-loop and the pin roll back.
    first = [node for node in migratable if node.bridge_compatible is False]
    if first:
        reasons.insert(
            2,
            f"kruise-daemon {BRIDGE_LINE} fails on {joined_node_names(first)} too: pinned "
            "before they are migrated, it would crash-loop there and the pin would be rolled back",
        )
        return Choice(
            PIN,
            f"{_capitalized(migration_words(migratable))} first "
            f"({BRIDGE_RELEASE} cannot serve {joined_node_names(first)} either), then "
            f"{verb.lower()} OpenKruise {BRIDGE_RELEASE} as a bridge; "
            f"{'assess or fix' if unknown_others else 'fix'} the other nodes before moving "
            f"to {ctx.version}.",
            reasons,
            [MIGRATE, PIN],
            [],
        )
    then_summary = [migration_words(migratable)] if migratable else []
    then_summary.append(f"{'assess or fix' if unknown_others else 'fix'} the other nodes")
    return Choice(
        PIN,
        f"{verb} OpenKruise {BRIDGE_RELEASE} now as a bridge; "
        f"{' and '.join(then_summary)} before moving to {ctx.version}.",
        reasons,
        [PIN, MIGRATE] if migratable else [PIN],
        [],
    )


def _migrate_and_fix_the_others_by_hand(ctx: Context, features: str) -> Choice:
    others = ctx.not_migratable
    return Choice(
        MIGRATE,
        f"{_capitalized(migration_words(ctx.migratable))}; the other "
        f"{count(len(others), 'node')} need fixing by hand.",
        [
            f"kruise-daemon {ctx.line} cannot serve {count(len(ctx.blocking), 'node')}",
            features,
            f"pinning {BRIDGE_RELEASE} does not help the others ({_why_not_migratable(ctx)})",
        ],
        [MIGRATE],
        [f"kruise-daemon keeps failing on {joined_node_names(others)} until they are fixed"],
    )


def _disable_as_last_resort(ctx: Context, features: str) -> Choice:
    return Choice(
        DISABLE,
        "Disable kruise-daemon: no other path makes it work on every node.",
        [
            f"kruise-daemon {ctx.line} cannot serve {count(len(ctx.blocking), 'node')} "
            f"({_why_not_migratable(ctx)})",
            "none of them runs Docker or a containerd this tool can upgrade, and pinning "
            + BRIDGE_RELEASE
            + " does not help them",
            features,
        ],
        [DISABLE],
        [],
    )


def _capitalized(words: str) -> str:
    return words[:1].upper() + words[1:]
