"""docker-compose.yml and the Dockerfile: cheap structural checks, no service started.

Parsing proves little about a deployment; tests/deploy/test_deployables.py builds the image's
venv the way the Dockerfile does and runs the cloud and the edge services of this file,
healthchecks included. These checks catch the plain mistakes early and fast.
"""

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cloud.settings import CloudSettings
from cloud.timeseries.influx import schema_statements
from edge.settings import EdgeSettings
from fieldwatch.settings import FieldwatchSettings, env_var, is_secret_field

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
FIELDWATCH_SERVICES: dict[str, type[FieldwatchSettings]] = {
    "edge": EdgeSettings,
    "cloud": CloudSettings,
}
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$")
URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@:]*:(?P<password>[^@]*)@")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # the KEY=VALUE form
        return dict(item.split("=", 1) for item in env)
    assert isinstance(env, dict)
    return env


def strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def is_required_interpolation(value: str) -> bool:
    match = INTERPOLATION.fullmatch(value)
    return match is not None and match["op"] == ":?"


def test_the_expected_services_are_there(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {"mosquitto", "influxdb", "postgres", "cloud", "edge", "grafana"}


def test_every_service_has_a_pinned_image_or_a_build(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service.get("image")
        assert image or service.get("build"), name
        if image is not None:
            repository, _, tag = str(image).rpartition(":")
            assert repository, f"{name}: image {image!r} has no tag"
            assert re.fullmatch(r"\d+(\.\d+)+([-.][\w.-]+)?", tag), (
                f"{name}: tag {tag!r} not pinned"
            )


def test_the_built_image_runs_fieldwatch_from_the_lock_file(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in FIELDWATCH_SERVICES:
        assert services[name]["build"] == ".", name
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11\.\d+-slim", dockerfile, re.M)
    assert "uv sync --frozen" in dockerfile
    assert 'ENTRYPOINT ["fieldwatch"]' in dockerfile


def test_the_image_copies_exactly_the_packages_the_wheel_ships() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = set(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    copied = set(re.findall(r"^COPY (\w+) \./\1$", DOCKERFILE.read_text(encoding="utf-8"), re.M))
    assert copied == shipped
    assert not shipped & {"fieldwatch_dev", "firmware_py", "tests"}


def test_the_image_installs_the_uv_of_install_deps() -> None:
    script = (ROOT / "scripts/install-deps.sh").read_text(encoding="utf-8")
    version = re.search(r"^UV_VERSION=(\S+)$", script, re.M)
    assert version is not None
    assert f"uv=={version[1]}" in DOCKERFILE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "variable"), [("cloud", "FIELDWATCH_PORT"), ("edge", "FIELDWATCH_METRICS_PORT")]
)
def test_fieldwatch_health_checks_follow_the_port_setting(
    services: dict[str, dict[str, Any]], name: str, variable: str
) -> None:
    """The healthcheck asks the port the service listens on, whatever the operator set."""
    test = " ".join(services[name]["healthcheck"]["test"])
    assert f"os.environ.get('{variable}'" in test
    assert variable in environment_of(services[name])


def test_every_service_has_a_health_check(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), name


def test_depends_on_names_existing_services_that_report_health(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        depends = service.get("depends_on", {})
        targets = depends if isinstance(depends, dict) else {key: {} for key in depends}
        for target, condition in targets.items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert target != name
            if condition.get("condition") == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits on {target}'s health"


def test_published_host_ports_do_not_collide(services: dict[str, dict[str, Any]]) -> None:
    bound: list[tuple[str, str, str]] = []  # (host address, host port, service)
    for name, service in services.items():
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: quote port mappings ({port!r})"
            parts = port.split("/")[0].split(":")
            assert len(parts) in (2, 3), f"{name}: give the host port explicitly ({port!r})"
            address, number = (parts[0], parts[1]) if len(parts) == 3 else ("0.0.0.0", parts[0])
            for other_address, other_number, other in bound:
                same_address = "0.0.0.0" in (address, other_address) or address == other_address
                assert not (same_address and number == other_number), (
                    f"{name} and {other} both publish host port {number}"
                )
            bound.append((address, number, name))


def test_every_secret_variable_is_required(compose: dict[str, Any]) -> None:
    secret_settings = {
        env_var(name)
        for cls in FIELDWATCH_SERVICES.values()
        for name, field in cls.model_fields.items()
        if is_secret_field(field)
    }
    found = 0
    for text in strings(compose):
        for match in INTERPOLATION.finditer(text):
            name = match["name"]
            if SECRET_NAME.search(name) or name in secret_settings:
                found += 1
                assert match["op"] == ":?", f"${{{name}}} must be required: ${{{name}:?...}}"
    assert found >= len(secret_settings)


def test_no_secret_is_written_in_the_file(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for key, value in environment_of(service).items():
            assert not isinstance(value, bool), f"{name}.{key}: quote booleans"
            text = str(value)
            if SECRET_NAME.search(key):
                assert is_required_interpolation(text), f"{name}.{key} is a literal secret"
            url = URL_PASSWORD.match(text)
            if url:
                assert is_required_interpolation(url["password"]), f"{name}.{key}: URL password"


def test_fieldwatch_services_use_only_real_settings(services: dict[str, dict[str, Any]]) -> None:
    for name, cls in FIELDWATCH_SERVICES.items():
        known = {env_var(field) for field in cls.model_fields}
        for key in environment_of(services[name]):
            if key.startswith("FIELDWATCH_"):
                assert key in known, f"{name}: {key} is not a setting of {cls.__name__}"


def test_fieldwatch_variables_named_for_the_user_are_real_settings(compose: dict[str, Any]) -> None:
    known = {env_var(field) for cls in FIELDWATCH_SERVICES.values() for field in cls.model_fields}
    for text in strings(compose):
        for match in INTERPOLATION.finditer(text):
            if match["name"].startswith("FIELDWATCH_"):
                assert match["name"] in known, match["name"]


def test_fieldwatch_services_run_in_production_with_every_secret_given(
    services: dict[str, dict[str, Any]],
) -> None:
    # In production a secret left to its development default is refused at start-up.
    for name, cls in FIELDWATCH_SERVICES.items():
        env = environment_of(services[name])
        assert env.get("FIELDWATCH_ENVIRONMENT") == "production", name
        for field_name, field in cls.model_fields.items():
            if is_secret_field(field) and field.default is not None:
                assert env_var(field_name) in env, f"{name} lacks {env_var(field_name)}"


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name}: volume {source} is not declared"


def test_bind_mounted_folders_exist_in_the_repository(services: dict[str, dict[str, Any]]) -> None:
    """A bind mount of a missing folder makes Docker create an empty one: the service starts unconfigured."""
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repo"


def test_the_influxdb_init_script_makes_the_clouds_retention_policies() -> None:
    """The admin's first-start script is the schema the cloud would otherwise create."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    database = compose["services"]["influxdb"]["environment"]["INFLUXDB_DB"]
    script = (ROOT / "provisioning" / "influxdb" / "retention-policies.iql").read_text()
    statements = [s.strip() for s in script.split(";") if s.strip()]
    assert statements == schema_statements(database, create_database=False)
    user = compose["services"]["influxdb"]["environment"]["INFLUXDB_USER"]
    assert compose["services"]["cloud"]["environment"]["FIELDWATCH_INFLUX_USERNAME"] == user
    assert user != compose["services"]["influxdb"]["environment"]["INFLUXDB_ADMIN_USER"]
