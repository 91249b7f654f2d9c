"""cluster_record's decisions: what fits under the cap, which inputs are refused, and that a
Secret's diff shows sizes, never values."""

from __future__ import annotations

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.cluster_record import (
    RecordError,
    check_inputs,
    fit,
    record_diff,
)


def test_keys_fit_in_order_and_one_too_big_is_skipped_not_the_rest() -> None:
    contents = fit([("a", "x" * 6), ("b", "y" * 5), ("c", "z" * 4)], max_bytes=10)
    assert contents.data == {"a": "x" * 6, "c": "z" * 4}
    assert contents.omitted == ["b (5 bytes)"]
    assert contents.size == 10


def test_sizes_count_bytes_not_characters() -> None:
    assert fit([("a", "é" * 3)], max_bytes=5).omitted == ["a (6 bytes)"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"name": "Bad_Name"}, "is not a valid object name"),
        ({"name": "ok", "data": {"a b": "x"}}, "are not valid ConfigMap/Secret keys"),
        ({"name": "ok", "data": {"k": "x"}, "files": {"k": "/p"}}, "given in both data and files"),
        ({"name": "ok", "max_bytes": 0}, "max_bytes=0 must be 1 or more"),
    ],
)
def test_bad_inputs_are_named(params: dict, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        check_inputs({"data": {}, "files": {}, "max_bytes": 10, **params})


def test_a_secret_s_diff_shows_keys_and_sizes_only() -> None:
    diff = record_diff("Secret", "Secret ns/r", {"v": "old-password"}, {"v": "new-password!"})
    assert diff["before"] == "v: (12 bytes)\n" and diff["after"] == "v: (13 bytes)\n"
    shown = record_diff("ConfigMap", "ConfigMap ns/r", {}, {"report.md": "# Report"})
    assert "# Report" in shown["after"]
