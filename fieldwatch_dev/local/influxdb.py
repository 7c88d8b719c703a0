"""A private InfluxDB 1.x: own config, own ports, meta/data/WAL in its folder."""

from __future__ import annotations

import base64
import http.client
import json
import os
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from fieldwatch_dev.local.ports import free_ports
from fieldwatch_dev.local.process import ServiceError, ServiceProcess, find_executable

# What a user may do on the database, as the influxdb image's INFLUXDB_USER (ALL),
# INFLUXDB_READ_USER (READ) and INFLUXDB_WRITE_USER (WRITE) get.
PRIVILEGES = ("ALL", "READ", "WRITE")


class InfluxServer(ServiceProcess):
    """`influxd` (1.x, v1 HTTP API: `/write`, `/query`, `/ping`) on 127.0.0.1, no auth.

    Both the HTTP port and the RPC port (backup/restore, 8088 by default)
    are private, so several servers and the system's own InfluxDB can run
    side by side.

    With `admin` (username, password), authentication is on and that admin exists, as
    the influxdb image's INFLUXDB_ADMIN_USER; `users` (name to (password, privilege))
    are then created with that privilege on `database`, which is created too, as its
    INFLUXDB_DB, INFLUXDB_USER and INFLUXDB_READ_USER do.
    """

    name = "influxd"

    def __init__(
        self,
        folder: str | os.PathLike[str],
        port: int | None = None,
        *,
        admin: tuple[str, str] | None = None,
        users: Mapping[str, tuple[str, str]] | None = None,
        database: str = "fieldwatch",
        start_timeout: float = 30.0,
        stop_timeout: float = 15.0,
    ) -> None:
        super().__init__(folder, port, start_timeout=start_timeout, stop_timeout=stop_timeout)
        self._rpc_port: int | None = None
        if users and admin is None:
            raise ValueError("users need authentication on: give an admin too")
        for name, (_password, privilege) in (users or {}).items():
            if privilege not in PRIVILEGES:
                raise ValueError(f"{name}: privilege {privilege!r} is not one of {PRIVILEGES}")
        self.admin = admin
        self.users = dict(users or {})
        self.database = database

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.folder / "influxdb.conf"

    def _prepare(self) -> None:
        if self._rpc_port is None:
            self._rpc_port = next(port for port in free_ports(2) if port != self.port)

        def path(name: str) -> str:
            return json.dumps(str(self.folder / name))  # a JSON string is a valid TOML string

        self.config_path.write_text(
            f"""\
# Written by fieldwatch_dev.local.influxdb; rewritten at every start.
# Debian's build reads `reporting-enabled`; upstream builds read `reporting-disabled`.
reporting-enabled = false
reporting-disabled = true
bind-address = "{self.host}:{self._rpc_port}"

[meta]
  dir = {path("meta")}
  logging-enabled = false

[data]
  dir = {path("data")}
  wal-dir = {path("wal")}
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "{self.host}:{self.port}"
  auth-enabled = {"true" if self.admin is not None else "false"}
  log-enabled = false
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true

[continuous_queries]
  log-enabled = false
"""
        )

    def _command(self) -> list[str]:
        return [find_executable("influxd"), "-config", str(self.config_path)]

    def _after_ready(self) -> None:
        if self.admin is None:
            return
        admin, password = self.admin
        if "create admin user first" in self._query("SHOW USERS", self.admin)[1]:
            # No admin yet: InfluxDB lets anyone create the first one, and nothing else.
            self._statement(
                f"CREATE USER {_name(admin)} WITH PASSWORD {_text(password)} WITH ALL PRIVILEGES",
                None,
            )
        self._statement(f"CREATE DATABASE {_name(self.database)}", self.admin)
        answer = json.loads(self._statement("SHOW USERS", self.admin))
        existing = {
            row[0] for series in answer["results"][0].get("series", []) for row in series["values"]
        }
        for user, (secret, privilege) in self.users.items():
            verb = (
                "SET PASSWORD FOR {u} = {p}"
                if user in existing
                else "CREATE USER {u} WITH PASSWORD {p}"
            )
            self._statement(verb.format(u=_name(user), p=_text(secret)), self.admin)
            self._statement(
                f"GRANT {privilege} ON {_name(self.database)} TO {_name(user)}", self.admin
            )

    def execute_as_admin(self, statement: str) -> str:
        """Run one InfluxQL statement as the admin (what the image's init scripts do)."""
        if self.admin is None:
            raise ServiceError("authentication is off: there is no admin")
        return self._statement(statement, self.admin)

    def _statement(self, statement: str, login: tuple[str, str] | None) -> str:
        """Run an InfluxQL statement; its answer, or ServiceError (statement not shown)."""
        status, body = self._query(statement, login)
        if status != http.client.OK or '"error"' in body:
            verb = " ".join(statement.split()[:2])
            raise ServiceError(f"influxd refused {verb} ...: {status} {body[:200]}")
        return body

    def _query(self, statement: str, login: tuple[str, str] | None) -> tuple[int, str]:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if login is not None:
            token = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10.0)
        try:
            connection.request(
                "POST", "/query", body=urllib.parse.urlencode({"q": statement}), headers=headers
            )
            response = connection.getresponse()
            return response.status, response.read().decode("utf-8", errors="replace")
        except (OSError, http.client.HTTPException) as exc:
            raise ServiceError(f"influxd did not answer a query: {exc}") from exc
        finally:
            connection.close()

    def _is_ready(self) -> bool:
        """Ready when `GET /ping` answers 204 No Content."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=1.0)
        try:
            connection.request("GET", "/ping")
            return connection.getresponse().status == http.client.NO_CONTENT
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()


def _name(identifier: str) -> str:
    """An InfluxQL identifier, double-quoted."""
    return '"' + identifier.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(value: str) -> str:
    """An InfluxQL string literal, single-quoted."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
