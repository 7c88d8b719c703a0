"""The image and docker-compose.yml, for real: built and run without Docker, as a user runs them.

The venv is built the way the Dockerfile builds /opt/venv, from a copy of exactly what it
copies (tests/deploy/dockerfile_build.py). Each fieldwatch service of docker-compose.yml
then runs from that venv with its own ``command`` and ``environment``, against the harness's
real Mosquitto, InfluxDB and PostgreSQL, and its healthcheck runs as the compose file
writes it until it passes.

Ports: the compose healthchecks read the service's port from its environment
(``FIELDWATCH_PORT``, ``FIELDWATCH_METRICS_PORT``) instead of a fixed 8000 and 9464. So the
test gives each service a free port and still runs the healthcheck text verbatim, on a
machine where other engineers' tests may hold 8000; and a deployment that changes the
port keeps a working healthcheck. (A network namespace per service would keep the fixed
ports, at the cost of root-only veth plumbing for every run.)
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from compose_run import (
    ServiceRun,
    ServiceSpec,
    repoint,
    required_variables,
    service_spec,
    to_host_path,
)
from dockerfile_build import Image, build_image, excluded_from_context
from fixtures.services import InfluxFactory, MosquittoFactory, PostgresFactory

from fieldwatch_dev.local import PostgresServer, free_port
from fieldwatch_dev.local.mosquitto import DEPLOYMENT_MAX_QUEUED_MESSAGES
from provisioning.broker_acl import render_acl

pytestmark = [pytest.mark.services, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
FIELDWATCH_SERVICES = ("cloud", "edge")
# The setting each service listens on, which its healthcheck reads too.
LISTEN_PORT_VARIABLE = {"cloud": "FIELDWATCH_PORT", "edge": "FIELDWATCH_METRICS_PORT"}
# Not generated: the cloud makes it (`fieldwatch cloud add-gateway`), the operator copies it.
GATEWAY_TOKEN = "FIELDWATCH_GATEWAY_TOKEN"
# What uv and npm need from this machine to install from their caches or the indexes:
# what scripts/install-deps.sh runs them with (npm's settings come from HOME's .npmrc).
PASSED_TO_BUILD = re.compile(
    r"^(HOME|UV_CACHE_DIR|UV_INDEX_URL|UV_DEFAULT_INDEX|UV_EXTRA_INDEX_URL|SSL_CERT_FILE"
    r"|SSL_CERT_DIR|NODE_EXTRA_CA_CERTS|npm_config_\w+|(https?|no|all)_proxy)$",
    re.IGNORECASE,
)
# The image's own build of the console's assets (the Dockerfile's node stage).
ASSET_STAGE = "console-assets"


def uv_of_the_image() -> Path:
    """The uv release the Dockerfile and scripts/install-deps.sh install."""
    version = re.search(r"^UV_VERSION=(\S+)$", (ROOT / "scripts/install-deps.sh").read_text(), re.M)
    assert version is not None
    candidates = [shutil.which("uv"), str(ROOT / ".tools/uv/bin/uv")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            out = subprocess.run([candidate, "--version"], capture_output=True, text=True)
            if out.stdout.split()[1:2] == [version[1]]:
                return Path(candidate)
    pytest.fail(f"uv {version[1]} not found; `make deps` installs it")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    import os

    build_env = {k: v for k, v in os.environ.items() if PASSED_TO_BUILD.match(k)}
    build_env["UV_SYSTEM_CERTS"] = "1"  # as scripts/install-deps.sh: the site's TLS roots
    started = time.monotonic()
    built = build_image(ROOT, tmp_path_factory.mktemp("image"), uv_of_the_image(), build_env)
    print(f"image (asset stage and venv) built in {time.monotonic() - started:.1f} s")
    return built


def built_asset(image: Image, package: str, file: str) -> Path:
    """A file of a package as the image's asset stage installed it from the lock file."""
    return image.stages[ASSET_STAGE].app / "node_modules" / package / file


