"""NMEA 0183 sentences from a GNSS receiver: GGA and RMC, checksum checked.

Everything is integer arithmetic: MicroPython on an ESP32 has single-precision
floats, which would blur a position by metres. Latitude and longitude come
out in 1e-7 degrees (the contract's unit), speed in cm/s, time in seconds
since 1970. Accuracy is estimated from HDOP times a user range error of 5 m
(a usual figure for a consumer receiver), since GGA gives no metres.
"""

UERE_M = 5  # metres of range error per unit of HDOP
KNOT_CM_S_E4 = 514444  # 1 knot = 51.4444 cm/s, times 1e4
MAX_SPEED_CM_S = 10000  # the contract's bound on speed


class NmeaError(ValueError):
    """A sentence that is damaged (checksum, framing) or does not parse."""


class GgaFix:
    """Position fix data: where, how well, how many satellites. ``quality`` 0 is no fix."""

    def __init__(
        self,
        time_s: int,
        lat_e7: int,
        lon_e7: int,
        quality: int,
        satellites: int,
        hdop_e1: int,
    ) -> None:
        self.time_s = time_s  # seconds into the UTC day
        self.lat_e7 = lat_e7
        self.lon_e7 = lon_e7
        self.quality = quality
        self.satellites = satellites
        self.hdop_e1 = hdop_e1

    @property
    def accuracy_m(self) -> int:
        return max(1, (self.hdop_e1 * UERE_M + 5) // 10)


class RmcFix:
    """Recommended minimum data: valid flag, position, speed and the UTC date and time."""

    def __init__(self, ts: int, valid: bool, lat_e7: int, lon_e7: int, speed_cm_s: int) -> None:
        self.ts = ts
        self.valid = valid
        self.lat_e7 = lat_e7
        self.lon_e7 = lon_e7
        self.speed_cm_s = speed_cm_s


def checksum(body: str) -> int:
    """XOR of the characters between ``$`` and ``*``."""
    value = 0
    for char in body:
        value ^= ord(char)
    return value


def split(line: "str | bytes | bytearray") -> "list[str]":
    """Check framing and checksum of one sentence; return its fields (talker+type first)."""
    if isinstance(line, (bytes, bytearray)):
        try:
            line = bytes(line).decode("ascii")
        except UnicodeError:
            raise NmeaError("not ASCII")
    line = line.strip()
    if not line.startswith("$"):
        raise NmeaError("no '$' at the start")
    star = line.rfind("*")
    if star < 0 or len(line) != star + 3:
        raise NmeaError("no checksum")
    body = line[1:star]
    try:
        expected = int(line[star + 1 :], 16)
    except ValueError:
        raise NmeaError("checksum is not hex")
    if checksum(body) != expected:
        raise NmeaError("checksum mismatch")
    return body.split(",")


def _decimal(text: str, places: int) -> int:
    """'12.345' with places=2 -> 1234 (truncated), exactly, without floats."""
    if not text:
        raise NmeaError("empty number")
    negative = text.startswith("-")
    if negative:
        text = text[1:]
    cut = text.find(".")
    whole = text if cut < 0 else text[:cut]
    frac = "" if cut < 0 else text[cut + 1 :]
    frac = (frac + "0" * places)[:places]
    digits = whole + frac
    if not digits or not digits.isdigit():
        raise NmeaError("not a number: %r" % text)
    value = int(digits)
    return -value if negative else value


def _angle_e7(text: str, hemisphere: str, degree_digits: int) -> int:
    """ddmm.mmmm / dddmm.mmmm and N/S/E/W -> 1e-7 degrees, rounded."""
    if len(text) < degree_digits + 2:
        raise NmeaError("short coordinate %r" % text)
    degrees = int(text[:degree_digits])
    minutes_e5 = _decimal(text[degree_digits:], 5)
    if minutes_e5 >= 6000000:
        raise NmeaError("minutes over 60 in %r" % text)
    value = degrees * 10000000 + (minutes_e5 * 100 + 30) // 60
    if hemisphere in ("S", "W"):
        return -value
    if hemisphere not in ("N", "E"):
        raise NmeaError("bad hemisphere %r" % hemisphere)
    return value


def _time_of_day(text: str) -> int:
    if len(text) < 6 or not text[:6].isdigit():
        raise NmeaError("bad time %r" % text)
    hours, minutes, seconds = int(text[0:2]), int(text[2:4]), int(text[4:6])
    if hours > 23 or minutes > 59 or seconds > 60:
        raise NmeaError("bad time %r" % text)
    return hours * 3600 + minutes * 60 + seconds


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= 1 if month <= 2 else 0
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_gga(fields: "list[str]") -> "GgaFix":
    if len(fields) < 9:
        raise NmeaError("GGA has %d fields" % len(fields))
    quality = int(fields[6]) if fields[6].isdigit() else 0
    if quality == 0 or not fields[2]:
        return GgaFix(_time_of_day(fields[1]) if fields[1] else 0, 0, 0, 0, 0, 0)
    return GgaFix(
        _time_of_day(fields[1]),
        _angle_e7(fields[2], fields[3], 2),
        _angle_e7(fields[4], fields[5], 3),
        quality,
        int(fields[7]) if fields[7].isdigit() else 0,
        _decimal(fields[8], 1) if fields[8] else 999,
    )


def parse_rmc(fields: "list[str]") -> "RmcFix":
    if len(fields) < 10:
        raise NmeaError("RMC has %d fields" % len(fields))
    valid = fields[2] == "A"
    date = fields[9]
    if len(date) != 6 or not date.isdigit():
        raise NmeaError("bad date %r" % date)
    day, month, year = int(date[0:2]), int(date[2:4]), 2000 + int(date[4:6])
    ts = days_from_civil(year, month, day) * 86400 + _time_of_day(fields[1])
    if not valid:
        return RmcFix(ts, False, 0, 0, 0)
    speed = 0
    if fields[7]:
        speed = min(MAX_SPEED_CM_S, _decimal(fields[7], 3) * KNOT_CM_S_E4 // 10000000)
    return RmcFix(
        ts,
        True,
        _angle_e7(fields[3], fields[4], 2),
        _angle_e7(fields[5], fields[6], 3),
        speed,
    )


def parse(line: "str | bytes | bytearray") -> "GgaFix | RmcFix | None":
    """Parse one sentence: a GgaFix, an RmcFix, or None for another sentence type."""
    fields = split(line)
    kind = fields[0][2:] if len(fields[0]) == 5 else ""
    if kind == "GGA":
        return parse_gga(fields)
    if kind == "RMC":
        return parse_rmc(fields)
    return None


class GnssFix:
    """A usable fix for the agent: position, accuracy, speed, and the UTC time it was taken."""

    def __init__(self, ts: int, lat_e7: int, lon_e7: int, accuracy_m: int, speed_cm_s: int) -> None:
        self.ts = ts
        self.lat_e7 = lat_e7
        self.lon_e7 = lon_e7
        self.accuracy_m = accuracy_m
        self.speed_cm_s = speed_cm_s


class FixAssembler:
    """Joins a GGA (accuracy) and an RMC (date, speed) of the same second into a GnssFix."""

    def __init__(self) -> None:
        self._gga: "GgaFix | None" = None
        self._rmc: "RmcFix | None" = None
        self.errors = 0

    def feed(self, line: "str | bytes | bytearray") -> "GnssFix | None":
        """Take one sentence; return a GnssFix when a matching pair is complete and valid."""
        try:
            sentence = parse(line)
        except (NmeaError, ValueError):
            self.errors += 1
            return None
        if isinstance(sentence, GgaFix):
            self._gga = sentence
        elif isinstance(sentence, RmcFix):
            self._rmc = sentence
        else:
            return None
        gga, rmc = self._gga, self._rmc
        if gga is None or rmc is None or gga.time_s != rmc.ts % 86400:
            return None
        self._gga = None
        self._rmc = None
        if gga.quality == 0 or not rmc.valid:
            return None
        return GnssFix(rmc.ts, gga.lat_e7, gga.lon_e7, gga.accuracy_m, rmc.speed_cm_s)
