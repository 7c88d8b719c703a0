"""Minimal CBOR (RFC 8949) for the wire contract, in the MicroPython subset.

The device side encodes with this module and decodes its downlink (config,
commands) with it; receivers on CPython decode with cbor2 instead
(``core.receiver``). Both agree on the test vectors in ``tests/vectors``.

Encoding is deterministic: shortest integer heads, definite lengths, map keys
sorted by their encoded bytes (shorter first), so the same message always has
the same bytes. Floats are not part of the contract and are refused on encode;
the decoder reads them (so that a receiver can say "wrong type" instead of
"not CBOR") but refuses tags, indefinite lengths and unknown simple values.
"""

import struct

from core.errors import (
    NOT_CBOR,
    TOO_DEEP,
    TRAILING_BYTES,
    TRUNCATED,
    UNSUPPORTED_CBOR,
    DecodeError,
    EncodeError,
)

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

MAX_DEPTH = 6
_UINT64_MAX = (1 << 64) - 1


def _head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes((major << 5 | value,))
    if value < 0x100:
        return bytes((major << 5 | 24, value))
    if value < 0x10000:
        return bytes((major << 5 | 25,)) + struct.pack(">H", value)
    if value < 0x100000000:
        return bytes((major << 5 | 26,)) + struct.pack(">I", value)
    if value <= _UINT64_MAX:
        return bytes((major << 5 | 27,)) + struct.pack(">Q", value)
    raise EncodeError("integer does not fit in 64 bits")


def _encode_into(out: list[Any], value: "Any", depth: int) -> None:
    if depth > MAX_DEPTH:
        raise EncodeError("nesting deeper than %d" % MAX_DEPTH)
    if value is True:
        out.append(b"\xf5")
    elif value is False:
        out.append(b"\xf4")
    elif value is None:
        out.append(b"\xf6")
    elif isinstance(value, int):
        if value >= 0:
            out.append(_head(0, value))
        else:
            out.append(_head(1, -1 - value))
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        out.append(_head(3, len(raw)))
        out.append(raw)
    elif isinstance(value, (bytes, bytearray)):
        out.append(_head(2, len(value)))
        out.append(bytes(value))
    elif isinstance(value, (list, tuple)):
        out.append(_head(4, len(value)))
        for item in value:
            _encode_into(out, item, depth + 1)
    elif isinstance(value, dict):
        pairs = []
        for key in value:
            pairs.append((encode(key), value[key]))
        pairs.sort(key=lambda pair: (len(pair[0]), pair[0]))
        out.append(_head(5, len(pairs)))
        for key_bytes, item in pairs:
            out.append(key_bytes)
            _encode_into(out, item, depth + 1)
    else:
        raise EncodeError("cannot encode %s on the wire" % type(value).__name__)


def encode(value: "Any") -> bytes:
    """Encode a value (int, str, bytes, bool, None, list, dict) as CBOR."""
    out: list[Any] = []
    _encode_into(out, value, 0)
    return b"".join(out)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, count: int) -> bytes:
        end = self.pos + count
        if end > len(self.data):
            raise DecodeError(TRUNCATED, "CBOR item ends after %d bytes" % len(self.data))
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def argument(self, info: int) -> int:
        if info < 24:
            return info
        if info == 24:
            return self.take(1)[0]
        if info == 25:
            return int(struct.unpack(">H", self.take(2))[0])
        if info == 26:
            return int(struct.unpack(">I", self.take(4))[0])
        if info == 27:
            return int(struct.unpack(">Q", self.take(8))[0])
        if info == 31:
            raise DecodeError(UNSUPPORTED_CBOR, "indefinite lengths are not allowed")
        raise DecodeError(NOT_CBOR, "reserved additional information %d" % info)


def _half_to_float(bits: int) -> float:
    sign = -1.0 if bits & 0x8000 else 1.0
    exponent = (bits >> 10) & 0x1F
    fraction = bits & 0x3FF
    if exponent == 0:
        return sign * fraction * 2.0**-24
    if exponent == 31:
        return sign * float("inf") if fraction == 0 else float("nan")
    return sign * (1 + fraction / 1024.0) * 2.0 ** (exponent - 15)


def _decode_item(reader: _Reader, depth: int) -> "Any":
    if depth > MAX_DEPTH:
        raise DecodeError(TOO_DEEP, "nesting deeper than %d" % MAX_DEPTH)
    initial = reader.take(1)[0]
    major = initial >> 5
    info = initial & 0x1F
    if major == 7:
        if info == 20:
            return False
        if info == 21:
            return True
        if info == 22:
            return None
        if info == 25:
            return _half_to_float(int(struct.unpack(">H", reader.take(2))[0]))
        if info == 26:
            return float(struct.unpack(">f", reader.take(4))[0])
        if info == 27:
            return float(struct.unpack(">d", reader.take(8))[0])
        if info == 31:
            raise DecodeError(NOT_CBOR, "break byte outside an indefinite item")
        raise DecodeError(UNSUPPORTED_CBOR, "simple value %d is not allowed" % info)
    arg = reader.argument(info)
    if major == 0:
        return arg
    if major == 1:
        return -1 - arg
    if major == 2:
        return reader.take(arg)
    if major == 3:
        raw = reader.take(arg)
        try:
            return raw.decode("utf-8")
        except UnicodeError:
            raise DecodeError(NOT_CBOR, "text string is not valid UTF-8")
    if major == 4:
        # Each item takes at least one byte: refuse lengths the data cannot hold
        # before allocating anything for them.
        if arg > len(reader.data) - reader.pos:
            raise DecodeError(TRUNCATED, "array of %d items in %d bytes" % (arg, len(reader.data)))
        return [_decode_item(reader, depth + 1) for _ in range(arg)]
    if major == 5:
        if 2 * arg > len(reader.data) - reader.pos:
            raise DecodeError(TRUNCATED, "map of %d pairs in %d bytes" % (arg, len(reader.data)))
        result: dict[Any, Any] = {}
        for _ in range(arg):
            key = _decode_item(reader, depth + 1)
            if isinstance(key, (list, dict)):
                raise DecodeError(UNSUPPORTED_CBOR, "map keys must be integers or strings")
            if key in result:
                raise DecodeError(NOT_CBOR, "duplicate map key %r" % (key,))
            result[key] = _decode_item(reader, depth + 1)
        return result
    raise DecodeError(UNSUPPORTED_CBOR, "tags are not allowed")


def decode(data: bytes) -> "Any":
    """Decode exactly one CBOR item from ``data``; raise DecodeError otherwise."""
    reader = _Reader(bytes(data))
    if not reader.data:
        raise DecodeError(TRUNCATED, "empty message")
    value = _decode_item(reader, 0)
    if reader.pos != len(reader.data):
        raise DecodeError(
            TRAILING_BYTES, "%d bytes after the message" % (len(reader.data) - reader.pos)
        )
    return value
