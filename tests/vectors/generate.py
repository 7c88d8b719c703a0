"""Writes the wire contract v1 test vectors (tests/vectors/v1/*.json).

The bytes come from cbor2's canonical encoder, not from core, and the expected
decoded values are written out by hand below, so the vectors check core's
encoder and both decoders against something independent of them.

Run: .venv/bin/python tests/vectors/generate.py   (then review the diff)
"""

import json
from pathlib import Path

import cbor2

OUT = Path(__file__).parent / "v1"
TS = 1795932000  # 2026-11-29T06:00:00Z
# A home block in Minhang, Shanghai: four vertices, lat_e7 and lon_e7 in turn.
HOME = [311124000, 1213812000, 311124000, 1213818500, 311119500, 1213818500, 311119500, 1213812000]

# (file, name, description, wire map, expected decoded value)
VALID = [
    (
        "location_fix",
        "fix_gnss_walking",
        "GNSS fix near People's Square, Shanghai, walking",
        {0: 1, 1: 1, 2: 17, 3: 40213, 4: TS, 10: 312304560, 11: 1214737120, 12: 8, 13: 1, 14: 134},
        {
            "kind": "location_fix",
            "boot": 17,
            "seq": 40213,
            "ts": TS,
            "lat_e7": 312304560,
            "lon_e7": 1214737120,
            "accuracy_m": 8,
            "source": 1,
            "speed_cm_s": 134,
        },
    ),
    (
        "location_fix",
        "fix_cell_no_speed",
        "cell-tower fix indoors, no speed known",
        {0: 1, 1: 1, 2: 3, 3: 0, 4: TS + 60, 10: 311220050, 11: 1213801400, 12: 350, 13: 2},
        {
            "kind": "location_fix",
            "boot": 3,
            "seq": 0,
            "ts": TS + 60,
            "lat_e7": 311220050,
            "lon_e7": 1213801400,
            "accuracy_m": 350,
            "source": 2,
            "speed_cm_s": None,
        },
    ),
    (
        "location_fix",
        "fix_largest",
        "every field at its widest encoding: the largest fix possible",
        {
            0: 1,
            1: 1,
            2: 4294967295,
            3: 4294967295,
            4: 4102444800,
            10: -900000000,
            11: -1800000000,
            12: 65535,
            13: 3,
            14: 10000,
        },
        {
            "kind": "location_fix",
            "boot": 4294967295,
            "seq": 4294967295,
            "ts": 4102444800,
            "lat_e7": -900000000,
            "lon_e7": -1800000000,
            "accuracy_m": 65535,
            "source": 3,
            "speed_cm_s": 10000,
        },
    ),
    (
        "health",
        "health_bracelet",
        "bracelet health report with buffer counters",
        {
            0: 1,
            1: 2,
            2: 17,
            3: 40214,
            4: TS + 5,
            10: 76,
            11: False,
            12: -87,
            13: 86400,
            14: 61440,
            15: 0,
            16: 0,
            17: 3912,
        },
        {
            "kind": "health",
            "boot": 17,
            "seq": 40214,
            "ts": TS + 5,
            "battery_pct": 76,
            "charging": False,
            "signal_dbm": -87,
            "uptime_s": 86400,
            "free_mem_bytes": 61440,
            "buffered": 0,
            "dropped": 0,
            "battery_mv": 3912,
        },
    ),
    (
        "health",
        "health_minimal",
        "only the required fields, while charging",
        {0: 1, 1: 2, 2: 1, 3: 9, 4: TS, 10: 100, 11: True},
        {
            "kind": "health",
            "boot": 1,
            "seq": 9,
            "ts": TS,
            "battery_pct": 100,
            "charging": True,
            "signal_dbm": None,
            "uptime_s": None,
            "free_mem_bytes": None,
            "buffered": None,
            "dropped": None,
            "battery_mv": None,
        },
    ),
    (
        "event",
        "event_strap_opened",
        "strap circuit broken, with the last fix",
        {0: 1, 1: 3, 2: 17, 3: 40215, 4: TS + 7, 10: 1, 11: 75, 12: [312304560, 1214737120, 8, 1]},
        {
            "kind": "event",
            "boot": 17,
            "seq": 40215,
            "ts": TS + 7,
            "code": 1,
            "battery_pct": 75,
            "command_id": None,
            "roll_call_result": None,
            "response_s": None,
            "fix": [312304560, 1214737120, 8, 1],
            "zone_id": None,
        },
    ),
    (
        "event",
        "event_sos",
        "SOS button held",
        {0: 1, 1: 3, 2: 17, 3: 40216, 4: TS + 9, 10: 3},
        {
            "kind": "event",
            "boot": 17,
            "seq": 40216,
            "ts": TS + 9,
            "code": 3,
            "battery_pct": None,
            "command_id": None,
            "roll_call_result": None,
            "response_s": None,
            "fix": None,
            "zone_id": None,
        },
    ),
    (
        "event",
        "event_roll_call_answered",
        "wearer pressed the button 23 s into roll call 5001",
        {
            0: 1,
            1: 3,
            2: 17,
            3: 40217,
            4: TS + 40,
            6: 5001,
            10: 6,
            13: 0,
            14: 23,
            12: [312304990, 1214736800, 6, 1],
        },
        {
            "kind": "event",
            "boot": 17,
            "seq": 40217,
            "ts": TS + 40,
            "code": 6,
            "battery_pct": None,
            "command_id": 5001,
            "roll_call_result": 0,
            "response_s": 23,
            "fix": [312304990, 1214736800, 6, 1],
            "zone_id": None,
        },
    ),
    (
        "event",
        "event_zone_left",
        "the wearer left inclusion zone 103 (the district, weekdays 08:00-20:00)",
        {
            0: 1,
            1: 3,
            2: 17,
            3: 40230,
            4: TS + 120,
            10: 7,
            11: 64,
            12: [311050000, 1215600000, 9, 1],
            15: 103,
        },
        {
            "kind": "event",
            "boot": 17,
            "seq": 40230,
            "ts": TS + 120,
            "code": 7,
            "battery_pct": 64,
            "command_id": None,
            "roll_call_result": None,
            "response_s": None,
            "fix": [311050000, 1215600000, 9, 1],
            "zone_id": 103,
        },
    ),
    (
        "event",
        "event_zone_entered",
        "the wearer went into exclusion zone 102, recorded offline and sent later",
        {
            0: 1,
            1: 3,
            2: 17,
            3: 40231,
            4: TS + 300,
            10: 8,
            12: [311352100, 1214008000, 7, 1],
            15: 102,
        },
        {
            "kind": "event",
            "boot": 17,
            "seq": 40231,
            "ts": TS + 300,
            "code": 8,
            "battery_pct": None,
            "command_id": None,
            "roll_call_result": None,
            "response_s": None,
            "fix": [311352100, 1214008000, 7, 1],
            "zone_id": 102,
        },
    ),
    (
        "water_sample",
        "water_full",
        "all nine parameters normal, Suzhou Creek station",
        {
            0: 1,
            1: 4,
            2: 2,
            3: 1200,
            4: TS,
            10: {1: 1425, 2: 742, 3: 812, 4: 685, 5: 123, 6: 380, 7: 412, 8: 95, 9: 215},
        },
        {
            "kind": "water_sample",
            "boot": 2,
            "seq": 1200,
            "ts": TS,
            "values": {
                "water_temp": 1425,
                "ph": 742,
                "dissolved_oxygen": 812,
                "conductivity": 685,
                "turbidity": 123,
                "permanganate_index": 380,
                "ammonia_nitrogen": 412,
                "total_phosphorus": 95,
                "total_nitrogen": 215,
            },
            "statuses": {},
        },
    ),
    (
        "water_sample",
        "water_flags",
        "NH3-N calibrating, TP analyzer in fault (no value), DO normal",
        {0: 1, 1: 4, 2: 2, 3: 1201, 4: TS + 300, 10: {3: 535, 7: 1830}, 11: {7: 1, 8: 3}},
        {
            "kind": "water_sample",
            "boot": 2,
            "seq": 1201,
            "ts": TS + 300,
            "values": {"dissolved_oxygen": 535, "ammonia_nitrogen": 1830},
            "statuses": {"ammonia_nitrogen": 1, "total_phosphorus": 3},
        },
    ),
    (
        "ack",
        "ack_config_applied",
        "config version 12 applied",
        {0: 1, 1: 5, 2: 17, 3: 40218, 4: TS + 41, 5: 12, 10: 0},
        {
            "kind": "ack",
            "boot": 17,
            "seq": 40218,
            "ts": TS + 41,
            "config_version": 12,
            "command_id": None,
            "result": 0,
            "reason": None,
        },
    ),
    (
        "ack",
        "ack_command_rejected",
        "command 5002 refused with a reason",
        {0: 1, 1: 5, 2: 17, 3: 40219, 4: TS + 42, 6: 5002, 10: 1, 11: "battery too low"},
        {
            "kind": "ack",
            "boot": 17,
            "seq": 40219,
            "ts": TS + 42,
            "config_version": None,
            "command_id": 5002,
            "result": 1,
            "reason": "battery too low",
        },
    ),
    (
        "batch",
        "batch_catch_up",
        "three records kept through an outage, one from the boot before",
        {
            0: 1,
            1: 6,
            2: 18,
            4: TS + 900,
            10: [
                {
                    0: 1,
                    1: 1,
                    2: 17,
                    3: 40220,
                    4: TS + 60,
                    10: 312310000,
                    11: 1214740000,
                    12: 9,
                    13: 1,
                },
                {0: 1, 1: 3, 2: 17, 3: 40221, 4: TS + 61, 10: 5},
                {0: 1, 1: 2, 2: 18, 3: 0, 4: TS + 880, 10: 12, 11: True},
            ],
        },
        {
            "kind": "batch",
            "boot": 18,
            "ts": TS + 900,
            "items": [
                {
                    "kind": "location_fix",
                    "boot": 17,
                    "seq": 40220,
                    "ts": TS + 60,
                    "lat_e7": 312310000,
                    "lon_e7": 1214740000,
                    "accuracy_m": 9,
                    "source": 1,
                    "speed_cm_s": None,
                },
                {
                    "kind": "event",
                    "boot": 17,
                    "seq": 40221,
                    "ts": TS + 61,
                    "code": 5,
                    "battery_pct": None,
                    "command_id": None,
                    "roll_call_result": None,
                    "response_s": None,
                    "fix": None,
                    "zone_id": None,
                },
                {
                    "kind": "health",
                    "boot": 18,
                    "seq": 0,
                    "ts": TS + 880,
                    "battery_pct": 12,
                    "charging": True,
                    "signal_dbm": None,
                    "uptime_s": None,
                    "free_mem_bytes": None,
                    "buffered": None,
                    "dropped": None,
                    "battery_mv": None,
                },
            ],
        },
    ),
    (
        "status",
        "status_online",
        "retained online status at connect",
        {0: 1, 1: 7, 2: 18, 4: TS + 870, 5: 12, 10: 1, 11: "bracelet-1.0.0"},
        {
            "kind": "status",
            "boot": 18,
            "ts": TS + 870,
            "config_version": 12,
            "state": 1,
            "firmware": "bracelet-1.0.0",
        },
    ),
    (
        "status",
        "status_offline_will",
        "the last will the broker publishes when the link dies",
        {0: 1, 1: 7, 2: 18, 10: 0},
        {
            "kind": "status",
            "boot": 18,
            "ts": None,
            "config_version": None,
            "state": 0,
            "firmware": None,
        },
    ),
    (
        "config",
        "config_bracelet",
        "bracelet intervals, low-battery threshold, roll-call window",
        {0: 1, 1: 8, 4: TS - 3600, 5: 12, 10: {1: 30, 2: 10, 3: 300, 4: 900, 5: 15, 6: 120}},
        {
            "kind": "config",
            "version": 12,
            "ts": TS - 3600,
            "settings": {
                "fix_interval_s": 30,
                "fix_interval_moving_s": 10,
                "fix_interval_still_s": 300,
                "health_interval_s": 900,
                "low_battery_pct": 15,
                "roll_call_window_s": 120,
            },
            "zones": [],
        },
    ),
    (
        "config",
        "config_river",
        "river station sampling every 5 minutes",
        {0: 1, 1: 8, 4: TS - 7200, 5: 3, 10: {4: 3600, 8: 300}},
        {
            "kind": "config",
            "version": 3,
            "ts": TS - 7200,
            "settings": {"health_interval_s": 3600, "sample_interval_s": 300},
            "zones": [],
        },
    ),
    (
        "config",
        "config_bracelet_zones",
        "a supervised person's zones: home with a curfew, a place to keep away from, the district",
        {
            0: 1,
            1: 8,
            4: TS - 1800,
            5: 13,
            10: {1: 30, 10: 480, 11: 100, 12: 60},
            11: [
                {
                    1: 101,
                    2: 1,
                    4: HOME,
                    5: [[127, 1320, 360]],
                },
                {1: 102, 2: 2, 3: [311350000, 1214010000, 300]},
                {1: 103, 2: 1, 3: [311120000, 1213815000, 15000], 5: [[31, 480, 1200]]},
            ],
        },
        {
            "kind": "config",
            "version": 13,
            "ts": TS - 1800,
            "settings": {
                "fix_interval_s": 30,
                "utc_offset_min": 480,
                "zone_warn_margin_m": 100,
                "zone_dwell_s": 60,
            },
            "zones": [
                {
                    "zone_id": 101,
                    "rule": 1,
                    "circle": None,
                    "polygon": [[HOME[i], HOME[i + 1]] for i in range(0, len(HOME), 2)],
                    "windows": [[127, 1320, 360]],
                },
                {
                    "zone_id": 102,
                    "rule": 2,
                    "circle": [311350000, 1214010000, 300],
                    "polygon": None,
                    "windows": [],
                },
                {
                    "zone_id": 103,
                    "rule": 1,
                    "circle": [311120000, 1213815000, 15000],
                    "polygon": None,
                    "windows": [[31, 480, 1200]],
                },
            ],
        },
    ),
    (
        "command",
        "command_roll_call",
        "roll call with a 2-minute window, expiring in 10 minutes",
        {0: 1, 1: 9, 4: TS + 10, 6: 5001, 10: 1, 11: {1: 120}, 12: TS + 610},
        {
            "kind": "command",
            "command_id": 5001,
            "ts": TS + 10,
            "code": 1,
            "expires_ts": TS + 610,
            "args": {"window_s": 120},
        },
    ),
    (
        "command",
        "command_locate_now",
        "ask for a fresh fix",
        {0: 1, 1: 9, 4: TS + 20, 6: 5003, 10: 2},
        {
            "kind": "command",
            "command_id": 5003,
            "ts": TS + 20,
            "code": 2,
            "expires_ts": None,
            "args": {},
        },
    ),
]


