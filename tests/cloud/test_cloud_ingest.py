"""Ingest against real PostgreSQL and InfluxDB: idempotency, refusals, completeness, status."""

from __future__ import annotations

from datetime import date

import cbor2
import pytest
from cloud_support import T0, Cloud, batch_body, fix, health, item, water
from sqlalchemy import select

from cloud.db.engine import make_engine, make_sessions
from cloud.ingest.models import DailyRecordCount
from core.forwarding import ForwardedMessage
from core.messages import Batch, Event, Status

pytestmark = pytest.mark.services

MEASUREMENTS = ("location", "health", "water", "event")


def stored(cloud: Cloud) -> dict[str, list[dict[str, object]]]:
    return {
        f"{m}/{d}": cloud.points(m, d) for m in MEASUREMENTS for d in ("br-000001", "rs-000001")
    }


def mixed_items() -> list:
    return [
        item("br-000001", fix(1, 0, T0)),
        item("br-000001", fix(1, 1, T0)),  # same second, told apart by seq
        item("br-000001", health(1, 2, T0 + 1)),
        item("br-000001", Event(1, 3, T0 + 2, code=3, battery_pct=70)),
        item("rs-000001", water(4, 17, T0, ammonia_mg_l=0.42)),
    ]


def test_a_batch_stored_twice_leaves_the_same_points(cloud: Cloud) -> None:
    batch_id, body = batch_body("gw-one", mixed_items())
    first = cloud.ingest(cloud.gateway_tokens["gw-one"], body)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "batch_id": batch_id,
        "accepted": 5,
        "duplicate_batch": False,
        "rejected": [],
    }
    before = stored(cloud)
    assert len(before["location/br-000001"]) == 2
    assert [len(before[f"{m}/br-000001"]) for m in ("health", "event")] == [1, 1]
    assert len(before["water/rs-000001"]) == 1

    again = cloud.ingest(cloud.gateway_tokens["gw-one"], body)
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate_batch": True}
    assert stored(cloud) == before

    # The same messages in a batch of another id (a gateway that planned anew):
    # every record is recognised by (device, boot, seq) and nothing changes.
    replanned = cloud.send("gw-one", mixed_items())
    assert replanned.status_code == 200
    assert replanned.json()["duplicate_batch"] is False
    assert stored(cloud) == before
    # And the day's counts (the console's "readings today") count each record once.
    assert daily_counts(cloud) == {"br-000001": 4, "rs-000001": 1}


def daily_counts(cloud: Cloud) -> dict[str, int]:
    """Records per device on the local day of T0 (2026-01-01, Asia/Shanghai by default)."""
    engine = make_engine(str(cloud.settings.database_url))
    try:
        with make_sessions(engine)() as session:
            rows = session.execute(
                select(DailyRecordCount.device_id, DailyRecordCount.records).where(
                    DailyRecordCount.day == date(2026, 1, 1)
                )
            )
            return {device_id: records for device_id, records in rows}
    finally:
        engine.dispose()


def test_a_bad_reading_is_refused_with_its_reason_and_the_good_ones_are_stored(
    cloud: Cloud,
) -> None:
    good = item("br-000001", fix(1, 0, T0))
    wire = fix(1, 1, T0).to_wire()
    wire[10] = 910_000_000  # lat_e7 outside the contract's range
    out_of_range = ForwardedMessage(
        "br-000001", "telemetry", T0 * 1000, cbor2.dumps(wire, canonical=True)
    )
    unknown = item("br-777777", fix(1, 0, T0))
    foreign = item("br-000009", fix(1, 0, T0))  # served by gw-two
    wrong_channel = item("br-000001", fix(1, 2, T0))
    wrong_channel = ForwardedMessage("br-000001", "event", T0 * 1000, wrong_channel.payload)
    response = cloud.send("gw-one", [good, out_of_range, unknown, foreign, wrong_channel])
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["accepted"] == 1
    assert [(r["index"], r["code"]) for r in answer["rejected"]] == [
        (1, "out_of_range"),
        (2, "unknown_device"),
        (3, "foreign_device"),
        (4, "wrong_channel"),
    ]
    assert "lat_e7" in answer["rejected"][0]["reason"]
    assert [row["seq"] for row in cloud.points("location", "br-000001")] == [
        0
    ]  # seq of the good one
    assert cloud.points("location", "br-000009") == []


def test_malformed_batch_is_400(cloud: Cloud) -> None:
    response = cloud.ingest(cloud.gateway_tokens["gw-one"], b"\x1f\x8b not gzip at all")
    assert response.status_code == 400
    assert "gzip" in response.json()["detail"]


