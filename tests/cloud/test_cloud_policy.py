"""Who sees what is decided in the query that lists it: role rules, and a river chief among
1,000 devices who gets only their own stations, in a number of statements that does not
grow with the fleet."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cloud_support import PASSWORD, Cloud
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from cloud.db.engine import make_engine, make_sessions
from cloud.db.migrate import upgrade
from cloud.fleet import policy as fleet_policy
from cloud.fleet.models import Device
from cloud.fleet.service import add_device, add_gateway
from cloud.identity.models import Role
from cloud.identity.principal import Grant, Principal, principal_of
from cloud.identity.service import add_user, get_user
from cloud.rivers import policy as rivers_policy
from cloud.rivers.models import RiverSite
from cloud.rivers.service import add_site, assign_site
from core.receiver import DeviceKind

NOW = datetime(2026, 12, 1, tzinfo=UTC)
GRANTS = {Grant.sites: rivers_policy.granted_sites}


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'policy.sqlite3'}")
    upgrade(engine)
    with make_sessions(engine).begin() as session:
        add_gateway(session, "gw-one", NOW)
        for site in ("site-a", "site-b", "site-c"):
            add_site(session, site, site, "Huangpu")
            add_device(session, f"rs-{site}", DeviceKind.river_station, "gw-one", NOW, site_id=site)
        add_device(session, "br-000001", DeviceKind.bracelet, "gw-one", NOW)
        for role in Role:
            add_user(session, role.value.replace("_", "-"), PASSWORD, role, NOW)
        assign_site(session, "river-chief", "site-a")
        assign_site(session, "river-chief", "site-c")
        yield session
    engine.dispose()


def principal(session: Session, role: Role) -> Principal:
    user = get_user(session, role.value.replace("_", "-"))
    return principal_of(user.id, user.username, role, GRANTS)


@pytest.mark.parametrize(
    ("role", "devices", "sites"),
    [
        (Role.administrator, {"br-000001", "rs-site-a", "rs-site-b", "rs-site-c"}, {"a", "b", "c"}),
        (Role.prosecutor, {"br-000001", "rs-site-a", "rs-site-b", "rs-site-c"}, {"a", "b", "c"}),
        (Role.river_chief, {"rs-site-a", "rs-site-c"}, {"a", "c"}),
        (Role.lawyer, set(), set()),
        (Role.party, set(), set()),
    ],
)
def test_each_role_sees_what_its_policy_says(
    session: Session, role: Role, devices: set[str], sites: set[str]
) -> None:
    someone = principal(session, role)
    seen = session.scalars(select(Device.id).where(fleet_policy.visible_devices(someone)))
    assert set(seen) == devices
    seen_sites = session.scalars(select(RiverSite.id).where(rivers_policy.visible_sites(someone)))
    assert {s.removeprefix("site-") for s in seen_sites} == sites
    assert fleet_policy.may_read_tracks(someone) is (role in (Role.administrator, Role.prosecutor))


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine of this process runs meanwhile."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", note)


def add_fleet(cloud: Cloud, bracelets: int, stations_per_site: int, sites: list[str]) -> None:
    engine = make_engine(str(cloud.settings.database_url))
    with make_sessions(engine).begin() as session:
        for number in range(bracelets):
            add_device(session, f"br-{100000 + number}", DeviceKind.bracelet, "gw-one", NOW)
        for site in sites:
            if session.get(RiverSite, site) is None:
                add_site(session, site, site, "Huangpu")
            for number in range(stations_per_site):
                device_id = f"rs-{site}-{number}"
                add_device(
                    session, device_id, DeviceKind.river_station, "gw-two", NOW, site_id=site
                )
        assign_site(session, "river-chief", "site-far-1")
    engine.dispose()


@pytest.mark.services
@pytest.mark.slow
def test_a_river_chief_among_1000_devices_lists_only_their_stations_in_bounded_queries(
    cloud: Cloud,
) -> None:
    chief, admin = cloud.login("river-chief"), cloud.login("administrator")
    with statements() as small:
        assert cloud.client.get("/api/v1/devices", headers=chief).status_code == 200
    with statements() as small_admin:
        few = cloud.client.get("/api/v1/devices", headers=admin).json()

    # 960 bracelets and 40 stations on 4 other sites, one of which the chief is given.
    add_fleet(cloud, 960, 10, ["site-far-1", "site-far-2", "site-far-3", "site-far-4"])

    with statements() as large:
        listed = cloud.client.get("/api/v1/devices", headers=chief)
    assert listed.status_code == 200
    ids = [device["id"] for device in listed.json()]
    # Their populated site (site-east: rs-000001) and the ten of the site now given to them.
    assert ids == ["rs-000001", *sorted(f"rs-site-far-1-{n}" for n in range(10))]
    assert all(device["kind"] == "river-station" for device in listed.json())
    with statements() as large_admin:
        everything = cloud.client.get("/api/v1/devices", headers=admin).json()
    assert len(everything) == len(few) + 1000

    # The statements of a list do not grow with the fleet: the filter is in the query.
    assert len(large) == len(small) <= 3, large
    assert len(large_admin) == len(small_admin) <= 3, large_admin
    device_query = [s for s in large if "FROM devices" in s]
    assert len(device_query) == 1
    assert "site_assignments" in device_query[0]  # the chief's grant, as a subquery

    # A device of another site is not told to exist; the chief's own is.
    other = cloud.client.get("/api/v1/devices/rs-site-far-2-0", headers=chief)
    assert other.status_code == 404
    assert cloud.client.get("/api/v1/devices/rs-site-far-1-0", headers=chief).status_code == 200
    me = cloud.client.get("/api/v1/auth/me", headers=chief).json()
    assert me["site_ids"] == ["site-east", "site-far-1"]
