"""Scenario files: what the simulated fleet does, as data (JSON, checked on load)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCENARIO_DIR = Path(__file__).parent / "scenarios"
DEFAULT_SCENARIO = SCENARIO_DIR / "shanghai.json"


class ScenarioError(ValueError):
    """A scenario file that cannot be read or does not describe a fleet."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Place(_Strict):
    """A named point, WGS-84 degrees."""

    name: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Zone(_Strict):
    """A circle: an exclusion zone, or the county a wearer must stay in."""

    name: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: int = Field(gt=0)


class Routine(_Strict):
    """A way of spending the day, given to ``share`` of the wearers."""

    name: Literal["walker", "commuter", "homebody"]
    share: float = Field(gt=0)


class BraceletIncident(_Strict):
    """Something that happens to one bracelet (``device`` is its 1-based number).

    kinds: ``strap_cut`` (at ``at_s``), ``sos`` (button held at ``at_s``),
    ``battery_rundown`` (the charge runs out over ``duration_s`` from ``at_s``),
    ``offline`` (no radio from ``at_s`` for ``duration_s``), ``exclusion_zone``
    (walks into ``zone`` at ``at_s``, stays ``duration_s``), ``leave_county``
    (travels to ``place`` over the ``travel_s`` before ``at_s``, stays ``duration_s``,
    then is home again), ``out_after_curfew`` (out of doors, walking about ``place``
    from ``at_s`` for ``duration_s``: whether that breaks a curfew is for the zones given
    to the wearer to say), ``visit`` (indoors at ``place`` from ``at_s`` for
    ``duration_s``: a shop, a friend's flat, on cell or Wi-Fi fixes), ``ignores_roll_calls``.
    """

    kind: Literal[
        "strap_cut",
        "sos",
        "battery_rundown",
        "offline",
        "exclusion_zone",
        "leave_county",
        "out_after_curfew",
        "visit",
        "ignores_roll_calls",
    ]
    device: int = Field(ge=1)
    at_s: int = Field(default=0, ge=0)
    duration_s: int = Field(default=0, ge=0)
    zone: str | None = None
    place: str | None = None
    travel_s: int = Field(default=3600, gt=0)


class River(_Strict):
    """A river's usual water (physical units) that its stations measure around."""

    name: str
    lat: float
    lon: float
    water_temp: float
    ph: float
    dissolved_oxygen: float
    conductivity: float
    turbidity: float
    permanganate_index: float
    ammonia_nitrogen: float
    total_phosphorus: float
    total_nitrogen: float


class SensorIncident(_Strict):
    """Something that happens at one river station (``device``: its 1-based number).

    kinds: ``pollution`` (ammonia and phosphorus up, oxygen down, from ``at_s``
    for ``duration_s``), ``calibration`` (the sonde reports ``parameter`` as
    calibrating), ``stuck`` (``parameter`` freezes at its value of ``at_s``),
    ``offline`` (no radio).
    """

    kind: Literal["pollution", "calibration", "stuck", "offline"]
    device: int = Field(ge=1)
    at_s: int = Field(default=0, ge=0)
    duration_s: int = Field(default=0, ge=0)
    parameter: str | None = None


class Scenario(_Strict):
    """A whole scenario: when it starts, where people live and go, the rivers, the incidents."""

    name: str
    description: str = ""
    start: datetime
    districts: list[Place] = Field(min_length=1)
    workplaces: list[Place] = Field(min_length=1)
    places: list[Place] = []
    zones: list[Zone] = []
    county: Zone
    routines: list[Routine] = Field(min_length=1)
    bracelet_incidents: list[BraceletIncident] = []
    rivers: list[River] = Field(min_length=1)
    sensor_incidents: list[SensorIncident] = []

    @property
    def start_ts(self) -> int:
        return int(self.start.timestamp())

    def zone(self, name: str) -> Zone:
        for zone in self.zones:
            if zone.name == name:
                return zone
        raise ScenarioError(f"no zone named {name!r}")

    def place(self, name: str) -> Place:
        for place in (*self.places, *self.districts, *self.workplaces):
            if place.name == name:
                return place
        raise ScenarioError(f"no place named {name!r}")


def load_scenario(path: Path | None = None) -> Scenario:
    """Read and check a scenario file (the Shanghai default when ``path`` is None)."""
    path = path or DEFAULT_SCENARIO
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        scenario = Scenario.model_validate(data)
    except (OSError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    except ValidationError as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    if scenario.start.tzinfo is None:
        raise ScenarioError(f"{path}: start needs a time zone (e.g. 2026-03-02T06:00:00+08:00)")
    for incident in scenario.bracelet_incidents:
        needs = {
            "exclusion_zone": "zone",
            "leave_county": "place",
            "out_after_curfew": "place",
            "visit": "place",
        }
        wanted = needs.get(incident.kind)
        if wanted is not None and getattr(incident, wanted) is None:
            raise ScenarioError(f"{path}: a {incident.kind} incident names its {wanted}")
        if incident.zone is not None:
            scenario.zone(incident.zone)
        if incident.place is not None:
            scenario.place(incident.place)
    return scenario
