"""The scheduler: every few seconds, the replica that holds the lease runs the checks.

A thread (the stores are synchronous), started and stopped with the app's lifespan.
Each job runs in its own transaction; a failing job is logged with its error and
retried on the next tick, never swallowed into silence.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import service as alerts
from cloud.alerts.changes import ALERTS_CHANGED
from cloud.cases.checks import CaseChecks
from cloud.rivers.checks import RiverChecks, RiverCheckSettings
from cloud.rivers.queries import Query
from cloud.scheduler import lease
from cloud.supervision.checks import Checks, CheckSettings
from cloud.supervision.evaluate import AlertPolicy
from cloud.web.changes import ChangeFeed

log = logging.getLogger(__name__)

LEASE_NAME = "supervision-checks"


@dataclass(frozen=True)
class SchedulerSettings:
    interval_s: float
    lease_ttl_s: float
    escalate_after_s: dict[str, int]
    checks: CheckSettings
    timezone: ZoneInfo
    policy: AlertPolicy
    rivers: RiverCheckSettings = field(default_factory=RiverCheckSettings)
    case_reminder_days: int = 7


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Scheduler:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        settings: SchedulerSettings,
        changes: ChangeFeed | None = None,
        holder: str | None = None,
        query: Query | None = None,
    ) -> None:
        self._sessions = sessions
        self._query = query  # InfluxDB, for the rivers' checks (None: they do not run)
        self._rivers_due: datetime | None = None
        self._clock = clock
        self._settings = settings
        self._changes = changes
        self.holder = holder or holder_name()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks_run = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            with self._sessions.begin() as session:
                lease.release(session, LEASE_NAME, self.holder)
        except Exception as exc:
            log.warning("scheduler lease not released: %s", exc)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed; retried on the next")
            self._stop.wait(self._settings.interval_s)

    def tick(self) -> bool:
        """Run the checks if this replica holds the lease; True when it ran them."""
        now = self._clock()
        with self._sessions.begin() as session:
            held = lease.acquire(session, LEASE_NAME, self.holder, now, self._settings.lease_ttl_s)
        if not held:
            return False
        s = self._settings
        with self._sessions.begin() as session:
            report = Checks(session, now, s.timezone, s.checks, s.policy).run_all()
            if self._changes is not None and (report.raised or report.ended):
                self._changes.publish(session, ALERTS_CHANGED, ["*"])
        if self._query is not None and (self._rivers_due is None or now >= self._rivers_due):
            self._rivers_due = now + timedelta(seconds=s.rivers.every_s)
            with self._sessions.begin() as session:
                rivers = RiverChecks(
                    session, now, self._query, s.rivers, s.policy.severities, s.timezone
                )
                found = rivers.run_all()
                if self._changes is not None and (found.raised or found.ended):
                    self._changes.publish(session, ALERTS_CHANGED, ["*"])
        with self._sessions.begin() as session:
            found_cases = CaseChecks(session, now, s.timezone, s.case_reminder_days).run_all()
            if self._changes is not None and (found_cases.raised or found_cases.ended):
                self._changes.publish(session, ALERTS_CHANGED, ["*"])
        with self._sessions.begin() as session:
            escalated = alerts.escalate_due(session, s.escalate_after_s, now)
            if self._changes is not None and escalated:
                self._changes.publish(session, ALERTS_CHANGED, [str(a.id) for a in escalated])
        self.ticks_run += 1
        return True
