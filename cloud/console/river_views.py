"""What the rivers' pages read: rivers with their chiefs, sites and worst class now, a
river's site alerts, a site's condition. Every query is filtered by the rivers' and the
alerts' policies (``visible_rivers``, ``visible_sites``, ``visible_alerts``); a few
queries for a whole list, never one per river.

The conditions are what the scheduler's river checks last wrote (``SiteCondition``);
nothing here judges or classes a sample.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from cloud.alerts import policy as alerts_policy
from cloud.alerts.models import OPEN_STATUSES, Alert
from cloud.console.class_views import (
    CLASS_LABELS,
    WATERBODY_LABELS,
    class_key,
    class_label,
    reason_label,
)
from cloud.console.i18n import N_
from cloud.console.site_views import PARAMETER_LABELS
from cloud.identity.models import User
from cloud.identity.principal import Principal
from cloud.rivers import policy as rivers_policy
from cloud.rivers.models import CHIEF_LEVELS, River, RiverChief, RiverSite, SiteCondition

CHIEF_LEVEL_LABELS = {"district": N_("District"), "town": N_("Town"), "village": N_("Village")}
RECENT_ALERTS = timedelta(days=30)  # resolved alerts a river's page still lists
ALERTS_SHOWN = 50
COORDINATE_DIGITS = 5  # about a metre: what a course on a console map needs


def class_context() -> dict[str, Any]:
    """What the templates need to write classes, levels and parameters in words."""
    return {
        "class_labels": CLASS_LABELS,
        "class_label": class_label,
        "class_key": class_key,
        "reason_label": reason_label,
        "waterbody_labels": WATERBODY_LABELS,
        "chief_levels": CHIEF_LEVELS,
        "chief_level_labels": CHIEF_LEVEL_LABELS,
        "parameter_labels": PARAMETER_LABELS,
    }


@dataclass(frozen=True, slots=True)
class Chief:
    level: str  # district | town | village
    username: str
    since: datetime


@dataclass(frozen=True, slots=True)
class SiteState:
    """A site and its water as the checks last judged it (``condition`` None: not yet)."""

    site: RiverSite
    condition: SiteCondition | None

    @property
    def water_class(self) -> int | None:
        return self.condition.water_class if self.condition else None

    @property
    def deciding(self) -> list[str]:
        return list(json.loads(self.condition.deciding_json)) if self.condition else []

    @property
    def suspect(self) -> dict[str, list[str]]:
        return dict(json.loads(self.condition.suspect_json)) if self.condition else {}


@dataclass(frozen=True, slots=True)
class RiverLine:
    """A river with its chiefs (district first) and the sites on it this person sees."""

    river: River
    chiefs: list[Chief] = field(default_factory=list)
    sites: list[SiteState] = field(default_factory=list)

    @property
    def worst_class(self) -> int | None:
        """The worst class among its sites now (None: none judged yet)."""
        return max((s.water_class for s in self.sites if s.water_class is not None), default=None)

    def chiefs_at(self, level: str) -> list[Chief]:
        return [chief for chief in self.chiefs if chief.level == level]

    @property
    def course(self) -> dict[str, Any] | None:
        return course_of(self.river)


def course_of(river: River) -> dict[str, Any] | None:
    """The river's GeoJSON geometry, coordinates rounded to about a metre (None: not drawn)."""
    if not river.geometry_json:
        return None
    geometry: dict[str, Any] = json.loads(river.geometry_json)
    return {"type": geometry["type"], "coordinates": _rounded(geometry["coordinates"])}


def _rounded(coordinates: Any) -> Any:
    if coordinates and isinstance(coordinates[0], (int, float)):
        return [round(float(v), COORDINATE_DIGITS) for v in coordinates]
    return [_rounded(part) for part in coordinates]


def site_states(session: Session, visible: ColumnElement[bool]) -> list[SiteState]:
    """The sites ``visible`` admits, by name, each with its condition (one query)."""
    rows = session.execute(
        select(RiverSite, SiteCondition)
        .outerjoin(SiteCondition, SiteCondition.site_id == RiverSite.id)
        .where(visible)
        .order_by(RiverSite.name, RiverSite.id)
    ).all()
    return [SiteState(site, condition) for site, condition in rows]


def river_lines(session: Session, principal: Principal) -> list[RiverLine]:
    """Every river this person may see, by code, with chiefs and sites (three queries)."""
    rivers = session.scalars(
        select(River).where(rivers_policy.visible_rivers(principal)).order_by(River.code)
    ).all()
    return _lines(session, principal, list(rivers))


def river_line(session: Session, principal: Principal, code: str) -> RiverLine:
    """One river (NotFoundError if this person may not see it), its chiefs and sites."""
    river = rivers_policy.visible_river(session, principal, code)
    (line,) = _lines(session, principal, [river])
    return line


def _lines(session: Session, principal: Principal, rivers: Sequence[River]) -> list[RiverLine]:
    ids = [river.id for river in rivers]
    chiefs: dict[int, list[Chief]] = {river_id: [] for river_id in ids}
    order = {level: i for i, level in enumerate(CHIEF_LEVELS)}
    if ids:
        found = session.execute(
            select(RiverChief.river_id, RiverChief.level, User.username, RiverChief.since)
            .join(User, User.id == RiverChief.user_id)
            .where(RiverChief.river_id.in_(ids))
        ).all()
        for river_id, level, username, since in sorted(
            found, key=lambda row: (order.get(row[1], 99), row[2])
        ):
            chiefs[river_id].append(Chief(level, username, since))
    sites: dict[int, list[SiteState]] = {river_id: [] for river_id in ids}
    if ids:
        visible = rivers_policy.visible_sites(principal) & RiverSite.river_id.in_(ids)
        for state in site_states(session, visible):
            sites[int(state.site.river_id or 0)].append(state)
    return [RiverLine(river, chiefs[river.id], sites[river.id]) for river in rivers]


def river_of_site(session: Session, principal: Principal, site: RiverSite) -> River | None:
    """The site's river, if this person may see it (a site given to a chief directly may
    lie on a river they do not chair: then its name is shown, without a link)."""
    if site.river_id is None or not rivers_policy.may_list_rivers(principal):
        return None
    return session.scalar(
        select(River).where(River.id == site.river_id, rivers_policy.visible_rivers(principal))
    )


def condition_of(session: Session, site_id: str) -> SiteCondition | None:
    return session.get(SiteCondition, site_id)


def site_alerts(
    session: Session, principal: Principal, site_ids: Sequence[str], now: datetime
) -> list[Alert]:
    """The alerts of these sites this person may see: the open and acknowledged ones,
    then those resolved in the last 30 days, newest first; at most 50."""
    if not site_ids or not alerts_policy.may_see_alerts(principal):
        return []
    mine = (Alert.site_id.in_(list(site_ids)), alerts_policy.visible_alerts(principal))
    newest = (Alert.raised_at.desc(), Alert.id.desc())
    unresolved = list(
        session.scalars(
            select(Alert)
            .where(*mine, Alert.status.in_(OPEN_STATUSES))
            .order_by(*newest)
            .limit(ALERTS_SHOWN)
        )
    )
    resolved = list(
        session.scalars(
            select(Alert)
            .where(
                *mine, Alert.status.not_in(OPEN_STATUSES), Alert.resolved_at >= now - RECENT_ALERTS
            )
            .order_by(*newest)
            .limit(ALERTS_SHOWN - len(unresolved))
        )
    )
    return unresolved + resolved
