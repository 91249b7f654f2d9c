"""The AWX assets in awx/ agree with the collection they run.

``awx/kruise-cri.json`` is read by awxkit's ``awx import`` (the format ``awx export`` writes:
resources by their API name, foreign keys and related objects by natural key, the survey as its
JSON, workflow nodes with their success/failure/always nodes). Nothing here talks to an AWX: the
file is checked against the rules AWX applies to what it imports (survey specs, natural keys) and
against the collection: each template's project playbook imports a collection playbook, each
survey question asks for a variable that playbook (or a role it runs) reads, with the same default,
a compatible type and the choices the role accepts, and the workflow is assess -failure->
approval -success-> remediate.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
AWX = REPO_ROOT / "awx"
ASSETS = AWX / "kruise-cri.json"
PROJECT = AWX / "project"
PLAYBOOKS = REPO_ROOT / "playbooks"
ROLES = REPO_ROOT / "roles"
COLLECTION = "kruise_cri.remediation"

if not ASSETS.is_file() and (REPO_ROOT / "MANIFEST.json").is_file():
    pytest.skip("an installed collection without awx/", allow_module_level=True)

# What awx export writes and awx import reads (awxkit's EXPORTABLE_RESOURCES), and the natural
# key type of each resource's assets.
RESOURCE_TYPES = {
    "users": "user",
    "organizations": "organization",
    "teams": "team",
    "credential_types": "credential_type",
    "credentials": "credential",
    "notification_templates": "notification_template",
    "projects": "project",
    "inventory": "inventory",
    "inventory_sources": "inventory_source",
    "job_templates": "job_template",
    "workflow_job_templates": "workflow_job_template",
    "execution_environments": "execution_environment",
    "applications": "o_auth2_application",
    "schedules": "schedule",
}
ORGANIZATION = {"name": "Default", "type": "organization"}
TEMPLATE_PLAYBOOKS = {
    "kruise-cri assess": "assess.yml",
    "kruise-cri pin OpenKruise 1.5": "pin_kruise.yml",
    "kruise-cri disable kruise-daemon": "disable_kruise_daemon.yml",
    "kruise-cri migrate runtime": "migrate_runtime.yml",
    "kruise-cri remediate": "remediate.yml",
    "kruise-cri drain node": "drain_node.yml",
}
# AWX's managed credential types, by the natural key (name and kind) awx import looks them up by.
MACHINE = {"name": "Machine", "kind": "ssh", "type": "credential_type"}
KUBERNETES = {
    "name": "OpenShift or Kubernetes API Bearer Token",
    "kind": "kubernetes",
    "type": "credential_type",
}
# The Python type AWX wants for a survey question's default, per question type.
SURVEY_DEFAULT_TYPES: dict[str, type | tuple[type, ...]] = {
    "text": str,
    "textarea": str,
    "password": str,
    "multiplechoice": str,
    "multiselect": str,
    "integer": int,
    "float": (float, int),
}
# The survey question types that can carry a variable of each argument-spec type.
QUESTION_TYPES_FOR_SPEC = {
    "int": {"integer", "float"},
    "float": {"float"},
    "bool": {"multiplechoice"},
    "str": {"text", "password", "multiplechoice"},
    "path": {"text", "password", "multiplechoice"},
    "list": {"textarea", "multiselect"},
    "raw": set(SURVEY_DEFAULT_TYPES),
}
BOOLEAN_CHOICES = {"true", "false"}


class Omit:
    """``default(omit)``: the variable unset stays unset."""

    def __repr__(self) -> str:
        return "omit"


class Expression:
    """A ``default()`` that is no literal (another variable, arithmetic)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"<expression {self.text}>"


OMIT = Omit()
JINJA_CONSTANTS = {"true": True, "false": False, "none": None, "True": True, "False": False}


