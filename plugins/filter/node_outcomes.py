"""Filter: sort a play's nodes into assessed (with facts), failed and unreachable."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

DOCUMENTATION = r"""
name: node_outcomes
short_description: Sort nodes into assessed, failed and unreachable after cri_facts
description:
  - Given the node names and C(hostvars), returns C(facts) (node -> C(kruise_cri) facts),
    C(failed) (node -> the module's message) and C(unreachable) (node -> reason).
positional: _input, hostvars, result_var
options:
  _input:
    description: Inventory hostnames of the nodes.
    type: list
    elements: str
    required: true
  hostvars:
    description: The C(hostvars) magic variable.
    type: dict
    required: true
  result_var:
    description: Name of the variable the cri_facts task registered.
    type: str
    default: _kruise_cri_node_result
"""

EXAMPLES = r"""
- name: Sort the nodes
  ansible.builtin.set_fact:
    outcomes: "{{ groups['kube_nodes'] | kruise_cri.remediation.node_outcomes(hostvars) }}"
"""

RETURN = r"""
_value:
  description: Dict with C(facts), C(failed) and C(unreachable).
  type: dict
"""


def node_outcomes(
    nodes: Iterable[str],
    hostvars: Mapping[str, Any],
    result_var: str = "_kruise_cri_node_result",
) -> dict[str, dict[str, Any]]:
    facts: dict[str, Any] = {}
    failed: dict[str, str] = {}
    unreachable: dict[str, str] = {}
    for node in nodes:
        # This run's registered result decides, not hostvars' ansible_facts: with fact caching
        # (AWX fact storage, jsonfile) a node that fails now would still show an old assessment.
        result = (hostvars.get(node) or {}).get(result_var)
        node_facts = ((result or {}).get("ansible_facts") or {}).get("kruise_cri")
        if result and result.get("unreachable"):
            unreachable[node] = str(result.get("msg") or "unreachable")
        elif result and result.get("failed"):
            failed[node] = str(result.get("msg") or "failed")
        elif node_facts:
            facts[node] = node_facts
        else:
            unreachable[node] = "no result: the host was unreachable or left the play early"
    return {"facts": facts, "failed": failed, "unreachable": unreachable}


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"node_outcomes": node_outcomes}