def test_a_gateway_with_a_wrong_token_or_another_gateways_batch_is_refused(cloud: Cloud) -> None:
    _batch_id, body = batch_body("gw-one", [item("br-000001", fix(1, 0, T0))])
    assert cloud.ingest("fwg_not-a-token", body).status_code == 401
    no_token = cloud.client.post("/api/v1/ingest", content=body)
    assert no_token.status_code == 401
    assert no_token.headers["WWW-Authenticate"] == "Bearer"
    assert cloud.ingest(cloud.gateway_tokens["gw-two"], body).status_code == 403
    # A person's token is no gateway token.
    assert cloud.ingest(cloud.login("administrator")["Authorization"][7:], body).status_code == 401
    assert cloud.points("location", "br-000001") == []


def test_gaps_and_late_readings_are_detected_exactly(cloud: Cloud) -> None:
    device = "br-000001"
    admin = cloud.login("administrator")

    def gaps() -> list[tuple[int, int, int]]:
        response = cloud.client.get(f"/api/v1/devices/{device}/gaps", headers=admin)
        assert response.status_code == 200, response.text
        return [(g["boot"], g["first_seq"], g["last_seq"]) for g in response.json()["gaps"]]

    # Live: boot 1 seq 0..2, 5, 6, 9 (3, 4, 7, 8 lost on the way for now).
    live = [item(device, fix(1, s, T0 + s * 10)) for s in (0, 1, 2, 5, 6, 9)]
    assert cloud.send("gw-one", live).status_code == 200
    assert gaps() == [(1, 3, 4), (1, 7, 8)]

    # The device reboots; its boot 2 starts at seq 2: seq 0 and 1 are missing.
    assert cloud.send("gw-one", [item(device, fix(2, 2, T0 + 200))]).status_code == 200
    assert gaps() == [(1, 3, 4), (1, 7, 8), (2, 0, 1)]

    # Backfill: 3 and 4 in the device's catch-up batch, 7 forwarded on time but after
    # later records were stored, 2/0 held by the gateway for an hour.
    catch_up = Batch(1, [fix(1, 3, T0 + 30), fix(1, 4, T0 + 40)], ts=T0 + 300)
    held = item(device, fix(2, 0, T0 + 180), received_at_ms=(T0 + 180) * 1000 + 3_600_000)
    response = cloud.send(
        "gw-one",
        [
            item(device, catch_up, received_at_ms=(T0 + 300) * 1000),
            item(device, fix(1, 7, T0 + 70), received_at_ms=(T0 + 70) * 1000 + 100),
            held,
        ],
    )
    assert response.status_code == 200
    assert response.json()["accepted"] == 3
    assert gaps() == [(1, 8, 8), (2, 1, 1)]

    rows = cloud.client.get(
        f"/api/v1/devices/{device}/track",
        params={"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"},
        headers=admin,
    ).json()["points"]
    late = {(p["boot"], p["seq"]): p["late"] for p in rows}
    assert late == {
        (1, 0): False,
        (1, 1): False,
        (1, 2): False,
        (1, 3): True,
        (1, 4): True,
        (1, 5): False,
        (1, 6): False,
        (1, 7): True,
        (1, 9): False,
        (2, 0): True,
        (2, 2): False,
    }
    detail = cloud.client.get(f"/api/v1/devices/{device}", headers=admin).json()
    assert (detail["last_boot"], detail["last_seq"]) == (2, 2)  # late data is history only


def test_status_follows_the_device_and_its_gateways_heartbeat(cloud: Cloud) -> None:
    admin = cloud.login("administrator")

    def status(device_id: str) -> str:
        return cloud.client.get(f"/api/v1/devices/{device_id}", headers=admin).json()["status"]

    assert status("br-000001") == "gateway_unreachable"  # never heard of gw-one
    heartbeat = {
        "gateway_id": "gw-one",
        "sent_at_ms": 1,
        "uptime_s": 5.0,
        "buffer_depth": 0,
        "buffer_bytes": 0,
        "oldest_buffered_age_s": None,
        "version": "test",
    }
    gw_one = {"Authorization": f"Bearer {cloud.gateway_tokens['gw-one']}"}
    answer = cloud.client.post("/api/v1/gateways/heartbeat", json=heartbeat, headers=gw_one)
    assert answer.status_code == 200
    assert answer.json()["server_time_ms"] == int(cloud.clock().timestamp() * 1000)
    assert status("br-000001") == "unknown"
    online = item("br-000001", Status(1, 1, firmware="1.2.0"), received_at_ms=2000)
    assert cloud.send("gw-one", [online]).status_code == 200
    assert status("br-000001") == "online"
    offline = item("br-000001", Status(1, 0), received_at_ms=3000)
    stale_online = item("br-000001", Status(1, 1), received_at_ms=2500)
    assert cloud.send("gw-one", [offline, stale_online]).status_code == 200
    assert status("br-000001") == "offline"  # the status received last wins
    cloud.clock.advance(cloud.settings.gateway_silent_after_s + 1)
    assert status("br-000001") == "gateway_unreachable"
    wrong = cloud.client.post(
        "/api/v1/gateways/heartbeat", json={**heartbeat, "gateway_id": "gw-two"}, headers=gw_one
    )
    assert wrong.status_code == 403
