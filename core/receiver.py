"""Receiver-side decoding on CPython: cbor2 for the bytes, core's checks for the rest.

CPython only (cbor2 is a C extension); listed in tests/micropython/cpython_only.txt.
Every failure, whatever cbor2 raised, comes out as ``core.errors.DecodeError``.
"""

from enum import StrEnum
from typing import Any

import cbor2

from core import cbor, devices
from core.codec import check_size, kinds_for_channel, message_from_wire
from core.errors import NOT_CBOR, TOO_DEEP, TRUNCATED, UNSUPPORTED_CBOR, DecodeError
from core.messages import Message


class DeviceKind(StrEnum):
    """``core.devices``' kinds as an enum, for the receivers' registries, options, columns."""

    bracelet = devices.BRACELET
    river_station = devices.RIVER_STATION


_SCALARS = frozenset({int, str, bytes, bool, type(None), float})


def _check_plain(value: Any, depth: int = 0) -> None:
    """Refuse what cbor2 builds from tags and simple values, so checks see plain data.

    Only exact built-in types pass (cbor2 builds its tags and simple values as classes
    of their own, some of them tuples); nothing may sit deeper than core's strict
    reader allows (``cbor.MAX_DEPTH``).
    """
    kind = type(value)
    if kind in _SCALARS:
        return
    if kind is dict:
        children: Any = list(value.keys()) + list(value.values())
    elif kind is list or kind is tuple:
        children = value
    else:
        raise DecodeError(UNSUPPORTED_CBOR, "%s is not allowed on the wire" % kind.__name__)
    if children and depth >= cbor.MAX_DEPTH:
        raise DecodeError(TOO_DEEP, "nesting deeper than %d" % cbor.MAX_DEPTH)
    for child in children:
        if type(child) not in _SCALARS:
            _check_plain(child, depth + 1)


def read_cbor(data: bytes) -> Any:
    """Decode exactly one CBOR item with cbor2, mapping its errors to DecodeError."""
    if not data:
        raise DecodeError(TRUNCATED, "empty message")
    try:
        value = cbor2.loads(data)
    except cbor2.CBORDecodeEOF as exc:
        raise DecodeError(TRUNCATED, "CBOR item ends early (%s)" % exc) from exc
    except cbor2.CBORDecodeError as exc:
        raise DecodeError(NOT_CBOR, str(exc)) from exc
    except RecursionError as exc:
        raise DecodeError(TOO_DEEP, "nesting too deep") from exc
    _check_plain(value)
    if len(cbor2.dumps(value)) != len(data):
        # Encoded again (shortest heads, definite lengths) it is not as long as what
        # came: bytes after the item, indefinite lengths, duplicate keys, long integer
        # heads, a float narrower or wider than cbor2 writes... cbor2 accepts some of
        # these, the contract does not, so core's strict reader decides.
        value = cbor.decode(data)
    return value


def decode(data: bytes, channel: str | None = None) -> Message:
    """Decode and check one payload; ``channel`` (from core.topics.parse) limits the kinds."""
    check_size(len(data))
    message = message_from_wire(read_cbor(data), kinds_for_channel(channel))
    check_size(len(data), message.KIND)
    return message
