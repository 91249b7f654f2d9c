"""The oldest Python the collection's controller side runs on, and the check that says so.

Action plugins, the controller's parsers and the cluster modules (run by the controller's Python
unless the inventory says otherwise) use what Python 3.11 brought (``tomllib``, ``datetime.UTC``).
Checked before those are imported, an older Python fails with a message naming the Python found
and the one needed, instead of an ImportError. The node side (``module_utils/node`` and the node
modules) runs on the node's own Python 3.6+ and never imports this.

Written in what Python 3.6 parses, so that the check itself runs wherever it is imported.
"""

import json
import sys

# ansible-core 2.18 and newer need 3.11 on the controller too; 2.16 and 2.17 would take 3.10.
CONTROLLER_PYTHON = (3, 11)


def _too_old(version_info, executable):
    """``(found, executable, needed)`` when ``version_info`` (the running Python's by default) is
    older than CONTROLLER_PYTHON, else None."""
    version_info = sys.version_info if version_info is None else version_info
    executable = (sys.executable or "python") if executable is None else executable
    if tuple(version_info[:2]) >= CONTROLLER_PYTHON:
        return None
    found = ".".join(str(part) for part in version_info[:3])
    return found, executable, ".".join(str(part) for part in CONTROLLER_PYTHON)


def controller_python_problem(version_info=None, executable=None):
    """The message saying that the controller's Python is too old, or None when it is not."""
    too_old = _too_old(version_info, executable)
    if too_old is None:
        return None
    found, executable, needed = too_old
    return (
        f"kruise_cri.remediation needs Python {needed} or newer on the controller; this "
        f"controller runs Python {found} ({executable}). Run Ansible from a Python {needed}+ "
        f"installation (for example a virtualenv made with python{needed})."
    )


def module_python_problem(version_info=None, executable=None):
    """The same for a cluster module, which runs on the Python of the host it is given (the
    controller's own for the implicit localhost)."""
    too_old = _too_old(version_info, executable)
    if too_old is None:
        return None
    found, executable, needed = too_old
    return (
        f"kruise_cri.remediation's cluster modules need Python {needed} or newer; this host "
        f"runs them with Python {found} ({executable}). Point the ansible_python_interpreter "
        f"of the host that runs them (localhost unless told otherwise) at a Python {needed}+."
    )


def exit_module_when_python_too_old():
    """For a cluster module, before the imports that need the newer Python (no AnsibleModule
    exists yet): on an older Python, print the failed result Ansible reads and exit."""
    problem = module_python_problem()
    if problem is None:
        return
    # No AnsibleModule exists yet to call fail_json on: print the result Ansible reads, as
    # fail_json would, and exit.
    print(json.dumps({"failed": True, "msg": problem}))  # pylint: disable=ansible-bad-function
    sys.exit(1)  # pylint: disable=ansible-bad-function
