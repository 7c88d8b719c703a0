"""Counters that survive reboots, kept in flash with bounded wear.

A counter lives in ``SLOTS`` rotating 8-byte slots of one file: value n is
written to slot ``n % SLOTS`` as ``value, value ^ 0xFFFFFFFF``. Reading takes
the largest value whose check word matches, so

- each slot is rewritten once every ``SLOTS`` increments (wear spread ``SLOTS``
  ways on top of whatever the filesystem does);
- a write torn by a power cut spoils one slot only, and the previous value
  (in another slot) is still there: the counter never goes back.

The boot id costs one such write per start; the dropped-records counter one
per record dropped from a full buffer.
"""

import struct

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

SLOTS = 8
SLOT_SIZE = 8
_MASK = 0xFFFFFFFF


class PersistentCounter:
    """A monotonic uint32 counter in ``flash`` under ``name``."""

    def __init__(self, flash: "Any", name: str, slots: int = SLOTS) -> None:
        self._flash = flash
        self._name = name
        self._slots = slots
        self.value = 0

    def load(self) -> int:
        """Read the counter from flash (0 when never written); return it."""
        raw = self._flash.read(self._name, 0, self._slots * SLOT_SIZE)
        best = 0
        for i in range(len(raw) // SLOT_SIZE):
            value, check = struct.unpack(">II", raw[i * SLOT_SIZE : (i + 1) * SLOT_SIZE])
            if check == value ^ _MASK and value > best:
                best = value
        self.value = best
        return best

    def store(self, value: int) -> None:
        """Persist ``value`` (must not be below the current one): one slot write."""
        if value < self.value or value > _MASK:
            raise ValueError("counter %s cannot go from %d to %d" % (self._name, self.value, value))
        offset = (value % self._slots) * SLOT_SIZE
        self._flash.write(self._name, offset, struct.pack(">II", value, value ^ _MASK))
        self.value = value

    def add(self, amount: int = 1) -> int:
        """Increase by ``amount`` and persist; return the new value."""
        self.store(self.value + amount)
        return self.value


def next_boot_id(flash: "Any") -> int:
    """Count this start: return the new boot id (1 on the first boot), one flash write."""
    counter = PersistentCounter(flash, "boot.bin")
    counter.load()
    return counter.add(1)
