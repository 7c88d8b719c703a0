"""The bracelet's zones: config, crossings after the dwell, jitter, warnings, offline.

Runs on MicroPython and CPython. The agent is driven through its board wiring
with the host twins, as on a device: the GNSS twin prints NMEA for where the
wearer is, with an accuracy of HDOP x 5 m, and moving at 1 m/s a fix is taken
every 10 s (``fix_interval_moving_s``).
"""

from mptest import assert_equal

from core import cbor, codec
from core import contract as c
from core.messages import Config, ConfigZone
from firmware_py.bracelet import zones
from firmware_py.bracelet.agent import BraceletAgent
from firmware_py.bracelet.board import BraceletBoard
from firmware_py.host import twins
from firmware_py.river_sensor.agent import RiverSensorAgent

T0 = 1795932000  # 2026-11-29T06:00:00Z, a Sunday: 14:00 in Shanghai (UTC+8)
BR = "br-000007"
CONFIG_TOPIC = "fw/v1/br-000007/config"
LAT = 311120000  # the centre of the test zones, in Minhang, Shanghai
LON = 1213815000
E7_PER_M = 90  # 1e-7 degrees of latitude per metre, near enough (1 m = 89.9)
SURE_HDOP = 9  # 5 m accuracy
POOR_HDOP = 60  # 30 m accuracy: undecided within 30 m of an edge
CURFEW = (127, 1320, 360)  # every night 22:00-06:00 local
HOME = [  # a 12-vertex home block, about 60 m across
    (LAT + 2700, LON - 1000),
    (LAT + 2700, LON + 1000),
    (LAT + 2000, LON + 2600),
    (LAT + 900, LON + 3000),
    (LAT - 900, LON + 3000),
    (LAT - 2000, LON + 2600),
    (LAT - 2700, LON + 1000),
    (LAT - 2700, LON - 1000),
    (LAT - 2000, LON - 2600),
    (LAT - 900, LON - 3000),
    (LAT + 900, LON - 3000),
    (LAT + 2000, LON - 2600),
]


class Wire:
    """Collects what the agent publishes; acknowledges it while ``acking``."""

    def __init__(self, agent):
        self.agent = agent
        self.acking = True
        self.published = []

    def pump(self):
        for out in self.agent.take_outgoing():
            if self.acking:
                self.published.append(out)
                self.agent.on_published(out.token)

    def records(self):
        found = []
        for out in self.published:
            message = codec.decode(out.payload)
            if message.KIND == c.BATCH:
                found.extend(message.items)
            elif message.KIND != c.STATUS:
                found.append(message)
        return found

    def zone_events(self):
        return [r for r in self.records() if r.KIND == c.EVENT and r.code in c.EV_ZONE_CODES]

    def acks(self):
        return [(a.config_version, a.result, a.reason) for a in self.records() if a.KIND == c.ACK]


def bracelet(flash=None):
    flash = flash or twins.MemoryFlash()
    agent = BraceletAgent(BR, flash, capacity=200)
    hw = {
        "gnss": twins.GnssTwin(),
        "strap": twins.StrapTwin(),
        "button": twins.ButtonTwin(),
        "battery": twins.BatteryTwin(80),
        "vibration": twins.VibrationTwin(),
        "modem": twins.ModemTwin(),
    }
    board = BraceletBoard(agent, **hw)
    agent.start(T0)
    return agent, board, hw, Wire(agent)


def config(version, zone_list, **settings):
    ids = {}
    for sid in c.CONFIG_SETTINGS:
        name = c.CONFIG_SETTINGS[sid][0]
        if name in settings:
            ids[sid] = settings[name]
    return codec.encode(Config(version, T0, ids, zone_list))


def circle(zone_id, radius_m, rule=c.ZONE_INCLUSION, windows=None):
    return ConfigZone(zone_id, rule, circle=(LAT, LON, radius_m), windows=windows)


