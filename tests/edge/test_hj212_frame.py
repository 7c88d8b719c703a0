"""HJ 212-2017 packets, pure: CRC, framing, the data segment, the stream, the mapping onto
the contract's water sample, and the registry's MNs."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from core import contract as c
from core.codec import encode
from core.messages import WaterSample
from core.receiver import DeviceKind
from edge.errors import RegistryError
from edge.hj212 import errors as e
from edge.hj212.errors import PacketError
from edge.hj212.frame import (
    MAX_DATA,
    MAX_PACKET,
    DataSegment,
    PacketStream,
    crc16,
    data_response,
    frame,
    parse_segment,
    read_packet,
    render_segment,
    unframe,
)
from edge.hj212.listener import encode_sample
from edge.hj212.mapping import (
    DATA_COMMANDS,
    FLAG_STATUSES,
    POLLUTANT_PARAMETERS,
    sample_fields,
)
from edge.registry import parse_registry, render_registry
from fieldwatch.cli import app

SHANGHAI = ZoneInfo("Asia/Shanghai")

# The standard's own example (HJ 212-2017, the CRC section's example; quoted with the
# algorithm's C code at whycan.com/viewtopic.php?id=3594 and
# cnblogs.com/LiuSiyuan/p/8110192.html). The standard's sentence under it names the CRC
# "1C08", a misprint those pages point out: the packet and the computation give 1C80.
STANDARD_EXAMPLE = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    b"Flag=5;CP=&&RtdInterval=30&&1C80\r\n"
)
# Packets with their CRCs from other public sources, computed by other implementations:
# HJ/T 212-2005 style (no QN, no Flag).
OTHER_VECTORS = [
    # xiaoyao9184/hj-t212-parser on GitHub, DataDeserializerTest
    (
        b"##0139ST=32;CN=2011;PW=123456;MN=LD130133000015;CP=&&DataTime=20160824003817000;"
        b"B01-Rtd=36.91;011-Rtd=231.0,011-Flag=N;060-Rtd=1.803,060-Flag=N&&4980\r\n"
    ),
    # the README of a public HJ 212 Java parser on GitHub (lower-case hex)
    (
        b"##0109ST=32;CN=2011;PW=123456;MN=NJGDKYYC202101q0001w0001;CP=&&DataTime="
        b"20210305003817000;ele01-Rtd=1;ele02-Rtd=0&&8c41\r\n"
    ),
]

MN = "010000A8900016F000169DC0"
REAL_TIME = (
    f"QN=20260101080000000;ST=21;CN=2011;PW=123456;MN={MN};Flag=5;CP=&&"
    "DataTime=20260101080000;w01001-Rtd=7.25,w01001-Flag=N;w01009-Rtd=8.456,w01009-Flag=N;"
    "w01010-Rtd=18.3,w01010-Flag=N;w01014-Rtd=412,w01014-Flag=N;w01003-Rtd=12.5,w01003-Flag=N;"
    "w01019-Rtd=3.1,w01019-Flag=N;w21003-Rtd=0.123,w21003-Flag=N;w21011-Rtd=0.041,"
    "w21011-Flag=N;w21001-Rtd=1.35,w21001-Flag=N&&"
)
TS = 1_767_225_600  # 2026-01-01T00:00:00Z, 08:00 in Shanghai


def _modbus(data: bytes) -> int:
    """CRC-16/MODBUS, which HJ 212's CRC is not."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


# -- CRC and framing ------------------------------------------------------------------------


@pytest.mark.parametrize("packet", [STANDARD_EXAMPLE, *OTHER_VECTORS])
def test_the_published_example_packets_carry_the_standards_crc(packet: bytes) -> None:
    data, crc = packet[6:-6], packet[-6:-2]
    assert int(packet[2:6]) == len(data)
    assert crc16(data) == int(crc, 16)
    assert _modbus(data) != int(crc, 16)
    unframe(packet)  # accepted, CRC checked


def test_the_standards_example_is_read_and_framed_again_byte_for_byte() -> None:
    segment = read_packet(STANDARD_EXAMPLE)
    assert segment == DataSegment(
        cn="1062",
        mn=MN,
        qn="20160801085857223",
        st="32",
        pw="100000",
        flag=5,
        params={"RtdInterval": "30"},
    )
    assert segment.wants_answer
    assert segment.version == 1
    assert frame(render_segment(segment)) == STANDARD_EXAMPLE