def is_json_integer(value: object) -> bool:
    """An integer in JSON's sense: an int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def jinja_literal(text: str) -> Any:
    text = text.strip()
    if text == "omit":
        return OMIT
    if text in JINJA_CONSTANTS:
        return JINJA_CONSTANTS[text]
    # Python literals, and Jinja's lists and dicts of them (true, false, none inside).
    for candidate in (text, re.sub(r"\b(true|false|none)\b", lambda m: m[1].title(), text)):
        try:
            return ast.literal_eval(candidate)
        except (ValueError, SyntaxError):
            continue
    return Expression(text)


def call_arguments(text: str, start: int) -> list[str]:
    """The top-level comma-separated arguments of the call whose '(' is at ``start``."""
    depth, quote, args, current = 0, "", [], []
    for char in text[start:]:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
            if depth == 1:
                continue
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                args.append("".join(current))
                return args
        elif char == "," and depth == 1:
            args.append("".join(current))
            current = []
            continue
        current.append(char)
    raise ValueError(f"unbalanced default( in {text[start : start + 80]!r}")


DEFAULT_USE = re.compile(r"(?<![\w.])(kruise_cri_\w+)\s*\|\s*default(?=\()")


def defaults_used(text: str) -> list[tuple[str, Any]]:
    """Every ``kruise_cri_X | default(D)`` in ``text``, as (kruise_cri_X, D)."""
    return [
        (match[1], jinja_literal(call_arguments(text, match.end())[0]))
        for match in DEFAULT_USE.finditer(text)
    ]


# --- the collection ------------------------------------------------------------------------


@dataclass
class RoleVariable:
    role: str
    name: str
    default: Any
    spec: dict[str, Any]
    choices: list[str] | None


@dataclass
class Playbook:
    name: str
    header: str = ""
    defaults: list[tuple[str, Any]] = field(default_factory=list)
    roles: set[str] = field(default_factory=set)
    imports: list[str] = field(default_factory=list)
    touches_nodes: bool = False


def header_comment(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.strip() == "---":
            continue
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# "))
    return "\n".join(lines)


def tasks_of(items: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    found = []
    for task in items or []:
        found.append(task)
        for section in ("block", "rescue", "always"):
            found.extend(tasks_of(task.get(section)))
    return found


def role_folder(name: str) -> str:
    return name.removeprefix(COLLECTION + ".")


@cache
def playbook(name: str) -> Playbook:
    path = PLAYBOOKS / f"{name}.yml"
    text = path.read_text()
    book = Playbook(name, header=header_comment(text), defaults=defaults_used(text))
    for play in yaml.safe_load(text):
        target = play.get("ansible.builtin.import_playbook", play.get("import_playbook"))
        if target:
            book.imports.append(Path(target.removeprefix(COLLECTION + ".")).stem)
            continue
        if play.get("hosts") != "localhost":
            book.touches_nodes = True
        for role in play.get("roles") or []:
            book.roles.add(role_folder(role["role"] if isinstance(role, dict) else role))
        for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
            for task in tasks_of(play.get(section)):
                for action in ("import_role", "include_role"):
                    spec = task.get(f"ansible.builtin.{action}", task.get(action))
                    if spec:
                        book.roles.add(role_folder(spec["name"]))
    return book


def playbook_chain(name: str) -> list[Playbook]:
    """The playbook and those it imports, in order, each once."""
    chain: list[Playbook] = []
    pending = [name]
    while pending:
        book = playbook(pending.pop(0))
        if book not in chain:
            chain.append(book)
            pending.extend(book.imports)
    return chain


@cache
def role_variables(role: str) -> dict[str, RoleVariable]:
    """The role's variables that fall back to a kruise_cri_* variable, by that variable."""
    folder = ROLES / role
    defaults = yaml.safe_load((folder / "defaults" / "main.yml").read_text())
    specs: dict[str, dict[str, Any]] = {}
    for entry in yaml.safe_load((folder / "meta" / "argument_specs.yml").read_text())[
        "argument_specs"
    ].values():
        specs.update(entry.get("options") or {})
    tasks = "\n".join(path.read_text() for path in sorted((folder / "tasks").glob("*.yml")))
    found = {}
    for name, value in defaults.items():
        if not isinstance(value, str):
            continue
        uses = defaults_used(value)
        if len(uses) != 1 or not re.fullmatch(r"\{\{.*\}\}", value.strip(), re.S):
            continue
        (variable, default), spec = uses[0], specs.get(name, {})
        choices = spec.get("choices")
        checked = re.search(rf"\b{name}\s+in\s+(\[[^\]]*\])", tasks)
        if choices is None and checked:
            choices = ast.literal_eval(checked[1])
        found[variable] = RoleVariable(role, name, default, spec, choices)
    return found


