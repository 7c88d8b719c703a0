import pytest

from core import topics
from core.codec import CHANNEL_KINDS
from core.errors import TopicError


def test_topic_round_trip_for_every_channel() -> None:
    for channel in CHANNEL_KINDS:
        name = topics.topic("br-000123", channel)
        assert name.startswith("fw/v1/br-000123/")
        assert topics.parse(name) == ("br-000123", channel)


@pytest.mark.parametrize(
    "device_id", ["", "ab", "BR-1", "br/1", "br+1", "br#1", "1br", "br 1", "x" * 33, "br_1"]
)
def test_bad_device_ids_are_refused(device_id: str) -> None:
    with pytest.raises(TopicError):
        topics.topic(device_id, "telemetry")


@pytest.mark.parametrize(
    "name",
    ["fw/v2/br-1/up/telemetry", "fw/v1/br-0001", "fw/v1/br-0001/up/other", "fw/v1/+/status"],
)
def test_foreign_topics_are_refused(name: str) -> None:
    with pytest.raises(TopicError):
        topics.parse(name)
