"""HJ 212-2017 packets: framing, the CRC, the data segment, the data response. Pure.

A packet on the wire (HJ 212-2017, 6.3)::

    ##  0101  QN=...;ST=32;CN=2011;PW=123456;MN=...;Flag=5;CP=&&...&&  1C80  \\r\\n
    head  length (4 decimal digits)     data segment (0 to 1,024 ASCII)     CRC   tail

The CRC is the standard's own CRC-16 of the data segment, written as four hex
digits. It is not CRC-16/MODBUS: the register starts at 0xFFFF and each byte is
XORed into it after the register is shifted right by eight, ``crc = (crc >> 8) ^
byte``, then eight shifts with the polynomial 0xA001. The standard's own example
(CN=1062, CRC 1C80) and others are the test vectors (tests/edge/test_hj212_frame.py).

The data segment: ``KEY=VALUE`` fields separated by ``;`` (QN, ST, CN, PW, MN, Flag,
PNUM, PNO), then ``CP=&&...&&``, whose items are ``;``-separated groups of
``,``-separated ``KEY=VALUE`` pairs: ``DataTime=YYYYMMDDhhmmss`` and, per pollutant,
``<code>-Rtd``, ``-Avg``, ``-Min``, ``-Max``, ``-Flag`` (and others the standard names).
Values stay text here; ``edge.hj212.mapping`` reads them as numbers and flags.

``PacketStream`` cuts a TCP byte stream into candidate packets (by their ``##`` and
CR LF), so one broken packet costs only itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeGuard

from edge.hj212.errors import BAD_CRC, BAD_FRAME, OVERSIZE, TRUNCATED, UNPARSABLE, PacketError

HEAD = b"##"
TAIL = b"\r\n"
MAX_DATA = 1024  # characters of a data segment (HJ 212-2017, table 2: 0 to 1,024)
MAX_PACKET = len(HEAD) + 4 + MAX_DATA + 4 + len(TAIL)  # 1,036 bytes
KEPT_OF_OVERSIZE = 8192  # bytes of an endless packet kept in the quarantine

# Flag (HJ 212-2017, 6.3.3): bits V5..V0 D A. A: the sender asks for an answer.
# D: the packet is one of several (PNUM, PNO follow). V: 1 for HJ 212-2017.
FLAG_ANSWER = 0x01
FLAG_SPLIT = 0x02
VERSION_2017 = 1

HEADER_KEYS = ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO")
DATA_RESPONSE = "9014"  # the answer to a data upload (HJ 212-2017, table 7)
SYSTEM_INTERACTION = "91"  # ST of the exchanges between the system and its loggers

_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
_ID_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_")
_WHITESPACE = b" \t\r\n\x00"

_Check = Callable[[str], str]


def _shifted(value: int) -> int:
    """Eight shifts of the register with the polynomial 0xA001."""
    for _ in range(8):
        value = (value >> 1) ^ 0xA001 if value & 1 else value >> 1
    return value


# After ``crc = (crc >> 8) ^ byte`` the register is below 256, so the eight shifts that
# follow are one look-up: the CRC by table, as the standard's loop computes it bit by bit.
_SHIFTED = tuple(_shifted(value) for value in range(256))


def crc16(data: bytes) -> int:
    """The standard's CRC-16 of ``data`` (see the module's docstring)."""
    crc = 0xFFFF
    table = _SHIFTED
    for byte in data:
        crc = table[(crc >> 8) ^ byte]
    return crc


def frame(segment: str) -> bytes:
    """The packet that carries ``segment``; PacketError if it is too long or not ASCII."""
    try:
        data = segment.encode("ascii")
    except UnicodeEncodeError as exc:
        raise PacketError(UNPARSABLE, f"a data segment is ASCII: {exc}") from exc
    if len(data) > MAX_DATA:
        raise PacketError(OVERSIZE, f"a data segment of {len(data)} characters is over {MAX_DATA}")
    return b"%s%04d%s%04X%s" % (HEAD, len(data), data, crc16(data), TAIL)


def unframe(packet: bytes) -> str:
    """The data segment of a whole packet (head to CR LF), its length and CRC checked."""
    if not packet.startswith(HEAD):
        raise PacketError(BAD_FRAME, f"a packet starts with '##', this one with {packet[:2]!r}")
    if len(packet) > MAX_PACKET:
        raise PacketError(
            OVERSIZE, f"{len(packet)} bytes; the longest packet the standard allows is {MAX_PACKET}"
        )
    length = packet[2:6]
    if len(length) < 4:
        raise PacketError(TRUNCATED, f"the packet ends within its length field: {packet!r}")
    if not _DIGITS.issuperset(length.decode("latin-1")):
        raise PacketError(BAD_FRAME, f"the length field is not four decimal digits: {length!r}")
    declared = int(length)
    if declared > MAX_DATA:
        raise PacketError(
            OVERSIZE,
            f"the length field says {declared} characters; the standard allows at most {MAX_DATA}",
        )
    if not packet.endswith(TAIL):
        raise PacketError(TRUNCATED, f"no CR LF at the end ({len(packet)} bytes)")
    body = packet[6 : -len(TAIL)]
    if len(body) < declared + 4:
        raise PacketError(
            TRUNCATED,
            f"{len(body)} bytes of data segment and CRC where the length field says {declared} + 4",
        )
    if len(body) > declared + 4:
        raise PacketError(
            BAD_FRAME,
            f"{len(body) - declared - 4} bytes more than the length field ({declared}) and "
            "the CRC account for",
        )
    data, crc_field = body[:declared], body[declared:]
    if not _HEX.issuperset(crc_field.decode("latin-1")):
        raise PacketError(BAD_FRAME, f"the CRC field is not four hex digits: {crc_field!r}")
    expected = crc16(data)
    if int(crc_field, 16) != expected:
        raise PacketError(
            BAD_CRC,
            f"the CRC field says {crc_field.decode('ascii')}, the data segment's is {expected:04X}",
        )
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise PacketError(UNPARSABLE, f"the data segment is not ASCII: {exc}") from exc


# -- the data segment --------------------------------------------------------------------


@dataclass(frozen=True)
class DataSegment:
    """A data segment's fields, as text; ``pollutants`` maps a code to its fields
    (``Rtd``, ``Avg``, ``Min``, ``Max``, ``Flag``...), ``params`` holds the other CP
    items (``RtdInterval``, ``BeginTime``...)."""

    cn: str
    mn: str
    qn: str | None = None
    st: str | None = None
    pw: str | None = None
    flag: int | None = None
    pnum: int | None = None
    pno: int | None = None
    data_time: str | None = None
    pollutants: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def wants_answer(self) -> bool:
        """The Flag's A bit: the sender waits for an answer."""
        return self.flag is not None and bool(self.flag & FLAG_ANSWER)

    @property
    def version(self) -> int:
        """The Flag's version bits (1: HJ 212-2017; 0 or no Flag: HJ/T 212-2005)."""
        return 0 if self.flag is None else self.flag >> 2