# --- the AWX assets ------------------------------------------------------------------------


@cache
def assets() -> dict[str, list[dict[str, Any]]]:
    return json.loads(ASSETS.read_text())


def job_templates() -> list[dict[str, Any]]:
    return assets()["job_templates"]


def template_named(name: str) -> dict[str, Any]:
    (template,) = [jt for jt in job_templates() if jt["name"] == name]
    return template


def collection_playbook_of(template: dict[str, Any]) -> str:
    """The collection playbook the template's project playbook imports."""
    project_playbook = PROJECT / template["playbook"]
    assert project_playbook.is_file(), (
        f"{template['name']}: its playbook {template['playbook']} is not in awx/project"
    )
    plays = yaml.safe_load(project_playbook.read_text())
    imports = [play.get("ansible.builtin.import_playbook") for play in plays]
    assert len(plays) == 1 and imports[0], (
        f"{template['name']}: awx/project/{template['playbook']} should only import a playbook"
    )
    assert imports[0].startswith(COLLECTION + "."), (
        f"{template['name']}: awx/project/{template['playbook']} imports {imports[0]}, not a "
        f"playbook of {COLLECTION}"
    )
    name = imports[0].removeprefix(COLLECTION + ".")
    assert (PLAYBOOKS / f"{name}.yml").is_file(), (
        f"{template['name']}: awx/project/{template['playbook']} imports {imports[0]}, but "
        f"playbooks/{name}.yml does not exist"
    )
    return name


def survey(template: dict[str, Any]) -> list[dict[str, Any]]:
    return template["related"]["survey_spec"]["spec"]


def question_choices(question: dict[str, Any]) -> list[str]:
    choices = question["choices"]
    return choices.splitlines() if isinstance(choices, str) else list(choices)


def survey_errors(template: dict[str, Any], answers: dict[str, Any]) -> list[str]:
    """Why AWX would refuse ``answers`` (a node's or schedule's extra_data) for the survey."""
    questions = {question["variable"]: question for question in survey(template)}
    errors = []
    for variable, value in answers.items():
        question = questions.get(variable)
        if question is None:
            if not template["ask_variables_on_launch"]:
                errors.append(f"{variable} is neither asked by the survey nor prompted for")
        elif question["type"] == "multiplechoice" and value not in question_choices(question):
            errors.append(f"{variable}: {value!r} is not one of {question_choices(question)}")
        elif not isinstance(value, SURVEY_DEFAULT_TYPES[question["type"]]):
            errors.append(f"{variable}: {value!r} is not a {question['type']} answer")
    return errors


def unattended() -> set[str]:
    """The job templates a schedule or a workflow launches, with no person to answer."""
    scheduled = {jt["name"] for jt in job_templates() if jt["related"].get("schedules")}
    in_workflows = {
        node["unified_job_template"]["name"]
        for workflow in assets()["workflow_job_templates"]
        for node in workflow["related"]["workflow_nodes"]
        if "unified_job_template" in node
    }
    return scheduled | in_workflows


def template_ids() -> list[str]:
    return [template["name"] for template in job_templates()]


# --- the tests -----------------------------------------------------------------------------


def test_the_file_holds_what_awx_import_reads():
    data = assets()
    assert data, "awx/kruise-cri.json is empty"
    for resource, items in data.items():
        assert resource in RESOURCE_TYPES, f"awx import does not read {resource!r}"
        for item in items:
            key = item.get("natural_key", {})
            assert key.get("type") == RESOURCE_TYPES[resource], (
                f"{resource} {item.get('name')}: natural_key {key} is not of a "
                f"{RESOURCE_TYPES[resource]}"
            )
    for template in data["job_templates"] + data["workflow_job_templates"]:
        assert template["natural_key"]["name"] == template["name"]
        assert template["natural_key"]["organization"] == ORGANIZATION, template["name"]
    playbooks = {template["name"]: template["playbook"] for template in job_templates()}
    assert playbooks == TEMPLATE_PLAYBOOKS, f"the job templates and their playbooks: {playbooks}"


