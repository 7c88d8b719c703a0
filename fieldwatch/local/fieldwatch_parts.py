"""fieldwatch's own deployables run as child processes, the way an operator runs them.

``CloudServer`` runs ``fieldwatch cloud serve`` and ``EdgeGateway`` runs
``fieldwatch edge run``, each from a TOML settings file written into its folder
(mode 0600: it holds secrets), with the same start/stop/kill/restart as the
broker and database runners. Used by the demo, benchmarks and chaos runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx

from fieldwatch.local.process import ServiceProcess


def _fieldwatch() -> str:
    return str(Path(sys.executable).parent / "fieldwatch")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def render_section(section: str, values: dict[str, object]) -> str:
    """One TOML section of settings (strings, numbers, booleans)."""
    lines = [f"[{section}]"] + [f"{key} = {_toml_value(v)}" for key, v in values.items()]
    return "\n".join(lines) + "\n"


class _FieldwatchPart(ServiceProcess):
    section = ""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        settings: dict[str, object],
        port: int | None = None,
        *,
        start_timeout: float = 60.0,
        stop_timeout: float = 30.0,
    ) -> None:
        super().__init__(folder, port, start_timeout=start_timeout, stop_timeout=stop_timeout)
        self.settings = dict(settings)

    @property
    def config_path(self) -> Path:
        return self.folder / f"{self.name}.toml"

    def _write_config(self, values: dict[str, object]) -> None:
        self.config_path.touch(mode=0o600)
        self.config_path.write_text(render_section(self.section, values))

    def _answers(self, path: str) -> bool:
        try:
            return httpx.get(f"http://{self.host}:{self.port}{path}", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False


class CloudServer(_FieldwatchPart):
    """``fieldwatch cloud serve`` on a free port; ready when /api/v1/health answers."""

    name = "cloud"
    section = "cloud"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _prepare(self) -> None:
        self._write_config({**self.settings, "host": self.host, "port": self.port})

    def _command(self) -> list[str]:
        return [_fieldwatch(), "cloud", "serve", "--config", str(self.config_path)]

    def _is_ready(self) -> bool:
        return self._answers("/api/v1/health")


class EdgeGateway(_FieldwatchPart):
    """``fieldwatch edge run``; its port is the metrics page, ready when that answers."""

    name = "edge"
    section = "edge"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def _prepare(self) -> None:
        self._write_config({**self.settings, "metrics_host": self.host, "metrics_port": self.port})

    def _command(self) -> list[str]:
        return [_fieldwatch(), "edge", "run", "--config", str(self.config_path)]

    def _is_ready(self) -> bool:
        try:
            page = httpx.get(self.metrics_url, timeout=1)
        except httpx.HTTPError:
            return False
        # Ready once its persistent session exists: the broker queues for it from then on.
        return page.status_code == 200 and "broker_subscribed 1.0" in page.text
