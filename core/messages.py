"""Typed messages of wire contract v1 and their wire maps (MicroPython subset).

Each class holds the wire's scaled integers exactly (so a message survives
encode/decode unchanged) and offers the physical values as properties. A
class knows how to build its wire map (``to_wire``) and how to check one
(``from_wire``); ``core.codec`` and ``core.receiver`` add the envelope checks
and the bytes.
"""

from core import contract as c
from core.errors import (
    INCONSISTENT,
    MISSING_KEY,
    OUT_OF_RANGE,
    UNKNOWN_KEY,
    WRONG_TYPE,
    DecodeError,
)
from core.fields import (
    BOOL,
    INT,
    TEXT,
    check_array,
    check_int,
    check_map,
    read_fields,
    type_name,
    where,
)

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

U32 = c.UINT32_MAX
BOOT = (c.K_BOOT, "boot", INT, True, 1, U32)
SEQ = (c.K_SEQ, "seq", INT, True, 0, U32)
TS = (c.K_TS, "ts", INT, True, c.TS_MIN, c.TS_MAX)
TS_OPTIONAL = (c.K_TS, "ts", INT, False, c.TS_MIN, c.TS_MAX)
RECORD_ENVELOPE = (BOOT, SEQ, TS)


class Message:
    """Base of every message kind. Equal when their fields are equal."""

    KIND = 0
    FIELDS: tuple[Any, ...] = ()  # flat fields, read and written generically
    NESTED: tuple[Any, ...] = ()  # keys of nested parts, handled by the subclass

    def as_dict(self) -> dict[Any, Any]:
        """The fields by name, JSON-friendly (the test vectors' "decoded")."""
        out: dict[Any, Any] = {"kind": c.KIND_NAMES[self.KIND]}
        for spec in self.FIELDS:
            out[spec[1]] = getattr(self, spec[1])
        self._nested_as_dict(out)
        return out

    def to_wire(self) -> dict[Any, Any]:
        """The wire map with integer keys, before CBOR encoding."""
        wire: dict[Any, Any] = {c.K_VERSION: c.SCHEMA_VERSION, c.K_KIND: self.KIND}
        for spec in self.FIELDS:
            value = getattr(self, spec[1])
            if value is not None:
                wire[spec[0]] = value
        self._nested_to_wire(wire)
        return wire

    @classmethod
    def from_wire(cls, wire: dict[Any, Any]) -> "Any":
        """Check a wire map of this kind and build the message, or raise DecodeError."""
        known = [c.K_VERSION, c.K_KIND] + [spec[0] for spec in cls.FIELDS] + list(cls.NESTED)
        for key in wire:
            if key not in known:
                raise DecodeError(
                    UNKNOWN_KEY, "key %r is not part of %s v1" % (key, c.KIND_NAMES[cls.KIND])
                )
        values = read_fields(wire, cls.FIELDS)
        return cls._build(values, wire)

    @classmethod
    def _build(cls, values: dict[Any, Any], wire: dict[Any, Any]) -> "Any":
        return cls(**values)

    def _nested_as_dict(self, out: dict[Any, Any]) -> None:
        pass

    def _nested_to_wire(self, wire: dict[Any, Any]) -> None:
        pass

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return "%s(%r)" % (type(self).__name__, self.as_dict())


class LocationFix(Message):
    """Where a bracelet was: WGS-84 in 1e-7 degrees, accuracy in metres."""

    KIND = c.LOCATION_FIX
    FIELDS = RECORD_ENVELOPE + (
        (10, "lat_e7", INT, True, -900000000, 900000000),
        (11, "lon_e7", INT, True, -1800000000, 1800000000),
        (12, "accuracy_m", INT, True, 0, 65535),
        (13, "source", INT, True, c.FIX_GNSS, c.FIX_WIFI),
        (14, "speed_cm_s", INT, False, 0, 10000),
    )

    def __init__(
        self,
        boot: int,
        seq: int,
        ts: int,
        lat_e7: int,
        lon_e7: int,
        accuracy_m: int,
        source: int,
        speed_cm_s: "int | None" = None,
    ) -> None:
        self.boot = boot
        self.seq = seq
        self.ts = ts
        self.lat_e7 = lat_e7
        self.lon_e7 = lon_e7
        self.accuracy_m = accuracy_m
        self.source = source
        self.speed_cm_s = speed_cm_s

    @property
    def lat(self) -> float:
        return self.lat_e7 / 1e7

    @property
    def lon(self) -> float:
        return self.lon_e7 / 1e7


