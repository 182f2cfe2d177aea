"""Spikes and drops in mention series: a streaming detector with one small state per series.

A series is a count per fixed window (5 minutes by default): a brand's mentions, its negative
mentions, its assassins, the reach of its negative mentions, per brand and per brand × source.
Each closed window is scored against what the past alone predicts, then folded into the state,
in O(1) time and memory (a level, a scale, a 24-bin daily and a 7-bin weekly profile, the
extremes of a few blocks of history; about 1–2 KB of JSON):

- counts are read on a log scale (a storm multiplies volume; an hour of 5,000 is not five times
  as alarming as an hour of 1,000), with the daily and weekly rhythm learnt as offsets, so a
  Monday morning is expected rather than alarming;
- the surprise is the residual over a robust scale (an exponentially weighted mean absolute
  residual); updates are clipped (Huber), so a storm barely moves the baseline, while a
  lasting shift does, a clip at a time: a new normal becomes the baseline within days;
- few posts are judged as counts: a window fires only when the count is also improbable under
  a Poisson law at the expected rate, and exceeds it by ``min_excess`` (0 → 3 negative posts is
  not a storm; 2 → 40 is);
- a storm is more than noise for *this* series: the window's surprise must also stand out
  from the series' own recent surprises (a brand whose volume is always bursty needs a bigger
  burst than a calm one);
- a moderate burst must hold for a second window, an ``extreme`` one fires at once;
- a storm is news, not weather: each burst is sized by the posts it has brought above
  expectation, in days of the series' normal volume, and fires only once it reaches ``novelty``
  × the largest burst of the recent past (each past burst counting half every
  ``novelty_half_life``). A brand that bursts every afternoon is not paged every afternoon;
  a burst bigger than its recent ones is, and so is the first of its kind. Smaller aftershocks
  of a storm stay quiet; a second storm as big as the first still fires;
- one storm is one event: after firing, a series re-arms ``rearm`` later; a drop fires when
  the series stays far below expectation for ``drop_after`` (a source or brand falling silent);
- a record is news too (the idea ARTime's and contextOSE's scores on NAB rest on: a value outside
  everything the series has done): a window above every window of the last ``record_memory``
  fires as a spike, below every one as a drop. A record says nothing of units or scale, so it
  holds for any series, but it must beat the old one by ``record_margin`` typical steps (the mean
  change from one window to the next): a series hovering at its high sets a new one by a hair
  every few hours, which is noise. A count's record must still pass the count tests above (a
  quiet brand's record of 2 posts is not a storm);
- a measurement (a value with no posts behind it: a CPU load, a rate, a temperature) is not a
  count: the log-volume and Poisson tests do not apply to it, so it fires on records alone, of its
  value, of its level smoothed over ``smooth`` (a lasting shift rather than one odd window), and
  of its hour of the day: an *hour record* is a window far outside every window at the same
  hour over the last ``hour_memory`` (by ``hour_margin`` × that hour's spread and ``hour_steps``
  typical steps, once the hour has ``hour_samples`` windows). It hears a rhythm break inside the
  overall range: a busy hour gone quiet, a quiet one gone busy, a daily peak that never came.
  (For counts, the storm rule's learnt daily profile already does this, with counts' statistics.)
- until ``warmup`` of history exists the detector says so and never fires.

The state is a plain dict (JSON in SQLite), so a restarted monitor scores exactly as one that
never stopped.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from monitor.models import from_iso as _from_iso
from monitor.models import to_iso as _to_iso

# A window's time is written into each of its series' states and their start read back once per
# update: the same few strings and times, 24 series a window, hundreds of thousands in a backtest.
to_iso = functools.lru_cache(maxsize=4096)(_to_iso)
from_iso = functools.lru_cache(maxsize=4096)(_from_iso)

HUBER = 2.5  # residuals are clipped at this many scales before they move the state
SCALE_FLOOR = 0.15  # log units: below this, noise is not measurable and z would explode


@dataclass(frozen=True)
class SpikeSettings:
    """One frozen configuration for every series (config ``spikes:``)."""

    window: timedelta = timedelta(minutes=5)
    level_half_life: timedelta = timedelta(hours=12)
    scale_half_life: timedelta = timedelta(days=2)
    daily_memory: float = 7.0  # days: how fast the daily profile learns (its half-life in visits)
    weekly_memory: float = 1.0  # weeks: the same for the day-of-week offsets
    warmup: timedelta = timedelta(days=1)
    threshold: float = 5.0  # robust scales above expectation
    surprise: float = 4.0  # and this many standard deviations above the series' own recent surprises
    surprise_half_life: timedelta = timedelta(days=7)
    min_excess: float = 5.0  # posts above expectation
    max_p: float = 1e-4  # Poisson probability of a count at least this high
    rearm: timedelta = timedelta(hours=12)
    extreme: float = 8.0  # a spike below this z must hold a second window (z ≥ threshold / 2) to fire
    novelty: float = 0.8  # a burst must reach this share of the largest recent burst (0: off)
    novelty_half_life: timedelta = timedelta(days=7)  # how fast a past burst stops setting the bar
    drop_threshold: float = 3.0
    drop_after: timedelta = timedelta(hours=1)
    drop_min_expected: float = 5.0  # posts per window expected before silence means anything
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
        """The exponential weights of one window (computed once, read by every update)."""
        step = self.window
        return Rates(level=_alpha(step, self.level_half_life), daily=_alpha(step, timedelta(hours=1) * self.daily_memory),
                     weekly=_alpha(step, timedelta(days=1) * self.weekly_memory),
                     scale=_alpha(step, self.scale_half_life), surprise=_alpha(step, self.surprise_half_life),
                     smooth=_alpha(step, self.smooth), novelty=0.5 ** (step / self.novelty_half_life),
                     per_day=timedelta(days=1) / step, record_block=self.record_memory / 3)


class Rates(NamedTuple):
    level: float
    daily: float
    weekly: float
    scale: float
    surprise: float
    smooth: float
    novelty: float  # what a past burst still weighs after one window
    per_day: float  # windows a day
    record_block: timedelta  # a record's blocks each hold this long


class Verdict(NamedTuple):
    """What one window of one series looked like against its past (a tuple: one is made per
    window of every series, hundreds of thousands in a backtest)."""

    at: datetime
    value: float
    expected: float  # in the series' units
    low: float  # expected band (± threshold scales)
    high: float
    z: float
    kind: str | None = None  # "spike" or "drop" when this window fires
    warming_up: bool = False
    firing: bool = False  # inside an event that already fired (not re-armed yet)
    confidence: float = 0.0  # 0..1: how far past the threshold
    burst: float = 0.0  # the current burst's excess so far, in days of the series' normal volume
    bar: float = 0.0  # what the burst had to reach: novelty × the largest recent burst, decayed
    held: tuple[float, float] | None = None  # a burst that qualified but ended below its bar: (size, bar)
    record: tuple[str, float] | None = None  # what fired on a record: ("value high", the record it beat)

    @property
    def fired(self) -> bool:
        return self.kind is not None


def _alpha(step: timedelta, half_life: timedelta) -> float:
    return 1.0 - 0.5 ** (step / half_life)


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


def new_state(start: datetime) -> dict:
    """The state of a series nobody has seen yet."""
    return {"t": None, "start": to_iso(start), "n": 0, "level": None, "scale": 0.5, "zm": 0.0, "zv": 1.0, "fired_at": None,
            "daily": [0.0] * 24, "weekly": [0.0] * 7, "armed": True,
            "low_since": None, "dropped": False, "pending": False,
            "burst": None, "bar": 0.0, "storms": 0.0, "waiting": False}


def update(state: dict, at: datetime, value: float, settings: SpikeSettings, *, count: float | None = None,
           measurement: bool = False) -> Verdict:
    """Score the window starting ``at`` (its ``value``; ``count`` of posts behind it when the
    value is not itself a count, ``measurement`` when no posts are behind it at all), then fold
    it into ``state`` (in place)."""
    weighted, count = count is not None, value if count is None else count
    x = value if measurement else math.log1p(max(0.0, value))
    hour, day = at.hour, at.weekday()
    step = _step(state, value, settings)
    # Every window counts towards the records, whatever else happens to it. A count's rhythm is its
    # storm rule's (a learnt daily and weekly profile); hour records are a measurement's.
    records = _records(state, at, value, settings, measurement, step)
    if measurement:
        records += _hour_record(state, at, value, settings, step)
    if state["level"] is None:
        state.update(level=x, t=to_iso(at), n=1, scale=0.0 if measurement else state["scale"])
        return Verdict(at, value, value, value, value, 0.0, warming_up=True)

    expected = state["level"] + state["daily"][hour] + state["weekly"][day]
    # A measurement's noise is measured in its own units, never below 5 % of its typical size.
    floor = (0.05 * abs(state["level"]) or 1e-9) if measurement else SCALE_FLOOR
    scale = max(state["scale"], floor)
    residual = x - expected
    z = residual / scale
    band = (expected - settings.threshold * scale, expected + settings.threshold * scale)
    if not measurement:  # back from the log scale to posts
        expected, band = math.expm1(expected), (math.expm1(max(0.0, band[0])), math.expm1(band[1]))
    warming = at - from_iso(state["start"]) < settings.warmup

    kind, confidence, held, record = None, 0.0, None, None
    if not warming:
        _rearm(state, at, settings)
    firing = not state["armed"]
    if not warming:
        # For a weighted series (reach), posts are expected in the same proportion as the value.
        expected_count = expected * (count / value if value else 0.0) if weighted else expected
        counted = not measurement and _improbable(count, expected_count, settings)
        if not measurement:
            kind, confidence, held = _storm(state, at, value - expected, z, counted, settings)
        # A count beats a record only upwards, by a storm's count, above its rhythm (a record set
        # before the rhythm is learnt is not news); its drops have their own rule.
        storm_like = counted and z >= settings.threshold / 2
        beaten = [r for r in records if measurement or (
            storm_like and r[0].endswith("high") and poisson_sf(count, r[1] * count / value) <= settings.record_p)]
        if kind is None and state["armed"] and beaten:
            record = beaten[0]
            kind = "spike" if record[0].endswith("high") else "drop"
            state["armed"], state["fired_at"], confidence = False, to_iso(at), 1.0
        if not measurement:
            kind = kind or _track_drop(state, at, z, expected, settings)
            if kind == "drop" and record is None:
                confidence = min(1.0, -z / (2 * settings.drop_threshold))

    _learn(state, at, residual, scale, hour, day, settings)
    a = settings.rates.surprise
    zc = max(-10.0, min(10.0, z))
    delta = zc - state["zm"]
    state["zm"] += a * delta
    state["zv"] = (1 - a) * (state["zv"] + a * delta * delta)
    return Verdict(at, value, expected, *band, z, kind, warming, firing, confidence,
                   state.get("burst") or 0.0, state.get("bar", 0.0), held, record)


def _improbable(count: float, expected: float, settings: SpikeSettings) -> bool:
    """Enough posts above expectation, and improbably many under a Poisson law, to be a storm."""
    return count - max(expected, 0.0) >= settings.min_excess and poisson_sf(count, max(expected, 0.5)) <= settings.max_p


def _storm(state: dict, at: datetime, excess: float, z: float, counted: bool,
           settings: SpikeSettings) -> tuple[str | None, float, tuple[float, float] | None]:
    """The count rule: a burst far above the rhythm, beyond the series' own surprises, confirmed
    or extreme, and news against recent bursts. Returns (kind, confidence, a held burst)."""
    surprise = (z - state["zm"]) / math.sqrt(max(state["zv"], 0.25))
    spike = z >= settings.threshold and surprise >= settings.surprise and counted
    was_waiting = state.get("waiting", False)
    burst, ended = _track_burst(state, excess, z, spike, settings)
    held = ended if was_waiting and state["armed"] else None
    # A moderate burst must last a second window; an extreme one fires at once. One-window
    # blips (a bot, a retweet burst) are most of a busy brand's false alarms.
    confirmed = state.get("pending") and z >= settings.threshold / 2 and state["armed"]
    state["pending"] = False
    if spike and state["armed"] and z < settings.extreme and not confirmed:
        state["pending"], spike = True, False
    # A burst that qualified waits, while it lasts, until it is big enough to be news.
    qualified = spike or confirmed or was_waiting
    big = burst is not None and burst >= state.get("bar", 0.0)
    state["waiting"] = bool(qualified and burst is not None and not big)
    if qualified and big and state["armed"]:
        state["armed"], state["fired_at"] = False, to_iso(at)
        return "spike", min(1.0, (z - settings.threshold) / settings.threshold + 0.5), held
    return None, 0.0, held


def _step(state: dict, value: float, settings: SpikeSettings) -> float:
    """The typical change from one window to the next (a running mean of |change|, half-life
    ``scale_half_life``), before this window joins it: the unit of a record's margin."""
    step, previous = state.get("step", 0.0), state.get("previous")
    if previous is not None:
        state["step"] = step + settings.rates.scale * (abs(value - previous) - step)
    state["previous"] = value
    return step


