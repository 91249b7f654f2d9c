# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""Node files changed with their originals kept: every file is saved once, before its first
change, so a run killed half-way and run again still restores what the node had at the start.
The manifest in the backup directory lists each path, its copy (or that it did not exist) and the
directories made for it; :meth:`FileBackup.restore` puts the node back."""

from __future__ import absolute_import, division, print_function

import json
import os
import shutil
import stat
import tempfile
from typing import Dict, List, Optional, Union

__metaclass__ = type

MANIFEST = "manifest.json"
# Where runtime_migration keeps the originals (the node modules' default, and the role's).
DEFAULT_BACKUP_DIR = "/var/lib/kruise-cri/runtime-migration/backup"


class BackupError(Exception):
    pass


def write_atomically(path: str, content: Union[str, bytes], mode: int = 0o644) -> None:
    """``content`` at ``path`` through a temporary file beside it, so a reader (or a service
    starting) never sees half a file; refuses a path that is a symlink (a planted link must not
    redirect the write)."""
    if os.path.islink(path):
        raise BackupError(
            "%s is a symbolic link; kruise-cri writes regular files only: replace the link by the "
            "file it points to" % path
        )
    directory = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(prefix=".kruise-cri-", dir=directory)
    try:
        data = content.encode("utf-8") if isinstance(content, str) else content
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, mode)
        os.rename(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def read_bytes(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except (IOError, OSError) as error:
        if getattr(error, "errno", None) == 2:
            return None
        raise


def read_text(path: str) -> Optional[str]:
    data = read_bytes(path)
    return None if data is None else data.decode("utf-8", "replace")


class FileBackup:
    """The originals of the files a run changes, in ``directory`` (made 0700: the originals can
    hold credentials)."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.manifest_path = os.path.join(directory, MANIFEST)
        self.entries: Dict[str, Dict[str, object]] = {}
        text = read_text(self.manifest_path)
        if text:
            try:
                self.entries = json.loads(text)["files"]
            except (ValueError, KeyError, TypeError):
                raise BackupError(
                    "%s is not a kruise-cri backup manifest; move it away if the node holds "
                    "nothing to restore from it" % self.manifest_path
                ) from None

    def _store(self) -> None:
        if not os.path.isdir(self.directory):
            os.makedirs(self.directory, 0o700)
        os.chmod(self.directory, 0o700)
        write_atomically(self.manifest_path, json.dumps({"files": self.entries}, indent=1), 0o600)

    def save(self, path: str) -> None:
        """Keep ``path`` as it is now, unless it was saved before (the first original wins)."""
        if path in self.entries:
            return
        made: List[str] = []
        parent = os.path.dirname(path)
        while parent and not os.path.exists(parent):
            made.append(parent)
            parent = os.path.dirname(parent)
        entry: Dict[str, object] = {"copy": None, "made_directories": made}
        if os.path.lexists(path):
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode):
                raise BackupError(
                    "%s is not a regular file; kruise-cri changes regular files only: replace it "
                    "by the file it stands for" % path
                )
            copy = "%03d-%s" % (len(self.entries), os.path.basename(path))
            if not os.path.isdir(self.directory):
                os.makedirs(self.directory, 0o700)
            shutil.copy2(path, os.path.join(self.directory, copy))
            entry["copy"] = copy
            entry["mode"] = stat.S_IMODE(info.st_mode)
        self.entries[path] = entry
        self._store()

    def write(self, path: str, content: Union[str, bytes], mode: int = 0o644) -> bool:
        """``content`` at ``path`` with ``mode``, its original saved first; whether it changed."""
        data = content.encode("utf-8") if isinstance(content, str) else content
        if (
            os.path.isfile(path)
            and not os.path.islink(path)
            and read_bytes(path) == data
            and stat.S_IMODE(os.stat(path).st_mode) == mode
        ):
            return False
        self.save(path)
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        write_atomically(path, data, mode)
        return True

    def restore(self) -> List[str]:
        """Every saved file back as it was (removed when it did not exist); the paths restored."""
        restored = []
        # Last saved first: a directory made for an earlier file empties only after later ones.
        for path, entry in reversed(list(self.entries.items())):
            copy = entry.get("copy")
            if copy is None:
                if os.path.lexists(path):
                    os.unlink(path)
                    restored.append(path)
                for directory in entry.get("made_directories") or []:
                    if os.path.isdir(directory) and not os.listdir(directory):
                        os.rmdir(directory)
                continue
            original = read_bytes(os.path.join(self.directory, str(copy)))
            if original is None:
                raise BackupError(
                    "the copy of %s is missing from %s; restore the file by hand"
                    % (path, self.directory)
                )
            mode = int(entry.get("mode") or 0o644)
            current = os.stat(path) if os.path.isfile(path) else None
            if (
                read_bytes(path) != original
                or current is None
                or stat.S_IMODE(current.st_mode) != mode
            ):
                write_atomically(path, original, mode)
                restored.append(path)
        return restored

    def discard(self) -> None:
        """Forget the originals (after the run succeeded and its result was recorded)."""
        if os.path.isdir(self.directory):
            shutil.rmtree(self.directory)
        self.entries = {}
