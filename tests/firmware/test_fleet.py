"""The fleet simulator against real Mosquitto brokers: nothing lost, nothing twice.

Each test runs the real agent code on simulated hardware, on a simulated
clock that runs flat out, and checks what a subscriber of its own (in a
separate process, decoding with core.receiver) received against every
record the devices made. No test depends on wall-clock timing: the drain
waits until every device reports idle, with a generous cap only against
a hang.
"""

from __future__ import annotations

import pytest
from fixtures.services import MosquittoFactory

from core import codec
from core import contract as c
from core.messages import Command, Config
from fieldwatch_dev.simulator.fleet import Fleet, FleetOptions, bracelet_id, station_id
from fieldwatch_dev.simulator.witness import WitnessCounts
from provisioning.broker_acl import render_acl
from tests.firmware.fleet_helpers import DRAIN_WALL_S, made, running_fleet, witness_on

pytestmark = [pytest.mark.services, pytest.mark.slow]

GATEWAY = "gw-test"
TELEMETRY = (c.LOCATION_FIX, c.HEALTH, c.WATER_SAMPLE)


def _assert_exactly_once(fleet: Fleet, counts: WitnessCounts) -> None:
    sent = made(fleet)
    missing = set(sent) - counts.keys()
    extra = counts.keys() - set(sent)
    assert not missing, f"{len(missing)} records never arrived, e.g. {sorted(missing)[:5]}"
    assert not extra, f"records nobody made arrived: {sorted(extra)[:5]}"
    assert counts.duplicates() == 0
    assert counts.undecodable == []
    stats = fleet.stats()
    assert stats.delivered == len(sent) == counts.distinct()
    assert stats.dropped == 0
    assert stats.buffered == 0


def test_every_record_arrives_exactly_once_through_an_acl_broker(
    mosquitto_factory: MosquittoFactory,
) -> None:
    bracelets, sensors = 30, 6
    devices = [bracelet_id(n) for n in range(1, bracelets + 1)]
    devices += [station_id(n) for n in range(1, sensors + 1)]
    passwords = {device: f"pw-{device}" for device in devices}
    broker = mosquitto_factory(users={**passwords, GATEWAY: "gw-secret"}, acl=render_acl([GATEWAY]))
    with (
        witness_on(broker, "witness-acl", (GATEWAY, "gw-secret")) as witness,
        running_fleet(broker, bracelets, sensors, credentials=passwords) as fleet,
    ):
        fleet.run(900, speedup=0)
        assert fleet.drain(DRAIN_WALL_S)
        counts = witness.wait_for(fleet.stats().delivered)
    _assert_exactly_once(fleet, counts)
    by_kind = counts.by_kind()
    assert by_kind["location_fix"] > bracelets * 10
    assert by_kind["water_sample"] >= sensors * 3
    assert by_kind["event"] >= 2  # the strap cut and the SOS of the scenario


def test_a_broker_outage_loses_nothing_and_the_backlog_comes_in_batches(
    mosquitto_factory: MosquittoFactory,
) -> None:
    broker = mosquitto_factory()
    with (
        witness_on(broker, "witness-outage") as witness,
        running_fleet(broker, 12, 3) as fleet,
    ):
        fleet.run(120, speedup=0)
        assert fleet.drain(DRAIN_WALL_S)
        before = fleet.stats()
        # Let the subscriber take all in first: what the broker has in flight to it
        # at the stop would come again after the restart (broker-side redelivery).
        witness.wait_for(before.delivered)
        broker.stop()
        fleet.run(900, speedup=0)
        during = fleet.stats()
        assert during.connected == 0
        assert during.buffered == during.created - before.created
        broker.restart()
        assert fleet.drain(DRAIN_WALL_S)
        counts = witness.wait_for(fleet.stats().delivered)
    _assert_exactly_once(fleet, counts)
    after = fleet.stats()
    assert after.sent_batched >= during.buffered
    assert after.batches > before.batches
    assert counts.batches >= after.batches - before.batches


