"""Errors raised by core.

There is one root, ``CoreError``. ``DecodeError`` is what every receiver sees for
a message that breaks the wire contract: its ``code`` is a short stable token
(kept in quarantine rows and metrics), its ``field`` names the offending part.

This module runs on MicroPython too: no typing, no dataclasses.
"""

# Stable reason codes. Receivers store them, so they never change meaning.
NOT_CBOR = "not_cbor"  # the bytes are not well-formed CBOR
TRUNCATED = "truncated"  # the CBOR item ends before its declared length
TRAILING_BYTES = "trailing_bytes"  # bytes left after the one top-level item
OVERSIZE = "oversize"  # over the size limit for the message or its kind
TOO_DEEP = "too_deep"  # nesting deeper than the contract allows
UNSUPPORTED_CBOR = "unsupported_cbor"  # tags, indefinite lengths, other simple values
NOT_A_MAP = "not_a_map"  # the top level is not a map with integer keys
MISSING_VERSION = "missing_version"
UNKNOWN_VERSION = "unknown_version"
UNKNOWN_KIND = "unknown_kind"
MISSING_KEY = "missing_key"
UNKNOWN_KEY = "unknown_key"
WRONG_TYPE = "wrong_type"
OUT_OF_RANGE = "out_of_range"
INCONSISTENT = "inconsistent"  # fields that are valid alone but not together
WRONG_CHANNEL = "wrong_channel"  # a kind published on a topic that does not carry it
BAD_TOPIC = "bad_topic"

# Stable reason codes of receivers (gateway and cloud alike) for a message that keeps
# the wire contract but is not admitted as ordinary evidence (core.devices,
# core.evidence). Kept with the message, in quarantine rows and metrics.
UNKNOWN_DEVICE = "unknown_device"  # no such device registered with this receiver
FOREIGN_DEVICE = "foreign_device"  # registered, but served by another gateway
WRONG_DEVICE_KIND = "wrong_device_kind"  # a record its device's kind never sends
IMPLAUSIBLE_TIME = "implausible_time"  # device time ahead of the receiver's clock
CONFLICTING_RECORD = "conflicting_record"  # (boot, seq) of an earlier, different record


class CoreError(ValueError):
    """Root of every error raised by core: all of them are bad values.

    (One built-in base only: MicroPython refuses two, e.g. Exception and ValueError.)
    """


class DecodeError(CoreError):
    """A message breaks the wire contract.

    ``code`` is one of the module's reason codes, ``field`` the name of the
    field at fault (or None), ``detail`` a sentence for people.
    """

    def __init__(self, code: str, detail: str, field: "str | None" = None) -> None:
        super().__init__(code + ": " + detail)
        self.code = code
        self.detail = detail
        self.field = field


class EncodeError(CoreError):
    """A value cannot be put on the wire (wrong type, out of range)."""


class TopicError(CoreError):
    """A topic or device id does not follow the contract's scheme."""
