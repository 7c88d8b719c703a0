"""Supervision and alerts through the API, as a prosecutor's client uses them."""

from __future__ import annotations

from cloud_support import T0, Cloud, item

from core import contract as c
from core.messages import Event


def test_a_prosecutor_registers_a_person_and_a_zone_and_handles_an_alert(cloud: Cloud) -> None:
    auth = cloud.login("prosecutor")
    too_long = {
        "reference": "case-2026-077",
        "name": "Sun Qi",
        "measure": "residential_surveillance",
        "term_start": "2026-01-01",
        "term_end": "2026-08-01",
    }
    refused = cloud.client.post("/api/v1/persons", json=too_long, headers=auth)
    assert refused.status_code == 422
    assert "at most 6 months" in refused.json()["detail"]
    created = cloud.client.post(
        "/api/v1/persons", json={**too_long, "term_end": "2026-06-30"}, headers=auth
    )
    assert created.status_code == 201, created.text
    worn = cloud.client.post(
        "/api/v1/persons/case-2026-077/bracelet", json={"device_id": "br-000002"}, headers=auth
    )
    assert worn.json()["bracelet"] == "br-000002"
    bad_zone = {
        "name": "home",
        "rule": "inclusion",
        "shape": "polygon",
        "geometry": {"vertices": [[31.0, 121.0], [31.01, 121.01], [31.0, 121.01], [31.01, 121.0]]},
    }
    answer = cloud.client.post("/api/v1/persons/case-2026-077/zones", json=bad_zone, headers=auth)
    assert answer.status_code == 422  # a bow tie: self-intersecting
    good_zone = {
        **bad_zone,
        "geometry": {"vertices": [[31.0, 121.0], [31.01, 121.0], [31.01, 121.01]]},
    }
    zone = cloud.client.post("/api/v1/persons/case-2026-077/zones", json=good_zone, headers=auth)
    assert zone.status_code == 201, zone.text
    assert zone.json()["geometry"]["vertices"][1] == [31.01, 121.0]

    sos = cloud.send("gw-one", [item("br-000002", Event(1, 0, T0, c.EV_SOS))])
    assert sos.status_code == 200
    inbox = cloud.client.get("/api/v1/alerts", headers=auth).json()
    assert [(a["cause"], a["severity"], a["device_id"]) for a in inbox] == [
        ("sos", "critical", "br-000002")
    ]
    alert_id = inbox[0]["id"]
    assert (
        cloud.client.post(
            f"/api/v1/alerts/{alert_id}/resolve", json={"note": ""}, headers=auth
        ).status_code
        == 422
    )
    acked = cloud.client.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={}, headers=auth)
    assert acked.json()["status"] == "acknowledged"
    done = cloud.client.post(
        f"/api/v1/alerts/{alert_id}/resolve",
        json={"note": "called back: pressed by mistake"},
        headers=auth,
    ).json()
    assert [s["step"] for s in done["steps"]] == ["raised", "acknowledged", "resolved"]
    assert cloud.client.get("/api/v1/alerts", headers=auth).json() == []


def test_river_chiefs_see_no_persons_and_no_persons_alerts(cloud: Cloud) -> None:
    auth = cloud.login("river-chief")
    assert cloud.client.get("/api/v1/persons", headers=auth).status_code == 403
    # Their inbox holds their sites' alerts only: none here.
    assert cloud.client.get("/api/v1/alerts", headers=auth).json() == []


def test_only_an_approver_of_the_right_level_decides_a_trip(cloud: Cloud) -> None:
    auth = cloud.login("prosecutor")
    trip = cloud.client.post(
        "/api/v1/persons/case-2026-001/travel-permits",
        json={
            "destination": "Beijing",
            "starts_at": "2026-01-02T00:00:00Z",
            "ends_at": "2026-01-12T00:00:00Z",
        },
        headers=auth,
    ).json()
    assert trip["approval_level"] == "county"
    decision = cloud.client.post(
        f"/api/v1/travel-permits/{trip['id']}/decision", json={"approve": True}, headers=auth
    )
    assert decision.status_code == 403  # the test prosecutor has no approval level


def test_zones_that_would_not_fit_the_bracelet_are_refused_with_the_reason(cloud: Cloud) -> None:
    import math

    auth = cloud.login("prosecutor")

    def ring(n: int, radius_deg: float) -> list[list[float]]:
        return [
            [
                31.1 + radius_deg * math.sin(2 * math.pi * k / n),
                121.4 + radius_deg * math.cos(2 * math.pi * k / n),
            ]
            for k in range(n)
        ]

    for name, radius in (("county", 0.2), ("district", 0.3)):
        zone = {
            "name": name,
            "rule": "inclusion",
            "shape": "polygon",
            "geometry": {"vertices": ring(64, radius)},
        }
        answer = cloud.client.post("/api/v1/persons/case-2026-001/zones", json=zone, headers=auth)
        assert answer.status_code == 201, answer.text
    third = {
        "name": "home",
        "rule": "inclusion",
        "shape": "polygon",
        "geometry": {"vertices": ring(3, 0.01)},
    }
    refused = cloud.client.post("/api/v1/persons/case-2026-001/zones", json=third, headers=auth)
    assert refused.status_code == 422
    assert "128 polygon vertices" in refused.json()["detail"]
    circle = {
        "name": "home",
        "rule": "inclusion",
        "shape": "circle",
        "geometry": {"lat": 31.1, "lon": 121.4, "radius_m": 300},
    }
    assert (
        cloud.client.post(
            "/api/v1/persons/case-2026-001/zones", json=circle, headers=auth
        ).status_code
        == 201
    )
