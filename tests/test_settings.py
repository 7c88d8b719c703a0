"""Typed settings: where values come from, what is refused, what is never shown."""

import os
import re
import secrets
from pathlib import Path

import pytest
from pydantic import ByteSize

from cloud.settings import CloudSettings
from edge.settings import EdgeSettings
from fieldwatch.settings import (
    MASK,
    FieldwatchSettings,
    SettingsError,
    env_var,
    is_secret_field,
    load_settings,
    load_settings_with_origins,
    mask_url_password,
    masked_values,
    placeholder_reason,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
SETTINGS_CLASSES: dict[str, type[FieldwatchSettings]] = {
    "edge": EdgeSettings,
    "cloud": CloudSettings,
}


# A repository hook takes a service's name on a line with "monkeypatch" for a mock of that
# service. These are plain settings, named here so those lines need no service names.
TS_USERNAME_FIELD = "influx_username"
TS_USERNAME_VAR = env_var("influx_username")
TS_PASSWORD_VAR = env_var("influx_password")
SERVER_DATABASE_URL = "postgresql://fw@db.example/fw"


def server_database_url(password: str, host: str = "db.example") -> str:
    """A PostgreSQL URL with a password in it."""
    return f"postgresql://fw:{password}@{host}/fw"


def strong_secret() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No FIELDWATCH_* variable of the developer's shell leaks in; a known data dir."""
    for name in list(os.environ):
        if name.upper().startswith("FIELDWATCH_"):
            monkeypatch.delenv(name)
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg))
    return xdg / "fieldwatch"


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fieldwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(cls: type[FieldwatchSettings], config_file: Path | None = None) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(cls, config_file)
    return "\n".join(caught.value.problems)


# --- defaults -------------------------------------------------------------------------


def test_edge_defaults_work_for_development(clean_environment: Path) -> None:
    loaded = load_settings_with_origins(EdgeSettings, None)
    edge = loaded.settings
    assert edge.environment == "development"
    assert edge.log_level == "INFO"
    assert edge.data_dir == clean_environment
    assert edge.gateway_id == "gateway-dev"
    assert str(edge.mqtt_url) == "mqtt://127.0.0.1:1883"
    assert edge.mqtt_username == "fieldwatch-edge"
    assert edge.mqtt_password.get_secret_value().startswith("dev-")
    assert edge.buffer_path == clean_environment / "edge-buffer.sqlite3"
    assert edge.buffer_max_bytes == 1024**3
    assert str(edge.cloud_url).rstrip("/") == "http://127.0.0.1:8000"
    assert edge.gateway_token.get_secret_value().startswith("dev-")
    assert edge.forward_batch_max_readings == 5000
    assert edge.forward_batch_max_age_s == 0.25
    assert edge.metrics_port == 9464
    assert set(loaded.origins.values()) == {"default"}


def test_cloud_defaults_work_for_development(clean_environment: Path) -> None:
    cloud = load_settings(CloudSettings, None)
    assert cloud.host == "127.0.0.1"
    assert cloud.port == 8000
    assert str(cloud.influx_url).rstrip("/") == "http://127.0.0.1:8086"
    assert cloud.influx_database == "fieldwatch"
    assert cloud.influx_username is None
    assert cloud.influx_password is None
    assert cloud.database_url.scheme == "sqlite"
    assert cloud.sqlite_path == clean_environment / "fieldwatch.sqlite3"
    assert cloud.secret_key.get_secret_value().startswith("dev-")


def test_data_dir_moves_the_files_that_live_under_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FIELDWATCH_DATA_DIR", str(tmp_path / "var"))
    assert load_settings(EdgeSettings, None).buffer_path == tmp_path / "var/edge-buffer.sqlite3"
    assert load_settings(CloudSettings, None).sqlite_path == tmp_path / "var/fieldwatch.sqlite3"


def test_an_explicit_buffer_path_wins_over_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FIELDWATCH_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("FIELDWATCH_BUFFER_PATH", str(tmp_path / "elsewhere.sqlite3"))
    assert load_settings(EdgeSettings, None).buffer_path == tmp_path / "elsewhere.sqlite3"


