"""cri_report: write the fleet assessment report on the controller (no module runs on a node)."""

from __future__ import annotations

import contextlib
import datetime
import errno
import html
import json
import os
import re
import secrets
import stat
from collections.abc import Callable, Mapping
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.action_module import (
    ControllerAction,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.html import (
    render_html,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.markdown import (
    render_markdown,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.model import (
    build_report,
    recommendation,
    render_json,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.stats import (
    set_stats_summary,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.text import (
    summary_table,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.shipped import (
    shipped_playbooks,
)

FILE_NAMES = {"json": "report.json", "markdown": "report.md", "html": "report.html"}
RENDERERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "json": render_json,
    "markdown": render_markdown,
    "html": render_html,
}
DIR_MODE = 0o750
FILE_MODE = 0o640

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "facts": {"type": "dict", "required": True},
    "report_dir": {"type": "path", "required": True},
    "kruise_version": {"type": "str", "default": "1.6.0"},
    "unreachable": {"type": "dict", "default": {}},
    "failed": {"type": "dict", "default": {}},
    "cluster": {"type": "dict"},
    "plan": {"type": "dict"},
    "formats": {
        "type": "list",
        "elements": "str",
        "choices": list(FILE_NAMES),
        "default": list(FILE_NAMES),
    },
}

_MD_GENERATED = re.compile(r"· Generated: (.*)$", re.MULTILINE)
_HTML_GENERATED = re.compile(r'<meta name="generated-at" content="([^"]*)">')


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_on_controller(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        return self._write_report(args)

    def _write_report(self, args: dict[str, Any]) -> dict[str, Any]:
        hosts = _host_facts(args["facts"])
        unreachable = _host_messages("unreachable", args["unreachable"])
        failed = _host_messages("failed", args["failed"])
        formats = list(dict.fromkeys(args["formats"]))
        if not formats:
            raise AnsibleActionFail("formats: name at least one of json, markdown, html")
        cluster = _inner(args["cluster"], "kruise")
        plan = _inner(args["plan"], "plan")
        report_dir = _checked_report_dir(args["report_dir"])

        def report_at(generated_at: str) -> dict[str, Any]:
            try:
                return build_report(
                    hosts,
                    kruise_version=args["kruise_version"],
                    generated_at=generated_at,
                    unreachable=unreachable,
                    failed=failed,
                    cluster=cluster,
                    plan=plan,
                    shipped_playbooks=shipped_playbooks(),
                )
            except ValueError as exc:
                raise AnsibleActionFail(str(exc)) from exc

        paths = {fmt: os.path.join(report_dir, FILE_NAMES[fmt]) for fmt in formats}
        on_disk = {fmt: _read_text(path) for fmt, path in paths.items()}

        # The timestamp alone never makes a change: if the report written earlier matches this
        # one except for generated_at, keep the earlier files and their timestamp.
        report = report_at(_now())
        previous = _previous_generated_at(on_disk)
        if previous is not None:
            earlier = {**report, "generated_at": previous}
            if all(on_disk[fmt] == RENDERERS[fmt](earlier) for fmt in formats):
                report = earlier
        rendered = {fmt: RENDERERS[fmt](report) for fmt in formats}
        to_write = [fmt for fmt in formats if on_disk[fmt] != rendered[fmt]]
        create_dir = not os.path.lexists(report_dir)
        changed = bool(to_write) or create_dir

        if changed and not self._task.check_mode:
            try:
                created = _make_report_dir(report_dir) if create_dir else False
                directory = _open_report_dir(args["report_dir"], report_dir)
                try:
                    if created:
                        os.fchmod(directory, DIR_MODE)  # whatever the umask
                    for fmt in to_write:
                        _write_atomically(directory, FILE_NAMES[fmt], rendered[fmt])
                finally:
                    os.close(directory)
            except OSError as exc:
                where = os.path.join(report_dir, exc.filename or "")
                raise AnsibleActionFail(
                    f"report_dir: cannot write {where}: {exc.strerror}"
                ) from exc

        result: dict[str, Any] = {
            "changed": changed,
            "report": report,
            "paths": paths,
            "summary_table": summary_table(report),
            "recommendation": recommendation(report),
            "stats": {**set_stats_summary(report), "paths": paths},
        }
        if self._task.diff and changed:
            shown = "markdown" if "markdown" in formats else formats[0]
            result["diff"] = {
                "before": on_disk[shown] or "",
                "after": rendered[shown],
                "before_header": paths[shown] if on_disk[shown] is not None else "(absent)",
                "after_header": paths[shown],
            }
        return result


def _host_facts(facts: Mapping[str, Any]) -> dict[str, Any]:
    hosts: dict[str, Any] = {}
    for host, value in facts.items():
        if not isinstance(host, str):
            raise AnsibleActionFail(f"facts: host names must be strings, got {host!r}")
        # A host's whole ansible_facts is accepted too: kruise_cri facts always carry "schema".
        if isinstance(value, Mapping) and "schema" not in value:
            value = value.get("kruise_cri")
        if value is not None and not isinstance(value, Mapping):
            raise AnsibleActionFail(
                f"facts: the value for host {host!r} must be its kruise_cri facts (a dict) or "
                f"null, got {_kind(value)}"
            )
        hosts[host] = value
    return hosts


def _inner(value: Mapping[str, Any] | None, key: str) -> Mapping[str, Any] | None:
    """The facts themselves from a registered result too: kruise_info's (key kruise) or
    remediation_plan's (key plan). The facts always carry "schema"."""
    if isinstance(value, Mapping) and "schema" not in value and isinstance(value.get(key), Mapping):
        return value[key]
    return value


def _kind(value: object) -> str:
    """Plain type name (Ansible may hand over tagged subclasses of str, list, dict)."""
    for kind, name in ((str, "a string"), (list, "a list"), (bool, "a boolean")):
        if isinstance(value, kind):
            return name
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def _host_messages(option: str, value: Mapping[str, Any]) -> dict[str, str]:
    messages: dict[str, str] = {}
    for host, message in value.items():
        if not isinstance(host, str):
            raise AnsibleActionFail(f"{option}: host names must be strings, got {host!r}")
        if isinstance(message, Mapping):
            message = message.get("msg") or json.dumps(dict(message), default=str)
        messages[host] = str(message)
    return messages


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()


def _symlink_refusal(given: str, path: str) -> AnsibleActionFail:
    named = given if os.path.abspath(os.path.expanduser(given)) == path else f"{given} ({path})"
    return AnsibleActionFail(
        f"report_dir: {named} is a symlink (to {os.readlink(path)}); the report is written only "
        "into a real directory, not through a link: give the directory itself, or remove the "
        f"link (rm {path}) to have the report directory created"
    )


def _checked_report_dir(given: str) -> str:
    """``given`` made absolute; refused (before anything changes) when it is a symlink, dangling
    or not (writing through it would create or fill the link's target), or not a directory."""
    report_dir = os.path.abspath(os.path.expanduser(given))
    if os.path.islink(report_dir):
        raise _symlink_refusal(given, report_dir)
    if os.path.exists(report_dir) and not os.path.isdir(report_dir):
        raise AnsibleActionFail(f"report_dir: {report_dir} exists and is not a directory")
    return report_dir


def _make_report_dir(report_dir: str) -> bool:
    """Create the report directory and its missing parents (mode 0750); whether it was made here.
    mkdir never follows a symlink in the last component: a link made meanwhile stays a link,
    which _open_report_dir refuses."""
    os.makedirs(os.path.dirname(report_dir), mode=DIR_MODE, exist_ok=True)
    try:
        os.mkdir(report_dir, DIR_MODE)
    except FileExistsError:
        return False
    return True


def _open_report_dir(given: str, report_dir: str) -> int:
    """A descriptor of the report directory itself, never of a symlink's target."""
    try:
        return os.open(report_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        if os.path.islink(report_dir):
            raise _symlink_refusal(given, report_dir) from None
        raise


def _read_text(path: str) -> str | None:
    """The report file's text; a symlink is not followed (it reads as "", so it is replaced)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if os.path.islink(path):
            return ""  # never equal to a rendered report: it gets replaced by a file
        raise AnsibleActionFail(f"report_dir: cannot read {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(descriptor, encoding="utf-8") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return ""
            return handle.read()
    except UnicodeDecodeError:
        return ""  # never equal to a rendered report: it gets rewritten
    except OSError as exc:
        raise AnsibleActionFail(f"report_dir: cannot read {path}: {exc.strerror}") from exc


def _previous_generated_at(on_disk: Mapping[str, str | None]) -> str | None:
    if on_disk.get("json"):
        with contextlib.suppress(ValueError):
            document = json.loads(on_disk["json"] or "")
            value = document.get("generated_at") if isinstance(document, dict) else None
            if isinstance(value, str):
                return value
    if on_disk.get("html"):
        match = _HTML_GENERATED.search(on_disk["html"] or "")
        if match:
            return html.unescape(match.group(1))
    if on_disk.get("markdown"):
        match = _MD_GENERATED.search(on_disk["markdown"] or "")
        if match:
            return re.sub(r"\\(.)", r"\1", match.group(1).replace("&amp;", "&"))
    return None


def _write_atomically(directory: int, name: str, text: str) -> None:
    """Write ``name`` in the directory open as ``directory``: a new file (O_EXCL, mode 0640)
    renamed over it, so a symlink already there is replaced, never followed."""
    for _attempt in range(100):
        tmp_name = f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(
                tmp_name,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                FILE_MODE,
                dir_fd=directory,
            )
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(errno.EEXIST, "no free temporary name", name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, name, src_dir_fd=directory, dst_dir_fd=directory)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name, dir_fd=directory)
        raise
