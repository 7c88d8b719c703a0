"""Alert causes of supervision, their default severities, and the subject keys that make
"one open alert per person and cause"."""

from __future__ import annotations

from collections.abc import Mapping

# cause: default severity (ThingsBoard's scale without "indeterminate").
DEFAULT_SEVERITIES: Mapping[str, str] = {
    "sos": "critical",
    "strap_opened": "critical",
    "zone_entered": "critical",  # an exclusion zone: a victim's home, a school
    "zone_left": "major",
    "curfew_broken": "major",
    "trip_overdue": "major",
    "power_off": "major",
    "no_fix": "major",
    "gateway_unreachable": "major",
    "term_exceeded": "major",
    "roll_call_missed": "minor",
    "low_battery": "minor",
    "term_ending": "warning",
}
CAUSES = tuple(DEFAULT_SEVERITIES)
ZONE_CAUSES = frozenset({"zone_entered", "zone_left", "curfew_broken"})


def person_key(person_id: int, cause: str, zone_id: int | None = None) -> str:
    """A person's cause; zone causes are per zone (leaving home and entering a school are
    two things to handle)."""
    key = f"person:{person_id}:{cause}"
    return f"{key}:zone:{zone_id}" if zone_id is not None and cause in ZONE_CAUSES else key


def gateway_key(gateway_id: str) -> str:
    return f"gateway:{gateway_id}:gateway_unreachable"