def test_a_full_buffer_drops_only_the_oldest_telemetry_and_counts_it(
    mosquitto_factory: MosquittoFactory,
) -> None:
    broker = mosquitto_factory()
    # 40 slots, 4 of them kept for events: a bracelet fills it in well under an hour.
    options = FleetOptions(capacity=40, agent_options={"reserve": 4})
    with (
        witness_on(broker, "witness-full") as witness,
        running_fleet(broker, 4, 1, options=options) as fleet,
    ):
        fleet.run(60, speedup=0)
        assert fleet.drain(DRAIN_WALL_S)
        outage_from = {d.device_id: len(d.ledger) for d in fleet.devices}
        witness.wait_for(fleet.stats().delivered)
        broker.stop()
        fleet.run(3600, speedup=0)
        broker.restart()
        assert fleet.drain(DRAIN_WALL_S)
        counts = witness.wait_for(fleet.stats().delivered)
    received = counts.keys()
    total_dropped = 0
    for device in fleet.devices:
        dropped = device.agent.buffer.dropped
        total_dropped += dropped
        during = device.ledger[outage_from[device.device_id] :]
        telemetry_during = [(b, s) for b, s, kind in during if kind in TELEMETRY]
        missing = [
            (b, s, kind) for b, s, kind in device.ledger if (device.device_id, b, s) not in received
        ]
        # Exactly the oldest telemetry of the outage is missing, as many as counted.
        assert [(b, s) for b, s, _ in missing] == telemetry_during[:dropped]
        assert all(kind in TELEMETRY for _, _, kind in missing)
        # And the device said so itself, in a health report after it came back.
        assert counts.health_dropped.get(device.device_id) == dropped
    assert total_dropped > 0
    stats = fleet.stats()
    assert stats.dropped == total_dropped
    assert stats.delivered + stats.dropped == stats.created == counts.distinct() + total_dropped
    assert counts.duplicates() == 0


def test_a_config_change_reaches_the_devices_and_is_acknowledged(
    mosquitto_factory: MosquittoFactory,
) -> None:
    import paho.mqtt.publish as publish

    broker = mosquitto_factory()
    ts = 1_772_409_300
    good = codec.encode(Config(5, ts, {2: 15, 3: 120, 4: 600}))
    bad = codec.encode(Config(6, ts, {8: 600}))  # a river setting sent to a bracelet
    river = codec.encode(Config(2, ts, {8: 600}))
    publish.multiple(
        [
            ("fw/v1/br-000001/config", good, 1, True),
            ("fw/v1/br-000002/config", bad, 1, True),
            ("fw/v1/rs-000001/config", river, 1, True),
        ],
        hostname=broker.host,
        port=broker.port,
    )
    with witness_on(broker, "witness-config") as witness, running_fleet(broker, 3, 1) as fleet:
        assert fleet.run_until_subscribed()
        # A roll call for bracelet 3 and the same command id again: run once, then "duplicate".
        roll_call = codec.encode(Command(77, fleet.now, c.CMD_ROLL_CALL, {1: 300}))
        publish.multiple(
            [("fw/v1/br-000003/cmd", roll_call, 1, False)] * 2,
            hostname=broker.host,
            port=broker.port,
        )
        fleet.run(400, speedup=0)
        assert fleet.drain(DRAIN_WALL_S)
        counts = witness.wait_for(fleet.stats().delivered)
    acks = sorted(
        (device, a.config_version, a.command_id, a.result, a.reason) for device, a in counts.acks
    )
    assert acks == [
        ("br-000001", 5, None, c.ACK_DONE, None),
        ("br-000002", 6, None, c.ACK_REJECTED, "sample_interval_s is not a bracelet setting"),
        ("br-000003", None, 77, c.ACK_DONE, None),
        ("br-000003", None, 77, c.ACK_DUPLICATE, None),
        ("rs-000001", 2, None, c.ACK_DONE, None),
    ]
    assert fleet.device("br-000001").agent.settings.get("fix_interval_still_s") == 120
    assert fleet.device("br-000002").agent.settings.version is None
    assert fleet.device("rs-000001").agent.settings.get("sample_interval_s") == 600
    # The wearer of bracelet 3 pressed the button: the roll call was answered, with a fix.
    answers = [
        key for key, kind in counts.kinds.items() if key[0] == "br-000003" and kind == c.EVENT
    ]
    assert answers