def _records(state: dict, at: datetime, value: float, settings: SpikeSettings, measurement: bool,
             step: float) -> list[tuple[str, float]]:
    """The records this window beats (by ``record_margin`` typical steps), before it joins them: its
    value's, and for a measurement its smoothed level's. A record is kept as the (low, high) of three
    blocks of a third of ``record_memory`` each (the last 2/3 to 3/3 of it), so an old extreme ages
    out in constant memory."""
    out: list[tuple[str, float]] = []
    margin = settings.record_margin * step
    _record(state, "record_value", "value", at, value, margin, settings, out)
    if measurement:
        a = settings.rates.smooth
        state["ew"] = value if state.get("ew") is None else state["ew"] + a * (value - state["ew"])
        _record(state, "record_level", "level", at, state["ew"], margin, settings, out)
    return out


def _record(state: dict, key: str, name: str, at: datetime, x: float, margin: float, settings: SpikeSettings,
            out: list[tuple[str, float]]) -> None:
    record = state.get(key)
    if record is None:
        record = state[key] = {"since": to_iso(at), "blocks": [[x, x]]}
    blocks = record["blocks"]
    low, high = min([b[0] for b in blocks]), max([b[1] for b in blocks])
    if x > high and x - high >= margin:
        out.append((f"{name} high", high))
    elif x < low and low - x >= margin:
        out.append((f"{name} low", low))
    if at - from_iso(record["since"]) >= settings.rates.record_block:
        record["since"], record["blocks"] = to_iso(at), [*blocks[-2:], [x, x]]
    else:
        last = blocks[-1]
        if x < last[0]:
            last[0] = x
        elif x > last[1]:
            last[1] = x