def test_the_data_response_echoes_qn_pw_and_mn() -> None:
    answer = data_response(read_packet(STANDARD_EXAMPLE))
    assert answer == frame(f"QN=20160801085857223;ST=91;CN=9014;PW=100000;MN={MN};Flag=4;CP=&&&&")
    assert answer.startswith(b"##0087QN=")
    assert answer.endswith(b"\r\n")
    response = read_packet(answer)
    assert (response.cn, response.st, response.flag) == ("9014", "91", 4)
    assert not response.wants_answer


def _with_crc_of(packet: bytes, crc: int) -> bytes:
    return packet[:-6] + b"%04X\r\n" % crc


@pytest.mark.parametrize(
    ("packet", "code"),
    [
        (_with_crc_of(STANDARD_EXAMPLE, 0x1C81), e.BAD_CRC),
        (STANDARD_EXAMPLE.replace(b"RtdInterval=30", b"RtdInterval=31"), e.BAD_CRC),
        (STANDARD_EXAMPLE.replace(b"Flag=5;", b"Flag=5"), e.TRUNCATED),
        (STANDARD_EXAMPLE[:-2], e.TRUNCATED),
        (STANDARD_EXAMPLE[:40] + b"\r\n", e.TRUNCATED),
        (b"##01", e.TRUNCATED),
        (STANDARD_EXAMPLE.replace(b"CP=&&", b"CP=&&&"), e.BAD_FRAME),
        (STANDARD_EXAMPLE.replace(b"##0101", b"##01O1"), e.BAD_FRAME),
        (STANDARD_EXAMPLE.replace(b"1C80\r", b"1CX0\r"), e.BAD_FRAME),
        (STANDARD_EXAMPLE[1:], e.BAD_FRAME),
        (b"##1025" + b"x" * 1025 + b"0000\r\n", e.OVERSIZE),
        (b"##9999QN=1\r\n", e.OVERSIZE),
    ],
)
def test_a_damaged_packet_is_refused_with_its_reason(packet: bytes, code: str) -> None:
    with pytest.raises(PacketError) as raised:
        unframe(packet)
    assert raised.value.code == code
    assert raised.value.reason.startswith(code + ": ")


def test_the_longest_data_segment_is_taken_and_one_more_is_not() -> None:
    head = "CN=2011;MN=m;CP=&&RtdInterval="
    segment = head + "1" * (MAX_DATA - len(head) - 2) + "&&"
    assert len(segment) == MAX_DATA
    assert len(frame(segment)) == MAX_PACKET
    assert unframe(frame(segment)) == segment
    with pytest.raises(PacketError) as raised:
        frame(segment + "x")
    assert raised.value.code == e.OVERSIZE


# -- the data segment -------------------------------------------------------------------------


def test_a_real_time_upload_is_parsed_field_by_field() -> None:
    segment = parse_segment(REAL_TIME)
    assert (segment.qn, segment.st, segment.cn, segment.pw, segment.mn) == (
        "20260101080000000",
        "21",
        "2011",
        "123456",
        MN,
    )
    assert segment.flag == 5
    assert segment.data_time == "20260101080000"
    assert segment.pollutants["w01001"] == {"Rtd": "7.25", "Flag": "N"}
    assert len(segment.pollutants) == 9


@pytest.mark.parametrize(
    "text",
    [
        "QN=20260101080000000;CN=2011;MN=m",  # no CP
        "CN=2011;MN=m;CP=&&DataTime=1",  # CP does not end with &&
        "CN=2011;MN=mCP=&&&&",  # no ';' before CP
        "CN=2011;XX=1;MN=m;CP=&&&&",  # not a field of the standard
        "CN=2011;CN=2011;MN=m;CP=&&&&",  # twice
        "CN=2011;CP=&&&&",  # no MN
        "MN=m;CP=&&&&",  # no CN
        "QN=2026;CN=2011;MN=m;CP=&&&&",  # QN not 17 digits
        "CN=2011;MN=m;Flag=x;CP=&&&&",
        "CN=20110;MN=m;CP=&&&&",
        "CN=2011;MN=m/1;CP=&&&&",
        "CN=2011;MN=m;CP=&&w01001-Rtd&&",  # not KEY=VALUE
        "CN=2011;MN=m;CP=&&w01001-Rtd=1,w01001-Rtd=2&&",
        "CN=2011;MN=m;CP=&&DataTime=1;DataTime=2&&",
        "CN=2011;MN=m;CP=&&w01001-=1&&",
        "CN=2011;MN=m;CP=&&a=1&&b=2&&",
    ],
)
def test_a_data_segment_off_the_standards_syntax_is_unparsable(text: str) -> None:
    with pytest.raises(PacketError) as raised:
        parse_segment(text)
    assert raised.value.code == e.UNPARSABLE


