"""Patrol reports and river problems on real PostgreSQL, with their photos in the blob
store: a report with two photos served back byte for byte to who may see it and to no
one else; a photo of the wrong kind or too large refused with why, and nothing kept; a
problem reported, assigned, fixed, reopened, fixed and verified, who and when at each
step, a step out of order refused; who may assign by level; another chief's by URL 404."""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloud_support import Cloud, cloud_settings, database, running_cloud
from sqlalchemy import func, select

from cloud.identity.models import Role
from cloud.identity.service import add_user, get_user
from cloud.rivers import service as rivers
from cloud.rivers.models import PatrolPhoto, PatrolReport, RiverProblem, RiverSite
from fieldwatch_dev.local import InfluxServer

API = "/api/v1"


def png(width: int = 2, height: int = 2, seed: int = 0) -> bytes:
    """A real PNG (8-bit RGB), its pixels stored uncompressed: the size grows with it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + bytes((x * 37 + y * 11 + seed) % 256 for x in range(width * 3))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 0))
        + chunk(b"IEND", b"")
    )


def jpeg() -> bytes:
    """A real baseline JPEG of 8x8 grey pixels, made by hand (no imaging library here):
    one quantisation table, one-code Huffman tables, and one block whose DC difference
    (category 0) and end of block take one bit each, padded with ones."""

    def segment(marker: int, data: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(data) + 2) + data

    one_code = bytes([1] + [0] * 15)  # a single code of length 1
    return (
        b"\xff\xd8"
        + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + segment(0xDB, b"\x00" + bytes([1] * 64))
        + segment(0xC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00")
        + segment(0xC4, b"\x00" + one_code + b"\x00")  # DC: category 0
        + segment(0xC4, b"\x10" + one_code + b"\x00")  # AC: end of block
        + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
        + b"\x3f"
        + b"\xff\xd9"
    )


def with_rivers(cloud: Cloud) -> Cloud:
    """HP-001 (site-east on it): river-chief its town chief, chief-village its village
    chief; SZ-001 (site-west): chief-other its town chief."""
    now = cloud.clock()
    with database(cloud) as session:
        for name in ("chief-village", "chief-other"):
            add_user(session, name, "correct horse battery", Role.river_chief, now)
        for code, name, site_id, chiefs in (
            (
                "HP-001",
                "Huangpu",
                "site-east",
                (("river-chief", "town"), ("chief-village", "village")),
            ),
            ("SZ-001", "Suzhou Creek", "site-west", (("chief-other", "town"),)),
        ):
            river, _ = rivers.put_river(
                session, rivers.check_river(rivers.RiverInput(code, name)), now
            )
            for username, level in chiefs:
                rivers.appoint_chief(session, river, get_user(session, username), level, now)
            site = session.get(RiverSite, site_id)
            assert site is not None
            site.river_id = river.id
    return cloud


@pytest.fixture
def patrols(cloud: Cloud) -> Cloud:
    return with_rivers(cloud)


@pytest.fixture
def small_photos(pg_url: str, influxdb: InfluxServer, tmp_path: Path) -> Iterator[Cloud]:
    """A cloud that takes photos of at most 64 KiB."""
    settings = cloud_settings(pg_url, influxdb.url, tmp_path, photo_max_bytes="64KiB")
    for running in running_cloud(settings):
        yield with_rivers(running)


def file_report(
    cloud: Cloud,
    who: str,
    code: str = "HP-001",
    photos: list[tuple[str, bytes]] | None = None,
    **fields: Any,
) -> httpx.Response:
    data = {"text": "Floating rubbish by the east bridge; outfall running brown.", **fields}
    files = [
        ("photos", (name, content, "application/octet-stream")) for name, content in photos or []
    ]
    return cloud.client.post(
        f"{API}/rivers/{code}/reports", data=data, files=files or None, headers=cloud.login(who)
    )


def stored_blobs(cloud: Cloud) -> list[Path]:
    root = cloud.settings.blob_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_report_with_two_photos_is_served_back_to_who_may_see_it_and_no_one_else(
    patrols: Cloud,
) -> None:
    cloud = patrols
    photo_jpeg, photo_png = jpeg(), png(16, 16)
    made = file_report(
        cloud,
        "river-chief",
        photos=[("bank.jpg", photo_jpeg), ("outfall.png", photo_png)],
        lat="31.2304",
        lon="121.4737",
        site_id="site-east",
        patrolled_at="2026-01-01T08:30:00+08:00",
    )
    assert made.status_code == 201, made.text
    report = made.json()
    assert (report["river_code"], report["site_id"], report["filed_by"]) == (
        "HP-001",
        "site-east",
        "river-chief",
    )
    assert (report["lat"], report["lon"]) == (31.2304, 121.4737)
    assert report["patrolled_at"] == "2026-01-01T00:30:00Z"
    assert report["filed_at"] == cloud.clock().isoformat().replace("+00:00", "Z")
    assert [(p["sha256"], p["content_type"], p["size"]) for p in report["photos"]] == [
        (hashlib.sha256(photo_jpeg).hexdigest(), "image/jpeg", len(photo_jpeg)),
        (hashlib.sha256(photo_png).hexdigest(), "image/png", len(photo_png)),
    ]
    assert len(stored_blobs(cloud)) == 2

    for who in ("river-chief", "chief-village", "prosecutor", "administrator"):
        for photo, content in zip(report["photos"], (photo_jpeg, photo_png), strict=True):
            served = cloud.client.get(photo["url"], headers=cloud.login(who))
            assert served.status_code == 200, (who, served.text)
            assert served.content == content
            assert served.headers["content-type"] == photo["content_type"]
        seen = cloud.client.get(f"{API}/reports/{report['id']}", headers=cloud.login(who))
        assert seen.json() == report
    # Another river's chief: the photo, the report and the river's reports do not exist.
    other = cloud.login("chief-other")
    assert cloud.client.get(report["photos"][0]["url"], headers=other).status_code == 404
    assert cloud.client.get(f"{API}/reports/{report['id']}", headers=other).status_code == 404
    assert cloud.client.get(f"{API}/rivers/HP-001/reports", headers=other).status_code == 404
    assert cloud.client.get(f"{API}/rivers/SZ-001/reports", headers=other).json() == []
    # Lawyers and parties see no river's reports at all.
    for who in ("lawyer", "party"):
        assert (
            cloud.client.get(report["photos"][0]["url"], headers=cloud.login(who)).status_code
            == 403
        )
    # A blob nobody's report holds is not there, even to a prosecutor.
    unknown = hashlib.sha256(b"nothing").hexdigest()
    assert (
        cloud.client.get(f"{API}/blobs/{unknown}", headers=cloud.login("prosecutor")).status_code
        == 404
    )

    # A correction is a note beside the report, which stays as filed.
    cloud.clock.advance(600)
    noted = cloud.client.post(
        f"{API}/reports/{report['id']}/notes",
        json={"text": "Correction: the outfall is 50 m upstream of the bridge."},
        headers=cloud.login("river-chief"),
    )
    assert noted.status_code == 201, noted.text
    assert noted.json()["text"] == report["text"]
    assert [(n["by"], n["at"]) for n in noted.json()["notes"]] == [
        ("river-chief", cloud.clock().isoformat().replace("+00:00", "Z"))
    ]
    # Only who filed it (or a prosecutor, an administrator) adds notes to it.
    not_theirs = cloud.client.post(
        f"{API}/reports/{report['id']}/notes",
        json={"text": "not mine"},
        headers=cloud.login("chief-village"),
    )
    assert not_theirs.status_code == 403, not_theirs.text
    listed = cloud.client.get(
        f"{API}/rivers/HP-001/reports", headers=cloud.login("prosecutor")
    ).json()
    assert [r["id"] for r in listed] == [report["id"]]
    assert len(listed[0]["notes"]) == 1


def test_a_photo_of_the_wrong_kind_or_too_large_is_refused_with_why_and_nothing_is_kept(
    small_photos: Cloud,
) -> None:
    cloud = small_photos
    text_file = file_report(
        cloud,
        "river-chief",
        photos=[("bank.jpg", jpeg()), ("notes.jpg", b"Just some text, not a photo")],
    )
    assert text_file.status_code == 422, text_file.text
    assert text_file.json()["detail"] == (
        "photo 2 ('notes.jpg') is not a JPEG, PNG, WebP or HEIC image: its bytes begin 4a 75 73 74 20 73 6f 6d"
    )
    large = png(160, 160)  # 76,800 bytes of pixels, over 64 KiB
    assert len(large) > 64 * 1024
    too_large = file_report(
        cloud, "river-chief", photos=[("bank.jpg", jpeg()), ("wide.png", large)]
    )
    assert too_large.status_code == 422, too_large.text
    assert too_large.json()["detail"] == (
        f"photo 2 ('wide.png') is {len(large)} bytes: a photo may be at most 65536 bytes"
    )
    eleven = file_report(
        cloud, "river-chief", photos=[(f"p{i}.png", png(2, 2, i)) for i in range(11)]
    )
    assert eleven.status_code == 422, eleven.text
    assert eleven.json()["detail"] == "at most 10 photos, not 11"
    # Neither the good photo beside them nor the report was kept.
    assert stored_blobs(cloud) == []
    with database(cloud) as session:
        assert session.scalar(select(func.count()).select_from(PatrolReport)) == 0
        assert session.scalar(select(func.count()).select_from(PatrolPhoto)) == 0
    # Nor is anything kept when the rest of the report is wrong.
    for fields, reason in (
        ({"lat": "31.2"}, "lat and lon go together"),
        ({"site_id": "site-west"}, "site site-west is not on river HP-001"),
        ({"patrolled_at": "2030-01-01T00:00:00Z"}, "not in the future"),
    ):
        answer = file_report(cloud, "river-chief", photos=[("bank.jpg", jpeg())], **fields)
        assert answer.status_code == 422, answer.text
        assert reason in answer.json()["detail"]
    assert file_report(cloud, "river-chief", lat="95", lon="121").status_code == 422
    assert stored_blobs(cloud) == []
    assert file_report(cloud, "prosecutor", photos=[("ok.png", png())]).status_code == 201
    assert len(stored_blobs(cloud)) == 1
    # Lawyers, parties and administrators file no patrol reports.
    for who in ("lawyer", "party", "administrator"):
        assert file_report(cloud, who).status_code == 403


def step(cloud: Cloud, who: str, problem_id: int, action: str, **body: Any) -> httpx.Response:
    url = f"{API}/problems/{problem_id}/{action}"
    if action == "fix":
        files = [("photos", (n, c, "image/png")) for n, c in body.pop("photos", [])]
        return cloud.client.post(url, data=body, files=files or None, headers=cloud.login(who))
    return cloud.client.post(url, json=body, headers=cloud.login(who))


def refused(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["detail"])


def test_a_problems_whole_lifecycle_with_who_and_when_and_steps_out_of_order_refused(
    patrols: Cloud,
) -> None:
    cloud = patrols
    report = file_report(cloud, "river-chief").json()
    made = cloud.client.post(
        f"{API}/rivers/HP-001/problems",
        data={
            "description": "Outfall discharging brown water under the east bridge.",
            "report_id": str(report["id"]),
            "site_id": "site-east",
            "lat": "31.2304",
            "lon": "121.4737",
        },
        files=[("photos", ("outfall.jpg", jpeg(), "image/jpeg"))],
        headers=cloud.login("river-chief"),
    )
    assert made.status_code == 201, made.text
    problem = made.json()
    pid = problem["id"]
    assert (problem["status"], problem["report_id"], problem["reported_by"]) == (
        "reported",
        report["id"],
        "river-chief",
    )
    assert [s["step"] for s in problem["steps"]] == ["reported"]
    assert problem["steps"][0]["photos"][0]["content_type"] == "image/jpeg"

    def open_ids() -> list[int]:
        listed = cloud.client.get(
            f"{API}/rivers/HP-001/problems", headers=cloud.login("prosecutor")
        )
        return [p["id"] for p in listed.json()]

    assert open_ids() == [pid]
    # Out of order: nothing to verify, fix or reopen yet.
    assert refused(step(cloud, "prosecutor", pid, "verify"), 409) == (
        f"problem {pid} is reported, not fixed: it cannot be verified"
    )
    assert refused(step(cloud, "river-chief", pid, "fix", note="done"), 409) == (
        f"problem {pid} is reported, not assigned or reopened: it cannot be fixed"
    )
    assert refused(step(cloud, "prosecutor", pid, "reopen", reason="no"), 409) == (
        f"problem {pid} is reported, not fixed: it cannot be reopened"
    )

    # The town chief gives it to the village chief.
    cloud.clock.advance(60)
    assigned = step(
        cloud, "river-chief", pid, "assign", assignee="chief-village", note="please look"
    )
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["status"], assigned.json()["assignee"]) == ("assigned", "chief-village")
    # Only the assignee fixes it; the assignee does not verify their own fix.
    assert "only the chief" in refused(step(cloud, "river-chief", pid, "fix", note="done"), 403)
    cloud.clock.advance(3600)
    fixed = step(
        cloud,
        "chief-village",
        pid,
        "fix",
        note="Outfall blocked; owner told.",
        photos=[("after.png", png())],
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["status"] == "fixed"
    assert refused(step(cloud, "chief-village", pid, "fix", note="again"), 409) == (
        f"problem {pid} is fixed, not assigned or reopened: it cannot be fixed"
    )
    assert "only who reported or assigned" in refused(
        step(cloud, "chief-village", pid, "verify"), 403
    )
    # Its reporter finds it still running: reopened with why, back to the assignee.
    cloud.clock.advance(60)
    reopened = step(cloud, "river-chief", pid, "reopen", reason="Still brown this morning.")
    assert reopened.status_code == 200, reopened.text
    assert (reopened.json()["status"], reopened.json()["assignee"]) == ("reopened", "chief-village")
    assert refused(step(cloud, "prosecutor", pid, "verify"), 409) == (
        f"problem {pid} is reopened, not fixed: it cannot be verified"
    )
    cloud.clock.advance(60)
    assert step(cloud, "chief-village", pid, "fix", note="Pipe sealed.").status_code == 200
    assert open_ids() == [pid]  # fixed is still open until verified
    cloud.clock.advance(60)
    verified = step(cloud, "prosecutor", pid, "verify", note="Seen clear.")
    assert verified.status_code == 200, verified.text
    assert refused(step(cloud, "river-chief", pid, "reopen", reason="again"), 409) == (
        f"problem {pid} is verified, not fixed: it cannot be reopened"
    )
    assert refused(step(cloud, "prosecutor", pid, "assign", assignee="chief-village"), 409) == (
        f"problem {pid} is verified, not reported, assigned or reopened: it cannot be assigned"
    )

    detail = cloud.client.get(f"{API}/problems/{pid}", headers=cloud.login("chief-village")).json()
    assert detail["status"] == "verified"
    start = cloud.clock.now.timestamp() - 3600 - 4 * 60
    assert [
        (s["step"], s["by"], s["note"], s["assignee"], round(_ts(s["at"]) - start))
        for s in detail["steps"]
    ] == [
        ("reported", "river-chief", None, None, 0),
        ("assigned", "river-chief", "please look", "chief-village", 60),
        ("fixed", "chief-village", "Outfall blocked; owner told.", None, 3660),
        ("reopened", "river-chief", "Still brown this morning.", None, 3720),
        ("fixed", "chief-village", "Pipe sealed.", None, 3780),
        ("verified", "prosecutor", "Seen clear.", None, 3840),
    ]
    assert [len(s["photos"]) for s in detail["steps"]] == [1, 0, 1, 0, 0, 0]
    # The fix's photo is served to those who see the problem.
    fix_photo = detail["steps"][2]["photos"][0]["url"]
    assert cloud.client.get(fix_photo, headers=cloud.login("river-chief")).content == png()
    assert cloud.client.get(fix_photo, headers=cloud.login("chief-other")).status_code == 404
    assert open_ids() == []
    verified_ids = cloud.client.get(
        f"{API}/rivers/HP-001/problems",
        params={"status": "verified"},
        headers=cloud.login("prosecutor"),
    ).json()
    assert [p["id"] for p in verified_ids] == [pid]


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def new_problem(cloud: Cloud, who: str = "prosecutor", code: str = "HP-001") -> int:
    made = cloud.client.post(
        f"{API}/rivers/{code}/problems",
        data={"description": "Dead fish at the weir."},
        headers=cloud.login(who),
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def test_a_village_chief_cannot_assign_where_the_town_chief_can(patrols: Cloud) -> None:
    cloud = patrols
    pid = new_problem(cloud, "chief-village")
    assert refused(step(cloud, "chief-village", pid, "assign", assignee="chief-village"), 403) == (
        "a village chief may not assign to a village chief: a prosecutor, an administrator or a "
        "chief of a higher level of the river assigns"
    )
    assert "a town chief may not assign to a town chief" in refused(
        step(cloud, "river-chief", pid, "assign", assignee="river-chief"), 403
    )
    # Only a chief of the problem's river can be given it.
    assert refused(step(cloud, "prosecutor", pid, "assign", assignee="chief-other"), 422) == (
        "chief-other is not a chief of river HP-001"
    )
    assert refused(step(cloud, "prosecutor", pid, "assign", assignee="nobody"), 422) == (
        "nobody is not a chief of river HP-001"
    )
    assert step(cloud, "river-chief", pid, "assign", assignee="chief-village").status_code == 200
    # A prosecutor or an administrator gives it to any chief of the river, reassigning it.
    reassigned = step(cloud, "administrator", pid, "assign", assignee="river-chief")
    assert reassigned.status_code == 200, reassigned.text
    assert reassigned.json()["assignee"] == "river-chief"
    # Who assigned it may verify it (once fixed); the administrator did.
    assert step(cloud, "river-chief", pid, "fix", note="Removed.").status_code == 200
    assert step(cloud, "administrator", pid, "verify").status_code == 200


def test_another_chiefs_reports_and_problems_answer_404_by_url(patrols: Cloud) -> None:
    cloud = patrols
    report_id = file_report(cloud, "prosecutor", code="SZ-001", text="Suzhou Creek patrol.").json()[
        "id"
    ]
    pid = new_problem(cloud, "prosecutor", code="SZ-001")
    chief = cloud.login("river-chief")  # chairs HP-001 only
    for method, url, kwargs in (
        ("GET", f"/reports/{report_id}", {}),
        ("POST", f"/reports/{report_id}/notes", {"json": {"text": "mine now"}}),
        ("GET", f"/problems/{pid}", {}),
        ("POST", f"/problems/{pid}/assign", {"json": {"assignee": "river-chief"}}),
        ("POST", f"/problems/{pid}/verify", {"json": {}}),
        ("POST", f"/problems/{pid}/reopen", {"json": {"reason": "x"}}),
        ("POST", f"/problems/{pid}/fix", {"data": {"note": "x"}}),
        ("GET", "/rivers/SZ-001/problems", {}),
        ("GET", "/rivers/SZ-001/reports", {}),
        ("POST", "/rivers/SZ-001/problems", {"data": {"description": "x"}}),
        ("POST", "/rivers/SZ-001/reports", {"data": {"text": "x"}}),
        ("GET", f"/problems/{pid + 1000}", {}),
    ):
        answer = cloud.client.request(method, API + url, headers=chief, **kwargs)
        assert answer.status_code == 404, (method, url, answer.text)
    # A problem on their own river cannot name another river's report.
    linked = cloud.client.post(
        f"{API}/rivers/HP-001/problems",
        data={"description": "x", "report_id": str(report_id)},
        headers=chief,
    )
    assert linked.status_code == 404, linked.text
    assert cloud.client.get(f"{API}/rivers/HP-001/problems", headers=chief).json() == []
    other = cloud.login("chief-other")
    assert [
        p["id"] for p in cloud.client.get(f"{API}/rivers/SZ-001/problems", headers=other).json()
    ] == [pid]
    for who in ("lawyer", "party"):
        assert (
            cloud.client.get(f"{API}/problems/{pid}", headers=cloud.login(who)).status_code == 403
        )
    with database(cloud) as session:
        assert session.scalar(select(func.count()).select_from(RiverProblem)) == 1
