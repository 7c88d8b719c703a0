"""Zone geometry: core's verdicts by hand, and the cloud's vectorised ones equal to core's."""

from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.supervision import geometry
from core import geofence
from core.geofence import INSIDE, OUTSIDE, UNDECIDED

M = geofence.M_PER_DEG
SHANGHAI = (31.2, 121.5)


def offset(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    return lat + north_m / M, lon + east_m / (M * math.cos(math.radians(lat)))


def square(lat: float = 0.0, lon: float = 0.0, half_m: float = 100.0) -> geofence.Zone:
    corners = [(-half_m, -half_m), (-half_m, half_m), (half_m, half_m), (half_m, -half_m)]
    return geofence.polygon([offset(lat, lon, e, n) for e, n in corners])


def cloud_verdicts(zone: geofence.Zone, fixes: list[tuple[float, float, float]]) -> list[int]:
    """classify_fixes' verdicts (core's loop for a few fixes), equal to the vectorised path's."""
    lat, lon, acc = (np.array(column) for column in zip(*fixes, strict=True))
    shape = geometry.zone_shape(zone)
    few = geometry.classify_fixes(shape, lat, lon, acc).tolist()
    zone_index = np.zeros(len(fixes), dtype=np.intp)
    numpy = geometry.classify_pairs(geometry.zone_set([shape]), zone_index, lat, lon, acc)
    assert numpy.tolist() == few
    return few


# --- by hand --------------------------------------------------------------------------


def test_a_100_m_circle_by_hand() -> None:
    zone = geofence.circle(*SHANGHAI, 100.0)
    north_50 = offset(*SHANGHAI, 0, 50)
    east_150 = offset(*SHANGHAI, 150, 0)
    assert geofence.signed_distance_m(zone, *north_50) == pytest.approx(-50, abs=1e-6)
    assert geofence.signed_distance_m(zone, *east_150) == pytest.approx(50, abs=1e-6)
    fixes = [(*north_50, 40.0), (*north_50, 60.0), (*east_150, 40.0), (*east_150, 60.0)]
    expected = [INSIDE, UNDECIDED, OUTSIDE, UNDECIDED]
    assert [geofence.classify(zone, *fix) for fix in fixes] == expected
    assert cloud_verdicts(zone, fixes) == expected


def test_a_fix_whose_accuracy_circle_just_fits_is_decided() -> None:
    zone = geofence.circle(*SHANGHAI, 100.0)
    fixes = [(*SHANGHAI, 100.0), (*SHANGHAI, 100.5), (*SHANGHAI, 0.0)]
    assert [geofence.classify(zone, *fix) for fix in fixes] == [INSIDE, UNDECIDED, INSIDE]
    assert cloud_verdicts(zone, fixes) == [INSIDE, UNDECIDED, INSIDE]


def test_a_square_by_hand_in_shanghai() -> None:
    zone = square(*SHANGHAI, half_m=100.0)
    cases = [  # east, north, accuracy, signed distance, verdict
        (0, 0, 99, -100, INSIDE),
        (50, 0, 40, -50, INSIDE),
        (50, 0, 60, -50, UNDECIDED),
        (150, 0, 40, 50, OUTSIDE),
        (0, -160, 70, 60, UNDECIDED),
        (130, 140, 45, 50, OUTSIDE),  # nearest the corner: a 30-40-50 triangle
        (130, 140, 55, 50, UNDECIDED),
        (3000, 2000, 500, None, OUTSIDE),
    ]
    fixes = []
    for east, north, acc, distance, verdict in cases:
        lat, lon = offset(*SHANGHAI, east, north)
        if distance is not None:
            assert geofence.signed_distance_m(zone, lat, lon) == pytest.approx(distance, abs=0.01)
        assert geofence.classify(zone, lat, lon, acc) == verdict
        fixes.append((lat, lon, float(acc)))
    assert cloud_verdicts(zone, fixes) == [case[-1] for case in cases]


def test_near_edge_is_inside_and_within_the_margin() -> None:
    zone = square(half_m=100.0)
    assert geofence.near_edge(zone, 0.0, 95 / M, 10)
    assert not geofence.near_edge(zone, 0.0, 85 / M, 10)
    assert not geofence.near_edge(zone, 0.0, 105 / M, 10)
    assert not geofence.near_edge(zone, 0.0, 0.0, 10)


def test_the_projection_and_reference_points() -> None:
    circle = geofence.circle(*SHANGHAI, 500.0)
    assert (circle.ref_lat, circle.ref_lon) == SHANGHAI
    x, y = circle.project(SHANGHAI[0] + 0.01, SHANGHAI[1] + 0.01)
    assert y == pytest.approx(geofence.EARTH_RADIUS_M * math.radians(0.01))
    assert x == pytest.approx(
        geofence.EARTH_RADIUS_M * math.radians(0.01) * math.cos(math.radians(SHANGHAI[0]))
    )
    ring = [(31.0, 121.0), (31.4, 121.1), (31.1, 121.8)]
    polygon = geofence.polygon(ring)
    assert (polygon.ref_lat, polygon.ref_lon) == pytest.approx((31.2, 121.4))
    assert polygon.xs == pytest.approx([polygon.project(lat, lon)[0] for lat, lon in ring])


@pytest.mark.parametrize(
    ("vertices", "words"),
    [
        ([(0, 0), (0.001, 0.001)], "3 distinct"),
        ([(0, 0), (0.001, 0.001), (0, 0)], "3 distinct"),
        ([(0, 0), (0.001, 0.001), (0.002, 0.002)], "no area"),
        ([(0, -100), (1, 100), (2, 0)], "antimeridian"),
        ([(0, 0), (91, 0), (0, 1)], "latitude"),
        ([(0, 0), (1, 181), (0, 1)], "longitude"),
        ([(0, 0), (1, float("nan")), (0, 1)], "two numbers"),
        ([(0, 0), (True, 1), (0, 1)], "two numbers"),
        ([(0, 0), (1,), (0, 1)], "pair"),
    ],
)
def test_bad_polygons_are_refused_with_the_reason(vertices: list, words: str) -> None:
    assert issubclass(geofence.ZoneError, ValueError)
    with pytest.raises(ValueError, match=words):
        geofence.polygon(vertices)


@pytest.mark.parametrize(
    ("lat", "lon", "radius"), [(0, 0, 0), (0, 0, -1), (0, 0, math.inf), (-91, 0, 5), (0, 180.5, 5)]
)
def test_bad_circles_are_refused(lat: float, lon: float, radius: float) -> None:
    with pytest.raises(geofence.ZoneError):
        geofence.circle(lat, lon, radius)


def test_the_closing_vertex_is_optional() -> None:
    ring = [(31.0, 121.0), (31.1, 121.0), (31.1, 121.1)]
    assert geofence.polygon([*ring, ring[0]]).vertices == geofence.polygon(ring).vertices


def test_bad_fixes_are_refused_by_core_and_cloud() -> None:
    zone = geofence.circle(*SHANGHAI, 100.0)
    shape = geometry.zone_shape(zone)
    with pytest.raises(ValueError, match="accuracy"):
        geofence.classify(zone, *SHANGHAI, -1)
    with pytest.raises(ValueError, match="a fix must lie in"):
        geofence.classify(zone, math.nan, 121.5, 10)
    with pytest.raises(ValueError, match="accuracy"):
        geometry.classify_fixes(shape, [31.2], [121.5], [-1.0])
    with pytest.raises(ValueError, match="lie in"):
        geometry.classify_fixes(shape, [math.nan], [121.5], [1.0])
    with pytest.raises(ValueError, match="same shape"):
        geometry.classify_fixes(shape, [31.2, 31.3], [121.5], [1.0])
    many = np.full(40, 31.2), np.full(40, 121.5), np.full(40, 5.0)
    for column, value, words in (
        (0, math.nan, "lie in"),
        (1, 200.0, "lie in"),
        (2, -1, "accuracy"),
    ):
        bad = [array.copy() for array in many]
        bad[column][17] = value
        with pytest.raises(ValueError, match=words):
            geometry.classify_fixes(shape, *bad)
    zones = geometry.zone_set([shape])
    with pytest.raises(ValueError, match="zone_index"):
        geometry.classify_pairs(zones, [1], [31.2], [121.5], [1.0])
    assert geometry.classify_fixes(shape, [], [], []).tolist() == []


# --- the cloud's shapes ---------------------------------------------------------------


def test_zone_shapes_hold_the_projected_geometry() -> None:
    circle = geometry.zone_shape(geofence.circle(*SHANGHAI, 250.0))
    assert circle.centre_xy == (0.0, 0.0)
    assert circle.radius_m == 250.0
    assert circle.geometry.area == pytest.approx(math.pi * 250.0**2, rel=1e-3)
    polygon = geometry.zone_shape(square(*SHANGHAI, half_m=100.0))
    assert polygon.centre_xy is None
    assert polygon.radius_m is None
    assert polygon.geometry.area == pytest.approx(200.0 * 200.0, rel=1e-2)
    assert polygon.boundary.length == pytest.approx(800.0, rel=1e-2)
    assert polygon == geometry.ZoneShape(polygon.zone, None, None, None, None, polygon.tables)


def test_a_self_intersecting_drawing_is_explained() -> None:
    bow_tie = [(31.0, 121.0), (31.1, 121.1), (31.0, 121.1), (31.1, 121.0)]
    problem = geometry.valid_polygon_problem(bow_tie)
    assert problem is not None
    assert "cross" in problem
    assert "31.05" in problem
    # Lobes of unequal size enclose some area: core builds it, the cloud refuses it.
    lopsided = [(31.0, 121.0), (31.2, 121.2), (31.0, 121.2), (31.1, 121.0)]
    assert "cross" in (geometry.valid_polygon_problem(lopsided) or "")
    with pytest.raises(ValueError, match=re.escape("cross each other near 31.066667, 121.066667")):
        geometry.zone_shape(geofence.polygon(lopsided))


def test_valid_drawings_and_core_refusals() -> None:
    assert geometry.valid_polygon_problem([(31.0, 121.0), (31.1, 121.1), (31.0, 121.2)]) is None
    assert "3 distinct" in (
        geometry.valid_polygon_problem([(31, 121), (31, 121), (31.1, 121)]) or ""
    )
    assert "antimeridian" in (geometry.valid_polygon_problem([(0, -100), (1, 100), (2, 0)]) or "")


def test_pairs_against_a_zone_set_equal_each_zone_alone() -> None:
    zones = [
        geofence.circle(*SHANGHAI, 300.0),
        square(*SHANGHAI, half_m=400.0),
        square(*offset(*SHANGHAI, 900, 0), half_m=200.0),
    ]
    shapes = [geometry.zone_shape(z) for z in zones]
    rng = np.random.default_rng(5)
    n = 3000
    lat, lon = offset(*SHANGHAI, rng.uniform(-1500, 1500, n), rng.uniform(-800, 800, n))
    acc = rng.uniform(0, 300, n)
    zone_index = rng.integers(0, len(zones), n)
    together = geometry.classify_pairs(geometry.zone_set(shapes), zone_index, lat, lon, acc)
    for z, shape in enumerate(shapes):
        mine = zone_index == z
        alone = geometry.classify_fixes(shape, lat[mine], lon[mine], acc[mine])
        assert together[mine].tolist() == alone.tolist()


def test_any_shape_of_array_and_any_number_of_fixes() -> None:
    shape = geometry.zone_shape(square(*SHANGHAI, half_m=500.0))
    rng = np.random.default_rng(2)
    lat, lon = offset(*SHANGHAI, rng.uniform(-900, 900, (6, 10)), rng.uniform(-900, 900, (6, 10)))
    acc = rng.uniform(0, 200, (6, 10))
    grid = geometry.classify_fixes(shape, lat, lon, acc)
    assert grid.shape == (6, 10)
    assert grid.dtype == np.int8
    assert geometry.signed_distances(shape, lat, lon).shape == (6, 10)
    flat = [
        geometry.classify_fixes(shape, lat.ravel()[:n], lon.ravel()[:n], acc.ravel()[:n])
        for n in (1, 24, 25, 60)
    ]
    for verdicts in flat:
        assert verdicts.tolist() == grid.ravel()[: len(verdicts)].tolist()


def test_threads_do_not_share_working_arrays() -> None:
    shapes = [geometry.zone_shape(square(*SHANGHAI, half_m=h)) for h in (300.0, 3000.0)]
    rng = np.random.default_rng(4)
    jobs = []
    for k in range(40):
        n = 500 + 300 * k
        lat, lon = offset(*SHANGHAI, rng.uniform(-4000, 4000, n), rng.uniform(-4000, 4000, n))
        jobs.append((shapes[k % 2], lat, lon, rng.uniform(0, 500, n)))
    alone = [geometry.classify_fixes(*job).tolist() for job in jobs]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda job: geometry.classify_fixes(*job).tolist(), jobs))
    assert together == alone


