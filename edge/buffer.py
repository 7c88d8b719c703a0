"""The SQLite buffer: messages wait here from their commit until the cloud stores them.

One file, WAL mode, schema in docs/edge.md. Each thread of the gateway opens its own
``Buffer`` on the same file (the committer writes new messages, the forwarder claims,
deletes and releases batches, the metrics read statistics); SQLite serialises the
writers. Every write is one ``BEGIN IMMEDIATE`` transaction, so a SIGKILL leaves
either all of it or none of it.

The only module that imports sqlite3.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core import contract as c
from core.errors import CONFLICTING_RECORD, DecodeError
from core.evidence import conflict
from core.forwarding import ForwardedMessage
from core.receiver import decode
from core.topics import topic
from edge.batching import BatchPlan, take_within
from edge.capacity import rows_to_drop, stored_size
from edge.classify import Accepted, Refused, Verdict, readings_in
from edge.errors import BufferStoreError
from edge.lanes import Lane

SCHEMA_VERSION = 1
# Digests of the last messages committed, to recognise a message the broker hands over
# again (sent before a crash, committed, never acknowledged). Must exceed the number of
# messages the broker may have in flight (mqtt_receive_maximum is at most 65535).
SEEN_KEPT = 65536
# Keys of the last records committed, (device, boot, seq) and a digest of the fields, to
# recognise a different record claiming the number of one received before. Beyond this
# window the cloud, which keeps every record, makes the same judgement (docs/edge.md).
RECORDS_KEPT = 262144
_PRUNE_EVERY = RECORDS_KEPT // 8  # records past the window before the oldest are deleted
BUSY_TIMEOUT_MS = 30000
_DIGESTS_PER_QUERY = 500  # host parameters per duplicate check, well under SQLite's limit
_KEYS_PER_QUERY = 300  # (device, boot, seq) triples per conflict check

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS message (
    id INTEGER PRIMARY KEY,
    lane INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    size INTEGER NOT NULL,
    payload BLOB NOT NULL,
    batch_id TEXT,
    readings INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS message_by_lane ON message (lane, id);
CREATE INDEX IF NOT EXISTS message_in_batch ON message (batch_id) WHERE batch_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS batch (
    id TEXT PRIMARY KEY,
    created_at_ms INTEGER NOT NULL,
    maybe_stored INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at_ms INTEGER NOT NULL,
    topic TEXT NOT NULL,
    device_id TEXT,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS seen (
    id INTEGER PRIMARY KEY,
    digest BLOB NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS record (
    device_id TEXT NOT NULL,
    boot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    digest INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (device_id, boot, seq)
) WITHOUT ROWID;
"""

_COUNTERS = (
    "depth_urgent",
    "depth_telemetry",
    "bytes",
    "dropped_total",
    "next_batch",
    "quarantine_uploaded",
    "next_record",
    "records_pruned_below",
)
_DEPTH_KEY = {Lane.URGENT: "depth_urgent", Lane.TELEMETRY: "depth_telemetry"}

Synchronous = Literal["full", "normal"]


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message from the broker with the classifier's verdict."""

    topic: str
    payload: bytes
    received_at_ms: int
    verdict: Verdict


@dataclass
class CommitReport:
    """What one commit did."""

    committed: Counter[Lane] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)  # by reason code
    duplicates: int = 0
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class Waiting:
    """Messages not in any batch: their readings per lane (capped at the asked limit)
    and the oldest's time."""

    urgent: int
    telemetry: int
    oldest_received_at_ms: int | None


@dataclass(frozen=True, slots=True)
class ClaimedBatch:
    """A batch in flight: its id, its messages in buffer order, their readings, and
    whether an earlier attempt may have stored it (then it is never re-planned)."""

    batch_id: str
    items: tuple[ForwardedMessage, ...]
    readings: int
    maybe_stored: bool = False


