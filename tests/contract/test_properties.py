"""Property tests: round trips of every kind, and decoders that only ever fail with DecodeError."""

import string
from typing import Any

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

from core import codec, contract, receiver
from core.errors import DecodeError
from core.fields import BOOL, INT
from core.messages import (
    Batch,
    Command,
    Config,
    ConfigZone,
    Event,
    EventFix,
    LocationFix,
    Message,
    WaterSample,
)


def field_values(cls: type[Message], skip: tuple[str, ...] = ()) -> st.SearchStrategy[dict]:
    """Values for a class's flat fields, each within its contract range (optionals may be None)."""
    parts: dict[str, st.SearchStrategy[Any]] = {}
    for _key, name, kind, required, low, high in cls.FIELDS:
        if name in skip:
            continue
        if kind == INT:
            base: st.SearchStrategy[Any] = st.integers(low, high)
        elif kind == BOOL:
            base = st.booleans()
        else:
            base = st.text(string.ascii_letters + " .-", min_size=low, max_size=high)
        parts[name] = base if required else st.none() | base
    return st.fixed_dictionaries(parts)


acks = field_values(codec.MESSAGE_CLASSES[contract.ACK]).filter(
    lambda v: (v["config_version"] is None) != (v["command_id"] is None)
)

event_fixes = st.builds(
    EventFix,
    st.integers(-900000000, 900000000),
    st.integers(-1800000000, 1800000000),
    st.integers(0, 65535),
    st.integers(1, 3),
)


@st.composite
def events(draw: st.DrawFn) -> Event:
    values = draw(
        field_values(Event, skip=("command_id", "roll_call_result", "response_s", "zone_id"))
    )
    if values["code"] == contract.EV_ROLL_CALL_RESPONSE:
        values["command_id"] = draw(st.integers(1, contract.UINT32_MAX))
        values["roll_call_result"] = draw(st.integers(0, 1))
        values["response_s"] = draw(st.none() | st.integers(0, 3600))
    if values["code"] in contract.EV_ZONE_CODES:
        values["zone_id"] = draw(st.integers(1, contract.UINT32_MAX))
    return Event(**values, fix=draw(st.none() | event_fixes))


@st.composite
def water_samples(draw: st.DrawFn) -> WaterSample:
    envelope = draw(field_values(WaterSample))
    readings = {}
    statuses = {}
    for pid, (_name, _unit, scale, low, high) in contract.WATER_PARAMETERS.items():
        status = draw(st.sampled_from([None, None, None, *contract.VALUE_STATUS_NAMES]))
        if status is None:
            continue
        if status != contract.VALUE_NORMAL:
            statuses[pid] = status
        if status not in contract.VALUE_STATUSES_WITHOUT_VALUE or draw(st.booleans()):
            readings[pid] = draw(st.integers(low * scale, high * scale))
    if not readings and not statuses:
        readings[2] = 700
    return WaterSample(**envelope, values=readings, statuses=statuses)


lats = st.integers(-900000000, 900000000)
lons = st.integers(-1800000000, 1800000000)
windows = st.tuples(st.integers(1, 127), st.integers(0, 1439), st.integers(0, 1440)).filter(
    lambda w: w[1] != w[2]
)


@st.composite
def config_zones(draw: st.DrawFn, zone_id: int, max_vertices: int) -> ConfigZone:
    rule = draw(st.sampled_from(sorted(contract.ZONE_RULE_NAMES)))
    in_force = draw(st.lists(windows, max_size=contract.MAX_ZONE_WINDOWS))
    if max_vertices < contract.MIN_ZONE_VERTICES or draw(st.booleans()):
        circle = (draw(lats), draw(lons), draw(st.integers(1, contract.MAX_ZONE_RADIUS_M)))
        return ConfigZone(zone_id, rule, circle=circle, windows=in_force)
    count = draw(st.integers(contract.MIN_ZONE_VERTICES, min(max_vertices, 64)))
    polygon = draw(st.lists(st.tuples(lats, lons), min_size=count, max_size=count))
    return ConfigZone(zone_id, rule, polygon=polygon, windows=in_force)


@st.composite
def configs(draw: st.DrawFn) -> Config:
    chosen = draw(st.sets(st.sampled_from(sorted(contract.CONFIG_SETTINGS))))
    settings = {
        sid: draw(st.integers(contract.CONFIG_SETTINGS[sid][1], contract.CONFIG_SETTINGS[sid][2]))
        for sid in chosen
    }
    ids = draw(
        st.lists(st.integers(1, contract.UINT32_MAX), unique=True, max_size=contract.MAX_ZONES)
    )
    zones = []
    room = contract.MAX_ZONE_VERTICES_TOTAL
    for zone_id in ids:
        zone = draw(config_zones(zone_id, room))
        room -= zone.vertex_count
        zones.append(zone)
    return Config(
        draw(st.integers(1, contract.UINT32_MAX)),
        draw(st.integers(contract.TS_MIN, contract.TS_MAX)),
        settings,
        zones,
    )


