"""Spike detector cost per window as history grows: constant, since the state is a fixed size.

    python benchmarks/spikes_cost.py

Feeds one series 100,000 five-minute windows (almost a year) of Poisson-like traffic with a daily
rhythm (read as a count, then as a measurement), timing the 1,000 windows after the first 1,000 and the 1,000 after the first 100,000,
and prints microseconds per window at both points and their ratio (same run: the machines here
are noisy). The state's JSON size is printed beside them.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.judgement.spikes import SpikeSettings, new_state, update  # noqa: E402

SETTINGS = SpikeSettings()
START = datetime(2026, 1, 5, tzinfo=timezone.utc)


def traffic(n: int, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        at = START + i * SETTINGS.window
        rate = 20 + 15 * math.sin(2 * math.pi * (at.hour + at.minute / 60) / 24)
        out.append(max(0.0, round(rng.gauss(rate, math.sqrt(rate)))))
    return out


def timed(state: dict, values: list[float], first: int, measurement: bool) -> float:
    started = time.perf_counter()
    for i, value in enumerate(values):
        update(state, START + (first + i) * SETTINGS.window, value, SETTINGS, measurement=measurement)
    return (time.perf_counter() - started) / len(values) * 1e6


def main() -> None:
    values = traffic(101_000)
    for measurement in (False, True):
        state = new_state(START)
        for i, value in enumerate(values[:1_000]):
            update(state, START + i * SETTINGS.window, value, SETTINGS, measurement=measurement)
        early = timed(state, values[1_000:2_000], 1_000, measurement)
        size_early = len(json.dumps(state))
        for i, value in enumerate(values[2_000:100_000], start=2_000):
            update(state, START + i * SETTINGS.window, value, SETTINGS, measurement=measurement)
        late = timed(state, values[100_000:101_000], 100_000, measurement)
        kind = "a measurement" if measurement else "a count"
        print(f"{kind}, after 1,000 windows:   {early:6.1f} µs per window, state {size_early:,} bytes of JSON")
        print(f"{kind}, after 100,000 windows: {late:6.1f} µs per window, state {len(json.dumps(state)):,} bytes of JSON")
        print(f"{kind}, ratio late / early: {late / early:.2f}x (constant cost: ~1.0)")


if __name__ == "__main__":
    main()