@pytest.mark.parametrize("name", template_ids())
def test_the_template_refers_to_what_the_readme_has_you_create(name: str):
    template = template_named(name)
    assert template["project"] == {
        "organization": ORGANIZATION,
        "name": "kruise-cri",
        "type": "project",
    }, name
    assert template["inventory"] == {
        "organization": ORGANIZATION,
        "name": "kube-nodes",
        "type": "inventory",
    }, name
    for credential in template["related"]["credentials"]:
        assert credential["type"] == "credential", f"{name}: {credential}"
        assert credential["organization"] == ORGANIZATION, f"{name}: {credential}"
        assert credential["credential_type"] in (MACHINE, KUBERNETES), f"{name}: {credential}"
    readme = (REPO_ROOT / "README.md").read_text()
    for reference in [
        template["project"],
        template["inventory"],
        *template["related"]["credentials"],
    ]:
        assert f"`{reference['name']}`" in readme, (
            f"{name}: the README does not tell the user to create {reference['name']!r}"
        )


@pytest.mark.parametrize("name", template_ids())
def test_the_playbook_imports_a_playbook_of_the_collection(name: str):
    template = template_named(name)
    target = collection_playbook_of(template)
    assert template["playbook"] == f"{target}.yml", (
        f"{name}: awx/project/{template['playbook']} should be named after {target}.yml"
    )


@pytest.mark.parametrize("name", template_ids())
def test_credentials_are_those_the_playbook_needs(name: str):
    template = template_named(name)
    types = [credential["credential_type"] for credential in template["related"]["credentials"]]
    chain = playbook_chain(collection_playbook_of(template))
    assert KUBERNETES in types, f"{name}: no Kubernetes credential for the cluster"
    if any(book.touches_nodes for book in chain):
        assert MACHINE in types, (
            f"{name}: the playbook connects to the nodes: add a Machine credential"
        )
    else:
        assert MACHINE not in types, (
            f"{name}: the playbook runs on localhost only: no Machine credential"
        )
    # The playbooks become root where needed (kruise_cri_become); a job-wide --become would also
    # sudo on localhost inside the execution environment.
    assert template["become_enabled"] is False, f"{name}: become_enabled"


@pytest.mark.parametrize("name", template_ids())
def test_limit_is_prompted_where_the_playbook_takes_one(name: str):
    template = template_named(name)
    takes_limit = "--limit" in playbook(collection_playbook_of(template)).header
    assert template["ask_limit_on_launch"] is takes_limit, (
        f"{name}: ask_limit_on_launch should be {takes_limit} (the playbook's header "
        f"{'names' if takes_limit else 'does not name'} --limit)"
    )


@pytest.mark.parametrize("name", template_ids())
def test_the_survey_is_one_awx_accepts(name: str):
    template = template_named(name)
    spec = template["related"]["survey_spec"]
    assert template["survey_enabled"] is True, name
    assert isinstance(spec.get("name"), str) and isinstance(spec.get("description"), str), name
    assert spec["spec"], f"{name}: an empty survey"
    seen = set()
    for question in spec["spec"]:
        where = f"{name}, {question.get('variable')}"
        for key, kind in [
            ("question_name", str),
            ("variable", str),
            ("type", str),
            ("required", bool),
        ]:
            assert isinstance(question.get(key), kind), f"{where}: {key}"
        assert question["variable"] not in seen, f"{where}: asked twice"
        seen.add(question["variable"])
        assert question["type"] in SURVEY_DEFAULT_TYPES, f"{where}: type {question['type']}"
        default = question.get("default", "")
        if default != "":
            assert isinstance(default, SURVEY_DEFAULT_TYPES[question["type"]]), (
                f"{where}: default {default!r} is not a {question['type']}"
            )
        for bound in ("min", "max"):
            assert question.get(bound) is None or is_json_integer(question[bound]), (
                f"{where}: {bound} must be an integer"
            )
        if question["type"] in ("integer", "float") and default != "":
            assert question.get("min") is None or default >= question["min"], f"{where}: min"
            assert question.get("max") is None or default <= question["max"], f"{where}: max"
        if question["type"] in ("multiplechoice", "multiselect"):
            choices = question_choices(question)
            assert choices, f"{where}: no choices"
            defaults = default.splitlines() if isinstance(default, str) else default
            if question["type"] == "multiplechoice":
                assert len(defaults) <= 1, f"{where}: one default at most"
            assert all(item in choices for item in defaults), f"{where}: default not a choice"
        if question["required"] and question["type"] != "password" and name in unattended():
            assert default != "", f"{where}: required without a default stops scheduled runs"


