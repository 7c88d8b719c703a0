"""The cloud's line protocol is exactly what influxdb-client's ``Point`` writes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cloud.timeseries.points import Record, RecordContext, record_point, reference_point
from core import receiver
from core.messages import Batch
from tests.contract.test_properties import records
from tests.contract.vectors import valid_vectors

contexts = st.builds(
    RecordContext,
    device_id=st.text(min_size=1, max_size=40),
    gateway_id=st.text(min_size=1, max_size=40),
    received_at_ms=st.integers(0, 2**53),
    late=st.booleans(),
)


@given(record=records, context=contexts)
def test_every_record_gives_the_line_point_gives(record: Record, context: RecordContext) -> None:
    assert record_point(record, context) == reference_point(record, context)


def test_every_contract_vector_gives_the_line_point_gives() -> None:
    checked = 0
    context = RecordContext("br-000001", "gw-one", 1_767_225_600_000, late=False)
    for vector in valid_vectors():
        message = receiver.decode(bytes.fromhex(vector["hex"]))
        found = message.items if isinstance(message, Batch) else [message]
        for record in found:
            if hasattr(record, "seq"):
                assert record_point(record, context) == reference_point(record, context)
                checked += 1
    assert checked >= 10


def test_escaping_of_ids_and_text_follows_point() -> None:
    record = next(
        receiver.decode(bytes.fromhex(v["hex"]))
        for v in valid_vectors()
        if v["decoded"]["kind"] == "location_fix"
    )
    odd = RecordContext("br 1,a=b\\", 'gw "x"\\', 5, late=True)
    line = record_point(record, odd).line
    assert line == reference_point(record, odd).line
    # Point escapes space, comma and equals, and pads a trailing backslash with a space.
    assert line.startswith("location,device_id=br\\ 1\\,a\\=b\\  ")
    assert 'gateway_id="gw \\"x\\"\\\\"' in line
