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
EXACT_BLOCK = 1 << 18

# One row of parameters per zone in a ZoneSet (columns of _Tables.params).
_REF_LAT, _REF_LON, _KX, _GX, _GY, _INV_CELL, _NX1, _NY1 = range(8)
_BOX_MIN_X, _BOX_MAX_X, _BOX_MIN_Y, _BOX_MAX_Y, _A, _SLACK = range(8, 14)
_PARAMS = 14
# Integer columns (_Tables.ints).
_CELL_OFFSET, _NX, _IS_POLYGON = range(3)


@dataclass(frozen=True)
class _Tables:
    """Zones' parameters, grids and segments as flat arrays, for gathers by zone index."""

    params: Floats  # (zones, _PARAMS)
    ints: NDArray[np.intp]  # (zones, 3)
    cell_dc: Floats  # signed distance of each cell centre, all zones' grids end to end
    cell_x: Floats
    cell_y: Floats
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
    lat_a, lon_a, acc_a = _fixes(lat, lon, accuracy_m)
    zone_index = np.zeros(lat_a.shape, dtype=np.intp)
    return _classify(shape.tables, zone_index, lat_a, lon_a, acc_a)


def classify_pairs(
    zones: ZoneSet,
    zone_index: ArrayLike,
    lat: ArrayLike,
    lon: ArrayLike,
    accuracy_m: ArrayLike,
) -> Verdicts:
    """core.geofence.classify for each pair: fix i against ``zones.shapes[zone_index[i]]``."""
    lat_a, lon_a, acc_a = _fixes(lat, lon, accuracy_m)
    index = np.asarray(zone_index, dtype=np.intp)
    if index.shape != lat_a.shape:
        raise ValueError("zone_index, lat, lon and accuracy_m must have the same shape")
    if index.size and (index.min() < 0 or index.max() >= len(zones.shapes)):
        raise ValueError(f"zone_index must lie in 0..{len(zones.shapes) - 1}")
    return _classify(zones.tables, index, lat_a, lon_a, acc_a)


