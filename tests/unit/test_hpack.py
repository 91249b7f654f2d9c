"""HPACK decoder and encoder against RFC 7541 Appendix C, plus malformed input."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.hpack import (
    HUFFMAN_CODE_LENGTHS,
    HUFFMAN_CODES,
    Decoder,
    Encoder,
    HpackError,
    decode_integer,
    encode_integer,
    huffman_decode,
)


def unhex(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def huffman_encode(data: bytes) -> bytes:
    """Test-side encoder built from the module's code table, padded with EOS bits."""
    accumulator = 0
    bit_count = 0
    for byte in data:
        code, length = HUFFMAN_CODES[byte]
        accumulator = (accumulator << length) | code
        bit_count += length
    padding = -bit_count % 8
    accumulator = (accumulator << padding) | ((1 << padding) - 1)
    return accumulator.to_bytes((bit_count + padding) // 8, "big")


def table(decoder: Decoder) -> list[tuple[bytes, bytes]]:
    return list(decoder.dynamic_table)


# --- C.1 integers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "prefix_bits", "encoded"),
    [(10, 5, b"\x0a"), (1337, 5, b"\x1f\x9a\x0a"), (42, 8, b"\x2a")],
)
def test_integer_examples_c1(value: int, prefix_bits: int, encoded: bytes) -> None:
    assert encode_integer(value, prefix_bits) == encoded
    assert decode_integer(encoded, 0, prefix_bits) == (value, len(encoded))


def test_integer_decoding_ignores_bits_above_the_prefix() -> None:
    assert decode_integer(b"\xea", 0, 5) == (10, 1)  # 111 01010


@pytest.mark.parametrize("value", [0, 30, 31, 127, 128, 255, 4096, 2**21, 2**28])
@pytest.mark.parametrize("prefix_bits", [4, 5, 6, 7, 8])
def test_integer_round_trip(value: int, prefix_bits: int) -> None:
    encoded = encode_integer(value, prefix_bits)
    assert decode_integer(b"\x00" + encoded, 1, prefix_bits) == (value, len(encoded) + 1)


# --- C.2 single representations ----------------------------------------------------------


def test_c2_1_literal_with_indexing() -> None:
    decoder = Decoder()
    headers = decoder.decode(
        unhex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")
    )
    assert headers == [(b"custom-key", b"custom-header")]
    assert table(decoder) == [(b"custom-key", b"custom-header")]
    assert decoder.dynamic_table_size == 55


def test_c2_2_literal_without_indexing() -> None:
    decoder = Decoder()
    headers = decoder.decode(unhex("040c 2f73 616d 706c 652f 7061 7468"))
    assert headers == [(b":path", b"/sample/path")]
    assert table(decoder) == []
    assert decoder.dynamic_table_size == 0


def test_c2_3_literal_never_indexed() -> None:
    decoder = Decoder()
    headers = decoder.decode(unhex("1008 7061 7373 776f 7264 0673 6563 7265 74"))
    assert headers == [(b"password", b"secret")]
    assert table(decoder) == []


def test_c2_4_indexed() -> None:
    decoder = Decoder()
    assert decoder.decode(b"\x82") == [(b":method", b"GET")]
    assert table(decoder) == []


# --- C.3 / C.4 requests, without and with Huffman ---------------------------------------

REQUEST_LISTS = [
    [
        (b":method", b"GET"),
        (b":scheme", b"http"),
        (b":path", b"/"),
        (b":authority", b"www.example.com"),
    ],
    [
        (b":method", b"GET"),
        (b":scheme", b"http"),
        (b":path", b"/"),
        (b":authority", b"www.example.com"),
        (b"cache-control", b"no-cache"),
    ],
    [
        (b":method", b"GET"),
        (b":scheme", b"https"),
        (b":path", b"/index.html"),
        (b":authority", b"www.example.com"),
        (b"custom-key", b"custom-value"),
    ],
]
REQUEST_TABLES = [
    ([(b":authority", b"www.example.com")], 57),
    ([(b"cache-control", b"no-cache"), (b":authority", b"www.example.com")], 110),
    (
        [
            (b"custom-key", b"custom-value"),
            (b"cache-control", b"no-cache"),
            (b":authority", b"www.example.com"),
        ],
        164,
    ),
]
C3_BLOCKS = [
    "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
    "8286 84be 5808 6e6f 2d63 6163 6865",
    "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
]
C4_BLOCKS = [
    "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
    "8286 84be 5886 a8eb 1064 9cbf",
    "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
]


