"""The frame of an action that runs on the controller only and reaches no host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.kruise_cri.remediation.plugins.module_utils.python_floor import (
    controller_python_problem,
)


def require_controller_python() -> None:
    """Raise AnsibleError naming the Python found and the one needed when the controller's is
    older than the collection's floor (module_utils/python_floor.CONTROLLER_PYTHON)."""
    problem = controller_python_problem()
    if problem is not None:
        raise AnsibleError(problem)


# Every action plugin imports this file before the parsers and renderers that need the newer
# Python (tomllib, datetime.UTC), so an older one stops here with a message, not an ImportError.
require_controller_python()


class ControllerAction(ActionBase):
    """Validates the task's arguments against ``ARGUMENT_SPEC``, runs :meth:`run_on_controller`,
    and turns bad input (AnsibleActionFail, or ValueError from the pure code) into a failed
    result whose message names it."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False
    ARGUMENT_SPEC: Mapping[str, Mapping[str, Any]] = {}

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict:
        result = super().run(tmp, task_vars)
        del tmp
        try:
            _validation, args = self.validate_argument_spec(argument_spec=dict(self.ARGUMENT_SPEC))
            result.update(self.run_on_controller(args, task_vars or {}))
        except AnsibleActionFail as exc:
            result.update(failed=True, msg=exc.message)
        except ValueError as exc:
            result.update(failed=True, msg=str(exc))
        return result

    def run_on_controller(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError
