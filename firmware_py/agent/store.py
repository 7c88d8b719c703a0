"""Store-and-forward buffer of records, in flash, bounded.

While the broker is unreachable a device keeps its records here and sends
them, oldest first, once it is back. The buffer is one file of ``capacity``
fixed-size slots::

    slot = length:u16 | boot:u32 | seq:u32 | kind:u8 | crc16(payload):u16 | payload

``length == 0`` marks a free slot (an erased or missing one reads as free too).
The order of the records is their (boot, seq), so a start-up scan rebuilds the
index without a separate journal that would wear one spot of flash. Slots are
taken round-robin, so every slot is written about as often as every other:
each record costs one slot write when stored and one when freed.

When the buffer is full the **oldest telemetry** (fixes, health, water
samples) goes first and is counted; events and acks are evidence of things
that happened and are never dropped for telemetry. ``reserve`` slots are kept
for them: telemetry may fill at most ``capacity - reserve`` slots. Only a
buffer holding nothing but events and acks drops its oldest one (counted the
same way), which takes ``capacity`` of them in one outage.
"""

import struct

from core import contract as c
from firmware_py.agent.crc import crc16
from firmware_py.agent.persist import PersistentCounter

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

HEADER = ">HIIBH"
HEADER_SIZE = 13
TELEMETRY_KINDS = (c.LOCATION_FIX, c.HEALTH, c.WATER_SAMPLE)

# Index entry fields (a small list per record: cheaper than an object on MicroPython).
BOOT = 0
SEQ = 1
SLOT = 2
KIND = 3
INFLIGHT = 4


