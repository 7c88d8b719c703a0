"""`fieldwatch config show` and `fieldwatch config check`, as a user runs them."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fieldwatch.cli import app
from fieldwatch.settings import MASK

runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No FIELDWATCH_* variable of the developer's shell leaks in; a known data dir."""
    for name in list(os.environ):
        if name.upper().startswith("FIELDWATCH_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def strong_secret() -> str:
    return secrets.token_urlsafe(32)


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fieldwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_show_prints_every_setting_of_both_parts_with_its_source(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[edge]\ngateway_id = "district-7"\n')
    result = runner.invoke(
        app, ["config", "show", "--config", str(config)], env={"FIELDWATCH_PORT": "8080"}
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "[edge]" in out
    assert "[cloud]" in out
    lines = {line.split("=")[0].strip(): line for line in out.splitlines() if " = " in line}
    assert lines["gateway_id"].endswith("# file")
    assert '"district-7"' in lines["gateway_id"]
    assert lines["port"].endswith("# env FIELDWATCH_PORT")
    assert lines["metrics_port"].endswith("# default")
    for name in ("buffer_path", "forward_batch_max_age_s", "influx_url", "database_url"):
        assert name in lines


def test_show_json_has_values_and_sources(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[cloud]\nport = 8081\n")
    result = runner.invoke(
        app, ["config", "show", "--part", "cloud", "--format", "json", "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert set(shown) == {"config_file", "cloud"}
    assert shown["config_file"] == str(config)
    assert shown["cloud"]["values"]["port"] == 8081
    assert shown["cloud"]["sources"]["port"] == "file"
    assert shown["cloud"]["sources"]["host"] == "default"
    assert shown["cloud"]["values"]["secret_key"] == MASK


def test_show_takes_the_file_from_fieldwatch_config(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[edge]\ngateway_id = "district-9"\n')
    result = runner.invoke(
        app,
        ["config", "show", "--part", "edge", "--format", "json"],
        env={"FIELDWATCH_CONFIG": str(config)},
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["edge"]["values"]["gateway_id"] == "district-9"


@pytest.mark.parametrize("output_format", ["text", "json"])
def test_show_never_prints_a_secret(tmp_path: Path, output_format: str) -> None:
    from_env = {
        "FIELDWATCH_MQTT_PASSWORD": strong_secret(),
        "FIELDWATCH_GATEWAY_TOKEN": strong_secret(),
        "FIELDWATCH_INFLUX_USERNAME": "fieldwatch",
        "FIELDWATCH_INFLUX_PASSWORD": strong_secret(),
    }
    db_password, mqtt_password, key = strong_secret(), strong_secret(), strong_secret()
    config = write_config(
        tmp_path,
        f"""
        [edge]
        mqtt_url = "mqtt://fieldwatch-edge:{mqtt_password}@broker.example:1883"

        [cloud]
        secret_key = "{key}"
        database_url = "postgresql://fieldwatch:{db_password}@db.example:5432/fieldwatch"
        """,
    )
    for environment in ("development", "production"):
        result = runner.invoke(
            app,
            ["config", "show", "--config", str(config), "--format", output_format],
            env={**from_env, "FIELDWATCH_ENVIRONMENT": environment},
        )
        assert result.exit_code == 0, result.output
        for secret in [*from_env.values(), db_password, mqtt_password, key]:
            if secret != "fieldwatch":
                assert secret not in result.output
        assert f"postgresql://fieldwatch:{MASK}@db.example:5432/fieldwatch" in result.stdout
        assert f"mqtt://fieldwatch-edge:{MASK}@broker.example:1883" in result.stdout
        # mqtt_password, gateway_token, influx_password, database_url, secret_key, edge mqtt_url
        assert result.stdout.count(MASK) == 6


def test_check_says_ok_for_good_settings() -> None:
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert "[edge] ok (development)" in result.stdout
    assert "[cloud] ok (development)" in result.stdout


def test_check_reports_every_bad_setting_one_line_each_and_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[edge]\nmetrics_port = 0\n[cloud]\ninflux_url = "nowhere"\n')
    result = runner.invoke(
        app,
        ["config", "check", "--config", str(config)],
        env={"FIELDWATCH_BUFFER_MAX_BYTES": "-5"},
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 3, result.stderr
    assert all(line.startswith("error: ") for line in lines)
    assert any("[edge] metrics_port (config file" in line for line in lines)
    assert any(
        "[edge] buffer_max_bytes (env FIELDWATCH_BUFFER_MAX_BYTES)" in line for line in lines
    )
    assert any("[cloud] influx_url (config file" in line for line in lines)
    assert "Traceback" not in result.output


def test_show_refuses_bad_settings_too(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "show"], env={"FIELDWATCH_METRICS_PORT": "high"})
    assert result.exit_code == 2
    assert "[edge] metrics_port (env FIELDWATCH_METRICS_PORT)" in result.stderr
    assert "[edge]" not in result.stdout


def test_check_refuses_placeholder_secrets_in_production() -> None:
    secret_key = "change-me-change-me-change-me"
    result = runner.invoke(
        app,
        ["config", "check"],
        env={"FIELDWATCH_ENVIRONMENT": "production", "FIELDWATCH_SECRET_KEY": secret_key},
    )
    assert result.exit_code == 2
    err = result.stderr
    assert "[cloud] secret_key (env FIELDWATCH_SECRET_KEY): secret refused" in err
    assert "[edge] mqtt_password (default; set FIELDWATCH_MQTT_PASSWORD" in err
    assert "[edge] gateway_token (default; set FIELDWATCH_GATEWAY_TOKEN" in err
    assert secret_key not in result.output


def test_check_accepts_placeholder_secrets_in_development() -> None:
    result = runner.invoke(app, ["config", "check"], env={"FIELDWATCH_SECRET_KEY": "change-me"})
    assert result.exit_code == 0, result.output


def test_check_accepts_strong_secrets_in_production() -> None:
    env = {
        "FIELDWATCH_ENVIRONMENT": "production",
        "FIELDWATCH_MQTT_PASSWORD": strong_secret(),
        "FIELDWATCH_GATEWAY_TOKEN": strong_secret(),
        "FIELDWATCH_SECRET_KEY": strong_secret(),
    }
    result = runner.invoke(app, ["config", "check"], env=env)
    assert result.exit_code == 0, result.output
    assert "[edge] ok (production)" in result.stdout


def test_a_missing_config_file_is_reported_once(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    result = runner.invoke(app, ["config", "check", "--config", str(missing)])
    assert result.exit_code == 2
    assert result.stderr == f"error: config file {missing}: not found\n"


def test_the_installed_command_exits_2_without_a_traceback(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("fieldwatch")
    main = "import sys; from fieldwatch.cli import main; sys.argv[0] = 'fieldwatch'; main()"
    command = [str(script)] if script.exists() else [sys.executable, "-c", main]
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("FIELDWATCH_")}
    env["FIELDWATCH_CLOUD_URL"] = "ftp://cloud.example"
    done = subprocess.run(
        [*command, "config", "check", "--part", "edge"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: [edge] cloud_url (env FIELDWATCH_CLOUD_URL): ")
    assert len(done.stderr.splitlines()) == 1
    assert "Traceback" not in done.stderr
