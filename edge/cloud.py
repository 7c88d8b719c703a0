"""The gateway's HTTP client for the cloud API (docs/gateway-api.md): the only module
that imports httpx.

Every request carries ``Authorization: Bearer <gateway token>``. Transport errors are
turned into values here: whether the request may have reached the cloud decides
whether a batch is re-planned or resent unchanged (``edge.answers``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from core.forwarding import ForwardBatch, encode_batch
from edge.answers import CloudAnswer, judge_status, not_sent, outcome_unknown
from edge.errors import EdgeError

INGEST_PATH = "/api/v1/ingest"
HEARTBEAT_PATH = "/api/v1/gateways/heartbeat"
DOWNLINK_PATH = "/api/v1/gateways/downlink"
DOWNLINK_ACK_PATH = "/api/v1/gateways/downlink/ack"
QUARANTINE_PATH = "/api/v1/gateways/quarantine"


class CloudRequestError(EdgeError):
    """A heartbeat, downlink or quarantine request failed (unreachable, or an unexpected
    answer). ``status`` is the HTTP status when the cloud answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class UploadedQuarantine:
    """The cloud's answer to a quarantine upload."""

    stored: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class DownlinkMessage:
    """A config or command the cloud wants published to a device."""

    id: str
    device_id: str
    channel: str  # "config" or "cmd"
    payload: bytes


@dataclass(frozen=True, slots=True)
class StoredReport:
    """The body of a 200 answer to a batch, as far as the gateway uses it."""

    rejected: int
    duplicate_batch: bool


class CloudClient:
    """Requests to the cloud over one pooled HTTP client."""

    def __init__(self, base_url: str, token: str, timeout_s: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout_s = timeout_s
        self._http: httpx.Client | None = None

    def start(self) -> None:
        self._http = httpx.Client(
            base_url=self._base_url,
            headers={"Authorization": f"Bearer {self._token}"},
            timeout=httpx.Timeout(self._timeout_s, connect=min(self._timeout_s, 10.0)),
        )

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _client(self) -> httpx.Client:
        if self._http is None:
            raise CloudRequestError("the cloud client is not started")
        return self._http

    def post_batch(self, batch: ForwardBatch) -> tuple[CloudAnswer, StoredReport | None]:
        """Send one batch; the answer says what to do with it."""
        body = encode_batch(batch)
        try:
            response = self._client().post(
                INGEST_PATH,
                content=body,
                headers={"Content-Type": "application/cbor", "Content-Encoding": "gzip"},
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol) as exc:
            return not_sent(f"{type(exc).__name__}: {exc}"), None
        except httpx.TransportError as exc:
            return outcome_unknown(f"{type(exc).__name__}: {exc}"), None
        answer = judge_status(
            response.status_code, response.headers.get("Retry-After"), response.text
        )
        report = _stored_report(response) if response.status_code == 200 else None
        return answer, report

    def heartbeat(self, document: dict[str, Any]) -> None:
        """POST the heartbeat; CloudRequestError unless the cloud answers 200."""
        self._expect_ok(lambda http: http.post(HEARTBEAT_PATH, json=document), "heartbeat")

    def fetch_downlink(self, wait_s: int) -> list[DownlinkMessage]:
        """Long-poll for downlink messages."""
        response = self._expect_ok(
            lambda h: h.get(
                DOWNLINK_PATH, params={"wait_s": wait_s}, timeout=self._timeout_s + wait_s
            ),
            "downlink",
        )
        try:
            document = response.json()
            return [_downlink_message(item) for item in document["messages"]]
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise CloudRequestError(f"downlink answer is malformed: {exc}") from exc

    def ack_downlink(self, ids: list[str]) -> None:
        """Tell the cloud these downlink messages are published on the local broker."""
        self._expect_ok(lambda h: h.post(DOWNLINK_ACK_PATH, json={"ids": ids}), "downlink ack")

    def upload_quarantine(self, body: bytes) -> UploadedQuarantine:
        """POST a quarantine upload (JSON, made by ``edge.uploader``)."""
        response = self._expect_ok(
            lambda h: h.post(
                QUARANTINE_PATH, content=body, headers={"Content-Type": "application/json"}
            ),
            "quarantine upload",
        )
        try:
            document = response.json()
            return UploadedQuarantine(int(document["stored"]), int(document["duplicates"]))
        except (ValueError, KeyError, TypeError):
            # 200 is the cloud's word that it keeps the entries.
            return UploadedQuarantine(0, 0)

    def _expect_ok(
        self, send: Callable[[httpx.Client], httpx.Response], what: str
    ) -> httpx.Response:
        try:
            response = send(self._client())
        except httpx.TransportError as exc:
            raise CloudRequestError(f"{what}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise CloudRequestError(
                f"{what}: HTTP {response.status_code}: {response.text[:200]}",
                response.status_code,
            )
        return response


def _stored_report(response: httpx.Response) -> StoredReport:
    try:
        document = response.json()
        rejected = document.get("rejected", [])
        return StoredReport(len(rejected), bool(document.get("duplicate_batch", False)))
    except (ValueError, AttributeError, TypeError):
        # 200 is the cloud's word that the batch is stored; a body we cannot read
        # changes nothing about that.
        return StoredReport(0, False)


def _downlink_message(item: dict[str, Any]) -> DownlinkMessage:
    channel = item["channel"]
    if channel not in ("config", "cmd"):
        raise ValueError(f"channel {channel!r} is not config or cmd")
    return DownlinkMessage(
        id=str(item["id"]),
        device_id=str(item["device_id"]),
        channel=channel,
        payload=base64.b64decode(item["payload_b64"], validate=True),
    )
