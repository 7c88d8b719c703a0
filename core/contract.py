"""Wire contract v1: the numbers every part agrees on.

``docs/contract.md`` explains each of these; this module is the one place
they are defined. Runs on MicroPython too.
"""

SCHEMA_VERSION = 1

# --- message kinds (envelope key K_KIND) ---------------------------------------
LOCATION_FIX = 1
HEALTH = 2
EVENT = 3
WATER_SAMPLE = 4
ACK = 5
BATCH = 6
STATUS = 7
CONFIG = 8
COMMAND = 9

KIND_NAMES = {
    LOCATION_FIX: "location_fix",
    HEALTH: "health",
    EVENT: "event",
    WATER_SAMPLE: "water_sample",
    ACK: "ack",
    BATCH: "batch",
    STATUS: "status",
    CONFIG: "config",
    COMMAND: "command",
}

# Records are the evidence: each carries (boot id, sequence number), counts
# towards a device's completeness and may travel inside a batch.
RECORD_KINDS = (LOCATION_FIX, HEALTH, EVENT, WATER_SAMPLE, ACK)

# --- envelope keys, shared by every kind ---------------------------------------
K_VERSION = 0
K_KIND = 1
K_BOOT = 2
K_SEQ = 3
K_TS = 4
K_CONFIG_VERSION = 5
K_COMMAND_ID = 6
# Body keys start at 10 and mean different things per kind.

# --- ranges --------------------------------------------------------------------
UINT32_MAX = 0xFFFFFFFF
TS_MIN = 1577836800  # 2020-01-01T00:00:00Z: earlier means the device clock is not set
TS_MAX = 4102444800  # 2100-01-01T00:00:00Z

# --- size limits, in bytes of the whole MQTT payload ---------------------------
MAX_PAYLOAD = 16384  # checked before any decoding
MAX_SIZE_BY_KIND = {
    LOCATION_FIX: 48,  # the contract promises a fix fits in 48 bytes
    HEALTH: 96,
    EVENT: 96,
    WATER_SAMPLE: 192,
    ACK: 128,
    BATCH: MAX_PAYLOAD,
    STATUS: 96,
    CONFIG: 3072,  # the largest config possible, zones at their limits, is 2924
    COMMAND: 128,
}
MAX_BATCH_ITEMS = 256
MAX_TEXT = 64  # ack reasons, firmware versions

# --- location fix ----------------------------------------------------------------
FIX_GNSS = 1
FIX_CELL = 2
FIX_WIFI = 3
FIX_SOURCE_NAMES = {FIX_GNSS: "gnss", FIX_CELL: "cell", FIX_WIFI: "wifi"}

# --- bracelet events ---------------------------------------------------------------
EV_STRAP_OPENED = 1  # the strap circuit broke: opened or cut
EV_STRAP_CLOSED = 2
EV_SOS = 3
EV_LOW_BATTERY = 4
EV_POWER_OFF = 5
EV_ROLL_CALL_RESPONSE = 6
EV_ZONE_LEFT = 7  # a crossing the bracelet recorded: out of a zone (carries zone_id)
EV_ZONE_ENTERED = 8  # ... into a zone
EVENT_NAMES = {
    EV_STRAP_OPENED: "strap_opened",
    EV_STRAP_CLOSED: "strap_closed",
    EV_SOS: "sos",
    EV_LOW_BATTERY: "low_battery",
    EV_POWER_OFF: "power_off",
    EV_ROLL_CALL_RESPONSE: "roll_call_response",
    EV_ZONE_LEFT: "zone_left",
    EV_ZONE_ENTERED: "zone_entered",
}
EV_ZONE_CODES = (EV_ZONE_LEFT, EV_ZONE_ENTERED)
ROLL_CALL_ANSWERED = 0
ROLL_CALL_MISSED = 1
ROLL_CALL_RESULT_NAMES = {ROLL_CALL_ANSWERED: "answered", ROLL_CALL_MISSED: "missed"}