class Health(Message):
    """A device's own state: battery, power, radio, memory and buffer counters."""

    KIND = c.HEALTH
    FIELDS = RECORD_ENVELOPE + (
        (10, "battery_pct", INT, True, 0, 100),
        (11, "charging", BOOL, True, 0, 0),
        (12, "signal_dbm", INT, False, -150, 0),
        (13, "uptime_s", INT, False, 0, U32),
        (14, "free_mem_bytes", INT, False, 0, U32),
        (15, "buffered", INT, False, 0, U32),
        (16, "dropped", INT, False, 0, U32),
        (17, "battery_mv", INT, False, 0, 20000),
    )

    def __init__(
        self,
        boot: int,
        seq: int,
        ts: int,
        battery_pct: int,
        charging: bool,
        signal_dbm: "int | None" = None,
        uptime_s: "int | None" = None,
        free_mem_bytes: "int | None" = None,
        buffered: "int | None" = None,
        dropped: "int | None" = None,
        battery_mv: "int | None" = None,
    ) -> None:
        self.boot = boot
        self.seq = seq
        self.ts = ts
        self.battery_pct = battery_pct
        self.charging = charging
        self.signal_dbm = signal_dbm
        self.uptime_s = uptime_s
        self.free_mem_bytes = free_mem_bytes
        self.buffered = buffered
        self.dropped = dropped
        self.battery_mv = battery_mv


class EventFix:
    """The last known position attached to an event: [lat_e7, lon_e7, accuracy_m, source]."""

    def __init__(self, lat_e7: int, lon_e7: int, accuracy_m: int, source: int) -> None:
        self.lat_e7 = lat_e7
        self.lon_e7 = lon_e7
        self.accuracy_m = accuracy_m
        self.source = source

    def as_list(self) -> list[Any]:
        return [self.lat_e7, self.lon_e7, self.accuracy_m, self.source]

    @classmethod
    def from_wire(cls, value: "Any") -> "EventFix":
        items = check_array(value, "fix", Event.K_FIX)
        if len(items) != 4:
            raise DecodeError(
                OUT_OF_RANGE, "fix (key 12) must hold 4 items, holds %d" % len(items), "fix"
            )
        specs = LocationFix.FIELDS[3:7]
        checked = [
            check_int(items[i], specs[i][1], None, specs[i][4], specs[i][5]) for i in range(4)
        ]
        return cls(checked[0], checked[1], checked[2], checked[3])


class Event(Message):
    """Something that happened on a bracelet and is sent at once."""

    KIND = c.EVENT
    K_FIX = 12
    FIELDS = RECORD_ENVELOPE + (
        (10, "code", INT, True, c.EV_STRAP_OPENED, c.EV_ZONE_ENTERED),
        (11, "battery_pct", INT, False, 0, 100),
        (c.K_COMMAND_ID, "command_id", INT, False, 1, U32),
        (13, "roll_call_result", INT, False, c.ROLL_CALL_ANSWERED, c.ROLL_CALL_MISSED),
        (14, "response_s", INT, False, 0, 3600),
        (15, "zone_id", INT, False, 1, U32),
    )
    NESTED = (K_FIX,)

    def __init__(
        self,
        boot: int,
        seq: int,
        ts: int,
        code: int,
        battery_pct: "int | None" = None,
        command_id: "int | None" = None,
        roll_call_result: "int | None" = None,
        response_s: "int | None" = None,
        fix: "EventFix | None" = None,
        zone_id: "int | None" = None,
    ) -> None:
        self.boot = boot
        self.seq = seq
        self.ts = ts
        self.code = code
        self.battery_pct = battery_pct
        self.command_id = command_id
        self.roll_call_result = roll_call_result
        self.response_s = response_s
        self.fix = fix
        self.zone_id = zone_id  # zone events only: the config zone crossed

    @property
    def name(self) -> str:
        return c.EVENT_NAMES[self.code]

    def _nested_as_dict(self, out: dict[Any, Any]) -> None:
        out["fix"] = None if self.fix is None else self.fix.as_list()

    def _nested_to_wire(self, wire: dict[Any, Any]) -> None:
        if self.fix is not None:
            wire[self.K_FIX] = self.fix.as_list()

    @classmethod
    def _build(cls, values: dict[Any, Any], wire: dict[Any, Any]) -> "Any":
        roll_call_fields = ("command_id", "roll_call_result")
        if values["code"] == c.EV_ROLL_CALL_RESPONSE:
            for name in roll_call_fields:
                if values[name] is None:
                    raise DecodeError(MISSING_KEY, "a roll-call response needs %s" % name, name)
        else:
            for name in roll_call_fields + ("response_s",):
                if values[name] is not None:
                    raise DecodeError(
                        INCONSISTENT, "%s belongs to roll-call responses only" % name, name
                    )
        if values["code"] in c.EV_ZONE_CODES:
            if values["zone_id"] is None:
                raise DecodeError(MISSING_KEY, "a zone event needs zone_id", "zone_id")
        elif values["zone_id"] is not None:
            raise DecodeError(INCONSISTENT, "zone_id belongs to zone events only", "zone_id")
        if cls.K_FIX in wire:
            values["fix"] = EventFix.from_wire(wire[cls.K_FIX])
        return cls(**values)


