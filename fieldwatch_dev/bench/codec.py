"""How fast the wire contract is encoded and decoded on this machine.

Times the receiver's decoder (cbor2 + core checks, what the gateway and the
cloud run per message), core's own decoder and the device encoder, over a
realistic mix of messages. Reports the median of several rounds.
"""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from core import codec, contract, receiver
from core.messages import Event, EventFix, Health, LocationFix, Message, WaterSample

TS = 1795932000


def message_mix(count: int) -> list[Message]:
    """Eight fixes for every health report, event and water sample, as a fleet sends them."""
    mix: list[Message] = []
    for i in range(count):
        kind = i % 11
        if kind < 8:
            mix.append(LocationFix(7, i, TS + i, 312304560 + i, 1214737120 - i, 8, 1, 120))
        elif kind == 8:
            mix.append(Health(7, i, TS + i, 80, False, -85, 3600, 60000, 0, 0))
        elif kind == 9:
            mix.append(
                Event(7, i, TS + i, contract.EV_SOS, fix=EventFix(312304560, 1214737120, 8, 1))
            )
        else:
            mix.append(WaterSample(2, i, TS + i, {1: 1425, 2: 742, 3: 812, 7: 412, 8: 95}))
    return mix


@dataclass(frozen=True)
class CodecRate:
    name: str
    per_second: float


def _rate(work: Callable[[], None], count: int, rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return count / statistics.median(timings)


def measure(count: int = 20000, rounds: int = 5) -> list[CodecRate]:
    """Messages per second for each codec path, median of ``rounds``."""
    messages = message_mix(count)
    payloads = [codec.encode(m) for m in messages]

    def receiver_decode() -> None:
        for data in payloads:
            receiver.decode(data)

    def device_decode() -> None:
        for data in payloads:
            codec.decode(data)

    def device_encode() -> None:
        for message in messages:
            codec.encode(message)

    return [
        CodecRate("receiver decode (cbor2 + checks)", _rate(receiver_decode, count, rounds)),
        CodecRate("core decode (pure Python)", _rate(device_decode, count, rounds)),
        CodecRate("device encode (pure Python)", _rate(device_encode, count, rounds)),
    ]
