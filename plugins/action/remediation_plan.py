"""remediation_plan: say which way out fits, on the controller; nothing is changed anywhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.action_module import (
    ControllerAction,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.plan import (
    build_plan,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.shipped import (
    shipped_playbooks,
)

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "target_version": {"type": "str", "required": True},
    "node_facts": {"type": "dict"},
    "cluster": {"type": "dict"},
    "node_names": {"type": "dict", "default": {}},
    "inventory_hint": {"type": "str"},
    "daemon_features_wanted": {"type": "bool", "default": False},
}


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_on_controller(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        if args["node_facts"] is None:
            node_facts = _facts_from_hostvars(task_vars)
        else:
            node_facts = _given_facts(args["node_facts"])
        plan = build_plan(
            node_facts,
            _cluster_facts(args["cluster"]),
            target_version=args["target_version"],
            node_names=args["node_names"],
            shipped_playbooks=shipped_playbooks(),
            inventory_hint=args["inventory_hint"] or None,
            daemon_features_wanted=args["daemon_features_wanted"],
        )
        return {"changed": False, "plan": plan}


def _kruise_cri(value: object) -> object:
    """A host's kruise_cri facts, from the facts themselves or from its whole ansible_facts."""
    if isinstance(value, Mapping) and "schema" not in value and "kruise_cri" in value:
        return value["kruise_cri"]
    return value


def _given_facts(node_facts: Mapping[str, Any]) -> dict[str, Any]:
    return {host: _kruise_cri(value) for host, value in node_facts.items()}


def _host_facts(hostvars: Mapping[str, Any], host: str) -> Mapping[str, Any] | None:
    variables = hostvars.get(host) or {}
    facts = variables.get("ansible_facts")
    found = facts.get("kruise_cri") if isinstance(facts, Mapping) else None
    if found is None:
        found = variables.get("kruise_cri")
    return found if isinstance(found, Mapping) else None


def _facts_from_hostvars(task_vars: Mapping[str, Any]) -> dict[str, Any]:
    """The play's hosts (those without facts as unknown), or every host that has facts.

    A plan task in the nodes' own play (run_once) sees the nodes as play hosts; one in a later
    play on localhost does not, so then every inventory host with kruise_cri facts is taken.
    """
    hostvars = task_vars.get("hostvars") or {}
    play_hosts = [str(host) for host in task_vars.get("ansible_play_hosts_all") or []]
    in_play = {host: _host_facts(hostvars, host) for host in play_hosts}
    if any(facts is not None for facts in in_play.values()):
        return in_play
    found = {str(host): _host_facts(hostvars, str(host)) for host in hostvars}
    facts = {host: value for host, value in found.items() if value is not None}
    if not facts:
        raise AnsibleActionFail(
            "node_facts: no host of the play or the inventory has kruise_cri facts; run "
            "kruise_cri.remediation.cri_facts on the nodes first, or pass node_facts"
        )
    return facts


def _cluster_facts(cluster: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The kruise dict; a registered kruise_info result is accepted too."""
    if isinstance(cluster, Mapping) and "schema" not in cluster:
        inner = cluster.get("kruise")
        if isinstance(inner, Mapping):
            return inner
    return cluster
