"""Zones and location fixes: is a fix surely inside, surely outside, or undecided?

A zone is a circle or a polygon (one ring) in WGS-84 degrees. A fix is a point
with an accuracy radius in metres. Everything is computed in a local
equirectangular projection about the zone's reference point (the circle's
centre, the centre of a polygon's latitude/longitude bounding box)::

    x = R * radians(lon - ref_lon) * cos(radians(ref_lat))
    y = R * radians(lat - ref_lat)

with R the mean Earth radius. Polygon edges are therefore straight lines in
latitude/longitude. Distances to an edge are off by about 0.5 % at most for
zones up to 50 km across at mid latitudes (docs/supervision.md), which is far
below the accuracy of a fix near an edge.

Zones never cross the antimeridian (longitude +-180): a polygon spanning more
than 180 degrees of longitude is refused, and a circle is assumed not to reach
it (lon - ref_lon is never wrapped).

The cloud runs the same projection, vectorised (cloud/supervision/geometry.py),
and gives the same verdicts. Runs on MicroPython: only ``math``. On a board with
single-precision floats (ESP32) degrees keep about 7 digits, so a verdict there
is good to about a metre near the edge; the cloud's, in double precision, is
the reference.
"""

import math

from core.errors import CoreError

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

INSIDE = 1
OUTSIDE = -1
UNDECIDED = 0
EARTH_RADIUS_M = 6371008.8
CIRCLE = "circle"
POLYGON = "polygon"

# Metres per degree of latitude (and of longitude at the equator) on the sphere.
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180.0


class ZoneError(CoreError):
    """A zone that cannot be built: bad centre, radius or vertices (a ValueError)."""


class Zone:
    """The geometry of one zone, already projected; build it with circle() or polygon().

    ``shape`` is "circle" or "polygon"; ``ref_lat``/``ref_lon`` the projection's
    reference point (degrees); ``m_per_deg_lat``/``m_per_deg_lon`` its scale.
    A circle has ``radius_m``; a polygon has ``vertices`` (its ring in degrees,
    without the closing vertex) and the projected ``xs``/``ys`` (metres), and
    both have the projected bounding box ``min_x``, ``max_x``, ``min_y``,
    ``max_y``.
    """

    def __init__(
        self,
        shape: str,
        ref_lat: float,
        ref_lon: float,
        radius_m: float,
        vertices: "list[tuple[float, float]]",
    ) -> None:
        self.shape = shape
        self.ref_lat = ref_lat
        self.ref_lon = ref_lon
        self.m_per_deg_lat = M_PER_DEG
        self.m_per_deg_lon = M_PER_DEG * math.cos(math.radians(ref_lat))
        self.radius_m = radius_m
        self.vertices = vertices
        self.xs: list[float] = []
        self.ys: list[float] = []
        for lat, lon in vertices:
            x, y = self.project(lat, lon)
            self.xs.append(x)
            self.ys.append(y)
        if shape == CIRCLE:
            self.min_x, self.max_x = -radius_m, radius_m
            self.min_y, self.max_y = -radius_m, radius_m
        else:
            self.min_x, self.max_x = min(self.xs), max(self.xs)
            self.min_y, self.max_y = min(self.ys), max(self.ys)

    def project(self, lat: float, lon: float) -> "tuple[float, float]":
        """(x, y) in metres east and north of the reference point."""
        return (lon - self.ref_lon) * self.m_per_deg_lon, (lat - self.ref_lat) * self.m_per_deg_lat

    def __repr__(self) -> str:
        if self.shape == CIRCLE:
            return "Zone(circle %r, %r, %r m)" % (self.ref_lat, self.ref_lon, self.radius_m)
        return "Zone(polygon of %d vertices about %r, %r)" % (
            len(self.vertices),
            self.ref_lat,
            self.ref_lon,
        )


def _is_number(value: "Any") -> bool:
    # A bool is no number here (nor an int on MicroPython); NaN is refused.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value == value


def _check_point(lat: "Any", lon: "Any", what: str) -> None:
    if not (_is_number(lat) and _is_number(lon)):
        raise ZoneError("%s must be two numbers, got %r, %r" % (what, lat, lon))
    if not -90 <= lat <= 90:
        raise ZoneError("%s latitude %r is outside -90..90" % (what, lat))
    if not -180 <= lon <= 180:
        raise ZoneError("%s longitude %r is outside -180..180" % (what, lon))


def circle(lat: float, lon: float, radius_m: float) -> Zone:
    """A circle of ``radius_m`` metres (> 0) about (lat, lon); ZoneError otherwise."""
    _check_point(lat, lon, "the centre")
    if not _is_number(radius_m) or not 0 < radius_m < math.inf:
        raise ZoneError("the radius must be a number of metres above 0, got %r" % (radius_m,))
    return Zone(CIRCLE, float(lat), float(lon), float(radius_m), [])