_names = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=8
)
_values = st.text("0123456789.-+abcdefXYZ", min_size=1, max_size=10)
_segments = st.builds(
    DataSegment,
    cn=st.text("0123456789", min_size=4, max_size=4),
    mn=st.text("0123456789ABCDEFabc-_", min_size=1, max_size=24),
    qn=st.none() | st.text("0123456789", min_size=17, max_size=17),
    st=st.none() | st.sampled_from(["21", "32", "91"]),
    pw=st.none() | st.text("0123456789abc", min_size=1, max_size=6),
    flag=st.none() | st.integers(0, 255),
    pnum=st.none() | st.integers(1, 9999),
    pno=st.none() | st.integers(1, 9999),
    data_time=st.none() | st.text("0123456789", min_size=14, max_size=14),
    pollutants=st.dictionaries(
        _names, st.dictionaries(_names, _values, min_size=1, max_size=4), max_size=6
    ),
    params=st.dictionaries(_names.filter(lambda n: n != "DataTime"), _values, max_size=3),
)


@given(_segments)
def test_a_data_segment_survives_build_frame_and_parse(segment: DataSegment) -> None:
    text = render_segment(segment)
    assert parse_segment(text) == segment
    if len(text) <= MAX_DATA:
        assert read_packet(frame(text)) == segment


# -- the byte stream ----------------------------------------------------------------------------


def _feed_all(stream: PacketStream, data: bytes, cuts: list[int]) -> list[tuple[bytes, str | None]]:
    pieces = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        pieces += stream.feed(data[start:cut])
        start = cut
    pieces += stream.end()
    return [(p.raw, None if p.error is None else p.error.code) for p in pieces]


@given(st.lists(st.integers(0, 3 * len(STANDARD_EXAMPLE)), max_size=20))
def test_packets_come_out_whole_however_the_stream_is_cut(cuts: list[int]) -> None:
    data = STANDARD_EXAMPLE * 3
    assert _feed_all(PacketStream(), data, cuts) == [(STANDARD_EXAMPLE, None)] * 3


def test_a_packet_cut_off_by_the_next_one_or_by_the_end_is_truncated() -> None:
    data = STANDARD_EXAMPLE[:50] + STANDARD_EXAMPLE + b"\r\n" + STANDARD_EXAMPLE[:30]
    assert _feed_all(PacketStream(), data, []) == [
        (STANDARD_EXAMPLE[:50], e.TRUNCATED),
        (STANDARD_EXAMPLE, None),
        (STANDARD_EXAMPLE[:30], e.TRUNCATED),
    ]


def test_an_endless_packet_is_oversize_and_the_stream_resumes_after_it() -> None:
    endless = b"##0101" + b"x" * (3 * MAX_PACKET)
    data = endless + b"\r\n" + STANDARD_EXAMPLE
    pieces = _feed_all(PacketStream(), data, list(range(0, len(data), 500)))
    assert [code for _, code in pieces] == [e.OVERSIZE, None]
    assert pieces[0][0].startswith(b"##0101xxx")
    assert pieces[1][0] == STANDARD_EXAMPLE


def test_bytes_between_packets_are_refused_and_blank_lines_ignored() -> None:
    data = b"\r\nhello\r\n" + STANDARD_EXAMPLE + b"\r\n\r\n"
    assert _feed_all(PacketStream(), data, []) == [
        (b"\r\nhello\r\n", e.BAD_FRAME),
        (STANDARD_EXAMPLE, None),
    ]


# -- onto the contract ----------------------------------------------------------------------------


