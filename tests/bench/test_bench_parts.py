"""The benchmark's pure parts: contract bytes of the load, fault plans, accounting."""

from __future__ import annotations

import itertools

from core import codec
from core.messages import Batch, LocationFix
from core.receiver import decode
from fieldwatch_dev.bench.chaos import FAULTS, account, plan_faults
from fieldwatch_dev.bench.loadgen import MAX_BATCH_RECORDS, encode_records

TS = 1_795_932_000


def test_a_single_reading_is_the_device_encoders_bytes() -> None:
    topic, payload = encode_records(3, 70_001, 1, TS)
    lat_e7, lon_e7 = 311_234_567 + 70_001 % 10_000, 1_214_567_890 - 70_001 % 7_000
    assert topic == "up/telemetry"
    assert payload == codec.encode(LocationFix(3, 70_001, TS, lat_e7, lon_e7, 8, 1, 120))


def test_a_batch_of_readings_is_the_contracts_batch() -> None:
    topic, payload = encode_records(2, 10, MAX_BATCH_RECORDS, TS)
    message = decode(payload)
    assert topic == "up/batch"
    assert isinstance(message, Batch)
    assert [item.seq for item in message.items] == list(range(10, 10 + MAX_BATCH_RECORDS))
    assert payload == codec.encode(message)


def test_every_kind_of_fault_is_planned_once_per_round_inside_the_run() -> None:
    plan = plan_faults(60, seed=7, max_outage_s=4)
    assert {f.kind for f in plan[: len(FAULTS)]} == set(FAULTS)
    assert all(f.at_s + f.outage_s <= 54 for f in plan)
    assert all(b.at_s >= a.at_s + a.outage_s for a, b in itertools.pairwise(plan))
    assert plan == plan_faults(60, seed=7, max_outage_s=4)


def test_accounting_tells_drops_from_losses_and_duplicates() -> None:
    made = [(1, seq) for seq in range(10)]
    clean = account(made, dropped=2, stored=made[2:])
    assert clean.unaccounted == 0
    lost = account(made, dropped=0, stored=made[1:])
    assert (lost.missing, lost.unaccounted) == (1, 1)
    twice = account(made, dropped=0, stored=[*made, (1, 4)])
    assert (twice.duplicates, twice.unaccounted) == (1, 1)
    stranger = account(made, dropped=0, stored=[*made, (2, 0)])
    assert stranger.unexpected == 1


def test_records_a_powered_off_device_still_holds_are_not_counted_as_lost() -> None:
    made = [(1, seq) for seq in range(10)]
    held = account(made, dropped=0, stored=made[:7], held=3)
    assert (held.missing, held.unaccounted) == (3, 0)
    short = account(made, dropped=0, stored=made[:6], held=3)
    assert short.unaccounted == 1
