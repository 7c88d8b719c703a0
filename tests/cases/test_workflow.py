"""The public-interest workflow's order and the law's deadlines (2018 interpretation on
public-interest litigation by procuratorates, amended 2020: arts. 13 and 21)."""

from __future__ import annotations

from datetime import date

import pytest

from cloud.cases import workflow
from cloud.errors import ConflictError, InvalidRequestError


@pytest.mark.parametrize(
    ("issued", "urgent", "due"),
    [
        (date(2026, 3, 2), False, date(2026, 5, 2)),  # two months
        (date(2026, 12, 31), False, date(2027, 2, 28)),  # no 31 February: the month's last day
        (date(2028, 12, 31), False, date(2029, 2, 28)),
        (date(2027, 12, 31), False, date(2028, 2, 29)),  # a leap year
        (date(2026, 3, 2), True, date(2026, 3, 17)),  # urgent: 15 days
        (date(2026, 12, 20), True, date(2027, 1, 4)),
    ],
)
def test_an_agency_replies_within_two_months_or_fifteen_days_when_urgent(
    issued: date, urgent: bool, due: date
) -> None:
    assert workflow.reply_due(issued, urgent) == due


def test_a_civil_case_is_announced_for_thirty_days_before_a_suit() -> None:
    assert workflow.announcement_ends(date(2026, 6, 1)) == date(2026, 7, 1)
    steps = {"announced": date(2026, 6, 1)}
    with pytest.raises(ConflictError, match="runs until 2026-07-01"):
        workflow.check_suit_allowed(workflow.CIVIL, steps, date(2026, 7, 1))
    workflow.check_suit_allowed(workflow.CIVIL, steps, date(2026, 7, 2))
    workflow.check_suit_allowed(workflow.ADMINISTRATIVE, {}, date(2026, 7, 1))


def test_steps_follow_the_workflow_of_each_variant() -> None:
    workflow.check_step(workflow.ADMINISTRATIVE, "clue", "opened")
    workflow.check_step(workflow.ADMINISTRATIVE, "opened", "suggestion")
    workflow.check_step(workflow.ADMINISTRATIVE, "suggestion", "suit")  # no reply: sue
    workflow.check_step(workflow.ADMINISTRATIVE, "replied", "followed_up")
    workflow.check_step(workflow.CIVIL, "opened", "announced")
    with pytest.raises(ConflictError, match="cannot go to announced"):
        workflow.check_step(workflow.ADMINISTRATIVE, "opened", "announced")
    with pytest.raises(ConflictError, match="cannot go to suggestion"):
        workflow.check_step(workflow.CIVIL, "opened", "suggestion")
    with pytest.raises(ConflictError, match="cannot go to replied; next: opened, closed"):
        workflow.check_step(workflow.ADMINISTRATIVE, "clue", "replied")
    with pytest.raises(ConflictError, match="nothing: the case is closed"):
        workflow.check_step(workflow.CIVIL, "closed", "opened")
    with pytest.raises(InvalidRequestError):
        workflow.check_step(workflow.CIVIL, "clue", "appealed")


def test_every_step_but_closed_can_be_left_and_closed_ends_it() -> None:
    for variant in workflow.VARIANTS:
        for step in workflow.STEPS:
            following = workflow.allowed_after(variant, step)
            if step == "closed":
                assert following == ()
            elif following:
                assert "closed" in following