def test_the_mapping_tables() -> None:
    names = {code: c.WATER_PARAMETERS[pid][0] for code, pid in POLLUTANT_PARAMETERS.items()}
    assert names == {
        "w01001": "ph",
        "w01009": "dissolved_oxygen",
        "w01010": "water_temp",
        "w01014": "conductivity",
        "w01003": "turbidity",
        "w01019": "permanganate_index",
        "w21003": "ammonia_nitrogen",
        "w21011": "total_phosphorus",
        "w21001": "total_nitrogen",
    }
    assert FLAG_STATUSES == {
        "N": c.VALUE_NORMAL,
        "F": c.VALUE_FAULT,
        "M": c.VALUE_MAINTENANCE,
        "S": c.VALUE_MAINTENANCE,
        "D": c.VALUE_FAULT,
        "C": c.VALUE_CALIBRATING,
        "T": c.VALUE_OVER_RANGE,
        "B": c.VALUE_FAULT,
    }
    assert {cn: (k.name, k.value_field) for cn, k in DATA_COMMANDS.items()} == {
        "2011": ("real-time", "Rtd"),
        "2051": ("minute", "Avg"),
        "2061": ("hourly", "Avg"),
        "2031": ("daily", "Avg"),
    }


def test_a_real_time_upload_becomes_the_stations_water_sample() -> None:
    fields = sample_fields(parse_segment(REAL_TIME), SHANGHAI)
    assert fields.ts == TS
    assert fields.values == {2: 725, 3: 846, 1: 1830, 4: 412, 5: 125, 6: 310, 7: 123, 8: 41, 9: 135}
    assert fields.statuses == {}
    assert fields.skipped == ()


def _upload(cn: str, cp: str) -> DataSegment:
    return parse_segment(f"QN=20260101080000000;ST=21;CN={cn};MN={MN};Flag=5;CP=&&{cp}&&")


@pytest.mark.parametrize("cn", ["2051", "2061", "2031"])
def test_minute_hourly_and_daily_data_carry_their_average(cn: str) -> None:
    cp = "DataTime=20260101080000;w01001-Min=7.0,w01001-Avg=7.5,w01001-Max=8.0,w01001-Flag=N"
    fields = sample_fields(_upload(cn, cp), SHANGHAI)
    assert fields.values == {2: 750}


def test_flags_become_statuses_and_values_stay_with_them() -> None:
    cp = (
        "DataTime=20260101080000;w01001-Rtd=7.1,w01001-Flag=C;w01009-Rtd=9,w01009-Flag=S;"
        "w01010-Flag=D;w01014-Rtd=200000,w01014-Flag=T;w01003-Flag=M;w21003-Rtd=0.2,"
        "w21003-Flag=B;w21011-Flag=F;w01018-Rtd=12.0,w01018-Flag=N"
    )
    fields = sample_fields(_upload("2011", cp), SHANGHAI)
    assert fields.values == {2: 710, 3: 900, 4: 200000, 7: 200}
    assert fields.statuses == {
        2: c.VALUE_CALIBRATING,
        3: c.VALUE_MAINTENANCE,
        1: c.VALUE_FAULT,
        4: c.VALUE_OVER_RANGE,
        5: c.VALUE_MAINTENANCE,
        7: c.VALUE_FAULT,
        8: c.VALUE_FAULT,
    }
    assert fields.skipped == ("w01018",)  # COD: not one of the contract's parameters


@pytest.mark.parametrize(
    ("cn", "cp", "code"),
    [
        ("2011", "DataTime=20260101080000;w01001-Rtd=7.1,w01001-Flag=C", None),
        ("2011", "DataTime=20260101080000;w01001-Flag=C", e.UNMAPPABLE),
        ("2011", "DataTime=20260101080000;w01001-Avg=7.1", e.UNMAPPABLE),
        ("2011", "DataTime=20260101080000;w01001-Rtd=15", e.UNMAPPABLE),
        ("2011", "DataTime=20260101080000;w01010-Rtd=-6", e.UNMAPPABLE),
        ("2011", "DataTime=20260101080000;w01018-Rtd=12", e.UNMAPPABLE),
        ("2011", "DataTime=20190101080000;w01001-Rtd=7", e.UNMAPPABLE),
        ("2011", "DataTime=20260101080000;w01001-Rtd=7,w01001-Flag=X", e.UNPARSABLE),
        ("2011", "DataTime=20260101080000;w01001-Rtd=seven", e.UNPARSABLE),
        ("2011", "DataTime=20260101080000;w01001-Rtd=NaN", e.UNPARSABLE),
        ("2011", "DataTime=20261301080000;w01001-Rtd=7", e.UNPARSABLE),
        ("2011", "w01001-Rtd=7", e.UNPARSABLE),
        ("1062", "RtdInterval=30", e.UNSUPPORTED_COMMAND),
        ("2081", "DataTime=20260101080000", e.UNSUPPORTED_COMMAND),
    ],
)
def test_what_the_contract_cannot_carry_is_refused_with_its_reason(
    cn: str, cp: str, code: str | None
) -> None:
    segment = _upload(cn, cp)
    if code is None:
        sample_fields(segment, SHANGHAI)
        return
    with pytest.raises(PacketError) as raised:
        sample_fields(segment, SHANGHAI)
    assert raised.value.code == code


