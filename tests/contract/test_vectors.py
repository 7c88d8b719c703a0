"""Both decoders and the device encoder against the shared test vectors."""

import json
from collections.abc import Callable

import pytest

from core import codec, receiver
from core.contract import KIND_NAMES
from core.errors import DecodeError
from core.messages import Message
from tests.contract.vectors import VECTOR_DIR, invalid_vectors, kinds_with_files, valid_vectors

DECODERS: dict[str, Callable[..., Message]] = {
    "receiver(cbor2)": receiver.decode,
    "device(core.cbor)": codec.decode,
}
VALID = valid_vectors()
INVALID = invalid_vectors()


def test_every_message_kind_has_a_vector_file() -> None:
    assert kinds_with_files() == set(KIND_NAMES.values())
    assert {v["decoded"]["kind"] for v in VALID} == set(KIND_NAMES.values())


@pytest.mark.parametrize("decoder", DECODERS.values(), ids=DECODERS.keys())
@pytest.mark.parametrize("vector", VALID, ids=[v["name"] for v in VALID])
def test_valid_vector_decodes_to_expected_value(
    vector: dict, decoder: Callable[..., Message]
) -> None:
    message = decoder(bytes.fromhex(vector["hex"]))
    assert message.as_dict() == vector["decoded"]


@pytest.mark.parametrize("vector", VALID, ids=[v["name"] for v in VALID])
def test_device_encoder_reproduces_vector_bytes(vector: dict) -> None:
    data = bytes.fromhex(vector["hex"])
    assert codec.encode(receiver.decode(data)) == data


@pytest.mark.parametrize("vector", VALID, ids=[v["name"] for v in VALID])
def test_recorded_sizes_are_the_real_sizes(vector: dict) -> None:
    assert vector["size"] == len(bytes.fromhex(vector["hex"]))
    sent = {k: v for k, v in vector["decoded"].items() if v is not None and v != {} and v != []}
    assert vector["json_size"] == len(json.dumps(sent, separators=(",", ":")))
    assert vector["size"] < vector["json_size"]


@pytest.mark.parametrize("decoder", DECODERS.values(), ids=DECODERS.keys())
@pytest.mark.parametrize("vector", INVALID, ids=[v["name"] for v in INVALID])
def test_invalid_vector_is_refused_with_its_reason(
    vector: dict, decoder: Callable[..., Message]
) -> None:
    with pytest.raises(DecodeError) as caught:
        decoder(bytes.fromhex(vector["hex"]), vector["channel"])
    assert caught.value.code == vector["error"], str(caught.value)
    assert caught.value.field == vector["field"], str(caught.value)
    # The message names the problem for a person reading a quarantine row.
    assert caught.value.code in str(caught.value)
    assert caught.value.detail


def test_contract_doc_lists_every_vector_with_its_size() -> None:
    doc = (VECTOR_DIR.parents[2] / "docs" / "contract.md").read_text()
    for vector in VALID:
        row = f"| `{vector['name']}` | {vector['size']} | {vector['json_size']} |"
        assert row in doc, f"docs/contract.md lacks the size row: {row}"
