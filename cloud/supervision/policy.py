"""Who may see and manage supervised persons, applied as a filter of the queries.

| role | persons | manage (add, renew, bracelets, zones, trips, roll calls) |
| --- | --- | --- |
| administrator, prosecutor | all | yes |
| river_chief, lawyer, party | none | no |

Deciding a trip also needs the approver's level (``User.approval_level``): the service
(``decide_trip``) checks it against the trip's.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from cloud.identity.policy import require, sees_everything, visible
from cloud.identity.principal import Principal
from cloud.supervision.models import SupervisedPerson


def may_read_supervision(principal: Principal) -> bool:
    return sees_everything(principal)


def may_manage_supervision(principal: Principal) -> bool:
    return sees_everything(principal)


def visible_persons(principal: Principal) -> ColumnElement[bool]:
    """The condition on ``SupervisedPerson`` rows this person may see, for a WHERE."""
    return true() if may_read_supervision(principal) else false()


def visible_person(session: Session, principal: Principal, person_id: int) -> SupervisedPerson:
    """The person, if the caller may see them; NotFoundError as if they did not exist."""
    require(may_read_supervision(principal), "see supervised persons")
    query = select(SupervisedPerson).where(
        SupervisedPerson.id == person_id, visible_persons(principal)
    )
    return visible(session.scalar(query), f"supervised person {person_id}")
