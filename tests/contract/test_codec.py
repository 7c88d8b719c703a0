"""Behaviour of the device encoder and the decoders beyond the vectors."""

import pytest

from core import codec, contract, receiver
from core.errors import DecodeError, EncodeError
from core.messages import (
    Batch,
    Command,
    Config,
    Event,
    EventFix,
    Health,
    LocationFix,
    WaterSample,
)

TS = 1795932000


def largest_fix() -> LocationFix:
    """A fix with every field at the widest value its range allows."""
    specs = {spec[1]: spec for spec in LocationFix.FIELDS}
    widest = {}
    for name, (_key, _name, _kind, _req, low, high) in specs.items():
        # A CBOR integer head grows with magnitude; negatives cost as much as positives.
        widest[name] = max((low, high), key=lambda v: len(codec.cbor.encode(v)))
    return LocationFix(**widest)


def test_a_location_fix_is_never_more_than_48_bytes() -> None:
    assert len(codec.encode(largest_fix())) <= 48
    assert contract.MAX_SIZE_BY_KIND[contract.LOCATION_FIX] == 48


def test_encoder_refuses_out_of_range_values() -> None:
    fix = LocationFix(1, 0, TS, lat_e7=950000000, lon_e7=0, accuracy_m=5, source=1)
    with pytest.raises(EncodeError, match="lat_e7"):
        codec.encode(fix)


def test_encoder_refuses_unset_clock() -> None:
    with pytest.raises(EncodeError, match="ts \\(key 4\\)"):
        codec.encode(LocationFix(1, 0, 0, 0, 0, 5, 1))


def test_physical_values() -> None:
    fix = LocationFix(1, 0, TS, 312304560, 1214737120, 8, 1, 134)
    assert fix.lat == pytest.approx(31.230456)
    assert fix.lon == pytest.approx(121.473712)
    sample = WaterSample(1, 0, TS, {7: 1830, 2: 742}, {7: contract.VALUE_CALIBRATING})
    assert sample.value_of("ammonia_nitrogen") == pytest.approx(1.83)
    assert sample.value_of("ph") == pytest.approx(7.42)
    assert sample.value_of("total_phosphorus") is None
    assert sample.status_of("ammonia_nitrogen") == contract.VALUE_CALIBRATING
    assert sample.status_of("ph") == contract.VALUE_NORMAL


def test_batch_round_trip_keeps_each_records_boot_and_seq() -> None:
    items = [LocationFix(7, 100 + i, TS + i, 312304560, 1214737120, 8, 1) for i in range(200)] + [
        Event(8, 0, TS + 500, contract.EV_STRAP_OPENED, fix=EventFix(1, 2, 3, 1))
    ]
    batch = Batch(8, items, TS + 600)
    decoded = receiver.decode(codec.encode(batch), "batch")
    assert isinstance(decoded, Batch)
    assert [(i.boot, i.seq) for i in decoded.items] == [(i.boot, i.seq) for i in items]
    assert decoded == batch


def test_batch_item_limit() -> None:
    items = [LocationFix(7, i, TS, 0, 0, 8, 1) for i in range(contract.MAX_BATCH_ITEMS + 1)]
    with pytest.raises(EncodeError, match="items"):
        codec.encode(Batch(7, items))


def test_config_accessors_and_unknown_setting_reason() -> None:
    config = Config(4, TS, {1: 30, 6: 120})
    assert config.setting("fix_interval_s") == 30
    assert config.setting("sample_interval_s", 300) == 300
    wire = config.to_wire()
    wire[10][42] = 1
    with pytest.raises(DecodeError) as caught:
        codec.decode(codec.cbor.encode(wire), "config")
    assert caught.value.code == "unknown_key"
    assert "42" in caught.value.detail


def test_command_arguments_and_expiry() -> None:
    command = Command(9, TS, contract.CMD_ROLL_CALL, {1: 120}, expires_ts=TS + 600)
    assert command.arg("window_s") == 120
    assert command.name == "roll_call"
    assert receiver.decode(codec.encode(command), "cmd") == command
    with pytest.raises(EncodeError, match="expires_ts"):
        codec.encode(Command(9, TS, contract.CMD_LOCATE_NOW, expires_ts=TS - 1))


def test_duplicate_map_keys_are_refused_by_both_decoders() -> None:
    # a2 00 01 00 01: key 0 twice. cbor2 alone would keep the last one silently.
    data = bytes.fromhex("a200010001")
    for decode in (codec.decode, receiver.decode):
        with pytest.raises(DecodeError, match="duplicate"):
            decode(data)


def test_non_minimal_integers_are_read_the_same_by_both_decoders() -> None:
    # A health report whose battery percentage uses a 2-byte head (19 0050) instead of 18 50.
    canonical = codec.encode(Health(1, 2, TS, 80, False))
    long_form = canonical.replace(bytes.fromhex("0a1850"), bytes.fromhex("0a190050"))
    assert long_form != canonical
    assert receiver.decode(long_form) == codec.decode(long_form) == codec.decode(canonical)