def parse_segment(text: str) -> DataSegment:
    """Read a data segment; PacketError(hj212_unparsable) names what breaks the syntax."""
    if not (text.isascii() and text.isprintable()):
        raise _unparsable("a data segment is printable ASCII")
    cp_at = text.find("CP=&&")
    if cp_at < 0:
        raise _unparsable("no CP=&&...&& field")
    if not text.endswith("&&") or len(text) < cp_at + 7:
        raise _unparsable("the CP field does not end with &&")
    head, content = text[:cp_at], text[cp_at + 5 : -2]
    if head and not head.endswith(";"):
        raise _unparsable(f"the field before CP does not end with ';': {head[-20:]!r}")
    header: dict[str, str] = {}
    for item in head.split(";")[:-1]:
        key, value = _pair(item, "data segment")
        if key not in HEADER_KEYS:
            raise _unparsable(f"unknown field {key!r} (the standard's are {HEADER_KEYS})")
        if key in header:
            raise _unparsable(f"{key} is given twice")
        header[key] = value
    if "&" in content:
        raise _unparsable("'&' inside the CP field")
    data_time: str | None = None
    pollutants: dict[str, dict[str, str]] = {}
    params: dict[str, str] = {}
    for group in content.split(";"):
        if not group:
            continue
        for item in group.split(","):
            key, equals, value = item.partition("=")
            if not equals or not key or "=" in value:
                raise _unparsable(f"{item!r} in the CP is not KEY=VALUE")
            code, dash, name = key.partition("-")
            if key == "DataTime":
                if data_time is not None:
                    raise _unparsable("DataTime is given twice")
                data_time = value
            elif dash:
                if not (code.isalnum() and name.isalnum()):
                    raise _unparsable(f"{key!r} is not <pollutant code>-<field>")
                fields = pollutants.setdefault(code, {})
                if name in fields:
                    raise _unparsable(f"{key} is given twice")
                fields[name] = value
            else:
                if key in params:
                    raise _unparsable(f"{key} is given twice")
                params[key] = value
    return DataSegment(
        cn=_required(header, "CN", _check_cn),
        mn=_required(header, "MN", _check_mn),
        qn=_optional(header, "QN", _check_qn),
        st=_optional(header, "ST", _check_st),
        pw=_optional(header, "PW", _check_pw),
        flag=_number(header, "Flag", 0, 255),
        pnum=_number(header, "PNUM", 1, 9999),
        pno=_number(header, "PNO", 1, 9999),
        data_time=data_time,
        pollutants=pollutants,
        params=params,
    )


def render_segment(segment: DataSegment) -> str:
    """The data segment's text: header fields in the standard's order, then CP with
    DataTime, the other items, and one group per pollutant."""
    parts = []
    for key, value in (
        ("QN", segment.qn),
        ("ST", segment.st),
        ("CN", segment.cn),
        ("PW", segment.pw),
        ("MN", segment.mn),
        ("Flag", segment.flag),
        ("PNUM", segment.pnum),
        ("PNO", segment.pno),
    ):
        if value is not None:
            parts.append(f"{key}={value};")
    groups = []
    if segment.data_time is not None:
        groups.append(f"DataTime={segment.data_time}")
    groups.extend(f"{key}={value}" for key, value in segment.params.items())
    for code, fields in segment.pollutants.items():
        groups.append(",".join(f"{code}-{name}={value}" for name, value in fields.items()))
    return "".join(parts) + "CP=&&" + ";".join(groups) + "&&"


def read_packet(packet: bytes) -> DataSegment:
    """``parse_segment(unframe(packet))``."""
    return parse_segment(unframe(packet))


def data_response(segment: DataSegment) -> bytes:
    """The data response (CN 9014) to an upload that asked for one: its QN, PW and MN
    back, ST 91, a Flag of the same version with no answer asked, an empty CP."""
    version = segment.version or VERSION_2017
    answer = DataSegment(
        cn=DATA_RESPONSE,
        mn=segment.mn,
        qn=segment.qn,
        st=SYSTEM_INTERACTION,
        pw=segment.pw,
        flag=version << 2,
    )
    return frame(render_segment(answer))


def _unparsable(detail: str) -> PacketError:
    return PacketError(UNPARSABLE, detail)


def _pair(item: str, where: str) -> tuple[str, str]:
    key, equals, value = item.partition("=")
    if not equals or not key or "=" in value:
        raise _unparsable(f"{item!r} in the {where} is not KEY=VALUE")
    return key, value


def _required(header: Mapping[str, str], key: str, check: _Check) -> str:
    value = header.get(key)
    if value is None:
        raise _unparsable(f"no {key} field")
    return check(value)


def _optional(header: Mapping[str, str], key: str, check: _Check) -> str | None:
    value = header.get(key)
    return None if value is None else check(value)


def _number(header: Mapping[str, str], key: str, low: int, high: int) -> int | None:
    value = header.get(key)
    if value is None:
        return None
    if not (value and len(value) <= 4 and _DIGITS.issuperset(value)) or not (
        low <= int(value) <= high
    ):
        raise _unparsable(f"{key}={value!r} is not a number from {low} to {high}")
    return int(value)


def _check_digits(key: str, count: int) -> _Check:
    def check(value: str) -> str:
        if len(value) != count or not _DIGITS.issuperset(value):
            raise _unparsable(f"{key}={value!r} is not {count} decimal digits")
        return value

    return check


def valid_mn(value: object) -> TypeGuard[str]:
    """An MN as this gateway takes one: 1 to 24 letters, digits, '-' or '_' (HJ 212-2017
    gives 24 characters; HJ/T 212-2005 loggers send 14)."""
    return isinstance(value, str) and 1 <= len(value) <= 24 and _ID_CHARS.issuperset(value)


