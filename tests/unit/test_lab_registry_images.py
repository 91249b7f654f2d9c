"""The lab's images: reproducible layers and manifests whose digests match their blobs, and
the registry configuration the real nodes get."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

from kruise_cri.lab.real_nodes import REAL_NODE_KINDS, cri_config, docker_daemon_json
from kruise_cri.lab.registry import ImageFile, image_blobs, layer_tar

FILES = [ImageFile("bin/tool", b"\x7fELF..."), ImageFile("bin/sh", link="tool")]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_layers_are_reproducible_and_root_owned() -> None:
    layer = layer_tar(FILES)
    assert layer == layer_tar(FILES)
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        members = {member.name: member for member in tar.getmembers()}
    assert list(members) == ["bin", "bin/tool", "bin/sh"]
    assert members["bin"].isdir() and members["bin/sh"].issym()
    assert members["bin/sh"].linkname == "tool"
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == 0 for m in members.values())
    assert members["bin/tool"].mode == 0o755


def test_manifest_names_its_blobs_by_digest() -> None:
    layer = layer_tar(FILES)
    compressed, config, manifest = image_blobs(layer, {"Cmd": ["sh"]})
    assert gzip.decompress(compressed) == layer
    parsed = json.loads(manifest)
    assert parsed["config"] == {
        "mediaType": "application/vnd.docker.container.image.v1+json",
        "size": len(config),
        "digest": sha256(config),
    }
    assert parsed["layers"][0]["digest"] == sha256(compressed)
    assert json.loads(config)["rootfs"]["diff_ids"] == [sha256(layer)]
    assert json.loads(config)["config"]["Cmd"] == ["sh"]
    assert image_blobs(layer, {"Cmd": ["sh"]}) == (compressed, config, manifest)


def test_nodes_pull_from_the_lab_registry() -> None:
    cri = cri_config("10.213.0.1:5000")
    assert 'sandbox_image = "10.213.0.1:5000/pause:3.6"' in cri
    assert 'registry.mirrors."docker.io"]\n  endpoint = ["http://10.213.0.1:5000"]' in cri
    assert "restrict_oom_score_adj = true" in cri
    spec = REAL_NODE_KINDS["docker-dockershim"].spec
    config = docker_daemon_json(spec, "10.213.0.1:5000")
    assert config["registry-mirrors"] == ["http://10.213.0.1:5000"]
    assert config["insecure-registries"] == ["10.213.0.1:5000"]
    assert config["exec-opts"] == spec.docker_daemon_json["exec-opts"]  # the rest is kept
    assert docker_daemon_json(spec, None) == spec.docker_daemon_json
    restricted = docker_daemon_json(spec, None, oom_score_runtime=True)
    assert restricted["default-runtime"] == "runc-oom-restricted"
    assert restricted["runtimes"] == {
        "runc-oom-restricted": {"path": "/usr/local/bin/runc-oom-restricted"}
    }
