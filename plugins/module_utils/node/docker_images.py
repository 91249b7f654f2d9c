# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""Which of Docker's images a runtime migration carries over to containerd: pure functions over
what the Docker Engine API lists (``GET /containers/json?all=1``, ``GET /images/json``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

UNTAGGED = "<none>:<none>"
DOCKER_HUB_PREFIXES = ("docker.io/library/", "index.docker.io/library/", "docker.io/")


def docker_name(reference):
    """An image reference as Docker lists it in RepoTags: Docker Hub's host and ``library/``
    dropped, ``:latest`` added when no tag or digest is given."""
    name = reference.strip()
    for prefix in DOCKER_HUB_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and "@" not in last:
        name += ":latest"
    return name


def images_to_carry(containers, images, wanted=(), in_use=True):
    """(names, missing, untagged): every tag of the images the node's containers (running or
    not) were made from when ``in_use``, and the ``wanted`` references Docker holds, sorted;
    the wanted ones it does not hold; and how many images in use have no tag to carry them by."""
    tags_by_id = {}
    for image in images:
        tags = [tag for tag in image.get("RepoTags") or [] if tag != UNTAGGED]
        tags_by_id[image.get("Id")] = tags
    held = set(tag for tags in tags_by_id.values() for tag in tags)
    names = set()
    untagged = set()
    if in_use:
        for container in containers:
            image_id = container.get("ImageID")
            tags = tags_by_id.get(image_id)
            if tags:
                names.update(tags)
            elif image_id:
                untagged.add(image_id)
    missing = []
    for reference in wanted:
        name = docker_name(reference)
        if name in held:
            names.add(name)
        else:
            missing.append(reference)
    return sorted(names), missing, len(untagged)
