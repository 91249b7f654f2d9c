# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""containerd's config.toml across its schema versions: which one a file is, which one a
containerd reads, and version 1 rewritten as version 2.

Version 1 (containerd <= 1.2's, still read by 1.x) names plugins by their bare ID
(``[plugins.cri]``); version 2 (1.3+) by type and ID (``[plugins."io.containerd.grpc.v1.cri"]``),
which is all that changed. containerd 2.x reads version 2 and 3 only (``containerd config migrate``
turns 2 into 3; it does not understand version 1).
"""

from __future__ import absolute_import, division, print_function

import re
from typing import Tuple

__metaclass__ = type

# containerd 1.x's built-in plugins: bare ID -> type.ID (the URI version 2 names them by).
V1_PLUGIN_IDS = {
    "cri": "io.containerd.grpc.v1.cri",
    "linux": "io.containerd.runtime.v1.linux",
    "task": "io.containerd.runtime.v2.task",
    "opt": "io.containerd.internal.v1.opt",
    "restart": "io.containerd.internal.v1.restart",
    "tracing": "io.containerd.internal.v1.tracing",
    "scheduler": "io.containerd.gc.v1.scheduler",
    "bolt": "io.containerd.metadata.v1.bolt",
    "cgroups": "io.containerd.monitor.v1.cgroups",
    "walking": "io.containerd.differ.v1.walking",
    "overlayfs": "io.containerd.snapshotter.v1.overlayfs",
    "native": "io.containerd.snapshotter.v1.native",
    "btrfs": "io.containerd.snapshotter.v1.btrfs",
    "zfs": "io.containerd.snapshotter.v1.zfs",
    "aufs": "io.containerd.snapshotter.v1.aufs",
    "devmapper": "io.containerd.snapshotter.v1.devmapper",
    "otlp": "io.containerd.tracing.processor.v1.otlp",
}
_VERSION = re.compile(r"^\s*version\s*=\s*(\d+)\s*(#.*)?$")
_HEADER = re.compile(r"^(\s*)(\[\[?)\s*plugins\s*\.\s*(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+)(.*)$")
_PLUGIN_LIST = re.compile(r"^(\s*(?:disabled_plugins|required_plugins)\s*=\s*)\[(.*)\](\s*(#.*)?)$")
_TABLE = re.compile(r"^\s*\[")


class ConfigVersionError(Exception):
    """The file cannot be carried to the new version safely; the message says why and what to do."""


def config_version(text: str) -> int:
    """The schema version of a config.toml: its top-level ``version``, 1 when it has none."""
    for line in text.splitlines():
        if _TABLE.match(line):
            break
        match = _VERSION.match(line)
        if match:
            return int(match.group(1))
    return 1


def version_read_by(containerd_version: Tuple[int, int, int]) -> int:
    """The newest schema a containerd reads: 3 for 2.x, 2 for 1.3 to 1.7."""
    return 3 if containerd_version >= (2, 0, 0) else 2


def _full_id(name: str) -> str:
    bare = name.strip("\"'")
    if "." in bare:
        return bare  # already type.ID
    if bare not in V1_PLUGIN_IDS:
        raise ConfigVersionError(
            "plugin %r of this version 1 config is not one of containerd's built-in plugins, so "
            "its version 2 name is unknown: rewrite the file as version 2 by hand (plugins are "
            "named by type and ID, as `containerd config default` shows them)" % bare
        )
    return V1_PLUGIN_IDS[bare]


def _plugin_list(items: str) -> str:
    names = [item.strip() for item in items.split(",") if item.strip()]
    return ", ".join('"%s"' % _full_id(name) for name in names)


def version_1_to_2(text: str) -> str:
    """A version 1 config.toml as version 2: plugin tables and plugin lists renamed to their
    type.ID, ``version = 2`` first; everything else (comments, order, values) kept."""
    lines = []
    in_plugins_table = False
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            indent, bracket, name, rest = header.groups()
            lines.append('%s%splugins."%s"%s' % (indent, bracket, _full_id(name), rest))
            in_plugins_table = False
            continue
        if _TABLE.match(line):
            in_plugins_table = re.match(r"^\s*\[\s*plugins\s*\]\s*(#.*)?$", line) is not None
            lines.append(line)
            continue
        plugin_list = _PLUGIN_LIST.match(line)
        if plugin_list and not in_plugins_table:
            lines.append(
                "%s[%s]%s"
                % (plugin_list.group(1), _plugin_list(plugin_list.group(2)), plugin_list.group(3))
            )
            continue
        if in_plugins_table and line.strip() and not line.strip().startswith("#"):
            raise ConfigVersionError(
                "this version 1 config sets plugins inline under [plugins] (%r): rewrite it as "
                "version 2 by hand" % line.strip()
            )
        lines.append(line)
    return "version = 2\n" + "\n".join(lines) + "\n"
