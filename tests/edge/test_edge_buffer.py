"""The SQLite buffer, on real files: commit, dedup, cap, batches, quarantine, restarts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from edge_support import TS, event, fix

import edge.buffer
from core.codec import encode
from core.errors import CONFLICTING_RECORD, IMPLAUSIBLE_TIME
from core.messages import Batch, LocationFix
from core.receiver import DeviceKind, decode
from core.topics import topic
from edge.batching import BatchPlan
from edge.buffer import SEEN_KEPT, Buffer, Incoming
from edge.capacity import stored_size
from edge.classify import Accepted, Refused, classify
from edge.lanes import Lane
from edge.registry import Registry

DEVICE = "br-000001"


def telemetry(seq: int, at_ms: int = 1000) -> Incoming:
    return Incoming(
        topic(DEVICE, "telemetry"),
        fix(seq),
        at_ms,
        Accepted(DEVICE, "telemetry", Lane.TELEMETRY, 1),
    )


def fixes(first_seq: int, count: int) -> bytes:
    items = [
        LocationFix(boot=2, seq=s, ts=TS + s, lat_e7=1, lon_e7=2, accuracy_m=9, source=2)
        for s in range(first_seq, first_seq + count)
    ]
    return encode(Batch(boot=2, items=items))


def catch_up(first_seq: int, count: int) -> Incoming:
    """A device batch of ``count`` fixes: one message, ``count`` readings."""
    return Incoming(
        topic(DEVICE, "batch"),
        fixes(first_seq, count),
        1000,
        Accepted(DEVICE, "batch", Lane.TELEMETRY, readings=count),
    )


def urgent(seq: int, at_ms: int = 1000) -> Incoming:
    return Incoming(
        topic(DEVICE, "event"), event(seq), at_ms, Accepted(DEVICE, "event", Lane.URGENT, 1)
    )


def seqs(buffer: Buffer, batch_id: str) -> list[int]:
    claimed = buffer.in_flight()
    assert claimed is not None
    assert claimed.batch_id == batch_id
    return [decode(item.payload).seq for item in claimed.items]  # type: ignore[attr-defined]


@pytest.fixture
def buffer(tmp_path: Path) -> Iterator[Buffer]:
    opened = Buffer.open(tmp_path / "buffer.sqlite3", cap_bytes=10**9)
    yield opened
    opened.close()


def test_a_commit_is_counted_by_lane_and_a_redelivery_is_not_stored_twice(buffer: Buffer) -> None:
    report = buffer.commit([telemetry(0), telemetry(1), urgent(2)])
    assert report.committed == {Lane.TELEMETRY: 2, Lane.URGENT: 1}
    again = buffer.commit([telemetry(1), telemetry(3)])
    assert again.duplicates == 1
    stats = buffer.stats()
    assert (stats.depth_telemetry, stats.depth_urgent) == (3, 1)
    assert stats.bytes == sum(stored_size(len(fix(s))) for s in (0, 1, 3)) + stored_size(
        len(event(2))
    )


def test_a_message_handed_over_twice_in_one_group_is_stored_once(buffer: Buffer) -> None:
    refused = Refused("not_cbor", "not_cbor: reserved byte", DEVICE)
    bad = Incoming("fw/v1/br-000001/up/telemetry", b"\xff\x00", 1234, refused)
    report = buffer.commit([telemetry(0), telemetry(1), telemetry(0), bad, bad, urgent(2)])
    assert report.committed == {Lane.TELEMETRY: 2, Lane.URGENT: 1}
    assert report.quarantined == {"not_cbor": 1}
    assert report.duplicates == 2
    claimed = buffer.claim(BatchPlan(1, 0, 10), "gw-test", 1)
    assert claimed is not None
    assert seqs(buffer, claimed.batch_id) == [0, 1, 2]
    assert len(buffer.quarantine()) == 1


def test_the_dedup_window_keeps_the_last_deliveries_only(tmp_path: Path, buffer: Buffer) -> None:
    total = SEEN_KEPT + 3000
    for start in range(0, total, 2000):
        buffer.commit([telemetry(n) for n in range(start, min(total, start + 2000))])
    with closing(sqlite3.connect(tmp_path / "buffer.sqlite3")) as db:
        assert db.execute("SELECT count(*) FROM seen").fetchone()[0] == SEEN_KEPT
    assert buffer.commit([telemetry(total - SEEN_KEPT)]).duplicates == 1  # still known
    assert buffer.commit([telemetry(0)]).duplicates == 0  # out of the window: stored again


def test_the_quarantine_keeps_bytes_topic_time_and_reason(buffer: Buffer) -> None:
    refused = Refused("not_cbor", "not_cbor: reserved byte", DEVICE)
    buffer.commit([Incoming("fw/v1/br-000001/up/telemetry", b"\xff\x00", 1234, refused)])
    (entry,) = buffer.quarantine()
    assert (entry.topic, entry.received_at_ms, entry.code, entry.payload) == (
        "fw/v1/br-000001/up/telemetry",
        1234,
        "not_cbor",
        b"\xff\x00",
    )
    assert buffer.stats().depth == 0


def test_a_full_buffer_drops_the_oldest_telemetry_only_and_counts_exactly(tmp_path: Path) -> None:
    size = stored_size(len(fix(0)))
    capped = Buffer.open(tmp_path / "capped.sqlite3", cap_bytes=10 * size)
    try:
        events = [urgent(1000 + n) for n in range(5)]
        report = capped.commit([telemetry(n) for n in range(20)] + events)
        event_bytes = sum(stored_size(len(event(1000 + n))) for n in range(5))
        kept_fixes = (10 * size - event_bytes) // size
        assert report.dropped == 20 - kept_fixes
        stats = capped.stats()
        assert stats.depth_urgent == 5
        assert stats.depth_telemetry == kept_fixes
        assert stats.dropped_total == 20 - kept_fixes
        assert stats.bytes <= 10 * size
        batch = capped.claim(BatchPlan(5, 0, kept_fixes), "gw-test", 1)
        assert batch is not None
        assert seqs(capped, batch.batch_id) == list(range(20 - kept_fixes, 20)) + list(
            range(1000, 1005)
        )
    finally:
        capped.close()


def test_events_are_kept_over_the_cap(tmp_path: Path) -> None:
    capped = Buffer.open(tmp_path / "tiny.sqlite3", cap_bytes=1)
    try:
        report = capped.commit([urgent(n) for n in range(4)] + [telemetry(9)])
        assert report.dropped == 1
        assert capped.stats().depth_urgent == 4
    finally:
        capped.close()


def test_a_claim_takes_urgent_then_newest_and_oldest_telemetry(buffer: Buffer) -> None:
    buffer.commit([telemetry(n) for n in range(100)] + [urgent(500), urgent(501)])
    batch = buffer.claim(BatchPlan(2, 3, 3), "gw-test", 1)
    assert batch is not None
    assert seqs(buffer, batch.batch_id) == [0, 1, 2, 97, 98, 99, 500, 501]
    waiting = buffer.waiting(1000)
    assert (waiting.urgent, waiting.telemetry) == (0, 94)


def test_a_released_batch_waits_again_and_a_confirmed_one_is_gone(buffer: Buffer) -> None:
    buffer.commit([telemetry(n) for n in range(10)])
    first = buffer.claim(BatchPlan(0, 0, 4), "gw-test", 1)
    assert first is not None
    buffer.release(first.batch_id)
    assert buffer.in_flight() is None
    assert buffer.waiting(100).telemetry == 10
    second = buffer.claim(BatchPlan(0, 0, 4), "gw-test", 2)
    assert second is not None
    assert second.batch_id != first.batch_id
    assert len(buffer.confirm(second.batch_id)) == 4
    assert buffer.stats().depth == 6
    assert buffer.in_flight() is None


def test_a_batch_in_flight_survives_a_restart_with_its_id_and_messages(tmp_path: Path) -> None:
    path = tmp_path / "buffer.sqlite3"
    first = Buffer.open(path, cap_bytes=10**9)
    first.commit([telemetry(n) for n in range(5)])
    claimed = first.claim(BatchPlan(0, 0, 5), "gw-test", 1)
    first.close()
    reopened = Buffer.open(path, cap_bytes=10**9)
    try:
        assert reopened.in_flight() == claimed
    finally:
        reopened.close()


def test_batch_ids_differ_between_buffer_files(tmp_path: Path) -> None:
    ids = []
    for name in ("a", "b"):
        opened = Buffer.open(tmp_path / f"{name}.sqlite3", cap_bytes=10**9)
        opened.commit([telemetry(0)])
        claimed = opened.claim(BatchPlan(0, 0, 1), "gw-test", 1)
        assert claimed is not None
        ids.append(claimed.batch_id)
        opened.close()
    assert ids[0] != ids[1]  # a lost buffer file never reuses an id the cloud has seen


def test_quarantine_batch_moves_messages_with_their_topic(buffer: Buffer) -> None:
    buffer.commit([telemetry(0), urgent(1)])
    batch = buffer.claim(BatchPlan(1, 0, 1), "gw-test", 1)
    assert batch is not None
    assert buffer.quarantine_batch(batch.batch_id, "cloud_refused_batch", "HTTP 400") == 2
    topics = sorted(entry.topic for entry in buffer.quarantine())
    assert topics == ["fw/v1/br-000001/up/event", "fw/v1/br-000001/up/telemetry"]
    assert buffer.stats().depth == 0
    assert buffer.stats().bytes == 0


def test_the_file_is_in_wal_mode(tmp_path: Path, buffer: Buffer) -> None:
    with closing(sqlite3.connect(tmp_path / "buffer.sqlite3")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_waiting_and_claims_count_readings_not_messages(buffer: Buffer) -> None:
    buffer.commit([catch_up(0, 10), catch_up(10, 10), catch_up(20, 10), telemetry(99)])
    waiting = buffer.waiting(1000)
    assert (waiting.urgent, waiting.telemetry) == (0, 31)
    assert buffer.waiting(25).telemetry == 25  # capped at the limit asked
    batch = buffer.claim(BatchPlan(0, 0, 25), "gw-test", 1)
    assert batch is not None
    # Two device batches fit in 25 readings, the third does not: the order holds.
    assert (len(batch.items), batch.readings) == (2, 20)
    assert buffer.confirm(batch.batch_id)
    assert buffer.waiting(1000).telemetry == 11


def test_a_message_larger_than_the_batch_goes_alone(buffer: Buffer) -> None:
    buffer.commit([catch_up(0, 40), telemetry(99)])
    batch = buffer.claim(BatchPlan(0, 2, 3), "gw-test", 1)
    assert batch is not None
    # The newest end (the single fix) fits its 2; the oldest end gets the 1 left
    # over and nothing fits, so the 40 wait for a batch of their own.
    assert batch.readings == 1
    buffer.confirm(batch.batch_id)
    alone = buffer.claim(BatchPlan(0, 2, 3), "gw-test", 2)
    assert alone is not None
    assert (len(alone.items), alone.readings) == (1, 40)


# The schema of the buffer file as the previous gateway version made it: no
# ``message.readings`` column. Frozen here so an upgrade is tested on a real old file.
_SCHEMA_WITHOUT_READINGS = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE message (
    id INTEGER PRIMARY KEY,
    lane INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    size INTEGER NOT NULL,
    payload BLOB NOT NULL,
    batch_id TEXT
);
CREATE INDEX message_by_lane ON message (lane, id);
CREATE INDEX message_in_batch ON message (batch_id) WHERE batch_id IS NOT NULL;
CREATE TABLE batch (id TEXT PRIMARY KEY, created_at_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at_ms INTEGER NOT NULL,
    topic TEXT NOT NULL,
    device_id TEXT,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE seen (id INTEGER PRIMARY KEY, digest BLOB NOT NULL UNIQUE);
"""


