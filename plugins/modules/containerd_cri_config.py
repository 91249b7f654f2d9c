#!/usr/bin/python
# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""Write containerd's config.toml with the CRI plugin on, and Docker's registries as hosts.toml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: containerd_cri_config
short_description: Configure containerd to serve CRI to the kubelet, carrying Docker's registries
description:
  - Writes containerd's C(config.toml) for its major version (schema version 2 for containerd
    1.x, version 3 for 2.x) with the CRI plugin enabled, runc's C(SystemdCgroup) matching the
    kubelet's cgroup driver, the sandbox image the kubelet used, and registries read from
    O(certs_dir).
  - Writes one C(hosts.toml) per registry under O(certs_dir) for Docker's C(registry-mirrors)
    (Docker Hub's mirrors) and C(insecure-registries) (TLS unverified, then plain HTTP, as Docker
    tries them).
  - Every file is saved in O(backup_dir) before its first change (the first original wins, so a
    rerun after an interrupted run keeps what the node had at the start);
    M(kruise_cri.remediation.node_file_backup) puts them back.
  - Refuses a containerd older than 1.6 (it serves CRI v1alpha2 only) and a config path that is a
    symbolic link, with nothing changed.
  - Runs on the node with its own Python (3.6 or newer). It neither restarts containerd nor
    touches the kubelet.
version_added: 0.3.0
author: kruise-cri maintainers (!UNKNOWN)
extends_documentation_fragment:
  - kruise_cri.remediation.node_backup
options:
  sandbox_image:
    description:
      - The pause image of pod sandboxes; give the kubelet's C(--pod-infra-container-image).
        Unset, containerd's own default applies.
    type: str
  systemd_cgroup:
    description:
      - Whether runc uses the systemd cgroup driver; must match the kubelet's C(cgroupDriver).
    type: bool
    required: true
  registry_mirrors:
    description:
      - Docker's C(registry-mirrors) (URLs), written as Docker Hub's mirrors.
    type: list
    elements: str
    default: []
  insecure_registries:
    description:
      - Docker's C(insecure-registries) (C(host:port); address ranges cannot be carried and are
        reported in RV(notes)).
    type: list
    elements: str
    default: []
  runtime_options:
    description:
      - Extra keys of the CRI plugin's runtime section, for example
        C(restrict_oom_score_adj=true) on nodes in a user namespace.
    type: dict
    default: {}
  containerd_binary:
    description:
      - The containerd whose version decides the config schema.
    type: path
    default: containerd
  containerd_version:
    description:
      - The version (C(X.Y.Z)) of the containerd that will read the configuration, when it is
        not installed yet (a preview before M(kruise_cri.remediation.containerd_binaries)
        upgrades it). Unset, O(containerd_binary) C(--version) tells.
    type: str
  config_file:
    description:
      - containerd's configuration file.
    type: path
    default: /etc/containerd/config.toml
  certs_dir:
    description:
      - Where containerd's CRI plugin reads registry hosts (C(config_path)).
    type: path
    default: /etc/containerd/certs.d
attributes:
  check_mode:
    support: full
    description: Reports the files it would write, with their diff, and the containerd version.
  diff_mode:
    support: full
    description: Each file before and after.
"""

EXAMPLES = r"""
- name: Let containerd serve CRI with the kubelet's settings and Docker's registries
  kruise_cri.remediation.containerd_cri_config:
    sandbox_image: registry.k8s.io/pause:3.6
    systemd_cgroup: true
    registry_mirrors: ["https://mirror.example.com"]
    insecure_registries: ["registry.internal:5000"]
"""

RETURN = r"""
containerd_version:
  description: The version C(containerd --version) printed, or O(containerd_version).
  returned: always
  type: str
  sample: 1.6.20