@pytest.mark.parametrize("blocks", [C3_BLOCKS, C4_BLOCKS], ids=["C.3", "C.4-huffman"])
def test_request_sequences(blocks: list[str]) -> None:
    decoder = Decoder()
    for block, expected, (expected_table, expected_size) in zip(
        blocks, REQUEST_LISTS, REQUEST_TABLES, strict=True
    ):
        assert decoder.decode(unhex(block)) == expected
        assert table(decoder) == expected_table
        assert decoder.dynamic_table_size == expected_size


# --- C.5 / C.6 responses with a 256-byte table and evictions -------------------------------

DATE_21 = b"Mon, 21 Oct 2013 20:13:21 GMT"
DATE_22 = b"Mon, 21 Oct 2013 20:13:22 GMT"
LOCATION = b"https://www.example.com"
COOKIE = b"foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
RESPONSE_LISTS = [
    [
        (b":status", b"302"),
        (b"cache-control", b"private"),
        (b"date", DATE_21),
        (b"location", LOCATION),
    ],
    [
        (b":status", b"307"),
        (b"cache-control", b"private"),
        (b"date", DATE_21),
        (b"location", LOCATION),
    ],
    [
        (b":status", b"200"),
        (b"cache-control", b"private"),
        (b"date", DATE_22),
        (b"location", LOCATION),
        (b"content-encoding", b"gzip"),
        (b"set-cookie", COOKIE),
    ],
]
RESPONSE_TABLES = [
    (
        [
            (b"location", LOCATION),
            (b"date", DATE_21),
            (b"cache-control", b"private"),
            (b":status", b"302"),
        ],
        222,
    ),
    (
        [
            (b":status", b"307"),
            (b"location", LOCATION),
            (b"date", DATE_21),
            (b"cache-control", b"private"),
        ],
        222,
    ),
    ([(b"set-cookie", COOKIE), (b"content-encoding", b"gzip"), (b"date", DATE_22)], 215),
]
C5_BLOCKS = [
    """4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
    2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
    6c65 2e63 6f6d""",
    "4803 3330 37c1 c0bf",
    """88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
    54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
    5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
    3d31""",
]
C6_BLOCKS = [
    """4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
    2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3""",
    "4883 640e ffc1 c0bf",
    """88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
    77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
    9587 3160 65c0 03ed 4ee5 b106 3d50 07""",
]


@pytest.mark.parametrize("blocks", [C5_BLOCKS, C6_BLOCKS], ids=["C.5", "C.6-huffman"])
def test_response_sequences_with_evictions(blocks: list[str]) -> None:
    decoder = Decoder(max_table_size=256)
    for block, expected, (expected_table, expected_size) in zip(
        blocks, RESPONSE_LISTS, RESPONSE_TABLES, strict=True
    ):
        assert decoder.decode(unhex(block)) == expected
        assert table(decoder) == expected_table
        assert decoder.dynamic_table_size == expected_size


# --- Huffman table and round trips ---------------------------------------------------------


def test_huffman_table_matches_rfc_appendix_b_samples() -> None:
    rfc_rows = {
        0: (0x1FF8, 13),
        1: (0x7FFFD8, 23),
        10: (0x3FFFFFFC, 30),
        32: (0x14, 6),
        48: (0x0, 5),
        97: (0x3, 5),
        126: (0x1FFD, 13),
        127: (0xFFFFFFC, 28),
        128: (0xFFFE6, 20),
        200: (0x3FFFFE2, 26),
        255: (0x3FFFFEE, 26),
        256: (0x3FFFFFFF, 30),
    }
    for symbol, row in rfc_rows.items():
        assert HUFFMAN_CODES[symbol] == row, symbol


def test_huffman_code_is_complete_and_prefix_free() -> None:
    assert len(HUFFMAN_CODE_LENGTHS) == 257
    assert sum(Fraction(1, 2**length) for length in HUFFMAN_CODE_LENGTHS) == 1
    as_bits = sorted(format(code, f"0{length}b") for code, length in HUFFMAN_CODES)
    for shorter, longer in itertools.pairwise(as_bits):
        assert not longer.startswith(shorter)


def test_test_side_encoder_reproduces_rfc_strings() -> None:
    assert huffman_encode(b"www.example.com") == unhex("f1e3 c2e5 f23a 6ba0 ab90 f4ff")
    assert huffman_encode(b"no-cache") == unhex("a8eb 1064 9cbf")
    assert huffman_encode(b"custom-value") == unhex("25a8 49e9 5bb8 e8b4 bf")


