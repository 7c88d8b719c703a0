"""People log in: a username and password for a short-lived bearer token."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.identity import service
from cloud.identity.deps import PrincipalDep
from cloud.identity.principal import Grant
from cloud.identity.schemas import PersonOut, TokenOut, TokenRequest
from cloud.identity.tokens import issue_access_token
from cloud.web.deps import NowDep, RuntimeDep, SessionDep
from cloud.web.responses import error_responses

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut, responses=error_responses(401))
def login(body: TokenRequest, session: SessionDep, runtime: RuntimeDep, now: NowDep) -> TokenOut:
    """Exchange a username and password for an access token (Bearer)."""
    user = service.check_login(session, body.username, body.password)
    ttl = runtime.settings.access_token_ttl_s
    secret = runtime.settings.secret_key.get_secret_value()
    return TokenOut(access_token=issue_access_token(secret, user.id, now, ttl), expires_in=ttl)


@router.get("/me", response_model=PersonOut, responses=error_responses(401))
def me(principal: PrincipalDep, session: SessionDep) -> PersonOut:
    """Who the token belongs to, and the sites they watch."""
    sites = sorted(session.scalars(principal.granted(Grant.sites)))
    return PersonOut(username=principal.username, role=principal.role, site_ids=sites)