def polygon(vertices: "Any") -> Zone:
    """A polygon from one ring of (lat, lon) vertices; the closing vertex is optional.

    Refused (ZoneError): fewer than 3 distinct vertices, a vertex out of range,
    vertices that enclose no area, or a ring spanning more than 180 degrees of
    longitude. Self-intersection is not checked here (the cloud refuses such a
    drawing with cloud.supervision.geometry.valid_polygon_problem).
    """
    ring: list[tuple[float, float]] = []
    try:
        items = list(vertices)
    except TypeError:
        raise ZoneError("the vertices must be a sequence of (lat, lon) pairs")
    for index, vertex in enumerate(items):
        try:
            lat, lon = vertex
        except (TypeError, ValueError):
            raise ZoneError("vertex %d must be a (lat, lon) pair, got %r" % (index, vertex))
        _check_point(lat, lon, "vertex %d" % index)
        point = (float(lat), float(lon))
        if not ring or ring[-1] != point:
            ring.append(point)
    while len(ring) > 1 and ring[-1] == ring[0]:
        ring.pop()
    distinct = []
    for point in ring:
        if point not in distinct:
            distinct.append(point)
            if len(distinct) == 3:
                break
    if len(distinct) < 3:
        raise ZoneError("a polygon needs at least 3 distinct vertices, got %d" % len(distinct))
    lats = [p[0] for p in ring]
    lons = [p[1] for p in ring]
    if max(lons) - min(lons) > 180:
        raise ZoneError(
            "the polygon spans %r degrees of longitude: zones may not cross the antimeridian"
            % (max(lons) - min(lons),)
        )
    zone = Zone(POLYGON, (min(lats) + max(lats)) / 2.0, (min(lons) + max(lons)) / 2.0, 0.0, ring)
    width = zone.max_x - zone.min_x
    height = zone.max_y - zone.min_y
    if abs(_twice_area(zone.xs, zone.ys)) <= 1e-9 * (width * width + height * height):
        raise ZoneError("the polygon's vertices enclose no area (they lie on one line)")
    return zone


def _twice_area(xs: "list[float]", ys: "list[float]") -> float:
    total = 0.0
    jx = xs[-1]
    jy = ys[-1]
    for i in range(len(xs)):
        total += jx * ys[i] - xs[i] * jy
        jx = xs[i]
        jy = ys[i]
    return total


def _ring_distance(xs: "list[float]", ys: "list[float]", x: float, y: float) -> float:
    # One pass: crossing number (which side) and the nearest segment (how far).
    # cloud/supervision/geometry.py repeats these very operations, so both give
    # the same float for the same fix.
    inside = False
    best = -1.0
    n = len(xs)
    jx = xs[n - 1]
    jy = ys[n - 1]
    for i in range(n):
        ix = xs[i]
        iy = ys[i]
        if (iy > y) != (jy > y) and x < jx + (y - jy) * (ix - jx) / (iy - jy):
            inside = not inside
        dx = ix - jx
        dy = iy - jy
        px = x - jx
        py = y - jy
        t = px * dx + py * dy
        if t <= 0.0:
            d2 = px * px + py * py
        else:
            seg2 = dx * dx + dy * dy
            if t >= seg2:
                qx = x - ix
                qy = y - iy
            else:
                t = t / seg2
                qx = px - t * dx
                qy = py - t * dy
            d2 = qx * qx + qy * qy
        if best < 0.0 or d2 < best:
            best = d2
        jx = ix
        jy = iy
    distance = math.sqrt(best)
    return -distance if inside else distance


def _check_fix(lat: "Any", lon: "Any") -> None:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ZoneError("a fix must lie in -90..90, -180..180, got %r, %r" % (lat, lon))


def _signed_distance_xy(zone: Zone, x: float, y: float) -> float:
    if zone.shape == CIRCLE:
        return math.sqrt(x * x + y * y) - zone.radius_m
    return _ring_distance(zone.xs, zone.ys, x, y)


def signed_distance_m(zone: Zone, lat: float, lon: float) -> float:
    """Metres from (lat, lon) to the zone's edge: negative inside, positive outside."""
    _check_fix(lat, lon)
    x, y = zone.project(lat, lon)
    return _signed_distance_xy(zone, x, y)


def classify(zone: Zone, lat: float, lon: float, accuracy_m: float) -> int:
    """INSIDE if the whole accuracy circle is inside, OUTSIDE if it is all outside, else UNDECIDED.

    With d the signed distance: INSIDE when d < 0 and -d >= accuracy_m,
    OUTSIDE when d > 0 and d >= accuracy_m.
    """
    _check_fix(lat, lon)
    if not accuracy_m >= 0:
        raise ZoneError("the accuracy must be 0 or more metres, got %r" % (accuracy_m,))
    x, y = zone.project(lat, lon)
    if zone.shape == POLYGON:
        # Far outside the bounding box: no need to walk the ring (cheap on a bracelet).
        ex = max(zone.min_x - x, x - zone.max_x, 0.0)
        ey = max(zone.min_y - y, y - zone.max_y, 0.0)
        if ex > accuracy_m or ey > accuracy_m:
            return OUTSIDE
    d = _signed_distance_xy(zone, x, y)
    if d < 0 and -d >= accuracy_m:
        return INSIDE
    if d > 0 and d >= accuracy_m:
        return OUTSIDE
    return UNDECIDED


def near_edge(zone: Zone, lat: float, lon: float, margin_m: float) -> bool:
    """True when (lat, lon) is inside the zone and less than ``margin_m`` from its edge."""
    d = signed_distance_m(zone, lat, lon)
    return d < 0 and -d < margin_m