class WaterSample(Message):
    """One sampling of a river sonde: values by parameter id, statuses of the abnormal ones.

    ``values`` maps a parameter id to its scaled integer (see
    ``contract.WATER_PARAMETERS``); ``statuses`` maps a parameter id to its
    status when that is not normal. A parameter in maintenance or fault may
    have a status and no value; any other status needs a value.
    """

    KIND = c.WATER_SAMPLE
    K_VALUES = 10
    K_STATUSES = 11
    FIELDS = RECORD_ENVELOPE
    NESTED = (K_VALUES, K_STATUSES)

    def __init__(
        self,
        boot: int,
        seq: int,
        ts: int,
        values: dict[Any, Any],
        statuses: "dict[Any, Any] | None" = None,
    ) -> None:
        self.boot = boot
        self.seq = seq
        self.ts = ts
        self.values = values
        self.statuses = statuses if statuses is not None else {}

    def value_of(self, name: str) -> "float | None":
        """The physical value of a parameter by name, or None when absent."""
        pid = c.WATER_PARAMETER_IDS[name]
        raw = self.values.get(pid)
        if raw is None:
            return None
        return float(raw) / c.WATER_PARAMETERS[pid][2]

    def status_of(self, name: str) -> int:
        return int(self.statuses.get(c.WATER_PARAMETER_IDS[name], c.VALUE_NORMAL))

    def _nested_as_dict(self, out: dict[Any, Any]) -> None:
        out["values"] = {c.WATER_PARAMETERS[p][0]: self.values[p] for p in sorted(self.values)}
        out["statuses"] = {
            c.WATER_PARAMETERS[p][0]: self.statuses[p] for p in sorted(self.statuses)
        }

    def _nested_to_wire(self, wire: dict[Any, Any]) -> None:
        if self.values:
            wire[self.K_VALUES] = dict(self.values)
        if self.statuses:
            wire[self.K_STATUSES] = dict(self.statuses)

    @classmethod
    def _build(cls, values: dict[Any, Any], wire: dict[Any, Any]) -> "Any":
        readings: dict[Any, Any] = {}
        statuses: dict[Any, Any] = {}
        if cls.K_VALUES in wire:
            for pid, raw in check_map(wire[cls.K_VALUES], "values", cls.K_VALUES).items():
                name = _water_parameter(pid)
                _, _, scale, low, high = c.WATER_PARAMETERS[pid]
                readings[pid] = check_int(raw, name, None, low * scale, high * scale)
        if cls.K_STATUSES in wire:
            for pid, status in check_map(wire[cls.K_STATUSES], "statuses", cls.K_STATUSES).items():
                name = _water_parameter(pid)
                statuses[pid] = check_int(
                    status, name + " status", None, c.VALUE_CALIBRATING, c.VALUE_UNDER_RANGE
                )
                if pid not in readings and status not in c.VALUE_STATUSES_WITHOUT_VALUE:
                    raise DecodeError(
                        MISSING_KEY,
                        "%s is %s but has no value" % (name, c.VALUE_STATUS_NAMES[status]),
                        name,
                    )
        if not readings and not statuses:
            raise DecodeError(MISSING_KEY, "a water sample needs at least one parameter", "values")
        return cls(values["boot"], values["seq"], values["ts"], readings, statuses)


