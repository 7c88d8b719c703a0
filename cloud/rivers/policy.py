"""Who may see which rivers and river sites, applied as a filter of the query that lists them.

| role | sites |
| --- | --- |
| administrator, prosecutor | all |
| river_chief | the sites of the rivers they chair, and the sites given to them (``Grant.sites``) |
| lawyer, party | none |

Rivers: administrators and prosecutors all; a river chief the rivers they chair at any
level (``Grant.rivers``); nobody else.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, false, or_, select, true
from sqlalchemy.orm import Session

from cloud.identity.models import Role
from cloud.identity.policy import require, sees_everything, visible
from cloud.identity.principal import Grant, Principal
from cloud.rivers.models import River, RiverChief, RiverSite, SiteAssignment, WaterRule


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