def walk(board, hw, wire, start, end, north_m, hdop=None):
    """Each second, put the wearer ``north_m(t)`` metres north of the centre (t from start)."""
    gnss = hw["gnss"]
    gnss.speed_cm_s = 100
    for now in range(start, end):
        gnss.now = now
        gnss.lat_e7 = LAT + int(north_m(now - start) * E7_PER_M)
        gnss.lon_e7 = LON
        gnss.hdop_e1 = SURE_HDOP if hdop is None else hdop(now - start)
        board.step(now)
        wire.pump()


def at(metres):
    return lambda t: metres


def setup(zone_list, **settings):
    """A connected bracelet running a config of these zones."""
    agent, board, hw, wire = bracelet()
    agent.on_connected(T0)
    agent.on_message(CONFIG_TOPIC, config(2, zone_list, **settings), T0)
    wire.pump()
    assert_equal(wire.acks(), [(2, c.ACK_DONE, None)])
    return agent, board, hw, wire


# --- config -----------------------------------------------------------------------------


def test_a_config_with_zones_is_applied_and_a_config_without_clears_them():
    home = ConfigZone(101, c.ZONE_INCLUSION, polygon=HOME, windows=[CURFEW])
    county = circle(103, 20000)
    keep_away = ConfigZone(102, c.ZONE_EXCLUSION, circle=(LAT + 90000, LON, 300))
    agent, _board, _hw, wire = setup(
        [home, keep_away, county], utc_offset_min=480, zone_warn_margin_m=30, zone_dwell_s=45
    )
    watched = agent.zone_watch.zones
    assert_equal([z.zone_id for z in watched], [101, 102, 103])
    assert_equal([z.inclusion for z in watched], [True, False, True])
    assert_equal(len(watched[0].zone.vertices), 12)
    assert_equal(len(watched[0].windows), 1)
    assert_equal(agent.settings.get("zone_dwell_s"), 45)
    agent.on_message(CONFIG_TOPIC, config(3, None, zone_dwell_s=45), T0 + 5)
    wire.pump()
    assert_equal(wire.acks()[-1], (3, c.ACK_DONE, None))
    assert_equal(agent.zone_watch.zones, [])


def test_zones_survive_a_reboot_without_the_config_coming_again():
    flash = twins.MemoryFlash()
    agent, _board, _hw, _wire = bracelet(flash)
    agent.on_connected(T0)
    agent.on_message(CONFIG_TOPIC, config(4, [circle(7, 200)], health_interval_s=900), T0)
    # A shorter config after a longer one: what flash keeps must not keep its tail.
    agent.on_message(CONFIG_TOPIC, config(5, [circle(8, 150)], health_interval_s=60), T0 + 1)
    agent2, _board2, _hw2, _wire2 = bracelet(flash)  # rebooted, offline
    assert_equal(agent2.settings.version, 5)
    assert_equal(agent2.settings.get("health_interval_s"), 60)
    assert_equal([z.zone_id for z in agent2.zone_watch.zones], [8])
    assert_equal(agent2.settings.apply(config(5, [circle(8, 150)], health_interval_s=60)), None)


def test_a_config_file_from_before_the_length_is_still_read():
    flash = twins.MemoryFlash()
    flash.write("config.bin", 0, cbor.encode([6, {1: 45, 4: 600}, 6]))
    agent, _board, _hw, _wire = bracelet(flash)
    assert_equal(agent.settings.version, 6)
    assert_equal(agent.settings.answered, 6)
    assert_equal(agent.settings.get("health_interval_s"), 600)
    assert_equal(agent.zone_watch.zones, [])