def test_a_buffer_file_of_the_previous_version_opens_and_counts_its_readings(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    rows = [
        (int(Lane.TELEMETRY), "telemetry", fix(0), None),
        (int(Lane.TELEMETRY), "batch", fixes(10, 7), None),
        (int(Lane.URGENT), "event", event(1), None),
        (int(Lane.TELEMETRY), "telemetry", fix(2), "gw-test:0123456789abcdef:0000000000"),
    ]
    with closing(sqlite3.connect(path)) as db:
        db.executescript(_SCHEMA_WITHOUT_READINGS)
        meta = [("schema_version", 1), ("instance", "0123456789abcdef"), ("depth_urgent", 1)]
        meta += [("depth_telemetry", 3), ("bytes", 400), ("dropped_total", 0), ("next_batch", 1)]
        db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta)
        db.execute("INSERT INTO batch VALUES ('gw-test:0123456789abcdef:0000000000', 1)")
        db.executemany(
            "INSERT INTO message (lane, device_id, channel, received_at_ms, size, payload,"
            " batch_id) VALUES (?, ?, ?, 1000, 100, ?, ?)",
            [(lane, DEVICE, channel, payload, batch) for lane, channel, payload, batch in rows],
        )
        db.commit()

    old = Buffer.open(path, cap_bytes=10**9)
    try:
        in_flight = old.in_flight()
        assert in_flight is not None
        assert (in_flight.batch_id, in_flight.readings) == (
            "gw-test:0123456789abcdef:0000000000",
            1,
        )
        assert in_flight.maybe_stored  # it may have been sent before the upgrade
        waiting = old.waiting(1000)
        assert (waiting.urgent, waiting.telemetry) == (1, 8)  # the device batch counts 7
        old.commit([catch_up(100, 5), telemetry(3)])
        old.confirm(in_flight.batch_id)
        batch = old.claim(BatchPlan(1, 0, 100), "gw-test", 2)
        assert batch is not None
        assert batch.batch_id == "gw-test:0123456789abcdef:0000000001"
        assert (len(batch.items), batch.readings) == (5, 15)
        assert not batch.maybe_stored
        assert old.quarantine_to_upload(10) == []
    finally:
        old.close()
    reopened = Buffer.open(path, cap_bytes=10**9)  # the upgrade happens once
    reopened.close()


