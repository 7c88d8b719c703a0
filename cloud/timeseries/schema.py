"""The InfluxDB schema: measurements, retention policies, point identity (docs/storage.md).

A point's identity in InfluxDB is (measurement, tag set, timestamp); a second write
with the same identity overwrites the first. The only tag is ``device_id``, and the
timestamp is built from the record itself, so a retried write of a record has the
same identity and overwrites itself, while two records of one device never share one.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import contract as c

NS_PER_S = 1_000_000_000
# Sub-second offset: (boot mod 1000) ms + (seq mod 1,000,000) ns. Unique within a
# device-second unless the device made a million records, or booted a thousand
# times, within that second.
BOOT_SLOTS = 1000
SEQ_SLOTS = 1_000_000

DEVICE_TAG = "device_id"


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    name: str
    duration: str  # InfluxQL duration literal; INF keeps for ever
    default: bool


EVIDENCE = RetentionPolicy("evidence", "INF", default=True)
DEVICE_HEALTH = RetentionPolicy("device_health", "400d", default=False)
RETENTION_POLICIES = (EVIDENCE, DEVICE_HEALTH)

LOCATION = "location"
HEALTH = "health"
EVENT = "event"
WATER = "water"
ACK = "ack"

MEASUREMENT_BY_KIND = {
    c.LOCATION_FIX: LOCATION,
    c.HEALTH: HEALTH,
    c.EVENT: EVENT,
    c.WATER_SAMPLE: WATER,
    c.ACK: ACK,
}
POLICY_BY_MEASUREMENT = {
    LOCATION: EVIDENCE,
    HEALTH: DEVICE_HEALTH,
    EVENT: EVIDENCE,
    WATER: EVIDENCE,
    ACK: EVIDENCE,
}

WATER_PARAMETER_NAMES = tuple(c.WATER_PARAMETERS[pid][0] for pid in sorted(c.WATER_PARAMETERS))


def point_time_ns(ts_s: int, boot: int, seq: int) -> int:
    """The timestamp of a record's point: its device second plus an offset from (boot, seq)."""
    offset = (boot % BOOT_SLOTS) * (NS_PER_S // BOOT_SLOTS) + seq % SEQ_SLOTS
    return ts_s * NS_PER_S + offset