def test_values_are_rounded_half_to_even_at_the_contracts_scale() -> None:
    cp = "DataTime=20260101080000;w01001-Rtd=7.125;w21011-Rtd=0.0005;w01014-Rtd=0.5"
    assert sample_fields(_upload("2011", cp), SHANGHAI).values == {2: 712, 8: 0, 4: 0}


# -- the registry ----------------------------------------------------------------------------------


def test_a_river_station_names_its_loggers_mn_and_old_files_still_load() -> None:
    devices = {"br-000001": DeviceKind.bracelet, "rs-000042": DeviceKind.river_station}
    registry = parse_registry(render_registry(devices, {"rs-000042": MN}))
    assert dict(registry.devices) == devices
    assert registry.station_of_mn(MN) == "rs-000042"
    assert registry.station_of_mn("other") is None
    old = parse_registry(render_registry(devices))
    assert dict(old.devices) == devices
    assert old.station_of_mn(MN) is None


@pytest.mark.parametrize(
    "text",
    [
        '[[device]]\nid = "br-000001"\nkind = "bracelet"\nhj212_mn = "A1"\n',
        '[[device]]\nid = "rs-000001"\nkind = "river-station"\nhj212_mn = "A;1"\n',
        '[[device]]\nid = "rs-000001"\nkind = "river-station"\nhj212_mn = 7\n',
        '[[device]]\nid = "rs-000001"\nkind = "river-station"\nhj212_mn = "A1"\n'
        '[[device]]\nid = "rs-000002"\nkind = "river-station"\nhj212_mn = "A1"\n',
        '[[device]]\nid = "rs-000001"\nkind = "river-station"\nmn = "A1"\n',
    ],
)
def test_a_bad_mn_in_the_registry_is_refused(text: str) -> None:
    with pytest.raises(RegistryError):
        parse_registry(text)


# -- the listener's encoder and the packet command ---------------------------------------------


@given(st.data())
def test_the_listeners_encoder_writes_the_bytes_of_cores(data: st.DataObject) -> None:
    pids = data.draw(st.sets(st.sampled_from(sorted(c.WATER_PARAMETERS)), min_size=1))
    values = {}
    for pid in sorted(pids, key=lambda _: data.draw(st.integers())):  # any insertion order
        _, _, scale, low, high = c.WATER_PARAMETERS[pid]
        values[pid] = data.draw(st.integers(low * scale, high * scale))
    flagged = data.draw(st.sets(st.sampled_from(sorted(pids))))
    statuses = {
        pid: data.draw(st.integers(c.VALUE_CALIBRATING, c.VALUE_UNDER_RANGE)) for pid in flagged
    }
    sample = WaterSample(
        data.draw(st.integers(1, c.UINT32_MAX)),
        data.draw(st.integers(0, c.UINT32_MAX)),
        data.draw(st.integers(c.TS_MIN, c.TS_MAX)),
        values,
        statuses,
    )
    assert encode_sample(sample) == encode(sample)


def test_the_packet_command_frames_a_data_segment() -> None:
    segment = read_packet(STANDARD_EXAMPLE)
    result = CliRunner().invoke(app, ["edge", "hj212-frame", render_segment(segment)])
    assert result.exit_code == 0
    assert result.stdout_bytes == STANDARD_EXAMPLE
    refused = CliRunner().invoke(app, ["edge", "hj212-frame", "x" * (MAX_DATA + 1)])
    assert refused.exit_code == 1