def test_a_big_chunk_equals_its_batches() -> None:
    shape = geometry.zone_shape(square(*SHANGHAI, half_m=5000.0))
    rng = np.random.default_rng(8)
    n = geometry.CLASSIFY_BLOCK * 2 + 17
    lat, lon = offset(*SHANGHAI, rng.uniform(-7000, 7000, n), rng.uniform(-7000, 7000, n))
    acc = rng.uniform(0, 1000, n)
    whole = geometry.classify_fixes(shape, lat, lon, acc)
    parts = [
        geometry.classify_fixes(shape, lat[i : i + 999], lon[i : i + 999], acc[i : i + 999])
        for i in range(0, n, 999)
    ]
    assert whole.tolist() == np.concatenate(parts).tolist()


# --- core and cloud agree -------------------------------------------------------------

places = st.one_of(
    st.tuples(st.floats(30.9, 31.5), st.floats(121.1, 121.9)),  # about Shanghai
    st.tuples(st.floats(-70, 70), st.floats(-170, 170)),  # anywhere else
)


@st.composite
def star_polygons(draw: st.DrawFn) -> geofence.Zone:
    """Star-shaped about a centre (angles increasing, gaps under 180 degrees): simple."""
    lat, lon = draw(places)
    n = draw(st.integers(3, 40))
    size = draw(st.floats(20, 25_000))
    step = 2 * math.pi / n
    jitter = draw(st.lists(st.floats(0.05, 0.95), min_size=n, max_size=n))
    radii = draw(st.lists(st.floats(0.1, 1.0), min_size=n, max_size=n))
    ring = [
        offset(lat, lon, size * r * math.cos((k + j) * step), size * r * math.sin((k + j) * step))
        for k, (j, r) in enumerate(zip(jitter, radii, strict=True))
    ]
    return geofence.polygon(ring)