def _hour_record(state: dict, at: datetime, value: float, settings: SpikeSettings, step: float) -> list[tuple[str, float]]:
    """An hour record: the window is far beyond every window at this hour of the day over the last
    ``hour_memory`` (by ``hour_margin`` × that hour's spread and ``hour_steps`` typical steps), once
    the hour has ``hour_samples`` windows and half the memory is seen. A rhythm's break (quiet at
    the busy hour, busy at the quiet one, a missing daily peak) is news even inside the overall range.
    Kept as (low, high, windows) per hour in two blocks of half the memory each: constant memory."""
    hours = state.setdefault("hours", {"since": to_iso(at), "blocks": [[None] * 24]})
    blocks, hour, out = hours["blocks"], at.hour, []
    seen = [b[hour] for b in blocks if b[hour] is not None]
    if (sum(s[2] for s in seen) >= settings.hour_samples and len(blocks) == 2):
        low, high = min(s[0] for s in seen), max(s[1] for s in seen)
        margin = max(settings.hour_margin * (high - low), settings.hour_steps * step)
        if value - high > margin:
            out.append(("hour high", high))
        elif low - value > margin:
            out.append(("hour low", low))
    if at - from_iso(hours["since"]) >= settings.hour_memory / 2:
        hours["since"], hours["blocks"] = to_iso(at), [blocks[-1], [None] * 24]
        blocks = hours["blocks"]
    current = blocks[-1][hour]
    blocks[-1][hour] = [value, value, 1] if current is None else [min(current[0], value), max(current[1], value), current[2] + 1]
    return out


