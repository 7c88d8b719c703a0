"""Two cloud processes on one PostgreSQL: one runs the time-driven checks at a time, and
the other takes over when the holder is killed."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from cloud_support import batch_body, cloud_settings, item, populate
from sqlalchemy import select

import cloud.models  # noqa: F401  (every table, so the mappers resolve their foreign keys)
from cloud.alerts.models import Alert, AlertStep
from cloud.db.engine import make_engine, make_sessions
from cloud.scheduler.models import SchedulerLease
from core import contract as c
from core.messages import Event
from fieldwatch_dev.local import InfluxServer
from fieldwatch_dev.local.fieldwatch_parts import CloudServer


def _escalations(url: str) -> list[tuple[int, str | None]]:
    engine = make_engine(url)
    try:
        with make_sessions(engine)() as session:
            steps = session.scalars(
                select(AlertStep).where(AlertStep.step == "escalated").order_by(AlertStep.id)
            ).all()
            return [(s.alert_id, s.details_json) for s in steps]
    finally:
        engine.dispose()


def _holder(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with make_sessions(engine)() as session:
            lease = session.get(SchedulerLease, "supervision-checks")
            return lease.holder if lease is not None else None
    finally:
        engine.dispose()


def test_one_replica_at_a_time_escalates_and_a_kill_hands_the_checks_over(
    pg_url: str, influxdb: InfluxServer, tmp_path: Path
) -> None:
    settings = cloud_settings(pg_url, influxdb.url, tmp_path)
    tokens, _people = populate(settings, datetime.now(UTC))
    shared = {
        "database_url": pg_url,
        "influx_url": str(settings.influx_url),
        "influx_database": settings.influx_database,
        "data_dir": str(tmp_path),
        "log_level": "WARNING",
        "scheduler_enabled": True,
        "scheduler_interval_s": 0.3,
        "scheduler_lease_ttl_s": 3,
        # An SOS left unacknowledged escalates every 2 s: level 1, 2, 3, ...
        "escalate_after_s": {"critical": 2},
    }
    replicas = [CloudServer(tmp_path / name, shared) for name in ("replica-a", "replica-b")]
    for replica in replicas:
        replica.start()
    try:
        now_s = int(time.time())
        _batch, body = batch_body("gw-one", [item("br-000001", Event(1, 0, now_s, c.EV_SOS))])
        answer = httpx.post(
            f"{replicas[0].url}/api/v1/ingest",
            content=body,
            headers={
                "Content-Type": "application/cbor",
                "Content-Encoding": "gzip",
                "Authorization": f"Bearer {tokens['gw-one']}",
            },
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 60
        while len(_escalations(pg_url)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        holder = _holder(pg_url)
        assert holder is not None
        # Kill the holder; the other replica takes the lease once it expires.
        victim = next(r for r in replicas if f":{r.pid}:" in holder)
        survivor = next(r for r in replicas if r is not victim)
        victim.kill()
        before = len(_escalations(pg_url))
        deadline = time.monotonic() + 60
        while len(_escalations(pg_url)) < before + 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        new_holder = _holder(pg_url)
        assert new_holder is not None
        assert f":{survivor.pid}:" in new_holder
    finally:
        for replica in replicas:
            replica.stop()
    levels = [json.loads(details or "{}")["level"] for _alert, details in _escalations(pg_url)]
    assert len(levels) >= before + 2
    # Each level escalated once: never two replicas at the same moment.
    assert levels == list(range(1, len(levels) + 1))
    engine = make_engine(pg_url)
    try:
        with make_sessions(engine)() as session:
            causes = [a.cause for a in session.scalars(select(Alert))]
    finally:
        engine.dispose()
    assert causes.count("sos") == 1
    assert causes.count("gateway_unreachable") <= 1