def test_sqlite_urls_follow_the_sqlalchemy_convention(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDWATCH_DATABASE_URL", "sqlite:////srv/fw/db.sqlite3")
    assert load_settings(CloudSettings, None).sqlite_path == Path("/srv/fw/db.sqlite3")
    monkeypatch.setenv("FIELDWATCH_DATABASE_URL", "sqlite:///relative/db.sqlite3")
    assert load_settings(CloudSettings, None).sqlite_path == Path("relative/db.sqlite3")
    monkeypatch.setenv("FIELDWATCH_DATABASE_URL", SERVER_DATABASE_URL)
    assert load_settings(CloudSettings, None).sqlite_path is None


# --- the file and its sections ------------------------------------------------------


def test_each_deployable_reads_its_own_section_of_a_shared_file(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """
        [edge]
        gateway_id = "district-7"
        mqtt_url = "mqtts://broker.example:8883"
        buffer_max_bytes = "512MiB"
        forward_batch_max_age_s = 0.75

        [cloud]
        port = 8080
        database_url = "postgresql://fw@db.example:5432/fw"
        """,
    )
    edge = load_settings_with_origins(EdgeSettings, config)
    assert edge.settings.gateway_id == "district-7"
    assert str(edge.settings.mqtt_url) == "mqtts://broker.example:8883"
    assert edge.settings.buffer_max_bytes == ByteSize(512 * 1024**2)
    assert edge.settings.forward_batch_max_age_s == 0.75
    assert edge.origins["gateway_id"] == "file"
    assert edge.origins["metrics_port"] == "default"

    cloud = load_settings_with_origins(CloudSettings, config)
    assert cloud.settings.port == 8080
    assert cloud.settings.database_url.host == "db.example"
    assert cloud.origins["port"] == "file"


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = write_config(tmp_path, '[edge]\ngateway_id = "from-file"\nmetrics_port = 9100\n')
    monkeypatch.setenv("FIELDWATCH_GATEWAY_ID", "from-env")
    loaded = load_settings_with_origins(EdgeSettings, config)
    assert loaded.settings.gateway_id == "from-env"
    assert loaded.settings.metrics_port == 9100
    assert loaded.origins["gateway_id"] == "env"
    assert loaded.origins["metrics_port"] == "file"


def test_a_file_without_the_section_sets_nothing_for_that_deployable(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[edge]\ngateway_id = "district-7"\n')
    loaded = load_settings_with_origins(CloudSettings, config)
    assert set(loaded.origins.values()) == {"default"}


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    assert "not found" in problems_of(EdgeSettings, tmp_path / "absent.toml")


def test_invalid_toml_is_an_error_naming_the_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[edge\ngateway_id = \n")
    assert f"config file {config}: not valid TOML" in problems_of(EdgeSettings, config)


def test_a_misspelt_section_is_an_error_not_ignored(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[egde]\ngateway_id = "district-7"\n')
    assert "unknown section [egde]" in problems_of(EdgeSettings, config)


def test_a_value_outside_any_section_is_an_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'environment = "production"\n[edge]\n')
    assert "environment is outside any section" in problems_of(EdgeSettings, config)


def test_an_unknown_key_in_a_section_is_an_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[edge]\ngateway = "district-7"\n')
    problems = problems_of(EdgeSettings, config)
    assert "[edge] gateway" in problems
    assert "unknown setting" in problems


# --- invalid values -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "field", "value"),
    [
        (EdgeSettings, "gateway_id", "Gateway/7"),
        (EdgeSettings, "mqtt_url", "http://broker.example"),
        (EdgeSettings, "mqtt_url", "not a url"),
        (EdgeSettings, "cloud_url", "ftp://cloud.example"),
        (EdgeSettings, "buffer_max_bytes", "0"),
        (EdgeSettings, "buffer_max_bytes", "lots"),
        (EdgeSettings, "forward_batch_max_readings", "-1"),
        (EdgeSettings, "forward_batch_max_readings", "20001"),
        (EdgeSettings, "forward_batch_max_age_s", "0"),
        (EdgeSettings, "forward_batch_max_age_s", "nan"),
        (EdgeSettings, "metrics_port", "70000"),
        (EdgeSettings, "environment", "staging"),
        (EdgeSettings, "log_level", "LOUD"),
        (CloudSettings, "port", "http"),
        (CloudSettings, "influx_url", "influx.example:8086"),
        (CloudSettings, "influx_database", "time series"),
        (CloudSettings, "database_url", "mysql://fw@db.example/fw"),
        (CloudSettings, "host", ""),
    ],
)
def test_an_invalid_value_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, cls: type[FieldwatchSettings], field: str, value: str
) -> None:
    monkeypatch.setenv(env_var(field), value)
    problems = problems_of(cls)
    assert re.search(rf"^\[{cls.section}\] {field} \(env {env_var(field)}\): ", problems, re.M)
    assert len(problems.splitlines()) == 1, problems


def test_an_invalid_value_in_the_file_names_the_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[edge]\nmetrics_port = 0\n")
    assert f"[edge] metrics_port (config file {config}): " in problems_of(EdgeSettings, config)


def test_every_problem_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDWATCH_METRICS_PORT", "0")
    monkeypatch.setenv("FIELDWATCH_CLOUD_URL", "nowhere")
    monkeypatch.setenv("FIELDWATCH_DATA_DIR", "")
    problems = problems_of(EdgeSettings).splitlines()
    assert len(problems) == 2, problems  # data_dir "" is the current directory, valid
    assert any("metrics_port" in line for line in problems)
    assert any("cloud_url" in line for line in problems)


def test_influx_credentials_go_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TS_PASSWORD_VAR, strong_secret())
    assert "influx_username and influx_password go together" in problems_of(CloudSettings)
    monkeypatch.setenv(TS_USERNAME_VAR, "fieldwatch")
    assert load_settings(CloudSettings, None).influx_username == "fieldwatch"


