"""The device's running config: defaults, the retained config from the cloud, its acks.

A config is applied as a whole or refused as a whole (the previous one stays):
refused when it does not decode, names a setting v1 does not define or this
kind of device does not use, holds a value out of range, asks for a moving
fix interval longer than the still one, or is older than the running one.
Each version is answered once, even across reboots (the retained config comes
again at every connect): the running config and the last version answered
live in flash, one small write per config change. A kind of device that takes
zones (the bracelet) also keeps the applied config's payload, as received, so
its zones survive a reboot while the link is down; its agent vets a config
(``vet``: can the zones be built?) before it is applied.
"""

from core import cbor, codec
from core import contract as c
from core.errors import CoreError
from core.messages import Config

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

SETTING_IDS = {}
for _sid in c.CONFIG_SETTINGS:
    SETTING_IDS[c.CONFIG_SETTINGS[_sid][0]] = _sid

# Defaults by setting name, per kind of device; a config overrides what it names.
BRACELET_DEFAULTS = {
    "fix_interval_s": 30,
    "fix_interval_moving_s": 10,
    "fix_interval_still_s": 60,
    "health_interval_s": 300,
    "low_battery_pct": 20,
    "roll_call_window_s": 120,
    "sos_hold_ms": 2000,
    "batch_max_records": 64,
    "utc_offset_min": 480,  # China Standard Time, the zones' windows' local time
    "zone_warn_margin_m": 50,
    "zone_dwell_s": 60,
}
RIVER_SENSOR_DEFAULTS = {
    "health_interval_s": 3600,
    "sample_interval_s": 300,
    "batch_max_records": 64,
}

FILE = "config.bin"
ZONES_FILE = "zones.bin"  # the applied config's payload, for its zones
MAX_FILE = 600  # config.bin: a length and [version, settings, last answered]
_LENGTH = 2  # both files start with the length of what follows (big-endian)


def write_blob(flash: "Any", name: str, data: bytes) -> None:
    """Write ``data`` after its length: a shorter blob than the one before leaves no tail."""
    flash.write(name, 0, bytes((len(data) >> 8, len(data) & 0xFF)) + data)


def read_blob(flash: "Any", name: str, limit: int) -> bytes:
    """What ``write_blob`` wrote (b"" if nothing, or if the length is not believable)."""
    head = flash.read(name, 0, _LENGTH)
    if len(head) < _LENGTH:
        return b""
    size = head[0] << 8 | head[1]
    if size > limit:
        return b""
    data: bytes = flash.read(name, _LENGTH, size)
    return data if len(data) == size else b""


_LEGACY_HEAD = 0x83  # config.bin before the length: a bare CBOR array of 3


class ConfigAnswer:
    """What to acknowledge: ``result`` (contract ACK_*) for ``version``, with a reason."""

    def __init__(self, version: int, result: int, reason: "str | None" = None) -> None:
        self.version = version
        self.result = result
        self.reason = reason


