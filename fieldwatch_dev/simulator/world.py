"""Where each wearer is and what each river holds, at any simulated second.

Everything is a pure function of (scenario, seed, device number, time), so a
run is the same for the same seed however fast the broker answers. Random
draws come from ``random.Random`` seeded with text, which Python hashes the
same way on every run (unlike ``hash()`` of a string).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from core import contract as c
from fieldwatch_dev.simulator.scenario import BraceletIncident, River, Scenario, SensorIncident

M_PER_DEG_LAT = 111_320.0
WALK_M_S = 1.3
METRO_M_S = 12.0
DAY_S = 86_400
OUTING_WANDER_M = 100.0  # an ``out_after_curfew`` outing walks about its place


def _rng(seed: int, *parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in (seed, *parts)))


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """A point ``north_m`` / ``east_m`` metres away (flat earth: fine within a county)."""
    dlat = north_m / M_PER_DEG_LAT
    dlon = east_m / (M_PER_DEG_LAT * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    north = (lat2 - lat1) * M_PER_DEG_LAT
    east = (lon2 - lon1) * M_PER_DEG_LAT * math.cos(math.radians(lat1))
    return math.hypot(north, east)


@dataclass(frozen=True)
class WearerState:
    """What a bracelet's hardware senses at one second."""

    lat: float
    lon: float
    speed_cm_s: int
    outdoors: bool  # GNSS has the sky
    strap_closed: bool
    battery_pct: int
    radio_on: bool
    button_pressed: bool
    button_held_ms: int


@dataclass(frozen=True)
class Wearer:
    """One supervised person: a routine, a home, a workplace, and what happens to them."""

    number: int
    routine: str
    home: tuple[float, float]
    work: tuple[float, float]
    loop_m: float
    battery_start: int
    reaction_s: int
    signal_dbm: int
    incidents: tuple[BraceletIncident, ...]


