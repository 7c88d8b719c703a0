"""fieldwatch's own deployables run as child processes, the way an operator runs them.

``CloudServer`` runs ``fieldwatch cloud serve`` and ``EdgeGateway`` runs ``fieldwatch
edge run``, each with its settings in a TOML file in its folder (mode 0600: it holds
secrets) passed with ``--config``, and with the same start/stop/kill/restart as the
broker and database runners. The demo, the benchmarks and the chaos run use them, so
they measure and break exactly what is deployed.

A child gets this process's environment without its ``FIELDWATCH_*`` variables: those
would override the file (environment beats file), so a developer's shell could
otherwise point a benchmark at the wrong InfluxDB.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from core.receiver import DeviceKind
from edge.registry import render_registry
from fieldwatch_dev.local.ports import free_port
from fieldwatch_dev.local.process import ServiceError, ServiceProcess

_ENV_PREFIX = "FIELDWATCH_"


def fieldwatch_executable() -> str:
    """The ``fieldwatch`` script of the running interpreter's environment."""
    candidate = Path(sys.executable).parent / "fieldwatch"
    if not candidate.exists():
        raise ServiceError(f"no fieldwatch command beside {sys.executable}")
    return str(candidate)


def clean_environment() -> dict[str, str]:
    """This process's environment without ``FIELDWATCH_*`` variables."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith(_ENV_PREFIX)}


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):  # an inline table, e.g. escalate_after_s
        return "{" + ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items()) + "}"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def render_section(section: str, values: Mapping[str, object]) -> str:
    """One TOML section of settings (strings, paths, numbers, booleans, flat tables)."""
    lines = [f"[{section}]"] + [f"{key} = {_toml_value(v)}" for key, v in values.items()]
    return "\n".join(lines) + "\n"


def _get(host: str, port: int, path: str) -> tuple[int, str] | None:
    """(status, body) of ``GET path``, or None if nothing answers."""
    connection = http.client.HTTPConnection(host, port, timeout=2.0)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", errors="replace")
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


class FieldwatchProcess(ServiceProcess):
    """``fieldwatch SECTION ... --config FILE``, its settings written to FILE at each start."""

    section: ClassVar[str] = ""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        settings: Mapping[str, object],
        port: int | None = None,
        *,
        start_timeout: float = 60.0,
        stop_timeout: float = 20.0,
    ) -> None:
        super().__init__(folder, port, start_timeout=start_timeout, stop_timeout=stop_timeout)
        self.settings: dict[str, object] = dict(settings)

    @property
    def config_path(self) -> Path:
        return self.folder / f"{self.name}.toml"

    def _own_settings(self) -> dict[str, object]:
        """Settings the runner decides (listener address and port)."""
        return {}

    def write_config(self) -> Path:
        """Write the settings file (0600) and return its path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config_path.touch(mode=0o600)
        self.config_path.chmod(0o600)  # touch() sets the mode of a new file only
        values = {**self.settings, **self._own_settings()}
        self.config_path.write_text(render_section(self.section, values))
        return self.config_path

    def _prepare(self) -> None:
        self.write_config()

    def _arguments(self) -> list[str]:
        raise NotImplementedError

    def _command(self) -> list[str]:
        return [
            fieldwatch_executable(),
            self.section,
            *self._arguments(),
            "--config",
            str(self.config_path),
        ]

    def _environment(self) -> dict[str, str] | None:
        return clean_environment()


class CloudServer(FieldwatchProcess):
    """``fieldwatch cloud serve``; ready when ``/api/v1/health`` answers 200.

    Its port is chosen when it is built, so that its URL can go into a gateway's settings
    and operator commands can run before the first start.
    """

    name = "cloud"
    section = "cloud"

    def __init__(
        self,
        folder: str | os.PathLike[str],
        settings: Mapping[str, object],
        port: int | None = None,
    ) -> None:
        super().__init__(folder, settings, port if port is not None else free_port())

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _own_settings(self) -> dict[str, object]:
        return {"host": self.host, "port": self.port}

    def _arguments(self) -> list[str]:
        return ["serve"]

    def _is_ready(self) -> bool:
        answer = _get(self.host, self.port, "/api/v1/health")
        return answer is not None and answer[0] == http.client.OK

    def operator(self, *arguments: str) -> str:
        """Run ``fieldwatch cloud ARGUMENTS`` with this cloud's settings; its stdout."""
        command = [
            fieldwatch_executable(),
            "cloud",
            *arguments,
            "--config",
            str(self.write_config()),
        ]
        result = subprocess.run(
            command,
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceError(f"fieldwatch cloud {' '.join(arguments)} failed: {result.stderr}")
        return result.stdout.strip()


class EdgeGateway(FieldwatchProcess):
    """``fieldwatch edge run``; its port is the metrics page's.

    Ready once its broker session is subscribed (from then on the broker queues for it).
    With ``devices`` (id -> kind), the registry file is written into its folder too.
    """

    name = "edge"
    section = "edge"

    def __init__(
        self,
        folder: str | os.PathLike[str],
        settings: Mapping[str, object],
        devices: Mapping[str, DeviceKind | str] | None = None,
        port: int | None = None,
    ) -> None:
        super().__init__(folder, settings, port)
        self.devices = None if devices is None else {d: DeviceKind(k) for d, k in devices.items()}

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    @property
    def registry_path(self) -> Path:
        return self.folder / "devices.toml"

    def _own_settings(self) -> dict[str, object]:
        own: dict[str, object] = {"metrics_host": self.host, "metrics_port": self.port}
        if self.devices is not None:
            own["registry_path"] = str(self.registry_path)
        return own

    def _prepare(self) -> None:
        super()._prepare()
        if self.devices is not None:
            self.registry_path.write_text(render_registry(self.devices))

    def _arguments(self) -> list[str]:
        return ["run"]

    def metrics(self) -> dict[str, float]:
        """The metrics page, each metric summed over its labels; empty if unreachable."""
        answer = _get(self.host, self.port, "/metrics")
        if answer is None or answer[0] != http.client.OK:
            return {}
        totals: dict[str, float] = {}
        for line in answer[1].splitlines():
            if not line or line.startswith("#"):
                continue
            name_part, _, value = line.rpartition(" ")
            name = name_part.split("{", 1)[0]
            totals[name] = totals.get(name, 0.0) + float(value)
        return totals

    def _is_ready(self) -> bool:
        return self.metrics().get("fieldwatch_edge_broker_subscribed", 0.0) >= 1.0
