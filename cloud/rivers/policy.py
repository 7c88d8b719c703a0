"""Who may see which rivers and river sites, applied as a filter of the query that lists them.

| role | sites |
| --- | --- |
| administrator, prosecutor | all |
| river_chief | the sites of the rivers they chair, and the sites given to them (``Grant.sites``) |
| lawyer, party | none |

Rivers: administrators and prosecutors all; a river chief the rivers they chair at any
level (``Grant.rivers``); nobody else. Patrol reports, problems and their photos follow
their river.

| who | may |
| --- | --- |
| river chief (of the river), prosecutor | file reports, report problems |
| who filed a report, prosecutor, administrator | add a note to it |
| prosecutor, administrator, a chief of a level above the assignee's | assign a problem |
| the assignee | fix it |
| who reported or assigned it, prosecutor | verify or reopen it |
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, exists, false, or_, select, true
from sqlalchemy.orm import Session

from cloud.errors import PermissionDeniedError
from cloud.identity.models import Role
from cloud.identity.policy import require, sees_everything, visible
from cloud.identity.principal import Grant, Principal
from cloud.rivers.models import (
    CHIEF_LEVELS,
    PatrolPhoto,
    PatrolReport,
    ProblemStep,
    River,
    RiverChief,
    RiverProblem,
    RiverSite,
    SiteAssignment,
    WaterRule,
)


def granted_sites(user_id: int) -> Select[Any]:
    """The ids of the sites a user watches: those given to them and those on the rivers
    they chair (the ``Grant.sites`` subquery)."""
    given = select(SiteAssignment.site_id).where(SiteAssignment.user_id == user_id)
    on_rivers = (
        select(RiverSite.id)
        .join(RiverChief, RiverChief.river_id == RiverSite.river_id)
        .where(RiverChief.user_id == user_id)
    )
    return select(given.union(on_rivers).subquery().c[0])


def granted_rivers(user_id: int) -> Select[Any]:
    """The ids of the rivers a user chairs (the ``Grant.rivers`` subquery)."""
    return select(RiverChief.river_id).where(RiverChief.user_id == user_id)


def may_list_rivers(principal: Principal) -> bool:
    return sees_everything(principal) or principal.role is Role.river_chief


def visible_rivers(principal: Principal) -> ColumnElement[bool]:
    """The condition on ``River`` rows this person may see."""
    if sees_everything(principal):
        return true()
    if principal.role is Role.river_chief:
        return River.id.in_(principal.granted(Grant.rivers).scalar_subquery())
    return false()


def visible_river(session: Session, principal: Principal, code: str) -> River:
    """The river, if this person may see it; NotFoundError as if it did not exist."""
    require(may_list_rivers(principal), "see rivers")
    query = select(River).where(River.code == code, visible_rivers(principal))
    return visible(session.scalar(query), f"river {code}")


def may_list_sites(principal: Principal) -> bool:
    return sees_everything(principal) or principal.role is Role.river_chief


def visible_sites(principal: Principal) -> ColumnElement[bool]:
    """The condition on ``RiverSite`` rows this person may see, for a query's WHERE."""
    if sees_everything(principal):
        return true()
    if principal.role is Role.river_chief:
        return RiverSite.id.in_(principal.granted(Grant.sites).scalar_subquery())
    return false()


def visible_site(session: Session, principal: Principal, site_id: str) -> RiverSite:
    """The site, if this person may see it; NotFoundError as if it did not exist."""
    require(may_list_sites(principal), "see river sites")
    query = select(RiverSite).where(RiverSite.id == site_id, visible_sites(principal))
    return visible(session.scalar(query), f"site {site_id}")


def may_set_rules(principal: Principal) -> bool:
    """Prosecutors, administrators and river chiefs set alert rules, each on what they see."""
    return may_list_sites(principal)


def visible_rules(principal: Principal) -> ColumnElement[bool]:
    """The condition on ``WaterRule`` rows: rules on sites or rivers this person sees."""
    if sees_everything(principal):
        return true()
    if principal.role is Role.river_chief:
        return or_(
            WaterRule.site_id.in_(principal.granted(Grant.sites).scalar_subquery()),
            WaterRule.river_id.in_(principal.granted(Grant.rivers).scalar_subquery()),
        )
    return false()


def visible_rule(session: Session, principal: Principal, rule_id: int) -> WaterRule:
    require(may_set_rules(principal), "see alert rules")
    query = select(WaterRule).where(WaterRule.id == rule_id, visible_rules(principal))
    return visible(session.scalar(query), f"rule {rule_id}")


# --- patrol reports, problems, their photos ---------------------------------------------


def _on_visible_rivers(principal: Principal, river_id: Any) -> ColumnElement[bool]:
    if sees_everything(principal):
        return true()
    if principal.role is Role.river_chief:
        return river_id.in_(principal.granted(Grant.rivers).scalar_subquery())  # type: ignore[no-any-return]
    return false()


