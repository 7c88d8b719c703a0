"""Bracelet and river station agents: config, commands, events, roll calls, samples.

Runs on MicroPython and CPython. The agents are driven through their board
wiring with the host twins, as on a device, and a tiny broker stand-in that
acknowledges every publish and decodes it.
"""

from mptest import assert_equal

from core import cbor, codec
from core import contract as c
from core.messages import Command, Config
from firmware_py.agent.backoff import Backoff
from firmware_py.bracelet.agent import BraceletAgent
from firmware_py.bracelet.board import BraceletBoard
from firmware_py.host import twins
from firmware_py.river_sensor import sonde
from firmware_py.river_sensor.agent import RiverSensorAgent
from firmware_py.river_sensor.board import RiverBoard

T0 = 1795932000
BR = "br-000007"
RS = "rs-000003"


class Wire:
    """Collects what an agent publishes; acknowledges it if ``acking``."""

    def __init__(self, agent):
        self.agent = agent
        self.acking = True
        self.published = []

    def pump(self):
        for out in self.agent.take_outgoing():
            self.published.append(out)
            if self.acking:
                self.agent.on_published(out.token)

    def records(self, channel=None):
        found = []
        for out in self.published:
            kind = out.topic.rsplit("/", 1)[-1]
            message = codec.decode(out.payload)
            if message.KIND == c.STATUS:
                continue
            items = message.items if message.KIND == c.BATCH else [message]
            for item in items:
                if channel is None or kind == channel or (kind == "batch" and channel == "any"):
                    found.append(item)
        return found

    def of_kind(self, kind):
        return [m for m in self.records() if kind == m.KIND]


def bracelet(flash=None):
    flash = flash or twins.MemoryFlash()
    agent = BraceletAgent(BR, flash, capacity=50)
    hw = {
        "gnss": twins.GnssTwin(),
        "strap": twins.StrapTwin(),
        "button": twins.ButtonTwin(),
        "battery": twins.BatteryTwin(80),
        "vibration": twins.VibrationTwin(),
        "modem": twins.ModemTwin(),
    }
    hw["gnss"].lat_e7, hw["gnss"].lon_e7 = 312304567, 1214737000
    board = BraceletBoard(agent, **hw)
    agent.start(T0)
    wire = Wire(agent)
    return agent, board, hw, wire


def run(board, wire, start, end, hw=None):
    for now in range(start, end):
        if hw is not None:
            hw["gnss"].now = now
        board.step(now)
        wire.pump()


def connect(agent, wire, now):
    agent.on_connected(now)
    wire.pump()


def config(version, **settings):
    ids = {}
    for sid in c.CONFIG_SETTINGS:
        name = c.CONFIG_SETTINGS[sid][0]
        if name in settings:
            ids[sid] = settings[name]
    return codec.encode(Config(version, T0, ids))


def acks(wire):
    return [(a.config_version, a.command_id, a.result, a.reason) for a in wire.of_kind(c.ACK)]


# --- records, seq and the link ---------------------------------------------------------


def test_every_record_has_the_boot_and_the_next_seq():
    agent, board, hw, wire = bracelet()
    connect(agent, wire, T0)
    run(board, wire, T0, T0 + 300, hw)
    records = wire.records()
    assert_equal([r.seq for r in records], list(range(len(records))))
    assert_equal(set(r.boot for r in records), {1})
    assert len(wire.of_kind(c.LOCATION_FIX)) >= 5


def test_status_online_is_retained_and_will_is_offline():
    agent, _board, _hw, wire = bracelet()
    topic, payload = agent.will()
    assert_equal(topic, "fw/v1/br-000007/status")
    assert_equal(payload, codec.encode(codec.decode(payload)))
    assert_equal(codec.decode(payload).state, c.OFFLINE)
    connect(agent, wire, T0)
    status = wire.published[0]
    assert status.retain
    assert_equal(codec.decode(status.payload).state, c.ONLINE)
    assert_equal(agent.subscriptions(), ["fw/v1/br-000007/config", "fw/v1/br-000007/cmd"])


