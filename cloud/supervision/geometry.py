"""core.geofence's zone geometry, vectorised over many fixes (numpy and shapely).

The verdicts are core's, to the bit: the same projection (the zone's own
reference point and scale, read from the ``geofence.Zone``), and the same
floating-point operations wherever a distance is computed exactly. What the
cloud adds is a way to skip most exact work:

- a circle is exact and cheap: ``sqrt(x*x + y*y) - radius``;
- a polygon gets a grid over its bounding box, each cell holding the signed
  distance of its centre to the edge (computed once, by shapely). The signed
  distance moves by at most the distance moved (it is 1-Lipschitz), so for a
  fix at ``rho`` metres from its cell's centre ``d`` lies within
  ``dc +- rho``, and outside the box ``d`` is at least the distance to the box.
  When those bounds already decide the verdict no exact distance is needed;
- the rest (fixes near an edge) go through the exact path: crossing number
  and nearest segment, exactly as core computes them, over all those fixes
  and segments at once.

Two ways in: ``classify_fixes`` for many fixes against one zone, and
``classify_pairs`` for (fix, zone) pairs against a ``ZoneSet`` (a batch's
fixes each against its own person's zones, in a few numpy calls).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely  # type: ignore[import-untyped]  # shapely 2 ships no type information
from numpy.typing import ArrayLike, NDArray

from core import geofence

Floats = NDArray[np.float64]
Verdicts = NDArray[np.int8]

# Cells along the longer side of a polygon's bounding box, and the smallest cell:
# 64 x 64 cells cost a few milliseconds to build once per zone.
GRID_CELLS = 64
MIN_CELL_M = 2.0
# Margin for rounding in the bounds (shapely's distance against core's, sqrt, sums):
# far above float64's errors at 100 km (1e-10 m), far below anything that matters.
BOUND_SLACK_M = 1e-6
# Exact path: at most this many (fix, segment) elements at a time, to bound memory.
EXACT_BLOCK = 1 << 15
# Pairs classified at a time: each thread keeps its working arrays (_Scratch), about
# 7 MB at these two sizes.
CLASSIFY_BLOCK = 1 << 14
# Up to this many fixes classify_fixes runs core's own loop: numpy costs about 70 us a
# call whatever its size, core 1 to 4 us a fix (measured on the project machine).
SMALL_BATCH = 24

# The parameters of a zone: _Tables.params[k, zone] (one contiguous row per parameter,
# so that gathering one parameter for many pairs is a plain take). Integers (cell
# counts, offsets) are held as floats: exact below 2**53.
(
    _REF_LAT,
    _REF_LON,
    _KX,
    _GX,
    _GY,
    _INV_CELL,
    _CELL,
    _NX1,
    _NY1,
    _NXF,
    _NYF,
    _NX,
    _OFFSET,
    _A,
    _SLACK,
    _IS_POLYGON,
    _DC0,
) = range(17)
_PARAMS = 17


@dataclass(frozen=True)
class _Tables:
    """Zones' parameters, grids and segments as flat arrays, for gathers by zone index."""

    params: Floats  # (_PARAMS, zones)
    # Signed distance of each cell centre to the edge, all zones' grids end to end;
    # float32 (half the memory), its rounding covered by the zone's _SLACK.
    cell_dc: NDArray[np.float32]
    seg_start: NDArray[np.intp]  # first segment of each zone's ring (0 for circles)
    seg_count: NDArray[np.intp]
    # Segment k runs from vertex (jx, jy) to (ix, iy); dx, dy, seg2 precomputed.
    jx: Floats
    jy: Floats
    ix: Floats
    iy: Floats
    dx: Floats
    dy: Floats
    seg2: Floats


@dataclass(frozen=True)
class ZoneShape:
    """A zone with its projected shapely geometry (prepared) and its lookup grid.

    ``geometry`` is the zone in the projected plane (metres about the zone's
    reference point): the polygon itself, or for a circle a 256-gon drawn for
    maps and overlaps (never used for verdicts). ``boundary`` its edge.
    ``centre_xy`` and ``radius_m`` are set for circles (the centre is the
    projection's origin), None for polygons. Compared by ``zone`` only.
    """

    zone: geofence.Zone
    geometry: Any = field(compare=False, repr=False)
    boundary: Any = field(compare=False, repr=False)
    centre_xy: tuple[float, float] | None = field(compare=False)
    radius_m: float | None = field(compare=False)
    tables: _Tables = field(compare=False, repr=False)


