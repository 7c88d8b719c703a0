"""The gateway's pure decisions: lanes, classification, batch plans, backoff, answers, cap."""

from __future__ import annotations

import random

import pytest
from edge_support import TS, event, fix, health, water
from hypothesis import given
from hypothesis import strategies as st

from core.codec import encode
from core.errors import IMPLAUSIBLE_TIME, UNKNOWN_DEVICE, WRONG_DEVICE_KIND
from core.evidence import CLOCK_AHEAD_TOLERANCE_S
from core.messages import Ack, Batch, Event, LocationFix, Status
from core.receiver import DeviceKind
from edge.answers import Action, judge_status, not_sent, outcome_unknown, parse_retry_after
from edge.backoff import Backoff
from edge.batching import batch_due, plan_batch, take_within
from edge.capacity import ROW_OVERHEAD_BYTES, rows_to_drop, stored_size
from edge.classify import Accepted, Refused, classify, record_digest
from edge.errors import RegistryError
from edge.lanes import Lane
from edge.registry import Registry, parse_registry, render_registry

REGISTRY = Registry({"br-000001": DeviceKind.bracelet, "rs-000001": DeviceKind.river_station})
NOW = TS + 3600.0  # the gateway's clock in these tests


# -- classify ---------------------------------------------------------------------------


def test_telemetry_and_events_are_accepted_in_their_lanes() -> None:
    telemetry = classify("fw/v1/br-000001/up/telemetry", fix(0), REGISTRY, NOW)
    assert isinstance(telemetry, Accepted)
    assert (telemetry.device_id, telemetry.channel, telemetry.lane) == (
        "br-000001",
        "telemetry",
        Lane.TELEMETRY,
    )
    assert telemetry.readings == 1
    assert [(r.boot, r.seq) for r in telemetry.records] == [(1, 0)]
    urgent = classify("fw/v1/br-000001/up/event", event(1), REGISTRY, NOW)
    assert isinstance(urgent, Accepted)
    assert urgent.lane is Lane.URGENT
    ack = encode(Ack(boot=1, seq=2, ts=TS, result=0, command_id=7))
    assert classify("fw/v1/br-000001/up/ack", ack, REGISTRY, NOW).lane is Lane.URGENT  # type: ignore[union-attr]
    status = encode(Status(boot=1, state=1))
    assert classify("fw/v1/br-000001/status", status, REGISTRY, NOW).lane is Lane.URGENT  # type: ignore[union-attr]


def test_a_catch_up_batch_with_an_event_is_urgent_and_one_without_is_telemetry() -> None:
    fix_record = LocationFix(boot=1, seq=0, ts=TS, lat_e7=1, lon_e7=1, accuracy_m=5, source=1)
    sos = Event(boot=1, seq=1, ts=TS, code=3)
    only_fixes = encode(Batch(boot=1, items=[fix_record]))
    with_event = encode(Batch(boot=1, items=[fix_record, sos]))
    topic_name = "fw/v1/br-000001/up/batch"
    assert classify(topic_name, only_fixes, REGISTRY, NOW).lane is Lane.TELEMETRY  # type: ignore[union-attr]
    assert classify(topic_name, with_event, REGISTRY, NOW).lane is Lane.URGENT  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("topic_name", "payload", "code"),
    [
        ("fw/v1/br-000001/up/telemetry", b"\xff\x00", "not_cbor"),
        ("fw/v1/br-000001/up/telemetry", b"\xa0" * 20000, "oversize"),
        ("fw/v1/br-000001/up/telemetry", bytes.fromhex("a20002" + "0101"), "unknown_version"),
        ("fw/v1/br-000001/up/event", fix(0), "wrong_channel"),
        ("fw/v1/br-999999/up/telemetry", fix(0), UNKNOWN_DEVICE),
        ("fw/v1/br-000001/up/telemetry", water(0), WRONG_DEVICE_KIND),
        ("fw/v1/rs-000001/up/telemetry", fix(0), WRONG_DEVICE_KIND),
        ("fw/v1/BAD/up/telemetry", fix(0), "bad_topic"),
        ("fw/v1/br-000001/config", fix(0), "bad_topic"),
    ],
)
def test_what_breaks_the_contract_is_refused_with_its_reason(
    topic_name: str, payload: bytes, code: str
) -> None:
    verdict = classify(topic_name, payload, REGISTRY, NOW)
    assert isinstance(verdict, Refused)
    assert verdict.code == code
    assert verdict.reason.startswith(code)


def test_a_river_station_may_send_water_samples_and_health() -> None:
    assert isinstance(classify("fw/v1/rs-000001/up/telemetry", water(0), REGISTRY, NOW), Accepted)
    assert isinstance(classify("fw/v1/rs-000001/up/telemetry", health(1), REGISTRY, NOW), Accepted)


def _fix_at(ts: int, seq: int = 0) -> LocationFix:
    return LocationFix(boot=1, seq=seq, ts=ts, lat_e7=1, lon_e7=1, accuracy_m=5, source=1)


