#!/usr/bin/python
# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""Carry containerd's config.toml to the schema version a new containerd reads."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: containerd_config_migrate
short_description: Carry containerd's config.toml over to the schema version of a new containerd
description:
  - After containerd's binaries were upgraded, rewrites O(config_file) for the schema version
    O(containerd_binary) reads, keeping every setting. Version 1 (plugins named by their bare ID,
    C([plugins.cri])) becomes version 2 (C([plugins."io.containerd.grpc.v1.cri"])) for
    containerd 1.6 and 1.7, which read version 1 only as deprecated; for containerd 2.x, which
    does not read version 1 at all, version 1 becomes 2 and then 3, the last step by the new
    containerd's own C(containerd config migrate).
  - Refuses, changing nothing, a version 1 file naming a plugin that is not built into
    containerd, and a migration after which the new containerd would ignore a setting of the
    file (its warnings name the keys); the message says what to rewrite by hand.
  - A file already at the version the containerd reads is left alone. The original is saved in
    O(backup_dir) before the change (M(kruise_cri.remediation.node_file_backup) puts it back).
  - Runs on the node with its own Python (3.6 or newer).
version_added: 0.3.0
author: kruise-cri maintainers (!UNKNOWN)
extends_documentation_fragment:
  - kruise_cri.remediation.node_backup
options:
  config_file:
    description:
      - containerd's configuration.
    type: path
    default: /etc/containerd/config.toml
  containerd_binary:
    description:
      - The new containerd, whose version decides the schema and which migrates to version 3.
    type: path
    required: true
attributes:
  check_mode:
    support: full
    description: Computes the new file (running the new containerd) and reports it; writes nothing.
  diff_mode:
    support: full
    description: The file before and after.
"""

EXAMPLES = r"""
- name: Carry containerd's configuration over to the version the upgraded containerd reads
  kruise_cri.remediation.containerd_config_migrate:
    containerd_binary: /usr/local/bin/containerd
"""

RETURN = r"""
version_before:
  description: The file's schema version before (1 when it names none); null without a file.
  returned: always
  type: int
  sample: 1
version_after:
  description: The schema version the file has after (or would).
  returned: always
  type: int
  sample: 2
"""

import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.containerd_config_versions import (
    ConfigVersionError,
    config_version,
    version_1_to_2,
    version_read_by,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.file_backup import (
    DEFAULT_BACKUP_DIR,
    BackupError,
    FileBackup,
    read_text,
)

IGNORED_KEY = re.compile(
    r'msg="Ignoring unknown key[^"]*".*?\bkey=("[^"]*"|\S+)(?:.*?\bplugin=(\S+))?'
)


def binary_version(module, path):
    rc, out, err = module.run_command([path, "--version"])
    match = re.search(r"\bv?(\d+)\.(\d+)\.(\d+)", out) if rc == 0 else None
    if not match:
        module.fail_json(
            msg="%s --version did not give a version (%s): give the new containerd as "
            "containerd_binary (nothing was changed)" % (path, (err or out).strip() or rc)
        )
    return tuple(int(part) for part in match.groups())


def migrated_to_3(module, binary, text):
    """``containerd config migrate`` of a version 2 text, by the new containerd itself."""
    scratch = tempfile.mkdtemp(prefix="kruise-cri-config-")
    source = os.path.join(scratch, "config.toml")
    try:
        with open(source, "w") as handle:
            handle.write(text)
        rc, out, err = module.run_command([binary, "--config", source, "config", "migrate"])
    finally:
        os.unlink(source)
        os.rmdir(scratch)
    if rc != 0 or not out.strip():
        raise ConfigVersionError(
            "%s config migrate failed (%s): rewrite the file as version 3 by hand"
            % (binary, err.strip() or rc)
        )
    ignored = [
        "%s%s" % (key.strip('"'), " (%s)" % plugin if plugin else "")
        for key, plugin in IGNORED_KEY.findall(err)
    ]
    if ignored:
        raise ConfigVersionError(
            "containerd %s would ignore settings of this file after the migration: %s; rewrite "
            "them for it by hand (containerd's docs/cri/config.md names their new places)"
            % (binary, ", ".join(ignored))
        )
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config_file=dict(type="path", default="/etc/containerd/config.toml"),
            containerd_binary=dict(type="path", required=True),
            backup_dir=dict(type="path", default=DEFAULT_BACKUP_DIR),
        ),
        supports_check_mode=True,
    )
    params = module.params
    path = params["config_file"]
    wanted = version_read_by(binary_version(module, params["containerd_binary"]))
    text = read_text(path) if os.path.isfile(path) else None
    if text is None:
        module.exit_json(changed=False, version_before=None, version_after=None)
    before = config_version(text)
    result = dict(changed=False, version_before=before, version_after=before)
    if before >= wanted:
        module.exit_json(**result)
    try:
        new = version_1_to_2(text) if before == 1 else text
        if wanted == 3:
            new = migrated_to_3(module, params["containerd_binary"], new)
    except ConfigVersionError as error:
        module.fail_json(msg="%s: %s (nothing was changed)" % (path, error), **result)
    result.update(changed=True, version_after=wanted)
    if module._diff:
        result["diff"] = dict(before_header=path, after_header=path, before=text, after=new)
    if not module.check_mode:
        try:
            mode = os.stat(path).st_mode & 0o777
            FileBackup(params["backup_dir"]).write(path, new, mode)
        except (BackupError, OSError) as error:
            module.fail_json(msg="writing %s: %s" % (path, error), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
