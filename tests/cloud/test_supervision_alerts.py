"""Supervision's rules and alerts through the real ingest path: PostgreSQL and InfluxDB
from the harness, batches as a gateway sends them."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from cloud_support import T0, Cloud, batch_body, database, item, served
from sqlalchemy import select

from cloud.alerts import service as alerts
from cloud.alerts.models import Alert
from cloud.api.app import create_app
from cloud.db.engine import make_engine, make_sessions
from cloud.identity.service import get_user
from cloud.scheduler.models import SchedulerLease
from cloud.scheduler.runner import Scheduler, SchedulerSettings
from cloud.supervision import service as supervision
from cloud.supervision.checks import CheckSettings
from cloud.supervision.evaluate import AlertPolicy
from cloud.supervision.models import LocateRequest, RollCall
from core import contract as c
from core.messages import Event, EventFix, Health, LocationFix, Message

HOME_LAT, HOME_LON = 31.1234567, 121.4567890
SHANGHAI = ZoneInfo("Asia/Shanghai")


def north_of_home(metres: float) -> tuple[int, int]:
    lat = HOME_LAT + math.degrees(metres / 6_371_008.8)
    return round(lat * 1e7), round(HOME_LON * 1e7)


def fix_at(seq: int, ts: int, metres: float, accuracy_m: int = 10, boot: int = 1) -> LocationFix:
    lat_e7, lon_e7 = north_of_home(metres)
    return LocationFix(boot, seq, ts, lat_e7, lon_e7, accuracy_m, c.FIX_GNSS)


def home_zone(cloud: Cloud, radius_m: float = 200, dwell_s: int = 30, schedule: str = "") -> int:
    with database(cloud) as session:
        person = supervision.get_person(session, "case-2026-001")
        zone = supervision.add_zone(
            session,
            supervision.ZoneInput(
                "home",
                "inclusion",
                "circle",
                {"lat": HOME_LAT, "lon": HOME_LON, "radius_m": radius_m},
                role="home",
                schedule=schedule,
                dwell_s=dwell_s,
            ),
            None,
            cloud.clock(),
        )
        supervision.assign_zone(session, zone, person)
        return zone.id


def send(
    cloud: Cloud, records: list[Message], device: str = "br-000001", **kw: Any
) -> httpx.Response:
    response = cloud.send("gw-one", [item(device, r) for r in records], **kw)
    assert response.status_code == 200, response.text
    return response


def all_alerts(cloud: Cloud) -> list[Alert]:
    with database(cloud) as session:
        found = list(session.scalars(select(Alert).order_by(Alert.id)))
        session.expunge_all()
        return found


def test_a_walk_out_of_home_raises_one_alert_that_explains_itself(cloud: Cloud) -> None:
    zone_id = home_zone(cloud)
    walk = [
        fix_at(i, T0 + 15 * i, metres)
        for i, metres in enumerate([20, 40, 60, 300, 320, 340, 360, 380])
    ]
    send(cloud, walk[:5])
    send(cloud, walk[5:])
    found = all_alerts(cloud)
    assert [(a.cause, a.zone_id, a.status) for a in found] == [("zone_left", zone_id, "open")]
    alert = found[0]
    assert alert.happened_at == datetime.fromtimestamp(T0 + 45, UTC)  # the first fix outside
    assert alert.raised_at == cloud.clock()  # known when the batch came: later than it happened
    assert alert.occurrences == 3  # raised, then updated by the next two outside fixes
    explanation = alerts.explanation_of(alert)
    assert explanation["rule"]["zone"] == "home"
    assert explanation["rule"]["dwell_s"] == 30
    assert [f["seq"] for f in explanation["fixes"]] == [3, 5]
    assert all(f["verdict"] == "outside" for f in explanation["fixes"])
    assert explanation["fixes"][0]["edge_distance_m"] == pytest.approx(100, abs=1)


def test_gps_jitter_and_coarse_fixes_at_the_edge_raise_nothing(cloud: Cloud) -> None:
    home_zone(cloud)
    # Around the 200 m edge: cell fixes of 300 m (undecided), GNSS flickering across it
    # for less than the dwell time.
    records = [
        fix_at(i, T0 + 10 * i, m, acc)
        for i, (m, acc) in enumerate(
            [
                (150, 10),
                (160, 10),
                (190, 10),
                (230, 10),
                (180, 10),
                (250, 300),
                (400, 500),
                (215, 10),
                (170, 10),
                (120, 10),
                (260, 400),
                (150, 10),
            ]
        )
    ]
    send(cloud, records)
    assert all_alerts(cloud) == []


def test_a_batch_sent_again_and_a_second_replica_raise_no_duplicate(cloud: Cloud) -> None:
    home_zone(cloud)
    walk = [fix_at(i, T0 + 15 * i, m) for i, m in enumerate([20, 40, 60, 300, 320, 340])]
    _batch_id, body = batch_body("gw-one", [item("br-000001", r) for r in walk[:4]])
    assert cloud.ingest(cloud.gateway_tokens["gw-one"], body).status_code == 200
    assert cloud.ingest(cloud.gateway_tokens["gw-one"], body).json()["duplicate_batch"]
    # The candidate "outside" (seq 3) lives in the database: another replica confirms it.
    with (
        served(create_app(cloud.settings, cloud.clock)) as other_url,
        httpx.Client(base_url=other_url, timeout=60) as other,
    ):
        _id, body = batch_body("gw-one", [item("br-000001", r) for r in walk[4:]])
        response = other.post(
            "/api/v1/ingest",
            content=body,
            headers={
                "Content-Type": "application/cbor",
                "Content-Encoding": "gzip",
                "Authorization": f"Bearer {cloud.gateway_tokens['gw-one']}",
            },
        )
        assert response.status_code == 200, response.text
    assert [(a.cause, a.occurrences) for a in all_alerts(cloud)] == [("zone_left", 1)]


def test_late_records_are_evaluated_in_device_time(cloud: Cloud) -> None:
    home_zone(cloud)
    cloud.clock.advance(6 * 3600)  # the bracelet was offline: its buffer arrives hours later
    walk = [
        fix_at(i, T0 + 15 * i, m) for i, m in enumerate([20, 40, 60, 300, 320, 340, 30, 20, 10])
    ]
    send(cloud, walk)
    (alert,) = all_alerts(cloud)
    assert alert.happened_at == datetime.fromtimestamp(T0 + 45, UTC)
    assert alert.cause_ended_at == datetime.fromtimestamp(T0 + 90, UTC)  # back home then
    assert (alert.raised_at - alert.happened_at) > timedelta(hours=6)


def test_events_raise_their_alerts_and_the_strap_closing_ends_the_cause(cloud: Cloud) -> None:
    here = EventFix(*north_of_home(10), 10, c.FIX_GNSS)
    send(cloud, [Event(1, 0, T0, c.EV_STRAP_OPENED, fix=here)])
    send(cloud, [Event(1, 1, T0 + 5, c.EV_STRAP_OPENED, fix=here)])  # the same cause again
    send(cloud, [Event(1, 2, T0 + 60, c.EV_STRAP_CLOSED), Event(1, 3, T0 + 70, c.EV_SOS, fix=here)])
    send(cloud, [Health(1, 4, T0 + 80, 12, False), Health(1, 5, T0 + 90, 11, False)])
    found = {a.cause: a for a in all_alerts(cloud)}
    assert sorted(found) == ["low_battery", "sos", "strap_opened"]
    strap = found["strap_opened"]
    assert (strap.severity, strap.occurrences) == ("critical", 2)
    assert strap.cause_ended_at == datetime.fromtimestamp(T0 + 60, UTC)
    assert found["low_battery"].occurrences == 1  # not one per health report
    assert alerts.explanation_of(found["sos"])["fixes"][0]["accuracy_m"] == 10


def test_an_alert_is_acknowledged_resolved_with_a_note_and_escalates_when_left(
    cloud: Cloud,
) -> None:
    send(cloud, [Event(1, 0, T0, c.EV_SOS)])
    send(cloud, [Event(1, 1, T0 + 1, c.EV_POWER_OFF)])
    sos, _power = all_alerts(cloud)
    later = cloud.clock() + timedelta(seconds=301)
    with database(cloud) as session:
        user = get_user(session, "prosecutor")
        escalated = alerts.escalate_due(session, {"critical": 300, "major": 900}, later)
        assert [a.id for a in escalated] == [sos.id]  # the major one may wait 900 s
        assert alerts.escalate_due(session, {"critical": 300}, later) == []  # once per level
        alerts.acknowledge(session, sos.id, user.id, later, "calling him")
        with pytest.raises(Exception, match="needs a note"):
            alerts.resolve(session, sos.id, user.id, "  ", later)
        alerts.resolve(session, sos.id, user.id, "false press, confirmed by phone", later)
        steps = [(s.step, s.by_user) for s in alerts.steps_of(session, sos.id)]
    assert steps == [
        ("raised", None),
        ("escalated", None),
        ("acknowledged", user.id),
        ("resolved", user.id),
    ]
    # Resolved: the next SOS is a new alert, not an update of the old one.
    send(cloud, [Event(1, 2, T0 + 600, c.EV_SOS)])
    assert [(a.cause, a.status) for a in all_alerts(cloud)] == [
        ("sos", "resolved"),
        ("power_off", "open"),
        ("sos", "open"),
    ]


_engines: list[Any] = []


@pytest.fixture(autouse=True)
def _dispose_engines() -> Iterator[None]:
    yield
    while _engines:
        _engines.pop().dispose()


def scheduler(cloud: Cloud, holder: str, **checks: Any) -> Scheduler:
    """A replica's scheduler on the test's database (its ticks driven by the test)."""
    engine = make_engine(str(cloud.settings.database_url))
    _engines.append(engine)
    return Scheduler(
        make_sessions(engine),
        cloud.clock,
        SchedulerSettings(
            interval_s=1,
            lease_ttl_s=30,
            escalate_after_s={"critical": 300},
            checks=CheckSettings(**checks),
            timezone=SHANGHAI,
            policy=AlertPolicy(),
        ),
        holder=holder,
    )


def test_one_replica_at_a_time_runs_the_checks_and_another_takes_over_an_expired_lease(
    cloud: Cloud,
) -> None:
    first, second = scheduler(cloud, "replica-a"), scheduler(cloud, "replica-b")
    assert first.tick() is True
    assert second.tick() is False
    cloud.clock.advance(10)
    assert (first.tick(), second.tick()) == (True, False)  # renewed by its holder
    cloud.clock.advance(31)  # replica-a stopped renewing (killed)
    assert second.tick() is True
    assert first.tick() is False
    with database(cloud) as session:
        assert session.get(SchedulerLease, "supervision-checks").holder == "replica-b"


def test_a_silent_gateway_is_one_alert_and_a_silent_bracelet_under_a_live_gateway_another(
    cloud: Cloud,
) -> None:
    with database(cloud) as session:
        for n, device in enumerate(("br-000001", "br-000002")):
            person = (
                supervision.get_person(session, "case-2026-001")
                if n == 0
                else supervision.add_person(session, "case-2026-002", "Li Si")
            )
            supervision.assign_bracelet(session, person, device, cloud.clock(), None)
    send(cloud, [fix_at(0, int(cloud.clock().timestamp()) - 5, 10)])  # the gateway is alive
    runner = scheduler(cloud, "replica-a", absent_after_s=900, gateway_silent_after_s=120)
    runner.tick()
    assert all_alerts(cloud) == []
    cloud.clock.advance(1000)  # nothing at all: the gateway went silent
    runner.tick()
    runner.tick()
    assert [(a.cause, a.gateway_id, a.person_id) for a in all_alerts(cloud)] == [
        ("gateway_unreachable", "gw-one", None)
    ]
    # The gateway is back; br-000002 has sent nothing for 1000 s: absent.
    send(cloud, [fix_at(1, int(cloud.clock().timestamp()) - 2, 10)])
    runner.tick()
    found = all_alerts(cloud)
    assert [(a.cause, a.device_id) for a in found] == [
        ("gateway_unreachable", None),
        ("no_fix", "br-000002"),
    ]
    assert found[0].cause_ended_at is not None


def test_travel_rules_levels_and_an_overdue_trip(cloud: Cloud) -> None:
    now = cloud.clock()
    with database(cloud) as session:
        person = supervision.get_person(session, "case-2026-001")
        county = supervision.add_zone(
            session,
            supervision.ZoneInput(
                "county",
                "inclusion",
                "circle",
                {"lat": HOME_LAT, "lon": HOME_LON, "radius_m": 5000},
                role="county",
                dwell_s=0,
            ),
            None,
            now,
        )
        supervision.assign_zone(session, county, person)
        with pytest.raises(Exception, match="at most 30 days"):
            supervision.request_trip(
                session, person, "Beijing", now, now + timedelta(days=31), None, now
            )
        long_trip = supervision.request_trip(
            session, person, "Beijing", now, now + timedelta(days=10), None, now
        )
        assert long_trip.approval_level == "county"
        with pytest.raises(Exception, match="county level"):
            supervision.decide_trip(session, long_trip, True, "local", None, now)
        short = supervision.request_trip(
            session, person, "Hangzhou", now, now + timedelta(hours=6), None, now
        )
        assert short.approval_level == "local"
        supervision.decide_trip(session, short, True, "local", None, now)
    start = int(now.timestamp())
    # Away during the permit: no zone_left. Still away after it and its grace: overdue.
    send(
        cloud, [LocationFix(1, i, start + 600 * i, *north_of_home(20_000), 10, 1) for i in range(5)]
    )
    assert all_alerts(cloud) == []
    cloud.clock.advance(6 * 3600 + 901)
    runner = scheduler(cloud, "replica-a", trip_grace_s=900)
    runner.tick()
    late = int(cloud.clock().timestamp())
    causes = [a.cause for a in all_alerts(cloud)]
    assert "trip_overdue" in causes
    send(cloud, [fix_at(10 + i, late + 10 * i, 100) for i in range(3)])  # back in the county
    overdue = next(a for a in all_alerts(cloud) if a.cause == "trip_overdue")
    assert overdue.cause_ended_at is not None
    with database(cloud) as session:
        assert supervision.get_permit(session, short.id).status == "returned"


def _county_and_permit(cloud: Cloud, hours: int = 6) -> tuple[int, int]:
    """A 5 km county around home and an approved permit from now for ``hours``."""
    now = cloud.clock()
    with database(cloud) as session:
        person = supervision.get_person(session, "case-2026-001")
        county = supervision.add_zone(
            session,
            supervision.ZoneInput(
                "county",
                "inclusion",
                "circle",
                {"lat": HOME_LAT, "lon": HOME_LON, "radius_m": 5000},
                role="county",
                dwell_s=0,
            ),
            None,
            now,
        )
        supervision.assign_zone(session, county, person)
        permit = supervision.request_trip(
            session, person, "Hangzhou", now, now + timedelta(hours=hours), None, now
        )
        supervision.decide_trip(session, permit, True, "local", None, now)
        return permit.id, int(permit.ends_at.timestamp())


def test_a_trip_that_ends_with_the_wearer_away_is_one_trip_overdue_not_a_zone_left(
    cloud: Cloud,
) -> None:
    permit_id, end = _county_and_permit(cloud)
    start = int(cloud.clock().timestamp())
    send(cloud, [fix_at(i, start + 600 * i, 20_000) for i in range(3)])  # away, as allowed
    cloud.clock.advance(end - start + 2000)
    # Still away after the end, within the grace (900 s): nothing yet.
    send(cloud, [fix_at(10, end + 300, 20_000), fix_at(11, end + 600, 20_000)])
    assert all_alerts(cloud) == []
    # Past the grace, a sure fix away: one trip_overdue, dated the permit's end; no zone_left.
    send(cloud, [fix_at(12, end + 901, 20_000), fix_at(13, end + 1200, 19_000)])
    send(cloud, [fix_at(14, end + 1500, 18_000)])
    found = all_alerts(cloud)
    assert [a.cause for a in found] == ["trip_overdue"]
    overdue = found[0]
    assert overdue.happened_at == datetime.fromtimestamp(end, UTC)
    assert overdue.occurrences == 3
    assert "not back from Hangzhou" in overdue.summary
    explanation = alerts.explanation_of(overdue)
    assert explanation["permit"]["id"] == permit_id
    assert explanation["fixes"][0]["verdict"] == "outside"
    with database(cloud) as session:
        assert supervision.get_permit(session, permit_id).status == "overdue"
    # The scheduler's own check raises no second one.
    scheduler(cloud, "replica-a", trip_grace_s=900).tick()
    assert [a.cause for a in all_alerts(cloud)] == ["trip_overdue"]
    # Back: the cause ends, the permit is returned.
    send(cloud, [fix_at(20 + i, end + 1800 + 10 * i, 100) for i in range(2)])
    overdue = all_alerts(cloud)[0]
    assert overdue.cause_ended_at is not None
    with database(cloud) as session:
        assert supervision.get_permit(session, permit_id).status == "returned"


def test_coarse_fixes_back_near_the_county_edge_raise_no_overdue_trip(cloud: Cloud) -> None:
    permit_id, end = _county_and_permit(cloud)
    start = int(cloud.clock().timestamp())
    send(cloud, [fix_at(i, start + 600 * i, 20_000) for i in range(3)])  # away
    cloud.clock.advance(end - start + 2000)
    # Home before the end, indoors, 300 m inside the county's edge on Wi-Fi (500 m): every
    # fix undecided for the county, so none shows the return, and none shows the person away.
    wifi = [
        LocationFix(1, 10 + i, end - 600 + 400 * i, *north_of_home(4_700), 500, c.FIX_WIFI)
        for i in range(6)
    ]
    send(cloud, wifi)
    scheduler(cloud, "replica-a", trip_grace_s=900).tick()
    assert all_alerts(cloud) == []
    with database(cloud) as session:
        assert supervision.get_permit(session, permit_id).status == "approved"


def test_a_term_is_reminded_before_it_ends_and_monitoring_past_it_is_an_alert(cloud: Cloud) -> None:
    from cloud.supervision.measures import Measure

    today = cloud.clock().astimezone(SHANGHAI).date()
    with database(cloud) as session:
        person = supervision.add_person(
            session,
            "case-2026-003",
            "Wang Wu",
            measure=Measure.corrections_ep,
            term_start=today - timedelta(days=80),
            term_end=today + timedelta(days=3),
        )
        supervision.assign_bracelet(session, person, "br-000002", cloud.clock(), None)
        with pytest.raises(Exception, match="at most 3 months"):
            supervision.add_person(
                session,
                "case-2026-004",
                "Zhao Liu",
                measure=Measure.corrections_ep,
                term_start=today,
                term_end=today + timedelta(days=100),
            )
    runner = scheduler(cloud, "replica-a", term_reminder_days=7)
    runner.tick()
    assert [a.cause for a in all_alerts(cloud) if a.person_id == person.id] == ["term_ending"]
    cloud.clock.advance(5 * 86400)
    runner.tick()
    assert sorted(a.cause for a in all_alerts(cloud) if a.person_id == person.id) == [
        "term_ending",
        "term_exceeded",
    ]


def test_a_roll_call_goes_to_the_bracelet_and_a_missing_answer_is_an_alert(cloud: Cloud) -> None:
    with database(cloud) as session:
        person = supervision.get_person(session, "case-2026-001")
        supervision.assign_bracelet(session, person, "br-000001", cloud.clock(), None)
        answered = supervision.send_roll_call(session, person, 60, cloud.clock())
        unanswered = supervision.send_roll_call(session, person, 60, cloud.clock())
        ids = (answered.id, answered.command_id, unanswered.id)
    downlink = cloud.client.get(
        "/api/v1/gateways/downlink",
        headers={"Authorization": f"Bearer {cloud.gateway_tokens['gw-one']}"},
    )
    assert downlink.status_code == 200, downlink.text
    assert [m["channel"] for m in downlink.json()["messages"]].count("cmd") == 2
    ts = int(cloud.clock().timestamp())
    send(
        cloud,
        [
            Event(
                1,
                0,
                ts + 20,
                c.EV_ROLL_CALL_RESPONSE,
                command_id=ids[1],
                roll_call_result=c.ROLL_CALL_ANSWERED,
                response_s=20,
                fix=EventFix(*north_of_home(5), 8, c.FIX_GNSS),
            )
        ],
    )
    cloud.clock.advance(60 + 121)
    scheduler(cloud, "replica-a", roll_call_grace_s=120).tick()
    with database(cloud) as session:
        statuses = {rc.id: rc.status for rc in session.scalars(select(RollCall))}
    assert statuses == {ids[0]: "answered", ids[2]: "missed"}
    assert [a.cause for a in all_alerts(cloud) if a.person_id] == ["roll_call_missed"]


def test_a_persons_zones_travel_to_the_bracelet_in_its_config_once_per_change(
    cloud: Cloud,
) -> None:
    from cloud.fleet.models import Device
    from cloud.fleet.service import last_issued_config

    with database(cloud) as session:
        person = supervision.get_person(session, "case-2026-001")
        supervision.assign_bracelet(session, person, "br-000001", cloud.clock(), None)
    zone_id = home_zone(cloud, schedule="Mon-Sun 22:00-06:00")
    runner = scheduler(cloud, "replica-a")
    runner.tick()
    runner.tick()  # nothing changed: nothing sent again
    with database(cloud) as session:
        device = session.get(Device, "br-000001")
        config = last_issued_config(session, device)
        assert device.issued_config_version == 1
    assert [z.zone_id for z in config.zones] == [zone_id]
    assert config.zones[0].windows == [(127, 22 * 60, 6 * 60)]
    assert config.zones[0].circle == (round(HOME_LAT * 1e7), round(HOME_LON * 1e7), 200)
    assert config.setting("utc_offset_min") == 480  # Asia/Shanghai
    with database(cloud) as session:
        zone = supervision.get_zone(session, zone_id)
        supervision.set_zone_active(zone, False, cloud.clock())
    runner.tick()
    with database(cloud) as session:
        device = session.get(Device, "br-000001")
        assert device.issued_config_version == 2
        assert last_issued_config(session, device).zones == []


def test_a_new_bracelet_carries_on_the_persons_state_and_answers_a_locate_request(
    cloud: Cloud,
) -> None:
    home_zone(cloud)
    send(cloud, [fix_at(100 + i, T0 + 15 * i, 20) for i in range(4)])  # home, seq 100..103
    with database(cloud) as session:
        person = supervision.get_person(session, "case-2026-001")
        supervision.assign_bracelet(session, person, "br-000002", cloud.clock(), None)
        request = supervision.locate_now(session, person, cloud.clock(), None)
        request_id = request.id
    ts = int(cloud.clock().timestamp())
    # The new bracelet counts from seq 0: its fixes are newer than the old one's seq 103.
    send(cloud, [fix_at(i, ts + 15 * i, 400) for i in range(4)], device="br-000002")
    (alert,) = all_alerts(cloud)
    assert (alert.cause, alert.device_id) == ("zone_left", "br-000002")
    with database(cloud) as session:
        located = session.get(LocateRequest, request_id)
        assert located is not None
        assert located.located_at == datetime.fromtimestamp(ts, UTC)
        history = [
            (a.device_id, a.ended_at is None)
            for a in supervision.assignments_of(session, person.id)
        ]
    assert history == [("br-000001", False), ("br-000002", True)]