def signed_distances(shape: ZoneShape, lat: ArrayLike, lon: ArrayLike) -> Floats:
    """core.geofence.signed_distance_m for every fix: < 0 inside, > 0 outside (metres)."""
    lat_a, lon_a, _ = _fixes(lat, lon, np.zeros(np.shape(lat)))
    tables = shape.tables
    zone_index = np.zeros(lat_a.shape, dtype=np.intp)
    x, y = _project(tables, zone_index, lat_a, lon_a)
    if shape.zone.shape == geofence.CIRCLE:
        out: Floats = np.sqrt(x * x + y * y) - shape.zone.radius_m
        return out
    return _exact(tables, zone_index, x, y)


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
    params = np.zeros((1, _PARAMS))
    params[0, _REF_LAT] = zone.ref_lat
    params[0, _REF_LON] = zone.ref_lon
    params[0, _KX] = zone.m_per_deg_lon
    # One cell centred on the centre: d = dc + rho exactly (dc = -radius, A = -1), and
    # an unbounded box, so the box bound is 0 and never decides.
    params[0, _BOX_MIN_X] = params[0, _BOX_MIN_Y] = -math.inf
    params[0, _BOX_MAX_X] = params[0, _BOX_MAX_Y] = math.inf
    params[0, _A] = -1.0
    ints = np.array([[0, 1, 0]], dtype=np.intp)
    empty = np.zeros(0)
    return _Tables(
        params,
        ints,
        np.array([-zone.radius_m]),
        np.zeros(1),
        np.zeros(1),
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
    params = np.zeros((1, _PARAMS))
    params[0, _REF_LAT] = zone.ref_lat
    params[0, _REF_LON] = zone.ref_lon
    params[0, _KX] = zone.m_per_deg_lon
    params[0, _GX] = zone.min_x
    params[0, _GY] = zone.min_y
    params[0, _INV_CELL] = 1.0 / cell
    params[0, _NX1] = nx - 1
    params[0, _NY1] = ny - 1
    params[0, _BOX_MIN_X] = zone.min_x
    params[0, _BOX_MAX_X] = zone.max_x
    params[0, _BOX_MIN_Y] = zone.min_y
    params[0, _BOX_MAX_Y] = zone.max_y
    params[0, _A] = 1.0
    params[0, _SLACK] = BOUND_SLACK_M
    cx, cy = np.meshgrid(
        zone.min_x + (np.arange(nx) + 0.5) * cell, zone.min_y + (np.arange(ny) + 0.5) * cell
    )
    cell_x = cx.ravel()
    cell_y = cy.ravel()
    distance = shapely.distance(geometry.exterior, shapely.points(cell_x, cell_y))
    inside = shapely.contains_xy(geometry, cell_x, cell_y)
    cell_dc = np.where(inside, -distance, distance).astype(np.float64)
    xs = np.asarray(zone.xs, dtype=np.float64)
    ys = np.asarray(zone.ys, dtype=np.float64)
    jx = np.roll(xs, 1)
    jy = np.roll(ys, 1)
    dx = xs - jx
    dy = ys - jy
    return _Tables(
        params,
        np.array([[0, nx, 1]], dtype=np.intp),
        cell_dc,
        cell_x,
        cell_y,
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
    ints = np.concatenate([p.ints for p in parts])
    ints[:, _CELL_OFFSET] = np.cumsum(cells) - cells
    seg_count = np.concatenate([p.seg_count for p in parts])
    return _Tables(
        np.concatenate([p.params for p in parts]),
        ints,
        np.concatenate([p.cell_dc for p in parts]),
        np.concatenate([p.cell_x for p in parts]),
        np.concatenate([p.cell_y for p in parts]),
        np.cumsum(segments) - segments,
        seg_count,
        *(
            np.concatenate([getattr(p, name) for p in parts])
            for name in ("jx", "jy", "ix", "iy", "dx", "dy", "seg2")
        ),
    )


# --- checking -------------------------------------------------------------------------


def _fixes(lat: ArrayLike, lon: ArrayLike, accuracy_m: ArrayLike) -> tuple[Floats, Floats, Floats]:
    lat_a = np.asarray(lat, dtype=np.float64)
    lon_a = np.asarray(lon, dtype=np.float64)
    acc_a = np.asarray(accuracy_m, dtype=np.float64)
    if not lat_a.shape == lon_a.shape == acc_a.shape:
        raise ValueError("lat, lon and accuracy_m must have the same shape")
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
    return lat_a, lon_a, acc_a


def _project(
    tables: _Tables, zone_index: NDArray[np.intp], lat: Floats, lon: Floats
) -> tuple[Floats, Floats]:
    params = tables.params
    x = (lon - params[zone_index, _REF_LON]) * params[zone_index, _KX]
    y = (lat - params[zone_index, _REF_LAT]) * geofence.M_PER_DEG
    return x, y


def _classify(
    tables: _Tables, zone_index: NDArray[np.intp], lat: Floats, lon: Floats, acc: Floats
) -> Verdicts:
    p = tables.params[zone_index]
    x = (lon - p[:, _REF_LON]) * p[:, _KX]
    y = (lat - p[:, _REF_LAT]) * geofence.M_PER_DEG
    # The grid cell (points off the grid take the nearest cell: the bound still holds).
    gx = np.clip((x - p[:, _GX]) * p[:, _INV_CELL], 0.0, p[:, _NX1]).astype(np.intp)
    gy = np.clip((y - p[:, _GY]) * p[:, _INV_CELL], 0.0, p[:, _NY1]).astype(np.intp)
    ints = tables.ints[zone_index]
    cell = ints[:, _CELL_OFFSET] + gy * ints[:, _NX] + gx
    dc = tables.cell_dc[cell]
    rx = x - tables.cell_x[cell]
    ry = y - tables.cell_y[cell]
    rho = np.sqrt(rx * rx + ry * ry)
    slack = p[:, _SLACK]
    upper = dc + rho + slack
    lower = dc - p[:, _A] * rho - slack
    ex = np.maximum(np.maximum(p[:, _BOX_MIN_X] - x, x - p[:, _BOX_MAX_X]), 0.0)
    ey = np.maximum(np.maximum(p[:, _BOX_MIN_Y] - y, y - p[:, _BOX_MAX_Y]), 0.0)
    lower = np.maximum(lower, np.sqrt(ex * ex + ey * ey) - slack)
    inside = (upper < 0.0) & (-upper >= acc)
    outside = (lower > 0.0) & (lower >= acc)
    verdicts = np.zeros(x.shape, dtype=np.int8)
    verdicts[inside] = geofence.INSIDE
    verdicts[outside] = geofence.OUTSIDE
    # Circles are exact already (an undecided circle is undecided); polygons near an
    # edge need the exact distance.
    near = np.flatnonzero(~(inside | outside) & (ints[:, _IS_POLYGON] == 1))
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
    k = np.repeat(tables.seg_start[zone_index] - starts, counts) + np.arange(total)
    px_ = np.repeat(x, counts)
    py_ = np.repeat(y, counts)
    jx = tables.jx[k]
    jy = tables.jy[k]
    ix = tables.ix[k]
    iy = tables.iy[k]
    dx = tables.dx[k]
    dy = tables.dy[k]
    seg2 = tables.seg2[k]
    spans = (iy > py_) != (jy > py_)
    with np.errstate(divide="ignore", invalid="ignore"):
        crosses = spans & (px_ < jx + (py_ - jy) * (ix - jx) / (iy - jy))
        px = px_ - jx
        py = py_ - jy
        t = px * dx + py * dy
        before = t <= 0.0
        after = t >= seg2
        u = t / seg2
    qx = np.where(after, px_ - ix, px - u * dx)
    qy = np.where(after, py_ - iy, py - u * dy)
    qx = np.where(before, px, qx)
    qy = np.where(before, py, qy)
    d2 = qx * qx + qy * qy
    best = np.minimum.reduceat(d2, starts)
    odd = np.add.reduceat(crosses.astype(np.intp), starts) & 1
    distance = np.sqrt(best)
    signed: Floats = np.where(odd == 1, -distance, distance)
    return signed
