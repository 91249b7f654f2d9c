"""Controller half of cri_facts: one module call per host, then parsing and verdicts here."""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

# Imported first: it checks the controller's Python before the parsers that need a newer one.
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.action_module import (  # noqa: F401  # pylint: disable=unused-import
    require_controller_python,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_facts.builder import (
    build_facts,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict:
        result = super().run(tmp, task_vars)
        module_args = dict(self._task.args)
        module_result = self._execute_module(
            module_name="kruise_cri.remediation.cri_facts",
            module_args=module_args,
            task_vars=task_vars or {},
        )
        if module_result.get("failed") or "evidence" not in module_result:
            result.update(module_result)
            result.setdefault("failed", True)
            result.setdefault("msg", "cri_facts returned no evidence")
            return result
        facts = build_facts(
            module_result["evidence"],
            socket_location=module_args.get("kruise_socket_location") or "/var/run",
            socket_file=module_args.get("kruise_socket_file") or None,
        )
        result.update(changed=False, ansible_facts={"kruise_cri": facts})
        return result
