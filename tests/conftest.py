"""Fixtures for every test. Implementations live in `fixtures/`; this file only gathers them."""

from fixtures.services import (
    influx_factory,
    influxdb,
    mosquitto,
    mosquitto_factory,
    postgres,
    postgres_factory,
)

__all__ = [
    "influx_factory",
    "influxdb",
    "mosquitto",
    "mosquitto_factory",
    "postgres",
    "postgres_factory",
]