def test_a_reboot_takes_a_new_boot_and_sends_what_was_buffered():
    flash = twins.MemoryFlash()
    agent, board, hw, wire = bracelet(flash)
    run(board, wire, T0, T0 + 200, hw)  # never connected: all in flash
    buffered = len(agent.buffer)
    assert buffered > 0
    agent2, board2, hw2, wire2 = bracelet(flash)
    assert_equal(agent2.boot, 2)
    connect(agent2, wire2, T0 + 300)
    run(board2, wire2, T0 + 300, T0 + 302, hw2)
    old = [r for r in wire2.records() if r.boot == 1]
    assert_equal([r.seq for r in old], list(range(buffered)))


def test_backoff_grows_and_stays_under_its_cap_with_jitter():
    backoff = Backoff(base=1, cap=60, seed=7)
    now = 0
    delays = []
    for _ in range(12):
        at = backoff.failed(now)
        delays.append(at - now)
        now = at
    assert delays[0] <= 2
    assert delays[5] >= 32
    assert max(delays) <= 90
    backoff.succeeded()
    assert backoff.due(now)
    assert_equal(_attempts(7), _attempts(7))
    assert _attempts(7) != _attempts(8)


def _attempts(seed):
    backoff = Backoff(base=1, cap=60, seed=seed)
    return [backoff.failed(0) for _ in range(6)]


def test_records_made_while_offline_go_out_as_batches_oldest_first():
    agent, board, hw, wire = bracelet()
    run(board, wire, T0, T0 + 600, hw)
    made = agent.created
    connect(agent, wire, T0 + 600)
    run(board, wire, T0 + 600, T0 + 610, hw)
    batches = [o for o in wire.published if o.topic.endswith("/up/batch")]
    assert batches
    seqs = []
    for out in batches:
        seqs.extend(item.seq for item in codec.decode(out.payload, "batch").items)
    assert_equal(seqs, list(range(made)))
    assert_equal(len(agent.buffer), 0)


# --- config ----------------------------------------------------------------------------


def test_config_applied_and_acked_once_even_after_a_reboot():
    flash = twins.MemoryFlash()
    agent, _board, _hw, wire = bracelet(flash)
    connect(agent, wire, T0)
    payload = config(3, fix_interval_moving_s=15, fix_interval_still_s=120)
    agent.on_message("fw/v1/br-000007/config", payload, T0 + 1)
    agent.on_message("fw/v1/br-000007/config", payload, T0 + 2)  # retained, again
    wire.pump()
    assert_equal(acks(wire), [(3, None, c.ACK_DONE, None)])
    assert_equal(agent.settings.get("fix_interval_still_s"), 120)
    agent2, _, _, wire2 = bracelet(flash)
    connect(agent2, wire2, T0 + 100)
    agent2.on_message("fw/v1/br-000007/config", payload, T0 + 101)
    wire2.pump()
    assert_equal(acks(wire2), [])
    assert_equal(agent2.settings.version, 3)
    assert_equal(agent2.settings.get("fix_interval_moving_s"), 15)
    assert_equal(codec.decode(wire2.published[0].payload).config_version, 3)