def _hex(wire: object) -> str:
    return cbor2.dumps(wire, canonical=True).hex()


FIX = {0: 1, 1: 1, 2: 17, 3: 5, 4: TS, 10: 312304560, 11: 1214737120, 12: 8, 13: 1}
CONFIG = {0: 1, 1: 8, 4: TS, 5: 2, 10: {1: 30}}
CIRCLE = {1: 1, 2: 1, 3: [311120000, 1213815000, 500]}


def _zones(*zones: dict) -> dict:
    """A config holding these zones."""
    return {**CONFIG, 11: list(zones)}


def _polygon(zone_id: int, vertices: int) -> dict:
    """An inclusion polygon of that many vertices (valid values; the shape does not matter)."""
    flat = []
    for i in range(vertices):
        flat += [311120000 + 100 * i, 1213815000 + 37 * (i % 5)]
    return {1: zone_id, 2: 1, 4: flat}


def _long_heads(value: object) -> bytes:
    """CBOR with every integer in an 8-byte head: valid values in more bytes than needed."""
    if isinstance(value, int):
        major, raw = (0, value) if value >= 0 else (1, -1 - value)
        return bytes((major << 5 | 27,)) + raw.to_bytes(8, "big")
    if isinstance(value, list):
        return _head(4, len(value)) + b"".join(_long_heads(item) for item in value)
    assert isinstance(value, dict)
    body = b"".join(_long_heads(k) + _long_heads(v) for k, v in sorted(value.items()))
    return _head(5, len(value)) + body