# --- water quality ---------------------------------------------------------------
# id: (name, unit, scale, low, high). The wire value is round(value * scale);
# low and high bound the physical value a sonde can report.
WATER_PARAMETERS = {
    1: ("water_temp", "degC", 100, -5, 50),
    2: ("ph", "pH", 100, 0, 14),
    3: ("dissolved_oxygen", "mg/L", 100, 0, 30),
    4: ("conductivity", "uS/cm", 1, 0, 200000),
    5: ("turbidity", "NTU", 10, 0, 10000),
    6: ("permanganate_index", "mg/L", 100, 0, 200),
    7: ("ammonia_nitrogen", "mg/L", 1000, 0, 200),
    8: ("total_phosphorus", "mg/L", 1000, 0, 50),
    9: ("total_nitrogen", "mg/L", 100, 0, 200),
}
WATER_PARAMETER_IDS = {}
for _pid in WATER_PARAMETERS:
    WATER_PARAMETER_IDS[WATER_PARAMETERS[_pid][0]] = _pid

VALUE_NORMAL = 0  # implied by absence from the status map; never sent
VALUE_CALIBRATING = 1
VALUE_MAINTENANCE = 2
VALUE_FAULT = 3
VALUE_OVER_RANGE = 4
VALUE_UNDER_RANGE = 5
VALUE_STATUS_NAMES = {
    VALUE_NORMAL: "normal",
    VALUE_CALIBRATING: "calibrating",
    VALUE_MAINTENANCE: "maintenance",
    VALUE_FAULT: "fault",
    VALUE_OVER_RANGE: "over_range",
    VALUE_UNDER_RANGE: "under_range",
}
# A value with one of these statuses may come without a number.
VALUE_STATUSES_WITHOUT_VALUE = (VALUE_MAINTENANCE, VALUE_FAULT)

# --- acknowledgements ---------------------------------------------------------------
ACK_DONE = 0  # config applied / command executed
ACK_REJECTED = 1  # invalid or unknown: the previous config stays
ACK_FAILED = 2  # valid but could not be carried out
ACK_EXPIRED = 3  # arrived after its expiry time
ACK_DUPLICATE = 4  # this command id was executed before; not executed again
ACK_RESULT_NAMES = {
    ACK_DONE: "done",
    ACK_REJECTED: "rejected",
    ACK_FAILED: "failed",
    ACK_EXPIRED: "expired",
    ACK_DUPLICATE: "duplicate",
}

# --- status ---------------------------------------------------------------------------
OFFLINE = 0
ONLINE = 1

# --- config settings: id: (name, low, high) -------------------------------------------
CONFIG_SETTINGS = {
    1: ("fix_interval_s", 5, 3600),
    2: ("fix_interval_moving_s", 5, 3600),
    3: ("fix_interval_still_s", 5, 86400),
    4: ("health_interval_s", 60, 86400),
    5: ("low_battery_pct", 1, 50),
    6: ("roll_call_window_s", 10, 900),
    7: ("sos_hold_ms", 500, 10000),
    8: ("sample_interval_s", 60, 14400),
    9: ("batch_max_records", 1, MAX_BATCH_ITEMS),
    10: ("utc_offset_min", -720, 840),
    11: ("zone_warn_margin_m", 0, 5000),
    12: ("zone_dwell_s", 0, 3600),
}

# --- zones (config key 11): where a supervised person must or must not be, and when --------
ZONE_INCLUSION = 1  # must stay inside (home, the county)
ZONE_EXCLUSION = 2  # must stay out (a victim's street, a school)
ZONE_RULE_NAMES = {ZONE_INCLUSION: "inclusion", ZONE_EXCLUSION: "exclusion"}
MAX_ZONES = 16
MIN_ZONE_VERTICES = 3
MAX_ZONE_VERTICES = 64  # per polygon
# All polygons of one config together: bounds the config's size (MAX_SIZE_BY_KIND) and the
# heap the bracelet spends on its zones (docs/devices.md, Memory).
MAX_ZONE_VERTICES_TOTAL = 128
MAX_ZONE_RADIUS_M = 100000
MAX_ZONE_WINDOWS = 8  # weekly windows per zone; none: always active
MINUTES_PER_DAY = 1440

# --- commands: code: (name, {arg id: (name, low, high)}, required arg ids) --------------
CMD_ROLL_CALL = 1
CMD_LOCATE_NOW = 2
CMD_REBOOT = 3
CMD_SAMPLE_NOW = 4
COMMANDS = {
    CMD_ROLL_CALL: ("roll_call", {1: ("window_s", 10, 900)}, (1,)),
    CMD_LOCATE_NOW: ("locate_now", {}, ()),
    CMD_REBOOT: ("reboot", {}, ()),
    CMD_SAMPLE_NOW: ("sample_now", {}, ()),
}
