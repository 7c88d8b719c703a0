"""Settings of the cloud service: the ``[cloud]`` section and ``FIELDWATCH_*`` variables.

Built once at start-up by the service's wiring code, with
``fieldwatch.settings.load_settings(CloudSettings, config_file)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AnyUrl,
    ByteSize,
    Field,
    HttpUrl,
    SecretStr,
    UrlConstraints,
    model_validator,
)

from fieldwatch.settings import FieldwatchSettings, Port, default_data_dir

# SQLAlchemy-style SQLite URLs: sqlite:///relative/file or sqlite:////absolute/file.
DatabaseUrl = Annotated[
    AnyUrl, UrlConstraints(allowed_schemes=["sqlite", "postgresql", "postgres"])
]
InfluxName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]


def _default_database_url(data: dict[str, Any]) -> AnyUrl:
    data_dir = data.get("data_dir")
    directory = data_dir if isinstance(data_dir, Path) else default_data_dir()
    return AnyUrl(f"sqlite:///{(directory / 'fieldwatch.sqlite3').as_posix()}")


def _default_blob_dir(data: dict[str, Any]) -> Path:
    data_dir = data.get("data_dir")
    return (data_dir if isinstance(data_dir, Path) else default_data_dir()) / "blobs"


class CloudSettings(FieldwatchSettings):
    """What the cloud service needs: its listener, InfluxDB, its database, its keys."""

    section: ClassVar[str] = "cloud"

    host: str = Field(default="127.0.0.1", min_length=1, description="address the API listens on")
    port: Port = Field(default=8000, description="port the API listens on")
    influx_url: HttpUrl = Field(
        default=HttpUrl("http://127.0.0.1:8086"),
        description="InfluxDB base URL (v1 HTTP API: /write, /query)",
    )
    influx_database: InfluxName = Field(
        default="fieldwatch", description="InfluxDB database holding the time series"
    )
    influx_username: str | None = Field(
        default=None, min_length=1, description="InfluxDB user; unset when auth is off"
    )
    influx_password: SecretStr | None = Field(
        default=None, description="InfluxDB password; set together with influx_username"
    )
    database_url: DatabaseUrl = Field(
        default_factory=_default_database_url,
        description="relational database: sqlite:///FILE or postgresql://USER:PASSWORD@HOST/DB",
    )
    secret_key: SecretStr = Field(
        default=SecretStr("dev-secret-key-for-development-only"),
        description="key that signs tokens",
    )

    console_session_ttl_s: int = Field(
        default=8 * 3600,
        ge=300,
        le=7 * 86400,
        description="how long a console sign-in lasts before the person signs in again",
    )
    console_language: Literal["zh-CN", "en"] = Field(
        default="zh-CN", description="the console's language until a person chooses another"
    )
    console_timezone: str = Field(
        default="Asia/Shanghai",
        description="IANA time zone the console shows times in (they are stored in UTC)",
    )
    console_tile_url: str | None = Field(
        default=None,
        description="map tiles as a Leaflet URL template ({z}/{x}/{y}, optionally {s}); "
        "unset: no tiles, a plain background under the vector layers",
    )
    console_tile_datum: Literal["wgs84", "gcj02"] = Field(
        default="wgs84",
        description="datum of the tiles: wgs84 (also CGCS2000, e.g. Tianditu) or gcj02 "
        "(positions are shifted to draw, and drawn shapes shifted back before storing)",
    )
    console_tile_subdomains: str = Field(
        default="abc", description="letters or digits that {s} in console_tile_url takes"
    )
    console_tile_attribution: str = Field(
        default="", max_length=300, description="credit shown on the map for the tiles"
    )
    access_token_ttl_s: int = Field(
        default=3600, ge=60, le=86400, description="lifetime of a person's access token"
    )
    influx_timeout_s: float = Field(
        default=10.0, gt=0, description="timeout of one request to InfluxDB"
    )
    retry_after_s: int = Field(
        default=5, ge=1, le=3600, description="Retry-After sent with a 503 when InfluxDB is down"
    )
    late_after_s: int = Field(
        default=300, ge=1, description="a reading that reached the gateway later than this is late"
    )
    gateway_silent_after_s: int = Field(
        default=90,
        ge=1,
        description="a gateway with no heartbeat or batch for this long is unreachable",
    )
    rules_enabled: bool = Field(
        default=True,
        description="evaluate supervision's zone rules and events in the ingest path "
        "(off only to measure the pipeline without them)",
    )
    scheduler_enabled: bool = Field(
        default=True,
        description="run the time-driven checks (absence, roll calls, trips, terms, "
        "escalation); one replica at a time holds their lease",
    )
    scheduler_interval_s: float = Field(
        default=5.0, gt=0, le=300, description="seconds between the scheduler's checks"
    )
    scheduler_lease_ttl_s: float = Field(
        default=30.0,
        gt=0,
        description="a replica holding the checks' lease that stops renewing it loses it "
        "after this long, and another takes over",
    )
    absent_after_s: int = Field(
        default=900,
        ge=60,
        description="a worn bracelet with no fix for this long, while its gateway is up, "
        "raises a no_fix alert",
    )
    low_battery_pct: int = Field(
        default=20,
        ge=1,
        le=90,
        description="a bracelet's battery at or below this raises low_battery",
    )
    term_reminder_days: int = Field(
        default=7, ge=0, le=90, description="days before a supervision term ends to remind"
    )
    roll_call_window_s: int = Field(
        default=300, ge=10, le=900, description="how long a wearer has to answer a random roll call"
    )
    roll_call_grace_s: int = Field(
        default=120,
        ge=0,
        description="after a roll call's window, how long its answer may take to arrive "
        "before it is called missed",
    )
    trip_grace_s: int = Field(
        default=900,
        ge=0,
        description="after a travel permit ends, how long until a person not back is overdue",
    )
    case_reminder_days: int = Field(
        default=7,
        ge=1,
        le=60,
        description="days before a pre-litigation suggestion's reply is due that a reminder "
        "is raised",
    )
    river_checks_every_s: int = Field(
        default=60, ge=1, description="how often the rivers' checks judge and class the samples"
    )
    class_worse_samples: int = Field(
        default=3,
        ge=1,
        description="classed samples in a row worse than a site's target class that raise "
        "a class_worse alert",
    )
    station_silent_after_s: int = Field(
        default=3 * 3600,
        ge=60,
        description="no sample from any station of a site for this long: station_silent",
    )
    escalate_after_s: dict[str, int] = Field(
        default_factory=lambda: {"critical": 300, "major": 900, "minor": 3600, "warning": 0},
        description="per severity, seconds an open alert may wait unacknowledged before it "
        "escalates (and again each time as long); 0: never",
    )
    alert_severities: dict[str, str] = Field(
        default_factory=dict,
        description="per cause, a severity overriding the default (docs/supervision.md)",
    )
    blob_dir: Path = Field(
        default_factory=_default_blob_dir,
        description="folder of the content-addressed blob store (patrol and problem photos)",
    )
    photo_max_bytes: Annotated[ByteSize, Field(ge=1024, le=200 * 1024**2)] = Field(
        default=ByteSize(15 * 1024**2),
        description="the largest photo a report or problem takes; an int of bytes or e.g. '15MiB'",
    )

    @model_validator(mode="after")
    def _influx_credentials_together(self) -> Self:
        if (self.influx_username is None) != (self.influx_password is None):
            raise ValueError("influx_username and influx_password go together: set both or neither")
        return self

    @model_validator(mode="after")
    def _console_checks(self) -> Self:
        try:
            ZoneInfo(self.console_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"console_timezone {self.console_timezone!r} is not a time zone"
            ) from exc
        if self.console_tile_url is not None:
            parts = urlsplit(self.console_tile_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("console_tile_url must be an http(s) URL template")
            if not all(key in self.console_tile_url for key in ("{z}", "{x}", "{y}")):
                raise ValueError("console_tile_url must hold {z}, {x} and {y}")
        return self

    @property
    def console_tile_origin(self) -> str | None:
        """Where tiles come from, as a Content-Security-Policy source (``{s}`` -> ``*``)."""
        if self.console_tile_url is None:
            return None
        parts = urlsplit(self.console_tile_url)
        labels = ["*" if "{s}" in label else label for label in parts.netloc.split(".")]
        return f"{parts.scheme}://{'.'.join(labels)}"

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file ``database_url`` names, or None for PostgreSQL."""
        if self.database_url.scheme != "sqlite":
            return None
        # sqlite:////abs/file has path "//abs/file"; sqlite:///rel/file has "/rel/file".
        return Path(unquote((self.database_url.path or "/")[1:]))
