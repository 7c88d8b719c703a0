"""Alembic migrations build exactly the models' schema, on PostgreSQL and on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cloud_support import T0, Cloud, fix, item
from sqlalchemy import inspect

from cloud.db.engine import make_engine
from cloud.db.migrate import downgrade, upgrade
from cloud.models import Base


def check_round_trip(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        upgrade(engine)  # idempotent: a second run finds nothing to do
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.services
def test_migrations_on_postgresql(pg_url: str) -> None:
    check_round_trip(pg_url)


def test_migrations_on_sqlite(tmp_path: Path) -> None:
    check_round_trip(f"sqlite:///{tmp_path / 'cloud.sqlite3'}")


@pytest.mark.services
def test_ingest_and_gaps_on_the_embedded_sqlite_default(sqlite_cloud: Cloud) -> None:
    items = [item("br-000001", fix(1, s, T0 + s)) for s in (0, 1, 3)]
    first = sqlite_cloud.send("gw-one", items, batch_id="gw-one:1")
    assert first.status_code == 200, first.text
    again = sqlite_cloud.send("gw-one", items, batch_id="gw-one:1")
    assert again.json()["duplicate_batch"] is True
    gaps = sqlite_cloud.client.get(
        "/api/v1/devices/br-000001/gaps", headers=sqlite_cloud.login("prosecutor")
    ).json()
    assert gaps["missing_total"] == 1
    assert [(g["first_seq"], g["last_seq"]) for g in gaps["gaps"]] == [(2, 2)]
    assert [row["seq"] for row in sqlite_cloud.points("location", "br-000001")] == [0, 1, 3]