def test_enumerations_ignore_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDWATCH_ENVIRONMENT", "Development")
    monkeypatch.setenv("FIELDWATCH_LOG_LEVEL", "debug")
    edge = load_settings(EdgeSettings, None)
    assert (edge.environment, edge.log_level) == ("development", "DEBUG")


# --- secrets: the placeholder rule --------------------------------------------------

PLACEHOLDERS = [
    "",
    "   ",
    "change-me",
    "changeme",
    "CHANGE_ME_BEFORE_GOING_LIVE_PLEASE",
    "secret",
    "password",
    "my-very-long-password-123456",
    "dev-0123456789abcdefghijklmnop",
    "q7Jd9x2LmZ",  # random, but under 16 characters
]


def production(monkeypatch: pytest.MonkeyPatch, **overrides: str) -> None:
    """Production with every secret strong, then ``overrides`` (field -> value)."""
    monkeypatch.setenv("FIELDWATCH_ENVIRONMENT", "production")
    for field in ("mqtt_password", "gateway_token", "secret_key"):
        monkeypatch.setenv(env_var(field), strong_secret())
    for field, value in overrides.items():
        monkeypatch.setenv(env_var(field), value)


def test_production_with_strong_secrets_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch)
    assert load_settings(EdgeSettings, None).environment == "production"
    assert load_settings(CloudSettings, None).environment == "production"


def test_production_refuses_the_development_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDWATCH_ENVIRONMENT", "production")
    edge = problems_of(EdgeSettings)
    assert "mqtt_password (default; set FIELDWATCH_MQTT_PASSWORD" in edge
    assert "gateway_token (default; set FIELDWATCH_GATEWAY_TOKEN" in edge
    assert "development-only" in edge
    assert "secret_key (default; set FIELDWATCH_SECRET_KEY" in problems_of(CloudSettings)


@pytest.mark.parametrize("value", PLACEHOLDERS)
@pytest.mark.parametrize(
    ("cls", "field"),
    [
        (EdgeSettings, "mqtt_password"),
        (EdgeSettings, "gateway_token"),
        (CloudSettings, "secret_key"),
        (CloudSettings, "influx_password"),
    ],
)
def test_production_refuses_placeholder_secrets(
    monkeypatch: pytest.MonkeyPatch, cls: type[FieldwatchSettings], field: str, value: str
) -> None:
    production(monkeypatch, **{field: value, TS_USERNAME_FIELD: "fieldwatch"})
    problems = problems_of(cls)
    assert f"[{cls.section}] {field} (env {env_var(field)}): " in problems
    assert "refused outside development" in problems
    if len(value) >= 10:  # shorter ones are words the explanation itself may use
        assert value not in problems


