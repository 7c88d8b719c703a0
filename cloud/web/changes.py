"""What changed, told to every open console of every replica (docs/console.md, "Live").

A writer publishes a change inside its transaction: ``feed.publish(session, topic, ids)``.
It is delivered only once that transaction commits, and never if it rolls back:

- on PostgreSQL as ``pg_notify`` on one channel, which PostgreSQL delivers at commit to
  every connection listening on it: each replica's feed holds one such connection, in a
  thread, so a fix ingested by one replica reaches consoles connected to any other;
- on SQLite (one process) by the session's ``after_commit`` event, in this process.

A change names a topic and ids, never data: each reader asks the database for the
current state of those ids, through its own policy, so nobody learns of what they may not
see. Subscribers are coalescing sets: a burst of 1,000 changes of one device is one id to
read, and a slow reader costs memory bounded by the number of ids, not of changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CHANNEL = "fieldwatch_changes"
# PostgreSQL refuses a payload of 8,000 bytes or more; ids go in chunks well under it.
_PAYLOAD_BYTES = 7000
_RECONNECT_S = (0.5, 1, 2, 5)


@dataclass(eq=False)  # each subscription is itself: hashed by identity
class Subscription:
    """One reader's pending changes: ids by topic, and a wake-up for its event loop."""

    loop: asyncio.AbstractEventLoop
    _pending: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def _add(self, topic: str, ids: Iterable[str]) -> None:
        with self._lock:
            self._pending[topic].update(ids)
        self.loop.call_soon_threadsafe(self._ready.set)

    async def wait(self, timeout_s: float) -> dict[str, set[str]]:
        """The changes since the last call, after waiting up to ``timeout_s`` for one."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        with self._lock:
            self._ready.clear()
            taken, self._pending = self._pending, defaultdict(set)
        return dict(taken)


class ChangeFeed:
    """Publishes changes in writers' transactions; hands them to this process's readers."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener: threading.Thread | None = None
        self.listening = threading.Event()  # set while the PostgreSQL listener is connected

    @property
    def across_replicas(self) -> bool:
        return self._postgres

    def publish(self, session: Session, topic: str, ids: Iterable[str]) -> None:
        """Tell readers, once ``session``'s transaction commits, that these ids changed."""
        chosen = sorted(set(ids))
        if not chosen:
            return
        if self._postgres:
            for payload in _payloads(topic, chosen):
                session.execute(select(func.pg_notify(CHANNEL, payload)))
            return

        def deliver(_session: Session) -> None:
            self._deliver(topic, chosen)

        event.listen(session, "after_commit", deliver, once=True)

    def subscribe(self) -> Subscription:
        """A reader's subscription, on the running event loop; ``unsubscribe`` it after."""
        subscription = Subscription(asyncio.get_running_loop())
        with self._lock:
            self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)

    def _deliver(self, topic: str, ids: Iterable[str]) -> None:
        chosen = list(ids)
        with self._lock:
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            try:
                subscription._add(topic, chosen)
            except RuntimeError:  # its event loop has closed
                self.unsubscribe(subscription)

    def start(self) -> None:
        """On PostgreSQL, listen for every replica's changes (a thread of its own)."""
        if not self._postgres or self._listener is not None:
            return
        self._listener = threading.Thread(target=self._listen, name="change-feed", daemon=True)
        self._listener.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.join(timeout=5)

    def _listen(self) -> None:
        url = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        failures = 0
        while not self._stopping.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    failures = 0
                    while not self._stopping.is_set():
                        for notice in connection.notifies(timeout=1.0):
                            self._received(notice.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                wait_s = _RECONNECT_S[min(failures, len(_RECONNECT_S) - 1)]
                failures += 1
                log.warning("change feed: listener lost (%s); again in %.1f s", exc, wait_s)
                self._stopping.wait(wait_s)
        self.listening.clear()

    def _received(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            topic, ids = str(message["topic"]), [str(i) for i in message["ids"]]
        except (ValueError, KeyError, TypeError):
            log.warning("change feed: a notification that is not ours on %s", CHANNEL)
            return
        self._deliver(topic, ids)


def _payloads(topic: str, ids: list[str]) -> Iterable[str]:
    """``{"topic": ..., "ids": [...]}`` texts, each under PostgreSQL's payload limit."""
    chunk: list[str] = []
    size = 0
    for item in ids:
        if chunk and size + len(item) + 4 > _PAYLOAD_BYTES:
            yield json.dumps({"topic": topic, "ids": chunk})
            chunk, size = [], 0
        chunk.append(item)
        size += len(item) + 4
    if chunk:
        yield json.dumps({"topic": topic, "ids": chunk})
