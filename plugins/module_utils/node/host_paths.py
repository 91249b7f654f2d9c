# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""Node paths beneath a host root: symlinks are followed inside the root, never out of it."""

from __future__ import absolute_import, division, print_function

import errno
import os
import stat

__metaclass__ = type

MAX_SYMLINKS = 40


class PathLoopError(Exception):
    pass


def under_root(host_root, node_path):
    """The host path of ``node_path`` with no symlink resolution (for display and plain reads)."""
    return os.path.join(host_root, node_path.lstrip("/"))


def resolve_node_path(host_root, node_path):
    """Resolve ``node_path`` as the node would, with its symlinks interpreted inside ``host_root``.

    Returns the resolved node path (absolute, as seen from the node's /), or None when a component
    does not exist. An absolute symlink target such as ``/run`` means ``host_root/run``, which is
    what a mounted node disk or a copied /etc + /run needs.
    """
    pending = [part for part in node_path.split("/") if part not in ("", ".")]
    resolved = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = resolved + [part]
        host_path = os.path.join(host_root, *candidate)
        try:
            info = os.lstat(host_path)
        except OSError as error:
            if error.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            raise
        if stat.S_ISLNK(info.st_mode):
            hops += 1
            if hops > MAX_SYMLINKS:
                raise PathLoopError(
                    "too many levels of symbolic links at /%s" % "/".join(candidate)
                )
            target = os.readlink(host_path)
            target_parts = [p for p in target.split("/") if p not in ("", ".")]
            if target.startswith("/"):
                resolved = []
            pending = target_parts + pending
            continue
        resolved = candidate
    return "/" + "/".join(resolved)


def node_path_kind(host_root, node_path):
    """Return (resolved, kind): kind is socket|file|directory|other|missing|loop, or
    "error: <reason>" when the path cannot be looked at (a folder without permission, a name
    too long)."""
    try:
        resolved = resolve_node_path(host_root, node_path)
    except PathLoopError:
        return None, "loop"
    except OSError as error:
        return None, "error: %s" % (error.strerror or error).lower()
    if resolved is None:
        return None, "missing"
    try:
        mode = os.stat(under_root(host_root, resolved)).st_mode
    except OSError:
        return None, "missing"
    if stat.S_ISSOCK(mode):
        return resolved, "socket"
    if stat.S_ISREG(mode):
        return resolved, "file"
    if stat.S_ISDIR(mode):
        return resolved, "directory"
    return resolved, "other"
