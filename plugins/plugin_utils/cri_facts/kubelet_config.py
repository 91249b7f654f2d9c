"""Which CRI endpoint does the kubelet use, and where is that set?

Controller side (Python 3.11). Input is the evidence of the cri_facts module (docs/facts.md):
``files`` (node path -> {content, error}), ``kubelet_processes`` (argv lists) and
``kubelet_binary``. The kubelet's own rules decide:

* A running kubelet's argv is what runs, so its flags win over every file.
* Otherwise the systemd unit is assembled like systemd does: the first ``kubelet.service`` of
  /etc/systemd/system, /run/systemd/system, /lib/systemd/system, /usr/lib/systemd/system; then
  every ``kubelet.service.d/*.conf`` in lexical order of file name (a name in a higher directory
  hides the same name lower down). ``Environment=`` assignments, then ``EnvironmentFile=``
  contents, which override them; ``ExecStart=`` with ``$VAR`` split into words. Without a unit,
  kubeadm's order is assumed: ``$KUBELET_KUBEADM_ARGS`` then ``$KUBELET_EXTRA_ARGS``.
* On the command line the last occurrence of a flag wins; flags beat the ``--config`` file.
* Generations: kubelet <= 1.23 runs Docker through the built-in dockershim unless
  ``--container-runtime=remote`` (default endpoint ``unix:///var/run/dockershim.sock``);
  1.24-1.26 take ``--container-runtime=remote --container-runtime-endpoint=...``; 1.27 removed
  ``--container-runtime`` and added ``containerRuntimeEndpoint`` to KubeletConfiguration; from
  1.24 on the default endpoint is ``unix:///run/containerd/containerd.sock``.

Every unreadable or malformed input becomes a finding ({severity, source, message}).
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass
from typing import Any

import yaml
from ansible_collections.kruise_cri.remediation.plugins.module_utils.findings import (
    Finding,
    finding,
)

KUBEADM_FLAGS_ENV = "/var/lib/kubelet/kubeadm-flags.env"
EXTRA_ARGS_FILES = ("/etc/default/kubelet", "/etc/sysconfig/kubelet")
UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
)
UNIT_NAME = "kubelet.service"

DOCKERSHIM_ENDPOINT = "unix:///var/run/dockershim.sock"
CONTAINERD_DEFAULT_ENDPOINT = "unix:///run/containerd/containerd.sock"
K3S_CONTAINERD_ENDPOINT = "unix:///run/k3s/containerd/containerd.sock"
K3S_CRI_DOCKERD_ENDPOINT = "unix:///run/k3s/cri-dockerd/cri-dockerd.sock"

PROCESS_SOURCE = "process"
INFERRED_SOURCE = "inferred"
DOCKERSHIM_PATHS = ("/var/run/dockershim.sock", "/run/dockershim.sock")
DEFAULT_SOURCE = "default"

# Generations of the kubelet <-> runtime wiring.
GEN_DOCKERSHIM = "dockershim"
GEN_REMOTE_FLAG = "remote-flag"  # --container-runtime=remote + endpoint (1.24-1.26 style)
GEN_ENDPOINT_FLAG = "endpoint-flag"  # endpoint flag alone (1.27+ style)
GEN_CONFIG_FILE = "config-file"  # containerRuntimeEndpoint in KubeletConfiguration
GEN_DEFAULT = "default"
GEN_K3S = "k3s"

FAMILY_BY_RUNTIME_NAME = {
    "containerd": "containerd",
    "docker": "docker",
    "cri-o": "crio",
    "pouch": "pouch",
}

_FLAGS_OF_INTEREST = (
    "container-runtime-endpoint",
    "container-runtime",
    "cgroup-driver",
    "config",
    "pod-infra-container-image",
)
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WHOLE_VAR = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
_BRACED_WHOLE_VAR = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_EMBEDDED_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_VERSION = re.compile(r"\bv?(\d+)\.(\d+)\.(\d+)([-+.][0-9A-Za-z.+-]*)?")


@dataclass(frozen=True)
class Word:
    """One command-line word and the file (or "process") it came from."""

    text: str
    source: str


# ---------------------------------------------------------------------------------------------
# Small parsers
# ---------------------------------------------------------------------------------------------


def _logical_lines(content: str) -> list[str]:
    """Lines with trailing-backslash continuations joined, as systemd reads them."""
    lines: list[str] = []
    pending = ""
    for raw in content.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    if pending:
        lines.append(pending)
    return lines


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _split_words(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=False, posix=True)
    except ValueError:
        return text.split()


def parse_env_file(content: str, source: str = "") -> tuple[dict[str, str], list[Finding]]:
    """``KEY=value`` lines of an EnvironmentFile / kubeadm-flags.env / /etc/default file."""
    variables: dict[str, str] = {}
    findings: list[Finding] = []
    for number, line in enumerate(_logical_lines(content), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :].lstrip()
        key, sep, value = stripped.partition("=")
        key = key.strip()
        if not sep or not _VAR_NAME.match(key):
            findings.append(
                finding("warning", source, f"line {number} is not KEY=value: {stripped!r}")
            )
            continue
        value = value.strip()
        try:
            parts = shlex.split(value, comments=False, posix=True)
            variables[key] = " ".join(parts)
        except ValueError as error:
            findings.append(
                finding("warning", source, f"line {number}: {error} in the value of {key}")
            )
            variables[key] = _unquote(value)
    return variables, findings


@dataclass
class UnitService:
    """The [Service] settings of one unit file or drop-in, in file order."""

    environment: list[tuple[str, str] | None]  # None: "Environment=" reset
    environment_files: list[str | None]  # None: "EnvironmentFile=" reset
    exec_start: list[str | None]  # None: "ExecStart=" reset


def parse_unit(content: str) -> UnitService:
    service = UnitService([], [], [])
    section = ""
    for line in _logical_lines(content):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
            continue
        if section != "Service":
            continue
        key, sep, value = stripped.partition("=")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "Environment":
            if not value:
                service.environment.append(None)
                continue
            for assignment in _split_words(value):
                name, eq, val = assignment.partition("=")
                if eq and _VAR_NAME.match(name):
                    service.environment.append((name, val))
        elif key == "EnvironmentFile":
            service.environment_files.append(value or None)
        elif key == "ExecStart":
            service.exec_start.append(value or None)
    return service


def endpoint_path(endpoint: str | None) -> str | None:
    """``unix:///run/x.sock`` or ``/run/x.sock`` -> ``/run/x.sock``; other schemes -> None."""
    if not endpoint:
        return None
    text = _unquote(endpoint.strip())
    if text.startswith("unix://"):
        text = text[len("unix://") :]
    elif "://" in text:
        return None
    return posixpath.normpath(text) if text.startswith("/") else None


