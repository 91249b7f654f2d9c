"""Masking Helm user values: secrets never shown, what kruise-cri reads and shows kept."""

from __future__ import annotations

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster import (
    kruise_helm_release as khr,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.values import (
    MASK,
    MASK_CHANGED,
    mask_values,
    masked_values_diff,
)

VALUES = {
    "featureGates": "KruiseDaemon=false",
    "manager": {
        "image": {"repository": "openkruise/kruise-manager", "tag": "v1.6.3"},
        "env": {"SECRET_TOKEN": "s3cr3t"},
        "replicas": 2,
    },
    "daemon": {
        "socketLocation": "/run",
        "credentialProvider": {"enable": False, "configmap": "x"},
        "extraEnvs": [{"name": "A", "value": "pw"}],
    },
    "password": "hunter2",
    "unset": None,
    "empty": "",
    "zero": 0,
}


def test_mask_values_keeps_keys_and_managed_values_only():
    masked = mask_values(VALUES)
    assert masked["featureGates"] == "KruiseDaemon=false"
    assert masked["manager"]["image"] == VALUES["manager"]["image"]
    assert masked["manager"]["env"] == {"SECRET_TOKEN": MASK}
    assert masked["manager"]["replicas"] == MASK
    assert masked["daemon"]["socketLocation"] == "/run"
    assert masked["daemon"]["credentialProvider"] == {"enable": False, "configmap": MASK}
    assert masked["daemon"]["extraEnvs"] == [{"name": MASK, "value": MASK}]
    assert masked["password"] == MASK
    assert (masked["unset"], masked["empty"], masked["zero"]) == (None, "", 0)
    assert "s3cr3t" not in repr(masked) and "hunter2" not in repr(masked)
    assert VALUES["password"] == "hunter2"  # not changed in place


def test_masked_diff_names_changed_keys_without_values():
    after = {**VALUES, "password": "hunter3", "featureGates": "KruiseDaemon=true"}
    diff = masked_values_diff(VALUES, after, "before", "after")
    text = diff["before"] + diff["after"]
    assert "hunter2" not in text and "hunter3" not in text and "s3cr3t" not in text
    assert f"password: '{MASK_CHANGED}'" in diff["after"]
    assert f"password: '{MASK}'" in diff["before"]
    assert "featureGates: KruiseDaemon=true" in diff["after"]
    shown = masked_values_diff(VALUES, after, "before", "after", show_values=True)
    assert "hunter3" in shown["after"]


def test_module_result_masked_everywhere():
    result = {
        "before": {"release": "kruise", "values": VALUES},
        "release": {"release": "kruise", "values": VALUES},
        "computed_values": VALUES,
        "history": [{"revision": 1, "values": VALUES, "computed_values": VALUES}],
        "commands": [["helm", "status"]],
    }
    masked = khr.mask_result(result)
    assert "s3cr3t" not in repr(masked) and "hunter2" not in repr(masked)
    assert masked["release"]["values"]["featureGates"] == "KruiseDaemon=false"
    assert masked["history"][0]["revision"] == 1
    assert result["before"]["values"]["password"] == "hunter2"
