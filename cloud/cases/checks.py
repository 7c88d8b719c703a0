"""The cases' time-driven checks, run by the scheduler: deadlines coming and gone.

- ``reply_due_soon`` (warning): a pre-litigation suggestion's reply is due within
  ``reminder_days`` and has not come;
- ``reply_overdue`` (major): the deadline passed with no reply recorded: follow up or sue;
- ``announcement_ended`` (minor): a civil case's 30-day announcement is over: decide.

Each ends when the case moves on. One alert per case and cause; idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.alerts import service as alerts
from cloud.alerts.models import Alert
from cloud.cases import service
from cloud.cases.models import Case

CASE_SEVERITIES = {
    "reply_due_soon": "warning",
    "reply_overdue": "major",
    "announcement_ended": "minor",
}
CAUSES = tuple(CASE_SEVERITIES)


def case_key(case_id: int, cause: str) -> str:
    return f"case:{case_id}:{cause}"


@dataclass
class CaseReport:
    raised: int = 0
    ended: int = 0


class CaseChecks:
    def __init__(self, session: Session, now: datetime, zone: ZoneInfo, reminder_days: int) -> None:
        self._session = session
        self._now = now
        self._zone = zone
        self._reminder_days = reminder_days
        self.report = CaseReport()

    def run_all(self) -> CaseReport:
        today = self._now.astimezone(self._zone).date()
        waiting: dict[int, set[str]] = {}
        for case in self._session.scalars(
            select(Case).where(Case.step.in_(("suggestion", "announced")))
        ):
            step = service.open_deadline(self._session, case)
            if step is None or step.due is None:
                continue
            due = step.due
            wanted: set[str] = set()
            if case.step == "suggestion":
                if today > due:
                    wanted.add("reply_overdue")
                elif (due - today).days <= self._reminder_days:
                    wanted.add("reply_due_soon")
            elif today > due:
                wanted.add("announcement_ended")
            waiting[case.id] = wanted
            for cause in wanted:
                self._raise(case, cause, step.day, due)
        # Causes that no longer hold: the case moved on, or the next cause replaced it.
        for alert in self._session.scalars(
            select(Alert).where(
                Alert.cause.in_(CAUSES), Alert.cause_ended_at.is_(None), Alert.status != "resolved"
            )
        ):
            case_id = int(alert.subject_key.split(":")[1])
            if alert.cause not in waiting.get(case_id, set()) and alerts.end_cause(
                self._session, alert.subject_key, self._now, self._now, "the case moved on"
            ):
                self.report.ended += 1
        return self.report

    def _raise(self, case: Case, cause: str, since: date, due: date) -> None:
        key = case_key(case.id, cause)
        if alerts.open_alert(self._session, key) is not None:
            return
        texts = {
            "reply_due_soon": f"case {case.number}: {case.agency or 'the agency'}'s reply to the "
            f"suggestion of {since} is due on {due}",
            "reply_overdue": f"case {case.number}: no reply to the suggestion of {since} by "
            f"{due}: follow up or sue",
            "announcement_ended": f"case {case.number}: the announcement of {since} ended on "
            f"{due}: decide whether to sue",
        }
        moment = datetime.combine(due, time(0), self._zone).astimezone(UTC)
        _alert, new = alerts.raise_alert(
            self._session,
            alerts.AlertDraft(
                subject_key=key,
                cause=cause,
                severity=CASE_SEVERITIES[cause],
                summary=texts[cause],
                happened_at=min(moment, self._now),
                explanation={
                    "rule": {"cause": cause, "reminder_days": self._reminder_days},
                    "case": case.number,
                    "step": case.step,
                    "since": since.isoformat(),
                    "due": due.isoformat(),
                    "decision": texts[cause],
                },
                case_id=case.id,
            ),
            self._now,
        )
        if new:
            self.report.raised += 1
