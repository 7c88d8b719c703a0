"""Dependencies of the routes: services, a database session, the caller, the time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.api.services import Services
from cloud.auth.access import Person
from cloud.auth.tokens import gateway_token_hash, read_access_token
from cloud.db.models import Gateway, Role, SiteAssignment, User
from cloud.errors import AuthenticationError

_person_bearer = HTTPBearer(
    scheme_name="PersonToken",
    description="a person's access token from POST /api/v1/auth/token",
    auto_error=False,
)
_gateway_bearer = HTTPBearer(
    scheme_name="GatewayToken",
    description="a gateway's token from `fieldwatch cloud add-gateway`",
    auto_error=False,
)


def get_services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    with services.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_now(services: ServicesDep) -> datetime:
    return services.clock()


NowDep = Annotated[datetime, Depends(get_now)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise AuthenticationError("a bearer token is required")
    return credentials.credentials


def current_gateway(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_gateway_bearer)],
    session: SessionDep,
) -> Gateway:
    token = _token(credentials)
    gateway = session.scalar(select(Gateway).where(Gateway.token_hash == gateway_token_hash(token)))
    if gateway is None:
        raise AuthenticationError("unknown gateway token")
    return gateway


GatewayDep = Annotated[Gateway, Depends(current_gateway)]


def current_person(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_person_bearer)],
    session: SessionDep,
    services: ServicesDep,
) -> Person:
    secret = services.settings.secret_key.get_secret_value()
    claims = read_access_token(secret, _token(credentials), services.clock())
    user = session.get(User, claims.user_id)
    if user is None or not user.active:
        raise AuthenticationError("the account is unknown or disabled")
    site_ids = session.scalars(
        select(SiteAssignment.site_id).where(SiteAssignment.user_id == user.id)
    )
    return Person(user.id, user.username, Role(user.role), frozenset(site_ids))


PersonDep = Annotated[Person, Depends(current_person)]