# -- evidence: one (boot, seq), one record ---------------------------------------------

REGISTRY = Registry({DEVICE: DeviceKind.bracelet})
NOW_S = TS + 3600.0


def arriving(channel: str, payload: bytes, at_ms: int = 1000) -> Incoming:
    """A message as the committer hands it over: classified by the gateway's rules."""
    name = topic(DEVICE, channel)
    return Incoming(name, payload, at_ms, classify(name, payload, REGISTRY, NOW_S))


def moved_fix(seq: int, boot: int = 1) -> bytes:
    """Another record with the number of ``fix(seq)``: the same time, another place."""
    record = decode(fix(seq, boot))
    record.lat_e7 += 1000  # type: ignore[attr-defined]
    return encode(record)


def test_a_different_record_with_a_number_taken_is_quarantined_and_the_first_kept(
    buffer: Buffer,
) -> None:
    buffer.commit([arriving("telemetry", fix(1)), arriving("telemetry", fix(2))])
    report = buffer.commit([arriving("telemetry", moved_fix(1)), arriving("telemetry", fix(3))])
    assert report.quarantined == {CONFLICTING_RECORD: 1}
    assert buffer.stats().depth == 3
    (entry,) = buffer.quarantine()
    assert entry.code == CONFLICTING_RECORD
    assert "(boot 1, seq 1)" in entry.reason
    assert entry.payload == moved_fix(1)  # kept as it came
    batch = buffer.claim(BatchPlan(0, 0, 10), "gw-test", 1)
    assert batch is not None
    assert [item.payload for item in batch.items] == [fix(1), fix(2), fix(3)]


