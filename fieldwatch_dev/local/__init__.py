"""Private, throw-away instances of the services fieldwatch talks to.

Each runner starts a real Mosquitto, InfluxDB or PostgreSQL process on a free
loopback port with all its files in one folder. Tests, `fieldwatch demo` and
the benchmark and chaos commands use them; they never touch the machine's
own services.
"""

from fieldwatch_dev.local.influxdb import InfluxServer
from fieldwatch_dev.local.mosquitto import MosquittoServer
from fieldwatch_dev.local.ports import free_port, free_ports
from fieldwatch_dev.local.postgres import PostgresServer
from fieldwatch_dev.local.process import ServiceError, ServiceProcess

__all__ = [
    "InfluxServer",
    "MosquittoServer",
    "PostgresServer",
    "ServiceError",
    "ServiceProcess",
    "free_port",
    "free_ports",
]
