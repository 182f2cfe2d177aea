"""Spikes and drops in series: a streaming detector with one small state per series.

A series is a value per fixed window (5 minutes by default): a brand's mentions, its negative
mentions, its assassins, the reach of its negative mentions, per brand and per brand × source.
Each closed window is scored against what the past alone predicts, then folded into the state,
in constant time and memory:

- a **count** (posts, or a weight such as reach with posts behind it) by the storm rule of
  ``counts``: several times what this hour usually brings, lasting, above this series' own
  ordinary daily peaks, not at the time of day of an earlier day's burst;
- a **measurement** (a value with no posts behind it: CPU, latency, a rate) by its records, in
  ``measurements``; the monitor's own series are all counts, NAB's 48 other series are these.

Until ``warmup`` of history exists a series says so and never fires. The state is a plain dict
(JSON in the store), so a restarted monitor scores exactly as one that never stopped.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from monitor.judgement.counts import is_current, new_count_state, update_count
from monitor.judgement.measurements import new_measurement_state, update_measurement
from monitor.judgement.verdict import Verdict, poisson_sf

__all__ = ["SpikeSettings", "Verdict", "is_current", "new_state", "poisson_sf", "update"]


@dataclass(frozen=True)
class SpikeSettings:
    """One frozen configuration for every series (config ``spikes:``)."""

    window: timedelta = timedelta(minutes=5)
    warmup: timedelta = timedelta(days=1)
    # The storm rule (counts), chosen by benchmarks/storm_eval.py's procedure:
    storm_ratio: float = 2.75  # the last hour, its busiest quarter aside, at least this × expected
    fast_ratio: float = 4.0  # or every window of the last 15 minutes at least this × expected
    bar_factor: float = 1.25  # and above this × the series' ordinary daily peak of the hour's ratio
    fast_bar_factor: float = 2.0  # ... of the 15 minutes' ratio
    level_hours: int = 6  # expected at today's level: the median of this many hours before the last (0: off)
    bar_quantile: float = 0.75  # the ordinary daily peak: this quantile of the daily maxima
    bar_days: int = 28  # ... of the last this many days
    recurring_days: int = 3  # a burst at the time of day of one this many days back is weather (0: off)
    min_excess: float = 5.0  # posts above expectation
    max_p: float = 1e-4  # Poisson probability of a count at least this high
    rearm: timedelta = timedelta(hours=12)
    drop_ratio: float = 0.2  # a drop: every window at most this × expected ...
    drop_after: timedelta = timedelta(hours=1)  # ... for this long ...
    drop_min_expected: float = 5.0  # ... where at least this many posts per window were expected
    # Measurements and the robust scale every series keeps:
    threshold: float = 5.0  # a measurement's band: this many robust scales around its expectation
    level_half_life: timedelta = timedelta(hours=12)
    scale_half_life: timedelta = timedelta(days=2)
    daily_memory: float = 7.0  # days: how fast the daily profile learns (its half-life in visits)
    weekly_memory: float = 1.0  # weeks: the same for the day-of-week offsets
    record_memory: timedelta = timedelta(days=30)  # a record is the highest (lowest) window of this long
    record_p: float = 0.01  # a count beats its record when it is that improbable at the record's rate
    smooth: timedelta = timedelta(hours=1)  # a measurement's level: its values' half-life in that mean
    record_margin: float = 0.1  # a record must beat the old one by this many typical steps between windows
    hour_memory: timedelta = timedelta(days=7)  # an hour record: beyond every window at this hour of day this long
    hour_margin: float = 2.0  # ... by this many times the spread of that hour's windows
    hour_steps: float = 8.0  # ... and by this many typical steps between windows
    hour_samples: int = 10  # windows seen at that hour before its range counts

    @functools.cached_property
    def rates(self) -> "Rates":
        """What one window's length implies (computed once, read by every update)."""
        step = self.window
        return Rates(level=_alpha(step, self.level_half_life), daily=_alpha(step, timedelta(hours=1) * self.daily_memory),
                     weekly=_alpha(step, timedelta(days=1) * self.weekly_memory),
                     scale=_alpha(step, self.scale_half_life), smooth=_alpha(step, self.smooth),
                     record_block=self.record_memory / 3, rearm_seconds=int(self.rearm.total_seconds()),
                     shape=Shape.of(step))


class Shape(NamedTuple):
    """The storm rule's spans in windows, and its daily profile's slots."""

    slot_seconds: int  # an hour (or the window, when longer)
    slots_per_day: int
    window_share: float  # of a slot's posts, what one window is expected to hold
    fast_windows: int  # 15 minutes
    hour_windows: int  # an hour
    hour_trim: int  # its busiest quarter
    half_windows: int  # half an hour
    half_trim: int  # its busiest third

    @classmethod
    def of(cls, window: timedelta) -> "Shape":
        slot = max(window, timedelta(hours=1))
        per_day = max(1, round(timedelta(days=1) / slot))
        slot = timedelta(days=1) / per_day
        hour = max(1, round(timedelta(hours=1) / window))
        half = max(1, round(timedelta(minutes=30) / window))
        return cls(int(slot.total_seconds()), per_day, window / slot, max(1, round(timedelta(minutes=15) / window)),
                   hour, hour // 4, half, half // 3)


class Rates(NamedTuple):
    level: float
    daily: float
    weekly: float
    scale: float
    smooth: float
    record_block: timedelta  # a record's blocks each hold this long
    rearm_seconds: int
    shape: Shape


def _alpha(step: timedelta, half_life: timedelta) -> float:
    return 1.0 - 0.5 ** (step / half_life)


def new_state(start: datetime, settings: SpikeSettings | None = None, *, measurement: bool = False) -> dict:
    """The state of a series nobody has seen yet."""
    if measurement:
        return new_measurement_state(start)
    return new_count_state(start, settings or SpikeSettings())


def update(state: dict, at: datetime, value: float, settings: SpikeSettings, *, count: float | None = None,
           measurement: bool = False) -> Verdict:
    """Score the window starting ``at`` (its ``value``; ``count`` of posts behind it when the
    value is not itself a count, ``measurement`` when no posts are behind it at all), then fold
    it into ``state`` (in place)."""
    if measurement:
        if state.get("kind") != "measurement":
            start = state.get("start")
            state.clear()
            state.update(new_measurement_state(at), **({"start": start} if start else {}))
        return update_measurement(state, at, value, settings)
    return update_count(state, at, value, settings, count=count)
