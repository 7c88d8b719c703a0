"""The registry: the devices this gateway is provisioned to serve.

A TOML file (``registry_path``)::

    [[device]]
    id = "br-000123"
    kind = "bracelet"

    [[device]]
    id = "rs-000042"
    kind = "river-station"
    hj212_mn = "010000A8900016F000169DC0"

A message from a device that is not listed goes to quarantine (``unknown_device``),
and so does a record a device of that kind never sends (``wrong_device_kind``: a
bracelet does not take water samples). The kinds and what each sends are
``core.devices``', the same the cloud's fleet uses.

A river station whose data logger speaks HJ 212 over TCP instead of MQTT names the
logger's MN (``hj212_mn``, optional, river stations only, one station per MN): the
gateway's HJ 212 listener (``edge.hj212.listener``) publishes that logger's data as the
station's water samples, and refuses an MN no station names.
"""

from __future__ import annotations

import logging
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from core.errors import TopicError
from core.receiver import DeviceKind
from core.topics import check_device_id
from edge.errors import RegistryError
from edge.hj212.frame import valid_mn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registry:
    """Provisioned devices by id; immutable once loaded."""

    devices: Mapping[str, DeviceKind]
    hj212_stations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """River station ids by the HJ 212 MN of their data logger."""

    def kind_of(self, device_id: str) -> DeviceKind | None:
        """The device's kind, or None if it is not provisioned here."""
        return self.devices.get(device_id)

    def station_of_mn(self, mn: str) -> str | None:
        """The river station whose HJ 212 data logger has this MN, or None."""
        return self.hj212_stations.get(mn)

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
    stations: dict[str, str] = {}
    problems: list[str] = []
    for index, entry in enumerate(entries):
        where = f"{source}: device {index}"
        if not isinstance(entry, dict) or not {"id", "kind"} <= set(entry) <= _KEYS:
            problems.append(
                f"{where}: needs the keys 'id' and 'kind', and may have 'hj212_mn' only"
            )
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
        mn = entry.get("hj212_mn")
        if mn is not None:
            problem = _mn_problem(mn, DeviceKind(kind), stations)
            if problem is not None:
                problems.append(f"{where}: {problem}")
                continue
            stations[mn] = device_id
        devices[device_id] = DeviceKind(kind)
    if problems:
        raise RegistryError("\n".join(problems))
    return Registry(MappingProxyType(devices), MappingProxyType(stations))


_KEYS = frozenset({"id", "kind", "hj212_mn"})


def _mn_problem(mn: object, kind: DeviceKind, stations: Mapping[str, str]) -> str | None:
    if kind is not DeviceKind.river_station:
        return "only a river station has an hj212_mn"
    if not valid_mn(mn):
        return f"hj212_mn {mn!r} is not 1 to 24 letters, digits, '-' or '_'"
    if mn in stations:
        return f"hj212_mn {mn} is already the MN of {stations[mn]}"
    return None


def load_registry(path: Path) -> Registry:
    """Read the registry file; RegistryError if it is missing or malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise RegistryError(f"registry file {path}: not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"registry file {path}: cannot read it: {exc}") from exc
    return parse_registry(text, f"registry file {path}")


def render_registry(
    devices: Mapping[str, DeviceKind], hj212_mns: Mapping[str, str] | None = None
) -> str:
    """The TOML text of a registry (provisioning and tests write files with it);
    ``hj212_mns`` gives river stations the MN of their HJ 212 data logger, by station id."""
    mns = hj212_mns or {}
    blocks = []
    for device_id, kind in sorted(devices.items()):
        block = f'[[device]]\nid = "{device_id}"\nkind = "{kind.value}"\n'
        if device_id in mns:
            block += f'hj212_mn = "{mns[device_id]}"\n'
        blocks.append(block)
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
