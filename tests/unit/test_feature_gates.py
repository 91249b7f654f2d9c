"""featureGates strings: strict reading, merging, and the chart's DaemonSet guard."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.kruise_cri.remediation.plugins.filter.merge_feature_gates import (
    FilterModule,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise import (
    feature_gates as fg,
)


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (None, "KruiseDaemon=false"),
        ("", "KruiseDaemon=false"),
        ("ImagePullJobGate=true", "ImagePullJobGate=true,KruiseDaemon=false"),
        # spacing and value case normalised, order kept, the gate replaced in place
        (
            " ImagePullJobGate = True , KruiseDaemon=true,PodWebhook=0",
            "ImagePullJobGate=true,KruiseDaemon=false,PodWebhook=false",
        ),
        # the binaries already read False as false, the chart's substring test does not
        ("ImagePullJobGate=true,KruiseDaemon=False", "ImagePullJobGate=true,KruiseDaemon=false"),
        ("KruiseDaemon = false", "KruiseDaemon=false"),
        # a mis-cased known gate is an unknown gate to the binaries: spelled as they know it
        ("kruisedaemon=true,podwebhook=t", "KruiseDaemon=false,PodWebhook=true"),
        # duplicates: the last value wins (as the binaries read it), at the first position
        ("A=true,B=true,A=false", "A=false,B=true,KruiseDaemon=false"),
        # blank entries dropped
        ("A=true,,B=false, ,", "A=true,B=false,KruiseDaemon=false"),
    ],
)
def test_disabling_merges_and_normalises(current, expected):
    merged = fg.merge_feature_gates(current, {"KruiseDaemon": False})
    assert merged == expected
    assert fg.chart_renders_daemon(merged) is False
    assert fg.daemon_enabled(merged) is False


def test_the_users_other_gates_are_kept_with_their_values():
    current = "ImagePullJobGate=true,PodProbeMarkerGate=false,SidecarTerminator=true"
    merged = fg.merge_feature_gates(current, {"KruiseDaemon": False})
    assert fg.parse_feature_gates(merged) == {
        **fg.parse_feature_gates(current),
        "KruiseDaemon": False,
    }


def test_none_removes_a_gate_and_true_sets_it():
    assert fg.merge_feature_gates("A=true,KruiseDaemon=false", {"KruiseDaemon": None}) == "A=true"
    assert fg.merge_feature_gates("KruiseDaemon=false", {"KruiseDaemon": None}) == ""
    assert (
        fg.merge_feature_gates("A=true,KruiseDaemon=false", {"KruiseDaemon": True})
        == "A=true,KruiseDaemon=true"
    )


def test_merging_is_idempotent():
    once = fg.merge_feature_gates("B=1, A = F", {"KruiseDaemon": False})
    assert fg.merge_feature_gates(once, {"KruiseDaemon": False}) == once


@pytest.mark.parametrize(
    ("current", "words"),
    [
        ("KruiseDaemon", "has no value"),
        ("ImagePullJobGate=true,PodWebhook", "has no value"),
        ("A=yes", "is not a boolean"),
        ("A=TrUe", "is not a boolean"),
        ("A=true=false", "is not a boolean"),
        ("=true", "is not a gate name"),
        ("Kruise Daemon=false", "is not a gate name"),
        ("A-B=true", "is not a gate name"),
    ],
)
def test_malformed_strings_are_refused_naming_the_entry(current, words):
    with pytest.raises(fg.FeatureGatesError, match=words):
        fg.merge_feature_gates(current, {"KruiseDaemon": False})


def test_a_bad_gate_name_in_the_update_is_refused():
    with pytest.raises(fg.FeatureGatesError):
        fg.merge_feature_gates("A=true", {"Kruise Daemon": False})


def test_a_result_the_chart_would_misread_is_refused():
    # "FooKruiseDaemon=false" contains the chart's guard text while KruiseDaemon stays on.
    with pytest.raises(fg.FeatureGatesError, match="inside another entry"):
        fg.merge_feature_gates("FooKruiseDaemon=false", {"KruiseDaemon": None})


@pytest.mark.parametrize(
    ("text", "enabled", "renders", "mismatch"),
    [
        (None, True, True, False),
        ("ImagePullJobGate=true", True, True, False),
        ("KruiseDaemon=false", False, False, False),
        ("KruiseDaemon=False", False, True, True),
        ("KruiseDaemon = false", False, True, True),
        ("KruiseDaemon=0", False, True, True),
        ("FooKruiseDaemon=false", True, False, True),
    ],
)
def test_chart_guard_and_binaries(text, enabled, renders, mismatch):
    assert fg.daemon_enabled(text) is enabled
    assert fg.chart_renders_daemon(text) is renders
    assert (fg.daemon_gate_mismatch(text) is not None) is mismatch


def test_valid_strings_read_as_kruise_info_reads_them():
    text = " ImagePullJobGate=true , KruiseDaemon=False,PodWebhook=0 "
    assert fg.normalize_feature_gates(text) == fg.parse_feature_gates(text)


def test_gates_unknown_to_1_5():
    text = "ImagePullJobGate=true,EnhancedLivenessProbe=true,PodIndexLabel=false"
    assert fg.gates_unknown_to_line(text, "1.5") == ["EnhancedLivenessProbe", "PodIndexLabel"]
    assert fg.without_gates(text, ["EnhancedLivenessProbe", "PodIndexLabel"]) == (
        "ImagePullJobGate=true"
    )
    with pytest.raises(ValueError, match=r"1\.9"):
        fg.gates_unknown_to_line(text, "1.9")


def test_gate_value_and_without_daemon_gate():
    assert fg.gate_value("A=true,kruisedaemon=1", "KruiseDaemon") is True
    assert fg.gate_value("A=true", "KruiseDaemon") is None
    assert fg.without_daemon_gate("A = True,KruiseDaemon=false") == {"A": True}


def test_filter_normalises_and_reports_errors_as_filter_errors():
    merge = FilterModule().filters()["merge_feature_gates"]
    assert merge("A=True, B = 0", {"KruiseDaemon": False}) == "A=true,B=false,KruiseDaemon=false"
    assert merge(None, {"KruiseDaemon": None}) == ""
    with pytest.raises(AnsibleFilterError, match="has no value"):
        merge("KruiseDaemon", {"KruiseDaemon": False})
    with pytest.raises(AnsibleFilterError, match="dict"):
        merge("A=true", ["KruiseDaemon"])
