# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""What a node's files become when its kubelet moves to containerd's CRI: containerd's
config.toml for its major version, the registry hosts Docker's daemon.json named, and the kubelet's
flags pointed at the new endpoint. Pure functions of text and settings; the modules write."""

from __future__ import absolute_import, division, print_function

import re
import shlex
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

__metaclass__ = type

CONTAINERD_ENDPOINT = "unix:///run/containerd/containerd.sock"
CERTS_DIR = "/etc/containerd/certs.d"
DOCKER_HUB = "docker.io"
DOCKER_HUB_SERVER = "https://registry-1.docker.io"
HEADER = (
    "# Written by kruise-cri (kruise_cri.remediation.runtime_migration): containerd serves CRI\n"
    "# to the kubelet. The file it replaced is kept under /var/lib/kruise-cri/runtime-migration.\n"
)

# Flags only the kubelet's built-in dockershim read (gone with it in 1.24, where they fail the
# kubelet). A remote runtime takes its network and images from its own configuration.
DOCKERSHIM_FLAGS = (
    "--network-plugin",
    "--network-plugin-mtu",
    "--cni-bin-dir",
    "--cni-conf-dir",
    "--cni-cache-dir",
    "--docker",
    "--docker-endpoint",
    "--image-pull-progress-deadline",
    "--experimental-dockershim-root-directory",
    "--dockershim-root-directory",
    "--non-masquerade-cidr",
)
RUNTIME_FLAGS = ("--container-runtime", "--container-runtime-endpoint")
# Variables of env files and drop-ins that carry kubelet arguments.
ARGUMENT_VARIABLES = ("KUBELET_KUBEADM_ARGS", "KUBELET_EXTRA_ARGS", "KUBELET_ARGS", "KUBELET_OPTS")


class SwitchError(ValueError):
    """An input the switch cannot honour; the message names it and the fix."""


def toml_string(value: str) -> str:
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[%s]" % ", ".join(toml_value(item) for item in value)
    raise SwitchError("%r cannot be written to config.toml; give a string, number, bool or list")


def containerd_config(
    major: int,
    sandbox_image: Optional[str],
    systemd_cgroup: bool,
    runtime_options: Optional[Mapping[str, object]] = None,
    certs_dir: str = CERTS_DIR,
) -> str:
    """config.toml for containerd ``major`` (1: schema version 2; 2: version 3) with the CRI
    plugin on, runc under ``SystemdCgroup``, the kubelet's sandbox image and registries read
    from ``certs_dir``. ``runtime_options`` are extra keys of the CRI runtime section (e.g.
    restrict_oom_score_adj for nodes in user namespaces)."""
    options = sorted((runtime_options or {}).items())
    for key, _value in options:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise SwitchError(
                "containerd runtime option %r is not a plain TOML key; give keys such as "
                "restrict_oom_score_adj" % key
            )
    if major == 1:
        cri = '[plugins."io.containerd.grpc.v1.cri"]'
        runc = cri[:-1] + ".containerd.runtimes.runc"
        lines = [HEADER + "version = 2", "", cri]
        if sandbox_image:
            lines.append("  sandbox_image = %s" % toml_string(sandbox_image))
        lines.extend("  %s = %s" % (key, toml_value(value)) for key, value in options)
        lines.extend(["", cri[:-1] + ".registry]", "  config_path = %s" % toml_string(certs_dir)])
    elif major == 2:
        runtime = '[plugins."io.containerd.cri.v1.runtime"]'
        images = '[plugins."io.containerd.cri.v1.images"]'
        runc = runtime[:-1] + ".containerd.runtimes.runc"
        lines = [HEADER + "version = 3", "", runtime]
        lines.extend("  %s = %s" % (key, toml_value(value)) for key, value in options)
        lines.extend(["", images[:-1] + ".pinned_images]"])
        if sandbox_image:
            lines.append("  sandbox = %s" % toml_string(sandbox_image))
        lines.extend(
            ["", images[:-1] + ".registry]", "  config_path = %s" % toml_string(certs_dir)]
        )
    else:
        raise SwitchError(
            "containerd %s.x has no known config schema; give a 1.6+ or 2.x containerd" % major
        )
    lines.extend(
        [
            "",
            runc + "]",
            '  runtime_type = "io.containerd.runc.v2"',
            "",
            runc + ".options]",
            "  SystemdCgroup = %s" % toml_value(bool(systemd_cgroup)),
        ]
    )
    return "\n".join(lines) + "\n"


def _split_url(url: str) -> Tuple[Optional[str], str]:
    match = re.match(r"^(?:(https?)://)?([^/]+)/?$", url.strip())
    if not match:
        raise SwitchError(
            "registry %r in daemon.json is not a host[:port] or http(s)://host[:port]; fix "
            "/etc/docker/daemon.json or leave the registry out" % url
        )
    return match.group(1), match.group(2)


def _is_cidr(entry: str) -> bool:
    return bool(re.match(r"^[0-9a-fA-F.:]+/[0-9]+$", entry))


def registry_hosts(
    mirrors: Sequence[str], insecure: Sequence[str]
) -> Tuple[Dict[str, str], List[str]]:
    """containerd's ``hosts.toml`` per registry for Docker's ``registry-mirrors`` (Docker Hub's
    mirrors, tried in order) and ``insecure-registries`` (TLS unverified, then plain HTTP, as
    Docker tries them). Returns ({host: hosts.toml text}, notes on what cannot be carried)."""
    notes: List[str] = []
    insecure_hosts: List[str] = []
    for entry in insecure:
        if _is_cidr(entry):
            if entry != "127.0.0.0/8":  # Docker's own default, nothing to carry
                notes.append(
                    "insecure registry range %s is not carried over: containerd names registries "
                    "by host; add a hosts.toml per registry in that range" % entry
                )
            continue
        insecure_hosts.append(_split_url(entry)[1])
    files: Dict[str, str] = {}
    if mirrors:
        lines = ["server = %s" % toml_string(DOCKER_HUB_SERVER)]
        for mirror in mirrors:
            scheme, host = _split_url(mirror)
            lines.extend(["", "[host.%s]" % toml_string("%s://%s" % (scheme or "https", host))])
            lines.append('  capabilities = ["pull", "resolve"]')
            if host in insecure_hosts and (scheme or "https") == "https":
                lines.append("  skip_verify = true")
        files[DOCKER_HUB] = "\n".join(lines) + "\n"
    for host in insecure_hosts:
        files[host] = "\n".join(
            [
                "server = %s" % toml_string("https://" + host),
                "",
                "[host.%s]" % toml_string("https://" + host),
                '  capabilities = ["pull", "resolve", "push"]',
                "  skip_verify = true",
                "",
                "[host.%s]" % toml_string("http://" + host),
                '  capabilities = ["pull", "resolve", "push"]',
                "",
            ]
        )
    return files, notes


def _flag_name(token: str) -> str:
    return token.split("=", 1)[0]


def runtime_flags(endpoint: str, runtime_flag: bool) -> List[str]:
    """The kubelet flags that select ``endpoint``; ``--container-runtime=remote`` too for
    kubelets before 1.27 (``runtime_flag``)."""
    return (["--container-runtime=remote"] if runtime_flag else []) + [
        "--container-runtime-endpoint=" + endpoint
    ]


def retarget_arguments(
    arguments: List[str], new_flags: Sequence[str], add: bool
) -> Tuple[List[str], bool]:
    """Kubelet ``arguments`` without their runtime flags and dockershim's own flags, and with
    ``new_flags`` where a runtime flag was (or at the end when ``add`` is set). Returns
    (arguments, whether ``new_flags`` went in)."""
    kept: List[str] = []
    position = None
    index = 0
    while index < len(arguments):
        token = arguments[index]
        name = _flag_name(token)
        if name in RUNTIME_FLAGS or name in DOCKERSHIM_FLAGS:
            if name in RUNTIME_FLAGS and position is None:
                position = len(kept)
            value_follows = "=" not in token and index + 1 < len(arguments)
            if value_follows and not arguments[index + 1].startswith("-"):
                index += 1
            index += 1
            continue
        kept.append(token)
        index += 1
    if position is None:
        if not add:
            return kept, False
        position = len(kept)
    return kept[:position] + list(new_flags) + kept[position:], True


_ASSIGNMENT = re.compile(
    r'^(?P<lead>\s*(?:export\s+)?(?:Environment=["\']?)?)(?P<name>[A-Z_]+)=(?P<value>.*)$'
)


def _unquote(value: str) -> Tuple[str, str, str]:
    value = value.rstrip()
    for quote in ('"', "'"):
        if len(value) >= 2 and value.startswith(quote) and value.endswith(quote):
            return quote, value[1:-1], quote
    return "", value, ""


def retarget_kubelet_file(text: str, new_flags: Sequence[str], add: bool) -> Tuple[str, bool]:
    """An env file or systemd drop-in of the kubelet with its argument variables (and the
    kubelet's own ExecStart lines) retargeted by :func:`retarget_arguments`; ``add`` puts
    ``new_flags`` into the first argument variable when no runtime flag is there to replace.
    Returns (text, whether ``new_flags`` are in it)."""
    lines = text.splitlines(True)
    placed = False
    for number, line in enumerate(lines):
        ending = line[len(line.rstrip("\r\n")) :]
        body = line[: len(line) - len(ending)]
        match = _ASSIGNMENT.match(body)
        if match and match.group("name") in ARGUMENT_VARIABLES:
            lead, name = match.group("lead"), match.group("name")
            outer = ""
            value = match.group("value")
            if lead.endswith(('"', "'")) and value.endswith(lead[-1]):
                outer, value = lead[-1], value[:-1]
            quote, inner, _closing_quote = _unquote(value)
            before = shlex.split(inner)
            arguments, here = retarget_arguments(before, new_flags, add and not placed)
            placed = placed or here
            if arguments != before:
                lines[number] = "%s%s=%s%s%s%s%s" % (
                    lead,
                    name,
                    quote,
                    " ".join(arguments),
                    quote,
                    outer,
                    ending,
                )
        elif body.lstrip().startswith("ExecStart=") and "kubelet" in body.split("=", 1)[1]:
            command = shlex.split(body.split("=", 1)[1])
            arguments, here = retarget_arguments(command[1:], new_flags, False)
            placed = placed or here
            if arguments != command[1:]:
                lines[number] = "ExecStart=%s%s" % (" ".join(command[:1] + arguments), ending)
    return "".join(lines), placed


def retarget_kubelet_config(text: str, endpoint: str) -> str:
    """A KubeletConfiguration (YAML) with its top-level ``containerRuntimeEndpoint`` set to
    ``endpoint`` (kubelets 1.27 and later read it there)."""
    line = "containerRuntimeEndpoint: %s" % endpoint
    pattern = re.compile(r"^containerRuntimeEndpoint:.*$", re.MULTILINE)
    if pattern.search(text):
        return pattern.sub(line, text, count=1)
    return text + ("" if text.endswith("\n") or not text else "\n") + line + "\n"


def pod_infra_image(texts: Sequence[str]) -> Optional[str]:
    """The sandbox image the kubelet was told (``--pod-infra-container-image``), the last one set
    across ``texts`` (kubelet files, in the order the kubelet reads them)."""
    image = None
    for text in texts:
        for match in re.finditer(r"--pod-infra-container-image(?:=|\s+)([^\s\"']+)", text):
            image = match.group(1)
    return image