@dataclass(frozen=True)
class ZoneSet:
    """Several zones' tables end to end; ``shapes[i]`` is zone index ``i``."""

    shapes: tuple[ZoneShape, ...]
    tables: _Tables = field(compare=False, repr=False)


def zone_shape(zone: geofence.Zone) -> ZoneShape:
    """The zone's shapely geometry and lookup grid; ValueError for a polygon shapely calls invalid."""
    if zone.shape == geofence.CIRCLE:
        geometry = shapely.Point(0.0, 0.0).buffer(zone.radius_m, quad_segs=64)
        shapely.prepare(geometry)
        tables = _circle_tables(zone)
        return ZoneShape(zone, geometry, geometry.exterior, (0.0, 0.0), zone.radius_m, tables)
    coords = np.column_stack([np.asarray(zone.xs), np.asarray(zone.ys)])
    geometry = shapely.Polygon(coords)
    if not geometry.is_valid:
        problem = _ring_problem(zone.vertices)
        raise ValueError(
            problem or "the polygon is not valid: " + shapely.is_valid_reason(geometry)
        )
    shapely.prepare(geometry)
    boundary = geometry.exterior
    shapely.prepare(boundary)
    return ZoneShape(zone, geometry, boundary, None, None, _polygon_tables(zone, geometry))


def zone_set(shapes: Sequence[ZoneShape]) -> ZoneSet:
    """Zones to check pairs against in one go: zone index i is ``shapes[i]``."""
    if not shapes:
        raise ValueError("a zone set needs at least one zone")
    return ZoneSet(tuple(shapes), _concatenate([s.tables for s in shapes]))


def classify_fixes(
    shape: ZoneShape, lat: ArrayLike, lon: ArrayLike, accuracy_m: ArrayLike
) -> Verdicts:
    """core.geofence.classify for every fix: int8 INSIDE / OUTSIDE / UNDECIDED."""
    lat_a, lon_a, acc_a = _arrays(lat, lon, accuracy_m)
    if lat_a.size <= SMALL_BATCH:
        # A few fixes: core's own loop, quicker than numpy's cost per call and the
        # same verdicts (core refuses a bad fix with a ZoneError, a ValueError).
        rows = zip(
            lat_a.ravel().tolist(), lon_a.ravel().tolist(), acc_a.ravel().tolist(), strict=True
        )
        verdicts = [geofence.classify(shape.zone, la, lo, a) for la, lo, a in rows]
        return np.array(verdicts, dtype=np.int8).reshape(lat_a.shape)
    _check_fixes(lat_a, lon_a, acc_a)
    flat = lat_a.ravel()
    zone_index = np.zeros(flat.shape, dtype=np.intp)
    out = _classify(shape.tables, zone_index, flat, lon_a.ravel(), acc_a.ravel())
    return out.reshape(lat_a.shape)


def classify_pairs(
    zones: ZoneSet,
    zone_index: ArrayLike,
    lat: ArrayLike,
    lon: ArrayLike,
    accuracy_m: ArrayLike,
) -> Verdicts:
    """core.geofence.classify for each pair: fix i against ``zones.shapes[zone_index[i]]``."""
    lat_a, lon_a, acc_a = _arrays(lat, lon, accuracy_m)
    _check_fixes(lat_a, lon_a, acc_a)
    index = np.asarray(zone_index, dtype=np.intp)
    if index.shape != lat_a.shape:
        raise ValueError("zone_index, lat, lon and accuracy_m must have the same shape")
    if index.size and (index.min() < 0 or index.max() >= len(zones.shapes)):
        raise ValueError(f"zone_index must lie in 0..{len(zones.shapes) - 1}")
    out = _classify(zones.tables, index.ravel(), lat_a.ravel(), lon_a.ravel(), acc_a.ravel())
    return out.reshape(lat_a.shape)


def signed_distances(shape: ZoneShape, lat: ArrayLike, lon: ArrayLike) -> Floats:
    """core.geofence.signed_distance_m for every fix: < 0 inside, > 0 outside (metres)."""
    lat_a, lon_a, acc_a = _arrays(lat, lon, np.zeros(np.shape(lat)))
    _check_fixes(lat_a, lon_a, acc_a)
    tables = shape.tables
    zone_index = np.zeros(lat_a.size, dtype=np.intp)
    x, y = _project(tables, zone_index, lat_a.ravel(), lon_a.ravel())
    if shape.zone.shape == geofence.CIRCLE:
        out: Floats = np.sqrt(x * x + y * y) - shape.zone.radius_m
    else:
        out = _exact(tables, zone_index, x, y)
    return out.reshape(lat_a.shape)