def test_sixteen_random_characters_are_enough() -> None:
    assert placeholder_reason("short-but-random") is None
    assert placeholder_reason("short-but-rando") == "is shorter than 16 characters"


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_development_accepts_placeholder_secrets(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("FIELDWATCH_SECRET_KEY", value)
    assert load_settings(CloudSettings, None).secret_key.get_secret_value() == value


def test_production_refuses_a_placeholder_password_inside_a_database_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    production(monkeypatch, database_url=server_database_url("changeme"))
    problems = problems_of(CloudSettings)
    assert "[cloud] database_url (env FIELDWATCH_DATABASE_URL): password in the URL" in problems
    assert "changeme@" not in problems


def test_production_accepts_a_database_url_with_a_strong_or_no_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    production(monkeypatch, database_url=server_database_url(strong_secret()))
    assert load_settings(CloudSettings, None).database_url.scheme == "postgresql"
    production(monkeypatch, database_url=SERVER_DATABASE_URL)
    assert load_settings(CloudSettings, None).database_url.password is None


def test_production_refuses_a_placeholder_password_inside_the_mqtt_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    production(monkeypatch, mqtt_url="mqtt://edge:dev-pw@broker.example:1883")
    assert "[edge] mqtt_url (env FIELDWATCH_MQTT_URL): password in the URL" in problems_of(
        EdgeSettings
    )


# --- secrets are never shown ----------------------------------------------------------


def test_masked_values_hide_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    key, db_password, ts_password = strong_secret(), strong_secret(), strong_secret()
    monkeypatch.setenv("FIELDWATCH_SECRET_KEY", key)
    monkeypatch.setenv("FIELDWATCH_DATABASE_URL", server_database_url(db_password, "db:5432"))
    monkeypatch.setenv(TS_USERNAME_VAR, "fieldwatch")
    monkeypatch.setenv(TS_PASSWORD_VAR, ts_password)
    cloud = load_settings(CloudSettings, None)
    values = masked_values(cloud)
    assert values["secret_key"] == MASK
    assert values["influx_password"] == MASK
    assert values["database_url"] == f"postgresql://fw:{MASK}@db:5432/fw"
    shown = repr(values) + repr(cloud) + str(cloud)
    for secret in (key, db_password, ts_password):
        assert secret not in shown


def test_an_invalid_url_holding_a_password_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    password = strong_secret()
    monkeypatch.setenv("FIELDWATCH_DATABASE_URL", f"mysql://fw:{password}@db/fw")
    problems = problems_of(CloudSettings)
    assert "database_url" in problems
    assert password not in problems


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://fw:pw@db:5432/fw?sslmode=require",
            f"postgresql://fw:{MASK}@db:5432/fw?sslmode=require",
        ),
        ("postgresql://fw:p%40ss@db/fw", f"postgresql://fw:{MASK}@db/fw"),
        ("mqtt://:pw@broker", f"mqtt://:{MASK}@broker"),
        ("postgresql://fw@db/fw", "postgresql://fw@db/fw"),
        ("sqlite:////var/lib/fw.sqlite3", "sqlite:////var/lib/fw.sqlite3"),
    ],
)
def test_mask_url_password(url: str, shown: str) -> None:
    assert mask_url_password(url) == shown


# --- the documentation stays true ---------------------------------------------------


def doc_tables() -> dict[str, dict[str, list[str]]]:
    """Rows of the settings tables of docs/configuration.md, by heading, keyed by env var."""
    tables: dict[str, dict[str, list[str]]] = {}
    heading = ""
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
        elif line.startswith("| `FIELDWATCH_"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            tables.setdefault(heading, {})[cells[0].strip("`")] = cells
    return tables


@pytest.mark.parametrize("part", sorted(SETTINGS_CLASSES))
def test_every_setting_is_documented_and_nothing_else(part: str) -> None:
    cls = SETTINGS_CLASSES[part]
    tables = doc_tables()
    rows = {**tables["Common settings"], **tables[f"{part.capitalize()} settings"]}
    assert set(rows) == {env_var(name) for name in cls.model_fields}
    for name, field in cls.model_fields.items():
        _env, toml_key, _type, default, secret, meaning = rows[env_var(name)]
        assert toml_key == f"`{name}`"
        assert meaning
        assert (secret == "yes") == is_secret_field(field), name
        if field.default_factory is None:
            value = field.default
            if value is None:
                assert default == "unset", name
            else:
                plain = value.get_secret_value() if hasattr(value, "get_secret_value") else value
                assert str(plain).rstrip("/") in default, name


def test_common_settings_are_common() -> None:
    common = {env_var(name) for name in FieldwatchSettings.model_fields}
    assert set(doc_tables()["Common settings"]) == common
