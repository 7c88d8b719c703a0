"""How fast river water values are judged (``cloud.rivers.trust``) on this machine.

Times ``judge_series`` over one parameter's 5-minute readings of 30 and 92 days (92 days is
the longest window a site's classes are asked for), ``assess.assess`` over a site's 30 days
of 5-parameter samples, and ``judge_latest`` with the 4 days of history the ingest gives
it. The series are a river's: a daily cycle, noise on the sonde's last digit, now and then
a lone spike and a sample the sonde marks as faulty. Reports the median of several rounds.

    .venv/bin/python -m fieldwatch_dev.bench.trust_speed [--rounds 5]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from cloud.rivers import assess, trust
from core import contract as c
from core import waterclass

T0 = 1_772_409_600  # 2026-03-02T00:00:00Z
DAY = 86_400
EVERY_S = 300
PH = 2
# parameter id: (mean, daily amplitude, noise), in the parameter's unit
RIVER: dict[int, tuple[float, float, float]] = {
    1: (14.0, 1.5, 0.03),
    2: (7.6, 0.15, 0.02),
    3: (8.0, 1.2, 0.05),
    4: (420.0, 12.0, 3.0),
    5: (12.0, 2.0, 0.6),
}


def river_readings(parameter_id: int, days: float, seed: int = 1) -> list[trust.Reading]:
    """One parameter's 5-minute readings, as a sonde on a quiet river sends them."""
    mean, amplitude, noise = RIVER[parameter_id]
    scale = c.WATER_PARAMETERS[parameter_id][2]
    rng = random.Random(seed)
    out = []
    for i in range(int(days * DAY / EVERY_S)):
        s = i * EVERY_S
        value = mean + amplitude * math.sin(2 * math.pi * s / DAY) + rng.uniform(-noise, noise)
        roll = rng.random()
        if roll < 0.002:
            value += 40 * noise + amplitude  # a lone spike
        if roll > 0.999:
            out.append(trust.Reading(T0 + s, None, c.VALUE_FAULT))
        else:
            out.append(trust.Reading(T0 + s, round(value * scale) / scale))
    return out


def site_samples(days: float) -> list[assess.Sample]:
    """A site's 5-minute samples of the five sonde parameters."""
    series = {pid: river_readings(pid, days, seed=pid) for pid in RIVER}
    samples = []
    for i, first in enumerate(series[PH]):
        values = {pid: readings[i].value for pid, readings in series.items()}
        statuses = {
            pid: readings[i].status
            for pid, readings in series.items()
            if readings[i].status != c.VALUE_NORMAL
        }
        samples.append(assess.Sample(first.ts, "river-1", values, statuses))
    return samples


@dataclass(frozen=True)
class TrustTiming:
    name: str
    readings: int
    seconds: float  # median of the rounds

    @property
    def us_per_reading(self) -> float:
        return self.seconds / self.readings * 1e6


def _median_s(work: Callable[[], object], rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def measure(rounds: int = 5) -> list[TrustTiming]:
    """The median time of each judging path over ``rounds`` rounds."""
    out = []
    for days in (30, 92):
        readings = river_readings(PH, days)
        seconds = _median_s(lambda r=readings: trust.judge_series(PH, r), rounds)  # type: ignore[misc]
        out.append(TrustTiming(f"judge_series, pH, {days} days", len(readings), seconds))
    samples = site_samples(30)
    seconds = _median_s(lambda: assess.assess(samples, waterclass.RIVER), rounds)
    out.append(TrustTiming("assess.assess, 5 parameters, 30 days", len(samples) * 5, seconds))
    history = river_readings(PH, 4 + 1 / 24)
    latest, earlier = history[-1], history[:-1]
    calls = 100
    seconds = _median_s(
        lambda: [trust.judge_latest(PH, earlier, latest) for _ in range(calls)], rounds
    )
    out.append(
        TrustTiming("judge_latest, pH, 4 days of history (a call)", len(history), seconds / calls)
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="rounds, the median is reported")
    args = parser.parse_args()
    print(f"{'path':44} {'readings':>9} {'median ms':>10} {'us/reading':>11}")
    for timing in measure(args.rounds):
        print(
            f"{timing.name:44} {timing.readings:9,} {timing.seconds * 1e3:10.1f}"
            f" {timing.us_per_reading:11.2f}"
        )


if __name__ == "__main__":
    main()