def files_under(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def image_env(image: Image, mounts: Mapping[str, Path]) -> dict[str, str]:
    """The Dockerfile's ENV with container paths replaced by the folders standing for them."""
    env = {}
    for name, value in image.env.items():
        parts = value.split(":") if name == "PATH" else [value]
        env[name] = ":".join(to_host_path(part, mounts) for part in parts)
    return env


def run_in_image(image: Image, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = image_env(image, {image.venv_container_path: image.venv})
    program = shutil.which(argv[0], path=env["PATH"])
    assert program is not None, f"{argv[0]} is not on the image's PATH"
    return subprocess.run(
        [program, *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_image_ships_the_runtime_and_nothing_else(image: Image, tmp_path: Path) -> None:
    # From a folder holding no source, so only what is installed can be imported.
    probe = (
        "import importlib.util as u, json, sys; "
        "print(json.dumps({n: (s.origin if (s := u.find_spec(n)) else None) for n in sys.argv[1:]}))"
    )
    names = [
        "core",
        "edge",
        "cloud",
        "fieldwatch",
        "fieldwatch_dev",
        "firmware_py",
        "provisioning",
        "tests",
    ]
    done = run_in_image(image, "python", "-I", "-c", probe, *names, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    for runtime in ("core", "edge", "cloud", "fieldwatch"):
        assert found[runtime] is not None, f"{runtime} is not installed in the image"
        assert Path(found[runtime]).is_relative_to(image.venv), found[runtime]
    for tool in ("fieldwatch_dev", "firmware_py", "provisioning", "tests"):
        assert found[tool] is None, f"the image ships {tool}: {found[tool]}"
    for tool in ("fieldwatch_dev", "firmware_py", "provisioning", "tests"):
        assert not (image.app / tool).exists(), f"the Dockerfile copies {tool}"


def test_the_installed_package_ships_the_console_assets_the_image_built(
    image: Image, tmp_path: Path
) -> None:
    probe = "import importlib.util as u; print(u.find_spec('cloud.console').origin)"
    done = run_in_image(image, "python", "-I", "-c", probe, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    installed = Path(done.stdout.strip()).parent
    assert installed.is_relative_to(image.venv), installed
    vendor = installed / "static" / "vendor"
    # The wheel's file list (what the venv's RECORD holds) names every asset package.json
    # asks for, at the release it pins.
    (record,) = image.venv.glob("lib/python*/site-packages/fieldwatch-*.dist-info/RECORD")
    listed = {line.split(",")[0] for line in record.read_text().splitlines()}
    manifest = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    shipped = json.loads((vendor / "assets.json").read_text(encoding="utf-8"))
    assert set(shipped) == set(manifest["consoleAssets"])
    for package, files in manifest["consoleAssets"].items():
        assert shipped[package]["version"] == manifest["dependencies"][package]
        for file in files:
            path = vendor / package / file.removeprefix("dist/")
            inside = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
            assert inside, f"the image has no {package}/{file}"
            for each in inside:
                assert each.relative_to(installed.parents[1]).as_posix() in listed, each
    # Exactly what the image's asset stage wrote from its own npm ci of the lock file.
    built = image.stages[ASSET_STAGE].app / "cloud/console/static/vendor"
    assert files_under(vendor) == files_under(built)
    leaflet = (vendor / "leaflet" / "leaflet.js").read_bytes()
    assert leaflet == built_asset(image, "leaflet", "dist/leaflet.js").read_bytes()


def test_the_build_context_leaves_out_a_checkouts_console_assets() -> None:
    # Else a developer's node_modules or vendored copy, of whatever release, would be sent
    # to the build and could end up in the image next to the asset stage's.
    for path in ("node_modules", "cloud/console/static/vendor"):
        assert excluded_from_context(ROOT, path), f".dockerignore lets {path} into the build"
    for path in ("package.json", "package-lock.json", "scripts/vendor-console-assets.mjs"):
        assert not excluded_from_context(ROOT, path), f".dockerignore leaves out {path}"


def test_the_image_command_line_lists_only_the_installed_parts(image: Image) -> None:
    done = run_in_image(image, *image.entrypoint, "--help", cwd=image.app)
    assert done.returncode == 0, done.stderr
    commands = set(re.findall(r"^│ (\w[\w-]*) ", done.stdout, re.M))
    assert commands == {"cloud", "edge", "config"}, done.stdout
    checked = run_in_image(image, *image.entrypoint, "config", "check", "--help", cwd=image.app)
    assert "<cloud|edge|all>" in checked.stdout


def compose_file() -> tuple[str, dict[str, Any]]:
    text = COMPOSE.read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    assert isinstance(document, dict)
    return text, document


def service_environment(
    compose: Mapping[str, Any], name: str, variables: Mapping[str, str]
) -> dict[str, str]:
    from compose_run import interpolate

    env = compose["services"][name].get("environment", {})
    return {str(k): interpolate(str(v), variables) for k, v in env.items()}


def influx_accounts(env: Mapping[str, str]) -> dict[str, Any]:
    """What the influxdb image creates on its first start, from its compose environment."""
    if env.get("INFLUXDB_HTTP_AUTH_ENABLED") != "true":
        return {}
    assert env.get("INFLUXDB_DB", "fieldwatch") == "fieldwatch"
    users = {}
    for role, privilege in (("", "ALL"), ("READ_", "READ"), ("WRITE_", "WRITE")):
        if f"INFLUXDB_{role}USER" in env:
            users[env[f"INFLUXDB_{role}USER"]] = (env[f"INFLUXDB_{role}USER_PASSWORD"], privilege)
    return {"admin": (env["INFLUXDB_ADMIN_USER"], env["INFLUXDB_ADMIN_PASSWORD"]), "users": users}


def run_init_scripts(compose: Mapping[str, Any], influx: Any) -> None:
    """What the influxdb image does on its first start: each ``*.iql`` of the folder mounted
    at /docker-entrypoint-initdb.d, run by the admin."""
    for volume in compose["services"]["influxdb"].get("volumes", []):
        source, _, rest = str(volume).partition(":")
        if rest.split(":")[0] != "/docker-entrypoint-initdb.d":
            continue
        for script in sorted((ROOT / source).glob("*.iql")):
            for statement in script.read_text().split(";"):
                if statement.strip():
                    influx.execute_as_admin(statement.strip())


class Deployment:
    """The fieldwatch services of the compose file, on this machine, in ``folder``."""

    def __init__(
        self, image: Image, compose: dict[str, Any], folder: Path, stand_ins: Mapping[str, int]
    ) -> None:
        self.image = image
        self.compose = compose
        self.folder = folder
        self.hosts = set(compose["services"])
        # The published container port of each stood-in service -> the real port.
        self.endpoints = {
            (name, port): real
            for name, real in stand_ins.items()
            for port in _container_ports(compose["services"][name])
        }
        self.runs: list[ServiceRun] = []

    def prepare(self, spec: ServiceSpec, listen_port: int) -> ServiceRun:
        folder = self.folder / spec.name
        mounts: dict[str, Path] = {
            self.image.venv_container_path: self.image.venv,
            self.image.workdir: self.image.app,
        }
        for volume in spec.volumes:
            target = folder / "volumes" / volume.target.strip("/").replace("/", "_")
            if volume.is_bind:
                shutil.copytree(COMPOSE.parent / volume.source, target)
            else:
                target.mkdir(parents=True)  # a fresh named volume
            mounts[volume.target] = target
        variable = LISTEN_PORT_VARIABLE[spec.name]
        assert int(spec.environment[variable]) in spec.container_ports, (
            f"{spec.name}: {variable} is not the port it publishes"
        )
        env = image_env(self.image, mounts)
        for name, value in spec.environment.items():  # the service's environment wins
            env[name] = repoint(to_host_path(value, mounts), self.hosts, self.endpoints)
        env[variable] = str(listen_port)
        # Docker sets HOME from the image user's account (useradd --home-dir /data).
        env["HOME"] = str(mounts.get("/data", folder))
        run = ServiceRun(spec, [*self.image.entrypoint, *spec.command], env, self.image.app, folder)
        self.runs.append(run)
        return run

    def operator(self, run: ServiceRun, *arguments: str) -> str:
        """``docker compose exec SERVICE fieldwatch ARGUMENTS``: its stdout."""
        program = run.resolve(self.image.entrypoint[0])
        done = subprocess.run(
            [program, *self.image.entrypoint[1:], *arguments],
            cwd=run.cwd,
            env=run.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"fieldwatch {' '.join(arguments)}: {done.stderr}"
        return done.stdout.strip()

    def stop(self) -> dict[str, int | None]:
        return {run.spec.name: run.stop() for run in reversed(self.runs)}


def _container_ports(service: Mapping[str, Any]) -> list[int]:
    return [int(str(p).split("/")[0].split(":")[-1]) for p in service.get("ports", [])]


def metrics(port: int) -> dict[str, float]:
    """The edge's metrics page, each metric summed over its labels (label sets kept apart)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = values.get(name, 0.0) + float(value)
    return values


def wait_for(what: str, condition: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s:g} s: {what}"
        time.sleep(0.5)


@pytest.fixture
def deployment_folder() -> Iterator[Path]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="fieldwatch-deploy-") as folder:
        yield Path(folder)


def test_the_compose_services_start_and_become_healthy(
    image: Image,
    deployment_folder: Path,
    mosquitto_factory: MosquittoFactory,
    influx_factory: InfluxFactory,
    postgres_factory: PostgresFactory,
) -> None:
    text, compose = compose_file()
    # Every secret the operator must set, generated; the gateway token comes from the cloud.
    variables = {name: secrets.token_urlsafe(32) for name in required_variables(text)}
    variables.pop(GATEWAY_TOKEN)

    # The harness's services, with the accounts the compose file's own services create.
    database = service_environment(compose, "postgres", variables)
    assert database["POSTGRES_DB"] == PostgresServer.database
    postgres = postgres_factory(roles={database["POSTGRES_USER"]: database["POSTGRES_PASSWORD"]})
    influx = influx_factory(**influx_accounts(service_environment(compose, "influxdb", variables)))
    run_init_scripts(compose, influx)
    edge_login = service_environment(compose, "edge", {**variables, GATEWAY_TOKEN: "-"})
    edge_user = edge_login["FIELDWATCH_MQTT_USERNAME"]
    broker = mosquitto_factory(
        users={edge_user: edge_login["FIELDWATCH_MQTT_PASSWORD"]},
        acl=render_acl([edge_user]),
        max_queued_messages=DEPLOYMENT_MAX_QUEUED_MESSAGES,
    )
    cloud_port, edge_port = free_port(), free_port()
    stand_ins = {
        "mosquitto": broker.port,
        "influxdb": influx.port,
        "postgres": postgres.port,
        "cloud": cloud_port,
    }
    deployment = Deployment(image, compose, deployment_folder, stand_ins)
    try:
        cloud = deployment.prepare(service_spec(compose, "cloud", variables), cloud_port)
        assert cloud.env["FIELDWATCH_ENVIRONMENT"] == "production"
        cloud.start()
        took = cloud.wait_healthy()
        print(f"cloud healthy after {took:.1f} s")
        # `serve` migrated the empty database, as the role of the compose URL.
        with psycopg.connect(postgres.role_dsn(database["POSTGRES_USER"])) as connection:
            assert connection.execute("SELECT version_num FROM alembic_version").fetchone()
        with urllib.request.urlopen(f"http://127.0.0.1:{cloud_port}/api/v1/health") as answer:
            assert json.load(answer) == {"status": "ok", "influxdb": True, "database": True}
        # The console's pages and assets come from the installed wheel.
        with urllib.request.urlopen(f"http://127.0.0.1:{cloud_port}/console/sign-in") as answer:
            page = answer.read().decode()
            assert '<form method="post" action="/console/sign-in">' in page
            assert "Secure" in answer.headers["Set-Cookie"]  # production: HTTPS only
        css = f"http://127.0.0.1:{cloud_port}/console/static/console.css"
        with urllib.request.urlopen(css) as answer:
            assert answer.status == 200
            assert b"--accent" in answer.read()
        static = f"http://127.0.0.1:{cloud_port}/console/static"
        with urllib.request.urlopen(f"{static}/maps.js") as answer:
            assert answer.status == 200
            assert answer.read() == (ROOT / "cloud/console/static/maps.js").read_bytes()
        # The browser assets the image's node stage built from the lock file.
        with urllib.request.urlopen(f"{static}/vendor/leaflet/leaflet.js") as answer:
            assert answer.status == 200
            leaflet = answer.read()
            pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["leaflet"]
            assert f"Leaflet {pinned},".encode() in leaflet[:200]  # the header names it
            assert leaflet == built_asset(image, "leaflet", "dist/leaflet.js").read_bytes()
        with urllib.request.urlopen(f"{static}/vendor/echarts/echarts.min.js") as answer:
            assert answer.status == 200
            assert (
                answer.read() == built_asset(image, "echarts", "dist/echarts.min.js").read_bytes()
            )

        # The operator registers the gateway and hands its token to the edge (.env).
        gateway_id = service_environment(compose, "edge", {**variables, GATEWAY_TOKEN: "-"})[
            "FIELDWATCH_GATEWAY_ID"
        ]
        variables[GATEWAY_TOKEN] = deployment.operator(cloud, "cloud", "add-gateway", gateway_id)
        edge = deployment.prepare(service_spec(compose, "edge", variables), edge_port)
        edge.start()
        took = edge.wait_healthy()
        print(f"edge healthy after {took:.1f} s")
        # Logged in to the ACL'd broker with the compose credentials, and heard by the cloud
        # at the compose URL with the token the cloud gave.
        wait_for(
            "the edge subscribed to the broker",
            lambda: metrics(edge_port).get("fieldwatch_edge_broker_subscribed") == 1.0,
        )
        wait_for(
            "a heartbeat accepted by the cloud",
            lambda: (
                metrics(edge_port).get('fieldwatch_edge_heartbeats_total{outcome="sent"}', 0) >= 1
            ),
        )
        assert metrics(edge_port).get('fieldwatch_edge_heartbeats_total{outcome="failed"}', 0) == 0
    finally:
        codes = deployment.stop()
    # `docker stop` sends SIGTERM: both end cleanly, before Docker's SIGKILL. uvicorn
    # raises SIGTERM again once it has shut down (Docker shows exit code 143).
    logs = "\n".join(f"{run.spec.name}: {run.stderr_tail(20)}" for run in deployment.runs)
    assert codes["edge"] == 0, logs
    assert codes["cloud"] in (0, -signal.SIGTERM), logs
