"""The cloud busy, the cloud away, the buffer full: nothing lost, nothing stored twice."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from edge_cloud_stub import CloudStub
from edge_support import (
    BRACELETS,
    Fleet,
    event,
    fix,
    gateway_settings,
    metric_value,
    metrics_text,
    running_gateway,
)

from core import contract as c
from edge.capacity import stored_size
from edge.gateway import Gateway
from fieldwatch_dev.local import MosquittoServer

pytestmark = [pytest.mark.services, pytest.mark.fault]


def wait_committed(gateway: Gateway, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = metrics_text(gateway.metrics_port)
        if metric_value(text, "fieldwatch_edge_messages_received_total") >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"the gateway did not receive {count} messages")


def test_busy_cloud_gets_backoff_and_loses_nothing(
    tmp_path: Path, broker: MosquittoServer, cloud: CloudStub, fleet: Fleet
) -> None:
    settings = gateway_settings(tmp_path, broker, cloud.url, backoff_initial_s=0.4)
    answers = [(503, 1), (429, 1), (503, 1), (503, None), (429, None), (503, None)]
    cloud.answer_busy(answers)
    device = BRACELETS[0]
    with running_gateway(settings) as gateway:
        fleet.connect((device,))
        for seq in range(150):
            fleet.publish(
                device,
                "event" if seq % 25 == 0 else "telemetry",
                (event(seq) if seq % 25 == 0 else fix(seq)),
            )
        fleet.wait_sent()
        assert cloud.wait_for(lambda s: len(s.stored) == 150, 60)
        text = metrics_text(gateway.metrics_port)
    assert cloud.read(lambda s: max(s.stored.values())) == 1
    attempts = cloud.read(lambda s: list(s.attempts))
    assert [a.status for a in attempts[: len(answers)]] == [status for status, _ in answers]
    assert attempts[len(answers)].status == 200
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
    for n, (status, retry_after) in enumerate(answers):
        # Retry-After is honoured; without it, the wait is at least half the ceiling
        # initial * 2**n (equal jitter), so the waits grow.
        floor = retry_after if retry_after is not None else 0.4 * 2**n / 2
        assert gaps[n] >= min(floor, settings.backoff_max_s / 2), (n, status, gaps)
    assert 'fieldwatch_edge_forward_attempts_total{outcome="503"} 4.0' in text
    assert 'fieldwatch_edge_forward_attempts_total{outcome="429"} 2.0' in text


def test_full_buffer_drops_only_the_oldest_telemetry_and_counts_exactly(
    tmp_path: Path, broker: MosquittoServer, cloud: CloudStub, fleet: Fleet
) -> None:
    fixes = [fix(seq) for seq in range(200)]
    events = {seq: event(seq) for seq in range(200, 220)}
    cap = 60 * stored_size(len(fixes[0]))
    settings = gateway_settings(tmp_path, broker, cloud.url, buffer_max_bytes=cap)
    device = BRACELETS[2]
    cloud.down()
    with running_gateway(settings) as gateway:
        fleet.connect((device,))
        event_seqs = iter(events)
        for seq, payload in enumerate(fixes):
            fleet.publish(device, "telemetry", payload)
            if seq % 10 == 9:
                ev = next(event_seqs)
                fleet.publish(device, "event", events[ev])
        fleet.wait_sent()
        wait_committed(gateway, 220)
        stats = gateway.buffer_stats()

        # What must survive: every event, and the longest run of newest fixes that fits.
        room = cap - sum(stored_size(len(p)) for p in events.values())
        kept = 0
        while kept < len(fixes) and stored_size(len(fixes[-1 - kept])) <= room:
            room -= stored_size(len(fixes[-1 - kept]))
            kept += 1
        assert stats.depth_urgent == 20
        assert stats.depth_telemetry == kept
        assert stats.dropped_total == 200 - kept
        text = metrics_text(gateway.metrics_port)
        assert metric_value(text, "fieldwatch_edge_messages_dropped_total") == 200 - kept

        cloud.up()
        assert cloud.wait_for(lambda s: len(s.stored) == 20 + kept, 30)
    stored = cloud.read(lambda s: dict(s.stored))
    assert set(stored) == {(device, 1, seq) for seq in [*range(200 - kept, 200), *events]}
    assert max(stored.values()) == 1


@pytest.mark.slow
def test_a_minute_without_the_cloud(
    tmp_path: Path, broker: MosquittoServer, cloud: CloudStub, fleet: Fleet
) -> None:
    """The cloud away for 60 s while devices publish: all of it arrives, once, and the
    events of the outage arrive no later than any telemetry of the outage."""
    settings = gateway_settings(tmp_path, broker, cloud.url, forward_batch_max_readings=500)
    fleet.connect(BRACELETS)
    seqs = dict.fromkeys(BRACELETS, 0)
    published: dict[tuple[str, int, int], str] = {}

    def publish_round(with_event: bool) -> None:
        for device in BRACELETS:
            seq = seqs[device]
            seqs[device] += 1
            if with_event:
                fleet.publish(device, "event", event(seq))
                published[(device, 1, seq)] = "event"
            else:
                fleet.publish(device, "telemetry", fix(seq))
                published[(device, 1, seq)] = "telemetry"

    with running_gateway(settings):
        for _ in range(20):
            publish_round(with_event=False)
        fleet.wait_sent()
        assert cloud.wait_for(lambda s: len(s.stored) == len(published), 20)
        before_outage = set(published)

        cloud.down()
        outage_started = time.monotonic()
        n = 0
        while time.monotonic() - outage_started < 60:
            publish_round(with_event=n % 20 == 19)
            n += 1
            if n % 50 == 0:
                fleet.wait_sent()
            time.sleep(0.05)
        fleet.wait_sent()
        during_outage = set(published) - before_outage
        cloud.up()
        assert cloud.wait_for(lambda s: len(s.stored) == len(published), 60)

    stored = cloud.read(lambda s: dict(s.stored))
    assert set(stored) == set(published)
    assert max(stored.values()) == 1
    arrivals = cloud.read(lambda s: {a.key: a for a in s.arrivals})
    outage_events = [k for k in during_outage if published[k] == "event"]
    outage_fixes = [k for k in during_outage if published[k] == "telemetry"]
    assert len(outage_events) >= 10
    assert len(outage_fixes) > 1000
    assert all(arrivals[k].kind == c.EVENT for k in outage_events)
    last_event_batch = max(arrivals[k].batch_index for k in outage_events)
    first_fix_batch = min(arrivals[k].batch_index for k in outage_fixes)
    assert last_event_batch <= first_fix_batch


def test_a_batch_that_may_have_been_stored_is_sent_again_as_it_is_never_re_planned(
    tmp_path: Path, broker: MosquittoServer, cloud: CloudStub, fleet: Fleet
) -> None:
    """The cloud stores a batch and goes away before answering; the gateway's next tries
    are refused. The batch must then be sent again under its id (answered as a duplicate),
    not released and re-planned under a new id, which would store its records twice."""
    settings = gateway_settings(tmp_path, broker, cloud.url, backoff_max_s=0.5)
    device = BRACELETS[0]
    fleet.connect((device,))
    cloud.store_without_answering()
    with running_gateway(settings):
        for seq in range(5):
            fleet.publish(device, "telemetry", fix(seq))
        fleet.wait_sent()
        assert cloud.wait_for(lambda s: len(s.stored) == 5, 20)
        [first_batch] = cloud.read(lambda s: list(s.batches))
        cloud.down()  # the answer is lost with the connection
        time.sleep(2.0)  # several tries, all refused
        for seq in range(5, 8):
            fleet.publish(device, "telemetry", fix(seq))
        fleet.wait_sent()
        cloud.up()
        assert cloud.wait_for(lambda s: len(s.stored) == 8, 30)
        assert cloud.wait_for(lambda s: sum(a.batch_id == first_batch for a in s.attempts) >= 2, 10)

    assert max(cloud.read(lambda s: dict(s.stored)).values()) == 1
    attempts = cloud.read(lambda s: [a.batch_id for a in s.attempts])
    assert attempts[0] == first_batch
    assert attempts[1] == first_batch  # the first answered attempt after the outage
