"""Password hashes for people: argon2id (argon2-cffi's defaults)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()

MIN_PASSWORD_LENGTH = 12


@cache
def _dummy_hash() -> str:
    """Checked when the user does not exist, so a wrong name costs as long as a wrong password."""
    return _HASHER.hash("fieldwatch-no-such-user")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; also spends the time when there is no hash."""
    try:
        return (
            _HASHER.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False