@pytest.mark.parametrize("ahead_s", [CLOCK_AHEAD_TOLERANCE_S + 1, 8 * 3600, 365 * 86400])
def test_a_record_ahead_of_the_gateways_clock_is_held_with_its_reason(ahead_s: int) -> None:
    now = TS + 10.0
    verdict = classify(
        "fw/v1/br-000001/up/telemetry", encode(_fix_at(TS + 10 + ahead_s)), REGISTRY, now
    )
    assert isinstance(verdict, Refused)
    assert verdict.code == IMPLAUSIBLE_TIME
    assert verdict.device_id == "br-000001"
    assert f"{ahead_s} s ahead" in verdict.reason
    assert "(boot 1, seq 0)" in verdict.reason


@pytest.mark.parametrize("behind_s", [-CLOCK_AHEAD_TOLERANCE_S, 0, 86400, 400 * 86400])
def test_records_up_to_the_tolerance_ahead_and_any_age_behind_are_accepted(
    behind_s: int,
) -> None:
    now = TS + 500 * 86400.0
    record = _fix_at(int(now) - behind_s)
    verdict = classify("fw/v1/br-000001/up/telemetry", encode(record), REGISTRY, now)
    assert isinstance(verdict, Accepted)


def test_a_device_batch_with_one_implausible_record_is_held_whole_naming_it() -> None:
    now = TS + 100.0
    items = [_fix_at(TS, 0), _fix_at(TS + 9 * 3600, 1), _fix_at(TS + 1, 2)]
    verdict = classify(
        "fw/v1/br-000001/up/batch", encode(Batch(boot=1, items=items)), REGISTRY, now
    )
    assert isinstance(verdict, Refused)
    assert verdict.code == IMPLAUSIBLE_TIME
    assert "record 1 of 3" in verdict.reason
    assert "(boot 1, seq 1)" in verdict.reason


def test_a_status_carries_no_record_and_no_time_to_judge() -> None:
    verdict = classify("fw/v1/br-000001/status", encode(Status(boot=1, state=1)), REGISTRY, NOW)
    assert isinstance(verdict, Accepted)
    assert verdict.records == ()


def test_a_records_key_depends_on_its_fields_not_on_its_envelope() -> None:
    record = _fix_at(TS, 5)
    alone = classify("fw/v1/br-000001/up/telemetry", encode(record), REGISTRY, NOW)
    in_batch = classify(
        "fw/v1/br-000001/up/batch", encode(Batch(boot=1, items=[record])), REGISTRY, NOW
    )
    moved = _fix_at(TS, 5)
    moved.lat_e7 += 1
    other = classify("fw/v1/br-000001/up/telemetry", encode(moved), REGISTRY, NOW)
    assert isinstance(alone, Accepted)
    assert isinstance(in_batch, Accepted)
    assert isinstance(other, Accepted)
    assert alone.records == in_batch.records
    assert alone.records[0].digest != other.records[0].digest
    assert (other.records[0].boot, other.records[0].seq) == (1, 5)
    assert record_digest(record) == alone.records[0].digest


# -- registry ---------------------------------------------------------------------------


def test_registry_round_trips_through_its_file_format() -> None:
    devices = {"br-000001": DeviceKind.bracelet, "rs-000042": DeviceKind.river_station}
    assert dict(parse_registry(render_registry(devices)).devices) == devices


@pytest.mark.parametrize(
    "text",
    [
        '[[device]]\nid = "BR-1"\nkind = "bracelet"\n',
        '[[device]]\nid = "br-000001"\nkind = "toaster"\n',
        '[[device]]\nid = "br-000001"\n',
        '[[device]]\nid = "br-000001"\nkind = "bracelet"\n[[device]]\nid = "br-000001"\nkind = "bracelet"\n',
        "devices = 3\n",
        "[[device]\n",
    ],
)
def test_a_malformed_registry_is_refused(text: str) -> None:
    with pytest.raises(RegistryError):
        parse_registry(text)


# -- batch plans ------------------------------------------------------------------------


def test_urgent_messages_go_first_but_telemetry_keeps_a_floor() -> None:
    assert plan_batch(urgent_waiting=5, telemetry_waiting=0, capacity=100).urgent == 5
    plan = plan_batch(urgent_waiting=1000, telemetry_waiting=1000, capacity=100)
    assert plan.urgent == 90
    assert plan.newest_telemetry + plan.oldest_telemetry == 10


def test_telemetry_room_is_shared_by_the_newest_and_the_oldest() -> None:
    plan = plan_batch(urgent_waiting=20, telemetry_waiting=5000, capacity=100)
    assert (plan.urgent, plan.newest_telemetry, plan.oldest_telemetry) == (20, 40, 40)


def test_a_batch_of_one_takes_the_event() -> None:
    assert plan_batch(urgent_waiting=3, telemetry_waiting=3, capacity=1).urgent == 1


@given(
    urgent=st.integers(0, 10_000),
    telemetry=st.integers(0, 10_000),
    capacity=st.integers(1, 5_000),
)
def test_a_plan_never_overfills_and_never_leaves_room_unused(
    urgent: int, telemetry: int, capacity: int
) -> None:
    plan = plan_batch(urgent, telemetry, capacity)
    assert plan.size <= capacity
    assert plan.urgent <= urgent
    assert plan.newest_telemetry + plan.oldest_telemetry <= telemetry
    assert plan.size == min(capacity, urgent + telemetry)
    if urgent:
        assert plan.urgent >= 1


