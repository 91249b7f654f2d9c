# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""HPACK (RFC 7541) header compression for our HTTP/2 gRPC client.

The encoder only emits static-table references and literals without indexing, so it never
touches a dynamic table. The decoder is complete: static and dynamic tables, table size
updates, integer and string representations, and Huffman-coded strings.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class HpackError(ValueError):
    """A header block that cannot be decoded (a COMPRESSION_ERROR in HTTP/2 terms)."""


# RFC 7541 Appendix A.
STATIC_TABLE = (
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
)
STATIC_TABLE_LENGTH = len(STATIC_TABLE)

_STATIC_PAIR_INDEX = {}
_STATIC_NAME_INDEX = {}
for _index, (_name, _value) in enumerate(STATIC_TABLE, 1):
    _STATIC_PAIR_INDEX.setdefault((_name, _value), _index)
    _STATIC_NAME_INDEX.setdefault(_name, _index)

# Bit length of the Huffman code of each symbol 0..255 and EOS (256), RFC 7541 Appendix B.
# The RFC's code is canonical (codes of one length are consecutive, in symbol order, and
# shorter codes come first), so these lengths determine every code; see _canonical_codes().
# fmt: off
HUFFMAN_CODE_LENGTHS = (
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,  # 0-15
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,  # 16-31
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,  # 32-47
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,  # 48-63
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,  # 64-79
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,  # 80-95
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,  # 96-111
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,  # 112-127
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,  # 128-143
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,  # 144-159
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,  # 160-175
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,  # 176-191
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,  # 192-207
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,  # 208-223
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,  # 224-239
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,  # 240-255
    30,  # 256 (EOS)
)
# fmt: on
HUFFMAN_EOS = 256


def _canonical_codes(lengths):
    codes = [0] * len(lengths)
    code = 0
    previous_length = 0
    for symbol in sorted(range(len(lengths)), key=lambda s: (lengths[s], s)):
        code <<= lengths[symbol] - previous_length
        codes[symbol] = code
        previous_length = lengths[symbol]
        code += 1
    return tuple(codes)


# HUFFMAN_CODES[symbol] == (code, bit_length), the code right-aligned as in the RFC's hex column.
HUFFMAN_CODES = tuple(
    (code, HUFFMAN_CODE_LENGTHS[symbol])
    for symbol, code in enumerate(_canonical_codes(HUFFMAN_CODE_LENGTHS))
)


def _build_huffman_decoder():
    """Build a 4-bit-at-a-time decoding automaton from the code table.

    States are the internal nodes of the code tree (0 is the root). For state s and input
    nibble n, entry s*16+n holds the next state and the symbol completed while reading those
    4 bits (-1 if none; the shortest code has 5 bits, so at most one). Reaching EOS is recorded
    as symbol 256 so that the decoder can reject it.
    """
    zero_child = [0]
    one_child = [0]
    for symbol, (code, length) in enumerate(HUFFMAN_CODES):
        node = 0
        for shift in range(length - 1, -1, -1):
            children = one_child if (code >> shift) & 1 else zero_child
            if shift == 0:
                children[node] = -1 - symbol
            else:
                if children[node] == 0:
                    zero_child.append(0)
                    one_child.append(0)
                    children[node] = len(zero_child) - 1
                node = children[node]

    state_count = len(zero_child)
    next_state = [0] * (state_count * 16)
    emitted = [-1] * (state_count * 16)
    for state in range(state_count):
        for nibble in range(16):
            node = state
            symbol = -1
            for shift in (3, 2, 1, 0):
                child = one_child[node] if (nibble >> shift) & 1 else zero_child[node]
                if child < 0:
                    symbol = -1 - child
                    node = 0
                    if symbol == HUFFMAN_EOS:
                        break
                else:
                    node = child
            next_state[state * 16 + nibble] = node
            emitted[state * 16 + nibble] = symbol

    # A string may end only at the root or after up to 7 bits of EOS's prefix (all ones).
    accepting = set()
    node = 0
    for _bit in range(8):
        accepting.add(node)
        node = one_child[node]
    return tuple(next_state), tuple(emitted), frozenset(accepting)


_HUFFMAN_NEXT, _HUFFMAN_EMIT, _HUFFMAN_ACCEPTING = _build_huffman_decoder()


def huffman_decode(data):
    """Decode a Huffman-coded HPACK string; raises HpackError on EOS or invalid padding."""
    next_state = _HUFFMAN_NEXT
    emit = _HUFFMAN_EMIT
    out = bytearray()
    append = out.append
    state = 0
    for byte in bytearray(data):
        index = (state << 4) | (byte >> 4)
        symbol = emit[index]
        if symbol >= 0:
            if symbol == HUFFMAN_EOS:
                raise HpackError("Huffman string contains the EOS symbol")
            append(symbol)
        state = next_state[index]
        index = (state << 4) | (byte & 15)
        symbol = emit[index]
        if symbol >= 0:
            if symbol == HUFFMAN_EOS:
                raise HpackError("Huffman string contains the EOS symbol")
            append(symbol)
        state = next_state[index]
    if state not in _HUFFMAN_ACCEPTING:
        raise HpackError("Huffman string has invalid padding (not a prefix of EOS, or 8+ bits)")
    return bytes(out)


# Integers longer than this many continuation bytes cannot be sane lengths or indexes.
_MAX_INTEGER_CONTINUATION_BYTES = 5