def runtime_family(
    endpoint: str | None, socket_runtime_names: dict[str, str] | None = None
) -> str | None:
    """containerd (incl. k3s), docker (dockershim, cri-dockerd), crio, pouch; else the probe."""
    path = endpoint_path(endpoint)
    if path is None:
        return None
    base = posixpath.basename(path)
    if base == "containerd.sock":
        return "containerd"
    if base in ("dockershim.sock", "cri-dockerd.sock"):
        return "docker"
    if base == "crio.sock":
        return "crio"
    if base == "pouchcri.sock":
        return "pouch"
    name = (socket_runtime_names or {}).get(path)
    if name:
        return FAMILY_BY_RUNTIME_NAME.get(name, name)
    return None


def parse_kubelet_version(output: str | None) -> str | None:
    """``Kubernetes v1.27.3`` -> ``v1.27.3``."""
    if not output or not isinstance(output, str):
        return None
    match = _VERSION.search(output)
    if not match:
        return None
    return f"v{match.group(1)}.{match.group(2)}.{match.group(3)}{match.group(4) or ''}"


def _minor(version: str | None) -> tuple[int, int] | None:
    if not version:
        return None
    match = _VERSION.search(version)
    return (int(match.group(1)), int(match.group(2))) if match else None


def parse_flags(words: list[Word]) -> tuple[dict[str, Word], list[Finding]]:
    """The last value of each flag of interest (``--f=v`` or ``--f v``; ``_`` reads as ``-``)."""
    flags: dict[str, Word] = {}
    findings: list[Finding] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.text.startswith("--"):
            continue
        name, eq, value = word.text[2:].partition("=")
        name = name.replace("_", "-")
        if name not in _FLAGS_OF_INTEREST:
            continue
        if eq:
            flags[name] = Word(_unquote(value), word.source)
            continue
        if index < len(words) and not words[index].text.startswith("-"):
            flags[name] = Word(_unquote(words[index].text), word.source)
            index += 1
        else:
            findings.append(
                finding(
                    "error",
                    word.source,
                    f"--{name} has no value; the kubelet refuses to start ('flag needs an "
                    "argument')",
                )
            )
    return flags, findings