written:
  description: The files written (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
notes:
  description: What could not be carried over from Docker's configuration.
  returned: always
  type: list
  elements: str
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.file_backup import (
    DEFAULT_BACKUP_DIR,
    BackupError,
    FileBackup,
    read_text,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.runtime_switch import (
    SwitchError,
    containerd_config,
    registry_hosts,
)


def containerd_version(module):
    given = module.params["containerd_version"]
    if given:
        match = re.match(r"v?(\d+)\.(\d+)\.(\d+)$", given.strip())
        if not match:
            module.fail_json(
                msg="containerd_version %r is not a version X.Y.Z; give the version of the "
                "containerd that will read the configuration, or leave it unset" % given
            )
        return tuple(int(part) for part in match.groups())
    binary = module.params["containerd_binary"]
    if "/" not in binary:
        binary = module.get_bin_path(binary) or binary
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        module.fail_json(
            msg="containerd_binary %s is not an executable file on the node; install containerd "
            "1.6 or newer (Docker's containerd.io or the distribution's containerd), or give its "
            "path" % binary
        )
    rc, out, err = module.run_command([binary, "--version"])
    match = re.search(r"\bv?(\d+)\.(\d+)\.(\d+)", out) if rc == 0 else None
    if not match:
        module.fail_json(
            msg="containerd_binary %s did not tell its version (%s); install containerd 1.6 or "
            "newer, or give its path" % (binary, (err or out or "rc %d" % rc).strip())
        )
    return tuple(int(part) for part in match.groups())


def main():
    module = AnsibleModule(
        argument_spec=dict(
            sandbox_image=dict(type="str"),
            systemd_cgroup=dict(type="bool", required=True),
            registry_mirrors=dict(type="list", elements="str", default=[]),
            insecure_registries=dict(type="list", elements="str", default=[]),
            runtime_options=dict(type="dict", default={}),
            containerd_binary=dict(type="path", default="containerd"),
            containerd_version=dict(type="str"),
            config_file=dict(type="path", default="/etc/containerd/config.toml"),
            certs_dir=dict(type="path", default="/etc/containerd/certs.d"),
            backup_dir=dict(type="path", default=DEFAULT_BACKUP_DIR),
        ),
        supports_check_mode=True,
    )
    params = module.params
    version = containerd_version(module)
    shown = "%d.%d.%d" % version
    if version < (1, 6, 0):
        module.fail_json(
            msg="containerd %s serves CRI v1alpha2 only, which kruise-daemon 1.6+ cannot use; "
            "install containerd 1.6 or newer first (containerd_binaries installs it from a "
            "release archive)" % shown,
            containerd_version=shown,
        )
    try:
        config = containerd_config(
            version[0],
            params["sandbox_image"],
            params["systemd_cgroup"],
            params["runtime_options"],
            params["certs_dir"],
        )
        hosts, notes = registry_hosts(params["registry_mirrors"], params["insecure_registries"])
    except SwitchError as error:
        module.fail_json(msg=str(error), containerd_version=shown)
    wanted = {params["config_file"]: config}
    for host, text in hosts.items():
        wanted[os.path.join(params["certs_dir"], host, "hosts.toml")] = text
    for path in wanted:
        if os.path.islink(path):
            module.fail_json(
                msg="%s is a symbolic link; kruise-cri writes regular files only: replace the "
                "link by the file it points to" % path,
                containerd_version=shown,
            )
    changes = [(path, read_text(path), text) for path, text in sorted(wanted.items())]
    changes = [change for change in changes if change[1] != change[2]]
    result = dict(
        changed=bool(changes),
        containerd_version=shown,
        written=[path for path, _before, _after in changes],
        notes=notes,
    )
    if module._diff:
        result["diff"] = [
            dict(before_header=path, after_header=path, before=before or "", after=after)
            for path, before, after in changes
        ]
    if changes and not module.check_mode:
        try:
            backup = FileBackup(params["backup_dir"])
            for path, _before, after in changes:
                mode = os.stat(path).st_mode & 0o7777 if os.path.isfile(path) else 0o644
                backup.write(path, after, mode)
        except (BackupError, OSError) as error:
            module.fail_json(msg="writing containerd's configuration: %s" % error, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