def valid_polygon_problem(vertices: Sequence[tuple[float, float]]) -> str | None:
    """Why a drawn ring of (lat, lon) vertices cannot be a zone, in words; None if it can."""
    try:
        geofence.polygon(vertices)
    except ValueError as exc:
        # A ring crossing itself may also enclose no area (a bow tie): say the first.
        crossing = _ring_problem(vertices, crossings_only=True)
        return crossing if crossing is not None else str(exc)
    return _ring_problem(vertices)


# --- building -------------------------------------------------------------------------

_REASON = re.compile(r"\s*(?P<what>[^\[]*?)\s*\[(?P<x>\S+)\s+(?P<y>\S+)\]\s*")
_REASON_WORDS = {
    "self-intersection": "its edges cross each other",
    "ring self-intersection": "its edge touches itself",
    "too few points in geometry component": "it has too few distinct vertices",
    "invalid coordinate": "a vertex is not a valid coordinate",
}


def _ring_problem(
    vertices: Sequence[tuple[float, float]], crossings_only: bool = False
) -> str | None:
    # Validity does not change under the projection (an affine map), so shapely
    # looks at the ring in degrees and names a place in degrees.
    try:
        ring = [(float(lon), float(lat)) for lat, lon in vertices]
        geometry = shapely.Polygon(ring)
    except (TypeError, ValueError, shapely.errors.GEOSException):
        return None
    if geometry.is_valid:
        return None
    reason = str(shapely.is_valid_reason(geometry))
    match = _REASON.fullmatch(reason)
    if match is None:
        return f"the polygon is not valid: {reason}"
    what = match["what"].lower()
    if crossings_only and "self-intersection" not in what:
        return None
    words = _REASON_WORDS.get(what, what)
    lon, lat = float(match["x"]), float(match["y"])
    return f"the polygon is not valid: {words} near {lat:.6f}, {lon:.6f} (lat, lon)"


def _circle_tables(zone: geofence.Zone) -> _Tables:
    params = np.zeros((_PARAMS, 1))
    params[_REF_LAT] = zone.ref_lat
    params[_REF_LON] = zone.ref_lon
    params[_KX] = zone.m_per_deg_lon
    # One cell of no size (_GX, _GY, _CELL 0) on the centre: d = dc + rho exactly
    # (dc = 0 + _DC0 = -radius in float64, A = -1, no slack); an unbounded box, so its
    # bound is 0.
    params[_NXF] = params[_NYF] = math.inf
    params[_NX] = 1.0
    params[_A] = -1.0
    params[_DC0] = -zone.radius_m
    empty = np.zeros(0)
    return _Tables(
        params,
        np.zeros(1, dtype=np.float32),
        np.zeros(1, dtype=np.intp),
        np.zeros(1, dtype=np.intp),
        *([empty] * 7),
    )


def _polygon_tables(zone: geofence.Zone, geometry: Any) -> _Tables:
    width = zone.max_x - zone.min_x
    height = zone.max_y - zone.min_y
    cell = max(max(width, height) / GRID_CELLS, MIN_CELL_M)
    nx = max(1, math.ceil(width / cell))
    ny = max(1, math.ceil(height / cell))
    params = np.zeros((_PARAMS, 1))
    params[_REF_LAT] = zone.ref_lat
    params[_REF_LON] = zone.ref_lon
    params[_KX] = zone.m_per_deg_lon
    params[_GX] = zone.min_x
    params[_GY] = zone.min_y
    params[_INV_CELL] = 1.0 / cell
    params[_CELL] = cell
    params[_NX1] = nx - 1
    params[_NY1] = ny - 1
    # The box's far sides in cell units, as _classify_block measures a fix's overhang.
    params[_NXF] = width * (1.0 / cell)
    params[_NYF] = height * (1.0 / cell)
    params[_NX] = nx
    params[_A] = 1.0
    params[_IS_POLYGON] = 1.0
    # Cell centres exactly as _classify_block computes them from a cell's indices.
    gx, gy = np.meshgrid(np.arange(nx, dtype=np.float64), np.arange(ny, dtype=np.float64))
    cell_x = zone.min_x + (gx.ravel() + 0.5) * cell
    cell_y = zone.min_y + (gy.ravel() + 0.5) * cell
    distance = shapely.distance(geometry.exterior, shapely.points(cell_x, cell_y))
    inside = shapely.contains_xy(geometry, cell_x, cell_y)
    cell_dc = np.where(inside, -distance, distance)
    # float32 keeps 24 bits: |dc - float32(dc)| <= 2**-24 |dc|; twice that, to be safe.
    params[_SLACK] = BOUND_SLACK_M + float(np.abs(cell_dc).max()) * 2.0**-23
    xs = np.asarray(zone.xs, dtype=np.float64)
    ys = np.asarray(zone.ys, dtype=np.float64)
    jx = np.roll(xs, 1)
    jy = np.roll(ys, 1)
    dx = xs - jx
    dy = ys - jy
    return _Tables(
        params,
        cell_dc.astype(np.float32),
        np.zeros(1, dtype=np.intp),
        np.array([len(xs)], dtype=np.intp),
        jx,
        jy,
        xs,
        ys,
        dx,
        dy,
        dx * dx + dy * dy,
    )


