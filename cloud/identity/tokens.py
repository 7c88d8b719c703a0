"""People's bearer tokens: short-lived JWTs naming the user (the role is read at each request)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from cloud.errors import AuthenticationError

_ALGORITHM = "HS256"
_AUDIENCE = "fieldwatch-api"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    expires_at: datetime


def _signing_key(secret_key: str) -> bytes:
    # A key of its own for this one use, and always 32 bytes whatever the secret's length.
    return hashlib.sha256(b"fieldwatch access token\x00" + secret_key.encode()).digest()


def issue_access_token(secret_key: str, user_id: int, now: datetime, ttl_s: int) -> str:
    """A signed token naming the user; the role is read from the database at each request."""
    claims = {
        "sub": str(user_id),
        "aud": _AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_s)).timestamp()),
    }
    return jwt.encode(claims, _signing_key(secret_key), algorithm=_ALGORITHM)


def read_access_token(secret_key: str, token: str, now: datetime) -> AccessClaims:
    """Check signature, audience and expiry (against the service's clock, ``now``)."""
    try:
        claims = jwt.decode(
            token,
            _signing_key(secret_key),
            algorithms=[_ALGORITHM],
            audience=_AUDIENCE,
            options={"require": ["sub", "exp", "aud"], "verify_exp": False, "verify_iat": False},
        )
        user_id = int(claims["sub"])
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (jwt.InvalidTokenError, ValueError, TypeError, OverflowError, OSError) as exc:
        raise AuthenticationError("the access token is invalid or expired") from exc
    if expires_at <= now:
        raise AuthenticationError("the access token is invalid or expired")
    return AccessClaims(user_id, expires_at)
