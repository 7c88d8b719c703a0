"""The public-interest workflow (公益诉讼) linked to rivers: which step may follow which,
and the deadlines the law sets. Pure: steps and dates in, a verdict or an error out.

Administrative cases (行政公益诉讼), the 2018 interpretation on public-interest litigation
by procuratorates (amended 2020), art. 21: after the procuratorate's pre-litigation
suggestion (诉前检察建议) the agency must act and reply in writing within **two months**,
or **15 days** when the harm is urgent; then the procuratorate follows up (the agency
acted) or sues. Civil cases (民事公益诉讼), art. 13: before suing, a **30-day** public
announcement (公告) so that a body entitled to sue may do so first.

    clue -> opened -> suggestion -> replied -> followed_up -> closed
                                \\-> (no reply by the deadline) -> suit -> judged -> closed
                                           replied -> suit
    civil:  clue -> opened -> announced -> (30 days) -> suit | closed
    any step before closed -> closed (dropped, with a reason)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from cloud.errors import ConflictError, InvalidRequestError

ADMINISTRATIVE = "administrative"
CIVIL = "civil"
VARIANTS = (ADMINISTRATIVE, CIVIL)

STEPS = (
    "clue",
    "opened",
    "suggestion",
    "replied",
    "announced",
    "followed_up",
    "suit",
    "judged",
    "closed",
)
# What may follow each step, by variant.
_NEXT = {
    ADMINISTRATIVE: {
        "clue": ("opened", "closed"),
        "opened": ("suggestion", "closed"),
        "suggestion": ("replied", "suit", "closed"),
        "replied": ("followed_up", "suit", "closed"),
        "followed_up": ("suit", "closed"),
        "suit": ("judged", "closed"),
        "judged": ("closed",),
        "closed": (),
    },
    CIVIL: {
        "clue": ("opened", "closed"),
        "opened": ("announced", "closed"),
        "announced": ("suit", "closed"),
        "suit": ("judged", "closed"),
        "judged": ("closed",),
        "closed": (),
    },
}
REPLY_MONTHS = 2
URGENT_REPLY_DAYS = 15
ANNOUNCEMENT_DAYS = 30


def allowed_after(variant: str, step: str) -> tuple[str, ...]:
    if variant not in VARIANTS:
        raise InvalidRequestError(f"variant {variant!r} is not one of {', '.join(VARIANTS)}")
    return _NEXT[variant].get(step, ())


def check_step(variant: str, current: str, wanted: str) -> None:
    """ConflictError unless ``wanted`` may follow ``current`` in this variant."""
    if wanted not in STEPS:
        raise InvalidRequestError(f"step {wanted!r} is not one of {', '.join(STEPS)}")
    following = allowed_after(variant, current)
    if wanted not in following:
        can = ", ".join(following) or "nothing: the case is closed"
        raise ConflictError(f"a {variant} case at {current} cannot go to {wanted}; next: {can}")


def reply_due(issued: date, urgent: bool) -> date:
    """The last day of an agency's written reply to a pre-litigation suggestion."""
    if urgent:
        return issued + timedelta(days=URGENT_REPLY_DAYS)
    due: date = issued + relativedelta(months=REPLY_MONTHS)
    return due


def announcement_ends(published: date) -> date:
    """The day a civil case's 30-day announcement ends (a suit may be filed after it)."""
    return published + timedelta(days=ANNOUNCEMENT_DAYS)


@dataclass(frozen=True)
class Deadline:
    what: str  # reply | announcement
    due: date
    step: str  # the step it belongs to


def deadline_of(step: str, on: date, urgent: bool) -> Deadline | None:
    """The deadline a step starts, if it starts one."""
    if step == "suggestion":
        return Deadline("reply", reply_due(on, urgent), step)
    if step == "announced":
        return Deadline("announcement", announcement_ends(on), step)
    return None


def check_suit_allowed(variant: str, steps: dict[str, date], on: date) -> None:
    """A civil suit only after the announcement's 30 days (art. 13)."""
    if variant == CIVIL and "announced" in steps:
        ends = announcement_ends(steps["announced"])
        if on <= ends:
            raise ConflictError(
                f"the announcement of {steps['announced']} runs until {ends}: a civil suit "
                "may be filed after it"
            )
