"""The change feed that keeps open consoles live (cloud/web/changes.py): delivered once a
transaction commits and never when it rolls back, coalesced per reader, and across
replicas on PostgreSQL: a fix ingested by one cloud process moves the marker of a map
whose event stream is held by another."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cloud_support import T0, batch_body, cloud_settings, fix, item, populate
from sqlalchemy import select

import cloud.models  # noqa: F401  (every table, so the mappers resolve their foreign keys)
from cloud.console import sessions
from cloud.db.engine import make_engine, make_sessions
from cloud.db.migrate import upgrade
from cloud.identity.models import User
from cloud.web.changes import ChangeFeed
from fieldwatch_dev.local import InfluxServer
from fieldwatch_dev.local.fieldwatch_parts import CloudServer


async def _published(feed: ChangeFeed, url: str, commit: bool) -> dict[str, set[str]]:
    subscription = feed.subscribe()
    try:
        sessions_ = make_sessions(feed._engine)
        with sessions_() as session:
            feed.publish(session, "devices", ["br-000002", "br-000001", "br-000001"])
            feed.publish(session, "devices", ["br-000003"])
            session.execute(select(1))
            if commit:
                session.commit()
            else:
                session.rollback()
        return await subscription.wait(5.0 if commit else 1.0)
    finally:
        feed.unsubscribe(subscription)


@pytest.fixture(params=["sqlite", "postgresql"])
def feed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ChangeFeed, str]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'feed.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    upgrade(engine)
    changes = ChangeFeed(engine)
    changes.start()
    if changes.across_replicas:
        assert changes.listening.wait(10), "the listener did not connect"
    try:
        yield changes, url
    finally:
        changes.stop()
        engine.dispose()


def test_a_committed_change_reaches_a_reader_once_per_id(feed: tuple[ChangeFeed, str]) -> None:
    changes, url = feed
    got = asyncio.run(_published(changes, url, commit=True))
    assert got == {"devices": {"br-000001", "br-000002", "br-000003"}}


def test_a_rolled_back_change_reaches_nobody(feed: tuple[ChangeFeed, str]) -> None:
    changes, url = feed
    assert asyncio.run(_published(changes, url, commit=False)) == {}


def test_a_large_change_is_split_under_postgres_payload_limit(pg_url: str) -> None:
    engine = make_engine(pg_url)
    upgrade(engine)
    changes = ChangeFeed(engine)
    changes.start()
    ids = [f"br-{n:06d}" for n in range(3000)]  # ~33 kB of ids: more than one NOTIFY holds

    async def publish_and_wait() -> set[str]:
        subscription = changes.subscribe()
        with make_sessions(engine).begin() as session:
            changes.publish(session, "devices", ids)
        got: set[str] = set()
        deadline = time.monotonic() + 10
        while len(got) < len(ids) and time.monotonic() < deadline:
            got |= (await subscription.wait(1.0)).get("devices", set())
        return got

    try:
        assert changes.listening.wait(10)
        assert asyncio.run(publish_and_wait()) == set(ids)
    finally:
        changes.stop()
        engine.dispose()


def _events(lines: Iterator[str]) -> Iterator[tuple[str, object]]:
    """(event, data) of a server-sent event stream."""
    name, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def test_a_fix_ingested_by_one_replica_reaches_a_map_held_by_another(
    pg_url: str, influxdb: InfluxServer, tmp_path: Path
) -> None:
    settings = cloud_settings(pg_url, influxdb.url, tmp_path)
    tokens, _people = populate(settings, datetime.now(UTC))
    engine = make_engine(pg_url)
    with make_sessions(engine).begin() as session:
        prosecutor = session.scalars(select(User).where(User.username == "prosecutor")).one()
        cookie = sessions.open_session(session, prosecutor, datetime.now(UTC), 3600)
    engine.dispose()
    shared = {
        "database_url": pg_url,
        "influx_url": str(settings.influx_url),
        "influx_database": settings.influx_database,
        "data_dir": str(tmp_path),
        "log_level": "WARNING",
    }
    ingesting = CloudServer(tmp_path / "replica-a", shared)
    mapping = CloudServer(tmp_path / "replica-b", shared)
    ingesting.start()
    mapping.start()
    try:
        with httpx.stream(
            "GET",
            f"{mapping.url}/console/live",
            cookies={sessions.COOKIE: cookie},
            timeout=httpx.Timeout(30.0),
        ) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = _events(stream.iter_lines())
            name, first = next(events)
            assert name == "devices"
            assert isinstance(first, list)
            assert {d["id"] for d in first} == {"br-000001", "br-000002", "br-000009"}
            _batch, body = batch_body(
                "gw-one",
                [item("br-000002", fix(1, 1, T0, lat_e7=312_401_000, lon_e7=1_214_905_000))],
            )
            answer = httpx.post(
                f"{ingesting.url}/api/v1/ingest",
                content=body,
                headers={
                    "Content-Type": "application/cbor",
                    "Content-Encoding": "gzip",
                    "Authorization": f"Bearer {tokens['gw-one']}",
                },
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            for name, data in events:
                assert isinstance(data, list)
                moved = [d for d in data if d["id"] == "br-000002" and d["lat"] is not None]
                if name == "devices" and moved:
                    assert moved[0]["lat"] == pytest.approx(31.2401)
                    assert moved[0]["lon"] == pytest.approx(121.4905)
                    break
    finally:
        mapping.stop()
        ingesting.stop()
