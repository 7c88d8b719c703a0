"""The gateway-to-cloud batch format: round trip, and a clear refusal of anything else."""

import gzip

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.forwarding import (
    MAX_INFLATED_BYTES,
    BatchFormatError,
    ForwardBatch,
    ForwardedMessage,
    decode_batch,
    encode_batch,
)

messages = st.builds(
    ForwardedMessage,
    st.sampled_from(["br-000001", "rs-000042", "br-9"]),
    st.sampled_from(["telemetry", "event", "ack", "batch", "status"]),
    st.integers(0, 2**41),
    st.binary(max_size=64),
)


@given(st.text(min_size=1, max_size=20), st.lists(messages, max_size=30))
def test_round_trip(batch_id: str, items: list[ForwardedMessage]) -> None:
    batch = ForwardBatch("gw-district-01", batch_id, 1795932000123, tuple(items))
    assert decode_batch(encode_batch(batch)) == batch


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"v": 2, "gw": "g", "id": "1", "sent": 1, "items": []}, "format version"),
        ({"v": 1, "id": "1", "sent": 1, "items": []}, "'gw'"),
        ({"v": 1, "gw": "g", "id": "1", "sent": 1.5, "items": []}, "'sent'"),
        ({"v": 1, "gw": "g", "id": "1", "sent": 1, "items": [["BR/1", "event", 1, b""]]}, "item 0"),
        ({"v": 1, "gw": "g", "id": "1", "sent": 1, "items": [["br-1", "cmd", 1, b""]]}, "channel"),
        (
            {"v": 1, "gw": "g", "id": "1", "sent": 1, "items": [["br-1", "event", 1, "x"]]},
            "payload",
        ),
    ],
)
def test_malformed_batches_are_refused_with_the_reason(body: dict, reason: str) -> None:
    with pytest.raises(BatchFormatError, match=reason):
        decode_batch(gzip.compress(cbor2.dumps(body)))


def test_not_gzip_and_zip_bombs_are_refused() -> None:
    with pytest.raises(BatchFormatError, match="gzip"):
        decode_batch(b"plain bytes")
    bomb = gzip.compress(b"\0" * (MAX_INFLATED_BYTES + 10))
    with pytest.raises(BatchFormatError, match="inflates"):
        decode_batch(bomb)