@st.composite
def circles(draw: st.DrawFn) -> geofence.Zone:
    lat, lon = draw(places)
    return geofence.circle(lat, lon, draw(st.floats(1, 25_000)))


def fixes_about(zone: geofence.Zone, seed: int, n: int = 400) -> tuple[np.ndarray, ...]:
    """Fixes about the zone, half of them within 50 m of its edge, accuracies 0..1000 m."""
    rng = np.random.default_rng(seed)
    if zone.shape == "circle":
        angle = rng.uniform(0, 2 * math.pi, n)
        radius = np.where(
            rng.random(n) < 0.5,
            zone.radius_m + rng.uniform(-50, 50, n),
            rng.uniform(0, 2 * zone.radius_m + 1000, n),
        )
        x, y = radius * np.cos(angle), radius * np.sin(angle)
    else:
        xs, ys = np.array(zone.xs), np.array(zone.ys)
        k = rng.integers(0, len(xs), n)
        t = rng.random(n)
        on_x = xs[k] + t * (np.roll(xs, -1)[k] - xs[k])
        on_y = ys[k] + t * (np.roll(ys, -1)[k] - ys[k])
        near = rng.random(n) < 0.5
        width = max(zone.max_x - zone.min_x, zone.max_y - zone.min_y) + 2000
        x = np.where(near, on_x + rng.uniform(-50, 50, n), rng.uniform(-width, width, n))
        y = np.where(near, on_y + rng.uniform(-50, 50, n), rng.uniform(-width, width, n))
    lat = np.clip(zone.ref_lat + y / zone.m_per_deg_lat, -90, 90)
    lon = np.clip(zone.ref_lon + x / zone.m_per_deg_lon, -180, 180)
    acc = np.where(rng.random(n) < 0.1, 0.0, rng.uniform(0, 1000, n))
    return lat, lon, acc


