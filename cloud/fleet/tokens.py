"""Gateways' bearer tokens: random, shown once, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets

GATEWAY_TOKEN_PREFIX = "fwg_"


def new_gateway_token() -> str:
    """A fresh gateway token, 256 random bits."""
    return GATEWAY_TOKEN_PREFIX + secrets.token_urlsafe(32)


def gateway_token_hash(token: str) -> str:
    """SHA-256 is enough here: the token is random, not a password a person chose."""
    return hashlib.sha256(token.encode()).hexdigest()