def check_question(
    template: str,
    question: dict[str, Any],
    source: str,
    default: Any,
    spec_type: str | None,
    choices: list[str] | None,
) -> list[str]:
    """Differences between a survey question and what the collection reads (``source``)."""
    variable, kind = question["variable"], question["type"]
    where = f"{template}: survey variable {variable} ({source})"
    has_default = question.get("default", "") != ""
    if default is OMIT:
        if has_default:
            return [f"{where}: default {question['default']!r}, but unset means omitted there"]
        return []
    if isinstance(default, Expression):
        if has_default:
            return [f"{where}: default {question['default']!r} cannot be compared with {default}"]
        return []
    if spec_type is None:
        spec_type = {bool: "bool", int: "int", float: "float", str: "str", list: "list"}.get(
            type(default), "raw"
        )
    errors = []
    if kind not in QUESTION_TYPES_FOR_SPEC.get(spec_type, set()):
        errors.append(f"{where}: a {kind} question for a variable of type {spec_type}")
    if spec_type == "bool":
        if kind != "multiplechoice" or set(question_choices(question)) != BOOLEAN_CHOICES:
            errors.append(f"{where}: a boolean asks multiplechoice true/false")
        elif question.get("default") != str(bool(default)).lower():
            errors.append(f"{where}: default {question.get('default')!r}, there {default!r}")
        return errors
    if (
        kind == "multiplechoice"
        and choices is not None
        and sorted(question_choices(question)) != sorted(choices)
    ):
        errors.append(f"{where}: choices {question_choices(question)}, there {choices}")
    survey_default = question.get("default", "")
    if kind == "multiselect" or (spec_type == "list" and isinstance(survey_default, str)):
        survey_default = survey_default.splitlines()
    if survey_default != default or (
        spec_type == "int" and kind == "integer" and not is_json_integer(survey_default)
    ):
        errors.append(f"{where}: default {question.get('default')!r}, there {default!r}")
    return errors


@pytest.mark.parametrize("name", template_ids())
def test_survey_variables_are_the_playbooks(name: str):
    template = template_named(name)
    target = collection_playbook_of(template)
    chain = playbook_chain(target)
    roles = sorted({role for book in chain for role in book.roles})
    errors = []
    for question in survey(template):
        variable = question["variable"]
        found = False
        for role in roles:
            mapped = role_variables(role).get(variable)
            if mapped is None:
                continue
            found = True
            errors += check_question(
                name,
                question,
                f"role {role}: {mapped.name}",
                mapped.default,
                mapped.spec.get("type", "str"),
                mapped.choices,
            )
        for book in chain:
            for used, default in book.defaults:
                if used == variable:
                    found = True
                    errors += check_question(
                        name, question, f"playbook {book.name}", default, None, None
                    )
        if not found and not any(re.search(rf"\b{variable}\b", book.header) for book in chain):
            errors.append(
                f"{name}: survey variable {variable} is not a variable of playbook {target}: no "
                f"role it runs ({', '.join(roles) or 'none'}) maps it, and no playbook uses it "
                f"with a default or names it in its header"
            )
    assert not errors, "\n".join(errors)


