"""Measurements: values with no posts behind them (a CPU load, a latency, a rate, a
temperature), as NAB's 48 other series are. The storm rule of ``counts`` reads posts with counts'
statistics; none of that applies here, so a measurement fires on **records** alone:

- a window above (below) every window of the last ``record_memory`` fires as a spike (drop): the
  idea ARTime's and contextOSE's scores on NAB rest on, a value outside everything the series has
  done. A record says nothing of units or scale, so it holds for any series, but it must beat the
  old one by ``record_margin`` typical steps (the mean change from one window to the next): a
  series hovering at its high sets a new one by a hair every few hours, which is noise;
- the same of its level smoothed over ``smooth`` (a lasting shift rather than one odd window);
- an *hour record*: a window far outside every window at the same hour of the day over the last
  ``hour_memory`` (by ``hour_margin`` × that hour's spread and ``hour_steps`` typical steps, once
  the hour has ``hour_samples`` windows): a rhythm's break inside the overall range (a busy hour
  gone quiet, a quiet one gone busy, a daily peak that never came).

A level, a robust scale and a 24-hour and 7-day profile give the expected value and band shown
beside each window. Constant memory: records are kept as the extremes of three blocks, hours as
(low, high, windows) in two blocks.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from monitor.judgement.verdict import HUBER, Verdict, from_iso, to_iso

if TYPE_CHECKING:
    from monitor.judgement.spikes import SpikeSettings


def new_measurement_state(start: datetime) -> dict:
    """The state of a measurement nobody has seen yet."""
    return {"kind": "measurement", "t": None, "start": to_iso(start), "n": 0, "level": None, "scale": 0.0,
            "fired_at": None, "daily": [0.0] * 24, "weekly": [0.0] * 7, "armed": True}


def update_measurement(state: dict, at: datetime, value: float, settings: "SpikeSettings") -> Verdict:
    """Score the window starting ``at`` of a measurement, then fold it into ``state`` (in place)."""
    x = value
    hour, day = at.hour, at.weekday()
    step = _step(state, value, settings)
    # Every window counts towards the records, whatever else happens to it.
    records = _records(state, at, value, settings, step) + _hour_record(state, at, value, settings, step)
    if state["level"] is None:
        state.update(level=x, t=to_iso(at), n=1, scale=0.0)
        return Verdict(at, value, value, value, value, 0.0, warming_up=True)
    expected = state["level"] + state["daily"][hour] + state["weekly"][day]
    # A measurement's noise is measured in its own units, never below 5 % of its typical size.
    scale = max(state["scale"], 0.05 * abs(state["level"]) or 1e-9)
    residual = x - expected
    z = residual / scale
    band = (expected - settings.threshold * scale, expected + settings.threshold * scale)
    warming = at - from_iso(state["start"]) < settings.warmup
    kind, confidence, record = None, 0.0, None
    if not warming:
        _rearm(state, at, settings)
    firing = not state["armed"]
    if not warming and state["armed"] and records:
        record = records[0]
        kind = "spike" if record[0].endswith("high") else "drop"
        state["armed"], state["fired_at"], confidence = False, to_iso(at), 1.0
    _learn(state, at, residual, scale, hour, day, settings)
    return Verdict(at, value, expected, *band, z, kind, warming, firing, confidence, record=record)


def _step(state: dict, value: float, settings: SpikeSettings) -> float:
    """The typical change from one window to the next (a running mean of |change|, half-life
    ``scale_half_life``), before this window joins it: the unit of a record's margin."""
    step, previous = state.get("step", 0.0), state.get("previous")
    if previous is not None:
        state["step"] = step + settings.rates.scale * (abs(value - previous) - step)
    state["previous"] = value
    return step


def _records(state: dict, at: datetime, value: float, settings: SpikeSettings, step: float) -> list[tuple[str, float]]:
    """The records this window beats (by ``record_margin`` typical steps), before it joins them: its
    value's and its smoothed level's. A record is kept as the (low, high) of three
    blocks of a third of ``record_memory`` each (the last 2/3 to 3/3 of it), so an old extreme ages
    out in constant memory."""
    out: list[tuple[str, float]] = []
    margin = settings.record_margin * step
    _record(state, "record_value", "value", at, value, margin, settings, out)
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


def _rearm(state: dict, at: datetime, settings: SpikeSettings) -> None:
    """Re-arm a fired series ``rearm`` after it fired: one storm, one event (updates in between
    belong to the same alert)."""
    if not state["armed"] and at - from_iso(state["fired_at"]) >= settings.rearm:
        state["armed"] = True


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