def _water_parameter(pid: "Any") -> str:
    if isinstance(pid, bool) or not isinstance(pid, int) or pid not in c.WATER_PARAMETERS:
        raise DecodeError(UNKNOWN_KEY, "water parameter %r is not part of v1" % (pid,), "values")
    return c.WATER_PARAMETERS[pid][0]


class Ack(Message):
    """A device's answer to a config version or a command id (exactly one of them)."""

    KIND = c.ACK
    FIELDS = RECORD_ENVELOPE + (
        (c.K_CONFIG_VERSION, "config_version", INT, False, 1, U32),
        (c.K_COMMAND_ID, "command_id", INT, False, 1, U32),
        (10, "result", INT, True, c.ACK_DONE, c.ACK_DUPLICATE),
        (11, "reason", TEXT, False, 1, c.MAX_TEXT),
    )

    def __init__(
        self,
        boot: int,
        seq: int,
        ts: int,
        result: int,
        config_version: "int | None" = None,
        command_id: "int | None" = None,
        reason: "str | None" = None,
    ) -> None:
        self.boot = boot
        self.seq = seq
        self.ts = ts
        self.result = result
        self.config_version = config_version
        self.command_id = command_id
        self.reason = reason

    @classmethod
    def _build(cls, values: dict[Any, Any], wire: dict[Any, Any]) -> "Any":
        if (values["config_version"] is None) == (values["command_id"] is None):
            raise DecodeError(
                INCONSISTENT,
                "an ack names exactly one of config_version and command_id",
                "command_id",
            )
        return cls(**values)


class Status(Message):
    """Retained presence: ``online`` at connect, ``offline`` as the broker's last will."""

    KIND = c.STATUS
    FIELDS = (
        BOOT,
        TS_OPTIONAL,
        (c.K_CONFIG_VERSION, "config_version", INT, False, 1, U32),
        (10, "state", INT, True, c.OFFLINE, c.ONLINE),
        (11, "firmware", TEXT, False, 1, c.MAX_TEXT),
    )

    def __init__(
        self,
        boot: int,
        state: int,
        ts: "int | None" = None,
        config_version: "int | None" = None,
        firmware: "str | None" = None,
    ) -> None:
        self.boot = boot
        self.state = state
        self.ts = ts
        self.config_version = config_version
        self.firmware = firmware

    @property
    def online(self) -> bool:
        return self.state == c.ONLINE


LAT_E7 = ("lat_e7", -900000000, 900000000)
LON_E7 = ("lon_e7", -1800000000, 1800000000)
RADIUS_M = ("radius_m", 1, c.MAX_ZONE_RADIUS_M)
WINDOW = (
    ("days_mask", 1, 127),
    ("start_min", 0, c.MINUTES_PER_DAY - 1),
    ("end_min", 0, c.MINUTES_PER_DAY),
)


def _ints(items: "list[Any]", specs: "tuple[Any, ...]") -> "list[int]":
    """Check each item against its (name, low, high), cycling through the specs."""
    out = []
    for i in range(len(items)):
        name, low, high = specs[i % len(specs)]
        out.append(check_int(items[i], name, None, low, high))
    return out


