"""Wires a BraceletAgent to its hardware: one ``step`` reads, decides, acts.

The hardware objects are the HAL modules on a board (``firmware_py.hal``) or
their twins on a host (``firmware_py.host.twins``); both offer the same
small methods, so this wiring is the same code in both places.
"""

from firmware_py.agent.position import Position
from firmware_py.nmea import FixAssembler

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

GNSS_FIX_MAX_AGE_S = 5  # an older GNSS fix is stale: fall back to cell / Wi-Fi


class BraceletBoard:
    """The bracelet's hardware around its agent."""

    def __init__(
        self,
        agent: "Any",
        gnss: "Any",
        strap: "Any",
        button: "Any",
        battery: "Any",
        vibration: "Any",
        modem: "Any",
    ) -> None:
        self.agent = agent
        self.gnss = gnss
        self.strap = strap
        self.button = button
        self.battery = battery
        self.vibration = vibration
        self.modem = modem
        self.assembler = FixAssembler()
        self._gnss_fix: "Any" = None
        self._gnss_at = 0

    def step(self, now: int) -> None:
        """Read the hardware, let the agent decide, carry out what it asks."""
        agent = self.agent
        agent.on_strap(self.strap.closed(), now)
        pressed, held_ms = self.button.state()
        agent.on_button(pressed, held_ms, now)
        pct, mv, charging = self.battery.read()
        agent.on_battery(pct, mv, charging, now)
        agent.on_radio(self.modem.signal_dbm(), self.modem.free_memory())
        if agent.fix_due(now):
            self._locate(now)
        agent.tick(now)
        for action in agent.take_actions():
            if action[0] == "vibrate":
                self.vibration.pulse(action[1])

    def _locate(self, now: int) -> None:
        for line in self.gnss.lines():
            fix = self.assembler.feed(line)
            if fix is not None:
                self._gnss_fix = fix
                self._gnss_at = now
        if self._gnss_fix is not None and now - self._gnss_at <= GNSS_FIX_MAX_AGE_S:
            self.agent.on_fix(Position.from_gnss(self._gnss_fix), now)
            self._gnss_fix = None
            return
        coarse = self.modem.coarse_position()
        if coarse is not None:
            self.agent.on_fix(coarse, now)
        else:
            self.agent.on_no_fix(now)