def _concatenate(parts: Sequence[_Tables]) -> _Tables:
    cells = np.array([len(p.cell_dc) for p in parts], dtype=np.intp)
    segments = np.array([len(p.jx) for p in parts], dtype=np.intp)
    params = np.concatenate([p.params for p in parts], axis=1)
    params[_OFFSET] = np.cumsum(cells) - cells
    return _Tables(
        params,
        np.concatenate([p.cell_dc for p in parts]),
        np.cumsum(segments) - segments,
        np.concatenate([p.seg_count for p in parts]),
        *(
            np.concatenate([getattr(p, name) for p in parts])
            for name in ("jx", "jy", "ix", "iy", "dx", "dy", "seg2")
        ),
    )


# --- checking -------------------------------------------------------------------------


def _arrays(lat: ArrayLike, lon: ArrayLike, accuracy_m: ArrayLike) -> tuple[Floats, Floats, Floats]:
    lat_a = np.asarray(lat, dtype=np.float64)
    lon_a = np.asarray(lon, dtype=np.float64)
    acc_a = np.asarray(accuracy_m, dtype=np.float64)
    if not lat_a.shape == lon_a.shape == acc_a.shape:
        raise ValueError("lat, lon and accuracy_m must have the same shape")
    return lat_a, lon_a, acc_a


def _check_fixes(lat_a: Floats, lon_a: Floats, acc_a: Floats) -> None:
    # The comparisons are False for NaN, so NaN is refused too, as core refuses it.
    if lat_a.size and not (
        (lat_a >= -90.0).all()
        and (lat_a <= 90.0).all()
        and (lon_a >= -180.0).all()
        and (lon_a <= 180.0).all()
    ):
        raise ValueError("every fix must lie in -90..90, -180..180")
    if acc_a.size and not (acc_a >= 0.0).all():
        raise ValueError("every accuracy must be 0 or more metres")


def _project(
    tables: _Tables, zone_index: NDArray[np.intp], lat: Floats, lon: Floats
) -> tuple[Floats, Floats]:
    params = tables.params
    x = (lon - params[_REF_LON].take(zone_index)) * params[_KX].take(zone_index)
    y = (lat - params[_REF_LAT].take(zone_index)) * geofence.M_PER_DEG
    return x, y


def _classify(
    tables: _Tables, zone_index: NDArray[np.intp], lat: Floats, lon: Floats, acc: Floats
) -> Verdicts:
    verdicts = np.empty(lat.shape, dtype=np.int8)
    # In blocks that stay in the cache: a big chunk is no slower per fix than a batch.
    for start in range(0, len(lat), CLASSIFY_BLOCK):
        part = slice(start, start + CLASSIFY_BLOCK)
        verdicts[part] = _classify_block(tables, zone_index[part], lat[part], lon[part], acc[part])
    return verdicts


class _Scratch(threading.local):
    """Each thread's working arrays, kept from call to call.

    Fresh temporaries for every batch made glibc give the memory back and fault
    it in again at the next batch: 40 % of the time on the project machine.
    """

    def __init__(self) -> None:
        self.arrays: dict[str, NDArray[Any]] = {}

    def get(self, name: str, n: int, dtype: type[np.generic] = np.float64) -> NDArray[Any]:
        array = self.arrays.get(name)
        if array is None or len(array) < n:
            array = np.empty(max(n, CLASSIFY_BLOCK), dtype=dtype)
            self.arrays[name] = array
        return array[:n]


