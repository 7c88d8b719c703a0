"""Drives one device agent for ``memory.mjs``, one small step per call.

Runs on the MicroPython VM (MicroPython subset). ``memory.mjs`` calls these
methods each in its own top-level ``runPython`` call, with ``gc.collect()``
in a call of its own in between: the WebAssembly port only collects at the
top level (see ``tests/micropython/README.md``), so the heap read after such a
collection is what is really live, and the heap read at the end of a step is
that plus everything the step allocated.

The agent is wired as ``main.py`` wires it on a board: its board wiring, a
``FileFlash`` (here on the VM's in-memory filesystem, which lives outside the
MicroPython heap, as a board's flash does) and the host twins for the
hardware. The transport acknowledges each publish at once, as
``umqtt.simple`` does on a board (one publish in flight).
"""

from firmware_py.hal.flash import FileFlash
from firmware_py.host import twins
from firmware_py.river_sensor import sonde

T0 = 1795932000
WALKING_CM_S = 140  # moving: a fix every fix_interval_moving_s, the bracelet's busiest
NORMAL_RIVER = {
    1: (1850, 0),
    2: (742, 0),
    3: (812, 0),
    4: (530, 0),
    5: (125, 0),
    6: (350, 0),
    7: (420, 0),
    8: (85, 0),
    9: (180, 0),
}


class Drive:
    """One agent, its board wiring and twins; ``now`` is the simulated clock (s)."""

    def __init__(self, kind, capacity):
        self.kind = kind
        self.capacity = capacity
        self.now = T0
        self.published = 0
        self.published_bytes = 0
        self.largest_publish = 0
        self.agent = None
        self.board = None
        self.held = []
        if kind == "bracelet":
            gnss = twins.GnssTwin()
            gnss.lat_e7, gnss.lon_e7 = 312304567, 1214737000
            gnss.speed_cm_s = WALKING_CM_S
            self.gnss = gnss
            self.strap = twins.StrapTwin()
            self.hardware = (
                gnss,
                self.strap,
                twins.ButtonTwin(),
                twins.BatteryTwin(80),
                twins.VibrationTwin(),
                twins.ModemTwin(),
            )
        elif kind == "river":
            line = twins.SondeTwin()
            line.registers = sonde.registers_from_readings(NORMAL_RIVER)
            self.gnss = None
            self.hardware = (line, twins.MillisTwin(), twins.PowerTwin())
        else:
            raise ValueError("kind is bracelet or river")

    def build(self):
        """Make and start the agent as main.py does (imports are the caller's, measured)."""
        flash = FileFlash("/data")
        if self.kind == "bracelet":
            from firmware_py.bracelet.agent import BraceletAgent
            from firmware_py.bracelet.board import BraceletBoard

            self.agent = BraceletAgent("br-000001", flash, capacity=self.capacity)
            self.board = BraceletBoard(self.agent, *self.hardware)
        else:
            from firmware_py.river_sensor.agent import RiverSensorAgent
            from firmware_py.river_sensor.board import RiverBoard

            self.agent = RiverSensorAgent("rs-000001", flash, capacity=self.capacity)
            self.board = RiverBoard(self.agent, *self.hardware)
        self.agent.start(self.now)

    # --- steps (one per top-level call) ------------------------------------------------

    def _step(self):
        if self.gnss is not None:
            self.gnss.now = self.now
            self.gnss.lat_e7 += 20  # walking north, about 2 m a second
        self.board.step(self.now)
        self._pump()

    def _pump(self):
        for out in self.agent.take_outgoing():
            self._count(out)
            self.agent.on_published(out.token)

    def _count(self, out):
        size = len(out.payload)
        self.published += 1
        self.published_bytes += size
        if size > self.largest_publish:
            self.largest_publish = size

    def second(self):
        """One second of the main loop."""
        self._step()
        self.now += 1

    def second_held(self):
        """One second of the main loop, its publishes held unsent (a batch in flight)."""
        if self.gnss is not None:
            self.gnss.now = self.now
        self.board.step(self.now)
        self.held = self.agent.take_outgoing()
        self.now += 1

    def release(self):
        """The held publishes go out and are acknowledged."""
        held = self.held
        self.held = []
        for out in held:
            self._count(out)
            self.agent.on_published(out.token)

    def wake(self):
        """Jump to the agent's next wake-up and step there (fast-forward while nothing happens)."""
        self.now = max(self.now + 1, self.agent.next_wake(self.now))
        self._step()

    def strap_edge(self):
        """Open or close the strap: an event at once (fills the events' reserved slots)."""
        self.strap.is_closed = not self.strap.is_closed
        self._step()
        self.now += 1

    def connect(self):
        self.agent.on_connected(self.now)
        self._pump()

    def disconnect(self):
        self.agent.on_connection_lost(self.now)

    # --- state -------------------------------------------------------------------------

    def buffered(self):
        return len(self.agent.buffer)

    def telemetry_cap(self):
        buffer = self.agent.buffer
        return buffer.capacity - buffer.reserve

    def telemetry(self):
        return self.agent.buffer.telemetry_count

    def dropped(self):
        return self.agent.buffer.dropped