def may_file_reports(principal: Principal) -> bool:
    """River chiefs (on the rivers they chair) and prosecutors file reports and problems."""
    return principal.role in (Role.river_chief, Role.prosecutor)


def visible_reports(principal: Principal) -> ColumnElement[bool]:
    """The condition on ``PatrolReport`` rows: reports on rivers this person sees."""
    return _on_visible_rivers(principal, PatrolReport.river_id)


def visible_report(session: Session, principal: Principal, report_id: int) -> PatrolReport:
    require(may_list_rivers(principal), "see patrol reports")
    query = select(PatrolReport).where(PatrolReport.id == report_id, visible_reports(principal))
    return visible(session.scalar(query), f"report {report_id}")


def may_note_report(principal: Principal, report: PatrolReport) -> bool:
    return sees_everything(principal) or report.filed_by == principal.user_id


def visible_problems(principal: Principal) -> ColumnElement[bool]:
    """The condition on ``RiverProblem`` rows: problems on rivers this person sees."""
    return _on_visible_rivers(principal, RiverProblem.river_id)


def visible_problem(
    session: Session, principal: Principal, problem_id: int, *, for_update: bool = False
) -> RiverProblem:
    """The problem, if this person may see it (locked for a step with ``for_update``)."""
    require(may_list_rivers(principal), "see river problems")
    query = select(RiverProblem).where(RiverProblem.id == problem_id, visible_problems(principal))
    if for_update:
        query = query.with_for_update()
    return visible(session.scalar(query), f"problem {problem_id}")


def visible_photo(session: Session, principal: Principal, sha256: str) -> PatrolPhoto:
    """A photo row holding this blob on a report or problem the person may see: who may
    see one thing that holds a blob may read the blob."""
    require(may_list_rivers(principal), "see photos")
    on_report = exists().where(PatrolReport.id == PatrolPhoto.report_id, visible_reports(principal))
    on_problem = exists().where(
        ProblemStep.id == PatrolPhoto.step_id,
        RiverProblem.id == ProblemStep.problem_id,
        visible_problems(principal),
    )
    query = (
        select(PatrolPhoto)
        .where(PatrolPhoto.sha256 == sha256, or_(on_report, on_problem))
        .order_by(PatrolPhoto.id)
        .limit(1)
    )
    return visible(session.scalar(query), f"blob {sha256}")


def _levels(session: Session, river_id: int, user_id: int) -> list[int]:
    """The ranks (0: district, 1: town, 2: village) a user chairs the river at."""
    found = session.scalars(
        select(RiverChief.level).where(
            RiverChief.river_id == river_id, RiverChief.user_id == user_id
        )
    )
    return sorted(CHIEF_LEVELS.index(level) for level in found)


def chief_levels(session: Session, river_id: int, user_id: int) -> list[str]:
    """The levels a user chairs the river at, highest first."""
    return [CHIEF_LEVELS[rank] for rank in _levels(session, river_id, user_id)]


def require_may_assign(
    session: Session, principal: Principal, problem: RiverProblem, assignee_id: int
) -> None:
    """PermissionDeniedError unless the person may give this problem to that chief: a
    prosecutor, an administrator, or a chief of the river at a level above one the
    assignee holds there (district > town > village)."""
    if sees_everything(principal):
        return
    mine = _levels(session, problem.river_id, principal.user_id)
    theirs = _levels(session, problem.river_id, assignee_id)
    if mine and theirs and mine[0] < theirs[-1]:
        return
    if not mine:
        raise PermissionDeniedError(
            "only a prosecutor, an administrator or a chief of the river may assign its problems"
        )
    raise PermissionDeniedError(
        f"a {CHIEF_LEVELS[mine[0]]} chief may not assign to a "
        f"{CHIEF_LEVELS[theirs[-1]] if theirs else 'river'} chief: a prosecutor, an "
        "administrator or a chief of a higher level of the river assigns"
    )


def require_may_fix(principal: Principal, problem: RiverProblem) -> None:
    if problem.assignee_id != principal.user_id:
        raise PermissionDeniedError(f"only the chief problem {problem.id} is assigned to fixes it")


def require_may_verify(
    session: Session, principal: Principal, problem: RiverProblem, what: str
) -> None:
    """Who reported or assigned the problem, or a prosecutor, verifies or reopens it."""
    if principal.role is Role.prosecutor or problem.reported_by == principal.user_id:
        return
    assigned = session.scalar(
        select(ProblemStep.id)
        .where(
            ProblemStep.problem_id == problem.id,
            ProblemStep.step == "assigned",
            ProblemStep.by_user == principal.user_id,
        )
        .limit(1)
    )
    if assigned is None:
        raise PermissionDeniedError(
            f"only who reported or assigned problem {problem.id}, or a prosecutor, may {what} it"
        )
