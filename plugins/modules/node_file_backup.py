#!/usr/bin/python
# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""Put back, or forget, the node files kruise-cri changed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: node_file_backup
short_description: Put back, or forget, the originals of the node files kruise-cri changed
description:
  - M(kruise_cri.remediation.containerd_cri_config) and
    M(kruise_cri.remediation.kubelet_runtime_endpoint) save every file in O(backup_dir) before its
    first change. O(state=restored) puts each back as it was (files that did not exist are
    removed, with the directories made for them) and then forgets the backup;
    O(state=discarded) forgets it, keeping the files as they are now.
  - Idempotent - nothing to restore or forget reports no change.
  - Runs on the node with its own Python (3.6 or newer).
version_added: 0.3.0
author: kruise-cri maintainers (!UNKNOWN)
extends_documentation_fragment:
  - kruise_cri.remediation.node_backup
options:
  state:
    description:
      - V(restored) puts the originals back, V(discarded) forgets them.
    type: str
    choices: [restored, discarded]
    default: restored
attributes:
  check_mode:
    support: full
    description: Reports the files it would restore.
  diff_mode:
    support: full
    description: Each file restored, before and after.
"""

EXAMPLES = r"""
- name: Put the node's files back as they were before the migration
  kruise_cri.remediation.node_file_backup:
    state: restored
"""

RETURN = r"""
files:
  description: The files restored (or that would be); for O(state=discarded) the files whose
    originals were forgotten.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.file_backup import (
    DEFAULT_BACKUP_DIR,
    BackupError,
    FileBackup,
    read_bytes,
)


def pending(backup):
    """(path, now, original) of every saved file that differs from its original."""
    changes = []
    for path, entry in sorted(backup.entries.items()):
        now = read_bytes(path) if os.path.isfile(path) else None
        copy = entry.get("copy")
        original = read_bytes(os.path.join(backup.directory, copy)) if copy else None
        if now != original:
            changes.append((path, now, original))
    return changes


def _shown(content):
    """A file's content for a diff: its text, or a note for a binary."""
    if content is None:
        return ""
    if b"\0" in content:
        return "(binary, %d bytes)\n" % len(content)
    return content.decode("utf-8", "replace")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["restored", "discarded"], default="restored"),
            backup_dir=dict(type="path", default=DEFAULT_BACKUP_DIR),
        ),
        supports_check_mode=True,
    )
    try:
        backup = FileBackup(module.params["backup_dir"])
        if module.params["state"] == "discarded":
            files = sorted(backup.entries)
            if files and not module.check_mode:
                backup.discard()
            module.exit_json(changed=bool(files), files=files)
        changes = pending(backup)
        result = dict(changed=bool(changes), files=[path for path, _now, _original in changes])
        if module._diff:
            result["diff"] = [
                dict(
                    before_header=path,
                    after_header=path,
                    before=_shown(now),
                    after=_shown(original),
                )
                for path, now, original in changes
            ]
        if not module.check_mode:
            backup.restore()
            backup.discard()
    except (BackupError, OSError) as error:
        module.fail_json(
            msg="restoring the node's files from %s: %s" % (module.params["backup_dir"], error)
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
