"""Completeness of a device's record: sequence ranges, gaps and late readings. Pure.

Within one boot a device numbers its records 0, 1, 2, ... (docs/contract.md), so the
numbers received so far, kept as runs of consecutive numbers, show what is missing:
every number below the highest one received that is in no run is a **gap**. A gap
closes when its records arrive later (backfilled), and those records are **late**.
Nothing after the highest number received is a gap yet: it may still be on its way.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SeqPosition = tuple[int, int]  # (boot, seq): ordered the way a device makes records


@dataclass(frozen=True, slots=True, order=True)
class SeqRange:
    """Sequence numbers ``first`` to ``last`` (inclusive) of one boot, all received."""

    first: int
    last: int


@dataclass(frozen=True, slots=True, order=True)
class Gap:
    """Sequence numbers ``first`` to ``last`` (inclusive) of one boot, none received."""

    boot: int
    first: int
    last: int

    @property
    def missing(self) -> int:
        return self.last - self.first + 1


def runs_of(seqs: Iterable[int]) -> list[SeqRange]:
    """Sequence numbers as sorted runs of consecutive numbers (duplicates ignored)."""
    ordered = sorted(set(seqs))
    runs: list[SeqRange] = []
    start = 0
    for end in range(1, len(ordered) + 1):
        if end == len(ordered) or ordered[end] != ordered[end - 1] + 1:
            runs.append(SeqRange(ordered[start], ordered[end - 1]))
            start = end
    return runs


def merge_ranges(ranges: Iterable[SeqRange], seqs: Iterable[int]) -> list[SeqRange]:
    """The runs after adding ``seqs``: sorted, disjoint, adjacent runs joined."""
    pieces = sorted([*ranges, *runs_of(seqs)])
    merged: list[SeqRange] = []
    for piece in pieces:
        if merged and piece.first <= merged[-1].last + 1:
            if piece.last > merged[-1].last:
                merged[-1] = SeqRange(merged[-1].first, piece.last)
        else:
            merged.append(piece)
    return merged


class RunIndex:
    """Whether a sequence number is in one of a (device, boot)'s runs, by bisection."""

    def __init__(self, runs: Iterable[SeqRange]) -> None:
        ordered = sorted(runs)
        self._firsts = [run.first for run in ordered]
        self._lasts = [run.last for run in ordered]

    def __contains__(self, seq: int) -> bool:
        at = bisect_right(self._firsts, seq) - 1
        return at >= 0 and seq <= self._lasts[at]


def gaps_of(boot: int, ranges: Sequence[SeqRange]) -> list[Gap]:
    """The holes below the highest number received; a boot's numbering starts at 0."""
    gaps: list[Gap] = []
    expected = 0
    for run in sorted(ranges):
        if run.first > expected:
            gaps.append(Gap(boot, expected, run.first - 1))
        expected = max(expected, run.last + 1)
    return gaps


@dataclass(frozen=True, slots=True)
class Arrival:
    """How a record reached the cloud: what lateness is judged on."""

    ts_s: int  # device time of the record
    received_at_ms: int  # gateway clock, when the gateway committed it
    sent_at_ms: int  # gateway clock, when the gateway sent the batch
    in_device_batch: bool  # came in a device's catch-up batch (kept through an outage)


def is_late(
    position: SeqPosition,
    arrival: Arrival,
    high_water: SeqPosition | None,
    late_after_s: int,
) -> bool:
    """Whether a record is backfilled rather than live.

    Late when any of these holds:

    - the device sent it in a catch-up batch (``up/batch``): it waited on the device;
    - the gateway got it, or forwarded it, more than ``late_after_s`` after its device
      time: it waited on the way (both times are the gateway's clock, so no skew
      between them; against the device clock a skew of up to ``late_after_s`` passes);
    - a later record of the device (higher boot, or same boot and higher seq) was
      stored before it: it fills a gap.
    """
    if arrival.in_device_batch:
        return True
    delay_ms = max(arrival.received_at_ms, arrival.sent_at_ms) - arrival.ts_s * 1000
    if delay_ms > late_after_s * 1000:
        return True
    return high_water is not None and position < high_water
