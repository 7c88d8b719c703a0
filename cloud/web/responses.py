"""The error answers routes declare in the OpenAPI schema (``cloud.api.app`` makes them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorOut(BaseModel):
    detail: str


_MEANING = {
    400: "the request body is not in the expected format",
    401: "no bearer token, or a wrong or expired one",
    403: "the caller may not do this",
    404: "no such resource, or one the caller may not see",
    409: "exists already",
    413: "the body is over the size limits",
    422: "invalid parameters",
    503: "InfluxDB or the database is unavailable; retry after Retry-After seconds",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers a route gives."""
    return {code: {"model": ErrorOut, "description": _MEANING[code]} for code in codes}
