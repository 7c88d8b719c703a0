"""Who may see and move which cases, applied as a filter of the query that lists them.

| role | cases | record steps |
| --- | --- | --- |
| administrator, prosecutor | all | yes |
| river_chief | the public-interest cases of the rivers they chair (``Grant.cases``) | no |
| lawyer, party | none (their own cases come with the cases issue) | no |
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, false, select, true
from sqlalchemy.orm import Session

from cloud.cases.models import Case, CaseRiver
from cloud.identity.models import Role
from cloud.identity.policy import require, sees_everything, visible
from cloud.identity.principal import Grant, Principal
from cloud.rivers.models import RiverChief


def granted_cases(user_id: int) -> Select[Any]:
    """The ids of the cases of the rivers a user chairs (the ``Grant.cases`` subquery)."""
    return (
        select(CaseRiver.case_id)
        .join(RiverChief, RiverChief.river_id == CaseRiver.river_id)
        .where(RiverChief.user_id == user_id)
    )


def may_see_cases(principal: Principal) -> bool:
    return sees_everything(principal) or principal.role is Role.river_chief


def may_move_cases(principal: Principal) -> bool:
    return sees_everything(principal)


def visible_cases(principal: Principal) -> ColumnElement[bool]:
    if sees_everything(principal):
        return true()
    if principal.role is Role.river_chief:
        return Case.id.in_(principal.granted(Grant.cases).scalar_subquery())
    return false()


def visible_case(session: Session, principal: Principal, number: str) -> Case:
    require(may_see_cases(principal), "see cases")
    query = select(Case).where(Case.number == number, visible_cases(principal))
    return visible(session.scalar(query), f"case {number}")
