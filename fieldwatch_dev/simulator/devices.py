"""Simulated devices: the real agents and boards, on twins, behind the host transport."""

from __future__ import annotations

from typing import Any

from core import contract as c
from fieldwatch_dev.simulator.world import World
from firmware_py.agent.device import DeviceAgent
from firmware_py.bracelet.agent import BraceletAgent
from firmware_py.bracelet.board import BraceletBoard
from firmware_py.host import twins
from firmware_py.host.paho_link import (
    ACKED,
    CONNECTED,
    LOST,
    MESSAGE,
    REFUSED,
    SUBSCRIBED,
    PahoLink,
)
from firmware_py.river_sensor import sonde
from firmware_py.river_sensor.agent import RiverSensorAgent
from firmware_py.river_sensor.board import RiverBoard

NEVER = 1 << 62
ROLL_CALL_PULSE_MS = 1500


class LedgerMixin:
    """Keeps (boot, seq, kind) of every record made, so runs can be checked end to end."""

    ledger: list[tuple[int, int, int]]

    def emit(self, cls: Any, now: int, **fields: Any) -> Any:
        message = super().emit(cls, now, **fields)  # type: ignore[misc]
        if message is not None:
            self.ledger.append((message.boot, message.seq, message.KIND))
        return message


class SimBraceletAgent(LedgerMixin, BraceletAgent):
    pass


class SimRiverSensorAgent(LedgerMixin, RiverSensorAgent):
    pass


class SimDevice:
    """One device of the fleet: agent + board + twins + link, stepped on the simulated clock."""

    def __init__(self, number: int, device_id: str, world: World, link: PahoLink) -> None:
        self.number = number
        self.device_id = device_id
        self.world = world
        self.link = link
        self.flash = twins.MemoryFlash()
        self.wake_at = 0
        self.subscribed = False  # the broker confirmed the config and command subscriptions
        self.agent: DeviceAgent = self._make_agent()
        self.agent.ledger = []  # type: ignore[attr-defined]

    def _make_agent(self) -> DeviceAgent:
        raise NotImplementedError

    @property
    def ledger(self) -> list[tuple[int, int, int]]:
        ledger: list[tuple[int, int, int]] = self.agent.ledger  # type: ignore[attr-defined]
        return ledger

    def start(self, now: int) -> None:
        self.agent.start(now)
        self.wake_at = now

    def radio_on(self, now: int) -> bool:
        return True

    def step(self, now: int, produce: bool = True) -> None:
        """Handle what the link reported, connect if due, do the device's work, publish."""
        agent = self.agent
        while self.link.events:
            event = self.link.events.popleft()
            if event.kind == CONNECTED:
                self.subscribed = False
                agent.on_connected(now)
                self.link.subscribe(agent.subscriptions())
            elif event.kind == REFUSED:
                agent.on_connect_failed(now)
            elif event.kind == LOST:
                self.subscribed = False
                agent.on_connection_lost(now)
            elif event.kind == SUBSCRIBED:
                self.subscribed = True
            elif event.kind == MESSAGE:
                agent.on_message(event.topic, event.payload, now)
            elif event.kind == ACKED:
                agent.on_published(event.token)
        radio = self.radio_on(now) or not produce
        if not radio and self.link.client is not None:
            self.subscribed = False
            self.link.cut()
            agent.on_connection_lost(now)
        can_connect = radio and not agent.halted and self.link.client is None
        if can_connect and agent.wants_connection(now) and not self.link.connect(*agent.will()):
            agent.on_connect_failed(now)
        if produce:
            self.work(now)
        else:
            agent.uplink.poll(now)
        for out in agent.take_outgoing():
            self.link.publish(out.topic, out.payload, out.retain, out.token)
        if agent.halted and agent.uplink.idle and self.link.client is not None:
            self.link.close()  # powered off once everything went out
        self.wake_at = self._next_wake(now)

    def work(self, now: int) -> None:
        raise NotImplementedError

    def _next_wake(self, now: int) -> int:
        wake = self.agent.next_wake(now)
        if self.link.client is None and not self.agent.halted:
            wake = min(wake, self.agent.backoff.next_attempt)
        for elapsed in self._changes():
            at = self.world.start_ts + elapsed
            if at > now:
                wake = min(wake, at)
                break
        return max(now + 1, wake)

    def _changes(self) -> list[int]:
        return []

    @property
    def idle(self) -> bool:
        """Everything made was acknowledged (or dropped) and nothing waits."""
        return self.agent.uplink.idle and (self.agent.uplink.connected or self.agent.halted)


