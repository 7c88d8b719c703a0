"""Who may see which river sites, applied as a filter of the query that lists them.

| role | sites |
| --- | --- |
| administrator, prosecutor | all |
| river_chief | the sites assigned to them (``Grant.sites``) |
| lawyer, party | none |
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, false, select, true
from sqlalchemy.orm import Session

from cloud.identity.models import Role
from cloud.identity.policy import require, sees_everything, visible
from cloud.identity.principal import Grant, Principal
from cloud.rivers.models import RiverSite, SiteAssignment


def granted_sites(user_id: int) -> Select[Any]:
    """The ids of the sites assigned to a user: the ``Grant.sites`` subquery."""
    return select(SiteAssignment.site_id).where(SiteAssignment.user_id == user_id)


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
