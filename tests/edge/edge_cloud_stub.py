"""A small but real cloud for gateway tests: an HTTP server speaking docs/gateway-api.md.

It decodes every batch with ``core.forwarding.decode_batch`` and every payload with
``core.receiver.decode``, stores each record once per (device, boot, seq) and counts
how often each one was *stored* (a batch id seen before is answered
``duplicate_batch`` and stores nothing, as the real cloud does). It can be taken down
(its listener closed: connection refused) and brought back on the same port, it can
be told to answer 503 or 429 with Retry-After for a number of requests, and to answer
413 to any batch of more than ``max_readings`` readings (a device batch counts its
items, any other message 1).
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from core.errors import DecodeError
from core.forwarding import BatchFormatError, decode_batch
from core.messages import Batch, Message, Status
from core.receiver import decode
from fieldwatch_dev.local import free_port

TOKEN = "dev-gateway-token"

RecordKey = tuple[str, int, int]  # (device, boot, seq)
T = TypeVar("T")


@dataclass(frozen=True)
class Arrival:
    """A record stored: which batch (in storing order) brought it, and its kind."""

    batch_index: int
    key: RecordKey
    kind: int
    channel: str


@dataclass
class Attempt:
    at: float  # time.monotonic() when the request came in
    status: int
    batch_id: str
    readings: int = 0  # in the request: a device batch counts its items, any other message 1


@dataclass
class StubState:
    stored: Counter[RecordKey] = field(default_factory=Counter)
    records: dict[RecordKey, Message] = field(default_factory=dict)  # the last stored of each
    arrivals: list[Arrival] = field(default_factory=list)
    statuses: list[tuple[str, Status]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (device, code)
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    scripted: list[tuple[int, int | None]] = field(default_factory=list)  # (status, retry_after)
    downlink: dict[str, dict[str, str]] = field(default_factory=dict)
    downlink_acks: list[str] = field(default_factory=list)
    quarantine: dict[int, dict[str, Any]] = field(default_factory=dict)  # uploads by entry id
    quarantine_uploads: int = 0
    quarantine_refused: set[int] = field(default_factory=set)  # uploads holding these: 422
    max_readings: int | None = None  # larger batches are answered 413
    unanswered: int = 0  # the next batches are stored, and the answer held back


class CloudStub:
    """Start with ``start()``; ``down()`` / ``up()`` for outages; ``stop()`` at the end."""

    def __init__(self, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self.port = free_port()
        self.state = StubState()
        self._lock = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        stub = self

        class Handler(_Handler):
            cloud = stub

        server = _Server(("127.0.0.1", self.port), Handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="cloud-stub")
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            # Kept-alive connections outlive the listener; a cloud that goes away drops them.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._server = None
            self._thread = None
            self._lock.notify_all()  # answers held back are let go, into closed connections

    down = stop  # connection refused from now on
    up = start

    # -- scripting and reading ---------------------------------------------------------

    def answer_busy(self, answers: list[tuple[int, int | None]]) -> None:
        """The next ingest requests get these (status, Retry-After) answers, in order."""
        with self._lock:
            self.state.scripted.extend(answers)

    def store_without_answering(self, count: int = 1) -> None:
        """Store the next ``count`` new batches, then hold each answer back until the stub
        goes down: the gateway cannot know whether they were stored."""
        with self._lock:
            self.state.unanswered += count

    def refuse_quarantine_entry(self, entry_id: int) -> None:
        """Answer 422 to any quarantine upload that holds this entry."""
        with self._lock:
            self.state.quarantine_refused.add(entry_id)

    def refuse_larger_than(self, readings: int) -> None:
        """From now on, answer 413 to a batch of more than ``readings`` readings."""
        with self._lock:
            self.state.max_readings = readings

    def offer_downlink(self, message_id: str, device_id: str, channel: str, payload: bytes) -> None:
        with self._lock:
            self.state.downlink[message_id] = {
                "id": message_id,
                "device_id": device_id,
                "channel": channel,
                "payload_b64": base64.b64encode(payload).decode(),
            }

    def read(self, view: Callable[[StubState], T]) -> T:
        with self._lock:
            return view(self.state)

    def wait_for(self, condition: Callable[[StubState], bool], timeout: float) -> bool:
        """Wait until ``condition`` holds (re-checked at every change); False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: condition(self.state), timeout)

    # -- request handling (server threads) ---------------------------------------------

    def handle_ingest(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            batch = decode_batch(body)
        except BatchFormatError as exc:
            return 400, {}, json.dumps({"detail": str(exc)}).encode()
        readings = sum(_readings(item.payload, item.channel) for item in batch.items)
        with self._lock:
            state = self.state
            if state.scripted:
                status, retry_after = state.scripted.pop(0)
                state.attempts.append(Attempt(time.monotonic(), status, batch.batch_id, readings))
                headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
                self._lock.notify_all()
                return status, headers, b'{"detail": "busy"}'
            if state.max_readings is not None and readings > state.max_readings:
                state.attempts.append(Attempt(time.monotonic(), 413, batch.batch_id, readings))
                self._lock.notify_all()
                return 413, {}, b'{"detail": "too large"}'
            state.attempts.append(Attempt(time.monotonic(), 200, batch.batch_id, readings))
            if batch.gateway_id != self.gateway_id:
                return 403, {}, b'{"detail": "wrong gateway"}'
            if batch.batch_id in state.batches:
                answer = dict(state.batches[batch.batch_id], duplicate_batch=True)
                self._lock.notify_all()
                return 200, {}, json.dumps(answer).encode()
            batch_index = len(state.batches)
            rejected = []
            for index, item in enumerate(batch.items):
                try:
                    message = decode(item.payload, item.channel)
                except DecodeError as exc:
                    rejected.append({"index": index, "device_id": item.device_id, "code": exc.code})
                    state.rejected.append((item.device_id, exc.code))
                    continue
                self._store(batch_index, item.device_id, item.channel, message)
            answer = {
                "batch_id": batch.batch_id,
                "accepted": len(batch.items) - len(rejected),
                "duplicate_batch": False,
                "rejected": rejected,
            }
            state.batches[batch.batch_id] = answer
            self._lock.notify_all()
            if state.unanswered:
                state.unanswered -= 1
                server = self._server
                self._lock.wait_for(lambda: self._server is not server)  # until down()
        return 200, {}, json.dumps(answer).encode()

    def _store(self, batch_index: int, device_id: str, channel: str, message: Message) -> None:
        if isinstance(message, Status):
            self.state.statuses.append((device_id, message))
            return
        records = message.items if isinstance(message, Batch) else [message]
        for record in records:
            key = (device_id, record.boot, record.seq)  # type: ignore[union-attr]
            self.state.stored[key] += 1
            self.state.records[key] = record
            self.state.arrivals.append(Arrival(batch_index, key, record.KIND, channel))

    def handle_quarantine(self, document: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        """Keep uploaded entries by id, as the cloud does: a second upload stores nothing."""
        if document.get("gateway_id") != self.gateway_id:
            return 403, {}, b'{"detail": "another gateway"}'
        with self._lock:
            self.state.quarantine_uploads += 1
            if any(entry["id"] in self.state.quarantine_refused for entry in document["entries"]):
                self._lock.notify_all()
                return 422, {}, b'{"detail": "an entry the cloud cannot take"}'
            stored = duplicates = 0
            for entry in document["entries"]:
                if entry["id"] in self.state.quarantine:
                    duplicates += 1
                else:
                    self.state.quarantine[entry["id"]] = entry
                    stored += 1
            self._lock.notify_all()
        return 200, {}, json.dumps({"stored": stored, "duplicates": duplicates}).encode()

    def handle_heartbeat(self, document: dict[str, Any]) -> None:
        with self._lock:
            self.state.heartbeats.append(document)
            self._lock.notify_all()

    def pending_downlink(self) -> list[dict[str, str]]:
        with self._lock:
            return list(self.state.downlink.values())

    def handle_downlink_ack(self, ids: list[str]) -> None:
        with self._lock:
            for message_id in ids:
                self.state.downlink.pop(message_id, None)
                self.state.downlink_acks.append(message_id)
            self._lock.notify_all()


def _readings(payload: bytes, channel: str) -> int:
    try:
        message = decode(payload, channel)
    except DecodeError:
        return 1
    return len(message.items) if isinstance(message, Batch) else 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A gateway killed or a connection dropped on purpose mid-request: expected here.
        pass


class _Handler(BaseHTTPRequestHandler):
    cloud: CloudStub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet

    def setup(self) -> None:
        super().setup()
        with self.cloud._lock:
            self.cloud._connections.add(self.connection)

    def finish(self) -> None:
        with self.cloud._lock:
            self.cloud._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {TOKEN}":
            return True
        self._answer(401, {}, b'{"detail": "bad token"}')
        return False

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self._body()
        if not self._authorised():
            return
        if self.path == "/api/v1/ingest":
            self._answer(*self.cloud.handle_ingest(body))
        elif self.path == "/api/v1/gateways/heartbeat":
            self.cloud.handle_heartbeat(json.loads(body))
            self._answer(200, {}, json.dumps({"server_time_ms": time.time_ns() // 10**6}).encode())
        elif self.path == "/api/v1/gateways/quarantine":
            self._answer(*self.cloud.handle_quarantine(json.loads(body)))
        elif self.path == "/api/v1/gateways/downlink/ack":
            self.cloud.handle_downlink_ack(json.loads(body)["ids"])
            self._answer(200, {}, b"{}")
        else:
            self._answer(404, {}, b'{"detail": "not found"}')

    def do_GET(self) -> None:
        if not self._authorised():
            return
        if self.path.startswith("/api/v1/gateways/downlink"):
            # A short long-poll: answer at once when something waits, else after a moment.
            deadline = time.monotonic() + 0.5
            messages = self.cloud.pending_downlink()
            while not messages and time.monotonic() < deadline:
                time.sleep(0.05)
                messages = self.cloud.pending_downlink()
            self._answer(200, {}, json.dumps({"messages": messages}).encode())
        else:
            self._answer(404, {}, b'{"detail": "not found"}')
