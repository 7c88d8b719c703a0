"""The private PostgreSQL behaves as the cloud's database code will rely on."""

from __future__ import annotations

import secrets
import uuid

import psycopg
import pytest
from fixtures.services import PostgresFactory

from fieldwatch_dev.local import PostgresServer

pytestmark = pytest.mark.services


def test_insert_and_read_back(postgres: PostgresServer) -> None:
    table = f"reading_{uuid.uuid4().hex}"
    with psycopg.connect(postgres.dsn) as connection:
        assert connection.execute("SELECT current_database()").fetchone() == ("fieldwatch",)
        connection.execute(f"CREATE TABLE {table} (device_id text, do_mg_l real)")
        connection.execute(f"INSERT INTO {table} VALUES (%s, %s)", ("wq-01", 7.5))
        connection.commit()
    with psycopg.connect(postgres.dsn) as connection:
        rows = connection.execute(f"SELECT device_id, do_mg_l FROM {table}").fetchall()
        connection.execute(f"DROP TABLE {table}")
    assert rows == [("wq-01", 7.5)]


def test_server_is_private(postgres: PostgresServer) -> None:
    assert postgres.dsn == f"postgresql://postgres@127.0.0.1:{postgres.port}/fieldwatch"
    assert postgres.port != 5432


@pytest.mark.fault
def test_committed_row_survives_kill_and_uncommitted_one_does_not(
    postgres_factory: PostgresFactory,
) -> None:
    server = postgres_factory()
    with psycopg.connect(server.dsn) as setup:
        setup.execute("CREATE TABLE alarm (id int PRIMARY KEY, kind text)")
        setup.execute("INSERT INTO alarm VALUES (1, 'strap_removed')")
    pending = psycopg.connect(server.dsn)
    try:
        pending.execute("INSERT INTO alarm VALUES (2, 'low_battery')")  # never committed
        server.kill()
        assert not server.is_running
        with pytest.raises(psycopg.OperationalError):
            pending.execute("SELECT 1")
    finally:
        pending.close()
    server.restart()
    with psycopg.connect(server.dsn) as connection:
        rows = connection.execute("SELECT id, kind FROM alarm").fetchall()
    assert rows == [(1, "strap_removed")]


def test_a_role_with_a_password_must_give_it(postgres_factory: PostgresFactory) -> None:
    """The deployment's URL form, postgresql://fieldwatch:PASSWORD@host/fieldwatch, is checked."""
    password = secrets.token_urlsafe(24)
    server = postgres_factory(roles={"fieldwatch": password})
    with psycopg.connect(server.role_dsn("fieldwatch")) as connection:
        # It owns the database, as POSTGRES_USER does in the postgres image: it may migrate.
        connection.execute("CREATE TABLE owned_by_the_role (id int)")
        assert connection.execute("SELECT current_user").fetchone() == ("fieldwatch",)
    wrong = f"postgresql://fieldwatch:{password}x@{server.host}:{server.port}/fieldwatch"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=5).close()
    without = f"postgresql://fieldwatch@{server.host}:{server.port}/fieldwatch"
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(without, connect_timeout=5).close()
