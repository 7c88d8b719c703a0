"""What the gateway does with each answer of the cloud (docs/gateway-api.md). Pure.

The key distinction is whether the cloud may have stored the batch:

- it certainly did not (connection refused, 429, 503, 401, 403, 413): the batch is
  released, its messages wait again and the next batch is planned afresh, so events
  that arrived meanwhile go first;
- it may have (a timeout or a broken connection after the request was sent, a 500
  or 502 or 504): the very same batch, same id and same messages, is sent again, and
  the cloud's batch-id check makes the retry harmless.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import Enum

MAX_RETRY_AFTER_S = 3600.0


class Action(Enum):
    """The forwarder's next move after one attempt."""

    DELETE = "delete"  # stored: delete the batch from the buffer
    RELEASE_AND_RETRY = "release"  # certainly not stored: re-plan, back off
    RESEND_SAME = "resend"  # maybe stored: send the same batch again, back off
    SPLIT = "split"  # too large: re-plan with smaller batches
    QUARANTINE = "quarantine"  # the cloud refuses the format: keep the batch in quarantine


@dataclass(frozen=True, slots=True)
class CloudAnswer:
    """One attempt's outcome: the action, and what the log and metrics say about it."""

    action: Action
    outcome: str  # metric label: "stored", "503", "refused", "timeout", ...
    detail: str
    retry_after_s: float | None = None
    alert: bool = False  # a person must act (credentials, configuration)


def judge_status(status: int, retry_after: str | None, body: str) -> CloudAnswer:
    """Map an HTTP answer to ``POST /api/v1/ingest`` to an action."""
    detail = f"HTTP {status}: {body[:200]}"
    if status == 200:
        return CloudAnswer(Action.DELETE, "stored", detail)
    if status == 400:
        return CloudAnswer(Action.QUARANTINE, "400", detail, alert=True)
    if status == 413:
        return CloudAnswer(Action.SPLIT, "413", detail)
    if status in (429, 503):
        return CloudAnswer(
            Action.RELEASE_AND_RETRY, str(status), detail, parse_retry_after(retry_after)
        )
    if status in (401, 403):
        return CloudAnswer(Action.RELEASE_AND_RETRY, str(status), detail, alert=True)
    if status >= 500:
        return CloudAnswer(Action.RESEND_SAME, "5xx", detail, parse_retry_after(retry_after))
    # 404, 405, a 3xx...: the gateway is pointed at something that is not the ingest API.
    return CloudAnswer(Action.RELEASE_AND_RETRY, "unexpected", detail, alert=True)


def not_sent(detail: str) -> CloudAnswer:
    """The request never reached the cloud (refused, unreachable, connect timeout)."""
    return CloudAnswer(Action.RELEASE_AND_RETRY, "unreachable", detail)


def outcome_unknown(detail: str) -> CloudAnswer:
    """The request may have reached the cloud, but no answer came back."""
    return CloudAnswer(Action.RESEND_SAME, "no_answer", detail)


def parse_retry_after(value: str | None, now_s: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or HTTP date), capped at an hour."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    now = time.time() if now_s is None else now_s
    return max(0.0, min(when.timestamp() - now, MAX_RETRY_AFTER_S))
