"""Evidence not taken at face value, with real PostgreSQL and InfluxDB: a record ahead of
the cloud's clock and a second, different record with a (boot, seq) already taken are
kept with their reason and counted, never stored as evidence; a true retransmission of
any record kind is a plain duplicate; a gateway's own quarantine reaches the cloud."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Any

import pytest
from cloud_support import T0, Cloud, fix, health, item, water
from sqlalchemy import select

from cloud.db.engine import make_engine, make_sessions
from cloud.ingest.models import QuarantinedReading
from core.codec import encode
from core.contract import RECORD_KINDS
from core.errors import CONFLICTING_RECORD, IMPLAUSIBLE_TIME, WRONG_DEVICE_KIND
from core.evidence import CLOCK_AHEAD_TOLERANCE_S
from core.forwarding import ForwardedMessage
from core.messages import Batch
from core.receiver import decode
from tests.contract.vectors import valid_vectors

pytestmark = pytest.mark.services


def device(cloud: Cloud, device_id: str) -> dict[str, Any]:
    answer = cloud.client.get(f"/api/v1/devices/{device_id}", headers=cloud.login("prosecutor"))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def completeness(cloud: Cloud, device_id: str) -> dict[str, Any]:
    answer = cloud.client.get(
        f"/api/v1/devices/{device_id}/gaps", headers=cloud.login("prosecutor")
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def quarantine(cloud: Cloud, device_id: str) -> list[QuarantinedReading]:
    engine = make_engine(str(cloud.settings.database_url))
    try:
        with make_sessions(engine)() as session:
            return list(
                session.scalars(
                    select(QuarantinedReading)
                    .where(QuarantinedReading.device_id == device_id)
                    .order_by(QuarantinedReading.id)
                )
            )
    finally:
        engine.dispose()


def now_s(cloud: Cloud) -> int:
    return int(cloud.clock().timestamp())


def test_a_record_ahead_of_the_clock_is_kept_and_flagged_not_stored(cloud: Cloud) -> None:
    now = now_s(cloud)
    ahead = fix(1, 1, now + 3 * 3600)  # a clock set to local time as if it were UTC... later
    within = fix(1, 2, now + CLOCK_AHEAD_TOLERANCE_S - 5)  # a clock a little fast: fine
    items = [
        item("br-000001", fix(1, 0, now - 10)),
        item("br-000001", ahead, received_at_ms=now * 1000),
        item("br-000001", within, received_at_ms=now * 1000),
    ]
    answer = cloud.send("gw-one", items)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 2
    [held] = answer.json()["rejected"]
    assert (held["index"], held["code"]) == (1, IMPLAUSIBLE_TIME)
    assert "ahead of the receiver's clock" in held["reason"]

    assert [row["seq"] for row in cloud.points("location", "br-000001")] == [0, 2]
    [row] = quarantine(cloud, "br-000001")
    assert (row.code, row.boot, row.seq, row.source) == (IMPLAUSIBLE_TIME, 1, 1, "cloud")
    assert row.payload == encode(ahead)  # byte for byte

    state = device(cloud, "br-000001")
    assert state["held"]["implausible_time"] == 1
    assert state["held"]["last_code"] == IMPLAUSIBLE_TIME
    assert "ahead" in state["held"]["last_reason"]
    assert (state["last_boot"], state["last_seq"]) == (1, 2)  # the held one moved nothing
    report = completeness(cloud, "br-000001")
    assert report["held_by_code"] == {IMPLAUSIBLE_TIME: 1}
    assert [(h["boot"], h["seq"], h["code"]) for h in report["held"]] == [(1, 1, IMPLAUSIBLE_TIME)]
    # Not received as evidence: seq 1 stays a gap in the record, and the report says why.
    assert [(g["first_seq"], g["last_seq"]) for g in report["gaps"]] == [(1, 1)]


def test_a_different_record_with_a_taken_boot_and_seq_is_held_and_counted(cloud: Cloud) -> None:
    first = fix(1, 5, T0 + 50)
    assert cloud.send("gw-one", [item("br-000001", first)]).status_code == 200

    moved = fix(1, 5, T0 + 50, lat_e7=311_999_999)  # same number, same time, other place
    later = fix(1, 5, T0 + 77)  # same number, other time
    answer = cloud.send("gw-one", [item("br-000001", moved), item("br-000001", later)])
    assert answer.status_code == 200, answer.text
    assert [r["code"] for r in answer.json()["rejected"]] == [CONFLICTING_RECORD] * 2
    assert answer.json()["accepted"] == 0

    [stored] = cloud.points("location", "br-000001")
    assert stored["lat_e7"] == first.lat_e7  # the first stays the evidence, not overwritten
    rows = quarantine(cloud, "br-000001")
    assert [(r.code, r.boot, r.seq) for r in rows] == [(CONFLICTING_RECORD, 1, 5)] * 2
    assert [r.payload for r in rows] == [encode(moved), encode(later)]
    assert device(cloud, "br-000001")["held"]["conflicting_record"] == 2
    report = completeness(cloud, "br-000001")
    assert report["held_total"] == 2
    assert report["held_by_code"] == {CONFLICTING_RECORD: 2}


def test_within_one_batch_a_repeat_is_a_duplicate_and_a_different_record_is_held(
    cloud: Cloud,
) -> None:
    original = health(1, 3, T0 + 30, battery_pct=80)
    other = health(1, 3, T0 + 30, battery_pct=20)
    items = [item("br-000002", m) for m in (original, original, other)]
    answer = cloud.send("gw-one", items)
    assert answer.status_code == 200, answer.text
    assert [(r["index"], r["code"]) for r in answer.json()["rejected"]] == [(2, CONFLICTING_RECORD)]
    [stored] = cloud.points("health", "br-000002")
    assert stored["battery_pct"] == 80


@pytest.mark.parametrize("separately", [False, True], ids=["one-batch", "two-batches"])
def test_a_retransmission_of_every_record_kind_is_a_duplicate_not_a_conflict(
    cloud: Cloud, separately: bool
) -> None:
    # The contract's vectors, every record kind; the clock after their device times.
    records = [
        decode(binascii.unhexlify(v["hex"]))
        for v in valid_vectors()
        if v["decoded"]["kind"] in {"location_fix", "health", "event", "ack", "water_sample"}
    ]
    assert {r.KIND for r in records} == set(RECORD_KINDS)
    cloud.clock.now = datetime.fromtimestamp(max(r.ts for r in records), tz=cloud.clock.now.tzinfo)
    cloud.clock.advance(60)
    bracelet = [r for r in records if r.KIND != 4]
    station = [r for r in records if r.KIND == 4]
    # Numbered afresh per device, so that vectors sharing a (boot, seq) do not collide.
    items = []
    for device_id, group in (("br-000001", bracelet), ("rs-000001", station)):
        for seq, record in enumerate(group):
            record.boot, record.seq = 1, seq
            items.append(item(device_id, record))
    first = cloud.send("gw-one", items)
    assert first.status_code == 200, first.text
    assert first.json()["rejected"] == []
    again = cloud.send("gw-one", items) if separately else cloud.send("gw-one", items + items)
    assert again.status_code == 200, again.text
    assert again.json()["rejected"] == [], again.json()["rejected"]
    assert device(cloud, "br-000001")["held"]["conflicting_record"] == 0
    assert quarantine(cloud, "br-000001") == []


def test_a_device_batch_is_judged_record_by_record(cloud: Cloud) -> None:
    now = now_s(cloud)
    catch_up = Batch(2, [fix(2, 0, now - 60), fix(2, 1, now + 86400), fix(2, 2, now - 20)], ts=now)
    answer = cloud.send("gw-one", [item("br-000001", catch_up, received_at_ms=now * 1000)])
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1
    assert [r["code"] for r in answer.json()["rejected"]] == [IMPLAUSIBLE_TIME]
    assert [row["seq"] for row in cloud.points("location", "br-000001")] == [0, 2]
    [row] = quarantine(cloud, "br-000001")
    assert (row.record_index, row.boot, row.seq) == (1, 2, 1)
    assert row.payload == encode(catch_up)  # the whole message, byte for byte


def test_a_record_its_device_kind_never_sends_is_refused(cloud: Cloud) -> None:
    sample = water(1, 0, T0, ammonia_mg_l=0.4)
    answer = cloud.send("gw-one", [item("br-000001", sample), item("rs-000001", fix(1, 0, T0))])
    assert answer.status_code == 200, answer.text
    codes = [(r["index"], r["code"]) for r in answer.json()["rejected"]]
    assert codes == [(0, WRONG_DEVICE_KIND), (1, WRONG_DEVICE_KIND)]
    assert cloud.points("water", "br-000001") == []
    assert cloud.points("location", "rs-000001") == []


def upload(cloud: Cloud, gateway_id: str, entries: list[dict[str, Any]]) -> Any:
    token = cloud.gateway_tokens["gw-one"]
    return cloud.client.post(
        "/api/v1/gateways/quarantine",
        json={"gateway_id": gateway_id, "entries": entries},
        headers={"Authorization": f"Bearer {token}"},
    )


def entry(number: int, message: ForwardedMessage, code: str, reason: str) -> dict[str, Any]:
    return {
        "id": number,
        "received_at_ms": message.received_at_ms,
        "topic": f"fw/v1/{message.device_id}/up/telemetry",
        "device_id": message.device_id,
        "code": code,
        "reason": reason,
        "payload_b64": base64.b64encode(message.payload).decode(),
    }


def test_the_gateways_quarantine_is_kept_once_and_counted_on_the_device(cloud: Cloud) -> None:
    now = now_s(cloud)
    ahead = item("br-000001", fix(1, 9, now + 7200), received_at_ms=now * 1000)
    garbage = ForwardedMessage("br-000002", "telemetry", now * 1000, b"\xff\x00")
    entries = [
        entry(17, ahead, IMPLAUSIBLE_TIME, "device time ... ahead"),
        entry(18, garbage, "not_cbor", "not_cbor: ..."),
    ]
    first = upload(cloud, "gw-one", entries)
    assert first.status_code == 200, first.text
    assert first.json() == {"stored": 2, "duplicates": 0}
    again = upload(cloud, "gw-one", entries)
    assert again.json() == {"stored": 0, "duplicates": 2}  # a retry stores nothing twice

    [held] = quarantine(cloud, "br-000001")
    assert (held.source, held.gateway_entry_id, held.boot, held.seq) == ("gateway", 17, 1, 9)
    assert held.payload == ahead.payload
    [refused] = quarantine(cloud, "br-000002")
    assert (refused.code, refused.boot, refused.payload) == ("not_cbor", None, b"\xff\x00")
    assert device(cloud, "br-000001")["held"]["implausible_time"] == 1
    report = completeness(cloud, "br-000001")
    assert [(h["seq"], h["source"]) for h in report["held"]] == [(9, "gateway")]

    assert upload(cloud, "gw-two", entries).status_code == 403  # gw-one's token
    bad = dict(entries[0], id=19, payload_b64="not base64!")
    assert upload(cloud, "gw-one", [bad]).status_code == 422
    too_many = [dict(entries[1], id=100 + n) for n in range(501)]
    assert upload(cloud, "gw-one", too_many).status_code == 422


def test_a_record_of_another_gateways_device_counts_nowhere(cloud: Cloud) -> None:
    now = now_s(cloud)
    foreign = item("br-000009", fix(1, 0, now + 7200))  # br-000009 is served by gw-two
    assert upload(cloud, "gw-one", [entry(1, foreign, IMPLAUSIBLE_TIME, "...")]).status_code == 200
    assert device(cloud, "br-000009")["held"]["implausible_time"] == 0


def test_the_clock_moving_on_makes_nothing_held_afterwards(cloud: Cloud) -> None:
    # A record judged at arrival stays judged: the quarantine is not re-read later.
    now = now_s(cloud)
    assert cloud.send("gw-one", [item("br-000002", fix(1, 0, now + 600))]).status_code == 200
    cloud.clock.advance(timedelta(hours=1).total_seconds())
    assert cloud.send("gw-one", [item("br-000002", fix(1, 1, now + 610))]).status_code == 200
    assert [row["seq"] for row in cloud.points("location", "br-000002")] == [1]
    assert completeness(cloud, "br-000002")["held_by_code"] == {IMPLAUSIBLE_TIME: 1}
