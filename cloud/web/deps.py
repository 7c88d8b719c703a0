"""Dependencies every domain's routes take: the runtime, a database session, the time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session

from cloud.errors import AuthenticationError
from cloud.web.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return cast(Runtime, request.app.state.runtime)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    with runtime.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_now(runtime: RuntimeDep) -> datetime:
    return runtime.clock()


NowDep = Annotated[datetime, Depends(get_now)]


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The token of an ``Authorization: Bearer`` header, or AuthenticationError."""
    if credentials is None or not credentials.credentials:
        raise AuthenticationError("a bearer token is required")
    return credentials.credentials
