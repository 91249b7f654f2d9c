"""remediation_plan action plugin, run for real by ansible-playbook on the controller."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "unit"))
from test_remediation_plan import CRR_IN_USE, cluster, containerd, docker  # noqa: E402

from tests.integration.ansible_run import ansible_env  # noqa: E402

ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
PLAN = "kruise_cri.remediation.remediation_plan"


def run_plays(
    tmp_path: Path, plays: list[dict[str, Any]], inventory: dict[str, Any], *flags: str
) -> dict[str, dict[str, Any]]:
    """Runs the plays; returns the result of every plan task, by task name."""
    (tmp_path / "play.yml").write_text(yaml.safe_dump(plays))
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    env = {
        **ansible_env(),
        "ANSIBLE_LOCALHOST_WARNING": "false",
    }
    command = [ANSIBLE_PLAYBOOK, "-i", tmp_path / "hosts.yml", tmp_path / "play.yml", *flags]
    proc = subprocess.run(
        [str(word) for word in command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {path.stem: json.loads(path.read_text()) for path in tmp_path.glob("result-*.json")}


def plan_task(tmp_path: Path, name: str, args: dict[str, Any], **extra: Any) -> list[dict]:
    """The plan task and one that saves its result as result-NAME.json."""
    return [
        {"name": name, PLAN: args, "register": "plan_result", "ignore_errors": True, **extra},
        {
            "name": f"save {name}",
            "ansible.builtin.copy": {
                "content": "{{ plan_result | to_json }}",
                "dest": str(tmp_path / f"result-{name}.json"),
            },
            "check_mode": False,
            **extra,
        },
    ]


def test_plans_from_hostvars_and_from_given_facts(tmp_path: Path) -> None:
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {
        "all": {
            "children": {
                "kube_nodes": {
                    "hosts": {
                        "node-1": {**local, "kruise_cri": docker()},
                        "node-2": {**local, "kruise_cri": containerd("v1.7.24")},
                        "node-3": local,
                    }
                }
            },
            "hosts": {"localhost": local},
        }
    }
    in_use = cluster(**CRR_IN_USE)
    plays = [
        {
            "hosts": "kube_nodes",
            "gather_facts": False,
            "tasks": plan_task(
                tmp_path,
                "in-play",
                {"target_version": "1.6.0", "cluster": {"kruise": in_use}},
                run_once=True,
                delegate_to="localhost",
            ),
        },
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                *plan_task(
                    tmp_path,
                    "localhost",
                    {"target_version": "1.6.0", "cluster": in_use, "inventory_hint": "inv/h.yml"},
                ),
            ],
        },
    ]
    results = run_plays(tmp_path, plays, inventory, "--check")

    in_play = results["result-in-play"]
    assert in_play["changed"] is False, in_play
    plan = in_play["plan"]
    assert [node["name"] for node in plan["nodes"]] == ["node-1", "node-2", "node-3"]
    assert plan["nodes"][2]["source"] == "none"
    assert plan["recommendation"]["path"] == "pin_1_5"
    # Shipped means playbooks/<name>.yml exists in the collection: every path's playbook does.
    shipped = {path.stem for path in (REPO_ROOT / "playbooks").glob("*.yml")}
    assert {"pin_kruise", "migrate_runtime", "disable_kruise_daemon"} <= shipped
    assert plan["recommendation"]["not_shipped"] == []

    on_localhost = results["result-localhost"]["plan"]
    assert [node["name"] for node in on_localhost["nodes"]] == ["node-1", "node-2"]
    assert on_localhost["recommendation"]["commands"] == [
        "ansible-playbook kruise_cri.remediation.migrate_runtime -i inv/h.yml --limit node-1"
    ]


def test_bad_input_fails_the_task_with_the_fix(tmp_path: Path) -> None:
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    plays = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                *plan_task(
                    tmp_path,
                    "bad-target",
                    {"target_version": "latest", "node_facts": {"node-1": docker()}},
                ),
                *plan_task(
                    tmp_path,
                    "ansible-facts",
                    {
                        "target_version": "1.6",
                        "node_facts": {"node-1": {"kruise_cri": docker()}},
                        "cluster": cluster(in_use=False),
                    },
                ),
            ],
        }
    ]
    results = run_plays(tmp_path, plays, {"all": {"hosts": {"localhost": local}}})
    assert results["result-bad-target"]["failed"] is True
    assert "target_version 'latest' is not a version" in results["result-bad-target"]["msg"]
    whole = results["result-ansible-facts"]
    assert whole["plan"]["recommendation"]["path"] == "disable_daemon"
    assert whole["plan"]["nodes"][0]["source"] == "facts"
