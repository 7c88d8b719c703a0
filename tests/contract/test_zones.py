"""Zones in a config (ConfigZone) and the zone events, beyond the vectors."""

import cbor2
import pytest

from core import codec, contract, receiver
from core.errors import DecodeError, EncodeError
from core.messages import Config, ConfigZone, Event, EventFix

TS = 1795932000
U32 = contract.UINT32_MAX
HOME = [(311124000, 1213812000), (311124000, 1213818500), (311119500, 1213818500)]


def widest(low: int, high: int) -> int:
    return max((low, high), key=lambda v: len(codec.cbor.encode(v)))


def largest_config() -> Config:
    """Every setting, zone, vertex and window at the widest value its range allows."""
    settings = {sid: widest(low, high) for sid, (_n, low, high) in contract.CONFIG_SETTINGS.items()}
    windows = [(127, 1439, 1440)] * contract.MAX_ZONE_WINDOWS
    corner = (-900000000, -1800000000)
    polygons = contract.MAX_ZONE_VERTICES_TOTAL // contract.MAX_ZONE_VERTICES
    zones = []
    for i in range(contract.MAX_ZONES):
        if i < polygons:
            zone = ConfigZone(U32 - i, 2, polygon=[corner] * contract.MAX_ZONE_VERTICES)
        else:
            zone = ConfigZone(U32 - i, 2, circle=(*corner, contract.MAX_ZONE_RADIUS_M))
        zone.windows = windows
        zones.append(zone)
    return Config(U32, contract.TS_MAX, settings, zones)


def test_the_largest_config_fits_the_config_limit() -> None:
    data = codec.encode(largest_config())
    assert len(data) == 2924
    assert len(data) <= contract.MAX_SIZE_BY_KIND[contract.CONFIG]
    assert receiver.decode(data, "config") == largest_config()


def test_a_zone_event_fits_the_event_limit() -> None:
    fix = EventFix(-900000000, -1800000000, 65535, 3)
    event = Event(U32, U32, contract.TS_MAX, contract.EV_ZONE_ENTERED, 100, fix=fix, zone_id=U32)
    assert len(codec.encode(event)) <= contract.MAX_SIZE_BY_KIND[contract.EVENT]


def test_config_zone_shape_on_the_wire_and_by_name() -> None:
    zone = ConfigZone(101, contract.ZONE_INCLUSION, polygon=HOME, windows=[(127, 1320, 360)])
    assert zone.inclusion
    assert zone.vertex_count == 3
    assert zone.to_wire() == {
        1: 101,
        2: 1,
        4: [311124000, 1213812000, 311124000, 1213818500, 311119500, 1213818500],
        5: [[127, 1320, 360]],
    }
    assert zone.as_dict() == {
        "zone_id": 101,
        "rule": 1,
        "circle": None,
        "polygon": [[311124000, 1213812000], [311124000, 1213818500], [311119500, 1213818500]],
        "windows": [[127, 1320, 360]],
    }
    assert ConfigZone.from_wire(zone.to_wire()) == zone
    circle = ConfigZone(102, contract.ZONE_EXCLUSION, circle=(311350000, 1214010000, 300))
    assert not circle.inclusion
    assert circle.vertex_count == 0
    assert circle.to_wire() == {1: 102, 2: 2, 3: [311350000, 1214010000, 300]}
    assert circle.windows == []


def test_a_config_without_zones_has_no_zone_key() -> None:
    config = Config(3, TS, {1: 30})
    assert config.zones == []
    assert 11 not in cbor2.loads(codec.encode(config))
    assert codec.decode(codec.encode(config)).as_dict()["zones"] == []


def test_zones_keep_their_order() -> None:
    zones = [ConfigZone(i, 1, circle=(311120000, 1213815000, 100 * i)) for i in (5, 2, 9)]
    decoded = receiver.decode(codec.encode(Config(4, TS, {}, zones)))
    assert isinstance(decoded, Config)
    assert [z.zone_id for z in decoded.zones] == [5, 2, 9]


@pytest.mark.parametrize("decode", [receiver.decode, codec.decode])
def test_an_error_inside_a_zone_names_the_zone(decode: object) -> None:
    zones = [
        {1: 1, 2: 1, 3: [311120000, 1213815000, 500]},
        {1: 2, 2: 1, 3: [311120000, 1213815000, 0]},
    ]
    data = cbor2.dumps({0: 1, 1: 8, 4: TS, 5: 2, 10: {}, 11: zones}, canonical=True)
    with pytest.raises(DecodeError) as caught:
        decode(data)  # type: ignore[operator]
    assert caught.value.code == "out_of_range"
    assert caught.value.field == "radius_m"
    assert str(caught.value) == "out_of_range: zone 1: radius_m is 0, outside 1..100000"


def test_the_encoder_refuses_a_bad_zone() -> None:
    two_vertices = ConfigZone(1, 1, polygon=HOME[:2])
    with pytest.raises(EncodeError, match="polygon"):
        codec.encode(Config(2, TS, {}, [two_vertices]))
    with pytest.raises(EncodeError, match="zone_id"):
        codec.encode(Config(2, TS, {}, [ConfigZone(0, 1, circle=(0, 0, 10))]))


def test_zone_events_and_new_settings_have_names() -> None:
    left = Event(1, 0, TS, contract.EV_ZONE_LEFT, zone_id=101)
    assert left.name == "zone_left"
    assert Event(1, 1, TS, contract.EV_ZONE_ENTERED, zone_id=7).name == "zone_entered"
    decoded = receiver.decode(codec.encode(left), "event")
    assert isinstance(decoded, Event)
    assert decoded.zone_id == 101
    assert codec.decode(codec.encode(left), "event") == left
    names = {name for name, _low, _high in contract.CONFIG_SETTINGS.values()}
    assert {"utc_offset_min", "zone_warn_margin_m", "zone_dwell_s"} <= names
    config = Config(5, TS, {10: -300, 11: 100, 12: 60})
    assert codec.decode(codec.encode(config)).as_dict()["settings"] == {
        "utc_offset_min": -300,
        "zone_warn_margin_m": 100,
        "zone_dwell_s": 60,
    }
