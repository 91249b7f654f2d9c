"""The lab's directory, private to whoever runs the lab (root, as a rule).

What the directory holds is trusted: ``lab.json`` names the supervisor that ``lab down`` signals,
``inventory.yml`` names the Python that ``assess --lab`` runs as root. Whoever can write the
directory, or replace it, could plant either. So it must be a real directory (not a symlink) that
we own and nobody else can write, beneath ancestors that only root or we can change (a sticky,
world-writable ancestor such as /tmp is fine: nobody else can move what we made there). It is
created with mode 0700 when missing.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
from pathlib import Path

LAB_DIR_ENV = "KRUISE_CRI_LAB_DIR"
ROOT_LAB_DIR = Path("/run/kruise-cri-lab")
DIR_MODE = 0o700


class LabDirError(Exception):
    """The lab directory, or a file in it, cannot be trusted: the message names it and the fix."""


def default_lab_dir() -> Path:
    """``$KRUISE_CRI_LAB_DIR``, else /run/kruise-cri-lab for root (runtime state, gone at reboot,
    beneath a root-only folder), else ~/.cache/kruise-cri/lab."""
    configured = os.environ.get(LAB_DIR_ENV)
    if configured:
        return Path(configured)
    if os.geteuid() == 0 and ROOT_LAB_DIR.parent.is_dir():
        return ROOT_LAB_DIR
    return Path.home() / ".cache" / "kruise-cri" / "lab"


def _user_name(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _another_lab_dir() -> str:
    return (
        f"pass --lab-dir (or set {LAB_DIR_ENV}) to a directory of your own "
        f"(the default is {default_lab_dir()})"
    )


def _untrusted(path: Path, reason: str) -> LabDirError:
    return LabDirError(
        f"lab directory {path} {reason}; whoever controls it could make kruise-cri run their "
        f"code as {_user_name(os.geteuid())}. Check what it holds, remove it (rm -rf {path}) and "
        f"run again, or {_another_lab_dir()}"
    )


def _check_ancestor(lab_dir: Path, ancestor: Path) -> None:
    """``ancestor`` (symlinks resolved) must be changeable by root or us only."""
    info = os.lstat(ancestor)
    if not stat.S_ISDIR(info.st_mode):
        raise LabDirError(
            f"lab directory {lab_dir} cannot be made: {ancestor} is not a directory; "
            f"{_another_lab_dir()}"
        )
    problem = None
    if info.st_uid not in (0, os.geteuid()):
        problem = f"belongs to {_user_name(info.st_uid)}"
    elif info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
        problem = f"is writable by its group or others (mode {stat.S_IMODE(info.st_mode):04o})"
    if problem:
        raise LabDirError(
            f"lab directory {lab_dir} lies beneath {ancestor}, which {problem}: whoever can "
            f"change {ancestor} could replace the lab directory and make kruise-cri run their "
            f"code as {_user_name(os.geteuid())}. Pass --lab-dir (or set {LAB_DIR_ENV}) to a "
            f"path beneath folders only root or you can write (the default is "
            f"{default_lab_dir()})"
        )


def _check_lab_dir(lab_dir: Path) -> None:
    info = os.lstat(lab_dir)
    if stat.S_ISLNK(info.st_mode):
        raise LabDirError(
            f"lab directory {lab_dir} is a symlink (to {os.readlink(lab_dir)}); it must be a "
            "real directory, since kruise-cri trusts what it holds. Remove the link "
            f"(rm {lab_dir}) and run again, or {_another_lab_dir()}"
        )
    if not stat.S_ISDIR(info.st_mode):
        raise LabDirError(
            f"lab directory {lab_dir} exists and is not a directory: remove it, or "
            f"{_another_lab_dir()}"
        )
    if info.st_uid != os.geteuid():
        raise _untrusted(lab_dir, f"belongs to {_user_name(info.st_uid)}, not to you")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        mode = stat.S_IMODE(info.st_mode)
        raise _untrusted(lab_dir, f"is writable by its group or others (mode {mode:04o})")


def private_lab_dir(lab_dir: Path, *, create: bool) -> Path:
    """``lab_dir`` made absolute, its parent's symlinks resolved, checked to be private.

    With ``create`` a missing directory is made (mode 0700, and its missing parents 0700 too);
    without, a missing directory is returned as it is (it holds nothing to trust). Raises
    LabDirError, having changed nothing, when the directory or one of its ancestors is not private.
    """
    absolute = Path(os.path.abspath(lab_dir))
    if absolute.parent == absolute:
        raise LabDirError(
            f"lab directory {absolute} cannot be the root folder: {_another_lab_dir()}"
        )
    resolved = Path(os.path.realpath(absolute.parent)) / absolute.name
    missing: list[Path] = []
    existing = resolved
    while not os.path.lexists(existing):
        missing.append(existing)
        existing = existing.parent
    ancestors = [existing, *existing.parents] if existing != resolved else list(existing.parents)
    for ancestor in reversed(ancestors):
        _check_ancestor(resolved, ancestor)
    if existing == resolved:
        _check_lab_dir(resolved)
        return resolved
    if not create:
        return resolved
    for directory in reversed(missing):
        # Made meanwhile by someone else? Then it is checked below like any existing one.
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, DIR_MODE)
        if directory == resolved:
            _check_lab_dir(directory)
        else:
            _check_ancestor(resolved, directory)
    return resolved


def read_private_file(path: Path) -> str:
    """The text of ``path``, a regular file in the lab directory that we own and only we can
    write; symlinks are not followed."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as error:
        if os.path.islink(path):
            raise _untrusted(path.parent, f"holds {path.name} as a symlink") from error
        raise
    with os.fdopen(descriptor, encoding="utf-8") as handle:
        check_private_file(path, os.fstat(descriptor))
        return handle.read()


def check_private_file(path: Path, info: os.stat_result | None = None) -> None:
    """``path`` must be a regular file (not a symlink) that we own and only we can write."""
    info = info or os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        raise _untrusted(path.parent, f"holds {path.name} that is not a regular file")
    if info.st_uid != os.geteuid():
        raise _untrusted(path.parent, f"holds {path.name} owned by {_user_name(info.st_uid)}")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        mode = stat.S_IMODE(info.st_mode)
        raise _untrusted(path.parent, f"holds {path.name} writable by others (mode {mode:04o})")