class ConfigZone:
    """One zone of a config: where a supervised person must be, or must not be, and when.

    ``rule`` is ``contract.ZONE_INCLUSION`` (must stay inside) or ``ZONE_EXCLUSION``
    (must stay out). The shape is exactly one of ``circle``, ``(lat_e7, lon_e7,
    radius_m)``, and ``polygon``, a list of 3..64 ``(lat_e7, lon_e7)`` vertices (WGS-84,
    1e-7 degrees; the last joins the first). ``windows`` are the weekly times it is in
    force, ``(days_mask, start_min, end_min)`` in the config's local time
    (``utc_offset_min``): bit 0 of days_mask Monday .. bit 6 Sunday, minutes of the day,
    an end at or before the start running past midnight; no windows: always in force.
    On the wire a zone is a map (keys ``K_*``); the checks are in ``from_wire``.
    """

    K_ID = 1
    K_RULE = 2
    K_CIRCLE = 3
    K_POLYGON = 4
    K_WINDOWS = 5
    FIELDS = (
        (K_ID, "zone_id", INT, True, 1, U32),
        (K_RULE, "rule", INT, True, c.ZONE_INCLUSION, c.ZONE_EXCLUSION),
    )
    KEYS = (K_ID, K_RULE, K_CIRCLE, K_POLYGON, K_WINDOWS)

    def __init__(
        self,
        zone_id: int,
        rule: int,
        circle: "tuple[int, int, int] | None" = None,
        polygon: "list[tuple[int, int]] | None" = None,
        windows: "list[tuple[int, int, int]] | None" = None,
    ) -> None:
        self.zone_id = zone_id
        self.rule = rule
        self.circle = circle
        self.polygon = polygon
        self.windows = windows if windows is not None else []

    @property
    def inclusion(self) -> bool:
        return self.rule == c.ZONE_INCLUSION

    @property
    def vertex_count(self) -> int:
        """The polygon's vertices (0 for a circle): what the config's total bounds."""
        return 0 if self.polygon is None else len(self.polygon)

    def as_dict(self) -> dict[Any, Any]:
        """The zone by name, JSON-friendly (lists, not tuples)."""
        return {
            "zone_id": self.zone_id,
            "rule": self.rule,
            "circle": None if self.circle is None else list(self.circle),
            "polygon": None if self.polygon is None else [list(v) for v in self.polygon],
            "windows": [list(w) for w in self.windows],
        }

    def to_wire(self) -> dict[Any, Any]:
        wire: dict[Any, Any] = {self.K_ID: self.zone_id, self.K_RULE: self.rule}
        if self.circle is not None:
            wire[self.K_CIRCLE] = list(self.circle)
        if self.polygon is not None:
            flat = []
            for vertex in self.polygon:
                flat.append(vertex[0])
                flat.append(vertex[1])
            wire[self.K_POLYGON] = flat
        if self.windows:
            wire[self.K_WINDOWS] = [list(w) for w in self.windows]
        return wire

    @classmethod
    def from_wire(cls, value: "Any") -> "ConfigZone":
        """Check one zone's wire map and build it, or raise DecodeError."""
        if not isinstance(value, dict):
            raise DecodeError(
                WRONG_TYPE, "a zone must be a map, got %s" % type_name(value), "zones"
            )
        for key in value:
            if key not in cls.KEYS:
                raise DecodeError(UNKNOWN_KEY, "zone key %r is not part of v1" % (key,), "zones")
        values = read_fields(value, cls.FIELDS)
        if (cls.K_CIRCLE in value) == (cls.K_POLYGON in value):
            if cls.K_CIRCLE in value:
                raise DecodeError(
                    INCONSISTENT, "a zone is a circle or a polygon, not both", "shape"
                )
            raise DecodeError(
                MISSING_KEY, "a zone needs a circle (key 3) or a polygon (key 4)", "shape"
            )
        circle = None
        polygon = None
        if cls.K_CIRCLE in value:
            items = check_array(value[cls.K_CIRCLE], "circle", cls.K_CIRCLE)
            if len(items) != 3:
                raise DecodeError(
                    OUT_OF_RANGE,
                    "circle (key 3) must hold [lat_e7, lon_e7, radius_m], holds %d items"
                    % len(items),
                    "circle",
                )
            lat, lon, radius = _ints(items, (LAT_E7, LON_E7, RADIUS_M))
            circle = (lat, lon, radius)
        else:
            items = check_array(value[cls.K_POLYGON], "polygon", cls.K_POLYGON)
            count = len(items) // 2
            if len(items) % 2 or count < c.MIN_ZONE_VERTICES or count > c.MAX_ZONE_VERTICES:
                raise DecodeError(
                    OUT_OF_RANGE,
                    "polygon (key 4) must hold %d..%d lat_e7, lon_e7 pairs, holds %d items"
                    % (c.MIN_ZONE_VERTICES, c.MAX_ZONE_VERTICES, len(items)),
                    "polygon",
                )
            flat = _ints(items, (LAT_E7, LON_E7))
            polygon = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
        windows = []
        if cls.K_WINDOWS in value:
            items = check_array(value[cls.K_WINDOWS], "windows", cls.K_WINDOWS)
            if not items or len(items) > c.MAX_ZONE_WINDOWS:
                raise DecodeError(
                    OUT_OF_RANGE,
                    "windows (key 5) holds %d windows, allowed 1..%d (none: leave it out)"
                    % (len(items), c.MAX_ZONE_WINDOWS),
                    "windows",
                )
            for item in items:
                window = check_array(item, "windows", cls.K_WINDOWS)
                if len(window) != 3:
                    raise DecodeError(
                        OUT_OF_RANGE,
                        "a window must hold [days_mask, start_min, end_min], holds %d items"
                        % len(window),
                        "windows",
                    )
                days, start, end = _ints(window, WINDOW)
                if start == end:
                    raise DecodeError(
                        INCONSISTENT,
                        "a window must not start and end at the same minute",
                        "end_min",
                    )
                windows.append((days, start, end))
        return cls(values["zone_id"], values["rule"], circle, polygon, windows)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConfigZone) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return "ConfigZone(%r)" % (self.as_dict(),)