@pytest.mark.parametrize("byte", range(256))
def test_huffman_round_trip_every_byte_value(byte: int) -> None:
    for data in (bytes([byte]), bytes([byte]) * 7, b"a" + bytes([byte]) + b"z"):
        assert huffman_decode(huffman_encode(data)) == data


def test_huffman_round_trip_all_bytes_in_every_alignment() -> None:
    everything = bytes(range(256))
    for shift in range(8):
        data = b"0" * shift + everything + everything[::-1]
        assert huffman_decode(huffman_encode(data)) == data


def test_huffman_empty_string() -> None:
    assert huffman_decode(b"") == b""


@pytest.mark.parametrize(
    ("encoded", "reason"),
    [
        (bytes([0b00011000]), "padding"),  # 'a' then 000: padding must be EOS's 1 bits
        (bytes([0b00011111, 0xFF]), "padding"),  # 'a' then 11 one bits: padding over 7 bits
        (b"\xff\xff\xff\xff", "EOS"),  # EOS (30 ones) encoded inside the string
        (bytes([0b00011111, 0xFF, 0xFF, 0xFF, 0xFF]), "EOS"),  # 'a' then EOS
    ],
)
def test_huffman_malformed_input_raises(encoded: bytes, reason: str) -> None:
    with pytest.raises(HpackError, match=reason):
        huffman_decode(encoded)


def test_huffman_string_inside_a_header_block_is_checked() -> None:
    with pytest.raises(HpackError, match="padding"):
        Decoder().decode(b"\x00\x81\x18\x00")  # name is 'a' followed by zero padding


# --- malformed header blocks -------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (b"\x80", "index 0"),
        (b"\xbe", "index 62 is past the end"),  # dynamic index with an empty table
        (b"\xff\x80", "truncated integer"),
        (b"\xff\xff\xff\xff\xff\xff\xff\x00", "too long"),
        (b"\x00\x05abc", "runs past the end"),
        (b"\x00", "truncated string"),
        (b"\x82\x20", "size update after a header field"),
        (encode_integer(4097, 5, 0x20), "exceeds the allowed 4096"),
    ],
)
def test_malformed_header_blocks_raise(block: bytes, message: str) -> None:
    with pytest.raises(HpackError, match=message):
        Decoder().decode(block)


def test_hpack_error_is_a_value_error() -> None:
    assert issubclass(HpackError, ValueError)


def test_dynamic_table_size_update_evicts_and_limits() -> None:
    decoder = Decoder()
    decoder.decode(unhex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"))
    assert decoder.dynamic_table_size == 55
    assert decoder.decode(encode_integer(0, 5, 0x20) + b"\x82") == [(b":method", b"GET")]
    assert table(decoder) == []
    # With a limit of 0, a new entry does not fit and leaves the table empty.
    decoder.decode(b"\x40\x01a\x01b")
    assert table(decoder) == []
    decoder.decode(encode_integer(100, 5, 0x20) + b"\x40\x01a\x01b")
    assert table(decoder) == [(b"a", b"b")]
    assert decoder.dynamic_table_size == 34


def test_entry_larger_than_table_empties_it() -> None:
    decoder = Decoder(max_table_size=64)
    decoder.decode(b"\x40\x01a\x01b")
    assert table(decoder) == [(b"a", b"b")]
    decoder.decode(b"\x40\x01c" + encode_integer(40, 7) + b"x" * 40)
    assert table(decoder) == []
    assert decoder.dynamic_table_size == 0


def test_decoded_header_list_is_bounded() -> None:
    decoder = Decoder(max_header_list_size=1000)
    decoder.decode(b"\x40\x01a" + encode_integer(200, 7) + b"v" * 200)
    with pytest.raises(HpackError, match="exceeds 1000 bytes"):
        decoder.decode(b"\xbe" * 5)  # five references to the 233-byte entry


# --- encoder ------------------------------------------------------------------------------


def test_encoder_output_decodes_and_leaves_the_table_alone() -> None:
    headers = [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/runtime.v1.RuntimeService/Version"),
        (":authority", "localhost"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
        ("grpc-timeout", "2000000u"),
        ("x-binary", b"\x00\xff"),
        ("x-long", "v" * 300),
    ]
    block = Encoder().encode(headers)
    decoder = Decoder()
    decoded = decoder.decode(block)
    assert decoded == [(n.encode(), v if isinstance(v, bytes) else v.encode()) for n, v in headers]
    assert table(decoder) == []
    assert block.startswith(b"\x83\x86")  # :method POST and :scheme http fully indexed
