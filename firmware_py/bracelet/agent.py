"""The bracelet's behaviour, sans-IO: what to report, and when.

Its runtime feeds it readings (``on_fix``, ``on_strap``, ``on_button``,
``on_battery``, ``on_radio``) and asks ``fix_due(now)`` whether to power the
GNSS for a fix; it carries out ``take_actions()`` (vibrate). Events go out
at once: the record is made the moment the reading arrives, and the uplink
sends it live or keeps it in flash.

Fix interval: ``fix_interval_moving_s`` while moving (GNSS speed of 0.5 m/s
or more, or 50 m from the last fix), ``fix_interval_still_s`` while still,
``fix_interval_s`` when movement is unknown (a cell or Wi-Fi fix has no speed).

Zones: the config's zones are watched on every fix (``bracelet/zones.py``); a
crossing held for ``zone_dwell_s`` is a zone event, made like any other, so it
is kept in flash while the link is down. A config whose zones cannot be built
is refused as a whole.
"""

import gc

from core import contract as c
from core.errors import CoreError
from core.messages import Event, LocationFix
from firmware_py.agent.device import DeviceAgent
from firmware_py.agent.settings import BRACELET_DEFAULTS
from firmware_py.bracelet import zones

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

MOVING_SPEED_CM_S = 50
MOVING_DISTANCE_M = 50
POWER_OFF_PCT = 2  # below this the board shuts down to protect the cell
LOW_BATTERY_REARM_PCT = 5  # hysteresis: one low-battery event per discharge
FRESH_FIX_WAIT_S = 30  # a roll-call answer waits this long for a fresh fix
VIBRATE_MS = 1500


