"""A position as the agents use it: where, how well, from what, how fast."""

from core import contract as c
from core.messages import EventFix

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

# 1e-7 degree of latitude is 1.11 cm; of longitude at Shanghai (31 N) about 0.95 cm.
_CM_PER_E7_LAT = 111
_CM_PER_E7_LON_31N = 95


class Position:
    """WGS-84 in 1e-7 degrees, accuracy radius in metres, source (contract FIX_*), speed or None."""

    def __init__(
        self,
        lat_e7: int,
        lon_e7: int,
        accuracy_m: int,
        source: int = c.FIX_GNSS,
        speed_cm_s: "int | None" = None,
    ) -> None:
        self.lat_e7 = lat_e7
        self.lon_e7 = lon_e7
        self.accuracy_m = accuracy_m
        self.source = source
        self.speed_cm_s = speed_cm_s

    @classmethod
    def from_gnss(cls, fix: "Any") -> "Position":
        """From an ``nmea.GnssFix``."""
        return cls(fix.lat_e7, fix.lon_e7, fix.accuracy_m, c.FIX_GNSS, fix.speed_cm_s)

    def event_fix(self) -> "EventFix":
        return EventFix(self.lat_e7, self.lon_e7, self.accuracy_m, self.source)

    def distance_m(self, other: "Position") -> int:
        """Rough distance in metres (flat earth near Shanghai; good for 'has it moved')."""
        dy = (self.lat_e7 - other.lat_e7) * _CM_PER_E7_LAT // 100
        dx = (self.lon_e7 - other.lon_e7) * _CM_PER_E7_LON_31N // 100
        dy = abs(dy) // 100
        dx = abs(dx) // 100
        # Octagonal approximation of sqrt(dx^2 + dy^2), within 4 %; no floats needed.
        big, small = (dx, dy) if dx > dy else (dy, dx)
        return big + small * 3 // 8