_SCRATCH = _Scratch()


def _classify_block(
    tables: _Tables, zone_index: NDArray[np.intp], lat: Floats, lon: Floats, acc: Floats
) -> Verdicts:
    params = tables.params
    n = len(zone_index)

    def f64(name: str) -> Floats:
        out: Floats = _SCRATCH.get(name, n)
        return out

    def flag(name: str) -> NDArray[np.bool_]:
        out: NDArray[np.bool_] = _SCRATCH.get(name, n, np.bool_)
        return out

    def param(k: int, name: str = "param") -> Floats:
        # Into the "param" array unless named: use it before asking for the next one.
        out: Floats = params[k].take(zone_index, out=f64(name))
        return out

    x = np.subtract(lon, param(_REF_LON), out=f64("x"))
    x *= param(_KX)
    y = np.subtract(lat, param(_REF_LAT), out=f64("y"))
    y *= geofence.M_PER_DEG
    # The fix in cell units, and its cell (off the grid: the nearest cell; the bound
    # still holds there, only looser).
    gx0 = param(_GX, "gx0")
    gy0 = param(_GY, "gy0")
    size = param(_CELL, "size")
    slack = param(_SLACK, "slack")
    fx = np.subtract(x, gx0, out=f64("fx"))
    fx *= param(_INV_CELL)
    fy = np.subtract(y, gy0, out=f64("fy"))
    fy *= param(_INV_CELL)
    cx = np.maximum(fx, 0.0, out=f64("cx"))
    np.minimum(cx, param(_NX1), out=cx)
    np.floor(cx, out=cx)
    cy = np.maximum(fy, 0.0, out=f64("cy"))
    np.minimum(cy, param(_NY1), out=cy)
    np.floor(cy, out=cy)
    cell_f = np.multiply(cy, param(_NX), out=f64("cell_f"))
    cell_f += cx
    cell_f += param(_OFFSET)
    cell = _SCRATCH.get("cell", n, np.intp)
    cell[...] = cell_f
    dc32 = tables.cell_dc.take(cell, out=_SCRATCH.get("dc32", n, np.float32))
    dc = np.add(dc32, param(_DC0), out=f64("dc"))
    # rho: from the fix to its cell's centre, gx0 + (cx + 0.5) * size.
    rx = cx
    rx += 0.5
    rx *= size
    rx += gx0
    np.subtract(x, rx, out=rx)
    ry = cy
    ry += 0.5
    ry *= size
    ry += gy0
    np.subtract(y, ry, out=ry)
    rx *= rx
    ry *= ry
    rx += ry
    rho = np.sqrt(rx, out=rx)
    # d lies in [dc - A * rho, dc + rho] (A = 1; a circle's A = -1 makes both d).
    upper = np.add(dc, rho, out=f64("upper"))
    upper += slack
    lower = np.multiply(param(_A), rho, out=rho)
    np.subtract(dc, lower, out=lower)
    lower -= slack
    # Off the bounding box by the largest of its overhangs: d >= overhang.
    overhang = np.subtract(fx, param(_NXF), out=f64("overhang"))
    np.maximum(overhang, np.negative(fx, out=fx), out=overhang)
    over_y = np.subtract(fy, param(_NYF), out=f64("over_y"))
    np.maximum(over_y, np.negative(fy, out=fy), out=over_y)
    np.maximum(overhang, over_y, out=overhang)
    overhang *= size
    overhang -= slack
    np.maximum(lower, overhang, out=lower)
    test = flag("test")
    inside = np.less(upper, 0.0, out=flag("inside"))
    inside &= np.greater_equal(np.negative(upper, out=dc), acc, out=test)
    outside = np.greater(lower, 0.0, out=flag("outside"))
    outside &= np.greater_equal(lower, acc, out=test)
    verdicts: Verdicts = inside.view(np.int8) - outside.view(np.int8)  # INSIDE 1, OUTSIDE -1
    # Circles are exact already (an undecided circle is undecided). A polygon's fix is
    # surely undecided when -acc < lower <= d <= upper < acc; else, near an edge, it
    # needs the exact distance.
    settled = np.greater(lower, np.negative(acc, out=dc), out=flag("settled"))
    settled &= np.less(upper, acc, out=test)
    settled |= inside
    settled |= outside
    near = np.flatnonzero(np.greater(param(_IS_POLYGON), 0.5, out=test) & ~settled)
    if near.size:
        d = _exact(tables, zone_index[near], x[near], y[near])
        a = acc[near]
        verdicts[near] = np.where(
            (d < 0.0) & (-d >= a),
            geofence.INSIDE,
            np.where((d > 0.0) & (d >= a), geofence.OUTSIDE, geofence.UNDECIDED),
        )
    return verdicts


