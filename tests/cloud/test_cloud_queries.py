"""The read API: device list and detail, track, water series, latest per site; who sees what."""

from __future__ import annotations

import pytest
from cloud_support import T0, Cloud, fix, item, water

pytestmark = pytest.mark.services

HOUR = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"}


@pytest.fixture
def filled(cloud: Cloud) -> Cloud:
    track = [
        item("br-000001", fix(1, s, T0 + s * 15, lat_e7=311_000_000 + s * 1000)) for s in range(8)
    ]
    east = [
        item("rs-000001", water(1, s, T0 + s * 600, ammonia_mg_l=0.1 * (s + 1))) for s in range(4)
    ]
    west = [item("rs-000002", water(1, 0, T0 + 60, ammonia_mg_l=1.7, ph=6.5))]
    assert cloud.send("gw-one", track + east + west).status_code == 200
    return cloud


def test_track_every_fix_and_downsampled(filled: Cloud) -> None:
    headers = filled.login("prosecutor")
    raw = filled.client.get("/api/v1/devices/br-000001/track", params=HOUR, headers=headers)
    assert raw.status_code == 200, raw.text
    points = raw.json()["points"]
    assert [p["seq"] for p in points] == list(range(8))
    assert points[3]["lat"] == pytest.approx(31.1003)
    assert points[0]["time"].startswith("2026-01-01T00:00:00")
    coarse = filled.client.get(
        "/api/v1/devices/br-000001/track", params={**HOUR, "every_s": 60}, headers=headers
    ).json()
    assert coarse["every_s"] == 60
    assert [p["lat"] for p in coarse["points"]] == pytest.approx(
        [31.1, 31.1004]
    )  # first per minute
    assert all(p["seq"] is None for p in coarse["points"])


def test_water_series_raw_and_aggregated(filled: Cloud) -> None:
    headers = filled.login("river-chief")
    url = "/api/v1/sites/site-east/water"
    raw = filled.client.get(url, params={**HOUR, "parameter": "ammonia_nitrogen"}, headers=headers)
    assert raw.status_code == 200, raw.text
    assert [p["values"]["ammonia_nitrogen"] for p in raw.json()["points"]] == pytest.approx(
        [0.1, 0.2, 0.3, 0.4]
    )
    per_half_hour = filled.client.get(
        url,
        params={
            **HOUR,
            "parameter": ["ammonia_nitrogen", "ph"],
            "every_s": 1800,
            "aggregate": "max",
        },
        headers=headers,
    ).json()
    assert per_half_hour["aggregate"] == "max"
    assert [p["values"] for p in per_half_hour["points"]] == [
        {"ammonia_nitrogen": pytest.approx(0.3), "ph": pytest.approx(7.2)},
        {"ammonia_nitrogen": pytest.approx(0.4), "ph": pytest.approx(7.2)},
    ]


def test_latest_value_of_every_site(filled: Cloud) -> None:
    latest = filled.client.get("/api/v1/sites/latest", headers=filled.login("prosecutor"))
    assert latest.status_code == 200, latest.text
    by_site = {s["site_id"]: s for s in latest.json()}
    assert by_site["site-east"]["values"]["ammonia_nitrogen"] == pytest.approx(0.4)
    assert by_site["site-east"]["time"].startswith("2026-01-01T00:30:00")
    assert by_site["site-west"]["values"] == {"ammonia_nitrogen": 1.7, "ph": 6.5}


def test_device_list_and_detail_show_latest_state(filled: Cloud) -> None:
    headers = filled.login("administrator")
    listed = filled.client.get("/api/v1/devices", headers=headers).json()
    assert [d["id"] for d in listed] == [
        "br-000001",
        "br-000002",
        "br-000009",
        "rs-000001",
        "rs-000002",
    ]
    detail = filled.client.get("/api/v1/devices/br-000001", headers=headers).json()
    assert detail["last_seq"] == 7
    assert detail["last_lat"] == pytest.approx(31.1007)
    assert detail["last_record_ts"] == T0 + 7 * 15
    stations = filled.client.get(
        "/api/v1/devices", params={"kind": "river-station"}, headers=headers
    )
    assert [d["id"] for d in stations.json()] == ["rs-000001", "rs-000002"]


def test_a_river_chief_sees_only_their_sites(filled: Cloud) -> None:
    headers = filled.login("river-chief")
    sites = filled.client.get("/api/v1/sites", headers=headers).json()
    assert [s["id"] for s in sites] == ["site-east"]
    assert [
        s["site_id"] for s in filled.client.get("/api/v1/sites/latest", headers=headers).json()
    ] == ["site-east"]
    assert [d["id"] for d in filled.client.get("/api/v1/devices", headers=headers).json()] == [
        "rs-000001"
    ]
    west = filled.client.get("/api/v1/sites/site-west/water", params=HOUR, headers=headers)
    assert west.status_code == 404
    assert filled.client.get("/api/v1/devices/rs-000002", headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("username", "path", "status"),
    [
        ("river-chief", "/api/v1/devices/br-000001/track", 403),
        ("lawyer", "/api/v1/devices/br-000001/track", 403),
        ("party", "/api/v1/devices", 403),
        ("lawyer", "/api/v1/sites/latest", 403),
        ("party", "/api/v1/sites/site-east/water", 403),
    ],
)
def test_a_person_without_the_right_role_is_refused(
    filled: Cloud, username: str, path: str, status: int
) -> None:
    response = filled.client.get(path, params=HOUR, headers=filled.login(username))
    assert response.status_code == status, response.text


def test_people_need_a_valid_token(filled: Cloud) -> None:
    assert filled.client.get("/api/v1/devices").status_code == 401
    gateway_token = {"Authorization": f"Bearer {filled.gateway_tokens['gw-one']}"}
    assert filled.client.get("/api/v1/devices", headers=gateway_token).status_code == 401
    wrong = filled.client.post(
        "/api/v1/auth/token", json={"username": "lawyer", "password": "nope"}
    )
    assert wrong.status_code == 401
    filled.clock.advance(filled.settings.access_token_ttl_s + 1)  # tokens expire
    headers = filled.login("administrator")
    filled.clock.advance(filled.settings.access_token_ttl_s + 1)
    assert filled.client.get("/api/v1/devices", headers=headers).status_code == 401
    me = filled.client.get("/api/v1/auth/me", headers=filled.login("river-chief")).json()
    assert me == {"username": "river-chief", "role": "river_chief", "site_ids": ["site-east"]}
