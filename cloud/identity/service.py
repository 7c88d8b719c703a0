"""The only writer of people; sign-in checks. Each function works in the caller's session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.errors import AuthenticationError, ConflictError, InvalidRequestError, NotFoundError
from cloud.identity.models import Role, User
from cloud.identity.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password


def add_user(
    session: Session,
    username: str,
    password: str,
    role: Role,
    now: datetime,
    approval_level: str | None = None,
) -> User:
    """Add a person who signs in; the password is kept as an argon2id hash only.

    ``approval_level`` ("local" or "county") lets a prosecutor or administrator approve
    supervised persons' trips of that level."""
    if approval_level not in (None, "local", "county"):
        raise InvalidRequestError("an approval level is local or county")
    if not 1 <= len(username) <= 64:
        raise InvalidRequestError("a username has 1 to 64 characters")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequestError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if find_user(session, username) is not None:
        raise ConflictError(f"user {username} exists")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role.value,
        active=True,
        created_at=now,
        approval_level=approval_level,
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def get_user(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise NotFoundError(f"no user {username}")
    return user


def check_login(session: Session, username: str, password: str) -> User:
    """The active user with this name and password; one answer for every wrong case."""
    user = find_user(session, username)
    if not verify_password(user.password_hash if user else None, password):
        raise AuthenticationError("wrong username or password")
    if user is None or not user.active:
        raise AuthenticationError("wrong username or password")
    return user


def active_user(session: Session, user_id: int) -> User:
    """The user a valid token names, if still active."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise AuthenticationError("the account is unknown or disabled")
    return user
