#!/usr/bin/python
# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""Point the kubelet at a CRI endpoint wherever its runtime is configured."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: kubelet_runtime_endpoint
short_description: Point the kubelet at a CRI endpoint in every file that configures its runtime
description:
  - Rewrites the kubelet's runtime flags in the files that hold its arguments (kubeadm's
    C(kubeadm-flags.env), C(/etc/default/kubelet), C(/etc/sysconfig/kubelet), the unit and its
    drop-ins) to C(--container-runtime-endpoint=ENDPOINT), with C(--container-runtime=remote) for
    kubelets before 1.27 (O(runtime_flag)), and without the flags only dockershim read
    (C(--network-plugin), C(--cni-*), C(--docker-endpoint), ...), which fail kubelets from 1.24.
  - With O(config_field), sets C(containerRuntimeEndpoint) in the KubeletConfiguration file
    instead and removes the runtime flags, which would override it.
  - Every file is saved in O(backup_dir) before its first change;
    M(kruise_cri.remediation.node_file_backup) puts them back.
  - Fails, changing nothing, when no file configures the kubelet's arguments.
  - Runs on the node with its own Python (3.6 or newer); it does not restart the kubelet. When a
    unit file or drop-in changed (RV(units_changed)), reload systemd before starting it.
version_added: 0.3.0
author: kruise-cri maintainers (!UNKNOWN)
extends_documentation_fragment:
  - kruise_cri.remediation.node_backup
options:
  endpoint:
    description:
      - The CRI endpoint, a C(unix://) URL.
    type: str
    default: unix:///run/containerd/containerd.sock
  runtime_flag:
    description:
      - Add C(--container-runtime=remote) (kubelets 1.26 and older need it; 1.27 removed it).
    type: bool
    required: true
  config_field:
    description:
      - Set C(containerRuntimeEndpoint) in O(config_file) (kubelets 1.27 and newer) instead of
        the flag.
    type: bool
    default: false
  config_file:
    description:
      - The kubelet's KubeletConfiguration file.
    type: path
    default: /var/lib/kubelet/config.yaml
  files:
    description:
      - The files that may hold the kubelet's arguments, in the order the kubelet's unit reads
        them; missing ones are skipped. When none holds a runtime flag the endpoint goes into the
        first one that sets an arguments variable.
    type: list
    elements: path
    default:
      - /var/lib/kubelet/kubeadm-flags.env
      - /etc/default/kubelet
      - /etc/sysconfig/kubelet
      - /etc/systemd/system/kubelet.service
      - /etc/systemd/system/kubelet.service.d/*.conf
      - /usr/lib/systemd/system/kubelet.service.d/*.conf
      - /lib/systemd/system/kubelet.service.d/*.conf
attributes:
  check_mode:
    support: full
    description: Reports the files it would change, with their diff.
  diff_mode:
    support: full
    description: Each file before and after.
"""

EXAMPLES = r"""
- name: Point a 1.23 kubelet at containerd
  kruise_cri.remediation.kubelet_runtime_endpoint:
    runtime_flag: true
"""

RETURN = r"""
changed_files:
  description: The files changed (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
units_changed:
  description: Whether a systemd unit or drop-in is among them (reload systemd).
  returned: always
  type: bool
"""

import glob
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.file_backup import (
    DEFAULT_BACKUP_DIR,
    BackupError,
    FileBackup,
    read_text,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.runtime_switch import (
    retarget_kubelet_config,
    retarget_kubelet_file,
    runtime_flags,
)


def candidate_files(patterns):
    paths = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        paths.extend(path for path in matches if os.path.isfile(path) and path not in paths)
    return paths


def main():
    module = AnsibleModule(
        argument_spec=dict(
            endpoint=dict(type="str", default="unix:///run/containerd/containerd.sock"),
            runtime_flag=dict(type="bool", required=True),
            config_field=dict(type="bool", default=False),
            config_file=dict(type="path", default="/var/lib/kubelet/config.yaml"),
            files=dict(
                type="list",
                elements="path",
                default=[
                    "/var/lib/kubelet/kubeadm-flags.env",
                    "/etc/default/kubelet",
                    "/etc/sysconfig/kubelet",
                    "/etc/systemd/system/kubelet.service",
                    "/etc/systemd/system/kubelet.service.d/*.conf",
                    "/usr/lib/systemd/system/kubelet.service.d/*.conf",
                    "/lib/systemd/system/kubelet.service.d/*.conf",
                ],
            ),
            backup_dir=dict(type="path", default=DEFAULT_BACKUP_DIR),
        ),
        supports_check_mode=True,
    )
    params = module.params
    endpoint = params["endpoint"]
    if not endpoint.startswith("unix:///"):
        module.fail_json(
            msg="endpoint %r is not a unix socket URL; give unix:///run/containerd/containerd.sock "
            "or another unix:///path" % endpoint
        )
    paths = candidate_files(params["files"])
    for path in [*paths, params["config_file"]]:
        if os.path.islink(path):
            module.fail_json(
                msg="%s is a symbolic link; kruise-cri edits regular files only: replace the link "
                "by the file it points to" % path
            )
    wanted = {}
    flags = runtime_flags(endpoint, params["runtime_flag"])
    if params["config_field"]:  # the endpoint in the config; flags, which override it, go
        text = read_text(params["config_file"])
        if text is None:
            module.fail_json(
                msg="config_file %s does not exist; give the kubelet's --config file or set "
                "config_field=false" % params["config_file"]
            )
        wanted[params["config_file"]] = (text, retarget_kubelet_config(text, endpoint))
        flags = []
    texts = {path: read_text(path) or "" for path in paths}
    placed = False
    for path in paths:  # the new flags where the old runtime flags were
        after, here = retarget_kubelet_file(texts[path], flags, False)
        placed = placed or here
        wanted[path] = (texts[path], after)
    if not placed and flags:  # no file named a runtime: the first that holds arguments gets it
        for path in paths:
            after, placed = retarget_kubelet_file(wanted[path][1], flags, True)
            if placed:
                wanted[path] = (texts[path], after)
                break
    placed = placed or params["config_field"]
    if not placed:
        module.fail_json(
            msg="no kubelet file sets its arguments (looked at %s); give the kubelet's env file "
            "or drop-in in files, or set config_field=true for kubelets 1.27+"
            % ", ".join(params["files"])
        )
    changes = [(path, before, after) for path, (before, after) in sorted(wanted.items())]
    changes = [change for change in changes if change[1] != change[2]]
    result = dict(
        changed=bool(changes),
        changed_files=[path for path, _before, _after in changes],
        units_changed=any("systemd" in path for path, _before, _after in changes),
    )
    if module._diff:
        result["diff"] = [
            dict(before_header=path, after_header=path, before=before, after=after)
            for path, before, after in changes
        ]
    if changes and not module.check_mode:
        try:
            backup = FileBackup(params["backup_dir"])
            for path, _before, after in changes:
                mode = os.stat(path).st_mode & 0o7777
                backup.write(path, after, mode)
        except (BackupError, OSError) as error:
            module.fail_json(msg="editing the kubelet's files: %s" % error, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