def decode_integer(data, position, prefix_bits):
    """Decode an integer with an N-bit prefix at data[position]; returns (value, next position)."""
    if position >= len(data):
        raise HpackError("truncated integer")
    prefix_max = (1 << prefix_bits) - 1
    value = data[position] & prefix_max
    position += 1
    if value < prefix_max:
        return value, position
    shift = 0
    for _byte in range(_MAX_INTEGER_CONTINUATION_BYTES):
        if position >= len(data):
            raise HpackError("truncated integer")
        byte = data[position]
        position += 1
        value += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position
    raise HpackError("integer representation too long")


def encode_integer(value, prefix_bits, first_byte_flags=0):
    """Encode an integer with an N-bit prefix; first_byte_flags fills the bits above the prefix."""
    if value < 0:
        raise ValueError("HPACK integers are non-negative")
    prefix_max = (1 << prefix_bits) - 1
    if value < prefix_max:
        return bytes(bytearray((first_byte_flags | value,)))
    out = bytearray((first_byte_flags | prefix_max,))
    value -= prefix_max
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_string(data, position):
    """Decode a string literal at data[position]; returns (bytes, next position)."""
    if position >= len(data):
        raise HpackError("truncated string")
    huffman = data[position] & 0x80
    length, position = decode_integer(data, position, 7)
    end = position + length
    if end > len(data):
        raise HpackError("string length %d runs past the end of the header block" % length)
    raw = bytes(data[position:end])
    return (huffman_decode(raw) if huffman else raw), end


def encode_string(value):
    """Encode a string literal without Huffman coding."""
    return encode_integer(len(value), 7) + value


def _as_bytes(text):
    if isinstance(text, bytes):
        return text
    return text.encode("utf-8")


def entry_size(name, value):
    """Size of a table entry as RFC 7541 section 4.1 counts it."""
    return len(name) + len(value) + 32


class Encoder:
    """Encodes header lists without ever adding to the peer's dynamic table."""

    def encode(self, headers):
        """headers: iterable of (name, value), str or bytes. Returns the header block."""
        out = bytearray()
        for name, value in headers:
            name = _as_bytes(name)
            value = _as_bytes(value)
            pair_index = _STATIC_PAIR_INDEX.get((name, value))
            if pair_index is not None:
                out += encode_integer(pair_index, 7, 0x80)
                continue
            name_index = _STATIC_NAME_INDEX.get(name)
            if name_index is not None:
                out += encode_integer(name_index, 4, 0x00)
            else:
                out.append(0x00)
                out += encode_string(name)
            out += encode_string(value)
        return bytes(out)


class Decoder:
    """Decodes header blocks of one connection, keeping its dynamic table.

    max_table_size is the SETTINGS_HEADER_TABLE_SIZE we advertised: the largest size a dynamic
    table size update may ask for. max_header_list_size bounds the decoded list (name + value
    + 32 per field), so that a small block referencing large entries cannot blow up memory.
    """

    def __init__(self, max_table_size=4096, max_header_list_size=1 << 20):
        self.max_allowed_table_size = max_table_size
        self.table_size_limit = max_table_size
        self.max_header_list_size = max_header_list_size
        self.dynamic_table = []  # newest first, as HPACK indexes it
        self.dynamic_table_size = 0

    def _evict_to(self, limit):
        while self.dynamic_table_size > limit:
            name, value = self.dynamic_table.pop()
            self.dynamic_table_size -= entry_size(name, value)

    def _add(self, name, value):
        size = entry_size(name, value)
        if size > self.table_size_limit:
            del self.dynamic_table[:]
            self.dynamic_table_size = 0
            return
        self._evict_to(self.table_size_limit - size)
        self.dynamic_table.insert(0, (name, value))
        self.dynamic_table_size += size

    def _lookup(self, index):
        if index == 0:
            raise HpackError("index 0 is not a valid table index")
        if index <= STATIC_TABLE_LENGTH:
            return STATIC_TABLE[index - 1]
        dynamic_index = index - STATIC_TABLE_LENGTH - 1
        if dynamic_index >= len(self.dynamic_table):
            raise HpackError(
                "index %d is past the end of the tables (%d static + %d dynamic entries)"
                % (index, STATIC_TABLE_LENGTH, len(self.dynamic_table))
            )
        return self.dynamic_table[dynamic_index]

    def decode(self, block):
        """Decode one complete header block into a list of (name, value) bytes pairs."""
        data = bytes(block)
        end = len(data)
        position = 0
        headers = []
        list_size = 0
        size_update_allowed = True
        while position < end:
            first = data[position]
            if first & 0x80:
                index, position = decode_integer(data, position, 7)
                name, value = self._lookup(index)
            elif first & 0x40:
                index, position = decode_integer(data, position, 6)
                if index:
                    name = self._lookup(index)[0]
                else:
                    name, position = decode_string(data, position)
                value, position = decode_string(data, position)
                self._add(name, value)
            elif first & 0x20:
                if not size_update_allowed:
                    raise HpackError("dynamic table size update after a header field")
                size, position = decode_integer(data, position, 5)
                if size > self.max_allowed_table_size:
                    raise HpackError(
                        "dynamic table size update to %d exceeds the allowed %d"
                        % (size, self.max_allowed_table_size)
                    )
                self.table_size_limit = size
                self._evict_to(size)
                continue
            else:
                # 0000xxxx literal without indexing, 0001xxxx literal never indexed.
                index, position = decode_integer(data, position, 4)
                if index:
                    name = self._lookup(index)[0]
                else:
                    name, position = decode_string(data, position)
                value, position = decode_string(data, position)
            size_update_allowed = False
            list_size += entry_size(name, value)
            if list_size > self.max_header_list_size:
                raise HpackError("decoded header list exceeds %d bytes" % self.max_header_list_size)
            headers.append((name, value))
        return headers
