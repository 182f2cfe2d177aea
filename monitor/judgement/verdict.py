"""What one window of one series looked like against its past, and the count statistics both
detectors (``counts`` for posts, ``measurements`` for values with no posts behind them) share."""

from __future__ import annotations

import functools
import math
from datetime import datetime
from typing import NamedTuple

from monitor.models import from_iso as _from_iso
from monitor.models import to_iso as _to_iso

# A window's time is written into each of its series' states and their start read back once per
# update: the same few strings and times, 24 series a window, hundreds of thousands in a backtest.
to_iso = functools.lru_cache(maxsize=4096)(_to_iso)
from_iso = functools.lru_cache(maxsize=4096)(_from_iso)

HUBER = 2.5  # residuals are clipped at this many scales before they move the state
SCALE_FLOOR = 0.15  # log units: below this, noise is not measurable and z would explode


class Verdict(NamedTuple):
    """What one window of one series looked like against its past (a tuple: one is made per
    window of every series, hundreds of thousands in a backtest)."""

    at: datetime
    value: float
    expected: float  # in the series' units
    low: float  # expected band
    high: float
    z: float  # the window's distance from expectation in the series' own robust scales
    kind: str | None = None  # "spike" or "drop" when this window fires
    warming_up: bool = False
    firing: bool = False  # inside an event that already fired (not re-armed yet)
    confidence: float = 0.0  # 0..1: how far past the threshold
    burst: float = 0.0  # a count's storm statistic: the last hour against expectation (× expected)
    bar: float = 0.0  # what that statistic had to reach on this series
    held: tuple[str, float, float] | None = None  # a burst held back: (why, its statistic, the bar)
    record: tuple[str, float] | None = None  # what fired on a record: ("value high", the record it beat)
    rule: str | None = None  # which test fired a count: "fast" (the last 15 minutes) or "hour"
    level: float = 1.0  # a count's expectation was its usual for this hour × this (today's level)

    @property
    def fired(self) -> bool:
        return self.kind is not None


def poisson_sf(count: float, rate: float) -> float:
    """P(X ≥ count) for X ~ Poisson(rate); exact enough for a threshold, O(√rate) terms."""
    k = math.ceil(count)
    if k <= 0:
        return 1.0
    if rate <= 0:
        return 0.0
    if k <= rate:
        return 1.0  # at or below the mean: never improbable enough to matter here
    log_term = k * math.log(rate) - rate - math.lgamma(k + 1)
    total, term = 0.0, math.exp(log_term)
    while term > 1e-300:
        total += term
        k += 1
        term *= rate / k
        if term < total * 1e-12:
            break
    return min(1.0, total)
