"""Zone geometry and weekly schedules as the bracelet runs them (MicroPython and CPython).

Expectations are worked out by hand in metres: at the equator a degree of
longitude is as long as a degree of latitude (geofence.M_PER_DEG metres), so
a zone drawn there in metres projects back to the same metres.
"""

from mptest import assert_equal, assert_raises

from core import geofence, schedule
from core.geofence import INSIDE, OUTSIDE, UNDECIDED

M = geofence.M_PER_DEG  # metres per degree of latitude


def _close(actual, expected, tolerance, what):
    if abs(actual - expected) > tolerance:
        raise AssertionError(f"{what}: expected {expected!r} +- {tolerance!r}, got {actual!r}")


def _square():
    # 200 m x 200 m about (0, 0): the edge is 100 m from the centre.
    h = 100.0 / M
    return geofence.polygon([(-h, -h), (-h, h), (h, h), (h, -h)])


# --- circles ------------------------------------------------------------------------


def test_a_fix_50_m_from_the_centre_of_a_100_m_circle():
    zone = geofence.circle(31.2, 121.5, 100.0)
    lat = 31.2 + 50.0 / M  # 50 m north
    _close(geofence.signed_distance_m(zone, lat, 121.5), -50.0, 1e-6, "distance")
    assert_equal(geofence.classify(zone, lat, 121.5, 40), INSIDE)
    assert_equal(geofence.classify(zone, lat, 121.5, 60), UNDECIDED)


def test_a_fix_50_m_outside_a_100_m_circle():
    zone = geofence.circle(31.2, 121.5, 100.0)
    lon = 121.5 + 150.0 / zone.m_per_deg_lon  # 150 m east
    _close(geofence.signed_distance_m(zone, 31.2, lon), 50.0, 1e-6, "distance")
    assert_equal(geofence.classify(zone, 31.2, lon, 40), OUTSIDE)
    assert_equal(geofence.classify(zone, 31.2, lon, 60), UNDECIDED)


def test_an_accuracy_circle_that_just_fits_is_inside():
    zone = geofence.circle(31.2, 121.5, 100.0)
    # At the centre d is exactly -100: 100 m of accuracy still fits, 100.5 m does not.
    assert_equal(geofence.signed_distance_m(zone, 31.2, 121.5), -100.0)
    assert_equal(geofence.classify(zone, 31.2, 121.5, 100), INSIDE)
    assert_equal(geofence.classify(zone, 31.2, 121.5, 100.5), UNDECIDED)
    assert_equal(geofence.classify(zone, 31.2, 121.5, 0), INSIDE)


def test_the_projection_about_the_reference_point():
    zone = geofence.circle(60.0, 10.0, 500.0)
    assert_equal((zone.ref_lat, zone.ref_lon, zone.shape), (60.0, 10.0, "circle"))
    x, y = zone.project(61.0, 10.0)
    _close(x, 0.0, 1e-9, "x")
    _close(y, M, 1e-6, "y")
    x, y = zone.project(60.0, 11.0)  # cos(60 degrees) = 0.5
    _close(x, M / 2, 1e-3, "x")
    _close(y, 0.0, 1e-9, "y")


def test_bad_circles_are_refused():
    for lat, lon, radius in ((31.2, 121.5, 0), (31.2, 121.5, -5), (91, 0, 10), (0, 181, 10)):
        assert_raises(ValueError, geofence.circle, lat, lon, radius)
    assert_raises(ValueError, geofence.circle, True, 0, 10)
    assert_raises(ValueError, geofence.circle, 0, 0, "10")


# --- polygons -----------------------------------------------------------------------


def test_a_square_polygon():
    zone = _square()
    assert_equal(zone.shape, "polygon")
    _close(zone.ref_lat, 0.0, 1e-12, "ref_lat")
    _close(zone.ref_lon, 0.0, 1e-12, "ref_lon")
    cases = (
        # east, north (m), expected signed distance
        (0.0, 0.0, -100.0),
        (50.0, 0.0, -50.0),
        (-70.0, 20.0, -30.0),
        (150.0, 0.0, 50.0),
        (0.0, -130.0, 30.0),
        (130.0, 140.0, 50.0),  # nearest the corner: sqrt(30^2 + 40^2)
    )
    for east, north, expected in cases:
        d = geofence.signed_distance_m(zone, north / M, east / M)
        _close(d, expected, 1e-6, f"d at {east!r}, {north!r}")


def test_a_square_polygons_verdicts():
    zone = _square()
    assert_equal(geofence.classify(zone, 0.0, 50.0 / M, 40), INSIDE)  # 50 m from the edge
    assert_equal(geofence.classify(zone, 0.0, 50.0 / M, 60), UNDECIDED)
    assert_equal(geofence.classify(zone, 0.0, 150.0 / M, 40), OUTSIDE)
    assert_equal(geofence.classify(zone, 0.0, 150.0 / M, 60), UNDECIDED)
    assert_equal(geofence.classify(zone, 140.0 / M, 130.0 / M, 45), OUTSIDE)  # corner: 50 m
    assert_equal(geofence.classify(zone, 140.0 / M, 130.0 / M, 55), UNDECIDED)
    assert_equal(geofence.classify(zone, 0.5, 0.5, 1000), OUTSIDE)  # far beyond the box