def _head(major: int, length: int) -> bytes:
    """The shortest head of an array (4) or map (5) of ``length`` items."""
    if length < 24:
        return bytes((major << 5 | length,))
    if length < 256:
        return bytes((major << 5 | 24, length))
    return bytes((major << 5 | 25,)) + length.to_bytes(2, "big")


# (name, description, hex, channel or None, expected error code, expected field or None)
INVALID = [
    ("empty", "no bytes at all", "", None, "truncated", None),
    (
        "truncated",
        "a fix cut off in the middle of the longitude",
        _hex(FIX)[:40],
        None,
        "truncated",
        None,
    ),
    (
        "trailing_bytes",
        "a valid fix followed by one more byte",
        _hex(FIX) + "00",
        None,
        "trailing_bytes",
        None,
    ),
    ("reserved_byte", "0x1c uses reserved additional information", "1c", None, "not_cbor", None),
    ("indefinite_map", "an indefinite-length map", "bf0001ff", None, "unsupported_cbor", None),
    (
        "tagged_time",
        "a datetime tag where a number belongs",
        _hex({**FIX, 4: cbor2.CBORTag(1, TS)}),
        None,
        "unsupported_cbor",
        None,
    ),
    ("not_a_map", "an array at the top level", _hex([1, 1, 17]), None, "not_a_map", None),
    (
        "missing_version",
        "no key 0",
        _hex({k: v for k, v in FIX.items() if k != 0}),
        None,
        "missing_version",
        "version",
    ),
    (
        "unknown_version",
        "schema version 2",
        _hex({**FIX, 0: 2}),
        None,
        "unknown_version",
        "version",
    ),
    ("unknown_kind", "kind 42", _hex({**FIX, 1: 42}), None, "unknown_kind", "kind"),
    (
        "missing_key",
        "a fix without latitude",
        _hex({k: v for k, v in FIX.items() if k != 10}),
        None,
        "missing_key",
        "lat_e7",
    ),
    ("unknown_key", "a fix with an extra key 99", _hex({**FIX, 99: 1}), None, "unknown_key", None),
    (
        "wrong_type_text",
        "latitude as text",
        _hex({**FIX, 10: "31.23"}),
        None,
        "wrong_type",
        "lat_e7",
    ),
    (
        "wrong_type_float",
        "timestamp as a double",
        _hex({**FIX, 4: float(TS)}),
        None,
        "wrong_type",
        "ts",
    ),
    (
        "wrong_type_null",
        "optional speed sent as null",
        _hex({**FIX, 14: None}),
        None,
        "wrong_type",
        "speed_cm_s",
    ),
    (
        "out_of_range_lat",
        "latitude 91 degrees",
        _hex({**FIX, 10: 910000000}),
        None,
        "out_of_range",
        "lat_e7",
    ),
    (
        "clock_not_set",
        "timestamp in 1970: the device clock was never set",
        _hex({**FIX, 4: 120}),
        None,
        "out_of_range",
        "ts",
    ),
    (
        "oversize_payload",
        "16 KiB + 1 of byte string",
        "5940" + "00" * 16385,
        None,
        "oversize",
        None,
    ),
    (
        "oversize_fix",
        "a fix with 8-byte integer heads: valid values, too many bytes",
        "a9" + "".join(f"{k:02x}1b{v:016x}" for k, v in FIX.items()),
        None,
        "oversize",
        None,
    ),
    (
        "ack_both_targets",
        "an ack naming a config version and a command",
        _hex({0: 1, 1: 5, 2: 1, 3: 1, 4: TS, 5: 3, 6: 9, 10: 0}),
        None,
        "inconsistent",
        "command_id",
    ),
    (
        "water_status_without_value",
        "NH3-N calibrating but no value",
        _hex({0: 1, 1: 4, 2: 1, 3: 1, 4: TS, 10: {3: 700}, 11: {7: 1}}),
        None,
        "missing_key",
        "ammonia_nitrogen",
    ),
    (
        "water_unknown_parameter",
        "parameter id 12",
        _hex({0: 1, 1: 4, 2: 1, 3: 1, 4: TS, 10: {12: 5}}),
        None,
        "unknown_key",
        "values",
    ),
    (
        "water_ph_out_of_range",
        "pH 15.00",
        _hex({0: 1, 1: 4, 2: 1, 3: 1, 4: TS, 10: {2: 1500}}),
        None,
        "out_of_range",
        "ph",
    ),
    (
        "roll_call_response_without_result",
        "roll-call response lacking its result",
        _hex({0: 1, 1: 3, 2: 1, 3: 1, 4: TS, 6: 7, 10: 6}),
        None,
        "missing_key",
        "roll_call_result",
    ),
    (
        "batch_in_batch",
        "a batch nested in a batch",
        _hex({0: 1, 1: 6, 2: 1, 10: [{0: 1, 1: 6, 2: 1, 10: [FIX]}]}),
        None,
        "wrong_channel",
        "kind",
    ),
    (
        "batch_bad_item",
        "second item of a batch has latitude as text",
        _hex({0: 1, 1: 6, 2: 1, 10: [FIX, {**FIX, 3: 6, 10: "x"}]}),
        None,
        "wrong_type",
        "lat_e7",
    ),
    (
        "config_unknown_setting",
        "setting id 77",
        _hex({0: 1, 1: 8, 4: TS, 5: 2, 10: {1: 30, 77: 1}}),
        None,
        "unknown_key",
        "settings",
    ),
    (
        "config_interval_too_short",
        "fix every 2 s",
        _hex({0: 1, 1: 8, 4: TS, 5: 2, 10: {1: 2}}),
        None,
        "out_of_range",
        "fix_interval_s",
    ),
    (
        "config_utc_offset_out_of_range",
        "a UTC offset of +15:00",
        _hex({**CONFIG, 10: {10: 900}}),
        None,
        "out_of_range",
        "utc_offset_min",
    ),
    (
        "config_zones_empty",
        "an empty zone list: a config without zones leaves the key out",
        _hex(_zones()),
        None,
        "out_of_range",
        "zones",
    ),
    (
        "config_too_many_zones",
        "17 zones, one over the limit",
        _hex(_zones(*({**CIRCLE, 1: i} for i in range(1, 18)))),
        None,
        "out_of_range",
        "zones",
    ),
    (
        "config_zone_vertices_over_total",
        "three polygons of 64 vertices: 192, over the 128 a config may hold",
        _hex(_zones(*(_polygon(i, 64) for i in range(1, 4)))),
        None,
        "out_of_range",
        "zones",
    ),
    (
        "config_zone_not_a_map",
        "a zone written as an array",
        _hex(_zones([1, 1, [311120000, 1213815000, 500]])),
        None,
        "wrong_type",
        "zones",
    ),
    (
        "config_zone_unknown_key",
        "a zone with an extra key 9",
        _hex(_zones({**CIRCLE, 9: 1})),
        None,
        "unknown_key",
        "zones",
    ),
    (
        "config_zone_missing_id",
        "a zone without its id",
        _hex(_zones({2: 1, 3: [311120000, 1213815000, 500]})),
        None,
        "missing_key",
        "zone_id",
    ),
    (
        "config_zone_duplicate_id",
        "two zones with id 1",
        _hex(_zones(CIRCLE, _polygon(1, 4))),
        None,
        "inconsistent",
        "zone_id",
    ),
    (
        "config_zone_unknown_rule",
        "rule 3: neither inclusion nor exclusion",
        _hex(_zones({**CIRCLE, 2: 3})),
        None,
        "out_of_range",
        "rule",
    ),
    (
        "config_zone_no_shape",
        "a zone with neither a circle nor a polygon",
        _hex(_zones({1: 1, 2: 1})),
        None,
        "missing_key",
        "shape",
    ),
    (
        "config_zone_circle_and_polygon",
        "a zone with both a circle and a polygon",
        _hex(_zones({**_polygon(1, 4), 3: [311120000, 1213815000, 500]})),
        None,
        "inconsistent",
        "shape",
    ),
    (
        "config_zone_radius_zero",
        "a circle of radius 0",
        _hex(_zones({**CIRCLE, 3: [311120000, 1213815000, 0]})),
        None,
        "out_of_range",
        "radius_m",
    ),
    (
        "config_zone_circle_short",
        "a circle without its radius",
        _hex(_zones({**CIRCLE, 3: [311120000, 1213815000]})),
        None,
        "out_of_range",
        "circle",
    ),
    (
        "config_zone_polygon_two_vertices",
        "a polygon of two vertices",
        _hex(_zones(_polygon(1, 2))),
        None,
        "out_of_range",
        "polygon",
    ),
    (
        "config_zone_polygon_65_vertices",
        "a polygon of 65 vertices, one over the limit",
        _hex(_zones(_polygon(1, 65))),
        None,
        "out_of_range",
        "polygon",
    ),
    (
        "config_zone_polygon_odd",
        "a polygon whose last vertex has no longitude",
        _hex(_zones({**_polygon(1, 4), 4: _polygon(1, 4)[4][:-1]})),
        None,
        "out_of_range",
        "polygon",
    ),
    (
        "config_zone_polygon_lon_out_of_range",
        "a polygon vertex at longitude 181 degrees",
        _hex(_zones({**_polygon(1, 4), 4: [*_polygon(1, 4)[4][:-1], 1810000000]})),
        None,
        "out_of_range",
        "lon_e7",
    ),
    (
        "config_zone_polygon_text",
        "a polygon vertex's latitude as text",
        _hex(_zones({**_polygon(1, 4), 4: ["31.112", *_polygon(1, 4)[4][1:]]})),
        None,
        "wrong_type",
        "lat_e7",
    ),
    (
        "config_zone_windows_empty",
        "an empty window list: a zone always in force leaves the key out",
        _hex(_zones({**CIRCLE, 5: []})),
        None,
        "out_of_range",
        "windows",
    ),
    (
        "config_zone_window_short",
        "a window without its end",
        _hex(_zones({**CIRCLE, 5: [[127, 1320]]})),
        None,
        "out_of_range",
        "windows",
    ),
    (
        "config_zone_window_no_days",
        "a window on no day of the week",
        _hex(_zones({**CIRCLE, 5: [[0, 1320, 360]]})),
        None,
        "out_of_range",
        "days_mask",
    ),
    (
        "config_zone_window_end_past_midnight",
        "a window ending at minute 1441",
        _hex(_zones({**CIRCLE, 5: [[127, 1320, 1441]]})),
        None,
        "out_of_range",
        "end_min",
    ),
    (
        "config_zone_window_of_no_length",
        "a window that starts and ends at 22:00",
        _hex(_zones({**CIRCLE, 5: [[127, 1320, 1320]]})),
        None,
        "inconsistent",
        "end_min",
    ),
    (
        "oversize_config",
        "16 zones, 128 polygon vertices, 8-byte integer heads: valid values, too many bytes",
        _long_heads(
            _zones(_polygon(1, 64), _polygon(2, 64), *({**CIRCLE, 1: i} for i in range(3, 17)))
        ).hex(),
        None,
        "oversize",
        None,
    ),
    (
        "event_zone_left_without_zone",
        "a zone-left event that does not say which zone",
        _hex({0: 1, 1: 3, 2: 1, 3: 1, 4: TS, 10: 7, 12: [311120000, 1213815000, 8, 1]}),
        None,
        "missing_key",
        "zone_id",
    ),
    (
        "event_sos_with_zone",
        "an SOS naming a zone",
        _hex({0: 1, 1: 3, 2: 1, 3: 1, 4: TS, 10: 3, 15: 101}),
        None,
        "inconsistent",
        "zone_id",
    ),
    (
        "event_zone_with_roll_call_result",
        "a zone-entered event carrying a roll-call result",
        _hex({0: 1, 1: 3, 2: 1, 3: 1, 4: TS, 10: 8, 13: 0, 15: 101}),
        None,
        "inconsistent",
        "roll_call_result",
    ),
    (
        "event_unknown_code",
        "event code 9, past the last one v1 defines",
        _hex({0: 1, 1: 3, 2: 1, 3: 1, 4: TS, 10: 9}),
        None,
        "out_of_range",
        "code",
    ),
    (
        "command_missing_arg",
        "roll call without its window",
        _hex({0: 1, 1: 9, 4: TS, 6: 1, 10: 1}),
        None,
        "missing_key",
        "window_s",
    ),
    (
        "fix_on_event_topic",
        "a location fix published on the event channel",
        _hex(FIX),
        "event",
        "wrong_channel",
        "kind",
    ),
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    by_file: dict[str, list[dict]] = {}
    for file, name, description, wire, decoded in VALID:
        data = cbor2.dumps(wire, canonical=True)
        # The JSON a typical device would send: the same names, absent fields left out.
        sent = {k: v for k, v in decoded.items() if v is not None and v != {} and v != []}
        as_json = json.dumps(sent, separators=(",", ":"))
        by_file.setdefault(file, []).append(
            {
                "name": name,
                "description": description,
                "hex": data.hex(),
                "size": len(data),
                "json_size": len(as_json),
                "decoded": decoded,
            }
        )
    for file, vectors in by_file.items():
        (OUT / f"{file}.json").write_text(json.dumps(vectors, indent=1) + "\n")
    invalid = [
        {"name": n, "description": d, "hex": h, "channel": ch, "error": e, "field": f}
        for n, d, h, ch, e, f in INVALID
    ]
    (OUT / "invalid.json").write_text(json.dumps(invalid, indent=1) + "\n")
    print("| vector | CBOR bytes | same as JSON |")
    print("| --- | ---: | ---: |")
    for vectors in by_file.values():
        for v in vectors:
            print(f"| `{v['name']}` | {v['size']} | {v['json_size']} |")


if __name__ == "__main__":
    main()
