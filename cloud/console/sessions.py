"""Sign-in sessions of the console: open, find, end. The only writer of ``ConsoleSession``.

The browser holds a random token in an HttpOnly cookie; the database holds its SHA-256.
A session lasts ``console_session_ttl_s`` from sign-in, and ends at sign-out. Each has
its own CSRF token, which every form of the console carries and every POST is checked
against (``csrf_matches``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.console.models import ConsoleSession
from cloud.identity.models import User

COOKIE = "fieldwatch_session"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """What a page needs of the session behind a request."""

    session_id: int
    user: User
    csrf_token: str
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user: User, now: datetime, ttl_s: int) -> str:
    """Start a session for ``user``; the cookie's token (shown once, never stored)."""
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_sha256=_digest(token),
            csrf_token=secrets.token_urlsafe(32),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
    )
    return token


def find_session(session: Session, token: str | None, now: datetime) -> SignedIn | None:
    """The live session of this cookie token, with its active user; None otherwise."""
    if not token:
        return None
    row = session.execute(
        select(ConsoleSession, User)
        .join(User, User.id == ConsoleSession.user_id)
        .where(
            ConsoleSession.token_sha256 == _digest(token),
            ConsoleSession.ended_at.is_(None),
            ConsoleSession.expires_at > now,
            User.active.is_(True),
        )
    ).first()
    if row is None:
        return None
    console_session, user = row
    return SignedIn(
        console_session.id, user, console_session.csrf_token, console_session.expires_at
    )


def end_session(session: Session, session_id: int, now: datetime) -> None:
    """Sign out: the session's cookie opens nothing from now on."""
    row = session.get(ConsoleSession, session_id)
    if row is not None and row.ended_at is None:
        row.ended_at = now


def csrf_matches(signed_in: SignedIn, submitted: str | None) -> bool:
    """Whether a form's CSRF token is this session's (compared in constant time)."""
    return csrf_token_matches(signed_in.csrf_token, submitted)


def csrf_token_matches(expected: str, submitted: str | None) -> bool:
    return submitted is not None and hmac.compare_digest(expected.encode(), submitted.encode())