def test_near_edge():
    zone = _square()
    assert_equal(geofence.near_edge(zone, 0.0, 95.0 / M, 10), True)  # 5 m from the edge
    assert_equal(geofence.near_edge(zone, 0.0, 85.0 / M, 10), False)  # 15 m
    assert_equal(geofence.near_edge(zone, 0.0, 0.0, 10), False)
    assert_equal(geofence.near_edge(zone, 0.0, 105.0 / M, 10), False)  # outside
    circle = geofence.circle(31.2, 121.5, 100.0)
    assert_equal(geofence.near_edge(circle, 31.2 + 92.0 / M, 121.5, 10), True)


def test_a_polygon_keeps_its_projected_vertices():
    zone = _square()
    assert_equal(len(zone.xs), 4)
    assert_equal(len(zone.ys), 4)
    for x in zone.xs:
        _close(abs(x), 100.0, 1e-6, "x")
    _close(zone.max_x - zone.min_x, 200.0, 1e-6, "width")


def test_the_closing_vertex_is_optional():
    h = 100.0 / M
    ring = [(-h, -h), (-h, h), (h, h), (h, -h)]
    closed_ring = list(ring)
    closed_ring.append((-h, -h))
    closed = geofence.polygon(closed_ring)
    assert_equal(closed.vertices, geofence.polygon(ring).vertices)


def test_an_l_shaped_polygon_has_a_notch():
    # An L: the square 0..200 m less its north-east quarter.
    a = 100.0 / M
    b = 200.0 / M
    zone = geofence.polygon([(0, 0), (0, b), (a, b), (a, a), (b, a), (b, 0)])
    _close(geofence.signed_distance_m(zone, 150.0 / M, 150.0 / M), 50.0, 1e-6, "notch")
    _close(geofence.signed_distance_m(zone, 50.0 / M, 150.0 / M), -50.0, 1e-6, "arm")
    assert_equal(geofence.classify(zone, 150.0 / M, 150.0 / M, 30), OUTSIDE)


def test_bad_polygons_are_refused():
    h = 100.0 / M
    exc = assert_raises(ValueError, geofence.polygon, [(0, 0), (h, h), (0, 0)])
    assert "3 distinct" in str(exc), str(exc)
    exc = assert_raises(ValueError, geofence.polygon, [(0, 0), (h, h), (2 * h, 2 * h)])
    assert "no area" in str(exc), str(exc)
    exc = assert_raises(ValueError, geofence.polygon, [(0, -100), (1, 100), (2, 0)])
    assert "antimeridian" in str(exc), str(exc)
    assert_raises(ValueError, geofence.polygon, [(0, 0), (91, 0), (0, 1)])
    assert_raises(ValueError, geofence.polygon, [(0, 0), (1,), (0, 1)])
    assert_raises(ValueError, geofence.polygon, 17)


def test_bad_fixes_are_refused():
    zone = geofence.circle(31.2, 121.5, 100.0)
    assert_raises(ValueError, geofence.classify, zone, 31.2, 121.5, -1)
    assert_raises(ValueError, geofence.classify, zone, 95.0, 121.5, 10)
    assert_raises(ValueError, geofence.signed_distance_m, zone, 31.2, 190.0)


# --- the weekly schedule (the bracelet checks curfews itself) -------------------------


def test_a_curfew_every_night_wraps_past_midnight_and_the_week():
    curfew = [schedule.Window(127, 1320, 360)]  # every day 22:00-06:00
    tuesday_2 = schedule.second_of_week(1, 2, 0, 0)
    assert_equal(schedule.active(curfew, tuesday_2), True)
    assert_equal(schedule.opened_ago_s(curfew, tuesday_2), 4 * 3600)
    assert_equal(schedule.active(curfew, schedule.second_of_week(6, 23, 0, 0)), True)
    monday_3 = schedule.second_of_week(0, 3, 0, 0)
    assert_equal(schedule.opened_ago_s(curfew, monday_3), 5 * 3600)  # since Sunday 22:00
    assert_equal(schedule.active(curfew, schedule.second_of_week(2, 12, 0, 0)), False)
    assert_equal(schedule.opened_ago_s(curfew, schedule.second_of_week(2, 6, 0, 0)), None)


def test_the_bracelets_local_second_of_the_week():
    # 2026-11-30 00:00 in Shanghai (UTC+8) was a Monday: 2026-11-29 16:00 UTC.
    ts = 1795968000
    assert_equal(schedule.local_second_of_week(ts, 480), 0)
    assert_equal(schedule.local_second_of_week(ts - 1, 480), schedule.SECONDS_PER_WEEK - 1)
    assert_equal(schedule.local_second_of_week(ts, 0), schedule.second_of_week(6, 16, 0, 0))


def test_the_text_form_on_the_board():
    windows = schedule.parse_windows("Mon-Fri 22:00-06:00; Sat,Sun 23:00-07:00")
    assert_equal(windows, [schedule.Window(31, 1320, 360), schedule.Window(96, 1380, 420)])
    assert_equal(schedule.format_windows(windows), "Mon-Fri 22:00-06:00; Sat,Sun 23:00-07:00")
    assert_raises(ValueError, schedule.parse_windows, "Mon-Fri 25:00-06:00")
