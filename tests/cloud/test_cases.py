# ruff: noqa: RUF001  (case numbers are written with the office's own brackets)
"""Public-interest cases of rivers on a real PostgreSQL: opened from a clue by a
prosecutor, moved through the workflow with the law's deadlines, reminders and overdue
replies raised by the scheduler, a river chief on the same case, statistics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cloud_support import PASSWORD, Cloud, database
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from cloud.alerts.models import Alert
from cloud.db.engine import make_engine, make_sessions
from cloud.identity.models import Role
from cloud.identity.service import add_user, get_user
from cloud.rivers import service as rivers
from cloud.rivers.checks import RiverCheckSettings
from cloud.scheduler.runner import Scheduler, SchedulerSettings
from cloud.supervision.checks import CheckSettings
from cloud.supervision.evaluate import AlertPolicy

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def river_cloud(cloud: Cloud) -> Cloud:
    with database(cloud) as session:
        add_user(session, "chief-two", PASSWORD, Role.river_chief, cloud.clock())
        for code, chief in (("HP-001", "river-chief"), ("SZ-002", "chief-two")):
            river, _new = rivers.put_river(
                session, rivers.check_river(rivers.RiverInput(code, code)), cloud.clock()
            )
            rivers.appoint_chief(session, river, get_user(session, chief), "town", cloud.clock())
    cloud.people["chief-two"] = "river_chief"
    return cloud


_engines: list[Any] = []


@pytest.fixture(autouse=True)
def _dispose_engines() -> Iterator[None]:
    yield
    while _engines:
        _engines.pop().dispose()


def tick(cloud: Cloud) -> None:
    engine = make_engine(str(cloud.settings.database_url))
    _engines.append(engine)
    Scheduler(
        make_sessions(engine),
        cloud.clock,
        SchedulerSettings(
            interval_s=1,
            lease_ttl_s=30,
            escalate_after_s={},
            checks=CheckSettings(absent_after_s=10**9, gateway_silent_after_s=10**9),
            timezone=SHANGHAI,
            policy=AlertPolicy(),
            rivers=RiverCheckSettings(every_s=1, silent_after_s=10**6),
            case_reminder_days=7,
        ),
        holder="replica-a",
    ).tick()


def case_alerts(cloud: Cloud) -> list[Alert]:
    with database(cloud) as session:
        found = list(
            session.scalars(select(Alert).where(Alert.case_id.is_not(None)).order_by(Alert.id))
        )
        session.expunge_all()
        return found


def today(cloud: Cloud) -> Any:
    return cloud.clock().astimezone(SHANGHAI).date()


def test_an_administrative_case_from_clue_to_a_late_reply(river_cloud: Cloud) -> None:
    cloud = river_cloud
    prosecutor, chief = cloud.login("prosecutor"), cloud.login("river-chief")
    start = today(cloud) - timedelta(days=60)
    made = cloud.client.post(
        "/api/v1/cases",
        json={
            "number": "沪奉检公益立〔2026〕12号",
            "variant": "administrative",
            "title": "Sewage into the Huangpu at the east bridge",
            "rivers": ["HP-001"],
            "clue_on": start.isoformat(),
            "agency": "the district water bureau",
        },
        headers=prosecutor,
    )
    assert made.status_code == 201, made.text
    number = made.json()["number"]
    assert made.json()["next_steps"] == ["opened", "closed"]
    assert (
        cloud.client.post(
            "/api/v1/cases",
            json={**made.json(), "clue_on": start.isoformat(), "rivers": ["HP-001"]},
            headers=prosecutor,
        ).status_code
        == 409
    )
    # A chief records nothing; a step out of order is refused with what may come next.
    url = f"/api/v1/cases/{number}/steps"
    assert (
        cloud.client.post(
            url, json={"step": "opened", "on": start.isoformat()}, headers=chief
        ).status_code
        == 403
    )
    wrong = cloud.client.post(
        url, json={"step": "replied", "on": start.isoformat()}, headers=prosecutor
    )
    assert wrong.status_code == 409
    assert "cannot go to replied; next: opened, closed" in wrong.text
    for step, day in (
        ("opened", start + timedelta(days=1)),
        ("suggestion", start + timedelta(days=2)),
    ):
        answer = cloud.client.post(
            url, json={"step": step, "on": day.isoformat()}, headers=prosecutor
        )
        assert answer.status_code == 200, answer.text
    detail = answer.json()
    issued = start + timedelta(days=2)
    due = detail["due"]
    assert detail["steps"][-1] == {
        **detail["steps"][-1],
        "step": "suggestion",
        "due": due,
        "by": "prosecutor",
    }
    assert due == (issued + relativedelta(months=2)).isoformat()
    # Two months from 58 days ago: due in a few days, within the reminder's 7.
    tick(cloud)
    (soon,) = case_alerts(cloud)
    assert soon.cause == "reply_due_soon"
    assert due in soon.summary
    # The river's chief sees the case and its reminder; another chief sees neither.
    assert [c["number"] for c in cloud.client.get("/api/v1/cases", headers=chief).json()] == [
        number
    ]
    assert [a["case_id"] for a in cloud.client.get("/api/v1/alerts", headers=chief).json()] == [
        soon.case_id
    ]
    other = cloud.login("chief-two")
    assert cloud.client.get("/api/v1/cases", headers=other).json() == []
    assert cloud.client.get(f"/api/v1/cases/{number}", headers=other).status_code == 404
    assert cloud.client.get("/api/v1/alerts", headers=other).json() == []
    # The deadline passes with no reply: overdue, and the reminder ends.
    cloud.clock.advance(10 * 86400)
    prosecutor, chief = cloud.login("prosecutor"), cloud.login("river-chief")  # new tokens
    tick(cloud)
    found = {a.cause: a for a in case_alerts(cloud)}
    assert found["reply_overdue"].cause_ended_at is None
    assert found["reply_due_soon"].cause_ended_at is not None
    # The reply comes late: the overdue cause ends; the statistics count it as late.
    late = today(cloud).isoformat()
    answer = cloud.client.post(
        url, json={"step": "replied", "on": late, "note": "works begun"}, headers=prosecutor
    )
    assert answer.status_code == 200, answer.text
    tick(cloud)
    assert all(a.cause_ended_at is not None for a in case_alerts(cloud))
    stats = cloud.client.get("/api/v1/cases/statistics", headers=prosecutor).json()
    (hp,) = [r for r in stats["rivers"] if r["river"] == "HP-001"]
    assert (hp["cases"], hp["suggestions"], hp["replies"], hp["replies_on_time"]) == (1, 1, 1, 0)
    assert stats["total"]["cases"] == 1
    assert stats["rivers_by_class"] == {"not judged": 2}
    chief_stats = cloud.client.get("/api/v1/cases/statistics", headers=chief).json()
    assert [r["river"] for r in chief_stats["rivers"]] == ["HP-001"]


def test_a_civil_case_waits_for_its_announcement(river_cloud: Cloud) -> None:
    cloud = river_cloud
    prosecutor = cloud.login("prosecutor")
    start = today(cloud) - timedelta(days=45)
    made = cloud.client.post(
        "/api/v1/cases",
        json={
            "number": "沪奉检民公〔2026〕3号",
            "variant": "civil",
            "title": "A factory's discharge into Suzhou Creek",
            "rivers": ["SZ-002"],
            "clue_on": start.isoformat(),
        },
        headers=prosecutor,
    )
    assert made.status_code == 201, made.text
    url = "/api/v1/cases/沪奉检民公〔2026〕3号/steps"
    announced = start + timedelta(days=10)
    for step, day in (("opened", start + timedelta(days=1)), ("announced", announced)):
        assert (
            cloud.client.post(
                url, json={"step": step, "on": day.isoformat()}, headers=prosecutor
            ).status_code
            == 200
        )
    early = cloud.client.post(
        url,
        json={"step": "suit", "on": (announced + timedelta(days=30)).isoformat()},
        headers=prosecutor,
    )
    assert early.status_code == 409
    assert "a civil suit may be filed after it" in early.text
    tick(cloud)
    (ended,) = case_alerts(cloud)
    assert ended.cause == "announcement_ended"
    future = cloud.client.post(
        url,
        json={"step": "suit", "on": (today(cloud) + timedelta(days=1)).isoformat()},
        headers=prosecutor,
    )
    assert future.status_code == 422
    suit = cloud.client.post(
        url,
        json={"step": "suit", "on": (announced + timedelta(days=31)).isoformat()},
        headers=prosecutor,
    )
    assert suit.status_code == 200, suit.text
    assert suit.json()["next_steps"] == ["judged", "closed"]
    tick(cloud)
    assert case_alerts(cloud)[0].cause_ended_at is not None
