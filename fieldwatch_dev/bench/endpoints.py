"""Where the benchmark's broker and InfluxDB are, with their credentials.

Either services the bench starts itself (private, anonymous, on loopback) or services
given by URL: ``mqtt://[user:password@]host:port`` and ``http://[user:password@]host:port``
(InfluxDB's credentials may instead come from ``FIELDWATCH_INFLUX_USERNAME`` and
``FIELDWATCH_INFLUX_PASSWORD``). A URL shown to the user never carries the password.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from fieldwatch_dev.local.mosquitto import mqtt_connack

INFLUX_USERNAME_VARIABLE = "FIELDWATCH_INFLUX_USERNAME"
INFLUX_PASSWORD_VARIABLE = "FIELDWATCH_INFLUX_PASSWORD"


class EndpointError(ValueError):
    """A service URL the bench cannot use."""


def _host_port(
    url: str, schemes: tuple[str, ...], default_port: int
) -> tuple[str, int, str | None, str | None]:
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        raise EndpointError(f"{parts.scheme or 'no'} scheme: expected {' or '.join(schemes)}://")
    if not parts.hostname:
        raise EndpointError("no host in the URL")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise EndpointError("give only scheme, credentials, host and port")
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise EndpointError(f"bad port: {exc}") from None
    username = None if parts.username is None else unquote(parts.username)
    password = None if parts.password is None else unquote(parts.password)
    return parts.hostname, port, username, password


@dataclass(frozen=True)
class BrokerEndpoint:
    """An MQTT broker (3.1.1, plain TCP), anonymous or with one username for every client."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> BrokerEndpoint:
        host, port, username, password = _host_port(url, ("mqtt",), 1883)
        if password is not None and username is None:
            raise EndpointError("a password without a username")
        return cls(host, port, username, password)

    @property
    def url(self) -> str:
        """``mqtt://host:port``: no credentials."""
        return f"mqtt://{self.host}:{self.port}"

    def shown(self) -> str:
        user = "" if self.username is None else f"{self.username}:********@"
        return f"mqtt://{user}{self.host}:{self.port}"

    def clear_session(self, client_id: str) -> None:
        """End the persistent session of ``client_id`` (a clean-session CONNECT does it)."""
        code = mqtt_connack(self.host, self.port, client_id, self.username, self.password)
        if code != 0:
            raise EndpointError(f"{self.shown()} refused {client_id} (CONNACK {code})")

    def client_environment(self, folder: Path) -> dict[str, str]:
        """Environment for mosquitto_pub/mosquitto_sub: credentials in 0600 option files.

        The C clients read default options from ``$XDG_CONFIG_HOME/mosquitto_pub`` (and
        ``_sub``), which keeps the password off their command lines.
        """
        folder.mkdir(parents=True, exist_ok=True)
        for tool in ("mosquitto_pub", "mosquitto_sub"):
            options = folder / tool
            options.touch(mode=0o600)
            options.chmod(0o600)
            lines = []
            if self.username is not None:
                lines.append(f"-u {self.username}")
            if self.password is not None:
                lines.append(f"-P {self.password}")
            options.write_text("".join(f"{line}\n" for line in lines))
        return {**os.environ, "XDG_CONFIG_HOME": str(folder)}


@dataclass(frozen=True)
class InfluxEndpoint:
    """An InfluxDB (v1 HTTP API) and the database to use there."""

    url: str  # scheme://host:port, no credentials
    database: str = "fieldwatch"
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(
        cls, url: str, database: str, environment: Mapping[str, str] | None = None
    ) -> InfluxEndpoint:
        """From a URL; credentials from its userinfo, else from FIELDWATCH_INFLUX_* variables."""
        parts = urlsplit(url)
        host, port, username, password = _host_port(url, ("http", "https"), 8086)
        if username is None:
            env = os.environ if environment is None else environment
            username = env.get(INFLUX_USERNAME_VARIABLE) or None
            password = env.get(INFLUX_PASSWORD_VARIABLE) or None
        if (username is None) != (password is None):
            raise EndpointError("InfluxDB username and password go together: give both or neither")
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return cls(f"{parts.scheme}://{netloc}", database, username, password)

    @property
    def auth(self) -> tuple[str, str] | None:
        """For httpx (InfluxDB 1.x takes HTTP basic auth)."""
        if self.username is None:
            return None
        return self.username, self.password or ""

    def with_database(self, database: str) -> InfluxEndpoint:
        return InfluxEndpoint(self.url, database, self.username, self.password)

    def cloud_settings(self) -> dict[str, object]:
        """The cloud's settings for this InfluxDB and database."""
        settings: dict[str, object] = {"influx_url": self.url, "influx_database": self.database}
        if self.username is not None:
            settings["influx_username"] = self.username
            settings["influx_password"] = self.password or ""
        return settings