def test_bad_configs_are_refused_with_a_reason_and_the_previous_one_stays():
    agent, _board, _hw, wire = bracelet()
    connect(agent, wire, T0)
    topic = "fw/v1/br-000007/config"
    agent.on_message(topic, config(2, fix_interval_s=20), T0)
    agent.on_message(topic, config(3, sample_interval_s=600), T0)
    agent.on_message(topic, config(4, fix_interval_moving_s=300, fix_interval_still_s=60), T0)
    out_of_range = cbor.encode({0: 1, 1: 8, 4: T0, 5: 5, 10: {1: 2}})
    agent.on_message(topic, out_of_range, T0)
    agent.on_message(topic, cbor.encode({0: 1, 1: 8, 4: T0, 5: 6, 10: {99: 1}}), T0)
    agent.on_message(topic, b"\xff\x00", T0)  # unreadable: nobody to answer
    agent.on_message(topic, config(1, fix_interval_s=40), T0)  # older than the running 2
    wire.pump()
    answers = acks(wire)
    assert_equal([a[0] for a in answers], [2, 3, 4, 5, 6, 1])
    assert_equal([a[2] for a in answers], [0, 1, 1, 1, 1, 1])
    assert_equal(answers[1][3], "sample_interval_s is not a bracelet setting")
    assert "fix_interval_moving_s 300" in answers[2][3]
    assert answers[3][3].startswith("out_of_range")
    assert answers[4][3].startswith("unknown_key")
    assert "older" in answers[5][3]
    assert_equal(agent.settings.version, 2)
    assert_equal(agent.settings.get("fix_interval_s"), 20)


# --- commands ----------------------------------------------------------------------------


def command(command_id, code, ts, args=None, expires_ts=None):
    return codec.encode(Command(command_id, ts, code, args, expires_ts))


def test_a_repeated_command_id_is_not_run_twice():
    agent, board, hw, wire = bracelet()
    connect(agent, wire, T0)
    run(board, wire, T0, T0 + 5, hw)
    topic = "fw/v1/br-000007/cmd"
    agent.on_message(topic, command(11, c.CMD_LOCATE_NOW, T0 + 5), T0 + 5)
    run(board, wire, T0 + 5, T0 + 6, hw)
    fixes = len(wire.of_kind(c.LOCATION_FIX))
    agent.on_message(topic, command(11, c.CMD_LOCATE_NOW, T0 + 5), T0 + 6)
    run(board, wire, T0 + 6, T0 + 7, hw)
    assert_equal(len(wire.of_kind(c.LOCATION_FIX)), fixes)
    agent.on_message(topic, command(12, c.CMD_SAMPLE_NOW, T0), T0 + 7)
    agent.on_message(topic, command(13, c.CMD_LOCATE_NOW, T0, None, T0 + 3), T0 + 7)
    wire.pump()
    answers = [(a[1], a[2]) for a in acks(wire)]
    assert_equal(
        answers,
        [(11, c.ACK_DONE), (11, c.ACK_DUPLICATE), (12, c.ACK_REJECTED), (13, c.ACK_EXPIRED)],
    )


# --- bracelet events and roll calls -------------------------------------------------------


def test_strap_cut_and_sos_are_events_at_once_with_the_last_fix():
    agent, board, hw, wire = bracelet()
    connect(agent, wire, T0)
    run(board, wire, T0, T0 + 3, hw)
    hw["strap"].is_closed = False
    run(board, wire, T0 + 3, T0 + 4, hw)
    events = wire.of_kind(c.EVENT)
    assert_equal([(e.code, e.ts) for e in events], [(c.EV_STRAP_OPENED, T0 + 3)])
    assert_equal(events[0].fix.as_list(), [312304567, 1214737000, 5, c.FIX_GNSS])
    assert_equal(events[0].battery_pct, 80)
    hw["button"].pressed, hw["button"].held_ms = True, 500
    run(board, wire, T0 + 4, T0 + 5, hw)
    hw["button"].held_ms = 2100
    run(board, wire, T0 + 5, T0 + 8, hw)
    hw["button"].pressed = False
    run(board, wire, T0 + 8, T0 + 9, hw)
    assert_equal([e.code for e in wire.of_kind(c.EVENT)], [c.EV_STRAP_OPENED, c.EV_SOS])