def test_the_same_record_again_in_another_envelope_is_no_conflict(buffer: Buffer) -> None:
    buffer.commit([arriving("telemetry", fix(4))])
    again = encode(Batch(boot=1, items=[decode(fix(4)), decode(fix(5))]))  # type: ignore[list-item]
    report = buffer.commit([arriving("batch", again)])
    assert report.quarantined == {}
    assert buffer.stats().depth == 2


def test_conflicts_are_found_within_one_group_and_within_one_device_batch(
    buffer: Buffer,
) -> None:
    report = buffer.commit([arriving("telemetry", fix(7)), arriving("telemetry", moved_fix(7))])
    assert report.quarantined == {CONFLICTING_RECORD: 1}
    twice = encode(Batch(boot=1, items=[decode(fix(8)), decode(moved_fix(8))]))  # type: ignore[list-item]
    report = buffer.commit([arriving("batch", twice)])
    assert report.quarantined == {CONFLICTING_RECORD: 1}
    assert "record 1 of 2" in buffer.quarantine(1)[0].reason


def test_numbers_are_per_device_and_boot(buffer: Buffer) -> None:
    report = buffer.commit(
        [arriving("telemetry", fix(1, boot=1)), arriving("telemetry", fix(1, boot=2))]
    )
    assert report.quarantined == {}
    other = Registry({DEVICE: DeviceKind.bracelet, "br-000002": DeviceKind.bracelet})
    name = topic("br-000002", "telemetry")
    elsewhere = Incoming(name, moved_fix(1), 1000, classify(name, moved_fix(1), other, NOW_S))
    report = buffer.commit([elsewhere])
    assert report.quarantined == {}
    assert buffer.stats().depth == 3


