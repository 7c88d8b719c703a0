"""The signed-in person behind a request's bearer token, as a route dependency.

The grants' subqueries come from ``app.state.grant_queries``, which the API wiring
fills from the domains that keep the assignments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cloud.identity.models import Role, User
from cloud.identity.principal import Grant, GrantQuery, Principal, principal_of
from cloud.identity.service import active_user
from cloud.identity.tokens import read_access_token
from cloud.web.deps import RuntimeDep, SessionDep, bearer_token

_person_bearer = HTTPBearer(
    scheme_name="PersonToken",
    description="a person's access token from POST /api/v1/auth/token",
    auto_error=False,
)


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_person_bearer)],
    session: SessionDep,
    runtime: RuntimeDep,
) -> Principal:
    secret = runtime.settings.secret_key.get_secret_value()
    claims = read_access_token(secret, bearer_token(credentials), runtime.clock())
    return principal_for(request, active_user(session, claims.user_id))


def principal_for(request: Request, user: User) -> Principal:
    """The principal of a signed-in user, with the grants the app is wired with."""
    grant_queries = cast(Mapping[Grant, GrantQuery], request.app.state.grant_queries)
    return principal_of(user.id, user.username, Role(user.role), grant_queries)


PrincipalDep = Annotated[Principal, Depends(current_principal)]
