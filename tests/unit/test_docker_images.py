"""Which of Docker's images a migration carries over to containerd."""

from __future__ import annotations

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.docker_images import (
    docker_name,
    images_to_carry,
)

IMAGES = [
    {"Id": "sha256:busy", "RepoTags": ["busybox:1.35", "10.213.0.1:5000/library/busybox:1.35"]},
    {"Id": "sha256:pause", "RepoTags": ["k8s.gcr.io/pause:3.6"]},
    {"Id": "sha256:kruise", "RepoTags": ["openkruise/kruise-manager:v1.6.0"]},
    {"Id": "sha256:dangling", "RepoTags": ["<none>:<none>"]},
    {"Id": "sha256:unused", "RepoTags": ["nginx:1.25"]},
]
CONTAINERS = [
    {"Image": "sha256:busy", "ImageID": "sha256:busy", "State": "running"},
    {"Image": "k8s.gcr.io/pause:3.6", "ImageID": "sha256:pause", "State": "running"},
    {"Image": "sha256:kruise", "ImageID": "sha256:kruise", "State": "exited"},
    {"Image": "sha256:dangling", "ImageID": "sha256:dangling", "State": "exited"},
]


@pytest.mark.parametrize(
    ("reference", "name"),
    [
        ("busybox", "busybox:latest"),
        ("docker.io/library/busybox:1.35", "busybox:1.35"),
        ("docker.io/openkruise/kruise-manager:v1.6.0", "openkruise/kruise-manager:v1.6.0"),
        ("10.213.0.1:5000/app", "10.213.0.1:5000/app:latest"),
        ("registry.example/app@sha256:abc", "registry.example/app@sha256:abc"),
    ],
)
def test_references_are_named_as_docker_lists_them(reference: str, name: str) -> None:
    assert docker_name(reference) == name


def test_every_tag_of_the_images_in_use_running_or_not() -> None:
    names, missing, untagged = images_to_carry(CONTAINERS, IMAGES)
    assert names == [
        "10.213.0.1:5000/library/busybox:1.35",
        "busybox:1.35",
        "k8s.gcr.io/pause:3.6",
        "openkruise/kruise-manager:v1.6.0",
    ]
    assert missing == [] and untagged == 1


def test_wanted_images_are_added_and_the_missing_ones_named() -> None:
    names, missing, _unused = images_to_carry(
        [], IMAGES, ["docker.io/library/nginx:1.25", "k8s.gcr.io/pause:3.9"], in_use=False
    )
    assert names == ["nginx:1.25"]
    assert missing == ["k8s.gcr.io/pause:3.9"]
