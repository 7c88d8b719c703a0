"""Modbus RTU, master side, as much as a sonde needs: read holding registers (0x03).

Framing: ``unit | function | data | CRC-16/MODBUS (low byte first)``. The
``Transaction`` is a sans-IO state machine for one request: it says what to
send, takes the bytes that come back, and gives up after ``retries`` resends
that each waited ``timeout_ms`` (times are passed in, in milliseconds).
"""

import struct

from firmware_py.agent.crc import crc16

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

READ_HOLDING_REGISTERS = 0x03
MAX_REGISTERS = 125  # the most one read may ask for (the answer must fit 256 bytes)
EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    6: "server device busy",
}


class ModbusError(ValueError):
    """A failed exchange. ``code`` is one of: crc, exception, mismatch, short, timeout."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code + ": " + detail)
        self.code = code
        self.detail = detail


def with_crc(body: bytes) -> bytes:
    """``body`` followed by its CRC, low byte first."""
    crc = crc16(body)
    return body + bytes((crc & 0xFF, crc >> 8))


def crc_ok(frame: bytes) -> bool:
    return len(frame) >= 4 and crc16(frame[:-2]) == frame[-2] | frame[-1] << 8


def read_holding_request(unit: int, start: int, count: int) -> bytes:
    """The 8-byte request frame for ``count`` registers from ``start``."""
    if not 1 <= unit <= 247 or not 1 <= count <= MAX_REGISTERS or not 0 <= start <= 0xFFFF:
        raise ValueError("bad read: unit %d, start %d, count %d" % (unit, start, count))
    return with_crc(struct.pack(">BBHH", unit, READ_HOLDING_REGISTERS, start, count))


def response_length(count: int) -> int:
    """Bytes in a normal answer to a read of ``count`` registers."""
    return 5 + 2 * count


def parse_read_holding_response(frame: bytes, unit: int, count: int) -> "list[int]":
    """The registers (uint16 each) of an answer, or ModbusError."""
    if len(frame) < 5:
        raise ModbusError("short", "%d bytes" % len(frame))
    if not crc_ok(frame):
        raise ModbusError("crc", "CRC does not match")
    if frame[0] != unit:
        raise ModbusError("mismatch", "answer from unit %d, asked %d" % (frame[0], unit))
    if frame[1] == READ_HOLDING_REGISTERS | 0x80:
        name = EXCEPTION_NAMES.get(frame[2], "code %d" % frame[2])
        raise ModbusError("exception", name)
    if frame[1] != READ_HOLDING_REGISTERS:
        raise ModbusError("mismatch", "function %d in the answer" % frame[1])
    if frame[2] != 2 * count or len(frame) != response_length(count):
        raise ModbusError("mismatch", "%d data bytes, asked %d registers" % (frame[2], count))
    return [frame[3 + 2 * i] << 8 | frame[4 + 2 * i] for i in range(count)]


class Transaction:
    """One read of holding registers, with timeout and retries (sans-IO).

    ``start(now_ms)`` returns the frame to write; feed whatever the line
    returns with ``feed(data, now_ms)``; call ``poll(now_ms)`` while waiting:
    it returns a frame to write again after a timeout. ``registers`` is set
    when done; ``error`` (a ModbusError) when it gave up.
    """

    def __init__(
        self, unit: int, start: int, count: int, timeout_ms: int = 500, retries: int = 2
    ) -> None:
        self.unit = unit
        self.count = count
        self.request = read_holding_request(unit, start, count)
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.attempts = 0
        self.registers: "list[int] | None" = None
        self.error: "ModbusError | None" = None
        self._received = b""
        self._deadline = 0
        self._last_error: "ModbusError | None" = None

    @property
    def done(self) -> bool:
        return self.registers is not None or self.error is not None

    def start(self, now_ms: int) -> bytes:
        self.attempts = 1
        self._received = b""
        self._deadline = now_ms + self.timeout_ms
        return self.request

    def feed(self, data: "Any", now_ms: int) -> None:
        if self.done or not data:
            return
        self._received += bytes(data)
        frame = self._received
        # An exception answer is 5 bytes; a normal one is response_length(count).
        if len(frame) >= 2 and frame[1] & 0x80:
            needed = 5
        else:
            needed = response_length(self.count)
        if len(frame) < needed:
            return
        try:
            self.registers = parse_read_holding_response(frame[:needed], self.unit, self.count)
        except ModbusError as exc:
            if exc.code == "exception":
                self.error = exc  # the sonde answered: asking again will not help
            else:
                # A damaged answer: resend at the next poll, as after a timeout.
                self._last_error = exc
                self._received = b""
                self._deadline = now_ms

    def poll(self, now_ms: int) -> "bytes | None":
        """Past the deadline: the frame to send again, or None (and ``error`` set) when out of tries."""
        if self.done or now_ms < self._deadline:
            return None
        exc = self._last_error or ModbusError("timeout", "no answer in %d ms" % self.timeout_ms)
        self._last_error = None
        if self.attempts > self.retries:
            self.error = exc
            return None
        self.attempts += 1
        self._received = b""
        self._deadline = now_ms + self.timeout_ms
        return self.request
