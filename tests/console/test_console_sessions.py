"""Console sessions on a real SQLite file: they expire, end at sign-out, never outlive a
deactivated user, and the database never holds the cookie's token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.console import sessions
from cloud.console.models import ConsoleSession
from cloud.db.engine import make_engine, make_sessions
from cloud.identity.models import Role, User
from cloud.identity.service import add_user
from cloud.models import Base

T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
TTL_S = 3600


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'cloud.sqlite3'}")
    Base.metadata.create_all(engine)
    with make_sessions(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def user(db: Session) -> User:
    person = add_user(db, "duty", "a long password here", Role.prosecutor, T0)
    db.commit()
    return person


def test_a_session_lasts_its_lifetime_and_not_a_second_more(db: Session, user: User) -> None:
    token = sessions.open_session(db, user, T0, TTL_S)
    db.commit()
    found = sessions.find_session(db, token, T0 + timedelta(seconds=TTL_S - 1))
    assert found is not None
    assert found.user.username == "duty"
    assert sessions.find_session(db, token, T0 + timedelta(seconds=TTL_S)) is None


def test_the_database_keeps_only_a_digest_of_the_token(db: Session, user: User) -> None:
    token = sessions.open_session(db, user, T0, TTL_S)
    db.commit()
    row = db.scalars(select(ConsoleSession)).one()
    assert token not in (row.token_sha256, row.csrf_token)
    assert sessions.find_session(db, row.token_sha256, T0) is None  # the digest opens nothing


def test_sign_out_and_deactivation_end_a_session(db: Session, user: User) -> None:
    first = sessions.open_session(db, user, T0, TTL_S)
    second = sessions.open_session(db, user, T0, TTL_S)
    db.commit()
    signed_in = sessions.find_session(db, first, T0)
    assert signed_in is not None
    sessions.end_session(db, signed_in.session_id, T0)
    db.commit()
    assert sessions.find_session(db, first, T0) is None
    assert sessions.find_session(db, second, T0) is not None  # another browser stays in
    user.active = False
    db.commit()
    assert sessions.find_session(db, second, T0) is None


def test_csrf_tokens_are_per_session_and_checked_exactly(db: Session, user: User) -> None:
    one = sessions.find_session(db, sessions.open_session(db, user, T0, TTL_S), T0)
    other = sessions.find_session(db, sessions.open_session(db, user, T0, TTL_S), T0)
    assert one is not None
    assert other is not None
    assert sessions.csrf_matches(one, one.csrf_token)
    assert not sessions.csrf_matches(one, other.csrf_token)
    assert not sessions.csrf_matches(one, None)
    assert not sessions.csrf_matches(one, one.csrf_token[:-1])
