"""The only writer of supervised persons; in the caller's session."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.errors import ConflictError, InvalidRequestError, NotFoundError
from cloud.supervision.models import SupervisedPerson


def add_person(session: Session, reference: str, name: str) -> SupervisedPerson:
    if not 1 <= len(reference) <= 64:
        raise InvalidRequestError("a case reference has 1 to 64 characters")
    if find_person(session, reference) is not None:
        raise ConflictError(f"supervised person {reference} exists")
    person = SupervisedPerson(reference=reference, name=name)
    session.add(person)
    session.flush()
    return person


def find_person(session: Session, reference: str) -> SupervisedPerson | None:
    return session.scalar(select(SupervisedPerson).where(SupervisedPerson.reference == reference))


def get_person(session: Session, reference: str) -> SupervisedPerson:
    person = find_person(session, reference)
    if person is None:
        raise NotFoundError(f"no supervised person {reference}")
    return person
