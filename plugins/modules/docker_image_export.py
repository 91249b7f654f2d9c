#!/usr/bin/python
# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""Save the images a Docker node's containers use into one archive, for containerd to import."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: docker_image_export
short_description: Save the images of a Docker node's containers into an archive containerd imports
description:
  - Asks the Docker Engine at O(socket) for its containers (running or stopped) and images, and
    saves every tag of the images those containers were made from, and the images named in
    O(images), into one archive at O(dest) (C(docker save)'s format, which
    C(ctr --namespace k8s.io images import) reads), so that pods find their images in containerd
    after a runtime migration without pulling them (air-gapped clusters).
  - The archive is written beside O(dest) and renamed into place, mode 0600; a list of what it
    holds is kept in O(dest)C(.json). A rerun whose archive already holds the same images
    reports no change.
  - Images a container uses that carry no tag cannot be named by a pod and are not saved
    (RV(untagged) counts them); names in O(images) that Docker does not hold are listed in
    RV(missing) with a warning.
  - Runs on the node with its own Python (3.6 or newer).
version_added: 0.3.0
author: kruise-cri maintainers (!UNKNOWN)
options:
  dest:
    description:
      - The archive to write, on the node. Its directory must exist.
    type: path
    required: true
  images:
    description:
      - Image references to save as well (or only, with O(in_use=false)), as a pod names them,
        for example V(registry.example/app:1.0) or V(busybox:1.35).
    type: list
    elements: str
    default: []
  in_use:
    description:
      - Save the images of the node's containers, running or stopped.
    type: bool
    default: true
  socket:
    description:
      - Docker Engine's API socket.
    type: path
    default: /var/run/docker.sock
  timeout:
    description:
      - Seconds without an answer from Docker before the task fails.
    type: int
    default: 600
attributes:
  check_mode:
    support: full
    description: Lists the images it would save; writes nothing.
  diff_mode:
    support: none
    description: The archive is binary; RV(images) says what it holds.
"""

EXAMPLES = r"""
- name: Save the images the node's pods use, and the sandbox image
  kruise_cri.remediation.docker_image_export:
    dest: /var/lib/kruise-cri/runtime-migration/images.tar
    images: [registry.k8s.io/pause:3.9]
  become: true
"""

RETURN = r"""
images:
  description: The images the archive holds (or would), as Docker names them.
  returned: always
  type: list
  elements: str
  sample: ["busybox:1.35", "k8s.gcr.io/pause:3.6"]
missing:
  description: References in O(images) that Docker does not hold.
  returned: always
  type: list
  elements: str
untagged:
  description: Images in use that have no tag, so that no pod can name them; not saved.
  returned: always
  type: int
bytes:
  description: The archive's size; 0 in check mode.
  returned: always
  type: int
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.docker_api import (
    DockerAPIError,
    docker_get,
    docker_save,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.docker_images import (
    images_to_carry,
)


def saved_before(dest):
    """The images an earlier run saved at ``dest``, or None."""
    try:
        with open(dest + ".json") as listing:
            return json.load(listing).get("images")
    except (OSError, ValueError, AttributeError):
        return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", required=True),
            images=dict(type="list", elements="str", default=[]),
            in_use=dict(type="bool", default=True),
            socket=dict(type="path", default="/var/run/docker.sock"),
            timeout=dict(type="int", default=600),
        ),
        supports_check_mode=True,
    )
    params = module.params
    dest = params["dest"]
    if not module.check_mode and not os.path.isdir(os.path.dirname(dest) or "."):
        module.fail_json(
            msg="dest=%s: its directory does not exist; create it first (nothing was changed)"
            % dest
        )
    socket_path = params["socket"]
    try:
        containers = docker_get(socket_path, "/containers/json?all=1", params["timeout"])
        images = docker_get(socket_path, "/images/json", params["timeout"])
    except DockerAPIError as error:
        module.fail_json(
            msg="cannot list Docker's containers and images at %s: %s; start Docker or give "
            "socket= (nothing was changed)" % (socket_path, error)
        )
    names, missing, untagged = images_to_carry(
        containers, images, params["images"], in_use=params["in_use"]
    )
    for reference in missing:
        module.warn("Docker holds no image %s: it is not carried over" % reference)
    result = dict(changed=False, images=names, missing=missing, untagged=untagged, bytes=0)
    if os.path.isfile(dest) and saved_before(dest) == names:
        result["bytes"] = os.path.getsize(dest)
        module.exit_json(**result)
    result["changed"] = bool(names)
    if module.check_mode or not names:
        module.exit_json(**result)
    try:
        result["bytes"] = docker_save(socket_path, names, dest, params["timeout"])
        descriptor = os.open(
            dest + ".json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600
        )
        with os.fdopen(descriptor, "w") as listing:
            json.dump({"images": names}, listing)
    except (DockerAPIError, OSError) as error:
        module.fail_json(msg="saving %s into %s: %s" % (", ".join(names), dest, error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
