"""A database lease: one holder at a time for a named job, taken over once it expires.

Taking or renewing is one conditional UPDATE (the holder, or anyone once it has
expired), or an INSERT the first time; the database decides between racing replicas.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.scheduler.models import SchedulerLease


def acquire(session: Session, name: str, holder: str, now: datetime, ttl_s: float) -> bool:
    """Take or renew the lease for ``ttl_s``; False while another holder's is valid."""
    expires = now + timedelta(seconds=ttl_s)
    result = session.execute(
        update(SchedulerLease)
        .where(
            SchedulerLease.name == name,
            or_(SchedulerLease.holder == holder, SchedulerLease.expires_at < now),
        )
        .values(holder=holder, expires_at=expires, acquired_at=now)
        .execution_options(synchronize_session=False)
    )
    if int(result.rowcount):  # type: ignore[attr-defined]
        return True
    if session.get(SchedulerLease, name) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                SchedulerLease(name=name, holder=holder, acquired_at=now, expires_at=expires)
            )
    except IntegrityError:
        return False  # another replica inserted it first
    return True


def release(session: Session, name: str, holder: str) -> None:
    """Give the lease up now (a clean stop), so another replica need not wait."""
    session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(expires_at=datetime.fromtimestamp(0, UTC))
        .execution_options(synchronize_session=False)
    )