class DeviceSettings:
    """Current settings by name; ``version`` is the applied config (None: defaults)."""

    def __init__(
        self, defaults: "dict[str, int]", device_kind: str, flash: "Any", vet: "Any" = None
    ) -> None:
        self._defaults = defaults
        self._kind = device_kind
        self._flash = flash
        self._vet = vet  # vet(config) -> a reason to refuse it, or None
        self.takes_zones = "zone_dwell_s" in defaults
        self.values = dict(defaults)
        self.version: "int | None" = None
        self.answered = 0  # the last config version acknowledged, applied or not
        self._zones: "list[Any]" = []  # of the config applied or loaded, until taken

    def get(self, name: str) -> int:
        return self.values[name]

    def load(self) -> None:
        """Restore the running config, its zones and the last version answered from flash."""
        head = self._flash.read(FILE, 0, 1)
        if not head:
            return
        if head[0] == _LEGACY_HEAD:
            raw = self._flash.read(FILE, 0, MAX_FILE)
        else:
            raw = read_blob(self._flash, FILE, MAX_FILE)
        try:
            version, settings, answered = cbor.decode(raw)
            self._apply_ids(settings)
            self.version = version or None
            self.answered = answered
        except (CoreError, ValueError, TypeError, KeyError):
            # A damaged file: run on defaults and accept the next config.
            self.values = dict(self._defaults)
            return
        if self.takes_zones and self.version is not None:
            self._zones = self._load_zones()

    def _load_zones(self) -> "list[Any]":
        raw = read_blob(self._flash, ZONES_FILE, c.MAX_SIZE_BY_KIND[c.CONFIG])
        if not raw:
            return []
        try:
            config = codec.decode(raw, "config")
        except CoreError:
            return []  # damaged: no zones until the next config
        assert isinstance(config, Config)
        if config.version != self.version:
            return []  # torn between the two writes: the zones of another version
        return config.zones

    def take_zones(self) -> "list[Any]":
        """The zones (``ConfigZone``) of the config applied or loaded last, handed over once.

        The agent keeps them as geometry; this drops the wire form, which would
        only take RAM.
        """
        zones = self._zones
        self._zones = []
        return zones

    def _save(self) -> None:
        settings = {}
        for name in self.values:
            settings[SETTING_IDS[name]] = self.values[name]
        data = cbor.encode([self.version or 0, settings, self.answered])
        write_blob(self._flash, FILE, data)

    def _apply_ids(self, settings: "dict[Any, Any]") -> None:
        values = dict(self._defaults)
        for sid in settings:
            values[c.CONFIG_SETTINGS[sid][0]] = settings[sid]
        self.values = values

    def apply(self, payload: bytes) -> "ConfigAnswer | None":
        """Apply a config payload; return what to acknowledge, or None if answered before."""
        try:
            config = codec.decode(payload, "config")
        except CoreError as exc:
            version = _readable_version(payload)
            if version is None or version == self.answered:
                return None
            return self._answer(version, c.ACK_REJECTED, _short(str(exc)))
        assert isinstance(config, Config)  # the config channel admits no other kind
        if config.version == self.answered:
            return None
        reason = self._refusal(config)
        if reason is None and self._vet is not None:
            reason = self._vet(config)
        if reason is not None:
            return self._answer(config.version, c.ACK_REJECTED, _short(reason))
        if self.takes_zones:
            # Before config.bin, which commits the version: torn between the two,
            # the zones' version does not match and they are not used.
            write_blob(self._flash, ZONES_FILE, payload)
        self._apply_ids(config.settings)
        self.version = config.version
        self._zones = config.zones
        return self._answer(config.version, c.ACK_DONE)

    def _refusal(self, config: "Config") -> "str | None":
        if self.version is not None and config.version < self.version:
            return "version %d is older than the running %d" % (config.version, self.version)
        for sid in config.settings:
            name = c.CONFIG_SETTINGS[sid][0]
            if name not in self._defaults:
                return "%s is not a %s setting" % (name, self._kind)
        if config.zones and not self.takes_zones:
            return "a %s takes no zones" % self._kind
        moving = config.setting("fix_interval_moving_s")
        still = config.setting("fix_interval_still_s")
        if moving is None and "fix_interval_moving_s" in self._defaults:
            moving = self.values["fix_interval_moving_s"]
        if still is None and "fix_interval_still_s" in self._defaults:
            still = self.values["fix_interval_still_s"]
        if moving is not None and still is not None and moving > still:
            return "fix_interval_moving_s %d is over fix_interval_still_s %d" % (moving, still)
        return None

    def _answer(self, version: int, result: int, reason: "str | None" = None) -> "ConfigAnswer":
        self.answered = version
        self._save()
        return ConfigAnswer(version, result, reason)


def _readable_version(payload: bytes) -> "int | None":
    try:
        wire = cbor.decode(payload)
        version = wire[c.K_CONFIG_VERSION]
    except (CoreError, ValueError, TypeError, KeyError, IndexError):
        return None
    if type(version) is int and 1 <= version <= c.UINT32_MAX:
        return version
    return None


def _short(text: str) -> str:
    # An ack reason is 1..64 bytes of UTF-8; decode errors are ASCII.
    return text[: c.MAX_TEXT]
