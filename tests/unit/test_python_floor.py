"""The controller's Python floor: an older Python stops the action plugins and the cluster modules
with a message naming the Python found and the one needed, before the imports that would fail
with an ImportError (tomllib, datetime.UTC)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ansible.errors import AnsibleError
from ansible_collections.kruise_cri.remediation.plugins.module_utils import python_floor
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils import action_module

# The folder holding ansible_collections/ (.collections in the checkout), as imported here.
COLLECTIONS_PATH = Path(python_floor.__file__).parents[5]
COLLECTION = "ansible_collections.kruise_cri.remediation.plugins"
OLD = (3, 10, 13, "final", 0)


def test_the_floor_is_3_11():
    assert python_floor.CONTROLLER_PYTHON == (3, 11)


@pytest.mark.parametrize("version", [(3, 11, 0), (3, 12, 1), (3, 13, 0, "final", 0), (4, 0, 0)])
def test_a_new_enough_python_passes(version):
    assert python_floor.controller_python_problem(version, "/usr/bin/python3") is None
    assert python_floor.module_python_problem(version, "/usr/bin/python3") is None


@pytest.mark.parametrize("version", [(3, 10, 13), (3, 9, 18, "final", 0), (3, 6, 15)])
def test_an_older_python_is_named_with_the_one_needed(version):
    found = ".".join(map(str, version[:3]))
    message = python_floor.controller_python_problem(version, "/usr/bin/python3.10")
    assert message is not None
    assert f"Python {found} (/usr/bin/python3.10)" in message
    assert "needs Python 3.11 or newer on the controller" in message
    module_message = python_floor.module_python_problem(version, "/usr/bin/python3.10")
    assert module_message is not None
    assert f"Python {found} (/usr/bin/python3.10)" in module_message
    assert "need Python 3.11 or newer" in module_message
    assert "ansible_python_interpreter" in module_message


def test_the_running_python_is_the_default(monkeypatch):
    monkeypatch.setattr(sys, "version_info", OLD)
    monkeypatch.setattr(sys, "executable", "/opt/py310/bin/python")
    assert "Python 3.10.13 (/opt/py310/bin/python)" in python_floor.controller_python_problem()


def test_require_controller_python_raises_ansible_error(monkeypatch):
    action_module.require_controller_python()  # this Python is new enough
    monkeypatch.setattr(sys, "version_info", OLD)
    with pytest.raises(AnsibleError, match=r"needs Python 3\.11 or newer.*runs Python 3\.10\.13"):
        action_module.require_controller_python()


def test_a_module_prints_a_failed_result_and_exits(monkeypatch, capsys):
    python_floor.exit_module_when_python_too_old()  # this Python is new enough: nothing happens
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(sys, "version_info", OLD)
    with pytest.raises(SystemExit) as exit_info:
        python_floor.exit_module_when_python_too_old()
    assert exit_info.value.code == 1
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    assert "Python 3.10.13" in result["msg"]


def test_the_check_parses_on_python_3_6():
    """A cluster module may be run by an older Python than the controller's: the check itself
    must still run there."""
    ast.parse(Path(python_floor.__file__).read_text(), feature_version=(3, 6))


def run_faking(version: tuple, code: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter that says it is ``version``, the collection importable."""
    prelude = f"""
        import sys
        sys.path.insert(0, {str(COLLECTIONS_PATH)!r})
        sys.version_info = {version!r}
    """
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(prelude) + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("plugin", "needs_newer"),
    [
        ("cri_facts", "plugin_utils.cri_facts.containerd_config"),
        ("cri_report", "plugin_utils.cri_report.model"),
        ("remediation_plan", "plugin_utils.remediation_plan.plan"),
    ],
)
def test_every_action_plugin_stops_before_its_parsers(plugin, needs_newer):
    result = run_faking(
        OLD,
        f"""
        from ansible.errors import AnsibleError
        try:
            import {COLLECTION}.action.{plugin}
        except AnsibleError as error:
            print("STOPPED:", error.message)
        print("IMPORTED:", {COLLECTION + "." + needs_newer!r} in sys.modules)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert "STOPPED: kruise_cri.remediation needs Python 3.11 or newer" in result.stdout
    assert "runs Python 3.10.13" in result.stdout
    assert "IMPORTED: False" in result.stdout


@pytest.mark.parametrize("module", ["kruise_lock", "kruise_info", "node_drain", "node_runtime"])
def test_a_cluster_module_fails_before_its_own_module_utils(module):
    result = run_faking(OLD, f"import {COLLECTION}.modules.{module}\nprint('NOT STOPPED')\n")
    assert result.returncode == 1, result.stderr
    assert "NOT STOPPED" not in result.stdout
    failure = json.loads(result.stdout)
    assert failure["failed"] is True
    assert "cluster modules need Python 3.11 or newer" in failure["msg"]
    assert "Python 3.10.13" in failure["msg"]
    assert "Traceback" not in result.stderr


def test_a_new_enough_python_imports_everything():
    result = run_faking(
        tuple(sys.version_info),
        f"""
        import {COLLECTION}.action.cri_facts
        import {COLLECTION}.modules.kruise_lock
        print("OK")
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK"
