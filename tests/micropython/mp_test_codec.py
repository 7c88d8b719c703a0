"""The device side of wire contract v1, against the shared vectors (runs on MicroPython).

Every valid vector must decode to its expected value with core's own CBOR
reader and re-encode to the very same bytes; every invalid vector must be
refused with its error code and field. The same files are checked against
cbor2 on CPython (tests/contract/test_vectors.py).
"""

import os

from mptest import assert_equal, assert_raises, load_json, repo_path

from core import cbor, codec, contract, topics
from core.errors import DecodeError, EncodeError
from core.messages import Batch, Command, Config, Event, EventFix, LocationFix

VECTOR_DIR = "tests/vectors/v1"
TS = 1795932000


def _vector_files():
    names = sorted(os.listdir(repo_path(VECTOR_DIR)))
    return [n for n in names if n.endswith(".json") and n != "invalid.json"]


def _valid():
    vectors = []
    for name in _vector_files():
        vectors.extend(load_json(VECTOR_DIR + "/" + name))
    return vectors


def test_every_kind_has_a_vector_file():
    kinds = [name[:-5] for name in _vector_files()]
    assert_equal(sorted(kinds), sorted(contract.KIND_NAMES.values()))


def test_valid_vectors_decode_to_expected_values():
    vectors = _valid()
    assert len(vectors) >= len(contract.KIND_NAMES)
    for vector in vectors:
        message = codec.decode(bytes.fromhex(vector["hex"]))
        assert_equal(message.as_dict(), vector["decoded"], vector["name"])


def test_device_encoder_reproduces_every_vector():
    for vector in _valid():
        data = bytes.fromhex(vector["hex"])
        assert_equal(codec.encode(codec.decode(data)).hex(), vector["hex"], vector["name"])


def test_invalid_vectors_are_refused_with_their_reason():
    vectors = load_json(VECTOR_DIR + "/invalid.json")
    assert len(vectors) > 10
    for vector in vectors:
        error = assert_raises(
            DecodeError, codec.decode, bytes.fromhex(vector["hex"]), vector["channel"]
        )
        assert_equal(error.code, vector["error"], vector["name"] + " " + str(error))
        assert_equal(error.field, vector["field"], vector["name"] + " " + str(error))


def test_messages_built_on_the_device_match_the_vectors():
    fix = LocationFix(17, 40213, TS, 312304560, 1214737120, 8, contract.FIX_GNSS, 134)
    assert_equal(codec.encode(fix).hex(), load_json(VECTOR_DIR + "/location_fix.json")[0]["hex"])
    strap = Event(
        17,
        40215,
        TS + 7,
        contract.EV_STRAP_OPENED,
        battery_pct=75,
        fix=EventFix(312304560, 1214737120, 8, contract.FIX_GNSS),
    )
    assert_equal(codec.encode(strap).hex(), load_json(VECTOR_DIR + "/event.json")[0]["hex"])


def test_largest_fix_fits_48_bytes():
    u32 = contract.UINT32_MAX
    fix = LocationFix(u32, u32, contract.TS_MAX, -900000000, -1800000000, 65535, 3, 10000)
    size = len(codec.encode(fix))
    assert size <= 48, size


def test_encoder_refuses_invalid_messages():
    assert_raises(EncodeError, codec.encode, LocationFix(1, 0, TS, 910000000, 0, 5, 1))
    assert_raises(EncodeError, codec.encode, Config(1, TS, {1: 1}))
    assert_raises(EncodeError, codec.encode, Command(1, TS, contract.CMD_ROLL_CALL))


def test_downlink_round_trip():
    config = Config(12, TS, {1: 30, 6: 120})
    assert_equal(codec.decode(codec.encode(config), "config"), config)
    assert_equal(config.setting("roll_call_window_s"), 120)
    command = Command(5001, TS, contract.CMD_ROLL_CALL, {1: 120}, TS + 600)
    decoded = codec.decode(codec.encode(command), "cmd")
    assert_equal(decoded.arg("window_s"), 120)


def test_batch_of_buffered_records():
    items = [LocationFix(3, i, TS + i, 312304560, 1214737120, 8, 1) for i in range(100)]
    batch = Batch(4, items, TS + 200)
    data = codec.encode(batch)
    decoded = codec.decode(data, "batch")
    assert_equal([(r.boot, r.seq) for r in decoded.items], [(3, i) for i in range(100)])


def test_large_integers_and_negative_values():
    for value in (
        0,
        23,
        24,
        255,
        256,
        65535,
        65536,
        2**32 - 1,
        2**32,
        2**64 - 1,
        -1,
        -24,
        -25,
        -(2**32),
        -(2**64),
    ):
        assert_equal(cbor.decode(cbor.encode(value)), value)


def test_topics():
    assert_equal(topics.topic("br-000123", "event"), "fw/v1/br-000123/up/event")
    assert_equal(topics.parse("fw/v1/rs-42/config"), ("rs-42", "config"))
    assert_raises(Exception, topics.topic, "BR/1", "event")
