"""A docker-compose.yml service, run as a process of the machine the way Compose would run it.

``service_spec`` reads one service: its ``command``, its ``environment`` with Compose's
interpolation (``${NAME:?message}``, ``${NAME:-default}``, ``$$``), its volumes, its
published ports and its healthcheck. ``ServiceRun`` starts the command from a venv built
like the image (tests/deploy/dockerfile_build.py), with the image's ENV under the
service's environment, and runs the healthcheck command as Docker does: ``CMD`` as an
argv, ``CMD-SHELL`` through ``/bin/sh -c``, with the service's environment and PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<bare>\w+))"
)
# scheme://[user[:password]@]host:port, the form every URL of the compose file has.
URL_AUTHORITY = re.compile(
    r"(?P<prefix>\b[a-z][a-z0-9+.-]*://(?:[^/@\s]*@)?)(?P<host>[A-Za-z0-9_.-]+):(?P<port>\d+)"
)
DURATION = re.compile(r"(?P<number>\d+(?:\.\d+)?)(?P<unit>ms|h|m|s)")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# Docker's defaults for a healthcheck that leaves them out.
_DEFAULT_HEALTH = {"interval": 30.0, "timeout": 30.0, "retries": 3, "start_period": 0.0}


class ComposeError(Exception):
    """The compose file asks for something this runner cannot reproduce, or is incomplete."""


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's variable interpolation of one string."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["bare"]
        op, argument = match["op"], match["arg"] or ""
        value = variables.get(name)
        if op in (":?", "?") and (value is None or (op == ":?" and value == "")):
            raise ComposeError(f"required variable {name} is missing: {argument}")
        if op == ":-":
            return value if value else argument
        if op == "-":
            return value if value is not None else argument
        return value or ""

    return INTERPOLATION.sub(substitute, text)


def required_variables(compose_text: str) -> set[str]:
    """Every ``${NAME:?...}`` of the file: what an operator must set."""
    return {m["name"] for m in INTERPOLATION.finditer(compose_text) if m["op"] in (":?", "?")}


def seconds(duration: object) -> float:
    """A Compose duration (``15s``, ``1m30s``, ``500ms``; a bare number is seconds)."""
    if isinstance(duration, int | float):
        return float(duration)
    text = str(duration)
    parts = list(DURATION.finditer(text))
    if not parts or "".join(p.group(0) for p in parts) != text:
        raise ComposeError(f"not a duration: {text!r}")
    return sum(float(p["number"]) * _SECONDS[p["unit"]] for p in parts)


@dataclass(frozen=True)
class Healthcheck:
    test: list[str]  # as written: ["CMD", ...] or ["CMD-SHELL", "..."]
    interval_s: float
    timeout_s: float
    retries: int
    start_period_s: float

    @property
    def argv(self) -> list[str]:
        """What Docker executes in the container."""
        kind, *rest = self.test
        if kind == "CMD":
            return rest
        if kind == "CMD-SHELL":
            return ["/bin/sh", "-c", " ".join(rest)]
        raise ComposeError(f"healthcheck test {self.test!r}: neither CMD nor CMD-SHELL")

    @property
    def patience_s(self) -> float:
        """How long Docker waits before it calls the service unhealthy."""
        return self.start_period_s + self.interval_s * self.retries


@dataclass(frozen=True)
class Volume:
    source: str  # a named volume, or a path relative to the compose file
    target: str  # the path in the container
    read_only: bool

    @property
    def is_bind(self) -> bool:
        return self.source.startswith((".", "/", "~"))


@dataclass
class ServiceSpec:
    name: str
    command: list[str]
    environment: dict[str, str]
    volumes: list[Volume]
    container_ports: list[int]
    healthcheck: Healthcheck


def service_spec(
    compose: Mapping[str, Any], name: str, variables: Mapping[str, str]
) -> ServiceSpec:
    """One service of the parsed compose file, its strings interpolated with ``variables``."""
    service = compose["services"][name]
    command = service.get("command")
    if not isinstance(command, list):
        raise ComposeError(f"{name}: command must be a list (the exec form)")
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    environment = {str(k): interpolate(str(v), variables) for k, v in env.items()}
    volumes = []
    for entry in service.get("volumes", []):
        if not isinstance(entry, str):
            raise ComposeError(f"{name}: only the short volume syntax is reproduced")
        source, target, *mode = entry.split(":")
        volumes.append(Volume(source, target, read_only=mode == ["ro"]))
    ports = [int(str(port).split("/")[0].split(":")[-1]) for port in service.get("ports", [])]
    health = {**_DEFAULT_HEALTH, **service["healthcheck"]}
    test = health["test"]
    test = ["CMD-SHELL", test] if isinstance(test, str) else [str(word) for word in test]
    check = Healthcheck(
        test=[interpolate(word, variables) for word in test],
        interval_s=seconds(health["interval"]),
        timeout_s=seconds(health["timeout"]),
        retries=int(health["retries"]),
        start_period_s=seconds(health["start_period"]),
    )
    return ServiceSpec(name, [str(c) for c in command], environment, volumes, ports, check)


def repoint(value: str, hosts: set[str], endpoints: Mapping[tuple[str, int], int]) -> str:
    """``value`` with each compose host:port of a URL replaced by 127.0.0.1:the real port.

    ``hosts`` are the compose file's service names; one named in a URL but absent from
    ``endpoints`` is an error: the test must say where every service it talks to runs.
    """

    def substitute(match: re.Match[str]) -> str:
        host, port = match["host"], int(match["port"])
        if host not in hosts:
            return match.group(0)
        if (host, port) not in endpoints:
            raise ComposeError(f"{value!r}: no stand-in for {host}:{port}")
        return f"{match['prefix']}127.0.0.1:{endpoints[(host, port)]}"

    return URL_AUTHORITY.sub(substitute, value)


def to_host_path(value: str, mounts: Mapping[str, Path]) -> str:
    """A container path (``/data/x``) under one of ``mounts`` as the folder standing for it."""
    for container, host in sorted(mounts.items(), key=lambda item: -len(item[0])):
        if value == container or value.startswith(container.rstrip("/") + "/"):
            return str(host) + value[len(container.rstrip("/")) :]
    return value


@dataclass
class ServiceRun:
    """One compose service running from the image's venv; its output kept in ``folder``."""

    spec: ServiceSpec
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    folder: Path
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    last_check: str = field(default="", init=False)

    @property
    def stderr_path(self) -> Path:
        return self.folder / f"{self.spec.name}.stderr"

    def resolve(self, program: str) -> str:
        """``program`` as the container's PATH finds it."""
        found = shutil.which(program, path=self.env.get("PATH", ""))
        if found is None:
            raise ComposeError(f"{self.spec.name}: {program} is not on the image's PATH")
        return found

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        argv = [self.resolve(self.argv[0]), *self.argv[1:]]
        with (
            (self.folder / f"{self.spec.name}.stdout").open("wb") as out,
            self.stderr_path.open("wb") as err,
        ):
            self._process = subprocess.Popen(
                argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )

    def stderr_tail(self, lines: int = 60) -> str:
        try:
            text = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no stderr)"
        return "\n".join(text.splitlines()[-lines:]) or "(stderr empty)"

    def check_once(self) -> bool:
        """Run the healthcheck command once, as Docker would; True if it exits 0."""
        argv = self.spec.healthcheck.argv
        try:
            done = subprocess.run(
                [self.resolve(argv[0]), *argv[1:]],
                cwd=self.cwd,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=self.spec.healthcheck.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self.last_check = f"timed out after {self.spec.healthcheck.timeout_s:g} s"
            return False
        self.last_check = f"exit {done.returncode}: {done.stdout}{done.stderr}".strip()
        return done.returncode == 0

    def wait_healthy(self, poll_s: float = 0.5) -> float:
        """Run the healthcheck until it passes; the seconds it took.

        Polls more often than the compose interval, but gives up after the compose
        file's own patience (start_period + interval x retries). Raises AssertionError
        with the service's stderr if the service exits or never becomes healthy.
        """
        assert self._process is not None, "start() first"
        started = time.monotonic()
        deadline = started + self.spec.healthcheck.patience_s
        while True:
            code = self._process.poll()
            if code is not None:
                raise AssertionError(
                    f"{self.spec.name} exited with code {code} before it was healthy;"
                    f" its stderr:\n{self.stderr_tail()}"
                )
            if self.check_once():
                return time.monotonic() - started
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{self.spec.name} not healthy after {self.spec.healthcheck.patience_s:g} s"
                    f" (last check: {self.last_check}); its stderr:\n{self.stderr_tail()}"
                )
            time.sleep(poll_s)

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM, as ``docker stop`` sends, then SIGKILL after ``timeout_s``; the exit code."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._process = None
        return process.returncode