class RecordBuffer:
    """The device's bounded buffer of encoded records, oldest first by (boot, seq)."""

    def __init__(
        self,
        flash: "Any",
        capacity: int,
        max_record: int,
        reserve: int = 0,
        name: str = "buffer.bin",
    ) -> None:
        if capacity < 1 or not 0 <= reserve < capacity:
            raise ValueError("need capacity >= 1 and 0 <= reserve < capacity")
        self.capacity = capacity
        self.reserve = reserve
        self.slot_size = HEADER_SIZE + max_record
        self._flash = flash
        self._name = name
        self._entries: list[list[Any]] = []
        self._used = bytearray(capacity)
        self._cursor = 0
        self._telemetry = 0
        self._dropped = PersistentCounter(flash, name + ".dropped")

    # --- state -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def dropped(self) -> int:
        """Records dropped from a full (or damaged) buffer since the first boot."""
        return self._dropped.value

    @property
    def telemetry_count(self) -> int:
        return self._telemetry

    def load(self) -> int:
        """Rebuild the index from flash after a start; return the number of records found."""
        self._dropped.load()
        self._entries = []
        self._used = bytearray(self.capacity)
        self._telemetry = 0
        last = -1
        for slot in range(self.capacity):
            header = self._flash.read(self._name, slot * self.slot_size, HEADER_SIZE)
            if len(header) < HEADER_SIZE:
                break
            length, boot, seq, kind, _ = struct.unpack(HEADER, header)
            if length == 0 or length > self.slot_size - HEADER_SIZE:
                continue
            self._insert([boot, seq, slot, kind, False])
            last = slot
        self._cursor = (last + 1) % self.capacity
        return len(self._entries)

    # --- storing -----------------------------------------------------------------

    def put(self, boot: int, seq: int, kind: int, payload: bytes) -> int:
        """Store one encoded record; return how many records were dropped to make room."""
        if len(payload) > self.slot_size - HEADER_SIZE or not payload:
            raise ValueError("a record of %d bytes does not fit a slot" % len(payload))
        dropped = 0
        telemetry = kind in TELEMETRY_KINDS
        if telemetry and self._telemetry >= self.capacity - self.reserve:
            oldest = self._oldest(True)
            if oldest is None or (oldest[BOOT], oldest[SEQ]) > (boot, seq):
                # The incoming record is itself the oldest telemetry: it is the one to go.
                self._count_drop()
                return 1
            self._free(oldest)
            dropped += 1
        if len(self._entries) >= self.capacity:
            victim = self._oldest(True)
            if victim is None:
                victim = self._oldest(False)
            if victim is None:
                self._count_drop()
                return dropped + 1
            self._free(victim)
            dropped += 1
        slot = self._free_slot()
        header = struct.pack(HEADER, len(payload), boot, seq, kind, crc16(payload))
        self._flash.write(self._name, slot * self.slot_size, header + payload)
        self._used[slot] = 1
        self._insert([boot, seq, slot, kind, False])
        return dropped

    def _count_drop(self) -> None:
        self._dropped.add(1)

    def _free(self, entry: "list[Any]") -> None:
        # Dropping is freeing without sending.
        self._release_slot(entry)
        self._entries.remove(entry)
        self._count_drop()

    def _oldest(self, telemetry_only: bool) -> "list[Any] | None":
        for entry in self._entries:
            if entry[INFLIGHT]:
                continue
            if not telemetry_only or entry[KIND] in TELEMETRY_KINDS:
                return entry
        return None

    def _free_slot(self) -> int:
        for step in range(self.capacity):
            slot = (self._cursor + step) % self.capacity
            if not self._used[slot]:
                self._cursor = (slot + 1) % self.capacity
                return slot
        raise RuntimeError("record buffer index out of step with its slots")

    def _insert(self, entry: "list[Any]") -> None:
        key = (entry[BOOT], entry[SEQ])
        i = len(self._entries)
        # Records mostly arrive in order: search from the end.
        while i > 0 and (self._entries[i - 1][BOOT], self._entries[i - 1][SEQ]) > key:
            i -= 1
        self._entries.insert(i, entry)
        self._used[entry[SLOT]] = 1
        if entry[KIND] in TELEMETRY_KINDS:
            self._telemetry += 1

    def _release_slot(self, entry: "list[Any]") -> None:
        self._flash.write(self._name, entry[SLOT] * self.slot_size, b"\x00\x00")
        self._used[entry[SLOT]] = 0
        if entry[KIND] in TELEMETRY_KINDS:
            self._telemetry -= 1

    # --- forwarding ----------------------------------------------------------------

    def take(self, limit: int, max_bytes: int) -> "list[Any]":
        """Mark up to ``limit`` oldest records (``max_bytes`` in all) as in flight.

        Returns ``(entry, payload)`` pairs, oldest first. A slot whose bytes fail
        their CRC (a write torn by a power cut) is freed and counted as dropped.
        """
        taken: list[Any] = []
        size = 0
        for entry in list(self._entries):
            if len(taken) >= limit:
                break
            if entry[INFLIGHT]:
                continue
            raw = self._flash.read(self._name, entry[SLOT] * self.slot_size, self.slot_size)
            length, _, _, _, check = struct.unpack(HEADER, raw[:HEADER_SIZE])
            payload = bytes(raw[HEADER_SIZE : HEADER_SIZE + length])
            if len(payload) != length or crc16(payload) != check:
                self._free(entry)
                continue
            if size + length > max_bytes:
                break
            size += length
            entry[INFLIGHT] = True
            taken.append((entry, payload))
        return taken

    def remove(self, entries: "list[Any]") -> None:
        """Free the slots of records the broker acknowledged (those still in flight)."""
        slots = {}
        for entry in entries:
            # An entry released by a lost connection may be sent again: not ours to free.
            if entry[INFLIGHT]:
                self._release_slot(entry)
                slots[entry[SLOT]] = True
        if slots:
            self._entries = [e for e in self._entries if not (e[INFLIGHT] and e[SLOT] in slots)]

    def release(self) -> None:
        """Forget what was in flight (the connection dropped): send it again later."""
        for entry in self._entries:
            entry[INFLIGHT] = False

    def keys(self) -> "list[Any]":
        """The (boot, seq) of every buffered record, oldest first."""
        return [(entry[BOOT], entry[SEQ]) for entry in self._entries]
