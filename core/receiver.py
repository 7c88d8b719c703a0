"""Receiver-side decoding on CPython: cbor2 for the bytes, core's checks for the rest.

CPython only (cbor2 is a C extension); listed in tests/micropython/cpython_only.txt.
Every failure, whatever cbor2 raised, comes out as ``core.errors.DecodeError``.
"""

from io import BytesIO
from typing import Any

import cbor2

from core import cbor
from core.codec import check_size, kinds_for_channel, message_from_wire
from core.errors import NOT_CBOR, TOO_DEEP, TRAILING_BYTES, TRUNCATED, UNSUPPORTED_CBOR, DecodeError
from core.messages import Message

_PLAIN = (int, str, bytes, bool, type(None), float)


def _check_plain(value: Any, depth: int = 0) -> None:
    """Refuse what cbor2 builds from tags and simple values, so checks see plain data."""
    if depth > 6:
        raise DecodeError(TOO_DEEP, "nesting deeper than 6")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, depth + 1)
            _check_plain(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_plain(item, depth + 1)
    elif not isinstance(value, _PLAIN):
        raise DecodeError(UNSUPPORTED_CBOR, "%s is not allowed on the wire" % type(value).__name__)


def read_cbor(data: bytes) -> Any:
    """Decode exactly one CBOR item with cbor2, mapping its errors to DecodeError."""
    if not data:
        raise DecodeError(TRUNCATED, "empty message")
    stream = BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream).decode()
    except cbor2.CBORDecodeEOF as exc:
        raise DecodeError(TRUNCATED, "CBOR item ends early (%s)" % exc) from exc
    except cbor2.CBORDecodeError as exc:
        raise DecodeError(NOT_CBOR, str(exc)) from exc
    except RecursionError as exc:
        raise DecodeError(TOO_DEEP, "nesting too deep") from exc
    if stream.tell() != len(data):
        raise DecodeError(
            TRAILING_BYTES, "%d bytes after the message" % (len(data) - stream.tell())
        )
    _check_plain(value)
    if len(cbor2.dumps(value, canonical=True)) != len(data):
        # Not the deterministic form devices send (indefinite lengths, duplicate
        # keys, long integer heads...): cbor2 accepts some of these, the contract
        # does not, so core's strict reader decides.
        value = cbor.decode(data)
    return value


def decode(data: bytes, channel: str | None = None) -> Message:
    """Decode and check one payload; ``channel`` (from core.topics.parse) limits the kinds."""
    check_size(len(data))
    message = message_from_wire(read_cbor(data), kinds_for_channel(channel))
    check_size(len(data), message.KIND)
    return message
