"""The authenticated caller, as every domain's policy sees it.

A role says what kind of person someone is; a **grant** says which things of a kind
they were given: a river chief's monitoring sites today, a lawyer's cases later. A
grant is held as a SQL subquery of the ids granted, built by the domain that keeps
the assignments (``cloud.api`` wires them in), so a policy filters a list by it inside
the list's own query, and no list of ids is ever loaded to be checked in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, false, literal, select

from cloud.identity.models import Role


class Grant(StrEnum):
    """Kinds of things a person may be given, beyond what their role shows them."""

    sites = "sites"  # river monitoring sites (rivers: a river chief's assignments)
    rivers = "rivers"  # rivers (a river chief's: those they chair)
    cases = "cases"  # cases (a river chief's: the public-interest cases of their rivers)


# Given a user id, the subquery of the ids of one grant that user holds.
GrantQuery = Callable[[int], Select[Any]]


@dataclass(frozen=True)
class Principal:
    """An authenticated person: who, what role, and the grants' subqueries."""

    user_id: int
    username: str
    role: Role
    grants: Mapping[Grant, Select[Any]] = field(default_factory=dict)

    def granted(self, grant: Grant) -> Select[Any]:
        """The ids of ``grant`` this person holds, as a subquery (empty when none)."""
        query = self.grants.get(grant)
        return query if query is not None else select(literal(None)).where(false())


def principal_of(
    user_id: int, username: str, role: Role, grant_queries: Mapping[Grant, GrantQuery]
) -> Principal:
    """The principal of a user, with every grant the deployment knows of."""
    grants = {grant: query(user_id) for grant, query in grant_queries.items()}
    return Principal(user_id, username, role, grants)
