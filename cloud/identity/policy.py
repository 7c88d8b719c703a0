"""Rules every domain's policy builds on: who sees everything, and how a refusal reads.

| role | sees |
| --- | --- |
| administrator, prosecutor | every device, track and site |
| river_chief | what they were granted (``Grant.sites``) |
| lawyer, party | their own cases (a later domain) |

Only an administrator manages people and the registry.
"""

from __future__ import annotations

from typing import TypeVar

from cloud.errors import NotFoundError, PermissionDeniedError
from cloud.identity.models import Role
from cloud.identity.principal import Principal

T = TypeVar("T")

SEES_EVERYTHING = frozenset({Role.administrator, Role.prosecutor})


def sees_everything(principal: Principal) -> bool:
    return principal.role in SEES_EVERYTHING


def require(allowed: bool, what: str) -> None:
    """PermissionDeniedError unless ``allowed``: the role may never do ``what``."""
    if not allowed:
        raise PermissionDeniedError(f"your role may not {what}")


def visible(found: T | None, what: str) -> T:
    """``found``, or NotFoundError when the filtered query found nothing the caller may see."""
    if found is None:
        raise NotFoundError(f"no {what}")
    return found
