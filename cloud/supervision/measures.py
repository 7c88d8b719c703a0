"""Legal measures and their terms (Criminal Procedure Law arts. 79, 78; Community
Corrections Law art. 29). Pure: dates in, a verdict or an error out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from cloud.errors import InvalidRequestError


class Measure(StrEnum):
    bail = "bail"  # 取保候审
    residential_surveillance = "residential_surveillance"  # 监视居住
    corrections_ep = "corrections_ep"  # 社区矫正 电子定位


@dataclass(frozen=True)
class MeasureRule:
    label: str
    max_months: int
    renewal_months: int  # 0: no renewal; else at most this much each time, after review
    basis: str


RULES = {
    Measure.bail: MeasureRule("取保候审", 12, 0, "刑事诉讼法 第七十九条"),
    Measure.residential_surveillance: MeasureRule("监视居住", 6, 0, "刑事诉讼法 第七十九条"),
    Measure.corrections_ep: MeasureRule("社区矫正电子定位", 3, 3, "社区矫正法 第二十九条"),
}


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has none."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def check_term(measure: Measure, start: date, end: date) -> None:
    """InvalidRequestError unless ``end`` is after ``start`` and within the measure's limit."""
    if end <= start:
        raise InvalidRequestError("a term ends after it starts")
    rule = RULES[measure]
    longest = add_months(start, rule.max_months)
    if end > longest:
        raise InvalidRequestError(
            f"{measure.value} lasts at most {rule.max_months} months: "
            f"from {start.isoformat()} until {longest.isoformat()} at the latest"
        )


def check_renewal(measure: Measure, current_end: date, new_end: date) -> None:
    """InvalidRequestError unless the measure may be renewed this far."""
    rule = RULES[measure]
    if not rule.renewal_months:
        raise InvalidRequestError(f"{measure.value} is not renewed; a new decision is needed")
    if new_end <= current_end:
        raise InvalidRequestError("a renewal ends after the current term")
    longest = add_months(current_end, rule.renewal_months)
    if new_end > longest:
        raise InvalidRequestError(
            f"a renewal adds at most {rule.renewal_months} months: "
            f"until {longest.isoformat()} at the latest"
        )
