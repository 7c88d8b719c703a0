"""The gateway's quarantine, uploaded to the cloud's (``POST /api/v1/gateways/quarantine``).

What the gateway refuses stays in its own quarantine for good; a copy goes to the cloud
so that every message that reached the system is there, as evidence or kept with its
reason, and held records count on their device's completeness. Entries go oldest
first, at most ``MAX_ENTRIES`` and ``MAX_BODY_BYTES`` a request; a mark in the buffer
remembers the last one the cloud answered 200 for. The cloud takes an entry idempotently
by (gateway, entry id), so a resend after a lost answer is harmless.

An upload the cloud refuses as a whole (422, 413) is halved until the entry at fault is
alone; that entry is then kept here only, logged by id and counted
(``..._quarantine_uploaded_total{outcome="refused"}``), and the upload goes on past it.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

from edge.backoff import Backoff
from edge.buffer import Buffer, QuarantineEntry
from edge.cloud import CloudClient, CloudRequestError
from edge.metrics import EdgeMetrics

log = logging.getLogger(__name__)

MAX_ENTRIES = 500  # the cloud's limit per request
MAX_BODY_BYTES = 4 * 1024 * 1024  # the cloud's limit per request
REFUSED_STATUSES = frozenset({413, 422})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def entry_document(entry: QuarantineEntry) -> dict[str, Any]:
    """One entry as the cloud takes it. Control characters in the texts (a topic may
    hold them) are written as ``\\xNN``; the payload goes as it is, in base64."""
    return {
        "id": entry.id,
        "received_at_ms": entry.received_at_ms,
        "topic": _printable(entry.topic),
        "device_id": entry.device_id,
        "code": entry.code,
        "reason": _printable(entry.reason)[:4096],
        "payload_b64": base64.b64encode(entry.payload).decode("ascii"),
    }


def upload_body(gateway_id: str, entries: Sequence[str]) -> bytes:
    """The request's JSON from entries already serialised (``json.dumps`` of each)."""
    return f'{{"gateway_id": {json.dumps(gateway_id)}, "entries": [{", ".join(entries)}]}}'.encode()


def fit(entries: Sequence[str], gateway_id: str, max_bytes: int = MAX_BODY_BYTES) -> int:
    """How many of the first serialised entries make a body within ``max_bytes`` (0 when
    the first alone is too big)."""
    size = len(upload_body(gateway_id, []))
    count = 0
    for entry in entries:
        size += len(entry) + (2 if count else 0)  # and the ", " before it
        if size > max_bytes:
            break
        count += 1
    return count


def _printable(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class QuarantineUploader:
    """Uploads new quarantine entries every ``interval_s``, backing off while the cloud
    cannot take them."""

    def __init__(
        self,
        buffer: Buffer,
        cloud: CloudClient,
        metrics: EdgeMetrics,
        gateway_id: str,
        interval_s: float,
        backoff: Backoff,
    ) -> None:
        self._buffer = buffer
        self._cloud = cloud
        self._metrics = metrics
        self._gateway_id = gateway_id
        self._interval_s = interval_s
        self._backoff = backoff
        self._limit = MAX_ENTRIES

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            stop.wait(self.attempt())

    def attempt(self) -> float:
        """Upload one request's worth; the seconds to wait before the next."""
        entries = self._buffer.quarantine_to_upload(self._limit)
        if not entries:
            self._limit = MAX_ENTRIES
            return self._interval_s
        serialised = [json.dumps(entry_document(e)) for e in entries]
        count = fit(serialised, self._gateway_id)
        if count == 0:
            self._refused(entries[0], f"{len(entries[0].payload)} bytes: over an upload's limit")
            return 0.0
        try:
            answer = self._cloud.upload_quarantine(
                upload_body(self._gateway_id, serialised[:count])
            )
        except CloudRequestError as exc:
            if exc.status in REFUSED_STATUSES:
                if count == 1:
                    self._refused(entries[0], str(exc))
                    return 0.0
                self._limit = max(1, count // 2)
                return 0.0
            wait = self._backoff.next_wait(None)
            log.warning("quarantine upload failed; retry in %.1f s: %s", wait, exc)
            return wait
        self._buffer.mark_uploaded(entries[count - 1].id)
        self._metrics.quarantine_uploads.labels("stored").inc(answer.stored)
        self._metrics.quarantine_uploads.labels("duplicate").inc(answer.duplicates)
        self._backoff.reset()
        if count < len(entries) or len(entries) == self._limit:
            return 0.0  # more waits
        self._limit = MAX_ENTRIES
        return self._interval_s

    def _refused(self, entry: QuarantineEntry, detail: str) -> None:
        log.error(
            "quarantine entry %d (%s) kept at the gateway only; the cloud cannot take it: %s",
            entry.id,
            entry.code,
            detail,
        )
        self._buffer.mark_uploaded(entry.id)
        self._metrics.quarantine_uploads.labels("refused").inc()
        self._limit = MAX_ENTRIES
