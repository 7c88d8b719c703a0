"""The gateway-to-cloud batch: what ``POST /api/v1/ingest`` carries (docs/gateway-api.md).

CPython only (cbor2, gzip); listed in tests/micropython/cpython_only.txt. A
forwarded message keeps the device's payload byte for byte: the cloud decodes
and checks it again with ``core.receiver``, and the bytes stay evidence.
"""

import gzip
import zlib
from dataclasses import dataclass
from typing import Any

import cbor2

from core.errors import CoreError
from core.topics import UPLINK, check_device_id

FORMAT_VERSION = 1
MAX_BODY_BYTES = 8 * 1024 * 1024  # compressed, as sent
MAX_INFLATED_BYTES = 32 * 1024 * 1024  # after gunzip: refuses zip bombs
MAX_ITEMS = 20000
CHANNELS = frozenset(UPLINK.values())


class BatchFormatError(CoreError):
    """A forwarded batch is not in the gateway-to-cloud format (the whole batch is refused)."""


@dataclass(frozen=True, slots=True)
class ForwardedMessage:
    """One MQTT message as the gateway committed it."""

    device_id: str
    channel: str  # one of core.topics.UPLINK's channels
    received_at_ms: int  # gateway clock, Unix milliseconds, when committed to its buffer
    payload: bytes  # the device's bytes, unchanged


@dataclass(frozen=True, slots=True)
class ForwardBatch:
    """Messages a gateway forwards in one request; ``batch_id`` makes a retry idempotent."""

    gateway_id: str
    batch_id: str
    sent_at_ms: int
    items: tuple[ForwardedMessage, ...]


def encode_batch(batch: ForwardBatch) -> bytes:
    """CBOR, then gzip: the request body (sent with Content-Encoding: gzip)."""
    body = {
        "v": FORMAT_VERSION,
        "gw": batch.gateway_id,
        "id": batch.batch_id,
        "sent": batch.sent_at_ms,
        "items": [[m.device_id, m.channel, m.received_at_ms, m.payload] for m in batch.items],
    }
    return gzip.compress(cbor2.dumps(body), compresslevel=5, mtime=0)


def inflate(body: bytes) -> bytes:
    """Gunzip a request body with a ceiling on the inflated size."""
    if len(body) > MAX_BODY_BYTES:
        raise BatchFormatError(f"body of {len(body)} bytes is over {MAX_BODY_BYTES}")
    inflater = zlib.decompressobj(wbits=31)
    try:
        raw = inflater.decompress(body, MAX_INFLATED_BYTES + 1)
    except zlib.error as exc:
        raise BatchFormatError(f"body is not gzip: {exc}") from exc
    if len(raw) > MAX_INFLATED_BYTES or inflater.unconsumed_tail:
        raise BatchFormatError(f"body inflates to more than {MAX_INFLATED_BYTES} bytes")
    return raw


def decode_batch(body: bytes, compressed: bool = True) -> ForwardBatch:
    """Read a request body; BatchFormatError names what is wrong."""
    raw = inflate(body) if compressed else body
    try:
        value = cbor2.loads(raw)
    except (cbor2.CBORDecodeError, RecursionError) as exc:
        raise BatchFormatError(f"body is not CBOR: {exc}") from exc
    if not isinstance(value, dict):
        raise BatchFormatError("body must be a CBOR map")
    if value.get("v") != FORMAT_VERSION:
        raise BatchFormatError(f"format version {value.get('v')!r} is not {FORMAT_VERSION}")
    gateway_id = _text(value, "gw")
    batch_id = _text(value, "id")
    sent = value.get("sent")
    if type(sent) is not int or sent < 0:
        raise BatchFormatError("'sent' must be Unix milliseconds")
    items = value.get("items")
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise BatchFormatError(f"'items' must be a list of at most {MAX_ITEMS}")
    return ForwardBatch(gateway_id, batch_id, sent, tuple(_item(i, x) for i, x in enumerate(items)))


def _text(value: dict[Any, Any], key: str) -> str:
    text = value.get(key)
    if not isinstance(text, str) or not 1 <= len(text) <= 128:
        raise BatchFormatError(f"'{key}' must be text of 1 to 128 characters")
    return text


def _item(index: int, item: Any) -> ForwardedMessage:
    if not isinstance(item, list) or len(item) != 4:
        raise BatchFormatError(
            f"item {index} must be [device_id, channel, received_at_ms, payload]"
        )
    device_id, channel, received, payload = item
    try:
        check_device_id(device_id)
    except CoreError as exc:
        raise BatchFormatError(f"item {index}: {exc}") from exc
    if channel not in CHANNELS:
        raise BatchFormatError(f"item {index}: channel {channel!r} is not an uplink channel")
    if type(received) is not int or received < 0:
        raise BatchFormatError(f"item {index}: received_at_ms must be Unix milliseconds")
    if not isinstance(payload, bytes):
        raise BatchFormatError(f"item {index}: payload must be a byte string")
    return ForwardedMessage(device_id, channel, received, payload)
