"""The rivers' checks on real PostgreSQL and InfluxDB: samples sent as a gateway sends
them, the scheduler's tick judging and classing them; a site worse than its target is one
alert that names the deciding parameter, a calibrating value counts for nothing, a silent
station is an alert, and a river chief sees only the alerts of their sites."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cloud_support import Cloud, database, item
from sqlalchemy import select

from cloud.alerts import service as alerts
from cloud.alerts.models import Alert
from cloud.db.engine import make_engine, make_sessions
from cloud.rivers.checks import RiverCheckSettings
from cloud.rivers.models import RiverSite
from cloud.scheduler.runner import Scheduler, SchedulerSettings
from cloud.supervision.checks import CheckSettings
from cloud.supervision.evaluate import AlertPolicy
from cloud.timeseries.queries import rows_of
from core import contract as c
from core.messages import WaterSample

PH, DO, NH3N = c.WATER_PARAMETER_IDS["ph"], 3, c.WATER_PARAMETER_IDS["ammonia_nitrogen"]
EVERY_S = 300


def target(cloud: Cloud, site_id: str, cls: int, waterbody: str = "river") -> None:
    with database(cloud) as session:
        site = session.get(RiverSite, site_id)
        assert site is not None
        site.target_class, site.waterbody = cls, waterbody


def sample(seq: int, ts: int, ammonia: float, status: int | None = None) -> WaterSample:
    # pH and oxygen of class I, with the last digit moving as a real sonde's does.
    values = {PH: 720 + seq % 7, DO: 800 + seq % 5, NH3N: round(ammonia * 1000)}
    return WaterSample(1, seq, ts, values, {NH3N: status} if status is not None else None)


def send(cloud: Cloud, samples: list[WaterSample], device: str = "rs-000001") -> None:
    response = cloud.send("gw-one", [item(device, s) for s in samples])
    assert response.status_code == 200, response.text


_engines: list[Any] = []


@pytest.fixture(autouse=True)
def _dispose_engines() -> Iterator[None]:
    yield
    while _engines:
        _engines.pop().dispose()


def scheduler(cloud: Cloud, **rivers: Any) -> Scheduler:
    engine = make_engine(str(cloud.settings.database_url))
    _engines.append(engine)
    return Scheduler(
        make_sessions(engine),
        cloud.clock,
        SchedulerSettings(
            interval_s=1,
            lease_ttl_s=30,
            escalate_after_s={},
            checks=CheckSettings(absent_after_s=10**9, gateway_silent_after_s=10**9),
            timezone=ZoneInfo("Asia/Shanghai"),
            policy=AlertPolicy(),
            rivers=RiverCheckSettings(every_s=1, **rivers),
        ),
        holder="replica-a",
        query=lambda s: rows_of(cloud.influx.query(s.text, s.params)),
    )


def site_alerts(cloud: Cloud) -> list[Alert]:
    with database(cloud) as session:
        found = list(
            session.scalars(select(Alert).where(Alert.site_id.is_not(None)).order_by(Alert.id))
        )
        session.expunge_all()
        return found


def test_a_site_worse_than_its_target_is_one_alert_naming_the_deciding_parameter(
    cloud: Cloud,
) -> None:
    target(cloud, "site-east", 3)
    start = int(cloud.clock().timestamp()) - 20 * EVERY_S
    send(cloud, [sample(i, start + EVERY_S * i, 0.3) for i in range(6)])  # class II
    runner = scheduler(cloud, silent_after_s=10**6)
    runner.tick()
    assert site_alerts(cloud) == []
    # Ammonia at 1.8 mg/L: class V, worse than III, three samples in a row.
    send(cloud, [sample(i, start + EVERY_S * i, 1.8) for i in range(6, 8)])
    cloud.clock.advance(2)
    runner.tick()
    assert site_alerts(cloud) == []  # two in a row: not yet
    send(cloud, [sample(i, start + EVERY_S * i, 1.8) for i in range(8, 10)])
    cloud.clock.advance(2)
    runner.tick()
    cloud.clock.advance(2)
    runner.tick()  # run again: the same alert, not a second
    (alert,) = site_alerts(cloud)
    assert alert.cause == "class_worse"
    assert "ammonia_nitrogen" in alert.summary
    assert "class V" in alert.summary
    assert int(alert.happened_at.timestamp()) == start + EVERY_S * 6
    explanation = alerts.explanation_of(alert)
    (deciding,) = explanation["deciding"]
    assert deciding == {
        "parameter": "ammonia_nitrogen",
        "unit": "mg/L",
        "value": 1.8,
        "class": "V",
        "target_bound": 1.0,
        "bound_kind": "max",
    }
    assert explanation["target_class"] == "III"
    # The sites' list shows the class the checks judged, for those who may see the site.
    listed = cloud.client.get("/api/v1/sites", headers=cloud.login("river-chief")).json()
    (east,) = listed
    assert (east["id"], east["water_class"], east["deciding"], east["target_class"]) == (
        "site-east",
        "V",
        ["ammonia_nitrogen"],
        "III",
    )
    days = cloud.client.get(
        "/api/v1/sites/site-east/classes",
        params={"start": "2025-12-31T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
        headers=cloud.login("river-chief"),
    )
    assert days.status_code == 200, days.text
    # 2026-01-01 in Shanghai: six samples at 0.3 and four at 1.8, a daily mean of 0.9 (III).
    (day,) = days.json()["days"]
    assert day["means"]["ammonia_nitrogen"] == 0.9
    assert (day["day"], day["water_class"], day["deciding"]) == (
        "2026-01-01",
        "III",
        ["ammonia_nitrogen"],
    )
    assert (
        cloud.client.get(
            "/api/v1/sites/site-west/classes",
            params={"start": "2025-12-31T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
            headers=cloud.login("river-chief"),
        ).status_code
        == 404
    )
    # Back within the target: the cause ends.
    send(cloud, [sample(10, start + EVERY_S * 10, 0.4)])
    cloud.clock.advance(2)
    runner.tick()
    (alert,) = site_alerts(cloud)
    assert alert.cause_ended_at is not None
    assert int(alert.cause_ended_at.timestamp()) == start + EVERY_S * 10


def test_calibrating_values_count_for_nothing(cloud: Cloud) -> None:
    target(cloud, "site-east", 3)
    start = int(cloud.clock().timestamp()) - 20 * EVERY_S
    send(
        cloud,
        [sample(i, start + EVERY_S * i, 1.8, c.VALUE_CALIBRATING) for i in range(8)],
    )
    scheduler(cloud, silent_after_s=10**6).tick()
    assert site_alerts(cloud) == []
    sites = cloud.client.get("/api/v1/sites", headers=cloud.login("prosecutor")).json()
    (east,) = [s for s in sites if s["id"] == "site-east"]
    assert east["water_class"] == "I"  # from pH and oxygen; the ammonia was calibrating
    assert east["suspect"] == {"ammonia_nitrogen": ["calibrating"]}


def test_a_lake_is_classed_by_its_own_phosphorus_limits(cloud: Cloud) -> None:
    tp = c.WATER_PARAMETER_IDS["total_phosphorus"]
    start = int(cloud.clock().timestamp()) - 20 * EVERY_S
    # 0.08 mg/L of phosphorus: class II in a river, class IV in a lake.
    records = [
        WaterSample(1, i, start + EVERY_S * i, {PH: 720 + i % 7, DO: 800 + i % 5, tp: 80 + i % 2})
        for i in range(5)
    ]
    send(cloud, records)
    target(cloud, "site-east", 3, "river")
    runner = scheduler(cloud, silent_after_s=10**6)
    runner.tick()
    assert site_alerts(cloud) == []
    target(cloud, "site-east", 3, "lake")
    cloud.clock.advance(2)
    runner.tick()
    (alert,) = site_alerts(cloud)
    assert "total_phosphorus" in alert.summary
    assert alerts.explanation_of(alert)["deciding"][0]["target_bound"] == 0.05


def test_a_silent_station_is_an_alert_and_a_chief_sees_only_their_sites(cloud: Cloud) -> None:
    now = int(cloud.clock().timestamp())
    send(cloud, [sample(0, now - 60, 0.3)])  # site-east speaks; site-west never has
    runner = scheduler(cloud, silent_after_s=3 * 3600)
    runner.tick()
    assert site_alerts(cloud) == []
    cloud.clock.advance(3 * 3600 + 10)
    send(cloud, [sample(1, int(cloud.clock().timestamp()) - 30, 0.3)])
    runner.tick()
    (silent,) = site_alerts(cloud)
    assert (silent.cause, silent.site_id) == ("station_silent", "site-west")
    # The river chief of site-east sees none of it; a prosecutor sees it.
    chief = cloud.client.get("/api/v1/alerts", headers=cloud.login("river-chief")).json()
    assert chief == []
    assert (
        cloud.client.get(
            f"/api/v1/alerts/{silent.id}", headers=cloud.login("river-chief")
        ).status_code
        == 404
    )
    seen = cloud.client.get("/api/v1/alerts", headers=cloud.login("prosecutor")).json()
    assert [a["site_id"] for a in seen] == ["site-west"]
    # Samples again: the cause ends.
    send(cloud, [sample(0, int(cloud.clock().timestamp()) - 5, 0.3)], device="rs-000002")
    cloud.clock.advance(2)
    runner.tick()
    (silent,) = site_alerts(cloud)
    assert silent.cause_ended_at is not None


def test_rules_a_chief_sets_on_their_site_raise_their_own_alerts(cloud: Cloud) -> None:
    chief = cloud.login("river-chief")
    rule = {"kind": "above", "parameter": "ammonia_nitrogen", "threshold": 1.0, "duration_s": 600}
    made = cloud.client.post("/api/v1/sites/site-east/rules", json=rule, headers=chief)
    assert made.status_code == 201, made.text
    assert made.json()["created_by"] == "river-chief"
    # Not on a site they do not watch; not with a threshold outside the physical range.
    assert (
        cloud.client.post("/api/v1/sites/site-west/rules", json=rule, headers=chief).status_code
        == 404
    )
    wrong = cloud.client.post(
        "/api/v1/sites/site-east/rules", json={**rule, "threshold": 500}, headers=chief
    )
    assert wrong.status_code == 422
    assert "from 0 to 200 mg/L" in wrong.text
    assert (
        cloud.client.post(
            "/api/v1/sites/site-east/rules", json={"kind": "silent"}, headers=chief
        ).status_code
        == 422
    )
    start = int(cloud.clock().timestamp()) - 20 * EVERY_S
    send(cloud, [sample(i, start + EVERY_S * i, 0.5) for i in range(4)])
    send(cloud, [sample(i, start + EVERY_S * i, 1.2) for i in range(4, 6)])  # 300 s: not yet
    runner = scheduler(cloud, silent_after_s=10**6)
    runner.tick()
    assert site_alerts(cloud) == []
    send(cloud, [sample(6, start + EVERY_S * 6, 1.3)])  # held 600 s
    cloud.clock.advance(2)
    runner.tick()
    (alert,) = site_alerts(cloud)
    assert alert.cause == "above_limit"
    assert "ammonia_nitrogen above 1.0 mg/L for 10 min" in alert.summary
    assert int(alert.happened_at.timestamp()) == start + EVERY_S * 4
    assert alerts.explanation_of(alert)["rule"]["id"] == made.json()["id"]
    assert [a["id"] for a in cloud.client.get("/api/v1/alerts", headers=chief).json()] == [alert.id]
    # Switched off: kept, inactive, with who did it.
    off = cloud.client.delete(f"/api/v1/water-rules/{made.json()['id']}", headers=chief)
    assert off.status_code == 200, off.text
    assert (off.json()["active"], off.json()["updated_by"]) == (False, "river-chief")
    listed = cloud.client.get("/api/v1/sites/site-east/rules", headers=chief).json()
    assert [(r["id"], r["active"]) for r in listed] == [(made.json()["id"], False)]


def test_a_class_worse_for_days_rule_on_a_river_and_a_silence_rule(cloud: Cloud) -> None:
    prosecutor = cloud.login("prosecutor")
    with database(cloud) as session:
        from cloud.rivers import service as rivers

        river = rivers.put_river(
            session, rivers.check_river(rivers.RiverInput("HP-001", "Huangpu")), cloud.clock()
        )[0]
        site = session.get(RiverSite, "site-east")
        assert site is not None
        site.river_id = river.id
    made = cloud.client.post(
        "/api/v1/rivers/HP-001/rules",
        json={"kind": "class_worse", "class_limit": 4, "days": 2},
        headers=prosecutor,
    )
    assert made.status_code == 201, made.text
    silent = cloud.client.post(
        "/api/v1/sites/site-west/rules",
        json={"kind": "silent", "duration_s": 3600, "severity": "minor"},
        headers=prosecutor,
    )
    assert silent.status_code == 201, silent.text
    # Three days of ammonia about 1.8 (class V), a sample every two hours; its last digit
    # moves (a value held for 12 h would be judged stuck and count for nothing).
    now = int(cloud.clock().timestamp())
    every = 7200
    records = [
        sample(i, now - 3 * 86400 + every * i, 1.8 + 0.01 * (i % 3))
        for i in range(3 * 86400 // every)
    ]
    send(cloud, records)
    cloud.clock.advance(3601)
    scheduler(cloud, silent_after_s=10**6).tick()
    found = {a.cause: a for a in site_alerts(cloud)}
    assert set(found) == {"class_for_days", "silent_for"}
    days = alerts.explanation_of(found["class_for_days"])["days"]
    assert [d["class"] for d in days] == ["V", "V"]
    assert found["class_for_days"].site_id == "site-east"
    assert (found["silent_for"].site_id, found["silent_for"].severity) == ("site-west", "minor")


def test_the_simulators_stuck_sensor_calibrating_sonde_and_pollution_show(cloud: Cloud) -> None:
    """The shipped scenario's river incidents, its own stations' water as the simulator
    makes it: station 2's pollution is a class alert, station 4's calibrating oxygen and
    station 5's stuck turbidity are left out with why."""
    from datetime import timedelta

    from cloud.fleet.service import add_device
    from cloud.rivers import service as rivers
    from core.receiver import DeviceKind
    from fieldwatch_dev.simulator.scenario import load_scenario
    from fieldwatch_dev.simulator.world import World

    shanghai = ZoneInfo("Asia/Shanghai")
    began = cloud.clock() - timedelta(hours=3)
    scenario = load_scenario(None)
    world = World(scenario.model_copy(update={"start": began.astimezone(shanghai)}), seed=1)
    with database(cloud) as session:
        for number in (4, 5):
            rivers.add_site(session, f"site-{number}", f"station {number}", "scenario")
            add_device(
                session,
                f"rs-00000{number}",
                DeviceKind.river_station,
                "gw-one",
                began,
                site_id=f"site-{number}",
            )
    target(cloud, "site-west", 4)  # Suzhou Creek's usual water is class IV (phosphorus)

    def water(number: int, seconds: range) -> None:
        records = []
        for _seq, at in enumerate(seconds):
            ts = world.start_ts + at
            readings = world.water(number, ts)
            values = {pid: wire for pid, (wire, _status) in readings.items() if wire is not None}
            statuses = {pid: s for pid, (_wire, s) in readings.items() if s != c.VALUE_NORMAL}
            records.append(WaterSample(1, at // 300, ts, values, statuses or None))
        send(cloud, records, device=f"rs-00000{number}")

    cloud.clock.now = began + timedelta(minutes=20)
    for number in (2, 4, 5):
        water(number, range(0, 20 * 60, 300))
    runner = scheduler(cloud, silent_after_s=10**6)
    runner.tick()
    sites = {
        s["id"]: s
        for s in cloud.client.get("/api/v1/sites", headers=cloud.login("prosecutor")).json()
    }
    assert sites["site-4"]["suspect"] == {"dissolved_oxygen": ["calibrating"]}
    cloud.clock.now = began + timedelta(hours=3)
    for number in (2, 4, 5):
        water(number, range(20 * 60, 3 * 3600, 300))
    runner.tick()
    sites = {
        s["id"]: s
        for s in cloud.client.get("/api/v1/sites", headers=cloud.login("prosecutor")).json()
    }
    assert sites["site-5"]["suspect"] == {"turbidity": ["stuck"]}
    assert sites["site-4"]["suspect"] == {}  # calibrated: its oxygen counts again
    (alert,) = [a for a in site_alerts(cloud) if a.site_id == "site-west"]
    assert alert.cause == "class_worse"
    assert "ammonia_nitrogen" in alert.summary
    assert alert.cause_ended_at is not None  # the episode is over by the end
    assert not [a for a in site_alerts(cloud) if a.site_id in ("site-4", "site-5")]


def test_each_stations_newest_sample_is_kept_and_a_late_one_does_not_replace_it(
    cloud: Cloud,
) -> None:
    now = int(cloud.clock().timestamp())
    send(cloud, [sample(5, now - 60, 0.7)])
    send(cloud, [sample(4, now - 600, 1.9, c.VALUE_CALIBRATING)])  # older, arriving later
    latest = cloud.client.get("/api/v1/sites/latest", headers=cloud.login("prosecutor")).json()
    (east,) = [s for s in latest if s["site_id"] == "site-east"]
    assert east["values"]["ammonia_nitrogen"] == 0.7
    assert east["statuses"] == {}
    assert int(datetime.fromisoformat(east["time"]).timestamp()) == now - 60
