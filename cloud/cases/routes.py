"""Public-interest cases of rivers: list, open from a clue, move through the workflow,
statistics per river and for the district."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.cases import policy, service, workflow
from cloud.cases.models import Case, CaseRiver, CaseStep
from cloud.cases.schemas import (
    CaseDetailOut,
    CaseIn,
    CaseOut,
    CaseStatisticsOut,
    RiverCaseStats,
    StepIn,
    StepOut,
)
from cloud.identity.deps import PrincipalDep
from cloud.identity.models import User
from cloud.identity.policy import require
from cloud.rivers import policy as rivers_policy
from cloud.rivers.models import River, RiverSite, SiteCondition
from cloud.web.deps import NowDep, SessionDep
from cloud.web.responses import error_responses
from core import waterclass

router = APIRouter(prefix="/cases", tags=["cases"])
CASE_NUMBER_EXAMPLE = "沪奉检公益立〔2026〕12号"  # noqa: RUF001  (the office's own brackets)
CaseNumber = Annotated[
    str, Path(pattern=service.CASE_NUMBER.pattern, description=f"e.g. {CASE_NUMBER_EXAMPLE}")
]
_ERRORS = error_responses(401, 403, 404, 422)
_WRITE = error_responses(401, 403, 404, 409, 422)


@router.get("", response_model=list[CaseOut], responses=_ERRORS)
def list_cases(principal: PrincipalDep, session: SessionDep) -> list[CaseOut]:
    """The cases the caller may see (a river chief: those of the rivers they chair)."""
    require(policy.may_see_cases(principal), "see cases")
    found = session.scalars(
        select(Case).where(policy.visible_cases(principal)).order_by(Case.created_at, Case.id)
    ).all()
    return [_out(session, case) for case in found]


@router.post("", response_model=CaseDetailOut, status_code=201, responses=_WRITE)
def open_case(
    body: CaseIn, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> CaseDetailOut:
    """A public-interest case from its clue, about rivers the caller sees."""
    require(policy.may_move_cases(principal), "open cases")
    rivers = [rivers_policy.visible_river(session, principal, code) for code in body.rivers]
    case = service.open_clue(
        session,
        body.number,
        body.variant,
        body.title,
        [r.id for r in rivers],
        body.clue_on,
        principal.user_id,
        now,
        summary=body.summary,
        agency=body.agency,
        urgent=body.urgent,
    )
    session.commit()
    return _detail(session, case)


@router.get("/statistics", response_model=CaseStatisticsOut, responses=_ERRORS)
def statistics(principal: PrincipalDep, session: SessionDep, now: NowDep) -> CaseStatisticsOut:
    """Per river the caller sees and for them all: cases, suggestions, replies on time,
    and the rivers by the worst class of their sites now."""
    require(policy.may_see_cases(principal), "see cases")
    rivers = session.scalars(
        select(River).where(rivers_policy.visible_rivers(principal)).order_by(River.code)
    ).all()
    rows = []
    classes: Counter[str] = Counter()
    for river in rivers:
        worst = session.scalar(
            select(SiteCondition.water_class)
            .join(RiverSite, RiverSite.id == SiteCondition.site_id)
            .where(RiverSite.river_id == river.id, SiteCondition.water_class.is_not(None))
            .order_by(SiteCondition.water_class.desc())
            .limit(1)
        )
        name = waterclass.CLASS_NAMES.get(worst) if worst is not None else None
        classes[name or "not judged"] += 1
        rows.append(_river_stats(session, river, name, now.date()))
    total = RiverCaseStats(
        river="*",
        name="all rivers shown",
        worst_class=None,
        **{
            key: sum(getattr(r, key) for r in rows)
            for key in (
                "cases",
                "open_cases",
                "suggestions",
                "replies",
                "replies_on_time",
                "overdue_now",
            )
        },
    )
    return CaseStatisticsOut(
        rivers=rows, total=total, rivers_by_class=dict(sorted(classes.items()))
    )


@router.get("/{number}", response_model=CaseDetailOut, responses=_ERRORS)
def case_detail(number: CaseNumber, principal: PrincipalDep, session: SessionDep) -> CaseDetailOut:
    """A case with every step, who recorded it and when, and the deadline it waits on."""
    return _detail(session, policy.visible_case(session, principal, number))


@router.post("/{number}/steps", response_model=CaseDetailOut, responses=_WRITE)
def add_step(
    number: CaseNumber, body: StepIn, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> CaseDetailOut:
    """The case moves on: refused (409) when the workflow or the law's deadlines forbid it."""
    require(policy.may_move_cases(principal), "record case steps")
    case = policy.visible_case(session, principal, number)
    service.record_step(session, case, body.step, body.on, principal.user_id, now, body.note)
    session.commit()
    return _detail(session, case)


def _river_stats(session: Session, river: River, worst: str | None, today: date) -> RiverCaseStats:
    cases = session.scalars(
        select(Case)
        .join(CaseRiver, CaseRiver.case_id == Case.id)
        .where(CaseRiver.river_id == river.id)
    ).all()
    suggestions = replies = on_time = overdue = 0
    for case in cases:
        steps = service.steps_of(session, case.id)
        issued = next((s for s in steps if s.step == "suggestion"), None)
        if issued is None:
            continue
        suggestions += 1
        reply = next((s for s in steps if s.step == "replied"), None)
        if reply is not None:
            replies += 1
            on_time += int(issued.due is not None and reply.day <= issued.due)
        elif case.step == "suggestion" and issued.due is not None and today > issued.due:
            overdue += 1
    return RiverCaseStats(
        river=river.code,
        name=river.name,
        worst_class=worst,
        cases=len(cases),
        open_cases=sum(1 for c in cases if c.step != "closed"),
        suggestions=suggestions,
        replies=replies,
        replies_on_time=on_time,
        overdue_now=overdue,
    )


def _out(session: Session, case: Case, kind: type[CaseOut] = CaseOut, **extra: object) -> CaseOut:
    codes = list(
        session.scalars(
            select(River.code)
            .join(CaseRiver, CaseRiver.river_id == River.id)
            .where(CaseRiver.case_id == case.id)
            .order_by(River.code)
        )
    )
    waiting = service.open_deadline(session, case)
    return kind(
        number=case.number,
        kind=case.kind,
        variant=case.variant,
        title=case.title,
        agency=case.agency,
        urgent=case.urgent,
        step=case.step,
        next_steps=list(workflow.allowed_after(case.variant, case.step)),
        rivers=codes,
        due=waiting.due if waiting is not None else None,
        created_at=case.created_at,
        **extra,
    )


def _detail(session: Session, case: Case) -> CaseDetailOut:
    steps = service.steps_of(session, case.id)
    users = {
        u.id: u.username
        for u in session.scalars(
            select(User).where(User.id.in_({s.by_user for s in steps if s.by_user}))
        )
    }
    out = _out(
        session,
        case,
        CaseDetailOut,
        summary=case.summary,
        steps=[_step_out(s, users) for s in steps],
    )
    assert isinstance(out, CaseDetailOut)
    return out


def _step_out(step: CaseStep, users: dict[int, str]) -> StepOut:
    return StepOut(
        step=step.step,
        on=step.day,
        due=step.due,
        note=step.note,
        by=users.get(step.by_user or 0),
        recorded_at=step.recorded_at,
    )
