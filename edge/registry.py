"""The registry: the devices this gateway is provisioned to serve.

A TOML file (``registry_path``)::

    [[device]]
    id = "br-000123"
    kind = "bracelet"

    [[device]]
    id = "rs-000042"
    kind = "river-station"

A message from a device that is not listed goes to quarantine (``unknown_device``),
and so does a record a device of that kind never sends (``wrong_device_kind``: a
bracelet does not take water samples). The kinds and what each sends are
``core.devices``', the same the cloud's fleet uses.
"""

from __future__ import annotations

import logging
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from core.errors import TopicError
from core.receiver import DeviceKind
from core.topics import check_device_id
from edge.errors import RegistryError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registry:
    """Provisioned devices by id; immutable once loaded."""

    devices: Mapping[str, DeviceKind]

    def kind_of(self, device_id: str) -> DeviceKind | None:
        """The device's kind, or None if it is not provisioned here."""
        return self.devices.get(device_id)

    def __len__(self) -> int:
        return len(self.devices)


def parse_registry(text: str, source: str = "registry") -> Registry:
    """Build a registry from TOML text; RegistryError names every problem."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{source}: not valid TOML: {exc}") from exc
    unknown = set(document) - {"device"}
    if unknown:
        raise RegistryError(f"{source}: unknown keys {sorted(unknown)}; only [[device]] tables")
    entries = document.get("device", [])
    if not isinstance(entries, list):
        raise RegistryError(f"{source}: 'device' must be an array of tables ([[device]])")
    devices: dict[str, DeviceKind] = {}
    problems: list[str] = []
    for index, entry in enumerate(entries):
        where = f"{source}: device {index}"
        if not isinstance(entry, dict) or set(entry) != {"id", "kind"}:
            problems.append(f"{where}: needs exactly the keys 'id' and 'kind'")
            continue
        device_id, kind = entry["id"], entry["kind"]
        try:
            check_device_id(device_id)
        except TopicError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if kind not in set(DeviceKind):
            problems.append(f"{where}: kind {kind!r} is not one of {[k.value for k in DeviceKind]}")
            continue
        if device_id in devices:
            problems.append(f"{where}: {device_id} is listed twice")
            continue
        devices[device_id] = DeviceKind(kind)
    if problems:
        raise RegistryError("\n".join(problems))
    return Registry(MappingProxyType(devices))


def load_registry(path: Path) -> Registry:
    """Read the registry file; RegistryError if it is missing or malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise RegistryError(f"registry file {path}: not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"registry file {path}: cannot read it: {exc}") from exc
    return parse_registry(text, f"registry file {path}")


def render_registry(devices: Mapping[str, DeviceKind]) -> str:
    """The TOML text of a registry (provisioning and tests write files with it)."""
    blocks = [f'[[device]]\nid = "{d}"\nkind = "{k.value}"\n' for d, k in sorted(devices.items())]
    return "\n".join(blocks)


class RegistryWatcher:
    """The current registry, re-read when its file changes (checked every few seconds).

    A file that becomes unreadable or malformed is reported and the last good registry
    stays in force: a typo while adding a device must not quarantine the whole fleet.
    """

    def __init__(self, path: Path, check_every_s: float = 2.0) -> None:
        self._path = path
        self._check_every_s = check_every_s
        self._registry: Registry | None = None
        self._mtime_ns = 0
        self._checked_at = 0.0

    def load(self) -> Registry:
        """First load, at start-up: RegistryError if the file is missing or malformed."""
        self._mtime_ns = self._path.stat().st_mtime_ns if self._path.exists() else 0
        self._registry = load_registry(self._path)
        self._checked_at = time.monotonic()
        return self._registry

    def current(self) -> Registry:
        """The registry in force, re-read first if the file changed."""
        registry = self._registry if self._registry is not None else self.load()
        now = time.monotonic()
        if now - self._checked_at < self._check_every_s:
            return registry
        self._checked_at = now
        try:
            mtime_ns = self._path.stat().st_mtime_ns
        except OSError as exc:
            log.error(
                "registry file %s: %s; keeping the %d devices known", self._path, exc, len(registry)
            )
            return registry
        if mtime_ns == self._mtime_ns:
            return registry
        self._mtime_ns = mtime_ns
        try:
            self._registry = load_registry(self._path)
        except RegistryError as exc:
            log.error("%s; keeping the %d devices known", exc, len(registry))
            return registry
        log.info("registry reloaded: %d devices", len(self._registry))
        return self._registry
