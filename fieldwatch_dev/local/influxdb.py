"""A private InfluxDB 1.x: own config, own ports, meta/data/WAL in its folder."""

from __future__ import annotations

import http.client
import json
import os
from pathlib import Path

from fieldwatch_dev.local.ports import free_ports
from fieldwatch_dev.local.process import ServiceProcess, find_executable


class InfluxServer(ServiceProcess):
    """`influxd` (1.x, v1 HTTP API: `/write`, `/query`, `/ping`) on 127.0.0.1, no auth.

    Both the HTTP port and the RPC port (backup/restore, 8088 by default)
    are private, so several servers and the system's own InfluxDB can run
    side by side.
    """

    name = "influxd"

    def __init__(
        self,
        folder: str | os.PathLike[str],
        port: int | None = None,
        *,
        start_timeout: float = 30.0,
        stop_timeout: float = 15.0,
    ) -> None:
        super().__init__(folder, port, start_timeout=start_timeout, stop_timeout=stop_timeout)
        self._rpc_port: int | None = None

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
  auth-enabled = false
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
