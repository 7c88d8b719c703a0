"""Wires a RiverSensorAgent to its hardware: the sonde on RS-485 and the power supply."""

from firmware_py.modbus import Transaction
from firmware_py.river_sensor import sonde

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

TIMEOUT_MS = 500
RETRIES = 2
POLL_MS = 10


def read_sonde(line: "Any", clock: "Any") -> "Any":
    """One Modbus read of the whole register map; the registers, or None after the retries.

    ``line`` writes frames and reads what has arrived (never blocks);
    ``clock`` gives monotonic milliseconds and sleeps.
    """
    transaction = Transaction(
        sonde.UNIT, sonde.FIRST_REGISTER, sonde.REGISTER_COUNT, TIMEOUT_MS, RETRIES
    )
    line.write(transaction.start(clock.ms()))
    while not transaction.done:
        data = line.read()
        if data:
            transaction.feed(data, clock.ms())
            continue
        again = transaction.poll(clock.ms())
        if again is not None:
            line.write(again)
        elif not transaction.done:
            clock.sleep_ms(POLL_MS)
    return transaction.registers


class RiverBoard:
    """The station's hardware around its agent."""

    def __init__(self, agent: "Any", line: "Any", clock: "Any", power: "Any") -> None:
        self.agent = agent
        self.line = line
        self.clock = clock
        self.power = power

    def step(self, now: int) -> None:
        agent = self.agent
        pct, mv, charging = self.power.read()
        agent.on_power(pct, mv, charging)
        if agent.sample_due(now):
            registers = read_sonde(self.line, self.clock)
            if registers is None:
                agent.on_sonde_failure(now)
            else:
                agent.on_registers(registers, now)
        agent.tick(now)