def test_the_workflow_is_assess_approval_remediate():
    (workflow,) = assets()["workflow_job_templates"]
    nodes = {node["identifier"]: node for node in workflow["related"]["workflow_nodes"]}
    for node in nodes.values():
        assert node["natural_key"] == {
            "workflow_job_template": workflow["natural_key"],
            "identifier": node["identifier"],
            "type": "workflow_job_template_node",
        }, node["identifier"]
        assert node["workflow_job_template"] == workflow["natural_key"], node["identifier"]

    def children(node: dict[str, Any]) -> dict[str, list[str]]:
        return {
            edge: [key["identifier"] for key in node["related"].get(edge, [])]
            for edge in ("success_nodes", "failure_nodes", "always_nodes")
        }

    def template_of(node: dict[str, Any]) -> dict[str, Any]:
        key = node["unified_job_template"]
        assert key["type"] == "job_template" and key["organization"] == ORGANIZATION, key
        return template_named(key["name"])

    edges = {identifier: children(node) for identifier, node in nodes.items()}
    targets = {child for edge in edges.values() for kids in edge.values() for child in kids}
    assert targets <= set(nodes), f"edges to nodes that do not exist: {targets - set(nodes)}"
    (root,) = set(nodes) - targets
    assess = nodes[root]
    assert collection_playbook_of(template_of(assess)) == "assess", f"the first node is {root}"
    assert len(edges[root]["failure_nodes"]) == 1 and not (
        edges[root]["success_nodes"] or edges[root]["always_nodes"]
    ), f"assess should lead to one node, on failure only: {edges[root]}"
    assert str(assess["extra_data"].get("kruise_cri_fail_on_incompatible")).lower() == "true", (
        "assess must fail when nodes are incompatible (kruise_cri_fail_on_incompatible)"
    )
    assert not survey_errors(template_of(assess), assess["extra_data"]), survey_errors(
        template_of(assess), assess["extra_data"]
    )

    approval = nodes[edges[root]["failure_nodes"][0]]
    assert "unified_job_template" not in approval, "the node after assess is an approval node"
    approval_template = approval["related"]["create_approval_template"]
    assert approval_template["name"] == "Approve the remediation"
    assert isinstance(approval_template["timeout"], int) and approval_template["timeout"] > 0
    assert len(edges[approval["identifier"]]["success_nodes"]) == 1 and not (
        edges[approval["identifier"]]["failure_nodes"]
        or edges[approval["identifier"]]["always_nodes"]
    ), f"the approval should lead to one node, on success only: {edges[approval['identifier']]}"
    (after_approval,) = edges[approval["identifier"]]["success_nodes"]

    remediate = nodes[after_approval]
    assert collection_playbook_of(template_of(remediate)) == "remediate", (
        f"the node after the approval runs {template_of(remediate)['name']}, not remediate.yml"
    )
    assert template_of(remediate)["playbook"] == "remediate.yml"
    assert edges[after_approval] == {"success_nodes": [], "failure_nodes": [], "always_nodes": []}
    assert len(nodes) == 3, f"unexpected nodes: {sorted(nodes)}"


def test_the_nightly_schedule_runs_assess():
    template = template_named("kruise-cri assess")
    (schedule,) = template["related"]["schedules"]
    assert schedule["natural_key"] == {
        "unified_job_template": template["natural_key"],
        "name": schedule["name"],
        "type": "schedule",
    }
    # What AWX requires of an rrule: one DTSTART with a time zone, a rule with an INTERVAL.
    assert re.fullmatch(
        r"DTSTART(;TZID=[\w/+-]+:\d{8}T\d{6}|:\d{8}T\d{6}Z) RRULE:\S+", schedule["rrule"]
    ), f"{schedule['name']}: rrule {schedule['rrule']!r} wants DTSTART with a time zone, then RRULE"
    rule = dict(part.split("=") for part in schedule["rrule"].split("RRULE:")[1].split(";"))
    assert rule.get("FREQ") == "DAILY" and rule.get("INTERVAL") == "1", (
        f"{schedule['name']}: not nightly (AWX also wants an INTERVAL): {rule}"
    )
    assert not survey_errors(template, schedule["extra_data"]), survey_errors(
        template, schedule["extra_data"]
    )


def test_the_project_installs_this_collection_version():
    requirements = yaml.safe_load((PROJECT / "collections" / "requirements.yml").read_text())
    galaxy_file = REPO_ROOT / "galaxy.yml"
    if galaxy_file.is_file():
        galaxy = yaml.safe_load(galaxy_file.read_text())
    else:  # a built collection
        galaxy = json.loads((REPO_ROOT / "MANIFEST.json").read_text())["collection_info"]
    (entry,) = requirements["collections"]
    assert entry["name"] == f"{galaxy['namespace']}.{galaxy['name']}"
    assert str(entry["version"]) == str(galaxy["version"]), (
        f"awx/project/collections/requirements.yml asks for {entry['version']}; galaxy.yml is "
        f"at {galaxy['version']}: update it"
    )


def test_every_project_playbook_is_a_template():
    playbooks = {template["playbook"] for template in job_templates()}
    project = {path.name for path in PROJECT.glob("*.yml")}
    assert project == playbooks, f"project playbooks without a template: {project - playbooks}"