def _check_mn(value: str) -> str:
    if not valid_mn(value):
        raise _unparsable(f"MN={value!r} is not 1 to 24 letters, digits, '-' or '_'")
    return value


def _check_pw(value: str) -> str:
    if not (1 <= len(value) <= 6 and _ID_CHARS.issuperset(value)):
        raise _unparsable(f"PW={value!r} is not 1 to 6 letters or digits")
    return value


_check_qn = _check_digits("QN", 17)  # YYYYMMDDhhmmsszzz
_check_st = _check_digits("ST", 2)
_check_cn = _check_digits("CN", 4)


# -- the byte stream -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Piece:
    """Bytes cut from a stream: a candidate packet (``error`` None: ``unframe`` judges
    it), or bytes already refused by where they were cut."""

    raw: bytes
    error: PacketError | None = None


class PacketStream:
    """Cuts the bytes of one TCP connection into pieces, in order. Sans-IO.

    A packet runs from ``##`` to the first CR LF. A new ``##`` before that CR LF ends
    the piece before it as truncated (a logger that gave up on a packet and sent the
    next); more than ``MAX_PACKET`` bytes without a CR LF are oversize, and what
    follows is skipped up to the next CR LF or ``##``. Bytes between packets other than
    whitespace are a piece of their own (``hj212_bad_frame``).
    """

    def __init__(self) -> None:
        self._pending = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> list[Piece]:
        """The pieces complete once ``data`` is added."""
        pending = self._pending
        pending += data
        pieces: list[Piece] = []
        while pending:
            if self._skipping:
                if not self._skip():
                    break
                continue
            start = pending.find(HEAD)
            if start < 0:
                keep = 1 if pending.endswith(b"#") else 0
                self._outside(pieces, len(pending) - keep)
                break
            if start:
                self._outside(pieces, start)
            end = pending.find(TAIL)
            following = pending.find(HEAD, 2)
            if following >= 0 and (end < 0 or following < end):
                raw = bytes(pending[:following])
                del pending[:following]
                pieces.append(Piece(raw, _cut_short(raw)))
            elif end >= 0:
                pieces.append(Piece(bytes(pending[: end + 2])))
                del pending[: end + 2]
            elif len(pending) > MAX_PACKET:
                raw = bytes(pending[:KEPT_OF_OVERSIZE])
                pending.clear()
                self._skipping = True
                detail = f"no CR LF within {MAX_PACKET} bytes, the longest packet there is"
                pieces.append(Piece(raw, PacketError(OVERSIZE, detail)))
            else:
                break
        return pieces

    def end(self) -> list[Piece]:
        """At the end of the stream: what is left is a packet cut off."""
        pending, self._pending = bytes(self._pending), bytearray()
        if self._skipping or not pending.strip(_WHITESPACE):
            return []
        if not pending.startswith(HEAD):
            return [Piece(pending, PacketError(BAD_FRAME, _outside_detail(len(pending))))]
        detail = f"the connection ended {len(pending)} bytes into a packet"
        return [Piece(pending, PacketError(TRUNCATED, detail))]

    def _skip(self) -> bool:
        """Drop the rest of an oversize packet; True once it is over."""
        pending = self._pending
        end, following = pending.find(TAIL), pending.find(HEAD)
        if following >= 0 and (end < 0 or following < end):
            del pending[:following]
        elif end >= 0:
            del pending[: end + 2]
        else:
            del pending[: len(pending) - (1 if pending.endswith(b"#") else 0)]
            return False
        self._skipping = False
        return True

    def _outside(self, pieces: list[Piece], count: int) -> None:
        raw = bytes(self._pending[:count])
        del self._pending[:count]
        if raw.strip(_WHITESPACE):
            pieces.append(Piece(raw, PacketError(BAD_FRAME, _outside_detail(len(raw)))))


def _cut_short(raw: bytes) -> PacketError:
    if len(raw) > MAX_PACKET:
        return PacketError(OVERSIZE, f"{len(raw)} bytes without a CR LF, over {MAX_PACKET}")
    return PacketError(TRUNCATED, f"a new packet began {len(raw)} bytes into this one")


def _outside_detail(count: int) -> str:
    return f"{count} bytes outside any packet (a packet starts with '##')"