def test_whole_messages_are_taken_until_the_readings_reach_the_budget() -> None:
    assert take_within([1, 1, 1, 1], 3, at_least_one=False) == 3
    assert take_within([10, 10, 10], 25, at_least_one=False) == 2
    assert take_within([10, 1, 1], 5, at_least_one=False) == 0  # order holds: no skipping
    assert take_within([300, 1], 5, at_least_one=True) == 1  # alone, over the budget
    assert take_within([], 5, at_least_one=True) == 0


@given(
    readings=st.lists(st.integers(1, 256), max_size=60),
    budget=st.integers(0, 2_000),
    at_least_one=st.booleans(),
)
def test_take_within_takes_the_longest_prefix_that_fits(
    readings: list[int], budget: int, at_least_one: bool
) -> None:
    taken = take_within(readings, budget, at_least_one=at_least_one)
    total = sum(readings[:taken])
    if at_least_one and readings:
        assert taken >= 1
    assert total <= budget or taken == 1
    if taken < len(readings):
        assert total + readings[taken] > budget or total >= budget


def test_a_batch_is_due_for_an_event_a_full_batch_or_an_old_message() -> None:
    assert batch_due(
        urgent_waiting=1,
        telemetry_waiting=0,
        oldest_waiting_age_s=0,
        max_readings=100,
        max_age_s=2.0,
    )
    assert batch_due(
        urgent_waiting=0,
        telemetry_waiting=100,
        oldest_waiting_age_s=0,
        max_readings=100,
        max_age_s=2.0,
    )
    assert batch_due(
        urgent_waiting=0,
        telemetry_waiting=3,
        oldest_waiting_age_s=2.5,
        max_readings=100,
        max_age_s=2.0,
    )
    assert not batch_due(
        urgent_waiting=0,
        telemetry_waiting=3,
        oldest_waiting_age_s=1,
        max_readings=100,
        max_age_s=2.0,
    )
    assert not batch_due(
        urgent_waiting=0,
        telemetry_waiting=0,
        oldest_waiting_age_s=None,
        max_readings=100,
        max_age_s=2.0,
    )


# -- backoff ----------------------------------------------------------------------------


def test_backoff_grows_exponentially_within_jitter_and_stops_at_the_maximum() -> None:
    backoff = Backoff(0.5, 8.0, random.Random(4))
    waits = [backoff.next_wait() for _ in range(8)]
    ceilings = [0.5, 1, 2, 4, 8, 8, 8, 8]
    for wait, ceiling in zip(waits, ceilings, strict=True):
        assert ceiling / 2 <= wait <= ceiling
    backoff.reset()
    assert backoff.next_wait() <= 0.5


def test_retry_after_is_a_lower_bound() -> None:
    backoff = Backoff(0.5, 8.0, random.Random(1))
    assert all(backoff.next_wait(retry_after_s=3) >= 3 for _ in range(20))


@given(st.integers(0, 200), st.floats(0.01, 10), st.floats(1, 100))
def test_a_wait_is_never_negative_nor_over_max_plus_retry_after(
    failures: int, initial: float, extra: float
) -> None:
    backoff = Backoff(initial, initial + extra, random.Random(0), failures)
    wait = backoff.next_wait()
    assert 0 <= wait <= initial + extra


# -- cloud answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (200, Action.DELETE),
        (400, Action.QUARANTINE),
        (401, Action.RELEASE_AND_RETRY),
        (403, Action.RELEASE_AND_RETRY),
        (404, Action.RELEASE_AND_RETRY),
        (413, Action.SPLIT),
        (429, Action.RELEASE_AND_RETRY),
        (503, Action.RELEASE_AND_RETRY),
        (500, Action.RESEND_SAME),
        (502, Action.RESEND_SAME),
        (504, Action.RESEND_SAME),
    ],
)
def test_each_answer_of_the_cloud_has_its_action(status: int, action: Action) -> None:
    assert judge_status(status, None, "").action is action


def test_only_an_unknown_outcome_resends_the_same_batch() -> None:
    assert not_sent("refused").action is Action.RELEASE_AND_RETRY
    assert outcome_unknown("read timeout").action is Action.RESEND_SAME


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert judge_status(503, "7", "").retry_after_s == 7
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now_s=1445412480) == 10
    assert parse_retry_after("soon") is None
    assert parse_retry_after("999999") == 3600


# -- capacity ---------------------------------------------------------------------------


def test_rows_to_drop_frees_just_enough_oldest_rows() -> None:
    sizes = [stored_size(40)] * 10
    assert rows_to_drop(1000, 1000, sizes) == 0
    assert rows_to_drop(1000 + 1, 1000, sizes) == 1
    assert rows_to_drop(1000 + 40 + ROW_OVERHEAD_BYTES + 1, 1000, sizes) == 2
    assert rows_to_drop(10**9, 1000, sizes) == 10
