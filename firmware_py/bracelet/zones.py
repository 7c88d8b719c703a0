"""The wearer's zones on the bracelet: which side of each edge, crossings, warnings.

The config's zones (``core.messages.ConfigZone``) become ``WatchedZone``s: the
geometry as ``core.geofence`` builds it, the windows as ``core.schedule``
builds them, and the side of the edge the wearer is on. ``ZoneWatch.on_fix``
is told every fix and answers with the crossings to record and whether to warn.

Why the dwell: a fix near an edge wanders from one side to the other. Only a
fix whose whole accuracy circle is on one side (``geofence.classify`` INSIDE
or OUTSIDE, "sure") counts, and a zone's side changes only when sure fixes of
the new side have held for ``zone_dwell_s``: every fix in between sure of that
side, none undecided or of the old side. The first side so held after a start,
a new config, or a zone coming into force is a baseline, not a crossing: the
bracelet cannot tell where the wearer was before. A zone out of force (outside
its weekly windows) is not watched.

Why warnings are rationed: a wearer living near the edge of an inclusion zone
would otherwise be buzzed at every fix. A warning is given when a fix comes
within the margin of an inclusion zone's edge from inside, after a fix that
was not, at most once per ``WARN_EVERY_S``; a crossing out of an inclusion zone
or into an exclusion zone always vibrates.
"""

from core import contract as c
from core import geofence, schedule
from core.errors import CoreError

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

WARN_EVERY_S = 600  # near-edge warnings: at most one per 10 minutes
WARN_MS = 400  # a short buzz: near the edge
BREACH_MS = 1000  # a longer one: a crossing out of where the wearer must be was recorded
UNKNOWN = geofence.UNDECIDED  # a zone's side before a baseline


class WatchedZone:
    """One zone of the config as the bracelet watches it."""

    def __init__(self, zone_id: int, inclusion: bool, zone: "Any", windows: "list[Any]") -> None:
        self.zone_id = zone_id
        self.inclusion = inclusion
        self.zone = zone  # core.geofence.Zone
        self.windows = windows  # core.schedule.Window list; empty: always in force
        self.side = UNKNOWN  # geofence.INSIDE / OUTSIDE once held, else UNKNOWN
        self.candidate = UNKNOWN  # the side sure fixes have shown since ``since``
        self.since = 0
        self.near = False  # the last fix was within the warning margin

    def forget(self) -> None:
        """Back to no side (out of force, or a fix that could not be judged)."""
        self.side = UNKNOWN
        self.candidate = UNKNOWN
        self.near = False


def build(config_zones: "list[Any]") -> "list[WatchedZone]":
    """Geometry and windows of each ``ConfigZone``; CoreError naming the zone if one fails."""
    watched = []
    for cz in config_zones:
        try:
            if cz.circle is not None:
                lat_e7, lon_e7, radius_m = cz.circle
                zone = geofence.circle(lat_e7 / 1e7, lon_e7 / 1e7, radius_m)
            else:
                zone = geofence.polygon([(v[0] / 1e7, v[1] / 1e7) for v in cz.polygon])
            windows = [schedule.Window(w[0], w[1], w[2]) for w in cz.windows]
        except CoreError as exc:
            raise CoreError("zone %d: %s" % (cz.zone_id, exc))
        watched.append(WatchedZone(cz.zone_id, cz.inclusion, zone, windows))
    return watched


class ZoneWatch:
    """The zones in force and the wearer's side of each (see the module docstring)."""

    def __init__(self) -> None:
        self.zones: list[WatchedZone] = []
        self._warned_at: "int | None" = None

    def replace(self, zones: "list[WatchedZone]") -> None:
        """A new config's zones: every side starts unknown again."""
        self.zones = zones

    def on_fix(
        self,
        lat_e7: int,
        lon_e7: int,
        accuracy_m: int,
        now: int,
        settings: "Any",
    ) -> "tuple[list[Any], int]":
        """Judge a fix against every zone in force.

        Returns the crossings to record, ``[(event code, WatchedZone), ...]``, and
        the vibration to give in ms (0: none). ``settings`` is the DeviceSettings.
        """
        crossings: list[Any] = []
        if not self.zones:
            return crossings, 0
        lat = lat_e7 / 1e7
        lon = lon_e7 / 1e7
        sow = schedule.local_second_of_week(now, settings.get("utc_offset_min"))
        dwell = settings.get("zone_dwell_s")
        margin = settings.get("zone_warn_margin_m")
        buzz = 0
        near_now = False
        for wz in self.zones:
            if not schedule.active(wz.windows, sow):
                wz.forget()
                continue
            verdict = geofence.classify(wz.zone, lat, lon, accuracy_m)
            code = _held(wz, verdict, now, dwell)
            if code:
                crossings.append((code, wz))
                if (code == c.EV_ZONE_LEFT) == wz.inclusion:
                    buzz = BREACH_MS
            if wz.inclusion and margin > 0:
                # Surely outside is not near from inside: spare the second walk of the edge.
                near = verdict != geofence.OUTSIDE and geofence.near_edge(wz.zone, lat, lon, margin)
                if near and not wz.near:
                    near_now = True
                wz.near = near
        if buzz:
            self._warned_at = now
        elif near_now and (self._warned_at is None or now - self._warned_at >= WARN_EVERY_S):
            self._warned_at = now
            buzz = WARN_MS
        return crossings, buzz


def _held(wz: WatchedZone, verdict: int, now: int, dwell: int) -> int:
    """Update the zone's side with one verdict; the event code of a crossing, or 0."""
    if verdict == UNKNOWN or verdict == wz.side:
        wz.candidate = UNKNOWN  # undecided, or back on the known side: the run is broken
        return 0
    if verdict != wz.candidate:
        wz.candidate = verdict
        wz.since = now
    if now - wz.since < dwell:
        return 0
    was = wz.side
    wz.side = verdict
    wz.candidate = UNKNOWN
    if was == UNKNOWN:
        return 0  # a baseline
    return c.EV_ZONE_ENTERED if verdict == geofence.INSIDE else c.EV_ZONE_LEFT