def _track_burst(
    state: dict, excess: float, z: float, spike: bool, settings: SpikeSettings
) -> tuple[float | None, tuple[float, float] | None]:
    """Size the current burst (it starts at a spike and lasts while z ≥ threshold / 2) in days of
    normal volume; when it ends, it joins the decayed record of recent bursts that sets the bar.
    Returns the burst's size so far (None outside a burst), and (size, bar) of one that ended."""
    rates = settings.rates
    storms = state.get("storms", 0.0) * rates.novelty
    # In days of normal volume, plus one post: smooth down to the quietest series (no unit switch).
    size = excess / (1.0 + math.expm1(state["level"]) * rates.per_day)
    burst, ended = state.get("burst"), None
    if burst is not None and z >= settings.threshold / 2:
        burst += size
    else:
        if burst is not None:
            storms, ended = max(storms, burst), (burst, state.get("bar", 0.0))
        burst = size if spike else None
        if spike:
            state["bar"] = settings.novelty * storms
    state["storms"], state["burst"] = storms, burst
    return burst, ended


def _rearm(state: dict, at: datetime, settings: SpikeSettings) -> None:
    """Re-arm a fired series ``rearm`` after it fired: one storm, one event (updates in between
    belong to the same alert)."""
    if not state["armed"] and at - from_iso(state["fired_at"]) >= settings.rearm:
        state["armed"] = True


