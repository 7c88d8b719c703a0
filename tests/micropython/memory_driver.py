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

Kind ``zones`` is the bracelet with a realistic load of zones in its config
(``zone_config``): a 12-vertex home polygon with a curfew, a 40-vertex county
polygon, two circles to keep away from and a workplace circle on weekdays.
"""

import math

from firmware_py.hal.flash import FileFlash
from firmware_py.host import twins
from firmware_py.river_sensor import sonde

T0 = 1795932000  # 2026-11-29T06:00:00Z, a Sunday, 14:00 in Shanghai
WALKING_CM_S = 140  # moving: a fix every fix_interval_moving_s, the bracelet's busiest
START_LAT_E7 = 312304567  # the wearer starts at home, near People's Square, Shanghai
START_LON_E7 = 1214737000
E7_PER_M = 90  # 1e-7 degrees of latitude per metre, near enough
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


def ring(lat_e7, lon_e7, radius_m, vertices):
    """A polygon of ``vertices`` about a point, a little irregular (as drawn by hand)."""
    out = []
    for i in range(vertices):
        angle = 2 * math.pi * i / vertices
        r = radius_m * (1.0 + 0.15 * math.sin(3 * angle))
        north = int(r * math.cos(angle) * E7_PER_M)
        east = int(r * math.sin(angle) * E7_PER_M * 117 // 100)  # 1/cos(31 N)
        out.append((lat_e7 + north, lon_e7 + east))
    return out


def zone_config(version, ts):
    """The payload of a config holding the five zones of the ``zones`` kind."""
    from core import codec
    from core import contract as c
    from core.messages import Config, ConfigZone

    lat, lon = START_LAT_E7, START_LON_E7
    zones = [
        ConfigZone(
            101, c.ZONE_INCLUSION, polygon=ring(lat, lon, 40, 12), windows=[(127, 1320, 360)]
        ),
        ConfigZone(102, c.ZONE_INCLUSION, polygon=ring(lat + 20000, lon, 20000, 40)),
        ConfigZone(103, c.ZONE_EXCLUSION, circle=(lat + 180000, lon - 90000, 300)),
        ConfigZone(104, c.ZONE_EXCLUSION, circle=(lat - 150000, lon + 120000, 200)),
        ConfigZone(
            105, c.ZONE_INCLUSION, circle=(lat + 45000, lon + 30000, 150), windows=[(31, 480, 1080)]
        ),
    ]
    settings = {10: 480, 11: 50, 12: 60}
    return codec.encode(Config(version, ts, settings, zones))


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
        self.config = zone_config(2, T0) if kind == "zones" else None
        if kind in ("bracelet", "zones"):
            gnss = twins.GnssTwin()
            gnss.lat_e7, gnss.lon_e7 = START_LAT_E7, START_LON_E7
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
            raise ValueError("kind is bracelet, zones or river")

    def build(self):
        """Make and start the agent as main.py does (imports are the caller's, measured)."""
        flash = FileFlash("/data")
        if self.kind in ("bracelet", "zones"):
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
            self.gnss.lat_e7 += 20  # north, 2 cm a second (the speed it reports makes it moving)
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

    def configure(self):
        """The retained config arrives (with the zones, for kind ``zones``) and is applied."""
        self.agent.on_message("fw/v1/br-000001/config", self.config, self.now)
        self._pump()

    def zones(self):
        return len(self.agent.zone_watch.zones)

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