def test_a_polygon_enclosing_no_area_is_refused_and_the_previous_zones_stay():
    agent, _board, _hw, wire = setup([circle(7, 200)])
    line = [(LAT, LON), (LAT + 100, LON), (LAT + 200, LON)]
    bad = ConfigZone(9, c.ZONE_INCLUSION, polygon=line)
    agent.on_message(CONFIG_TOPIC, config(3, [circle(8, 100), bad]), T0 + 1)
    wire.pump()
    version, result, reason = wire.acks()[-1]
    assert_equal((version, result), (3, c.ACK_REJECTED))
    assert reason.startswith("zone 9: "), reason
    assert_equal([z.zone_id for z in agent.zone_watch.zones], [7])


def test_a_river_station_refuses_zones():
    station = RiverSensorAgent("rs-000003", twins.MemoryFlash(), capacity=20)
    station.start(T0)
    answer = station.settings.apply(config(2, [circle(7, 200)]))
    assert_equal((answer.result, answer.reason), (c.ACK_REJECTED, "a river station takes no zones"))


# --- crossings ----------------------------------------------------------------------------


def test_walking_out_of_an_inclusion_zone_makes_one_zone_left_after_the_dwell():
    _agent, board, hw, wire = setup([circle(7, 200)], zone_dwell_s=30, zone_warn_margin_m=0)
    walk(board, hw, wire, T0, T0 + 120, at(100))  # inside: the baseline
    walk(board, hw, wire, T0 + 120, T0 + 400, lambda t: 100 + t)  # out at 1 m/s, far out
    events = wire.zone_events()
    assert_equal([(e.code, e.zone_id) for e in events], [(c.EV_ZONE_LEFT, 7)])
    fixes = [r for r in wire.records() if r.KIND == c.LOCATION_FIX]
    first_sure_outside = next(f for f in fixes if (f.lat_e7 - LAT) / E7_PER_M >= 205)
    left = events[0]
    assert left.ts >= first_sure_outside.ts + 30, (left.ts, first_sure_outside.ts)
    assert left.ts <= first_sure_outside.ts + 40
    assert_equal(left.fix.lat_e7, next(f for f in fixes if f.ts == left.ts).lat_e7)
    assert_equal(hw["vibration"].pulses, [zones.BREACH_MS])


def test_jitter_near_the_edge_makes_no_crossing():
    agent, board, hw, wire = setup([circle(7, 200)], zone_dwell_s=30, zone_warn_margin_m=0)
    walk(board, hw, wire, T0, T0 + 60, at(150))  # the baseline: inside
    # Standing at the edge with a poor fix, wandering 20 m either side: never sure.
    walk(
        board,
        hw,
        wire,
        T0 + 60,
        T0 + 400,
        lambda t: 200 + (20 if t % 20 < 10 else -20),
        lambda t: POOR_HDOP,
    )
    # A sure fix 15 m out, undecided ones for longer than the dwell, one more sure fix out,
    # then back inside: the undecided fixes broke the run, so nothing held for the dwell.
    walk(board, hw, wire, T0 + 400, T0 + 410, at(215))
    walk(board, hw, wire, T0 + 410, T0 + 450, at(205), lambda t: POOR_HDOP)
    walk(board, hw, wire, T0 + 450, T0 + 460, at(215))
    walk(board, hw, wire, T0 + 460, T0 + 600, at(150))
    # Sure outside for 20 s, less than the dwell, then back inside.
    walk(board, hw, wire, T0 + 600, T0 + 620, at(230))
    walk(board, hw, wire, T0 + 620, T0 + 700, at(150))
    assert_equal(wire.zone_events(), [])
    assert_equal(hw["vibration"].pulses, [])
    assert_equal(agent.zone_watch.zones[0].side, zones.geofence.INSIDE)


def test_the_first_sure_side_is_a_baseline_not_a_crossing():
    agent, board, hw, wire = setup([circle(7, 200)], zone_dwell_s=30)
    walk(board, hw, wire, T0, T0 + 200, at(500))  # outside from the start
    assert_equal(wire.zone_events(), [])
    assert_equal(agent.zone_watch.zones[0].side, zones.geofence.OUTSIDE)
    walk(board, hw, wire, T0 + 200, T0 + 600, lambda t: 500 - t)  # walks in
    assert_equal([(e.code, e.zone_id) for e in wire.zone_events()], [(c.EV_ZONE_ENTERED, 7)])


