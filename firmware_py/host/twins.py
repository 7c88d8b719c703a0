"""Simulated twins of the HAL modules, driven by a scenario (or a test).

Each twin offers the same methods as its HAL module in ``firmware_py.hal``;
the simulator sets its state (where the wearer is, whether the strap is
whole, what the river holds) and the real agent code reads it through the
same board wiring as on a device. MicroPython subset: the VM tests use them.
"""

import struct

from firmware_py.agent.crc import crc16
from firmware_py.agent.position import Position
from firmware_py.modbus import READ_HOLDING_REGISTERS, with_crc
from firmware_py.nmea import checksum

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass


class MemoryFlash:
    """Flash storage in memory, counting writes per location to show the wear."""

    def __init__(self) -> None:
        self.files: dict[str, bytearray] = {}
        self.writes = 0
        self.writes_at: dict[Any, int] = {}

    def read(self, name: str, offset: int, size: int) -> bytes:
        data = self.files.get(name)
        if data is None:
            return b""
        return bytes(data[offset : offset + size])

    def write(self, name: str, offset: int, data: bytes) -> None:
        blob = self.files.get(name)
        if blob is None:
            blob = bytearray()
            self.files[name] = blob
        if len(blob) < offset:
            blob.extend(b"\xff" * (offset - len(blob)))
        blob[offset : offset + len(data)] = data
        self.writes += 1
        key = (name, offset)
        self.writes_at[key] = self.writes_at.get(key, 0) + 1

    def size(self, name: str) -> int:
        data = self.files.get(name)
        return 0 if data is None else len(data)

    def max_writes_at_one_place(self, name: str) -> int:
        """The most writes any one offset of ``name`` took (the wear hot spot)."""
        best = 0
        for key in self.writes_at:
            if key[0] == name and self.writes_at[key] > best:
                best = self.writes_at[key]
        return best


def civil_from_days(days: int) -> "tuple[int, int, int]":
    """(year, month, day) of a day count since 1970-01-01 (H. Hinnant's algorithm)."""
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if month <= 2 else 0), month, day


