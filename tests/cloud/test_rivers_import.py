"""Rivers and sites: imported from GeoJSON and CSV on a real PostgreSQL, a bad file
refused whole with every problem listed, a district's 4,041 rivers, and a river chief
who sees the sites of the rivers they chair and nothing else."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cloud_support import PASSWORD
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.db.engine import make_engine, make_sessions
from cloud.db.migrate import upgrade
from cloud.identity.models import Role
from cloud.identity.principal import Grant, principal_of
from cloud.identity.service import add_user, get_user
from cloud.rivers import imports
from cloud.rivers import policy as rivers_policy
from cloud.rivers import service as rivers
from cloud.rivers.models import River, RiverChief, RiverSite

NOW = datetime(2026, 12, 4, tzinfo=UTC)
GRANTS = {Grant.sites: rivers_policy.granted_sites, Grant.rivers: rivers_policy.granted_rivers}


@pytest.fixture
def session(pg_url: str) -> Iterator[Session]:
    engine = make_engine(pg_url)
    upgrade(engine)
    with make_sessions(engine).begin() as session:
        for name in ("chief-li", "chief-wu"):
            add_user(session, name, PASSWORD, Role.river_chief, NOW)
        add_user(session, "prosecutor-zhang", PASSWORD, Role.prosecutor, NOW)
        yield session
    engine.dispose()


def feature(code: str, name: str, coords: Any = None, **properties: Any) -> dict[str, Any]:
    line = coords if coords is not None else [[121.40, 30.90], [121.45, 30.92], [121.50, 30.93]]
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, **properties},
        "geometry": {"type": "LineString", "coordinates": line},
    }


def collection(*features: dict[str, Any]) -> io.BytesIO:
    text = json.dumps({"type": "FeatureCollection", "features": list(features)})
    return io.BytesIO(text.encode())


SITES_CSV = """id,name,river_code,waterbody,target_class,lat,lon
pn-01,Punan at Nanqiao,FX-0001,river,III,30.91,121.45
pn-02,Punan at Zhuanghang,FX-0001,river,3,30.92,121.47
jh-01,Jinhui lake,FX-0003,lake,II,,
"""


def test_rivers_with_chiefs_and_sites_import_and_a_second_run_changes_nothing(
    session: Session,
) -> None:
    checked, problems = imports.read_rivers(
        collection(
            feature("FX-0001", "浦南运河", chiefs={"district": "chief-li", "town": ["chief-wu"]}),
            feature("FX-0002", "金汇港", chiefs={"village": "chief-wu"}),
            feature("FX-0003", "金汇湖"),
        )
    )
    assert problems == []
    report = imports.import_rivers(session, checked, problems, NOW)
    assert (report.created, report.updated, report.chiefs_appointed) == (3, 0, 3)
    river = rivers.get_river(session, "FX-0001")
    assert river.name == "浦南运河"
    assert (river.min_lon, river.min_lat, river.max_lon, river.max_lat) == (
        121.40,
        30.90,
        121.50,
        30.93,
    )
    assert [(lv, u) for lv, u, _ in rivers.chiefs_of(session, river.id)] == [
        ("district", "chief-li"),
        ("town", "chief-wu"),
    ]
    rows, site_problems = imports.read_sites(io.StringIO(SITES_CSV))
    assert site_problems == []
    sites = imports.import_sites(session, rows, site_problems)
    assert (sites.created, sites.updated) == (3, 0)
    lake = session.get(RiverSite, "jh-01")
    assert lake is not None
    assert (lake.waterbody, lake.target_class, lake.river, lake.lat) == ("lake", 2, "金汇湖", None)
    # The same files again: nothing changes, no chief appointed twice.
    again, _ = imports.read_rivers(
        collection(
            feature("FX-0001", "浦南运河", chiefs={"district": "chief-li", "town": ["chief-wu"]}),
            feature("FX-0002", "金汇港", chiefs={"village": "chief-wu"}),
            feature("FX-0003", "金汇湖"),
        )
    )
    second = imports.import_rivers(session, again, [], NOW)
    assert (second.created, second.updated, second.unchanged, second.chiefs_appointed) == (
        0,
        0,
        3,
        0,
    )
    assert session.scalar(select(func.count()).select_from(RiverChief)) == 3
    rows, _ = imports.read_sites(io.StringIO(SITES_CSV.replace("Jinhui lake", "Jinhui Lake")))
    third = imports.import_sites(session, rows, [])
    assert (third.created, third.updated, third.unchanged) == (0, 1, 2)


def test_a_bad_file_writes_nothing_and_names_every_problem(session: Session) -> None:
    stream = collection(
        feature("FX-0001", "good"),
        feature("FX 0002", "a space in the code"),
        feature("FX-0003", "latitude first", [[30.9, 121.4], [30.91, 121.45]]),
        feature("FX-0001", "the first code again"),
        feature("FX-0005", "a chief unknown", chiefs={"town": "chief-nobody"}),
        feature("FX-0006", "a prosecutor as chief", chiefs={"town": "prosecutor-zhang"}),
        feature("FX-0007", "a level unknown", chiefs={"county": "chief-li"}),
        {"type": "Feature", "properties": {"name": "no code"}, "geometry": None},
        feature("FX-0009", "one point", [[121.4, 30.9]]),
    )
    checked, problems = imports.read_rivers(stream)
    report = imports.import_rivers(session, checked, problems, NOW)
    assert not report.written
    assert session.scalar(select(func.count()).select_from(River)) == 0
    text = "\n".join(report.problems)
    for expected in (
        "feature 1: river code 'FX 0002'",
        "feature 2: river FX-0003: coordinates out of WGS-84 range",
        "feature 3: river FX-0001 is given twice (first in feature 0)",
        "river FX-0005: no user chief-nobody (town chief)",
        "river FX-0006: prosecutor-zhang is a prosecutor, not a river chief",
        "feature 6: river FX-0007: chief level 'county'",
        "feature 7: properties need a code and a name",
        "feature 8: river FX-0009: geometry is not valid GeoJSON",
    ):
        assert expected in text
    assert len(report.problems) == 8
    # Skipping the bad ones: the good go in, the bad are still listed.
    skipped = imports.import_rivers(session, checked, problems, NOW, skip_invalid=True)
    assert skipped.written
    assert sorted(session.scalars(select(River.code))) == ["FX-0001", "FX-0005", "FX-0006"]
    assert session.scalar(select(func.count()).select_from(RiverChief)) == 0


def test_a_bad_site_row_is_named_by_its_line(session: Session) -> None:
    text = """id,name,river_code,waterbody,target_class,lat,lon