def test_entering_an_exclusion_zone_is_recorded_and_vibrates():
    keep_away = circle(12, 100, rule=c.ZONE_EXCLUSION)
    _agent, board, hw, wire = setup([keep_away], zone_dwell_s=0, zone_warn_margin_m=100)
    walk(board, hw, wire, T0, T0 + 60, at(400))
    walk(board, hw, wire, T0 + 60, T0 + 500, lambda t: 400 - t)
    codes = [(e.code, e.zone_id) for e in wire.zone_events()]
    assert_equal(codes, [(c.EV_ZONE_ENTERED, 12)])
    assert_equal(hw["vibration"].pulses, [zones.BREACH_MS])  # no near-edge warnings: exclusion


def test_a_zone_out_of_force_is_not_watched():
    home = circle(101, 200, windows=[CURFEW])  # 22:00-06:00 in Shanghai, 14:00-22:00 UTC
    agent, board, hw, wire = setup([home], zone_dwell_s=30, utc_offset_min=480)
    walk(board, hw, wire, T0, T0 + 60, at(0))
    walk(board, hw, wire, T0 + 60, T0 + 600, lambda t: t)  # leaves at 14:01 local
    assert_equal(wire.zone_events(), [])
    curfew = T0 + 8 * 3600  # 22:00 local: out there, a baseline
    walk(board, hw, wire, curfew, curfew + 120, at(700))
    assert_equal(agent.zone_watch.zones[0].side, zones.geofence.OUTSIDE)
    walk(board, hw, wire, curfew + 120, curfew + 900, lambda t: 700 - t)  # comes home late
    assert_equal([(e.code, e.zone_id) for e in wire.zone_events()], [(c.EV_ZONE_ENTERED, 101)])


# --- warnings and the link -------------------------------------------------------------------


def test_a_near_edge_warning_vibrates_once():
    _agent, board, hw, wire = setup([circle(7, 200)], zone_dwell_s=30, zone_warn_margin_m=50)
    walk(board, hw, wire, T0, T0 + 60, at(100))
    # Into the margin, out of it and back, several times in 5 minutes: one warning.
    walk(board, hw, wire, T0 + 60, T0 + 360, lambda t: 140 if t % 60 < 30 else 170)
    assert_equal(hw["vibration"].pulses, [zones.WARN_MS])
    assert_equal(wire.zone_events(), [])
    # Ten minutes after the warning, coming near again warns again.
    walk(board, hw, wire, T0 + 360, T0 + 700, at(100))
    walk(board, hw, wire, T0 + 700, T0 + 760, at(170))
    assert_equal(hw["vibration"].pulses, [zones.WARN_MS, zones.WARN_MS])


def test_a_crossing_while_the_link_is_down_is_kept_and_sent_later():
    agent, board, hw, wire = setup([circle(7, 200)], zone_dwell_s=30, zone_warn_margin_m=0)
    walk(board, hw, wire, T0, T0 + 60, at(100))
    agent.on_connection_lost(T0 + 60)
    wire.acking = False
    walk(board, hw, wire, T0 + 60, T0 + 400, lambda t: 100 + t)
    assert_equal(wire.zone_events(), [])
    assert len(agent.buffer) > 10
    wire.acking = True
    agent.on_connected(T0 + 400)
    walk(board, hw, wire, T0 + 400, T0 + 420, at(400))
    events = wire.zone_events()
    assert_equal([(e.code, e.zone_id) for e in events], [(c.EV_ZONE_LEFT, 7)])
    assert events[0].ts < T0 + 400  # made offline, sent now
    assert_equal(len(agent.buffer), 0)
