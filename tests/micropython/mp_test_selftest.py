"""Checks mptest itself and the interpreter facts core/ relies on.

Runs on the MicroPython VM and on CPython; every test must hold on both.
"""

import io
import json
import struct
import sys
from collections import OrderedDict

import mptest
from mptest import assert_equal, assert_raises


class _CodecError(Exception):
    """Shaped like a package's exception root: a message plus a field."""

    def __init__(self, message, field):
        super().__init__(message)
        self.field = field


def _fail_with(exc):
    raise exc


# --- the framework ---------------------------------------------------------


def test_assert_raises_returns_the_exception():
    exc = assert_raises(ValueError, _fail_with, ValueError("bad reading"))
    assert_equal(exc.args, ("bad reading",))


def test_assert_raises_accepts_a_base_class():
    exc = assert_raises(LookupError, _fail_with, KeyError("zone"))
    assert isinstance(exc, KeyError)


def test_assert_raises_fails_when_nothing_is_raised():
    exc = assert_raises(AssertionError, assert_raises, ValueError, len, "abc")
    assert "ValueError not raised" in str(exc), str(exc)


def test_assert_raises_lets_another_exception_through():
    # A wrong exception type is an error with its own traceback, not a pass.
    exc = assert_raises(KeyError, assert_raises, ValueError, _fail_with, KeyError("k"))
    assert_equal(exc.args, ("k",))


def test_assert_equal_shows_both_values():
    assert_equal([1, 2], [1, 2])
    exc = assert_raises(AssertionError, assert_equal, 3, 4, "count")
    assert_equal(str(exc), "count: expected 4, got 3")


def test_run_module_counts_and_rejects_coroutines():
    class Module:
        __name__ = "fake"

        @staticmethod
        def test_ok():
            pass

        @staticmethod
        def test_broken():
            raise ValueError("boom")

        @staticmethod
        def test_generator():
            yield  # a body that never runs must not count as a pass

    report = io.StringIO()
    assert_equal(mptest.run_module(Module(), stream=report), (1, 2))
    lines = report.getvalue().split("\n")
    assert "PASS fake::test_ok" in lines, lines
    assert "FAIL fake::test_broken" in lines, lines
    assert "FAIL fake::test_generator" in lines, lines
    assert "ValueError: boom" in lines, lines


def test_run_module_fails_a_module_without_tests():
    class Empty:
        __name__ = "empty"

    report = io.StringIO()
    assert_equal(mptest.run_module(Empty(), stream=report), (0, 1))
    assert_equal(report.getvalue(), "FAIL empty: no test_* functions found\n")


def test_repo_path_is_relative_to_the_root():
    assert_equal(mptest.repo_path("core/codec.py"), mptest.REPO_ROOT + "/core/codec.py")
    assert_equal(mptest.repo_path("/abs/x.json"), "/abs/x.json")
    with open(mptest.repo_path("tests/micropython/mptest.py")) as f:
        assert f.readline().startswith('"""A tiny test framework')


def test_load_json_of_a_missing_file_raises_oserror():
    assert_raises(OSError, mptest.load_json, "tests/micropython/no-such-file.json")


def test_is_micropython_matches_the_interpreter():
    assert_equal(mptest.IS_MICROPYTHON, sys.implementation.name == "micropython")


# --- facts core/ relies on ---------------------------------------------------


def test_struct_packs_big_endian_floats():
    assert_equal(struct.pack(">f", 1.5), b"\x3f\xc0\x00\x00")
    assert_equal(struct.pack(">d", -2.0), bytes.fromhex("c000000000000000"))
    # float32 keeps ~7 digits: decoders must compare with a tolerance.
    (value,) = struct.unpack(">f", struct.pack(">f", 0.1))
    assert abs(value - 0.1) < 1e-7, value
    assert value != 0.1


