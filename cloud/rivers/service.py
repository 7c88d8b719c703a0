"""The only writer of sites and river chiefs' assignments; in the caller's session."""

from __future__ import annotations

from sqlalchemy.orm import Session

from cloud.errors import ConflictError, InvalidRequestError, NotFoundError
from cloud.identity.models import Role
from cloud.identity.service import get_user
from cloud.rivers.models import RiverSite, SiteAssignment
from cloud.web.fields import check_id


def add_site(
    session: Session,
    site_id: str,
    name: str,
    river: str,
    lat: float | None = None,
    lon: float | None = None,
) -> RiverSite:
    """A new site; its place (WGS-84 degrees) may be given now or never."""
    check_id(site_id, "site")
    if session.get(RiverSite, site_id) is not None:
        raise ConflictError(f"site {site_id} exists")
    if (lat is None) != (lon is None):
        raise InvalidRequestError("a site's lat and lon go together: give both or neither")
    if lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidRequestError(f"({lat}, {lon}) is not a WGS-84 position")
    site = RiverSite(id=site_id, name=name, river=river, lat=lat, lon=lon)
    session.add(site)
    session.flush()
    return site


def get_site(session: Session, site_id: str) -> RiverSite:
    site = session.get(RiverSite, site_id)
    if site is None:
        raise NotFoundError(f"no site {site_id}")
    return site


def assign_site(session: Session, username: str, site_id: str) -> None:
    """Give a river chief a site to watch."""
    user = get_user(session, username)
    if user.role != Role.river_chief:
        raise InvalidRequestError(f"{username} is a {user.role}, not a river chief")
    get_site(session, site_id)
    if session.get(SiteAssignment, (user.id, site_id)) is None:
        session.add(SiteAssignment(user_id=user.id, site_id=site_id))