class Config(Message):
    """Retained downlink config: a version, settings by id (see contract.CONFIG_SETTINGS)
    and, for a bracelet, its wearer's zones (``ConfigZone``; none: no zones)."""

    KIND = c.CONFIG
    K_SETTINGS = 10
    K_ZONES = 11
    FIELDS = ((c.K_CONFIG_VERSION, "version", INT, True, 1, U32), TS)
    NESTED = (K_SETTINGS, K_ZONES)

    def __init__(
        self,
        version: int,
        ts: int,
        settings: dict[Any, Any],
        zones: "list[ConfigZone] | None" = None,
    ) -> None:
        self.version = version
        self.ts = ts
        self.settings = settings
        self.zones = zones if zones is not None else []

    def setting(self, name: str, default: "int | None" = None) -> "int | None":
        for sid in self.settings:
            if c.CONFIG_SETTINGS[sid][0] == name:
                return int(self.settings[sid])
        return default

    def _nested_as_dict(self, out: dict[Any, Any]) -> None:
        out["settings"] = {c.CONFIG_SETTINGS[s][0]: self.settings[s] for s in sorted(self.settings)}
        out["zones"] = [zone.as_dict() for zone in self.zones]

    def _nested_to_wire(self, wire: dict[Any, Any]) -> None:
        wire[self.K_SETTINGS] = dict(self.settings)
        if self.zones:
            wire[self.K_ZONES] = [zone.to_wire() for zone in self.zones]

    @classmethod
    def _build(cls, values: dict[Any, Any], wire: dict[Any, Any]) -> "Any":
        if cls.K_SETTINGS not in wire:
            raise DecodeError(MISSING_KEY, "settings (key 10) is required", "settings")
        settings = {}
        for sid, value in check_map(wire[cls.K_SETTINGS], "settings", cls.K_SETTINGS).items():
            if isinstance(sid, bool) or not isinstance(sid, int) or sid not in c.CONFIG_SETTINGS:
                raise DecodeError(UNKNOWN_KEY, "setting %r is not part of v1" % (sid,), "settings")
            name, low, high = c.CONFIG_SETTINGS[sid]
            settings[sid] = check_int(value, name, None, low, high)
        zones = []
        if cls.K_ZONES in wire:
            zones = _zones_from_wire(wire[cls.K_ZONES])
        return cls(values["version"], values["ts"], settings, zones)


def _zones_from_wire(value: "Any") -> "list[ConfigZone]":
    items = check_array(value, "zones", Config.K_ZONES)
    if not items or len(items) > c.MAX_ZONES:
        raise DecodeError(
            OUT_OF_RANGE,
            "zones (key 11) holds %d zones, allowed 1..%d (none: leave it out)"
            % (len(items), c.MAX_ZONES),
            "zones",
        )
    zones: list[ConfigZone] = []
    vertices = 0
    for index in range(len(items)):
        try:
            zone = ConfigZone.from_wire(items[index])
        except DecodeError as exc:
            raise DecodeError(exc.code, "zone %d: %s" % (index, exc.detail), exc.field)
        for earlier in zones:
            if earlier.zone_id == zone.zone_id:
                raise DecodeError(
                    INCONSISTENT,
                    "zone %d: zone_id %d is taken by an earlier zone" % (index, zone.zone_id),
                    "zone_id",
                )
        vertices += zone.vertex_count
        zones.append(zone)
    if vertices > c.MAX_ZONE_VERTICES_TOTAL:
        raise DecodeError(
            OUT_OF_RANGE,
            "the polygons of zones (key 11) hold %d vertices, allowed at most %d"
            % (vertices, c.MAX_ZONE_VERTICES_TOTAL),
            "zones",
        )
    return zones