def test_the_record_keys_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "buffer.sqlite3"
    first = Buffer.open(path, cap_bytes=10**9)
    first.commit([arriving("telemetry", fix(1))])
    first.close()
    reopened = Buffer.open(path, cap_bytes=10**9)
    try:
        report = reopened.commit([arriving("telemetry", moved_fix(1))])
        assert report.quarantined == {CONFLICTING_RECORD: 1}
    finally:
        reopened.close()


def test_a_record_ahead_of_the_clock_is_quarantined_not_buffered(buffer: Buffer) -> None:
    ahead = LocationFix(
        boot=1, seq=9, ts=int(NOW_S) + 8 * 3600, lat_e7=1, lon_e7=2, accuracy_m=9, source=2
    )
    report = buffer.commit([arriving("telemetry", encode(ahead))])
    assert report.quarantined == {IMPLAUSIBLE_TIME: 1}
    assert buffer.stats().depth == 0
    assert buffer.quarantine()[0].payload == encode(ahead)


# -- batches that may have been stored ----------------------------------------------------


def test_a_batch_marked_maybe_stored_stays_so_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "buffer.sqlite3"
    first = Buffer.open(path, cap_bytes=10**9)
    first.commit([telemetry(n) for n in range(3)])
    claimed = first.claim(BatchPlan(0, 0, 3), "gw-test", 1)
    assert claimed is not None
    assert not claimed.maybe_stored
    first.mark_maybe_stored(claimed.batch_id)
    first.close()
    reopened = Buffer.open(path, cap_bytes=10**9)
    try:
        again = reopened.in_flight()
        assert again is not None
        assert (again.batch_id, again.items, again.maybe_stored) == (
            claimed.batch_id,
            claimed.items,
            True,
        )
    finally:
        reopened.close()


def test_batches_found_in_flight_at_start_up_are_suspect(buffer: Buffer) -> None:
    buffer.commit([telemetry(n) for n in range(3)])
    assert buffer.claim(BatchPlan(0, 0, 3), "gw-test", 1) is not None
    assert buffer.suspect_in_flight() == 1
    in_flight = buffer.in_flight()
    assert in_flight is not None
    assert in_flight.maybe_stored


# -- the quarantine's upload mark ------------------------------------------------------


def test_the_upload_mark_moves_only_forward_and_counts_what_is_left(buffer: Buffer) -> None:
    buffer.commit([arriving("telemetry", b"\xff" * n) for n in range(1, 6)])
    assert buffer.stats().quarantine_not_uploaded == 5
    first = buffer.quarantine_to_upload(2)
    assert [e.payload for e in first] == [b"\xff", b"\xff" * 2]  # oldest first
    buffer.mark_uploaded(first[-1].id)
    buffer.mark_uploaded(first[0].id)  # an older answer arriving late changes nothing
    assert [len(e.payload) for e in buffer.quarantine_to_upload(10)] == [3, 4, 5]
    assert buffer.stats().quarantine_not_uploaded == 3
    assert buffer.stats().quarantined_total == 5


def test_record_keys_are_kept_for_a_bounded_window_of_the_newest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(edge.buffer, "RECORDS_KEPT", 10)
    monkeypatch.setattr(edge.buffer, "_PRUNE_EVERY", 2)
    path = tmp_path / "buffer.sqlite3"
    opened = Buffer.open(path, cap_bytes=10**9)
    try:
        for seq in range(30):
            opened.commit([arriving("telemetry", fix(seq))])
        with closing(sqlite3.connect(path)) as db:
            kept = [row[0] for row in db.execute("SELECT seq FROM record ORDER BY seq")]
        assert 10 <= len(kept) <= 12
        assert kept[-1] == 29
        # Within the window a conflict is found; past it, the cloud's check is the one.
        assert opened.commit([arriving("telemetry", moved_fix(29))]).quarantined
        assert not opened.commit([arriving("telemetry", moved_fix(0))]).quarantined
    finally:
        opened.close()
