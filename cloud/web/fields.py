"""Shapes of values every domain takes in requests and commands."""

from __future__ import annotations

from cloud.errors import InvalidRequestError
from core.errors import CoreError
from core.topics import check_device_id

ID_PATTERN = r"^[a-z][a-z0-9-]{2,31}$"  # the contract's device id scheme, used for every id
# Text that is stored or looked up: no control characters (PostgreSQL refuses NUL).
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]*$"
# Notes and descriptions: plain text over several lines (tabs and line breaks allowed).
TEXT_WITH_LINES = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def check_id(value: str, what: str) -> str:
    """``value`` if it follows the contract's id scheme, else InvalidRequestError."""
    try:
        return check_device_id(value)
    except CoreError as exc:
        raise InvalidRequestError(f"{what} id {value!r}: {exc}") from exc
