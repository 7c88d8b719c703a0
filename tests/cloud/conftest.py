"""Fixtures of the cloud tests: a fresh PostgreSQL database and InfluxDB database per test
on the session's servers, and a populated cloud app in front of them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cloud_support import Cloud, cloud_settings, running_cloud
from psycopg import sql

from fieldwatch_dev.local import InfluxServer, PostgresServer

_numbers = itertools.count(1)


def fresh_postgres_database(server: PostgresServer) -> str:
    """A new empty database on ``server``; its URL."""
    name = f"cloud_test_{next(_numbers)}"
    admin = server.dsn.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.dsn.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    return fresh_postgres_database(postgres)


@pytest.fixture
def cloud(pg_url: str, influxdb: InfluxServer, tmp_path: Path) -> Iterator[Cloud]:
    """The cloud on PostgreSQL and InfluxDB from the harness."""
    yield from running_cloud(cloud_settings(pg_url, influxdb.url, tmp_path))


@pytest.fixture
def sqlite_cloud(influxdb: InfluxServer, tmp_path: Path) -> Iterator[Cloud]:
    """The cloud on its embedded default, SQLite."""
    url = f"sqlite:///{tmp_path / 'cloud.sqlite3'}"
    yield from running_cloud(cloud_settings(url, influxdb.url, tmp_path))
