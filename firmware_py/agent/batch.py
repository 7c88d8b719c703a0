"""Contract batches built from records already encoded.

Buffered records are kept as the bytes they were first encoded to (checked
then by ``core.codec.encode``), so a batch is those bytes behind a batch
header, with no decode and re-encode on a small board. The result is the
deterministic form the contract asks for: keys 0, 1, 2, 4, 10 in order.
"""

from core import cbor
from core import contract as c

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

# Room left in a batch for its header (map head, version, kind, boot, ts, items head).
HEADER_ROOM = 32
MAX_ITEMS_BYTES = c.MAX_PAYLOAD - HEADER_ROOM


def _array_head(count: int) -> bytes:
    if count < 24:
        return bytes((0x80 | count,))
    if count < 0x100:
        return bytes((0x98, count))
    return bytes((0x99, count >> 8, count & 0xFF))


def encode_batch(boot: int, ts: "int | None", items: "list[Any]") -> bytes:
    """The bytes of a batch of already-encoded records (oldest first)."""
    if not 1 <= len(items) <= c.MAX_BATCH_ITEMS:
        raise ValueError("a batch holds 1..%d records, not %d" % (c.MAX_BATCH_ITEMS, len(items)))
    head = {c.K_VERSION: c.SCHEMA_VERSION, c.K_KIND: c.BATCH, c.K_BOOT: boot}
    if ts is not None:
        head[c.K_TS] = ts
    encoded = cbor.encode(head)
    # One more pair than the head map holds (at most 4, so the map head is one byte).
    body = bytes((encoded[0] + 1,)) + encoded[1:] + b"\x0a" + _array_head(len(items))
    data = body + b"".join(items)
    if len(data) > c.MAX_PAYLOAD:
        raise ValueError(
            "a batch of %d bytes is over the %d-byte limit" % (len(data), c.MAX_PAYLOAD)
        )
    return data