@st.composite
def commands(draw: st.DrawFn) -> Command:
    code = draw(st.sampled_from(sorted(contract.COMMANDS)))
    _name, specs, _required = contract.COMMANDS[code]
    args = {aid: draw(st.integers(low, high)) for aid, (_n, low, high) in specs.items()}
    ts = draw(st.integers(contract.TS_MIN, contract.TS_MAX - 10))
    expires = draw(st.none() | st.integers(ts, contract.TS_MAX))
    return Command(draw(st.integers(1, contract.UINT32_MAX)), ts, code, args, expires)


records = st.one_of(
    field_values(LocationFix).map(lambda v: LocationFix(**v)),
    field_values(codec.MESSAGE_CLASSES[contract.HEALTH]).map(
        lambda v: codec.MESSAGE_CLASSES[contract.HEALTH](**v)
    ),
    acks.map(lambda v: codec.MESSAGE_CLASSES[contract.ACK](**v)),
    events(),
    water_samples(),
)
batches = st.builds(
    Batch,
    st.integers(1, contract.UINT32_MAX),
    st.lists(records, min_size=1, max_size=40),
    st.none() | st.integers(contract.TS_MIN, contract.TS_MAX),
)
statuses = field_values(codec.MESSAGE_CLASSES[contract.STATUS]).map(
    lambda v: codec.MESSAGE_CLASSES[contract.STATUS](**v)
)
messages = st.one_of(records, batches, statuses, configs(), commands())


@settings(max_examples=400)
@given(messages)
def test_every_message_round_trips_through_both_decoders(message: Message) -> None:
    data = codec.encode(message)
    assert cbor2.loads(data) == message.to_wire()
    assert receiver.decode(data) == message
    assert codec.decode(data) == message
    assert codec.encode(receiver.decode(data)) == data


def decode_outcome(decode: Any, data: bytes) -> Message | DecodeError:
    try:
        decoded: Message = decode(data)
    except DecodeError as exc:
        return exc
    return decoded


def assert_only_decode_errors(data: bytes) -> None:
    """Any other exception escapes and fails the test; a DecodeError must say what is wrong."""
    for decode in (receiver.decode, codec.decode):
        outcome = decode_outcome(decode, data)
        if isinstance(outcome, DecodeError):
            assert outcome.code
            assert outcome.detail


@settings(max_examples=1500)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_fail_only_with_decode_error(data: bytes) -> None:
    assert_only_decode_errors(data)


cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64 - 1)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.integers(-2, 20) | st.text(max_size=3), children, max_size=6)
    ),
    max_leaves=30,
)


@settings(max_examples=1000)
@given(cbor_values)
def test_arbitrary_cbor_fails_only_with_decode_error(value: Any) -> None:
    assert_only_decode_errors(cbor2.dumps(value))


@settings(max_examples=1000)
@given(
    st.sampled_from(sorted(contract.KIND_NAMES)),
    st.dictionaries(st.integers(2, 20), cbor_values, max_size=10),
)
def test_arbitrary_fields_of_a_known_kind_fail_only_with_decode_error(
    kind: int, fields: dict
) -> None:
    assert_only_decode_errors(cbor2.dumps({0: 1, 1: kind, **fields}))


@settings(max_examples=500)
@given(messages, st.data())
def test_corrupted_messages_fail_only_with_decode_error(
    message: Message, data: st.DataObject
) -> None:
    raw = bytearray(codec.encode(message))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    assert_only_decode_errors(bytes(raw[:cut]))
    assert_only_decode_errors(bytes(raw))


def same_outcome(data: bytes) -> None:
    device = decode_outcome(codec.decode, data)
    cloud = decode_outcome(receiver.decode, data)
    if isinstance(device, DecodeError) or isinstance(cloud, DecodeError):
        assert isinstance(device, DecodeError)
        assert isinstance(cloud, DecodeError)
    else:
        assert device == cloud


@settings(max_examples=1000)
@given(st.one_of(st.binary(max_size=120), cbor_values.map(cbor2.dumps), messages.map(codec.encode)))
def test_device_and_receiver_decoders_agree(data: bytes) -> None:
    """What a device accepts (downlink) and what the cloud accepts (uplink) are the same set."""
    same_outcome(data)
