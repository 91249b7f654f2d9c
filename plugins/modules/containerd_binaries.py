#!/usr/bin/python
# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""Install containerd's binaries from a release archive, keeping the ones they replace."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: containerd_binaries
short_description: Install containerd from a release archive, keeping the binaries it replaces
description:
  - Puts the files of the archive's C(bin/) directory (the layout of containerd's release
    archives, C(containerd-X.Y.Z-linux-ARCH.tar.gz)) into O(install_dir), mode 0755, each
    written through a temporary file and renamed, the one it replaces saved in O(backup_dir)
    first (M(kruise_cri.remediation.node_file_backup) puts them back).
  - Refuses, changing nothing, an archive without C(bin/containerd), or whose containerd is older
    than 1.6 (it would serve CRI v1alpha2 only).
  - Does not stop or start containerd; stop it before, restart it after.
  - Runs on the node with its own Python (3.6 or newer).
version_added: 0.3.0
author: kruise-cri maintainers (!UNKNOWN)
extends_documentation_fragment:
  - kruise_cri.remediation.node_backup
options:
  archive:
    description:
      - The release archive on the node (C(.tar.gz)).
    type: path
    required: true
  install_dir:
    description:
      - Where the running containerd's binaries are (the release archives' documented place is
        C(/usr/local/bin)).
    type: path
    default: /usr/local/bin
attributes:
  check_mode:
    support: full
    description: Reads the archive, runs its containerd for its version, reports what it would install.
  diff_mode:
    support: partial
    description: The versions before and after; binaries have no text diff.
"""

EXAMPLES = r"""
- name: Upgrade containerd from the release archive copied to the node
  kruise_cri.remediation.containerd_binaries:
    archive: /var/lib/kruise-cri/runtime-migration/containerd.tar.gz
"""

RETURN = r"""
installed:
  description: The binaries written (or that would be).
  returned: always
  type: list
  elements: str
version_before:
  description: The version of O(install_dir)/containerd before, null when there was none.
  returned: always
  type: str
  sample: 1.4.13
version_after:
  description: The version of the archive's containerd.
  returned: always
  type: str
  sample: 1.7.24
"""

import os
import re
import shutil
import tarfile
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.file_backup import (
    DEFAULT_BACKUP_DIR,
    BackupError,
    FileBackup,
    read_bytes,
)

BINARY_NAME = re.compile(r"^bin/([A-Za-z0-9._-]+)$")


def binary_version(module, path):
    rc, out, _err = module.run_command([path, "--version"])
    match = re.search(r"\bv?(\d+)\.(\d+)\.(\d+)", out) if rc == 0 else None
    return tuple(int(part) for part in match.groups()) if match else None


def dotted_version(version):
    return "%d.%d.%d" % version if version else None


def archive_binaries(module, archive):
    """{name: bytes} of the regular files directly in the archive's bin/."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            binaries = {}
            for member in tar.getmembers():
                match = BINARY_NAME.match(member.name.lstrip("./"))
                if match and member.isfile():
                    binaries[match.group(1)] = tar.extractfile(member).read()
    except (IOError, OSError, tarfile.TarError) as error:
        module.fail_json(
            msg="archive %s cannot be read (%s); give containerd's release archive "
            "(containerd-X.Y.Z-linux-ARCH.tar.gz)" % (archive, error)
        )
    if "containerd" not in binaries:
        module.fail_json(
            msg="archive %s has no bin/containerd; give containerd's release archive "
            "(containerd-X.Y.Z-linux-ARCH.tar.gz)" % archive
        )
    return binaries


def main():
    module = AnsibleModule(
        argument_spec=dict(
            archive=dict(type="path", required=True),
            install_dir=dict(type="path", default="/usr/local/bin"),
            backup_dir=dict(type="path", default=DEFAULT_BACKUP_DIR),
        ),
        supports_check_mode=True,
    )
    params = module.params
    binaries = archive_binaries(module, params["archive"])
    scratch = tempfile.mkdtemp(prefix="kruise-cri-containerd-")
    try:
        candidate = os.path.join(scratch, "containerd")
        with open(candidate, "wb") as stream:
            stream.write(binaries["containerd"])
        os.chmod(candidate, 0o700)
        new = binary_version(module, candidate)
    finally:
        shutil.rmtree(scratch)
    current_path = os.path.join(params["install_dir"], "containerd")
    old = binary_version(module, current_path) if os.path.isfile(current_path) else None
    result = dict(version_before=dotted_version(old), version_after=dotted_version(new))
    if new is None or new < (1, 6, 0):
        module.fail_json(
            msg="the containerd in %s is %s, which serves CRI v1alpha2 only (or cannot run here); "
            "give a release archive of containerd 1.6 or newer"
            % (params["archive"], dotted_version(new) or "not runnable"),
            **result,
        )
    changes = [
        name
        for name, data in sorted(binaries.items())
        if read_bytes(os.path.join(params["install_dir"], name)) != data
    ]
    result["installed"] = [os.path.join(params["install_dir"], name) for name in changes]
    result["changed"] = bool(changes)
    if module._diff and changes:
        result["diff"] = dict(
            before="containerd %s\n" % result["version_before"],
            after="containerd %s\n" % result["version_after"],
        )
    if changes and not module.check_mode:
        try:
            backup = FileBackup(params["backup_dir"])
            for name in changes:
                backup.write(os.path.join(params["install_dir"], name), binaries[name], 0o755)
        except (BackupError, OSError) as error:
            module.fail_json(msg="installing containerd: %s" % error, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
