"""Who may see what. Pure: the rules take the caller and the thing, never the database.

| role | devices | tracks | river sites |
| --- | --- | --- | --- |
| administrator, prosecutor | all | all | all |
| river_chief | river stations of their sites | none | their sites |
| lawyer, party | none (they see their own cases, a later feature) | none | none |

Only an administrator manages the registry; administrators and prosecutors send
config to devices.
"""

from __future__ import annotations

from dataclasses import dataclass

from cloud.db.models import Role
from cloud.errors import NotFoundError, PermissionDeniedError

_SEE_EVERYTHING = frozenset({Role.administrator, Role.prosecutor})


@dataclass(frozen=True, slots=True)
class Person:
    """An authenticated person: their role and, for a river chief, their sites."""

    user_id: int
    username: str
    role: Role
    site_ids: frozenset[str]


def may_list_devices(person: Person) -> bool:
    return person.role in _SEE_EVERYTHING or person.role is Role.river_chief


def may_see_device(person: Person, site_id: str | None) -> bool:
    if person.role in _SEE_EVERYTHING:
        return True
    return person.role is Role.river_chief and site_id is not None and site_id in person.site_ids


def may_read_tracks(person: Person) -> bool:
    return person.role in _SEE_EVERYTHING


def may_list_sites(person: Person) -> bool:
    return person.role in _SEE_EVERYTHING or person.role is Role.river_chief


def may_see_site(person: Person, site_id: str) -> bool:
    if person.role in _SEE_EVERYTHING:
        return True
    return person.role is Role.river_chief and site_id in person.site_ids


def may_configure_devices(person: Person) -> bool:
    return person.role in _SEE_EVERYTHING


def require(allowed: bool, what: str) -> None:
    """PermissionDeniedError unless ``allowed``: the role may never do ``what``."""
    if not allowed:
        raise PermissionDeniedError(f"your role may not {what}")


def require_visible(allowed: bool, what: str) -> None:
    """NotFoundError unless ``allowed``: a thing one may not see is not told to exist."""
    if not allowed:
        raise NotFoundError(f"no {what}")