def _angle(value_e7: int, degree_digits: int, positive: str, negative: str) -> "tuple[str, str]":
    hemisphere = positive if value_e7 >= 0 else negative
    value = abs(value_e7)
    degrees = value // 10000000
    minutes_e5 = ((value % 10000000) * 60 + 50) // 100
    if minutes_e5 >= 6000000:
        degrees += 1
        minutes_e5 -= 6000000
    head = ("%02d" if degree_digits == 2 else "%03d") % degrees
    text = "%s%02d.%05d" % (head, minutes_e5 // 100000, minutes_e5 % 100000)
    return text, hemisphere


def sentence(body: str) -> str:
    """``$body*CS`` with its checksum."""
    return "$%s*%02X" % (body, checksum(body))


def gnss_sentences(
    ts: int, lat_e7: int, lon_e7: int, speed_cm_s: int, hdop_e1: int, sky: bool = True
) -> "list[str]":
    """A GGA and an RMC sentence, as a receiver prints them, for one second."""
    seconds = ts % 86400
    hhmmss = "%02d%02d%02d.00" % (seconds // 3600, seconds // 60 % 60, seconds % 60)
    year, month, day = civil_from_days(ts // 86400)
    date = "%02d%02d%02d" % (day, month, year % 100)
    if not sky:
        return [
            sentence("GNGGA,%s,,,,,0,00,99.9,,M,,M,," % hhmmss),
            sentence("GNRMC,%s,V,,,,,,,%s,,,N" % (hhmmss, date)),
        ]
    lat, ns = _angle(lat_e7, 2, "N", "S")
    lon, ew = _angle(lon_e7, 3, "E", "W")
    knots_e3 = speed_cm_s * 10000000 // 514444
    hdop = "%d.%d" % (hdop_e1 // 10, hdop_e1 % 10)
    return [
        sentence("GNGGA,%s,%s,%s,%s,%s,1,09,%s,4.0,M,8.5,M,," % (hhmmss, lat, ns, lon, ew, hdop)),
        sentence(
            "GNRMC,%s,A,%s,%s,%s,%s,%d.%03d,0.0,%s,,,A"
            % (hhmmss, lat, ns, lon, ew, knots_e3 // 1000, knots_e3 % 1000, date)
        ),
    ]


class GnssTwin:
    """A GNSS receiver on a UART: prints the sentences for where the scenario puts it."""

    def __init__(self) -> None:
        self.now = 0
        self.lat_e7 = 0
        self.lon_e7 = 0
        self.speed_cm_s = 0
        self.hdop_e1 = 9
        self.sky = True  # False indoors: no GNSS fix
        self.lines_read = 0

    def lines(self) -> "list[str]":
        out = gnss_sentences(
            self.now, self.lat_e7, self.lon_e7, self.speed_cm_s, self.hdop_e1, self.sky
        )
        self.lines_read += len(out)
        return out


class StrapTwin:
    """The strap-integrity loop on a GPIO: closed while the strap is whole and shut."""

    def __init__(self) -> None:
        self.is_closed = True

    def closed(self) -> bool:
        return self.is_closed


class ButtonTwin:
    """The button: (pressed, held for how many ms)."""

    def __init__(self) -> None:
        self.pressed = False
        self.held_ms = 0

    def state(self) -> "tuple[bool, int]":
        return self.pressed, self.held_ms


class BatteryTwin:
    """The battery on an ADC: percent, millivolts, charging."""

    def __init__(self, pct: int = 100, charging: bool = False) -> None:
        self.pct = pct
        self.charging = charging

    def read(self) -> "tuple[int, int, bool]":
        # A Li-ion cell: 3.3 V empty to 4.2 V full, near enough linear for a twin.
        return self.pct, 3300 + 9 * self.pct, self.charging


class VibrationTwin:
    """The vibration motor: remembers every pulse."""

    def __init__(self) -> None:
        self.pulses: list[int] = []

    def pulse(self, ms: int) -> None:
        self.pulses.append(ms)


class ModemTwin:
    """The cellular modem: signal, the board's free memory, and a coarse cell / Wi-Fi position."""

    def __init__(self) -> None:
        self.signal = -85
        self.free_bytes = 60000
        self.coarse: "Any" = None  # a Position, or None when there is not even a cell

    def signal_dbm(self) -> int:
        return self.signal

    def free_memory(self) -> int:
        return self.free_bytes

    def coarse_position(self) -> "Any":
        return self.coarse

    def set_coarse(self, lat_e7: int, lon_e7: int, accuracy_m: int, source: int) -> None:
        self.coarse = Position(lat_e7, lon_e7, accuracy_m, source)


class SondeTwin:
    """A multi-parameter sonde answering Modbus RTU on an RS-485 line.

    ``registers`` is what it shows; ``silent`` makes it not answer; ``garble``
    spoils the CRC of that many next answers (a noisy line).
    """

    def __init__(self, unit: int = 1, size: int = 64) -> None:
        self.unit = unit
        self.registers = [0] * size
        self.silent = False
        self.garble = 0
        self.requests = 0
        self._pending = b""

    def write(self, frame: bytes) -> None:
        self.requests += 1
        self._pending = b"" if self.silent else self._answer(bytes(frame))

    def read(self) -> bytes:
        data = self._pending
        self._pending = b""
        return data

    def _answer(self, frame: bytes) -> bytes:
        if len(frame) != 8 or crc16(frame[:-2]) != frame[-2] | frame[-1] << 8:
            return b""  # a slave ignores a damaged request
        unit, function, start, count = struct.unpack(">BBHH", frame[:6])
        if unit != self.unit:
            return b""
        if function != READ_HOLDING_REGISTERS:
            return with_crc(bytes((unit, function | 0x80, 1)))
        if start + count > len(self.registers):
            return with_crc(bytes((unit, function | 0x80, 2)))
        body = bytes((unit, function, 2 * count))
        for value in self.registers[start : start + count]:
            body += struct.pack(">H", value)
        answer = with_crc(body)
        if self.garble:
            self.garble -= 1
            answer = answer[:-1] + bytes((answer[-1] ^ 0xFF,))
        return answer


class MillisTwin:
    """Monotonic milliseconds that move only when slept on (the sonde exchange's clock)."""

    def __init__(self) -> None:
        self.now_ms = 0

    def ms(self) -> int:
        return self.now_ms

    def sleep_ms(self, ms: int) -> None:
        self.now_ms += ms


class PowerTwin(BatteryTwin):
    """A station's solar-charged battery."""

    def __init__(self) -> None:
        super().__init__(90, True)