@dataclass(frozen=True, slots=True)
class BufferStats:
    """The buffer's state for metrics, heartbeats and ``fieldwatch edge status``."""

    depth_urgent: int
    depth_telemetry: int
    bytes: int
    oldest_received_at_ms: int | None
    dropped_total: int
    quarantined_total: int
    in_flight_batches: int
    quarantine_not_uploaded: int = 0  # kept here only: not yet in the cloud's quarantine

    @property
    def depth(self) -> int:
        return self.depth_urgent + self.depth_telemetry


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """A message the gateway refused, kept with its bytes and the reason."""

    id: int
    received_at_ms: int
    topic: str
    device_id: str | None
    code: str
    reason: str
    payload: bytes


def message_digest(topic_name: str, payload: bytes) -> bytes:
    """Identity of a delivery: the same bytes on the same topic are the same message."""
    return hashlib.blake2b(topic_name.encode() + b"\x00" + payload, digest_size=16).digest()


class Buffer:
    """One connection to the buffer file. Open with ``Buffer.open``; close when done."""

    def __init__(self, connection: sqlite3.Connection, cap_bytes: int) -> None:
        self._db = connection
        self._cap_bytes = cap_bytes

    @classmethod
    def open(cls, path: Path, *, cap_bytes: int, synchronous: Synchronous = "full") -> Buffer:
        """Open (and create if needed) the buffer file at ``path``."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise BufferStoreError(f"buffer {path}: cannot switch to WAL (got {mode})")
            connection.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            buffer = cls(connection, cap_bytes)
            buffer._prepare()
        except sqlite3.Error as exc:
            raise BufferStoreError(f"buffer {path}: {exc}") from exc
        return buffer

    def close(self) -> None:
        self._db.close()

    def _prepare(self) -> None:
        # executescript commits any open transaction, so the schema goes first, on its own.
        self._db.executescript(_SCHEMA)
        with self._write():
            self._add_readings_column()
            self._add_maybe_stored_column()
            version = self._meta("schema_version")
            if version is None:
                self._set_meta("schema_version", SCHEMA_VERSION)
                self._set_meta("instance", secrets.token_hex(8))
            elif version != SCHEMA_VERSION:
                raise BufferStoreError(f"buffer schema {version} is not {SCHEMA_VERSION}")
            # Counters added since a file was made start at 0 (an upload mark at 0
            # uploads the whole quarantine kept so far: the cloud takes it idempotently).
            self._db.executemany(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, 0)",
                ((name,) for name in _COUNTERS),
            )

    def _add_readings_column(self) -> None:
        """Files made before ``message.readings`` existed get it, with the readings of
        the device batches they hold counted (every other message counts 1)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(message)")}
        if "readings" in columns:
            return
        self._db.execute("ALTER TABLE message ADD COLUMN readings INTEGER NOT NULL DEFAULT 1")
        rows = self._db.execute(
            "SELECT id, payload FROM message WHERE channel = ?", ("batch",)
        ).fetchall()
        self._db.executemany(
            "UPDATE message SET readings = ? WHERE id = ?",
            ((_batch_readings(bytes(payload)), id_) for id_, payload in rows),
        )

    def _add_maybe_stored_column(self) -> None:
        """Files made before ``batch.maybe_stored`` existed get it; a batch in flight in
        such a file may have been sent, so it counts as maybe stored."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(batch)")}
        if "maybe_stored" not in columns:
            self._db.execute("ALTER TABLE batch ADD COLUMN maybe_stored INTEGER NOT NULL DEFAULT 1")

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction, taken at once so two writers never deadlock."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise BufferStoreError(f"cannot start a buffer transaction: {exc}") from exc
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise BufferStoreError(f"cannot commit to the buffer: {exc}") from exc

    def _meta(self, key: str) -> int | str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set_meta(self, key: str, value: int | str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _add(self, key: str, delta: int) -> None:
        if delta:
            self._db.execute("UPDATE meta SET value = value + ? WHERE key = ?", (delta, key))

    @property
    def instance(self) -> str:
        """Random id of this buffer file, part of every batch id it makes."""
        return str(self._meta("instance"))

    def next_relay_boot(self, floor: int) -> int:
        """A new boot id for the records the gateway itself makes for devices that do not
        speak the contract (the HJ 212 listener): above every one taken from this file
        before, and at least ``floor`` (a clock reading, so that a buffer made anew after
        a wipe does not hand out boot ids the cloud already holds)."""
        try:
            with self._write():
                last = int(self._meta("relay_boot") or 0)
                boot = max(last + 1, floor)
                self._set_meta("relay_boot", boot)
        except sqlite3.Error as exc:
            raise BufferStoreError(f"cannot take a relay boot id: {exc}") from exc
        return boot

    # -- committer ---------------------------------------------------------------------

    def commit(self, messages: Sequence[Incoming]) -> CommitReport:
        """Store a group of messages in one transaction, then enforce the cap.

        A message seen before (same topic and bytes among the last ``SEEN_KEPT``) is
        counted as a duplicate and not stored again.
        """
        report = CommitReport()
        try:
            with self._write():
                self._commit(messages, report)
        except sqlite3.Error as exc:
            raise BufferStoreError(f"cannot commit {len(messages)} messages: {exc}") from exc
        return report

    def _commit(self, messages: Sequence[Incoming], report: CommitReport) -> None:
        # One statement per table for the whole group (executemany): per-message
        # statements were most of the committer's Python time at one reading a message.
        digests = [message_digest(m.topic, m.payload) for m in messages]
        known = self._seen_among(digests)
        numbered = self._records_among(messages)
        fresh: list[bytes] = []
        new_records: list[tuple[str, int, int, int]] = []
        rows: list[tuple[int, str, str, int, int, bytes, int]] = []
        refused: list[tuple[int, str, str | None, str, str, bytes]] = []
        added_bytes = 0
        for message, digest in zip(messages, digests, strict=True):
            if digest in known:
                report.duplicates += 1
                continue
            known.add(digest)  # handed over twice within this group: the second is a duplicate
            fresh.append(digest)
            verdict = message.verdict
            if isinstance(verdict, Accepted) and verdict.records:
                verdict = _judge_numbers(verdict, numbered, new_records)
            if isinstance(verdict, Accepted):
                size = stored_size(len(message.payload))
                rows.append(
                    (
                        int(verdict.lane),
                        verdict.device_id,
                        verdict.channel,
                        message.received_at_ms,
                        size,
                        message.payload,
                        verdict.readings,
                    )
                )
                report.committed[verdict.lane] += 1
                added_bytes += size
            else:
                refused.append(
                    (
                        message.received_at_ms,
                        message.topic,
                        verdict.device_id,
                        verdict.code,
                        verdict.reason,
                        message.payload,
                    )
                )
                report.quarantined[verdict.code] += 1
        if fresh:
            self._db.executemany("INSERT INTO seen (digest) VALUES (?)", ((d,) for d in fresh))
        if new_records:
            self._remember(new_records)
        if rows:
            self._db.executemany(
                "INSERT INTO message"
                " (lane, device_id, channel, received_at_ms, size, payload, readings)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        if refused:
            self._db.executemany(
                "INSERT INTO quarantine (received_at_ms, topic, device_id, code, reason, payload)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                refused,
            )
        for lane, count in report.committed.items():
            self._add(_DEPTH_KEY[lane], count)
        self._add("bytes", added_bytes)
        if fresh:
            last_seen = int(self._db.execute("SELECT max(id) FROM seen").fetchone()[0])
            if last_seen > SEEN_KEPT:
                self._db.execute("DELETE FROM seen WHERE id <= ?", (last_seen - SEEN_KEPT,))
        report.dropped = self._enforce_cap()

    def _seen_among(self, digests: Sequence[bytes]) -> set[bytes]:
        """Which of these digests are among the last deliveries committed."""
        known: set[bytes] = set()
        for start in range(0, len(digests), _DIGESTS_PER_QUERY):
            chunk = digests[start : start + _DIGESTS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT digest FROM seen WHERE digest IN ({marks})"
            known.update(row[0] for row in self._db.execute(query, chunk))
        return known

    def _records_among(self, messages: Sequence[Incoming]) -> dict[tuple[str, int, int], int]:
        """The digests of records committed before under the numbers these messages
        carry, by (device, boot, seq)."""
        keys = list(
            {
                (m.verdict.device_id, r.boot, r.seq)
                for m in messages
                if isinstance(m.verdict, Accepted)
                for r in m.verdict.records
            }
        )
        found: dict[tuple[str, int, int], int] = {}
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            chunk = keys[start : start + _KEYS_PER_QUERY]
            values = ",".join("(?, ?, ?)" for _ in chunk)
            # A join on the unique index: ``(device_id, boot, seq) IN (VALUES ...)`` would
            # scan the whole table.
            query = (
                "SELECT r.device_id, r.boot, r.seq, r.digest"
                f" FROM (VALUES {values}) AS wanted CROSS JOIN record AS r"
                " ON r.device_id = wanted.column1 AND r.boot = wanted.column2"
                " AND r.seq = wanted.column3"
            )
            params = [part for key in chunk for part in key]
            found.update(((d, b, s), digest) for d, b, s, digest in self._db.execute(query, params))
        return found

    def _remember(self, records: Sequence[tuple[str, int, int, int]]) -> None:
        """Keep the numbers and digests of these records, numbered in commit order, and
        forget the oldest beyond ``RECORDS_KEPT`` (a scan, once every ``_PRUNE_EVERY``:
        one table clustered by device, no second index to keep up at every insert)."""
        first = int(self._meta("next_record") or 0)
        self._db.executemany(
            "INSERT INTO record (device_id, boot, seq, digest, n) VALUES (?, ?, ?, ?, ?)",
            ((*record, first + index) for index, record in enumerate(records)),
        )
        last = first + len(records)
        self._set_meta("next_record", last)
        pruned_below = int(self._meta("records_pruned_below") or 0)
        if last - pruned_below > RECORDS_KEPT + _PRUNE_EVERY:
            self._db.execute("DELETE FROM record WHERE n < ?", (last - RECORDS_KEPT,))
            self._set_meta("records_pruned_below", last - RECORDS_KEPT)

    def _enforce_cap(self) -> int:
        total = int(self._meta("bytes") or 0)
        if total <= self._cap_bytes:
            return 0
        dropped = 0
        while total > self._cap_bytes:
            rows = self._db.execute(
                "SELECT id, size FROM message WHERE lane = ? ORDER BY id LIMIT 500",
                (int(Lane.TELEMETRY),),
            ).fetchall()
            if not rows:
                break  # only urgent messages left: they are never dropped
            count = rows_to_drop(total, self._cap_bytes, (size for _, size in rows))
            victims = rows[:count]
            self._db.execute(
                "DELETE FROM message WHERE lane = ? AND id <= ?",
                (int(Lane.TELEMETRY), victims[-1][0]),
            )
            freed = sum(size for _, size in victims)
            total -= freed
            dropped += len(victims)
            self._add("bytes", -freed)
            self._add("depth_telemetry", -len(victims))
        self._add("dropped_total", dropped)
        return dropped

    # -- forwarder ---------------------------------------------------------------------

    def in_flight(self) -> ClaimedBatch | None:
        """The batch claimed but not yet settled (after a crash, or a retry), if any."""
        row = self._db.execute("SELECT id FROM batch ORDER BY created_at_ms, id LIMIT 1").fetchone()
        if row is None:
            return None
        return self._claimed(row[0])

    def waiting(self, limit: int) -> Waiting:
        """What waits outside any batch, in readings; counts stop at ``limit``."""
        # Every message holds at least one reading, so ``limit`` messages are enough.
        counts = [
            min(
                limit,
                self._db.execute(
                    "SELECT coalesce(sum(readings), 0) FROM (SELECT readings FROM message"
                    " WHERE lane = ? AND batch_id IS NULL LIMIT ?)",
                    (int(lane), limit),
                ).fetchone()[0],
            )
            for lane in (Lane.URGENT, Lane.TELEMETRY)
        ]
        oldest = [
            self._db.execute(
                "SELECT received_at_ms FROM message WHERE lane = ? AND batch_id IS NULL"
                " ORDER BY id LIMIT 1",
                (int(lane),),
            ).fetchone()
            for lane in (Lane.URGENT, Lane.TELEMETRY)
        ]
        times = [row[0] for row in oldest if row is not None]
        return Waiting(counts[0], counts[1], min(times) if times else None)

    def claim(self, plan: BatchPlan, gateway_id: str, now_ms: int) -> ClaimedBatch | None:
        """Put the planned messages in a new batch with a fresh id; None if none waits."""
        try:
            with self._write():
                ids = self._planned_ids(plan)
                if not ids:
                    return None
                number = int(self._meta("next_batch") or 0)
                self._add("next_batch", 1)
                batch_id = f"{gateway_id}:{self._meta('instance')}:{number:010d}"
                self._db.execute(
                    "INSERT INTO batch (id, created_at_ms, maybe_stored) VALUES (?, ?, 0)",
                    (batch_id, now_ms),
                )
                self._db.executemany(
                    "UPDATE message SET batch_id = ? WHERE id = ?", ((batch_id, i) for i in ids)
                )
        except sqlite3.Error as exc:
            raise BufferStoreError(f"cannot claim a batch: {exc}") from exc
        return self._claimed(batch_id)

    def _planned_ids(self, plan: BatchPlan) -> list[int]:
        """Whole messages for the plan's budgets of readings (edge.batching)."""

        def take(
            lane: Lane, order: str, budget: int, *, at_least_one: bool, below: int | None = None
        ) -> tuple[list[int], int]:
            if budget <= 0 and not at_least_one:
                return [], 0
            bound = "" if below is None else " AND id < ?"
            # A message holds at least one reading: ``budget`` messages are enough.
            limit = max(budget, 1)
            params = (int(lane), limit) if below is None else (int(lane), below, limit)
            rows = self._db.execute(
                f"SELECT id, readings FROM message WHERE lane = ? AND batch_id IS NULL{bound}"
                f" ORDER BY id {order} LIMIT ?",
                params,
            ).fetchall()
            count = take_within((r for _, r in rows), budget, at_least_one=at_least_one)
            return [i for i, _ in rows[:count]], sum(r for _, r in rows[:count])

        urgent, _ = take(Lane.URGENT, "ASC", plan.urgent, at_least_one=plan.urgent > 0)
        newest, newest_readings = take(
            Lane.TELEMETRY, "DESC", plan.newest_telemetry, at_least_one=False
        )
        # What the newest end left unused goes to the oldest end; telemetry given any
        # room takes at least one message, so big device batches cannot starve.
        oldest, _ = take(
            Lane.TELEMETRY,
            "ASC",
            plan.oldest_telemetry + plan.newest_telemetry - newest_readings,
            at_least_one=not newest and plan.newest_telemetry + plan.oldest_telemetry > 0,
            below=min(newest) if newest else None,
        )
        return sorted(urgent + newest + oldest)

    def mark_maybe_stored(self, batch_id: str) -> None:
        """The cloud may have stored the batch (no answer, a 5xx): from now on it is sent
        again as it is until the cloud answers, never released and re-planned."""
        try:
            with self._write():
                self._db.execute("UPDATE batch SET maybe_stored = 1 WHERE id = ?", (batch_id,))
        except sqlite3.Error as exc:
            raise BufferStoreError(f"cannot mark batch {batch_id}: {exc}") from exc

    def suspect_in_flight(self) -> int:
        """At start-up: a batch left in flight by the last run may have reached the cloud
        before the run ended. Marks each maybe stored; returns how many there were."""
        try:
            with self._write():
                return self._db.execute("UPDATE batch SET maybe_stored = 1").rowcount
        except sqlite3.Error as exc:
            raise BufferStoreError(f"cannot mark the batches in flight: {exc}") from exc

    def _claimed(self, batch_id: str) -> ClaimedBatch:
        maybe = self._db.execute("SELECT maybe_stored FROM batch WHERE id = ?", (batch_id,))
        maybe_row = maybe.fetchone()
        rows = self._db.execute(
            "SELECT device_id, channel, received_at_ms, payload, readings FROM message"
            " WHERE batch_id = ? ORDER BY id",
            (batch_id,),
        ).fetchall()
        items = tuple(ForwardedMessage(d, ch, r, bytes(p)) for d, ch, r, p, _ in rows)
        maybe_stored = bool(maybe_row[0]) if maybe_row is not None else False
        return ClaimedBatch(batch_id, items, sum(row[4] for row in rows), maybe_stored)

    def confirm(self, batch_id: str) -> list[int]:
        """The cloud stored the batch: delete it. Returns its messages' commit times."""
        try:
            with self._write():
                rows = self._db.execute(
                    "SELECT lane, size, received_at_ms FROM message WHERE batch_id = ?",
                    (batch_id,),
                ).fetchall()
                self._db.execute("DELETE FROM message WHERE batch_id = ?", (batch_id,))
                self._db.execute("DELETE FROM batch WHERE id = ?", (batch_id,))
                self._forget(rows)
        except sqlite3.Error as exc:
            raise BufferStoreError(f"cannot delete batch {batch_id}: {exc}") from exc
        return [received for _, _, received in rows]

    def release(self, batch_id: str) -> None:
        """The cloud certainly did not store the batch: its messages wait again."""
        try:
            with self._write():
                self._db.execute(
                    "UPDATE message SET batch_id = NULL WHERE batch_id = ?", (batch_id,)
                )
                self._db.execute("DELETE FROM batch WHERE id = ?", (batch_id,))
        except sqlite3.Error as exc:
            raise BufferStoreError(f"cannot release batch {batch_id}: {exc}") from exc

    def quarantine_batch(self, batch_id: str, code: str, reason: str) -> int:
        """The cloud refuses the batch's format: move its messages to the quarantine."""
        try:
            with self._write():
                rows = self._db.execute(
                    "SELECT lane, size, received_at_ms, device_id, channel, payload FROM message"
                    " WHERE batch_id = ?",
                    (batch_id,),
                ).fetchall()
                self._db.executemany(
                    "INSERT INTO quarantine (received_at_ms, topic, device_id, code, reason, payload)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        (received, topic(device, channel), device, code, reason, payload)
                        for _, _, received, device, channel, payload in rows
                    ),
                )
                self._db.execute("DELETE FROM message WHERE batch_id = ?", (batch_id,))
                self._db.execute("DELETE FROM batch WHERE id = ?", (batch_id,))
                self._forget([(lane, size, received) for lane, size, received, *_ in rows])
        except sqlite3.Error as exc:
            raise BufferStoreError(f"cannot quarantine batch {batch_id}: {exc}") from exc
        return len(rows)

    def _forget(self, rows: Sequence[tuple[int, int, int]]) -> None:
        lanes = Counter(Lane(lane) for lane, _, _ in rows)
        for lane, count in lanes.items():
            self._add(_DEPTH_KEY[lane], -count)
        self._add("bytes", -sum(size for _, size, _ in rows))

    # -- quarantine upload -------------------------------------------------------------

    def quarantine_to_upload(self, limit: int) -> list[QuarantineEntry]:
        """The oldest quarantined messages not yet uploaded to the cloud, oldest first."""
        try:
            mark = int(self._meta("quarantine_uploaded") or 0)
            rows = self._db.execute(
                "SELECT id, received_at_ms, topic, device_id, code, reason, payload"
                " FROM quarantine WHERE id > ? ORDER BY id LIMIT ?",
                (mark, limit),
            ).fetchall()
        except sqlite3.Error as exc:
            raise BufferStoreError(f"cannot read the quarantine: {exc}") from exc
        return [_entry(row) for row in rows]

    def mark_uploaded(self, last_id: int) -> None:
        """The cloud keeps every quarantined message up to ``last_id``."""
        try:
            with self._write():
                mark = int(self._meta("quarantine_uploaded") or 0)
                if last_id > mark:
                    self._set_meta("quarantine_uploaded", last_id)
        except sqlite3.Error as exc:
            raise BufferStoreError(f"cannot mark the quarantine uploaded: {exc}") from exc

    # -- readers -----------------------------------------------------------------------

    def stats(self) -> BufferStats:
        """Depth, size, age and counters, from the bookkeeping rows (cheap at any size)."""
        try:
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            firsts = [
                self._db.execute(
                    "SELECT received_at_ms FROM message WHERE lane = ? ORDER BY id LIMIT 1",
                    (int(lane),),
                ).fetchone()
                for lane in Lane
            ]
            times = [row[0] for row in firsts if row is not None]
            oldest = min(times) if times else None
            quarantined = self._db.execute("SELECT count(*) FROM quarantine").fetchone()[0]
            not_uploaded = self._db.execute(
                "SELECT count(*) FROM quarantine WHERE id > ?",
                (int(meta.get("quarantine_uploaded") or 0),),
            ).fetchone()[0]
            in_flight = self._db.execute("SELECT count(*) FROM batch").fetchone()[0]
        except sqlite3.Error as exc:
            raise BufferStoreError(f"cannot read the buffer statistics: {exc}") from exc
        return BufferStats(
            depth_urgent=int(meta["depth_urgent"]),
            depth_telemetry=int(meta["depth_telemetry"]),
            bytes=int(meta["bytes"]),
            oldest_received_at_ms=oldest,
            dropped_total=int(meta["dropped_total"]),
            quarantined_total=int(quarantined),
            quarantine_not_uploaded=int(not_uploaded),
            in_flight_batches=int(in_flight),
        )

    def quarantine(self, limit: int = 100, code: str | None = None) -> list[QuarantineEntry]:
        """The newest quarantined messages, newest first, optionally of one reason code."""
        where = "" if code is None else " WHERE code = ?"
        params: tuple[object, ...] = (limit,) if code is None else (code, limit)
        try:
            rows = self._db.execute(
                "SELECT id, received_at_ms, topic, device_id, code, reason, payload"
                f" FROM quarantine{where} ORDER BY id DESC LIMIT ?",
                params,
            ).fetchall()
        except sqlite3.Error as exc:
            raise BufferStoreError(f"cannot read the quarantine: {exc}") from exc
        return [_entry(row) for row in rows]


