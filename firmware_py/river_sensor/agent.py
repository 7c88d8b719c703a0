"""The river station's behaviour, sans-IO: when to sample, and what a sample says.

The runtime asks ``sample_due(now)``; when due it reads the sonde (Modbus
RTU, see ``firmware_py.modbus``) and hands over the registers with
``on_registers`` or the failure with ``on_sonde_failure``. Either way a water
sample record is made: a silent sonde is reported as a fault of every
parameter, not as a gap.
"""

from core import contract as c
from core.messages import WaterSample
from firmware_py.agent.device import DeviceAgent
from firmware_py.agent.settings import RIVER_SENSOR_DEFAULTS
from firmware_py.river_sensor.sonde import failed_readings, readings_from_registers

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass


class RiverSensorAgent(DeviceAgent):
    """A water-quality station on a river."""

    DEVICE_KIND = "river station"
    DEFAULTS = RIVER_SENSOR_DEFAULTS
    SUPPORTED_COMMANDS = (c.CMD_SAMPLE_NOW, c.CMD_REBOOT)
    MAX_RECORD = c.MAX_SIZE_BY_KIND[c.WATER_SAMPLE]

    def __init__(self, device_id: str, flash: "Any", **options: "Any") -> None:
        super().__init__(device_id, flash, **options)
        self._next_sample = 0
        self.battery_pct = 100
        self.battery_mv: "int | None" = None
        self.charging = False
        self.sonde_failures = 0

    def start(self, now: int) -> None:
        super().start(now)
        self._next_sample = now

    def sample_due(self, now: int) -> bool:
        return not self.halted and now >= self._next_sample

    def on_registers(self, registers: "list[int]", now: int) -> None:
        values, statuses = readings_from_registers(registers)
        self._record(values, statuses, now)

    def on_sonde_failure(self, now: int) -> None:
        self.sonde_failures += 1
        values, statuses = failed_readings()
        self._record(values, statuses, now)

    def _record(self, values: "dict[int, int]", statuses: "dict[int, int]", now: int) -> None:
        self.emit(WaterSample, now, values=values, statuses=statuses)
        self._next_sample = now + self.settings.get("sample_interval_s")

    def on_power(self, pct: int, mv: "int | None", charging: bool) -> None:
        self.battery_pct = max(0, min(100, pct))
        self.battery_mv = mv
        self.charging = charging

    def run_command(self, command: "Any", now: int) -> "tuple[int, Any]":
        if command.code == c.CMD_SAMPLE_NOW:
            self._next_sample = now
            return c.ACK_DONE, None
        return super().run_command(command, now)

    def _reschedule(self, now: int) -> None:
        super()._reschedule(now)
        self._next_sample = min(self._next_sample, now + self.settings.get("sample_interval_s"))

    def next_wake(self, now: int) -> int:
        return min(super().next_wake(now), self._next_sample)

    def health_fields(self, now: int) -> "dict[str, Any]":
        fields: dict[str, Any] = {"battery_pct": self.battery_pct, "charging": self.charging}
        if self.battery_mv is not None:
            fields["battery_mv"] = self.battery_mv
        return fields
