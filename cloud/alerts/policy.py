"""Who may see and handle which alerts, applied as a filter of the query that lists them.

| role | alerts | acknowledge, resolve |
| --- | --- | --- |
| administrator, prosecutor | every alert: persons', gateways' and sites' | yes |
| river_chief | the alerts of the sites they watch (``Grant.sites``) and of the cases of their rivers (``Grant.cases``) | yes, those |
| lawyer, party | none | no |
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from cloud.alerts.models import Alert
from cloud.identity.models import Role
from cloud.identity.policy import require, sees_everything, visible
from cloud.identity.principal import Grant, Principal


def may_see_alerts(principal: Principal) -> bool:
    """Whether this person has an inbox at all (the pages answer 403 otherwise)."""
    return sees_everything(principal) or principal.role is Role.river_chief


def may_handle_alerts(principal: Principal) -> bool:
    """Whether this person may acknowledge and resolve the alerts they see."""
    return may_see_alerts(principal)


def visible_alerts(principal: Principal) -> ColumnElement[bool]:
    """The condition on ``Alert`` rows this person may see, for a query's WHERE."""
    if sees_everything(principal):
        return true()
    if principal.role is Role.river_chief:
        return or_(
            Alert.site_id.in_(principal.granted(Grant.sites).scalar_subquery()),
            Alert.case_id.in_(principal.granted(Grant.cases).scalar_subquery()),
        )
    return false()


def visible_alert(session: Session, principal: Principal, alert_id: int) -> Alert:
    """The alert, if this person may see it; NotFoundError as if it did not exist."""
    require(may_see_alerts(principal), "see alerts")
    query = select(Alert).where(Alert.id == alert_id, visible_alerts(principal))
    return visible(session.scalar(query), f"alert {alert_id}")
