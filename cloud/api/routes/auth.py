"""People log in: a username and password for a short-lived bearer token."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from cloud.api.deps import NowDep, PersonDep, ServicesDep, SessionDep
from cloud.api.routes import error_responses
from cloud.api.schemas import PersonOut, TokenOut, TokenRequest
from cloud.auth.passwords import verify_password
from cloud.auth.tokens import issue_access_token
from cloud.db.models import User
from cloud.errors import AuthenticationError

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut, responses=error_responses(401))
def login(body: TokenRequest, session: SessionDep, services: ServicesDep, now: NowDep) -> TokenOut:
    """Exchange a username and password for an access token (Bearer)."""
    user = session.scalar(select(User).where(User.username == body.username))
    if not verify_password(user.password_hash if user else None, body.password):
        raise AuthenticationError("wrong username or password")
    if user is None or not user.active:
        raise AuthenticationError("wrong username or password")
    ttl = services.settings.access_token_ttl_s
    secret = services.settings.secret_key.get_secret_value()
    return TokenOut(access_token=issue_access_token(secret, user.id, now, ttl), expires_in=ttl)


@router.get("/me", response_model=PersonOut, responses=error_responses(401))
def me(person: PersonDep) -> PersonOut:
    """Who the token belongs to, and the sites they watch."""
    return PersonOut(username=person.username, role=person.role, site_ids=sorted(person.site_ids))