def test_low_battery_once_then_power_off():
    agent, board, hw, wire = bracelet()
    connect(agent, wire, T0)
    for pct in (30, 21, 20, 19, 18, 10, 1):
        hw["battery"].pct = pct
        run(board, wire, T0, T0 + 1, hw)
    codes = [e.code for e in wire.of_kind(c.EVENT)]
    assert_equal(codes, [c.EV_LOW_BATTERY, c.EV_POWER_OFF])
    offline = [o for o in wire.published if o.topic.endswith("/status")][-1]
    assert_equal(codec.decode(offline.payload).state, c.OFFLINE)
    made = agent.created
    run(board, wire, T0 + 1, T0 + 1000, hw)
    assert_equal(agent.created, made)  # powered off: no more records


def test_roll_call_answered_within_the_window_with_a_fresh_fix():
    agent, board, hw, wire = bracelet()
    connect(agent, wire, T0)
    run(board, wire, T0, T0 + 10, hw)
    # Issued at T0 + 8, arrives at T0 + 10; the window counts from the command's ts.
    agent.on_message("fw/v1/br-000007/cmd", command(21, c.CMD_ROLL_CALL, T0 + 8, {1: 60}), T0 + 10)
    run(board, wire, T0 + 10, T0 + 20, hw)
    assert_equal(hw["vibration"].pulses, [1500])
    fixes_before = len(wire.of_kind(c.LOCATION_FIX))
    hw["button"].pressed, hw["button"].held_ms = True, 0
    run(board, wire, T0 + 20, T0 + 21, hw)
    hw["button"].pressed = False
    run(board, wire, T0 + 21, T0 + 22, hw)
    answers = [e for e in wire.of_kind(c.EVENT) if e.code == c.EV_ROLL_CALL_RESPONSE]
    assert_equal([(e.command_id, e.roll_call_result, e.response_s) for e in answers], [(21, 0, 12)])
    assert_equal(len(wire.of_kind(c.LOCATION_FIX)), fixes_before + 1)
    assert_equal([e.code for e in wire.of_kind(c.EVENT)], [c.EV_ROLL_CALL_RESPONSE])  # no SOS
    assert_equal(acks(wire), [(None, 21, c.ACK_DONE, None)])


def test_roll_call_missed_when_the_window_runs_out():
    agent, board, hw, wire = bracelet()
    connect(agent, wire, T0)
    agent.on_message("fw/v1/br-000007/cmd", command(22, c.CMD_ROLL_CALL, T0, {1: 30}), T0 + 5)
    run(board, wire, T0, T0 + 40, hw)
    answers = [e for e in wire.of_kind(c.EVENT) if e.code == c.EV_ROLL_CALL_RESPONSE]
    assert_equal([(e.command_id, e.roll_call_result, e.ts) for e in answers], [(22, 1, T0 + 31)])
    agent.on_message("fw/v1/br-000007/cmd", command(23, c.CMD_ROLL_CALL, T0, {1: 30}), T0 + 40)
    wire.pump()
    assert_equal(acks(wire)[-1][1:3], (23, c.ACK_EXPIRED))


def test_fix_interval_follows_movement():
    agent, board, hw, wire = bracelet()
    connect(agent, wire, T0)
    hw["gnss"].speed_cm_s = 0
    run(board, wire, T0, T0 + 600, hw)
    still = [f.ts - T0 for f in wire.of_kind(c.LOCATION_FIX)]
    assert_equal(still, [0, 60, 120, 180, 240, 300, 360, 420, 480, 540])
    hw["gnss"].speed_cm_s = 140  # walking
    run(board, wire, T0 + 600, T0 + 700, hw)
    moving = [f.ts - T0 for f in wire.of_kind(c.LOCATION_FIX)][len(still) :]
    assert_equal(moving, [600, 610, 620, 630, 640, 650, 660, 670, 680, 690])


def test_indoors_the_fix_comes_from_the_cell_network():
    agent, board, hw, wire = bracelet()
    connect(agent, wire, T0)
    hw["gnss"].sky = False
    hw["modem"].set_coarse(312310000, 1214740000, 300, c.FIX_CELL)
    run(board, wire, T0, T0 + 1, hw)
    fix = wire.of_kind(c.LOCATION_FIX)[0]
    assert_equal(
        (fix.lat_e7, fix.accuracy_m, fix.source, fix.speed_cm_s), (312310000, 300, c.FIX_CELL, None)
    )


