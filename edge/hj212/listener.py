"""The HJ 212 listener: data loggers' TCP packets in, the stations' water samples out.

An asyncio TCP server on ``hj212_listen``, in a thread of the gateway (``run``). For
each packet a logger sends:

1. ``PacketStream`` cuts it from the byte stream, ``frame.read_packet`` checks its
   framing, length, CRC and data segment;
2. its MN must be the ``hj212_mn`` of a river station in the registry;
3. ``mapping.sample_fields`` makes the water sample's fields, numbered here with a
   (boot, seq) of the station's (below), encoded with ``core.codec.encode`` and
   published at QoS 1 on the station's own topic, ``fw/v1/{station}/up/telemetry``,
   through the local broker: from there the gateway's ordinary path (committer,
   classify, buffer, forwarder) carries it like any station's sample;
4. once the broker has acknowledged it, the data response (CN 9014) goes back if the
   packet's Flag asks for one.

A packet refused at any step goes into the gateway's quarantine (the buffer's, the one
``fieldwatch edge quarantine list`` shows) with its bytes, ``hj212://host:port`` of the
logger as its topic and an ``hj212_*`` reason; a refused packet is not answered, so a
logger resends what was damaged on the way. A packet valid as HJ 212 that the contract
cannot carry (``hj212_unsupported_command``, ``hj212_unmappable``) is kept in the
quarantine and answered: sending it again would change nothing.

Numbering: the loggers know nothing of the contract's (boot, seq), so the listener
numbers the records it makes. At each start it takes a boot id from the buffer
(``Buffer.next_relay_boot``: above every earlier one, and at least the minutes since
2020, so a buffer made anew does not repeat one); each station's records of that boot
are numbered from 0 without holes. A packet a logger sends again with the same QN
(its answer was lost) is answered again and not published twice, while its QN is among
the last ``REMEMBERED_PER_STATION`` of the station.

The only module of the listener that imports aiomqtt.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from datetime import tzinfo
from typing import Protocol

import aiomqtt
import cbor2

from core import contract as c
from core.codec import check_size, message_from_wire
from core.errors import DecodeError, EncodeError
from core.messages import WaterSample
from core.topics import topic
from edge.broker import BrokerAddress
from edge.buffer import Buffer, Incoming
from edge.classify import Refused
from edge.hj212.errors import UNKNOWN_MN, UNMAPPABLE, PacketError
from edge.hj212.frame import DataSegment, PacketStream, Piece, data_response, read_packet
from edge.hj212.mapping import sample_fields
from edge.registry import RegistryWatcher

log = logging.getLogger(__name__)

READ_CHUNK = 65536
PIPELINE = 64  # packets of one connection in progress (published, not yet answered)
REMEMBERED_PER_STATION = 256  # QNs kept per station to answer a resent packet
DRAIN_S = 5.0  # at stop, time given to publications in progress
RECONNECT_MAX_S = 5.0
POLL_S = 0.05


class BrokerRelay:
    """The listener's own connection to the local broker, reconnected after a loss.

    ``publish`` returns once the broker has acknowledged the message (QoS 1); through a
    lost connection it waits and publishes the same bytes again, so a numbered record
    is never given up while the listener runs.
    """

    def __init__(self, address: BrokerAddress) -> None:
        self._address = address
        self._client: aiomqtt.Client | None = None
        self._up = asyncio.Event()
        self._lost = asyncio.Event()

    async def run(self) -> None:
        """Keep a connection until cancelled."""
        a = self._address
        delay = 0.2
        while True:
            client = aiomqtt.Client(
                a.host,
                a.port,
                username=a.username,
                password=a.password,
                identifier=f"{a.client_id}-hj212",
                # 3.1.1: aiomqtt shows no PUBACK reason code either way, and MQTT 5's
                # properties cost a tenth of the listener's time per packet.
                protocol=aiomqtt.ProtocolVersion.V311,
                tls_context=ssl.create_default_context() if a.tls else None,
                max_inflight_messages=1000,
            )
            # aiomqtt warns at each publish while more than 10 wait for their PUBACK: here
            # hundreds do, by design (loggers' connections each with packets in progress).
            client.pending_calls_threshold = 1_000_000
            try:
                async with client:
                    log.info("HJ 212 listener connected to the broker %s:%d", a.host, a.port)
                    delay = 0.2
                    self._client = client
                    self._lost.clear()
                    self._up.set()
                    await self._lost.wait()
            except aiomqtt.MqttError as exc:
                log.warning("HJ 212 listener: broker connection failed: %s", exc)
            finally:
                self._up.clear()
                self._client = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    async def publish(self, topic_name: str, payload: bytes) -> None:
        """Publish at QoS 1; return once the broker has it."""
        while True:
            await self._up.wait()
            client = self._client
            if client is None:
                continue
            try:
                await client.publish(topic_name, payload, qos=1)
            except aiomqtt.MqttError as exc:
                log.warning("HJ 212 listener: publish failed (%s); trying again", exc)
                self._lost.set()
                self._up.clear()
                continue
            return


class Numbering:
    """(boot, seq) of the records the listener makes: one boot per start, each
    station's records numbered from 0 within it."""

    def __init__(self, buffer: Buffer) -> None:
        self._buffer = buffer
        self._boot = 0
        self._next: dict[str, int] = {}

    def start(self) -> None:
        floor = max(1, (int(time.time()) - c.TS_MIN) // 60)
        self._boot = self._buffer.next_relay_boot(floor)
        self._next.clear()
        log.info("HJ 212 listener: boot %d", self._boot)

    def peek(self, station: str) -> tuple[int, int]:
        """The number the station's next record takes."""
        seq = self._next.get(station, 0)
        if seq > c.UINT32_MAX:
            self.start()
            seq = 0
        return self._boot, seq

    def take(self, station: str) -> None:
        """The number ``peek`` gave is used."""
        self._next[station] = self._next.get(station, 0) + 1


class Stopping(Protocol):
    """What tells the listener to stop (a threading or a multiprocessing Event)."""

    def is_set(self) -> bool: ...


# What the listener did, for the gateway's metrics: ("published",), ("repeated",),
# ("quarantined", reason code) -> packets.
Tally = Counter[tuple[str, ...]]


class Hj212Listener:
    """The TCP server and what it does with each packet. ``run(stop)``, in the listener's
    own process (``edge.hj212.process``); ``on_listening`` gets the port once bound,
    ``on_tally`` what was done since its last call, every ``POLL_S`` and at the end."""

    def __init__(
        self,
        host: str,
        port: int,
        broker: BrokerAddress,
        registry: RegistryWatcher,
        buffer: Buffer,
        zone: tzinfo,
        on_listening: Callable[[int], None],
        on_tally: Callable[[Tally], None],
    ) -> None:
        self._host = host
        self._port = port
        self._broker = broker
        self._registry = registry
        self._buffer = buffer
        self._zone = zone
        self._on_listening = on_listening
        self._on_tally = on_tally
        self._tally: Tally = Counter()
        self._numbering = Numbering(buffer)
        self._recent: dict[str, OrderedDict[tuple[str, str], asyncio.Future[None]]] = {}
        self._publishing: set[asyncio.Task[None]] = set()
        self._connections: set[asyncio.StreamWriter] = set()
        self._relay: BrokerRelay | None = None

    def run(self, stop: Stopping) -> None:
        """Serve until ``stop`` is set."""
        asyncio.run(self._main(stop))

    async def _main(self, stop: Stopping) -> None:
        self._numbering.start()
        relay = self._relay = BrokerRelay(self._broker)
        relaying = asyncio.create_task(relay.run())
        server = await asyncio.start_server(
            self._serve_logger, self._host, self._port, limit=READ_CHUNK
        )
        port = int(server.sockets[0].getsockname()[1])
        log.info("HJ 212 listener on %s:%d", self._host, port)
        self._on_listening(port)
        try:
            while not stop.is_set():
                self._report()
                if relaying.done():
                    relaying.result()  # the relay never ends on its own: raise its error
                    raise RuntimeError("the HJ 212 broker relay ended")
                await asyncio.sleep(POLL_S)
        finally:
            server.close()
            for writer in list(self._connections):
                writer.close()
            if self._publishing:
                _, late = await asyncio.wait(self._publishing, timeout=DRAIN_S)
                if late:
                    log.warning(
                        "HJ 212 listener: %d sample(s) not acknowledged by the broker at stop;"
                        " their packets were not answered",
                        len(late),
                    )
                    for task in late:
                        task.cancel()
            relaying.cancel()
            await asyncio.gather(relaying, return_exceptions=True)
            await server.wait_closed()
            self._report()

    def _report(self) -> None:
        if self._tally:
            tally, self._tally = self._tally, Counter()
            self._on_tally(tally)

    # -- one logger connection -------------------------------------------------------------

    async def _serve_logger(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        origin = _origin(writer.get_extra_info("peername"))
        self._connections.add(writer)
        stream = PacketStream()
        answers = _Answers()
        answering = asyncio.create_task(self._answer(answers, writer, origin))
        try:
            while True:
                try:
                    data = await reader.read(READ_CHUNK)
                except ConnectionError:
                    data = b""
                for piece in stream.feed(data) if data else stream.end():
                    pending = self._take(piece, origin)
                    if pending is not None:
                        await answers.add(pending)
                if not data:
                    break
        finally:
            answers.close()
            await answering
            self._connections.discard(writer)
            writer.close()

    async def _answer(self, answers: _Answers, writer: asyncio.StreamWriter, origin: str) -> None:
        """Write the answers in the order the packets came, each once it is due; those
        due together in one write."""
        broken = False
        while True:
            due = await answers.due()
            if due is None:
                return
            if not due or broken:
                continue
            try:
                writer.write(b"".join(due))
                await writer.drain()
            except ConnectionError as exc:
                log.info("HJ 212 listener: %s went away before its answer: %s", origin, exc)
                broken = True

    # -- one packet ------------------------------------------------------------------------

    def _take(self, piece: Piece, origin: str) -> asyncio.Future[bytes | None] | None:
        """Judge a piece; its answer, due once the packet is kept (None: no answer)."""
        if piece.error is not None:
            self._refuse(origin, piece.raw, piece.error, None)
            return None
        try:
            segment = read_packet(piece.raw)
        except PacketError as exc:
            self._refuse(origin, piece.raw, exc, None)
            return None
        station = self._registry.current().station_of_mn(segment.mn)
        if station is None:
            detail = f"MN {segment.mn} is not the hj212_mn of a river station in the registry"
            self._refuse(origin, piece.raw, PacketError(UNKNOWN_MN, detail), None)
            return None
        recent = self._recent.setdefault(station, OrderedDict())
        key = None if segment.qn is None else (segment.qn, segment.cn)
        if key is not None and key in recent:
            self._tally["repeated",] += 1
            return _answer_when(recent[key], segment)
        done = self._keep(segment, station, piece.raw, origin)
        if key is not None:
            recent[key] = done
            if len(recent) > REMEMBERED_PER_STATION:
                recent.popitem(last=False)
        return _answer_when(done, segment)

    def _keep(
        self, segment: DataSegment, station: str, raw: bytes, origin: str
    ) -> asyncio.Future[None]:
        """Publish the packet's water sample, or quarantine the packet; done once kept."""
        try:
            fields = sample_fields(segment, self._zone)
            boot, seq = self._numbering.peek(station)
            payload = encode_sample(
                WaterSample(boot, seq, fields.ts, fields.values, fields.statuses)
            )
        except PacketError as exc:
            return self._kept_in_quarantine(origin, raw, exc, station)
        except EncodeError as exc:
            error = PacketError(UNMAPPABLE, f"the water sample breaks the contract: {exc}")
            return self._kept_in_quarantine(origin, raw, error, station)
        self._numbering.take(station)
        if fields.skipped:
            log.debug("HJ 212 %s: not carried: %s", station, ", ".join(fields.skipped))
        assert self._relay is not None
        task = asyncio.create_task(self._publish(topic(station, "telemetry"), payload))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)
        return task

    def _kept_in_quarantine(
        self, origin: str, raw: bytes, error: PacketError, station: str
    ) -> asyncio.Future[None]:
        self._refuse(origin, raw, error, station)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def _publish(self, topic_name: str, payload: bytes) -> None:
        assert self._relay is not None
        await self._relay.publish(topic_name, payload)
        self._tally["published",] += 1

    def _refuse(self, origin: str, raw: bytes, error: PacketError, station: str | None) -> None:
        now_ms = time.time_ns() // 1_000_000
        verdict = Refused(error.code, error.reason, station)
        self._buffer.commit([Incoming(origin, raw, now_ms, verdict)])
        self._tally["quarantined", error.code] += 1
        log.warning("HJ 212 packet from %s quarantined: %s", origin, error.reason)


class _Answers:
    """One connection's answers in the making, in the order of its packets."""

    def __init__(self) -> None:
        self._pending: deque[asyncio.Future[bytes | None]] = deque()
        self._slots = asyncio.Semaphore(PIPELINE)
        self._more = asyncio.Event()
        self._closed = False

    async def add(self, answer: asyncio.Future[bytes | None]) -> None:
        """Queue an answer; waits while ``PIPELINE`` are in the making."""
        await self._slots.acquire()
        self._pending.append(answer)
        self._more.set()

    def close(self) -> None:
        """No more answers come."""
        self._closed = True
        self._more.set()

    async def due(self) -> list[bytes] | None:
        """The answers ready from the first on, once it is (None: closed, all given)."""
        pending = self._pending
        while not pending:
            if self._closed:
                return None
            self._more.clear()
            await self._more.wait()
        if not pending[0].done():
            await asyncio.wait([pending[0]])
        ready: list[bytes] = []
        while pending and pending[0].done():
            answer = pending.popleft()
            self._slots.release()
            result = answer.result()
            if result is not None:
                ready.append(result)
        return ready


def encode_sample(sample: WaterSample) -> bytes:
    """``core.codec.encode`` for the listener: the same checks (``message_from_wire``)
    and the same bytes (canonical CBOR, as the contract's vectors are made), written by
    cbor2's C encoder instead of core's pure-Python one (a tenth of the listener's time
    per packet). tests/edge/test_hj212_frame.py holds the two to the same bytes."""
    wire = sample.to_wire()
    try:
        message_from_wire(wire)
        data = cbor2.dumps(wire, canonical=True)
        check_size(len(data), c.WATER_SAMPLE)
    except DecodeError as exc:
        raise EncodeError(str(exc)) from exc
    return data


def _answer_when(kept: asyncio.Future[None], segment: DataSegment) -> asyncio.Future[bytes | None]:
    """The packet's answer, due once it is kept: the data response if its Flag asks for
    one, else None; None too if it was not kept (the listener stopping first)."""
    answer: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()

    def settle(done: asyncio.Future[None]) -> None:
        if done.cancelled():
            answer.set_result(None)
        elif done.exception() is not None:
            log.error("HJ 212 listener: keeping a packet failed", exc_info=done.exception())
            answer.set_result(None)
        else:
            answer.set_result(data_response(segment) if segment.wants_answer else None)

    if kept.done():
        settle(kept)
    else:
        kept.add_done_callback(settle)
    return answer


def _origin(peer: object) -> str:
    """``hj212://host:port`` of a logger: the quarantine's topic for its packets."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = str(peer[0]), peer[1]
        return f"hj212://[{host}]:{port}" if ":" in host else f"hj212://{host}:{port}"
    return "hj212://unknown"
