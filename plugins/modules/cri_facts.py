#!/usr/bin/python
# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cri_facts
short_description: Find a node's container runtimes, the CRI versions they really serve, and kruise-daemon's verdict
description:
  - Asks every CRI socket at the standard paths (containerd including k3s, dockershim, cri-dockerd,
    CRI-O, pouch), the kubelet's configured endpoint and any extra socket, over gRPC, for
    C(runtime.v1) and C(runtime.v1alpha2) C(RuntimeService/Version) and C(ImageService/ListImages),
    the way kruise-daemon validates a socket.
  - Reads Docker Engine's version and settings over its API, the kubelet's runtime endpoint from
    every place it can be set, and containerd's config.
  - Says for each OpenKruise line (1.4 to 1.8) whether kruise-daemon starts on the node and can act
    on the kubelet's runtime, and why.
  - The node side needs only the node's Python 3.6+ standard library. The action plugin of the same
    name parses configuration files and decides on the controller.
  - Never changes the host.
version_added: 0.1.0
author:
  - kruise-cri maintainers (!UNKNOWN)
options:
  host_root:
    description:
      - Directory that stands for the node's C(/). Every file and socket is read beneath it, and
        absolute symlinks inside it are resolved inside it.
      - Use it to assess a mounted node disk or a copied C(/etc) + C(/run) offline.
    type: path
    default: /
  probe_timeout:
    description:
      - Seconds one socket may take to answer all its probes. A socket that accepts but never
        answers costs at most this long; sockets are probed at the same time.
    type: float
    default: 2.0
  extra_sockets:
    description:
      - More CRI sockets to probe, as node paths or C(unix://) endpoints.
    type: list
    elements: str
    default: []
  kruise_socket_location:
    description:
      - The chart value C(daemon.socketLocation) kruise-daemon mounts at C(/hostvarrun).
    type: str
    default: /var/run
  kruise_socket_file:
    description:
      - The chart value C(daemon.socketFile). When set, kruise-daemon skips detection and uses only
        this socket beneath I(kruise_socket_location). An empty string, the chart's default, means
        unset.
    type: str
attributes:
  check_mode:
    support: full
    description: Reads only; the same in check mode.
  diff_mode:
    support: none
    description: The module never changes anything.
notes:
  - Run with C(become) so the sockets (root-owned, mode 0660) can be opened.
"""

EXAMPLES = r"""
- name: Find each node's runtime and kruise-daemon verdicts
  kruise_cri.remediation.cri_facts:

- name: Assess a node disk mounted at /mnt/node1, with k3s's socket location
  kruise_cri.remediation.cri_facts:
    host_root: /mnt/node1
    kruise_socket_location: /run/k3s

- name: Show the verdict for OpenKruise 1.6
  ansible.builtin.debug:
    msg: "{{ ansible_facts.kruise_cri.kruise_daemon['1.6'].reason }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts under the key C(kruise_cri); the layout is documented in docs/facts.md.
  returned: always
  type: complex
  contains:
    kruise_cri:
      description: Runtimes, kubelet, Docker, containerd configs, findings and kruise-daemon verdicts.
      type: dict
      contains:
        endpoints:
          description: Distinct CRI sockets found, with runtime name, version and the CRI API versions served.
          type: list
          elements: dict
        kubelet:
          description: The kubelet's runtime endpoint and where it came from, C(--container-runtime), cgroup driver, version.
          type: dict
        docker:
          description: Docker Engine version, cgroup driver and the daemon.json settings a migration must carry; null without Docker.
          type: dict
        containerd_configs:
          description: Each containerd config found, whether the CRI plugin is disabled, SystemdCgroup, sandbox image.
          type: list
          elements: dict
        kruise_daemon:
          description: Per OpenKruise line (C(1.4) to C(1.8)) C(compatible), C(starts), C(socket), C(runtimes) and C(reason).
          type: dict
        findings:
          description: Missing, unreadable or malformed inputs, each with a severity, a source and a message.
          type: list
          elements: dict
evidence:
  description: The raw evidence the node returned, only when the module runs without its action plugin.
  returned: when called without the action plugin
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.cri_facts import (
    collect_evidence,
    endpoint_to_path,
)

MAX_PROBE_TIMEOUT = 60.0


def validate(module):
    params = module.params
    host_root = params["host_root"]
    if not os.path.isdir(host_root):
        module.fail_json(
            msg="host_root %s is not a directory; give the directory that stands for the node's / "
            "(default /)" % host_root
        )
    timeout = params["probe_timeout"]
    if not 0 < timeout <= MAX_PROBE_TIMEOUT:
        module.fail_json(
            msg="probe_timeout %s is out of range; give seconds greater than 0 and at most %d"
            % (timeout, MAX_PROBE_TIMEOUT)
        )
    location = params["kruise_socket_location"]
    if not location.startswith("/"):
        module.fail_json(
            msg="kruise_socket_location %r is not an absolute path; give the node directory the "
            "chart mounts, e.g. /var/run or /run/k3s" % location
        )
    # The chart's own default for daemon.socketFile is "": unset.
    socket_file = params["kruise_socket_file"] = params["kruise_socket_file"] or None
    if socket_file is not None and (socket_file.startswith("/") or ".." in socket_file.split("/")):
        module.fail_json(
            msg="kruise_socket_file %r must be a name relative to kruise_socket_location, as the "
            "chart's daemon.socketFile, e.g. containerd/containerd.sock" % socket_file
        )
    extra = []
    for endpoint in params["extra_sockets"]:
        path = endpoint_to_path(endpoint)
        if path is None:
            module.fail_json(
                msg="extra_sockets entry %r is not a unix socket; give an absolute node path or "
                "unix:///path" % endpoint
            )
        extra.append(path)
    return extra


def main():
    module = AnsibleModule(
        argument_spec=dict(
            host_root=dict(type="path", default="/"),
            probe_timeout=dict(type="float", default=2.0),
            extra_sockets=dict(type="list", elements="str", default=[]),
            kruise_socket_location=dict(type="str", default="/var/run"),
            kruise_socket_file=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    extra_sockets = validate(module)
    evidence = collect_evidence(
        module.params["host_root"],
        module.params["probe_timeout"],
        socket_location=module.params["kruise_socket_location"],
        socket_file=module.params["kruise_socket_file"],
        extra_sockets=extra_sockets,
    )
    module.exit_json(changed=False, evidence=evidence)


if __name__ == "__main__":
    main()