def assert_core_and_cloud_agree(zone: geofence.Zone, seed: int) -> int:
    """Every verdict equal but at float ties; the signed distances equal. Returns the ties."""
    lat, lon, acc = fixes_about(zone, seed)
    shape = geometry.zone_shape(zone)
    cloud = geometry.classify_fixes(shape, lat, lon, acc)
    rows = zip(lat.tolist(), lon.tolist(), acc.tolist(), strict=True)
    core = np.array([geofence.classify(zone, la, lo, a) for la, lo, a in rows])
    d_core = np.array(
        [geofence.signed_distance_m(zone, la, lo) for la, lo in zip(lat, lon, strict=True)]
    )
    d_cloud = geometry.signed_distances(shape, lat, lon)
    assert np.all(np.abs(d_cloud - d_core) <= 1e-6 * np.maximum(np.abs(d_core), 1.0))
    ties = (np.abs(np.abs(d_core) - acc) < 1e-6) | (np.abs(d_core) < 1e-6)
    differ = (cloud != core) & ~ties
    assert not differ.any(), list(
        zip(lat[differ], lon[differ], acc[differ], d_core[differ], strict=True)
    )
    return int(ties.sum())


@settings(max_examples=150, deadline=None)
@given(zone=star_polygons(), seed=st.integers(0, 2**32 - 1))
def test_core_and_cloud_agree_on_polygons(zone: geofence.Zone, seed: int) -> None:
    ties = assert_core_and_cloud_agree(zone, seed)
    assert ties <= 2  # of 400 fixes: ties are rare


