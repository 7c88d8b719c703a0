"""Rules every domain's policy builds on: who sees everything, and how a refusal reads.

| role | sees |
| --- | --- |
| administrator, prosecutor | every device, track and site |
| river_chief | what they were granted (``Grant.sites``) |
| lawyer, party | their own cases (a later domain) |

Only an administrator manages people and the registry.
"""

from __future__ import annotations

from cloud.errors import NotFoundError, PermissionDeniedError
from cloud.identity.models import Role
from cloud.identity.principal import Principal

SEES_EVERYTHING = frozenset({Role.administrator, Role.prosecutor})


def sees_everything(principal: Principal) -> bool:
    return principal.role in SEES_EVERYTHING


def require(allowed: bool, what: str) -> None:
    """PermissionDeniedError unless ``allowed``: the role may never do ``what``."""
    if not allowed:
        raise PermissionDeniedError(f"your role may not {what}")


def require_visible(allowed: bool, what: str) -> None:
    """NotFoundError unless ``allowed``: a thing one may not see is not told to exist."""
    if not allowed:
        raise NotFoundError(f"no {what}")