def test_struct_round_trips_signed_and_unsigned_integers():
    packed = struct.pack(">hHiIq", -2, 65535, -(2**31), 2**32 - 1, -(2**40))
    assert_equal(len(packed), 2 + 2 + 4 + 4 + 8)
    assert_equal(struct.unpack(">hHiIq", packed), (-2, 65535, -(2**31), 2**32 - 1, -(2**40)))
    assert_equal(struct.unpack_from("<H", b"\x00\x34\x12", 1), (0x1234,))
    assert_equal(struct.calcsize(">BHI"), 7)


def test_struct_rejects_a_short_buffer_but_with_different_types():
    # CPython raises struct.error (not a ValueError); MicroPython raises ValueError and
    # has no struct.error. It also ignores extra bytes and does not range-check packing,
    # so codecs check lengths and ranges themselves before calling struct.
    exc = assert_raises(Exception, struct.unpack, ">H", b"\x01")
    assert type(exc).__name__ in ("error", "ValueError"), repr(exc)


def test_integer_arithmetic_beyond_32_bits():
    big = 2**31 + 1
    assert_equal(big * 3, 6442450947)
    assert_equal((2**64 - 1) // 7, 2635249153387078802)
    assert_equal(2**64 % 1000007, 2**64 - (2**64 // 1000007) * 1000007)
    assert_equal(-(2**40) >> 3, -137438953472)
    assert_equal((2**70 + 5) & 0xFF, 5)
    assert_equal(int.from_bytes(b"\xff" * 8, "big"), 2**64 - 1)
    assert_equal((2**40 + 1).to_bytes(6, "big"), b"\x01\x00\x00\x00\x00\x01")
    assert_equal(str(2**100), "1267650600228229401496703205376")


def test_bytes_hex_round_trip():
    assert_equal(bytes.fromhex("DEADbeef"), b"\xde\xad\xbe\xef")
    assert_equal(b"\x00\x0f\xff".hex(), "000fff")
    assert_raises(ValueError, bytes.fromhex, "zz")
    assert_raises(ValueError, bytes.fromhex, "abc")


def test_json_round_trip():
    reading = {"id": "b-17", "t": 1700000000, "v": [21.5, -0.25, None], "ok": True, "n": "é"}
    assert_equal(json.loads(json.dumps(reading)), reading)
    assert_equal(json.dumps([1, 2.5, "x"], separators=(",", ":")), '[1,2.5,"x"]')


def test_ordered_dict_keeps_insertion_order():
    # Plain dicts iterate in hash order on MicroPython; OrderedDict is the portable way
    # to produce keys in a fixed order.
    fields = OrderedDict()
    for key in ("zone", "id", "battery"):
        fields[key] = 1
    assert_equal(list(fields), ["zone", "id", "battery"])
    assert_equal(json.dumps(fields), '{"zone": 1, "id": 1, "battery": 1}')


def test_type_is_int_excludes_bool_on_both():
    # isinstance(True, int) is False on MicroPython but True on CPython;
    # `type(x) is int` answers the same on both.
    values = [True, 7, 7.0, 2**40]
    assert_equal([type(v) is int for v in values], [False, True, False, True])


def test_custom_exception_keeps_message_and_fields():
    exc = assert_raises(_CodecError, _fail_with, _CodecError("frame too short", "length"))
    assert_equal(str(exc), "frame too short")
    assert_equal(exc.field, "length")
    assert isinstance(exc, Exception)


def test_raise_from_raises_the_new_exception():
    # Chaining is dropped on MicroPython (a compile warning), but the new type is raised.
    def decode():
        try:
            int("zz", 16)
        except ValueError as exc:
            raise _CodecError("not hex", "payload") from exc

    exc = assert_raises(_CodecError, decode)
    assert_equal(exc.field, "payload")


def test_string_formatting_used_in_messages():
    assert_equal(f"{3.14159:.2f}|{7:03d}|{'x'!r}", "3.14|007|'x'")
    assert_equal("{:>5}".format("ab"), "   ab")
