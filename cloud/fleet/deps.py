"""The gateway behind a request's bearer token, as a route dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cloud.fleet.models import Gateway
from cloud.fleet.service import gateway_of_token
from cloud.web.deps import SessionDep, bearer_token

_gateway_bearer = HTTPBearer(
    scheme_name="GatewayToken",
    description="a gateway's token from `fieldwatch cloud add-gateway`",
    auto_error=False,
)


def current_gateway(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_gateway_bearer)],
    session: SessionDep,
) -> Gateway:
    return gateway_of_token(session, bearer_token(credentials))


GatewayDep = Annotated[Gateway, Depends(current_gateway)]
