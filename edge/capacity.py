"""The buffer's size accounting. Pure.

The cap (``buffer_max_bytes``) applies to the accounted size of the buffered
messages: each counts its payload plus a fixed overhead for its row and index
entries. When a commit takes the total over the cap, the oldest telemetry is
dropped until it fits again; urgent messages are never dropped, so a buffer holding
only urgent messages may stay over the cap.
"""

from __future__ import annotations

from collections.abc import Iterable

# Row header, device id, channel, times, index entries: measured at 61 to 75 bytes per
# location fix on disk (200,000 rows); rounded up so the file stays under the cap.
ROW_OVERHEAD_BYTES = 96


def stored_size(payload_length: int) -> int:
    """What one buffered message counts against the cap."""
    return payload_length + ROW_OVERHEAD_BYTES


def rows_to_drop(total_bytes: int, cap_bytes: int, oldest_first: Iterable[int]) -> int:
    """How many of the oldest telemetry rows (their sizes, oldest first) bring the total
    down to the cap; all of them if that is not enough."""
    excess = total_bytes - cap_bytes
    count = 0
    for size in oldest_first:
        if excess <= 0:
            break
        excess -= size
        count += 1
    return count