def _track_drop(state: dict, at: datetime, z: float, expected: float, settings: SpikeSettings) -> str | None:
    """A drop: far below expectation, where much was expected, for ``drop_after``; once per drop."""
    if z <= -settings.drop_threshold and expected >= settings.drop_min_expected:
        since = state["low_since"] or to_iso(at)
        state["low_since"] = since
        if not state["dropped"] and at - from_iso(since) >= settings.drop_after:
            state["dropped"] = True
            return "drop"
    elif z > -settings.drop_threshold / 2:
        state["low_since"], state["dropped"] = None, False
    return None


def _learn(state: dict, at: datetime, residual: float, scale: float, hour: int, day: int, settings: SpikeSettings) -> None:
    rates = settings.rates
    clipped = max(-HUBER * scale, min(HUBER * scale, residual))
    a_level = rates.level
    state["level"] += a_level * clipped
    # A daily bin is visited (1h / window) times a day, a weekly bin (1d / window) times a week.
    a_daily, a_weekly = rates.daily, rates.weekly
    rest = (1 - a_level) * clipped
    state["daily"][hour] += a_daily * rest
    state["weekly"][day] += a_weekly * (1 - a_daily) * rest
    # Offsets average to zero; their mean belongs to the level (daily, then weekly).
    daily = state["daily"]
    mean = sum(daily) / 24
    if mean:
        state["daily"] = [v - mean for v in daily]
        state["level"] += mean
    weekly = state["weekly"]
    mean = sum(weekly) / 7
    if mean:
        state["weekly"] = [v - mean for v in weekly]
        state["level"] += mean
    state["scale"] += rates.scale * (min(abs(residual), HUBER * scale) - state["scale"])
    state["t"] = to_iso(at)
    state["n"] += 1
