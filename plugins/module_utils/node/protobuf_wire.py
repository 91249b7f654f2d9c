# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""Just enough of the protobuf wire format to build CRI requests and read CRI responses.

Messages are handled by field number, without schemas: encode_message() takes (field, value)
pairs, decode_message() returns {field_number: [raw values]} where a varint is an int, a
length-delimited field is bytes (a string, bytes or an embedded message, as the caller knows)
and a fixed32/fixed64 field is its raw 4/8 little-endian bytes. Groups (wire types 3 and 4,
deprecated) are skipped. Malformed or truncated input raises ValueError.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

WIRE_VARINT = 0
WIRE_FIXED64 = 1
WIRE_LENGTH_DELIMITED = 2
WIRE_START_GROUP = 3
WIRE_END_GROUP = 4
WIRE_FIXED32 = 5

_MAX_FIELD_NUMBER = (1 << 29) - 1
_UINT64_MASK = (1 << 64) - 1
# Nested groups deeper than this are treated as malformed rather than recursed into.
_MAX_GROUP_DEPTH = 64


def encode_varint(value):
    """Encode an int as a varint; negative values become 64-bit two's complement (10 bytes)."""
    if value < 0:
        value &= _UINT64_MASK
    if value > _UINT64_MASK:
        raise ValueError("varint value %d does not fit in 64 bits" % value)
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(data, position):
    """Decode the varint at data[position]; returns (value, next position)."""
    value = 0
    shift = 0
    end = len(data)
    while True:
        if position >= end:
            raise ValueError("truncated varint")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if value > _UINT64_MASK:
                raise ValueError("varint does not fit in 64 bits")
            return value, position
        shift += 7
        if shift >= 70:
            raise ValueError("varint longer than 10 bytes")


def signed64(value):
    """Reinterpret a decoded varint as int64 (how protobuf stores negative int32/int64)."""
    return value - (1 << 64) if value >= (1 << 63) else value


def _tag(field_number, wire_type):
    if not 1 <= field_number <= _MAX_FIELD_NUMBER:
        raise ValueError("invalid field number %r" % (field_number,))
    return encode_varint((field_number << 3) | wire_type)


def encode_message(fields):
    """Encode (field_number, value) pairs, in the given order.

    value: bytes/bytearray or str (UTF-8) as length-delimited; bool or int as varint; a list or
    tuple of pairs as an embedded message; None is left out (an unset field).
    """
    out = bytearray()
    for field_number, value in fields:
        if value is None:
            continue
        if isinstance(value, (bytes, bytearray)):
            out += _tag(field_number, WIRE_LENGTH_DELIMITED)
            out += encode_varint(len(value))
            out += value
        elif isinstance(value, str):
            encoded = value.encode("utf-8")
            out += _tag(field_number, WIRE_LENGTH_DELIMITED)
            out += encode_varint(len(encoded))
            out += encoded
        elif isinstance(value, (bool, int)):
            out += _tag(field_number, WIRE_VARINT)
            out += encode_varint(int(value))
        elif isinstance(value, (list, tuple)):
            embedded = encode_message(value)
            out += _tag(field_number, WIRE_LENGTH_DELIMITED)
            out += encode_varint(len(embedded))
            out += embedded
        else:
            raise TypeError(
                "cannot encode field %d of type %s" % (field_number, type(value).__name__)
            )
    return bytes(out)


def _read_key(data, position):
    key, position = decode_varint(data, position)
    field_number = key >> 3
    wire_type = key & 7
    if field_number == 0 or field_number > _MAX_FIELD_NUMBER:
        raise ValueError("invalid field number %d" % field_number)
    return field_number, wire_type, position


def _skip_group(data, position, group_field, depth):
    if depth > _MAX_GROUP_DEPTH:
        raise ValueError("groups nested too deeply")
    while True:
        if position >= len(data):
            raise ValueError("truncated group (field %d)" % group_field)
        field_number, wire_type, position = _read_key(data, position)
        if wire_type == WIRE_END_GROUP:
            if field_number != group_field:
                raise ValueError(
                    "group %d closed by end-group of field %d" % (group_field, field_number)
                )
            return position
        position = _skip_value(data, position, field_number, wire_type, depth)


def _skip_value(data, position, field_number, wire_type, depth):
    if wire_type == WIRE_VARINT:
        return decode_varint(data, position)[1]
    if wire_type == WIRE_FIXED64:
        size = 8
    elif wire_type == WIRE_FIXED32:
        size = 4
    elif wire_type == WIRE_LENGTH_DELIMITED:
        size, position = decode_varint(data, position)
    elif wire_type == WIRE_START_GROUP:
        return _skip_group(data, position, field_number, depth + 1)
    elif wire_type == WIRE_END_GROUP:
        raise ValueError("end-group for field %d without a start-group" % field_number)
    else:
        raise ValueError("invalid wire type %d (field %d)" % (wire_type, field_number))
    end = position + size
    if end > len(data):
        raise ValueError("truncated field %d: needs %d bytes" % (field_number, size))
    return end


def iter_fields(data):
    """Yield (field_number, wire_type, value) for each top-level field; groups are skipped."""
    position = 0
    end = len(data)
    while position < end:
        field_number, wire_type, position = _read_key(data, position)
        if wire_type == WIRE_VARINT:
            value, position = decode_varint(data, position)
        elif wire_type == WIRE_START_GROUP:
            position = _skip_group(data, position, field_number, 1)
            continue
        elif wire_type == WIRE_LENGTH_DELIMITED:
            size, start = decode_varint(data, position)
            position = start + size
            if position > end:
                raise ValueError("truncated field %d: needs %d bytes" % (field_number, size))
            value = bytes(data[start:position])
        else:
            start = position
            position = _skip_value(data, position, field_number, wire_type, 0)
            value = bytes(data[start:position])
        yield field_number, wire_type, value


def decode_message(data):
    """Decode a message into {field_number: [raw values in wire order]}."""
    fields = {}
    for field_number, _wire_type, value in iter_fields(data):
        fields.setdefault(field_number, []).append(value)
    return fields


def count_field(data, field_number):
    """Count occurrences of a top-level field without copying values (e.g. images in a list)."""
    count = 0
    position = 0
    end = len(data)
    while position < end:
        number, wire_type, position = _read_key(data, position)
        position = _skip_value(data, position, number, wire_type, 0)
        if number == field_number and wire_type != WIRE_START_GROUP:
            count += 1
    return count


def get_string(fields, field_number, default=""):
    """Last value of a string field in decode_message() output (protobuf: last one wins)."""
    values = fields.get(field_number)
    if not values:
        return default
    value = values[-1]
    if not isinstance(value, bytes):
        raise ValueError("field %d is not length-delimited" % field_number)
    return value.decode("utf-8", "replace")


def get_int(fields, field_number, default=0):
    """Last value of a varint field in decode_message() output."""
    values = fields.get(field_number)
    if not values:
        return default
    value = values[-1]
    if not isinstance(value, int):
        raise ValueError("field %d is not a varint" % field_number)
    return value