def _entry(row: tuple[int, int, str, str | None, str, str, bytes]) -> QuarantineEntry:
    id_, received, topic_name, device, code, reason, payload = row
    return QuarantineEntry(id_, received, topic_name, device, code, reason, bytes(payload))


def _judge_numbers(
    verdict: Accepted,
    numbered: dict[tuple[str, int, int], int],
    new_records: list[tuple[str, int, int, int]],
) -> Verdict:
    """Refuse a message with a record that claims the (boot, seq) of a different record
    received before (``conflicting_record``); otherwise remember its records' numbers.

    ``numbered`` holds the digests known by number and grows with each message taken,
    so a conflict within one group is found as well. The same record again (a
    retransmission in another envelope) is no conflict: it is forwarded, and the cloud
    stores it once.
    """
    device = verdict.device_id
    own: dict[tuple[int, int], int] = {}
    for index, record in enumerate(verdict.records):
        number = (record.boot, record.seq)
        before = own.get(number)
        if before is None:
            before = numbered.get((device, *number))
        if before is not None and before != record.digest:
            count = len(verdict.records)
            where = f"record {index} of {count}: " if count > 1 else ""
            reason = f"{CONFLICTING_RECORD}: {where}{conflict(record.boot, record.seq)}"
            return Refused(CONFLICTING_RECORD, reason, device)
        own.setdefault(number, record.digest)
    for (boot, seq), digest in own.items():
        if (device, boot, seq) not in numbered:
            numbered[(device, boot, seq)] = digest
            new_records.append((device, boot, seq, digest))
    return verdict


def _batch_readings(payload: bytes) -> int:
    """The readings of a device batch buffered before they were counted at commit."""
    try:
        return readings_in(decode(payload, "batch"))
    except DecodeError:
        # It passed the checks when it was committed; if a newer contract check refuses
        # it now, count the most a batch may hold so no request grows past the limit.
        return c.MAX_BATCH_ITEMS