# ---------------------------------------------------------------------------------------------
# Assembling the command line from files
# ---------------------------------------------------------------------------------------------


def _content(files: dict[str, Any], path: str) -> str | None:
    entry = files.get(path)
    content = entry.get("content") if isinstance(entry, dict) else None
    return content if isinstance(content, str) else None


def _read_error(files: dict[str, Any], path: str) -> str | None:
    entry = files.get(path)
    if entry is None:
        return "not read by the node module"
    if isinstance(entry, dict):
        error = entry.get("error")
        return str(error) if error else None
    return "malformed evidence entry"


def _unit_files(files: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(base unit path, drop-in paths in application order)."""
    base = next(
        (f"{d}/{UNIT_NAME}" for d in UNIT_DIRS if _content(files, f"{d}/{UNIT_NAME}") is not None),
        None,
    )
    by_name: dict[str, str] = {}
    for unit_dir in reversed(UNIT_DIRS):  # higher-precedence directories overwrite lower ones
        prefix = f"{unit_dir}/{UNIT_NAME}.d/"
        for path in files:
            if (
                isinstance(path, str)
                and path.startswith(prefix)
                and path.endswith(".conf")
                and "/" not in path[len(prefix) :]
                and _content(files, path) is not None
            ):
                by_name[path[len(prefix) :]] = path
    return base, [by_name[name] for name in sorted(by_name)]


def _exec_words(command: str, source: str, env: dict[str, Word]) -> list[Word]:
    text = command.lstrip("@-:+!")
    words: list[Word] = []
    for token in _split_words(text):
        whole = _WHOLE_VAR.match(token)
        if whole:
            variable = env.get(whole.group(1))
            if variable is not None:
                words.extend(Word(part, variable.source) for part in _split_words(variable.text))
            continue
        braced = _BRACED_WHOLE_VAR.match(token)
        if braced:
            variable = env.get(braced.group(1))
            if variable is not None and variable.text:
                words.append(Word(variable.text, variable.source))
            continue

        def substitute(match: re.Match[str]) -> str:
            variable = env.get(match.group(1) or match.group(2))
            return variable.text if variable else ""

        words.append(Word(_EMBEDDED_VAR.sub(substitute, token), source))
    return words


def command_from_files(files: dict[str, Any]) -> tuple[list[Word], list[Finding], str | None]:
    """The kubelet command line the files describe: (words, findings, how it was assembled)."""
    findings: list[Finding] = []
    base, dropins = _unit_files(files)
    unit_paths = ([base] if base else []) + dropins
    env: dict[str, Word] = {}
    env_files: list[tuple[str, str]] = []  # (EnvironmentFile value, unit that named it)
    exec_start: tuple[str, str] | None = None
    exec_count = 0
    for path in unit_paths:
        service = parse_unit(_content(files, path) or "")
        for assignment in service.environment:
            if assignment is None:
                env.clear()
            else:
                env[assignment[0]] = Word(assignment[1], path)
        for env_file in service.environment_files:
            if env_file is None:
                env_files.clear()
            else:
                env_files.append((env_file, path))
        for command in service.exec_start:
            if command is None:
                exec_start, exec_count = None, 0
            else:
                exec_start, exec_count = (command, path), exec_count + 1
    if exec_count > 1:
        findings.append(
            finding(
                "error",
                exec_start[1] if exec_start else "kubelet.service",
                "kubelet.service ends up with more than one ExecStart= (a drop-in needs an "
                "empty ExecStart= first); systemd refuses to start it",
            )
        )

    if exec_start is None:
        if unit_paths:
            findings.append(
                finding(
                    "warning",
                    unit_paths[-1],
                    "no ExecStart= for kubelet.service in the unit files read; assuming "
                    "kubeadm's $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS",
                )
            )
        return (
            _kubeadm_order_words(files, findings),
            findings,
            ("kubeadm order" if _has_env_files(files) else None),
        )

    for env_file, named_in in env_files:
        optional = env_file.startswith("-")
        path = env_file.lstrip("-")
        content = _content(files, path)
        if content is None:
            error = _read_error(files, path)
            if error == "missing" and optional:
                continue
            if error == "missing":
                findings.append(
                    finding(
                        "error",
                        named_in,
                        f"EnvironmentFile={path} does not exist and is not optional (no '-'); "
                        "systemd refuses to start the kubelet",
                    )
                )
            else:
                findings.append(
                    finding("warning", path, f"cannot read EnvironmentFile {path}: {error}")
                )
            continue
        variables, more = parse_env_file(content, path)
        findings.extend(more)
        for name, value in variables.items():
            env[name] = Word(value, path)
    return _exec_words(exec_start[0], exec_start[1], env), findings, "systemd unit"


def _has_env_files(files: dict[str, Any]) -> bool:
    return any(_content(files, p) is not None for p in (KUBEADM_FLAGS_ENV, *EXTRA_ARGS_FILES))


def _kubeadm_order_words(files: dict[str, Any], findings: list[Finding]) -> list[Word]:
    words: list[Word] = []
    for path, variable in [(KUBEADM_FLAGS_ENV, "KUBELET_KUBEADM_ARGS")] + [
        (p, "KUBELET_EXTRA_ARGS") for p in EXTRA_ARGS_FILES
    ]:
        content = _content(files, path)
        if content is None:
            continue
        variables, more = parse_env_file(content, path)
        findings.extend(more)
        if variable in variables:
            words.extend(Word(part, path) for part in _split_words(variables[variable]))
    return words


# ---------------------------------------------------------------------------------------------
# The KubeletConfiguration file
# ---------------------------------------------------------------------------------------------


def parse_kubelet_config_file(
    files: dict[str, Any], path: str
) -> tuple[dict[str, Any], list[Finding]]:
    """containerRuntimeEndpoint and cgroupDriver of a KubeletConfiguration YAML file."""
    findings: list[Finding] = []
    content = _content(files, path)
    if content is None:
        error = _read_error(files, path)
        severity = "error" if error == "missing" else "warning"
        why = (
            "the kubelet refuses to start without it"
            if error == "missing"
            else "its settings are unknown"
        )
        findings.append(finding(severity, path, f"kubelet --config file {path}: {error}; {why}"))
        return {}, findings
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        findings.append(finding("error", path, f"not valid YAML{where}: {problem}"))
        return {}, findings
    if data is None:
        return {}, findings
    if not isinstance(data, dict):
        findings.append(
            finding(
                "error",
                path,
                f"a KubeletConfiguration must be a mapping, not {type(data).__name__}",
            )
        )
        return {}, findings
    kind = data.get("kind")
    if kind is not None and kind != "KubeletConfiguration":
        findings.append(finding("warning", path, f"kind is {kind!r}, not KubeletConfiguration"))
    settings: dict[str, Any] = {}
    for key in ("containerRuntimeEndpoint", "cgroupDriver"):
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, str) and value.strip():
            settings[key] = value.strip()
        else:
            findings.append(finding("warning", path, f"{key} is not a string: {value!r}"))
    return settings, findings


# ---------------------------------------------------------------------------------------------
# Putting it together
# ---------------------------------------------------------------------------------------------


def empty_kubelet_facts() -> dict[str, Any]:
    return {
        "runtime_endpoint": None,
        "runtime": None,
        "source": None,
        "container_runtime_flag": None,
        "cgroup_driver": None,
        "config_file": None,
        "version": None,
        "generation": None,
        "file_source": None,
        "sandbox_image": None,
    }


def _k3s_command(argv: list[str]) -> bool:
    return bool(argv) and posixpath.basename(str(argv[0])) in ("k3s", "rke2")


def _k3s_endpoint(argv: list[str]) -> str:
    endpoint = None
    docker = False
    words = [str(a) for a in argv]
    for index, arg in enumerate(words):
        name, eq, value = arg.partition("=")
        if name == "--container-runtime-endpoint":
            endpoint = value if eq else (words[index + 1] if index + 1 < len(words) else None)
        elif name == "--kubelet-arg":
            text = value if eq else (words[index + 1] if index + 1 < len(words) else "")
            key, _equals, kubelet_value = _unquote(text).lstrip("-").partition("=")
            if key == "container-runtime-endpoint" and kubelet_value:
                endpoint = kubelet_value
        elif arg == "--docker":
            docker = True
    if endpoint:
        if endpoint.startswith("/"):
            endpoint = "unix://" + endpoint
        return _unquote(endpoint)
    return K3S_CRI_DOCKERD_ENDPOINT if docker else K3S_CONTAINERD_ENDPOINT


def _dockershim_answers(socket_runtime_names: dict[str, str] | None) -> bool:
    return any(path in (socket_runtime_names or {}) for path in DOCKERSHIM_PATHS)


def parse_kubelet(
    files: dict[str, Any] | None,
    kubelet_processes: list[list[str]] | None,
    kubelet_binary: dict[str, Any] | None,
    *,
    socket_runtime_names: dict[str, str] | None = None,
) -> tuple[dict[str, Any], list[Finding]]:
    """The ``kubelet`` part of the facts and the findings met on the way."""
    facts = empty_kubelet_facts()
    findings: list[Finding] = []
    files = files if isinstance(files, dict) else {}
    processes = [
        [str(arg) for arg in argv]
        for argv in (kubelet_processes or [])
        if isinstance(argv, list) and argv
    ]

    if isinstance(kubelet_binary, dict):
        facts["version"] = parse_kubelet_version(kubelet_binary.get("version_output"))
        if kubelet_binary.get("error"):
            findings.append(
                finding(
                    "warning",
                    str(kubelet_binary.get("path") or "kubelet"),
                    f"kubelet --version failed: {kubelet_binary['error']}",
                )
            )
        elif facts["version"] is None:
            findings.append(
                finding(
                    "warning",
                    str(kubelet_binary.get("path") or "kubelet"),
                    f"cannot read a version in {kubelet_binary.get('version_output')!r}",
                )
            )
    minor = _minor(facts["version"])

    if len(processes) > 1:
        findings.append(
            finding(
                "warning",
                PROCESS_SOURCE,
                # Only the program: k3s/rke2 command lines can carry tokens.
                f"{len(processes)} kubelet processes run; using the first, {processes[0][0]}",
            )
        )
    if processes and _k3s_command(processes[0]):
        endpoint = _k3s_endpoint(processes[0])
        facts.update(
            runtime_endpoint=endpoint,
            runtime=runtime_family(endpoint, socket_runtime_names),
            source=PROCESS_SOURCE,
            generation=GEN_K3S,
        )
        return facts, findings

    file_words, more, assembled = command_from_files(files)
    findings.extend(more)
    file_flags, more = parse_flags(file_words)
    findings.extend(more)
    if processes:
        flags, more = parse_flags([Word(arg, PROCESS_SOURCE) for arg in processes[0][1:]])
        findings.extend(more)
    else:
        flags = file_flags
    known = bool(processes) or assembled is not None

    config_settings: dict[str, Any] = {}
    config_word = flags.get("config")
    if config_word is not None and config_word.text:
        config_path = config_word.text
        if not config_path.startswith("/"):
            config_path = "/" + config_path
        facts["config_file"] = config_path
        config_settings, more = parse_kubelet_config_file(files, config_path)
        findings.extend(more)

    sandbox_word = flags.get("pod-infra-container-image")
    facts["sandbox_image"] = sandbox_word.text if sandbox_word and sandbox_word.text else None
    runtime_flag = flags.get("container-runtime")
    facts["container_runtime_flag"] = runtime_flag.text if runtime_flag else None
    endpoint_word = flags.get("container-runtime-endpoint")
    config_endpoint = config_settings.get("containerRuntimeEndpoint")

    if minor is not None and minor >= (1, 27) and runtime_flag is not None:
        findings.append(
            finding(
                "error",
                runtime_flag.source,
                f"--container-runtime={runtime_flag.text} is set, but kubelet "
                f"{facts['version']} no longer has this flag (removed in 1.27) and will not start",
            )
        )
    if config_endpoint and endpoint_word is not None:
        findings.append(
            finding(
                "info",
                endpoint_word.source,
                f"--container-runtime-endpoint={endpoint_word.text} overrides "
                f"containerRuntimeEndpoint={config_endpoint} of {facts['config_file']}",
            )
        )
    config_endpoint_ignored = bool(config_endpoint) and minor is not None and minor < (1, 27)
    if config_endpoint_ignored and endpoint_word is None:
        findings.append(
            finding(
                "warning",
                str(facts["config_file"]),
                f"containerRuntimeEndpoint is set, but kubelet {facts['version']} predates "
                "1.27 and ignores it",
            )
        )

    runtime_text = runtime_flag.text if runtime_flag else None
    old_kubelet = minor is not None and minor <= (1, 23)
    # Before 1.24 the kubelet's --container-runtime defaults to docker (dockershim).
    dockershim = runtime_text == "docker" or (old_kubelet and runtime_text is None)
    if dockershim:
        if minor is not None and minor >= (1, 24):
            findings.append(
                finding(
                    "error",
                    runtime_flag.source if runtime_flag else DEFAULT_SOURCE,
                    f"--container-runtime=docker: dockershim was removed in kubelet 1.24; "
                    f"kubelet {facts['version']} will not start",
                )
            )
        if endpoint_word is not None:
            facts.update(runtime_endpoint=endpoint_word.text, source=endpoint_word.source)
        else:
            facts.update(runtime_endpoint=DOCKERSHIM_ENDPOINT, source=DEFAULT_SOURCE)
        facts["generation"] = GEN_DOCKERSHIM
        facts["runtime"] = "docker"
        if endpoint_word is not None and runtime_text is None:
            findings.append(
                finding(
                    "warning",
                    endpoint_word.source,
                    f"--container-runtime-endpoint={endpoint_word.text} without "
                    f"--container-runtime=remote: kubelet {facts['version']} runs Docker "
                    "through dockershim and serves dockershim on that endpoint",
                )
            )
    elif endpoint_word is not None:
        facts.update(runtime_endpoint=endpoint_word.text, source=endpoint_word.source)
        facts["generation"] = GEN_REMOTE_FLAG if runtime_text == "remote" else GEN_ENDPOINT_FLAG
    elif config_endpoint and not config_endpoint_ignored:
        facts.update(runtime_endpoint=config_endpoint, source=facts["config_file"])
        facts["generation"] = GEN_CONFIG_FILE
    elif minor is not None and minor >= (1, 24):
        facts.update(
            runtime_endpoint=CONTAINERD_DEFAULT_ENDPOINT,
            source=DEFAULT_SOURCE,
            generation=GEN_DEFAULT,
        )
    elif known and _dockershim_answers(socket_runtime_names):
        # Only the kubelet's built-in dockershim creates this socket, so a kubelet configured
        # without an endpoint that has one answering runs Docker through dockershim.
        facts.update(
            runtime_endpoint=DOCKERSHIM_ENDPOINT,
            source=INFERRED_SOURCE,
            generation=GEN_DOCKERSHIM,
            runtime="docker",
        )
        findings.append(
            finding(
                "info",
                "kubelet",
                "no container runtime endpoint is configured and the kubelet version is "
                "unknown; dockershim's socket answers, so the kubelet runs Docker through "
                "dockershim (kubelet <= 1.23)",
            )
        )
    elif known or facts["version"]:
        findings.append(
            finding(
                "warning",
                PROCESS_SOURCE if processes else "kubelet",
                "no container runtime endpoint is configured and the kubelet version is "
                "unknown: dockershim (kubelet <= 1.23) or containerd's default socket "
                "(1.24 and later)",
            )
        )

    if facts["runtime"] is None and facts["runtime_endpoint"]:
        facts["runtime"] = runtime_family(facts["runtime_endpoint"], socket_runtime_names)
        if facts["runtime"] is None:
            findings.append(
                finding(
                    "warning",
                    str(facts["source"]),
                    f"cannot tell which runtime serves {facts['runtime_endpoint']}",
                )
            )

    driver_word = flags.get("cgroup-driver")
    if driver_word is not None:
        facts["cgroup_driver"] = driver_word.text
    elif config_settings.get("cgroupDriver"):
        facts["cgroup_driver"] = config_settings["cgroupDriver"]
    elif known:
        facts["cgroup_driver"] = "cgroupfs"

    file_endpoint = file_flags.get("container-runtime-endpoint")
    facts["file_source"] = file_endpoint.source if file_endpoint else None
    if processes and file_words:
        running = endpoint_word.text if endpoint_word else None
        configured = file_endpoint.text if file_endpoint else None
        if running != configured:
            findings.append(
                finding(
                    "warning",
                    file_endpoint.source if file_endpoint else PROCESS_SOURCE,
                    f"the running kubelet has --container-runtime-endpoint={running}, its "
                    f"configuration files say {configured}: it has not been restarted since "
                    "they changed, or they are not the ones it runs from",
                )
            )
    if not known and not facts["version"]:
        findings.append(
            finding(
                "info",
                "kubelet",
                "no kubelet found: no running kubelet, no kubelet.service, no kubeadm or "
                "KUBELET_EXTRA_ARGS file",
            )
        )
    return facts, findings
