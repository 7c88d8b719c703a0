"""The device's running config: defaults, the retained config from the cloud, its acks.

A config is applied as a whole or refused as a whole (the previous one stays):
refused when it does not decode, names a setting v1 does not define or this
kind of device does not use, holds a value out of range, asks for a moving
fix interval longer than the still one, or is older than the running one.
Each version is answered once, even across reboots (the retained config comes
again at every connect): the running config and the last version answered
live in flash, one small write per config change.
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
}
RIVER_SENSOR_DEFAULTS = {
    "health_interval_s": 3600,
    "sample_interval_s": 300,
    "batch_max_records": 64,
}

FILE = "config.bin"


class ConfigAnswer:
    """What to acknowledge: ``result`` (contract ACK_*) for ``version``, with a reason."""

    def __init__(self, version: int, result: int, reason: "str | None" = None) -> None:
        self.version = version
        self.result = result
        self.reason = reason


class DeviceSettings:
    """Current settings by name; ``version`` is the applied config (None: defaults)."""

    def __init__(self, defaults: "dict[str, int]", device_kind: str, flash: "Any") -> None:
        self._defaults = defaults
        self._kind = device_kind
        self._flash = flash
        self.values = dict(defaults)
        self.version: "int | None" = None
        self.answered = 0  # the last config version acknowledged, applied or not

    def get(self, name: str) -> int:
        return self.values[name]

    def load(self) -> None:
        """Restore the running config and the last version answered from flash."""
        raw = self._flash.read(FILE, 0, 600)
        if not raw:
            return
        try:
            version, settings, answered = cbor.decode(raw)
            self._apply_ids(settings)
            self.version = version or None
            self.answered = answered
        except (CoreError, ValueError, TypeError, KeyError):
            # A damaged file: run on defaults and accept the next config.
            self.values = dict(self._defaults)

    def _save(self) -> None:
        settings = {}
        for name in self.values:
            settings[SETTING_IDS[name]] = self.values[name]
        data = cbor.encode([self.version or 0, settings, self.answered])
        self._flash.write(FILE, 0, data)

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
        if reason is not None:
            return self._answer(config.version, c.ACK_REJECTED, reason)
        self._apply_ids(config.settings)
        self.version = config.version
        return self._answer(config.version, c.ACK_DONE)

    def _refusal(self, config: "Config") -> "str | None":
        if self.version is not None and config.version < self.version:
            return "version %d is older than the running %d" % (config.version, self.version)
        for sid in config.settings:
            name = c.CONFIG_SETTINGS[sid][0]
            if name not in self._defaults:
                return "%s is not a %s setting" % (name, self._kind)
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
