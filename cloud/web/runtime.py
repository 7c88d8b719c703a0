"""The long-lived parts of a running cloud service, built once from the settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cloud.db.engine import make_engine, make_sessions
from cloud.settings import CloudSettings
from cloud.timeseries.influx import InfluxStore
from cloud.web.changes import ChangeFeed

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """Settings, the relational store, InfluxDB, the clock and the change feed of one service."""

    settings: CloudSettings
    engine: Engine
    sessions: sessionmaker[Session]
    influx: InfluxStore
    clock: Clock
    changes: ChangeFeed

    @classmethod
    def build(cls, settings: CloudSettings, clock: Clock = utc_now) -> Runtime:
        engine = make_engine(str(settings.database_url))
        password = settings.influx_password
        influx = InfluxStore(
            str(settings.influx_url),
            settings.influx_database,
            username=settings.influx_username,
            password=password.get_secret_value() if password is not None else None,
            timeout_s=settings.influx_timeout_s,
        )
        return cls(settings, engine, make_sessions(engine), influx, clock, ChangeFeed(engine))

    def close(self) -> None:
        self.changes.stop()
        self.influx.close()
        self.engine.dispose()