@settings(max_examples=150, deadline=None)
@given(zone=circles(), seed=st.integers(0, 2**32 - 1))
def test_core_and_cloud_agree_on_circles(zone: geofence.Zone, seed: int) -> None:
    ties = assert_core_and_cloud_agree(zone, seed)
    assert ties <= 2


@settings(max_examples=60, deadline=None)
@given(zone=st.one_of(star_polygons(), circles()), seed=st.integers(0, 2**32 - 1))
def test_even_exact_ties_agree(zone: geofence.Zone, seed: int) -> None:
    # Beyond the promise: the cloud repeats core's float operations, so an accuracy
    # equal to the distance to the edge gets core's verdict too.
    lat, lon, _ = fixes_about(zone, seed, n=200)
    d = np.array(
        [geofence.signed_distance_m(zone, la, lo) for la, lo in zip(lat, lon, strict=True)]
    )
    acc = np.abs(d)
    cloud = geometry.classify_fixes(geometry.zone_shape(zone), lat, lon, acc)
    core = [geofence.classify(zone, la, lo, a) for la, lo, a in zip(lat, lon, acc, strict=True)]
    assert cloud.tolist() == core


@settings(max_examples=40, deadline=None)
@given(zone=star_polygons(), seed=st.integers(0, 2**32 - 1))
def test_signed_distances_equal_shapelys(zone: geofence.Zone, seed: int) -> None:
    # An independent engine: GEOS's distance to the ring and its point-in-polygon.
    lat, lon, _ = fixes_about(zone, seed, n=200)
    shape = geometry.zone_shape(zone)
    x, y = (lon - zone.ref_lon) * zone.m_per_deg_lon, (lat - zone.ref_lat) * zone.m_per_deg_lat
    points = shapely.points(x, y)
    far = shapely.distance(shape.boundary, points)
    expected = np.where(shapely.contains(shape.geometry, points), -far, far)
    got = geometry.signed_distances(shape, lat, lon)
    assert np.all(np.abs(got - expected) <= 1e-6 * np.maximum(np.abs(expected), 1.0))