ok-01,fine,,river,,,
Bad Id,x,,river,,,
sea-01,x,,sea,,,
cls-01,x,,river,VI,,
pos-01,x,,river,,31.2,
nor-01,x,FX-9999,river,,,
ok-01,again,,river,,,
"""
    rows, problems = imports.read_sites(io.StringIO(text))
    report = imports.import_sites(session, rows, problems)
    assert not report.written
    joined = "\n".join(report.problems)
    for expected in (
        "line 3: site id 'Bad Id'",
        "line 4: site sea-01: water body 'sea'",
        "line 5: target class 'VI'",
        "line 6: site pos-01: lat and lon go together",
        "line 8: site ok-01 is given twice (first on line 2)",
        "site nor-01: no river FX-9999",
    ):
        assert expected in joined
    header, _ = imports.read_sites(io.StringIO("code,name\nx,y\n"))
    assert header == []
    assert "missing id" in imports.read_sites(io.StringIO("code,name\nx,y\n"))[1][0]


def test_a_district_of_4041_rivers_imports_in_one_go(session: Session) -> None:
    features = [
        feature(
            f"FX-{n:04d}",
            f"river {n}",
            [
                [121.3 + 0.0001 * (n % 1000) + 0.001 * i, 30.8 + 0.0001 * (n // 1000)]
                for i in range(20)
            ],
        )
        for n in range(4041)
    ]
    done: list[int] = []
    checked, problems = imports.read_rivers(collection(*features))
    report = imports.import_rivers(
        session, checked, problems, NOW, progress=lambda n, total: done.append(n)
    )
    assert (report.created, report.problems) == (4041, [])
    assert done == [*range(500, 4041, 500), 4041]  # progress every 500 and at the end
    assert session.scalar(select(func.count()).select_from(River)) == 4041
    again = imports.import_rivers(session, *imports.read_rivers(collection(*features)), NOW)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4041)


def test_a_river_chief_sees_the_sites_of_the_rivers_they_chair_and_nothing_else(
    session: Session,
) -> None:
    checked, _ = imports.read_rivers(
        collection(
            feature("FX-0001", "one", chiefs={"town": "chief-li"}),
            feature("FX-0002", "two", chiefs={"village": "chief-wu"}),
        )
    )
    imports.import_rivers(session, checked, [], NOW)
    for site_id, code in (("one-a", "FX-0001"), ("one-b", "FX-0001"), ("two-a", "FX-0002")):
        rivers.add_site(session, site_id, site_id, "", river_code=code)
    rivers.add_site(session, "lone-a", "lone", "elsewhere")
    rivers.assign_site(session, "chief-wu", "lone-a")

    def seen(username: str) -> tuple[set[str], set[str]]:
        user = get_user(session, username)
        who = principal_of(user.id, user.username, Role(user.role), GRANTS)
        sites = session.scalars(select(RiverSite.id).where(rivers_policy.visible_sites(who)))
        codes = session.scalars(select(River.code).where(rivers_policy.visible_rivers(who)))
        return set(sites), set(codes)

    assert seen("chief-li") == ({"one-a", "one-b"}, {"FX-0001"})
    assert seen("chief-wu") == ({"two-a", "lone-a"}, {"FX-0002"})
    assert seen("prosecutor-zhang") == (
        {"one-a", "one-b", "two-a", "lone-a"},
        {"FX-0001", "FX-0002"},
    )
    li = get_user(session, "chief-li")
    with pytest.raises(Exception, match="river FX-0002"):
        rivers_policy.visible_river(
            session, principal_of(li.id, li.username, Role(li.role), GRANTS), "FX-0002"
        )