def _exact(tables: _Tables, zone_index: NDArray[np.intp], x: Floats, y: Floats) -> Floats:
    """Signed distances of polygon pairs, with core's own operations (geofence._ring_distance)."""
    out = np.empty(x.shape, dtype=np.float64)
    counts = tables.seg_count[zone_index]
    ends = np.cumsum(counts)
    first = 0
    while first < len(x):
        # A block of pairs holding at most EXACT_BLOCK (pair, segment) elements (at least one pair).
        base = ends[first - 1] if first else 0
        last = max(int(np.searchsorted(ends, base + EXACT_BLOCK, side="right")), first + 1)
        out[first:last] = _exact_block(
            tables, zone_index[first:last], x[first:last], y[first:last], counts[first:last]
        )
        first = last
    return out


def _exact_block(
    tables: _Tables,
    zone_index: NDArray[np.intp],
    x: Floats,
    y: Floats,
    counts: NDArray[np.intp],
) -> Floats:
    starts = np.cumsum(counts) - counts
    total = int(counts.sum())

    def f64(name: str) -> Floats:
        out: Floats = _SCRATCH.get("exact_" + name, total)
        return out

    def flag(name: str) -> NDArray[np.bool_]:
        out: NDArray[np.bool_] = _SCRATCH.get("exact_" + name, total, np.bool_)
        return out

    k = np.repeat(tables.seg_start[zone_index] - starts, counts)
    k += np.arange(total)

    def segment(values: Floats, name: str) -> Floats:
        out: Floats = values.take(k, out=f64(name))
        return out

    # The fix (x, y), once for each segment of its zone.
    x_ = np.repeat(x, counts)
    y_ = np.repeat(y, counts)
    jx = segment(tables.jx, "jx")
    jy = segment(tables.jy, "jy")
    dx = segment(tables.dx, "dx")
    dy = segment(tables.dy, "dy")
    px = np.subtract(x_, jx, out=f64("px"))
    py = np.subtract(y_, jy, out=f64("py"))
    # Crossing number: core's x < jx + (y - jy) * (ix - jx) / (iy - jy), where the
    # segment spans y (elsewhere iy == jy may be, and nothing is divided).
    iy = segment(tables.iy, "iy")
    spans = np.greater(iy, y_, out=flag("spans"))
    np.not_equal(spans, np.greater(jy, y_, out=flag("test")), out=spans)
    at = np.multiply(py, dx, out=f64("at"))
    np.divide(at, dy, out=at, where=spans)
    at += jx
    crosses = np.less(x_, at, out=flag("test"))
    crosses &= spans
    # Nearest point of the segment: its start (t <= 0), its end (t >= seg2) or between.
    seg2 = segment(tables.seg2, "seg2")
    t = np.multiply(px, dx, out=f64("t"))
    t += np.multiply(py, dy, out=f64("q"))
    u = np.divide(t, seg2, out=f64("u"))
    qx = np.multiply(u, dx, out=dx)
    np.subtract(px, qx, out=qx)
    qy = np.multiply(u, dy, out=dy)
    np.subtract(py, qy, out=qy)
    after = np.greater_equal(t, seg2, out=flag("after"))
    ix = segment(tables.ix, "ix")
    np.copyto(qx, np.subtract(x_, ix, out=ix), where=after)
    np.copyto(qy, np.subtract(y_, iy, out=iy), where=after)
    before = np.less_equal(t, 0.0, out=after)
    np.copyto(qx, px, where=before)
    np.copyto(qy, py, where=before)
    qx *= qx
    qy *= qy
    qx += qy
    best = np.minimum.reduceat(qx, starts)
    odd = np.bitwise_xor.reduceat(crosses.view(np.uint8), starts)
    distance = np.sqrt(best)
    signed: Floats = np.where(odd == 1, -distance, distance)
    return signed
