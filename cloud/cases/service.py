"""The only writer of cases and their steps; in the caller's session."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.cases import workflow
from cloud.cases.models import Case, CaseRiver, CaseStep
from cloud.errors import ConflictError, InvalidRequestError, NotFoundError

CASE_NUMBER = re.compile(r"^[^\x00-\x1f\x7f/?#]{3,64}$")  # e.g. 沪奉检公益立〔2026〕12号  # noqa: RUF003


def open_clue(
    session: Session,
    number: str,
    variant: str,
    title: str,
    river_ids: Sequence[int],
    on: date,
    by_user: int | None,
    now: datetime,
    *,
    summary: str | None = None,
    agency: str | None = None,
    urgent: bool = False,
) -> Case:
    """A public-interest case from its clue (线索), about one or more rivers."""
    number = number.strip()
    if not CASE_NUMBER.match(number):
        raise InvalidRequestError(f"case number {number!r}: 3 to 64 printable characters, no / ? #")
    if variant not in workflow.VARIANTS:
        raise InvalidRequestError(
            f"variant {variant!r} is not one of {', '.join(workflow.VARIANTS)}"
        )
    if not title.strip():
        raise InvalidRequestError("a case needs a title")
    if not river_ids:
        raise InvalidRequestError("a river case names at least one river")
    if session.scalar(select(Case.id).where(Case.number == number)) is not None:
        raise ConflictError(f"case {number} exists")
    case = Case(
        number=number,
        kind="public_interest",
        variant=variant,
        title=title.strip(),
        summary=summary,
        agency=agency,
        urgent=urgent,
        step="clue",
        created_by=by_user,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    for river_id in sorted(set(river_ids)):
        session.add(CaseRiver(case_id=case.id, river_id=river_id))
    session.add(CaseStep(case_id=case.id, step="clue", day=on, by_user=by_user, recorded_at=now))
    session.flush()
    return case


def record_step(
    session: Session,
    case: Case,
    step: str,
    on: date,
    by_user: int | None,
    now: datetime,
    note: str | None = None,
) -> CaseStep:
    """The case moves on: checked against the workflow and the law's deadlines."""
    workflow.check_step(case.variant, case.step, step)
    steps = steps_of(session, case.id)
    last = steps[-1].day if steps else on
    if on < last:
        raise InvalidRequestError(f"{step} on {on} is before the case's last step, on {last}")
    if on > now.date():
        raise InvalidRequestError(f"{step} on {on} is in the future")
    if step == "suit":
        workflow.check_suit_allowed(case.variant, {s.step: s.day for s in steps}, on)
    deadline = workflow.deadline_of(step, on, case.urgent)
    row = CaseStep(
        case_id=case.id,
        step=step,
        day=on,
        due=deadline.due if deadline else None,
        note=note,
        by_user=by_user,
        recorded_at=now,
    )
    session.add(row)
    case.step = step
    case.updated_at = now
    session.flush()
    return row


def steps_of(session: Session, case_id: int) -> list[CaseStep]:
    return list(
        session.scalars(select(CaseStep).where(CaseStep.case_id == case_id).order_by(CaseStep.id))
    )


def rivers_of(session: Session, case_id: int) -> list[int]:
    return list(
        session.scalars(
            select(CaseRiver.river_id)
            .where(CaseRiver.case_id == case_id)
            .order_by(CaseRiver.river_id)
        )
    )


def get_case(session: Session, number: str) -> Case:
    case = session.scalar(select(Case).where(Case.number == number))
    if case is None:
        raise NotFoundError(f"no case {number}")
    return case


def open_deadline(session: Session, case: Case) -> CaseStep | None:
    """The step whose deadline the case waits on now (a suggestion not replied to, an
    announcement running), if any."""
    if case.step not in ("suggestion", "announced"):
        return None
    steps = steps_of(session, case.id)
    return steps[-1] if steps and steps[-1].due is not None else None