class SimBracelet(SimDevice):
    """A bracelet worn by the scenario's wearer number ``number``."""

    def __init__(
        self, number: int, device_id: str, world: World, link: PahoLink, **options: Any
    ) -> None:
        self.options = options
        self.gnss = twins.GnssTwin()
        self.strap = twins.StrapTwin()
        self.button = twins.ButtonTwin()
        self.battery = twins.BatteryTwin()
        self.vibration = twins.VibrationTwin()
        self.modem = twins.ModemTwin()
        self._roll_call_at: int | None = None
        self._pulses_seen = 0
        self._changes_cache = world.bracelet_changes(number)
        super().__init__(number, device_id, world, link)
        self.board = BraceletBoard(
            self.agent, self.gnss, self.strap, self.button, self.battery, self.vibration, self.modem
        )

    def _make_agent(self) -> DeviceAgent:
        return SimBraceletAgent(self.device_id, self.flash, **self.options)

    def _changes(self) -> list[int]:
        changes = self._changes_cache
        if self._roll_call_at is not None:
            press = (
                self._roll_call_at - self.world.start_ts + self.world.wearer(self.number).reaction_s
            )
            changes = sorted([*changes, press, press + 1])
        return changes

    def radio_on(self, now: int) -> bool:
        wearer = self.world.wearer(self.number)
        elapsed = now - self.world.start_ts
        return not any(
            i.kind == "offline" and i.at_s <= elapsed < i.at_s + i.duration_s
            for i in wearer.incidents
        )

    def work(self, now: int) -> None:
        if len(self.vibration.pulses) > self._pulses_seen:
            if ROLL_CALL_PULSE_MS in self.vibration.pulses[self._pulses_seen :]:
                self._roll_call_at = now
            self._pulses_seen = len(self.vibration.pulses)
        state = self.world.wearer_state(self.number, now, self._roll_call_at)
        wearer = self.world.wearer(self.number)
        self.gnss.now = now
        self.gnss.lat_e7 = round(state.lat * 1e7)
        self.gnss.lon_e7 = round(state.lon * 1e7)
        self.gnss.speed_cm_s = state.speed_cm_s
        self.gnss.sky = state.outdoors
        self.gnss.hdop_e1 = 9
        accuracy, source = (200, c.FIX_CELL) if self.number % 3 else (500, c.FIX_WIFI)
        self.modem.set_coarse(self.gnss.lat_e7 + 9000, self.gnss.lon_e7 - 7000, accuracy, source)
        self.modem.signal = wearer.signal_dbm
        self.strap.is_closed = state.strap_closed
        self.button.pressed = state.button_pressed
        self.button.held_ms = state.button_held_ms
        self.battery.pct = state.battery_pct
        self.board.step(now)


class SimRiverStation(SimDevice):
    """A river station with its sonde twin, showing what the scenario's river holds."""

    def __init__(
        self, number: int, device_id: str, world: World, link: PahoLink, **options: Any
    ) -> None:
        self.options = options
        self.line = twins.SondeTwin(unit=sonde.UNIT, size=sonde.REGISTER_COUNT)
        self.clock = twins.MillisTwin()
        self.power = twins.PowerTwin()
        self._changes_cache = world.radio_changes_station(number)
        super().__init__(number, device_id, world, link)
        self.board = RiverBoard(self.agent, self.line, self.clock, self.power)

    def _make_agent(self) -> DeviceAgent:
        return SimRiverSensorAgent(self.device_id, self.flash, **self.options)

    def _changes(self) -> list[int]:
        return self._changes_cache

    def radio_on(self, now: int) -> bool:
        return self.world.station_radio_on(self.number, now)

    def work(self, now: int) -> None:
        agent = self.agent
        if isinstance(agent, RiverSensorAgent) and agent.sample_due(now):
            self.line.registers = sonde.registers_from_readings(
                dict(self.world.water(self.number, now))
            )
        self.board.step(now)
