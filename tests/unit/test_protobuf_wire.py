"""Protobuf wire-format helpers: known encodings, round trips, skipping, malformed input."""

from __future__ import annotations

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.protobuf_wire import (
    count_field,
    decode_message,
    decode_varint,
    encode_message,
    encode_varint,
    get_int,
    get_string,
    iter_fields,
    signed64,
)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (1, b"\x01"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (150, b"\x96\x01"),
        (300, b"\xac\x02"),
        (2**64 - 1, b"\xff" * 9 + b"\x01"),
        (-1, b"\xff" * 9 + b"\x01"),
        (-2, b"\xfe" + b"\xff" * 8 + b"\x01"),
    ],
)
def test_varint_encoding(value: int, encoded: bytes) -> None:
    assert encode_varint(value) == encoded
    decoded, position = decode_varint(encoded, 0)
    assert position == len(encoded)
    assert (signed64(decoded) if value < 0 else decoded) == value


def test_varint_too_large_to_encode() -> None:
    with pytest.raises(ValueError, match="64 bits"):
        encode_varint(2**64)


def test_documented_encodings() -> None:
    # The protobuf encoding guide's examples: field 1 = 150, field 2 = "testing".
    assert encode_message([(1, 150)]) == bytes.fromhex("089601")
    assert encode_message([(2, "testing")]) == bytes.fromhex("120774657374696e67")
    # Embedded message: field 3 holding {1: 150}.
    assert encode_message([(3, [(1, 150)])]) == bytes.fromhex("1a03089601")


def test_version_request_like_kubelet_sends() -> None:
    assert encode_message([(1, b"0.1.0")]) == b"\x0a\x050.1.0"
    assert encode_message([]) == b""
    assert encode_message([(1, None), (2, True), (3, False)]) == b"\x10\x01\x18\x00"


def test_encode_rejects_bad_fields() -> None:
    with pytest.raises(ValueError, match="field number"):
        encode_message([(0, 1)])
    with pytest.raises(ValueError, match="field number"):
        encode_message([(2**29, 1)])
    with pytest.raises(TypeError, match="field 1"):
        encode_message([(1, 1.5)])


def test_round_trip_keeps_order_and_repeats() -> None:
    payload = encode_message(
        [
            (1, "v0.1.0"),
            (2, "containerd"),
            (3, "v1.7.24"),
            (4, "v1"),
            (7, 12345678901),
            (7, 5),
            (9, "ü"),
            (536870911, b"max field"),
        ]
    )
    fields = decode_message(payload)
    assert fields == {
        1: [b"v0.1.0"],
        2: [b"containerd"],
        3: [b"v1.7.24"],
        4: [b"v1"],
        7: [12345678901, 5],
        9: ["ü".encode()],
        536870911: [b"max field"],
    }
    assert get_string(fields, 2) == "containerd"
    assert get_string(fields, 9) == "ü"
    assert get_string(fields, 42, "none") == "none"
    assert get_int(fields, 7) == 5  # last one wins
    assert get_int(fields, 42) == 0
    with pytest.raises(ValueError, match="not a varint"):
        get_int(fields, 1)
    with pytest.raises(ValueError, match="not length-delimited"):
        get_string(fields, 7)


def test_fixed_width_fields_come_back_raw() -> None:
    payload = bytes.fromhex("0d" + "01020304" + "11" + "0102030405060708")
    assert decode_message(payload) == {
        1: [b"\x01\x02\x03\x04"],
        2: [b"\x01\x02\x03\x04\x05\x06\x07\x08"],
    }
    assert [wire for _unused, wire, _unused in iter_fields(payload)] == [5, 1]


def test_groups_are_skipped_including_nested_ones() -> None:
    group = (
        bytes.fromhex("1b")  # field 3 start group
        + bytes.fromhex("0801")  # inside: field 1 varint
        + bytes.fromhex("23")  # field 4 start group (nested)
        + b"\x12\x02hi"  # inside nested: field 2 bytes
        + bytes.fromhex("24")  # field 4 end group
        + bytes.fromhex("1c")  # field 3 end group
    )
    payload = b"\x08\x07" + group + b"\x12\x03end"
    assert decode_message(payload) == {1: [7], 2: [b"end"]}
    assert count_field(payload, 3) == 0
    assert count_field(payload, 2) == 1


def test_count_field_counts_repeated_embedded_messages() -> None:
    image = encode_message(
        [(1, "sha256:" + "a" * 64), (2, "docker.io/library/busybox:1"), (2, "b:2"), (4, 1024)]
    )
    listing = encode_message([(1, image)] * 1000 + [(2, "other")])
    assert count_field(listing, 1) == 1000
    assert len(decode_message(listing)[1]) == 1000
    first_image = decode_message(decode_message(listing)[1][0])
    assert first_image[2] == [b"docker.io/library/busybox:1", b"b:2"]
    assert first_image[4] == [1024]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x08", "truncated varint"),
        (b"\x08\x80", "truncated varint"),
        (b"\x0a\x05abc", "truncated field 1"),
        (b"\x0a", "truncated varint"),
        (b"\x0d\x01\x02", "truncated field 1"),
        (b"\x09\x01\x02\x03\x04\x05\x06\x07", "truncated field 1"),
        (b"\x08" + b"\xff" * 10 + b"\x01", "longer than 10 bytes"),
        (b"\x08" + b"\xff" * 9 + b"\x7f", "64 bits"),
        (b"\x0e\x00", "invalid wire type 6"),
        (b"\x0f\x00", "invalid wire type 7"),
        (b"\x00\x00", "invalid field number 0"),
        (b"\x0b\x08\x01", "truncated group"),
        (b"\x0c", "without a start-group"),
        (b"\x0b\x14", "closed by end-group of field 2"),
        (b"\x0b" * 100, "nested too deeply"),
    ],
)
def test_malformed_input_raises_value_error(payload: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_message(payload)
    with pytest.raises(ValueError, match=message):
        count_field(payload, 1)