class World:
    """The scenario made concrete for a seed."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self.seed = seed
        self.start_ts = scenario.start_ts
        offset_td = scenario.start.utcoffset()
        self.utc_offset_s = int(offset_td.total_seconds()) if offset_td is not None else 0
        self._wearers: dict[int, Wearer] = {}

    # --- people ---------------------------------------------------------------------

    def wearer(self, number: int) -> Wearer:
        found = self._wearers.get(number)
        if found is None:
            found = self._make_wearer(number)
            self._wearers[number] = found
        return found

    def _make_wearer(self, number: int) -> Wearer:
        s = self.scenario
        rng = _rng(self.seed, "wearer", number)
        weights = [r.share for r in s.routines]
        routine = rng.choices([r.name for r in s.routines], weights)[0]
        district = rng.choice(s.districts)
        home = offset(
            district.lat, district.lon, rng.uniform(-1500, 1500), rng.uniform(-1500, 1500)
        )
        workplace = rng.choice(s.workplaces)
        work = offset(workplace.lat, workplace.lon, rng.uniform(-400, 400), rng.uniform(-400, 400))
        incidents = tuple(i for i in s.bracelet_incidents if i.device == number)
        return Wearer(
            number=number,
            routine=routine,
            home=home,
            work=work,
            loop_m=rng.uniform(200, 900),
            battery_start=rng.randint(55, 100),
            reaction_s=rng.randint(5, 90),
            signal_dbm=rng.randint(-105, -65),
            incidents=incidents,
        )

    def local_s(self, ts: int) -> int:
        """Seconds into the local day (Shanghai time for the shipped scenarios)."""
        return (ts + self.utc_offset_s) % DAY_S

    def wearer_state(self, number: int, ts: int, roll_call_at: int | None) -> WearerState:
        """What bracelet ``number`` senses at ``ts``; ``roll_call_at``: when it last vibrated."""
        w = self.wearer(number)
        lat, lon, speed, outdoors = self._routine_position(w, ts)
        elapsed = ts - self.start_ts
        strap = True
        battery = max(0, w.battery_start - elapsed // 3600)
        radio = True
        pressed = False
        held_ms = 0
        for inc in w.incidents:
            within = inc.at_s <= elapsed < inc.at_s + inc.duration_s
            if inc.kind == "strap_cut" and elapsed >= inc.at_s:
                strap = False
            elif inc.kind == "sos" and inc.at_s <= elapsed < inc.at_s + 4:
                pressed, held_ms = True, (elapsed - inc.at_s) * 1000
            elif inc.kind == "battery_rundown" and elapsed >= inc.at_s:
                span = max(1, inc.duration_s)
                battery = max(0, 25 - (25 * (elapsed - inc.at_s)) // span)
            elif inc.kind == "offline" and within:
                radio = False
            elif inc.kind == "exclusion_zone" and within:
                zone = self.scenario.zone(inc.zone or "")
                lat, lon = self._wander(zone.lat, zone.lon, zone.radius_m / 3, elapsed)
                speed, outdoors = int(WALK_M_S * 40), True
            elif inc.kind == "visit" and within:
                place = self.scenario.place(inc.place or "")
                lat, lon, speed, outdoors = place.lat, place.lon, 0, False
            elif inc.kind == "out_after_curfew" and within:
                place = self.scenario.place(inc.place or "")
                lat, lon = self._wander(place.lat, place.lon, OUTING_WANDER_M, elapsed)
                speed, outdoors = int(WALK_M_S * 100), True
            elif (
                inc.kind == "leave_county"
                and elapsed >= inc.at_s - inc.travel_s
                and (elapsed < inc.at_s + inc.duration_s)
            ):
                place = self.scenario.place(inc.place or "")
                share = min(1.0, (elapsed - (inc.at_s - inc.travel_s)) / inc.travel_s)
                lat = w.home[0] + (place.lat - w.home[0]) * share
                lon = w.home[1] + (place.lon - w.home[1]) * share
                speed, outdoors = (3000 if share < 1 else 0), True
        ignores = any(i.kind == "ignores_roll_calls" for i in w.incidents)
        if roll_call_at is not None and not ignores:
            press_at = roll_call_at + w.reaction_s
            if press_at <= ts < press_at + 1:
                pressed, held_ms = True, 0
        return WearerState(lat, lon, speed, outdoors, strap, int(battery), radio, pressed, held_ms)

    def _routine_position(self, w: Wearer, ts: int) -> tuple[float, float, int, bool]:
        hour = self.local_s(ts) / 3600
        home_lat, home_lon = w.home
        if w.routine == "commuter":
            trip_s = distance_m(*w.home, *w.work) / METRO_M_S
            out_at, back_at = 7.5 * 3600, 17.5 * 3600
            now_s = self.local_s(ts)
            if out_at <= now_s < out_at + trip_s:
                return self._between(w.home, w.work, (now_s - out_at) / trip_s, METRO_M_S)
            if out_at + trip_s <= now_s < back_at:
                return w.work[0], w.work[1], 0, False
            if back_at <= now_s < back_at + trip_s:
                return self._between(w.work, w.home, (now_s - back_at) / trip_s, METRO_M_S)
            return home_lat, home_lon, 0, False
        walks = [(10.0, 11.0)] if w.routine == "homebody" else [(8.0, 11.0), (14.0, 17.0)]
        for begin, end in walks:
            if begin <= hour < end:
                walked = (hour - begin) * 3600 * WALK_M_S
                angle = walked / w.loop_m
                lat, lon = offset(
                    home_lat,
                    home_lon,
                    w.loop_m * math.sin(angle),
                    w.loop_m * (1 - math.cos(angle)),
                )
                return lat, lon, int(WALK_M_S * 100), True
        return home_lat, home_lon, 0, False

    @staticmethod
    def _between(
        a: tuple[float, float], b: tuple[float, float], share: float, speed_m_s: float
    ) -> tuple[float, float, int, bool]:
        return (
            a[0] + (b[0] - a[0]) * share,
            a[1] + (b[1] - a[1]) * share,
            int(speed_m_s * 100),
            True,
        )

    def _wander(self, lat: float, lon: float, radius_m: float, elapsed: int) -> tuple[float, float]:
        angle = elapsed / 120
        return offset(lat, lon, radius_m * math.sin(angle), radius_m * math.cos(angle))

    def bracelet_changes(self, number: int) -> list[int]:
        """Elapsed seconds at which something the bracelet senses changes at once."""
        times: list[int] = []
        for inc in self.wearer(number).incidents:
            times += [inc.at_s, inc.at_s + inc.duration_s]
            if inc.kind == "sos":
                times += [inc.at_s + 2, inc.at_s + 3, inc.at_s + 4]
            if inc.kind == "battery_rundown":
                times += list(range(inc.at_s, inc.at_s + inc.duration_s + 60, 60))
        return sorted(set(times))

    def radio_changes_station(self, number: int) -> list[int]:
        times: list[int] = []
        for inc in self.scenario.sensor_incidents:
            if inc.device == number and inc.kind == "offline":
                times += [inc.at_s, inc.at_s + inc.duration_s]
        return sorted(times)

    # --- rivers -----------------------------------------------------------------------

    def river_of(self, number: int) -> River:
        rivers = self.scenario.rivers
        return rivers[(number - 1) % len(rivers)]

    def station_radio_on(self, number: int, ts: int) -> bool:
        elapsed = ts - self.start_ts
        return not any(
            inc.device == number
            and inc.kind == "offline"
            and inc.at_s <= elapsed < inc.at_s + inc.duration_s
            for inc in self.scenario.sensor_incidents
        )

    def water(self, number: int, ts: int) -> dict[int, tuple[int | None, int]]:
        """What station ``number``'s sonde shows at ``ts``: {parameter id: (wire value, status)}."""
        elapsed = ts - self.start_ts
        incidents = [i for i in self.scenario.sensor_incidents if i.device == number]
        physical = self._physical(number, ts, incidents)
        readings: dict[int, tuple[int | None, int]] = {}
        for pid, (name, _, scale, _, _) in c.WATER_PARAMETERS.items():
            status = c.VALUE_NORMAL
            value = physical[name]
            for inc in incidents:
                within = inc.at_s <= elapsed < inc.at_s + inc.duration_s
                if inc.parameter != name:
                    continue
                if inc.kind == "calibration" and within:
                    status = c.VALUE_CALIBRATING
                elif inc.kind == "stuck" and elapsed >= inc.at_s:
                    value = self._physical(number, self.start_ts + inc.at_s, incidents)[name]
            readings[pid] = (round(value * scale), status)
        return readings

    def _physical(self, number: int, ts: int, incidents: list[SensorIncident]) -> dict[str, float]:
        river = self.river_of(number)
        hour = self.local_s(ts) / 3600
        # Daily cycle: warmest and most oxygen (photosynthesis) mid-afternoon.
        day = math.sin(2 * math.pi * (hour - 9) / 24)
        rng = _rng(self.seed, "water", number, ts // 60)
        noise = {name: 1 + rng.uniform(-0.03, 0.03) for name in _NOISY}
        values = {
            "water_temp": river.water_temp + 1.5 * day,
            "ph": river.ph + 0.15 * day,
            "dissolved_oxygen": river.dissolved_oxygen + 1.2 * day,
            "conductivity": river.conductivity * noise["conductivity"],
            "turbidity": river.turbidity * noise["turbidity"],
            "permanganate_index": river.permanganate_index * noise["permanganate_index"],
            "ammonia_nitrogen": river.ammonia_nitrogen * noise["ammonia_nitrogen"],
            "total_phosphorus": river.total_phosphorus * noise["total_phosphorus"],
            "total_nitrogen": river.total_nitrogen * noise["total_nitrogen"],
        }
        elapsed = ts - self.start_ts
        for inc in incidents:
            if inc.kind != "pollution" or not inc.at_s <= elapsed < inc.at_s + inc.duration_s:
                continue
            # Ramp up over the first fifth, hold, ease off over the last fifth.
            ramp = max(1, inc.duration_s // 5)
            into = elapsed - inc.at_s
            left = inc.at_s + inc.duration_s - elapsed
            level = min(1.0, into / ramp, left / ramp)
            values["ammonia_nitrogen"] += 3.5 * level
            values["total_phosphorus"] += 0.45 * level
            values["permanganate_index"] += 5.0 * level
            values["turbidity"] += 40.0 * level
            values["dissolved_oxygen"] *= 1 - 0.75 * level
        values["dissolved_oxygen"] = max(0.0, values["dissolved_oxygen"])
        return values


_NOISY = (
    "conductivity",
    "turbidity",
    "permanganate_index",
    "ammonia_nitrogen",
    "total_phosphorus",
    "total_nitrogen",
)