def test_health_reports_buffer_and_drop_counts():
    agent, board, hw, wire = bracelet()
    run(board, wire, T0, T0 + 3600, hw)  # offline for an hour: 50-slot buffer overflows
    assert agent.buffer.dropped > 0
    connect(agent, wire, T0 + 3600)
    health = wire.of_kind(c.HEALTH)
    live = next(h for h in health if h.ts == T0 + 3600)
    assert_equal(live.dropped, agent.buffer.dropped)
    assert_equal(live.battery_pct, 80)
    assert_equal(live.signal_dbm, -85)


# --- river station ---------------------------------------------------------------------------


def river(readings, flash=None):
    flash = flash or twins.MemoryFlash()
    agent = RiverSensorAgent(RS, flash)
    line = twins.SondeTwin()
    line.registers = sonde.registers_from_readings(readings)
    board = RiverBoard(agent, line, twins.MillisTwin(), twins.PowerTwin())
    agent.start(T0)
    wire = Wire(agent)
    connect(agent, wire, T0)
    return agent, board, line, wire


NORMAL = {
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


def test_river_samples_at_the_interval_with_values_in_contract_scale():
    _agent, board, _line, wire = river(NORMAL)
    for now in range(T0, T0 + 900):
        board.step(now)
        wire.pump()
    samples = wire.of_kind(c.WATER_SAMPLE)
    assert_equal([s.ts - T0 for s in samples], [0, 300, 600])
    assert_equal(
        samples[0].values, {1: 1850, 2: 742, 3: 812, 4: 530, 5: 125, 6: 350, 7: 420, 8: 85, 9: 180}
    )
    assert_equal(samples[0].statuses, {})


def test_sonde_flags_are_passed_on_never_as_normal():
    readings = dict(NORMAL)
    readings[3] = (790, c.VALUE_CALIBRATING)
    readings[5] = (None, c.VALUE_MAINTENANCE)
    readings[7] = (250000, 0)  # 250 mg/L: over what the contract carries
    readings[8] = (None, 0)  # a value missing without a flag
    readings[9] = (100, 9)  # a status code the profile does not define
    _agent, board, _line, wire = river(readings)
    board.step(T0)
    wire.pump()
    sample = wire.of_kind(c.WATER_SAMPLE)[0]
    assert_equal(sample.statuses, {3: 1, 5: 2, 7: 4, 8: 3, 9: 3})
    assert_equal(sample.values[3], 790)
    assert_equal(sample.values[7], 200000)
    assert 5 not in sample.values
    assert 8 not in sample.values


def test_a_silent_sonde_is_a_fault_of_every_parameter_after_the_retries():
    _agent, board, line, wire = river(NORMAL)
    line.silent = True
    board.step(T0)
    wire.pump()
    sample = wire.of_kind(c.WATER_SAMPLE)[0]
    assert_equal(line.requests, 3)
    assert_equal(sample.values, {})
    assert_equal(sorted(sample.statuses.items()), [(p, c.VALUE_FAULT) for p in range(1, 10)])


def test_sample_now_command_and_river_config():
    agent, board, _line, wire = river(NORMAL)
    board.step(T0)
    agent.on_message("fw/v1/rs-000003/config", config(2, sample_interval_s=600), T0 + 1)
    agent.on_message("fw/v1/rs-000003/cmd", command(5, c.CMD_SAMPLE_NOW, T0 + 2), T0 + 2)
    for now in range(T0 + 2, T0 + 700):
        board.step(now)
        wire.pump()
    assert_equal([s.ts - T0 for s in wire.of_kind(c.WATER_SAMPLE)], [0, 2, 602])
    assert_equal([(a[0], a[1], a[2]) for a in acks(wire)], [(2, None, 0), (None, 5, 0)])