class Command(Message):
    """A downlink command with an id the device acknowledges once."""

    KIND = c.COMMAND
    K_ARGS = 11
    FIELDS = (
        (c.K_COMMAND_ID, "command_id", INT, True, 1, U32),
        TS,
        (10, "code", INT, True, c.CMD_ROLL_CALL, c.CMD_SAMPLE_NOW),
        (12, "expires_ts", INT, False, c.TS_MIN, c.TS_MAX),
    )
    NESTED = (K_ARGS,)

    def __init__(
        self,
        command_id: int,
        ts: int,
        code: int,
        args: "dict[Any, Any] | None" = None,
        expires_ts: "int | None" = None,
    ) -> None:
        self.command_id = command_id
        self.ts = ts
        self.code = code
        self.args = args if args is not None else {}
        self.expires_ts = expires_ts

    @property
    def name(self) -> str:
        return str(c.COMMANDS[self.code][0])

    def arg(self, name: str) -> "int | None":
        specs = c.COMMANDS[self.code][1]
        for aid in self.args:
            if specs[aid][0] == name:
                return int(self.args[aid])
        return None

    def _nested_as_dict(self, out: dict[Any, Any]) -> None:
        specs = c.COMMANDS[self.code][1]
        out["args"] = {specs[a][0]: self.args[a] for a in sorted(self.args)}

    def _nested_to_wire(self, wire: dict[Any, Any]) -> None:
        if self.args:
            wire[self.K_ARGS] = dict(self.args)

    @classmethod
    def _build(cls, values: dict[Any, Any], wire: dict[Any, Any]) -> "Any":
        name, specs, required = c.COMMANDS[values["code"]]
        args = {}
        if cls.K_ARGS in wire:
            for aid, value in check_map(wire[cls.K_ARGS], "args", cls.K_ARGS).items():
                if isinstance(aid, bool) or not isinstance(aid, int) or aid not in specs:
                    raise DecodeError(UNKNOWN_KEY, "%s takes no argument %r" % (name, aid), "args")
                arg_name, low, high = specs[aid]
                args[aid] = check_int(value, arg_name, None, low, high)
        for aid in required:
            if aid not in args:
                raise DecodeError(
                    MISSING_KEY, "%s needs argument %s" % (name, specs[aid][0]), specs[aid][0]
                )
        expires = values["expires_ts"]
        if expires is not None and expires < values["ts"]:
            raise DecodeError(INCONSISTENT, "expires_ts is before ts", "expires_ts")
        values["args"] = args
        return cls(**values)


class Batch(Message):
    """Records sent together after an outage, oldest first. Items keep their own (boot, seq)."""

    KIND = c.BATCH
    K_ITEMS = 10
    FIELDS = (BOOT, TS_OPTIONAL)
    NESTED = (K_ITEMS,)

    def __init__(self, boot: int, items: list[Any], ts: "int | None" = None) -> None:
        self.boot = boot
        self.items = items
        self.ts = ts

    def _nested_as_dict(self, out: dict[Any, Any]) -> None:
        out["items"] = [item.as_dict() for item in self.items]

    def _nested_to_wire(self, wire: dict[Any, Any]) -> None:
        wire[self.K_ITEMS] = [item.to_wire() for item in self.items]

    @classmethod
    def _build(cls, values: dict[Any, Any], wire: dict[Any, Any]) -> "Any":
        if cls.K_ITEMS not in wire:
            raise DecodeError(MISSING_KEY, "items (key 10) is required", "items")
        raw_items = check_array(wire[cls.K_ITEMS], "items", cls.K_ITEMS)
        if not raw_items or len(raw_items) > c.MAX_BATCH_ITEMS:
            raise DecodeError(
                OUT_OF_RANGE,
                "%s holds %d records, allowed 1..%d"
                % (where("items", cls.K_ITEMS), len(raw_items), c.MAX_BATCH_ITEMS),
                "items",
            )
        from core.codec import message_from_wire

        items = []
        for index in range(len(raw_items)):
            try:
                items.append(message_from_wire(raw_items[index], c.RECORD_KINDS))
            except DecodeError as exc:
                raise DecodeError(exc.code, "item %d: %s" % (index, exc.detail), exc.field)
        return cls(values["boot"], items, values["ts"])


MESSAGE_CLASSES = {
    cls.KIND: cls
    for cls in (LocationFix, Health, Event, WaterSample, Ack, Batch, Status, Config, Command)
}