class BraceletAgent(DeviceAgent):
    """A supervision bracelet (see the module docstring)."""

    DEVICE_KIND = "bracelet"
    DEFAULTS = BRACELET_DEFAULTS
    SUPPORTED_COMMANDS = (c.CMD_ROLL_CALL, c.CMD_LOCATE_NOW, c.CMD_REBOOT)
    MAX_RECORD = c.MAX_SIZE_BY_KIND[c.ACK]

    def __init__(self, device_id: str, flash: "Any", **options: "Any") -> None:
        super().__init__(device_id, flash, **options)
        self.position: "Any" = None  # the last Position
        self.strap_closed: "bool | None" = None
        self.battery_pct = 100
        self.battery_mv: "int | None" = None
        self.charging = False
        self.signal_dbm: "int | None" = None
        self.free_mem_bytes: "int | None" = None
        self._low_battery_armed = True
        self._next_fix = 0
        self._button_down = False
        self._sos_sent = False
        self._roll_call: "Any" = None  # [command_id, ts, deadline]
        self._answer: "Any" = None  # [command_id, response_s, answered_at] awaiting a fix
        self._actions: list[Any] = []
        self.zone_watch = zones.ZoneWatch()
        self._vetted: "Any" = None  # [config version, its WatchedZones], built by vet_config

    def start(self, now: int) -> None:
        super().start(now)
        self._next_fix = now

    # --- readings --------------------------------------------------------------------

    def fix_due(self, now: int) -> bool:
        return not self.halted and now >= self._next_fix

    def on_fix(self, position: "Any", now: int) -> None:
        """A new position (GNSS, or cell / Wi-Fi when GNSS has none): report it."""
        moving = self._moving(position)
        self.position = position
        self.emit(
            LocationFix,
            now,
            lat_e7=position.lat_e7,
            lon_e7=position.lon_e7,
            accuracy_m=min(65535, position.accuracy_m),
            source=position.source,
            speed_cm_s=position.speed_cm_s,
        )
        if moving is None:
            interval = self.settings.get("fix_interval_s")
        elif moving:
            interval = self.settings.get("fix_interval_moving_s")
        else:
            interval = self.settings.get("fix_interval_still_s")
        self._next_fix = now + interval
        self._watch_zones(position, now)
        if self._answer is not None:
            self._send_answer(now)

    def _watch_zones(self, position: "Any", now: int) -> None:
        if now < c.TS_MIN:
            return  # no time, no schedule: and no record could be made
        crossings, buzz = self.zone_watch.on_fix(
            position.lat_e7, position.lon_e7, position.accuracy_m, now, self.settings
        )
        for code, watched in crossings:
            self._event(code, now, zone_id=watched.zone_id)
        if buzz:
            self._actions.append(("vibrate", buzz))

    def on_no_fix(self, now: int) -> None:
        """Nothing to report this time (no GNSS, no cell): try again at the default interval."""
        self._next_fix = now + self.settings.get("fix_interval_s")
        if self._answer is not None and now - self._answer[2] >= FRESH_FIX_WAIT_S:
            self._send_answer(now)

    def _moving(self, position: "Any") -> "bool | None":
        if position.speed_cm_s is not None:
            if position.speed_cm_s >= MOVING_SPEED_CM_S:
                return True
            if self.position is None:
                return False
        if self.position is not None:
            if position.distance_m(self.position) >= MOVING_DISTANCE_M + position.accuracy_m:
                return True
            if position.speed_cm_s is not None:
                return False
        return None

    def on_strap(self, closed: bool, now: int) -> None:
        """The strap circuit's state; an edge is an event at once."""
        if self.strap_closed is not None and closed != self.strap_closed:
            code = c.EV_STRAP_CLOSED if closed else c.EV_STRAP_OPENED
            self._event(code, now)
        self.strap_closed = closed

    def on_button(self, pressed: bool, held_ms: int, now: int) -> None:
        """The button: a press answers a roll call; a hold of ``sos_hold_ms`` is an SOS."""
        if pressed and not self._button_down:
            self._button_down = True
            self._sos_sent = False
            if self._roll_call is not None:
                self._answer_roll_call(now)
                return
        if pressed and not self._sos_sent and held_ms >= self.settings.get("sos_hold_ms"):
            self._sos_sent = True
            self._event(c.EV_SOS, now)
            self._actions.append(("vibrate", VIBRATE_MS // 3))  # tells the wearer it went
        if not pressed:
            self._button_down = False

    def on_battery(self, pct: int, mv: "int | None", charging: bool, now: int) -> None:
        """Battery state: low-battery and power-off events as thresholds are crossed."""
        self.battery_pct = max(0, min(100, pct))
        self.battery_mv = mv
        self.charging = charging
        threshold = self.settings.get("low_battery_pct")
        if charging or self.battery_pct > threshold + LOW_BATTERY_REARM_PCT:
            self._low_battery_armed = True
        elif self.battery_pct <= threshold and self._low_battery_armed:
            self._low_battery_armed = False
            self._event(c.EV_LOW_BATTERY, now)
        if not charging and self.battery_pct < POWER_OFF_PCT and not self.halted:
            self._event(c.EV_POWER_OFF, now)
            self.publish_status(c.OFFLINE, now)
            self.halted = True

    def on_radio(self, signal_dbm: "int | None", free_mem_bytes: "int | None" = None) -> None:
        self.signal_dbm = signal_dbm
        self.free_mem_bytes = free_mem_bytes

    def take_actions(self) -> "list[Any]":
        """Things for the hardware to do, e.g. ``("vibrate", ms)``."""
        actions = self._actions
        self._actions = []
        return actions

    # --- config ------------------------------------------------------------------------

    def vet_config(self, config: "Any") -> "str | None":
        """Refuse a config whose zones cannot be built (e.g. a polygon enclosing no area)."""
        try:
            built = zones.build(config.zones)
        except CoreError as exc:
            return str(exc)
        self._vetted = [config.version, built]
        return None

    def _settings_changed(self) -> None:
        super()._settings_changed()
        vetted = self._vetted
        self._vetted = None
        if vetted is not None and vetted[0] == self.settings.version:
            self.settings.take_zones()  # built when vetted
            built = vetted[1]
        else:  # restored from flash at start
            try:
                built = zones.build(self.settings.take_zones())
            except CoreError:
                built = []  # vetted when it came: only a firmware change gets here
        self.zone_watch.replace(built)
        gc.collect()  # the decoded config's vertices are garbage now: give their RAM back

    # --- events and roll calls ---------------------------------------------------------

    def _event(self, code: int, now: int, **fields: "Any") -> None:
        fix = None if self.position is None else self.position.event_fix()
        self.emit(Event, now, code=code, battery_pct=self.battery_pct, fix=fix, **fields)

    def run_command(self, command: "Any", now: int) -> "tuple[int, Any]":
        if command.code == c.CMD_ROLL_CALL:
            window = command.arg("window_s") or self.settings.get("roll_call_window_s")
            deadline = command.ts + window
            if now > deadline:
                return c.ACK_EXPIRED, "the roll-call window ran out before it arrived"
            self._roll_call = [command.command_id, command.ts, deadline]
            self._actions.append(("vibrate", VIBRATE_MS))
            return c.ACK_DONE, None
        if command.code == c.CMD_LOCATE_NOW:
            self._next_fix = now
            return c.ACK_DONE, None
        return super().run_command(command, now)

    def _answer_roll_call(self, now: int) -> None:
        command_id, ts, _ = self._roll_call
        self._roll_call = None
        self._answer = [command_id, max(0, min(3600, now - ts)), now]
        self._next_fix = now  # a fresh fix goes with the answer

    def _send_answer(self, now: int) -> None:
        command_id, response_s, _ = self._answer
        self._answer = None
        self._event(
            c.EV_ROLL_CALL_RESPONSE,
            now,
            command_id=command_id,
            roll_call_result=c.ROLL_CALL_ANSWERED,
            response_s=response_s,
        )

    # --- schedule ----------------------------------------------------------------------

    def work(self, now: int) -> None:
        if self._roll_call is not None and now > self._roll_call[2]:
            command_id = self._roll_call[0]
            self._roll_call = None
            self._event(
                c.EV_ROLL_CALL_RESPONSE,
                now,
                command_id=command_id,
                roll_call_result=c.ROLL_CALL_MISSED,
            )
        if self._answer is not None and now - self._answer[2] >= FRESH_FIX_WAIT_S:
            self._send_answer(now)

    def next_wake(self, now: int) -> int:
        wake = min(super().next_wake(now), self._next_fix)
        if self._roll_call is not None:
            wake = min(wake, self._roll_call[2] + 1)
        if self._answer is not None:
            wake = min(wake, self._answer[2] + FRESH_FIX_WAIT_S)
        return wake

    def _reschedule(self, now: int) -> None:
        super()._reschedule(now)
        self._next_fix = min(self._next_fix, now + self.settings.get("fix_interval_moving_s"))

    def health_fields(self, now: int) -> "dict[str, Any]":
        fields: dict[str, Any] = {"battery_pct": self.battery_pct, "charging": self.charging}
        if self.signal_dbm is not None:
            fields["signal_dbm"] = max(-150, min(0, self.signal_dbm))
        if self.free_mem_bytes is not None:
            fields["free_mem_bytes"] = self.free_mem_bytes
        if self.battery_mv is not None:
            fields["battery_mv"] = self.battery_mv
        return fields
