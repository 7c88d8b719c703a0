"""Encode and decode whole messages of wire contract v1 (MicroPython subset).

``encode`` is the device side: it refuses to put an invalid message on the
wire. ``decode`` reads bytes with ``core.cbor``; receivers on CPython use
``core.receiver.decode``, which reads with cbor2 and shares every check below.
"""

from core import cbor
from core import contract as c
from core.errors import (
    MISSING_KEY,
    MISSING_VERSION,
    NOT_A_MAP,
    OVERSIZE,
    UNKNOWN_KIND,
    UNKNOWN_VERSION,
    WRONG_CHANNEL,
    WRONG_TYPE,
    DecodeError,
    EncodeError,
)
from core.fields import type_name
from core.messages import MESSAGE_CLASSES

try:
    from typing import Any

    from core.messages import Message
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

# Which kinds each topic channel carries (see core.topics).
CHANNEL_KINDS = {
    "telemetry": (c.LOCATION_FIX, c.HEALTH, c.WATER_SAMPLE),
    "event": (c.EVENT,),
    "ack": (c.ACK,),
    "batch": (c.BATCH,),
    "status": (c.STATUS,),
    "config": (c.CONFIG,),
    "cmd": (c.COMMAND,),
}


def message_from_wire(wire: "Any", kinds: "tuple[int, ...] | None" = None) -> "Message":
    """Check a decoded wire map and build its message; ``kinds`` limits what is allowed."""
    if not isinstance(wire, dict):
        raise DecodeError(NOT_A_MAP, "a message is a map, got %s" % type_name(wire))
    if c.K_VERSION not in wire:
        raise DecodeError(MISSING_VERSION, "schema version (key 0) is missing", "version")
    version = wire[c.K_VERSION]
    if isinstance(version, bool) or not isinstance(version, int):
        raise DecodeError(
            WRONG_TYPE,
            "schema version (key 0) must be an integer, got %s" % type_name(version),
            "version",
        )
    if version != c.SCHEMA_VERSION:
        raise DecodeError(
            UNKNOWN_VERSION,
            "schema version %d is not supported (this side speaks %d)"
            % (version, c.SCHEMA_VERSION),
            "version",
        )
    if c.K_KIND not in wire:
        raise DecodeError(MISSING_KEY, "kind (key 1) is missing", "kind")
    kind = wire[c.K_KIND]
    if isinstance(kind, bool) or not isinstance(kind, int) or kind not in MESSAGE_CLASSES:
        raise DecodeError(UNKNOWN_KIND, "kind %r is not part of v1" % (kind,), "kind")
    if kinds is not None and kind not in kinds:
        raise DecodeError(WRONG_CHANNEL, "a %s is not allowed here" % c.KIND_NAMES[kind], "kind")
    message: Message = MESSAGE_CLASSES[kind].from_wire(wire)
    return message


def check_size(size: int, kind: "int | None" = None) -> None:
    """Refuse a payload over the overall limit, or over its kind's limit."""
    limit = c.MAX_PAYLOAD if kind is None else c.MAX_SIZE_BY_KIND[kind]
    if size > limit:
        what = "a message" if kind is None else "a " + c.KIND_NAMES[kind]
        raise DecodeError(
            OVERSIZE, "%s of %d bytes is over the %d-byte limit" % (what, size, limit)
        )


def kinds_for_channel(channel: "str | None") -> "tuple[int, ...] | None":
    if channel is None:
        return None
    return CHANNEL_KINDS[channel]


def decode(data: bytes, channel: "str | None" = None) -> "Message":
    """Decode a payload with the built-in CBOR reader (device side and MicroPython tests)."""
    check_size(len(data))
    message = message_from_wire(cbor.decode(data), kinds_for_channel(channel))
    check_size(len(data), message.KIND)
    return message


def encode(message: "Message") -> bytes:
    """The message's bytes on the wire; EncodeError if it breaks the contract."""
    wire = message.to_wire()
    try:
        message_from_wire(wire)
        data = cbor.encode(wire)
        check_size(len(data), message.KIND)
    except DecodeError as exc:
        raise EncodeError(str(exc))
    return data
