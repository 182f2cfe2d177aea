"""The storm rule: is this series of post counts in a storm, judged from its own past alone?

A storm is what a person looking at the series would call one: the count runs at several times
what this hour of the day usually brings, and keeps doing so, rather than one window jumping
(one post shared widely, a retweet burst) or the day's ordinary rhythm. Per window, in constant
time and memory (about 3.5 KB of JSON per series):

- **What is expected**: the median of this hour's count over the last 7 days of its kind
  (weekdays, or weekend days: a quiet Sunday does not lower a Monday), spread evenly over the
  hour's windows. A median of days: a storm yesterday does not raise today's expectation, and
  aftershocks do not either; a lasting shift is the new normal once it is most of those days.
  Until three days of an hour exist, a running mean. Then **at today's level**: × the median of
  the ``level_hours`` hours before the last, each one's count against the same days at that
  hour, kept within ½× to 2×: a brand in the news all day expects a busy hour, so the day's news
  does not make every hour a storm, and a quiet day hears a smaller one (the last hour is left
  out, so a storm never raises its own expectation while it rises).
- **Two tests**, in the series' own units, ``+ 1`` or ``+ 2`` posts so a quiet brand's 0 → 2 is no
  ratio of infinity:
  - *fast*: every window of the last 15 minutes at least ``fast_ratio`` × expected (a storm that
    is plainly one within minutes);
  - *hour*: the last hour, its busiest quarter set aside, at least ``storm_ratio`` × expected, and
    the last half hour (its busiest third aside) still at least 1.5 ×: a burst that lasts, where a
    shared post's spike has already decayed.
  - *record*: a window above every window of the last ``record_memory`` (by ``record_margin``
    typical steps, and improbable at the old record's rate, p ≤ ``record_p``): something this
    series has not done in a month, which is news whatever its shape (the idea behind the
    detectors that score best on NAB's tweet series, ARTime and contextOSE).
  Each also needs ``min_excess`` posts above expectation and Poisson p ≤ ``max_p``: 0 → 3 negative
  posts is not a storm, 2 → 40 is.
- **This series' own weather**: a brand whose volume bursts every day needs a bigger burst. Each
  test's bar is ``bar_factor`` (``fast_bar_factor``) × this series' ordinary daily peak of that
  test's statistic (the ``bar_quantile`` of its daily maxima over the last ``bar_days``). One
  storm does not raise the bar (a quantile of days, not the maximum), so a second storm days
  later still fires; a calm brand's bar is its floor ratio.
- **A burst at the same time as on an earlier day is weather** (a bot, a newsletter): one within
  30 minutes of the time of day of a burst 20 hours to ``recurring`` days ago is held back, and
  remembered, so its next day is held back too. Its first day is news and fires.
- **One storm, one alert**: after a burst (fired or held back) the series re-arms ``rearm`` later,
  once its last hour has come back under 1.5 × expected: a lasting shift (a launch doubling a
  brand's volume) is news once.
- **A drop**: every window at most ``drop_ratio`` × expected, where at least ``drop_min_expected``
  posts were expected, for ``drop_after``: a broken connector, not a calm day (a quiet Sunday runs
  at a third of a weekday, a silent source at nothing).

The settings were chosen by a procedure fixed in advance, on storm corpora built from five brands'
real tweet volumes, each brand scored with settings chosen without it
(``benchmarks/storm_eval.py``; the README gives its figures). The state is a plain dict (JSON in
the store), so a restarted monitor scores exactly as one that never stopped.
"""

from __future__ import annotations

import math
import statistics
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.judgement.verdict import HUBER, SCALE_FLOOR, Verdict, from_iso, poisson_sf, to_iso

if TYPE_CHECKING:
    from monitor.judgement.spikes import SpikeSettings

RULE = 2  # the state's layout; a state of another layout is rebuilt from stored history
DAYS = 7  # the days (of the same kind: weekdays, or Saturdays and Sundays) whose median is an hour's expectation
HISTORY = 14  # days kept, so a weekend hour has four of its kind
MIN_DAYS = 3  # ... once that many exist (until then, the last 7 days of any kind)
FLOOR = 0.02  # posts per window: never expect less (a quiet brand's 0 would make any post infinite)
SHRINK_FAST, SHRINK_HOUR = 1.0, 2.0  # posts added to both sides of a ratio
HELD_RATIO = 1.5  # the last half hour still this far above expectation for the hour test
RECUR_MINUTES = 30  # a burst this close to an earlier day's time of day recurs
RECUR_AFTER = 20 * 60  # minutes: an earlier day's, not the same burst's
LEVEL_SKIP = 1  # hours: the last hour is not in today's level (a storm rising in it would raise its own bar)
LEVEL_LOW, LEVEL_HIGH = 0.5, 2.0  # today's level is kept within these
LEVEL_MIN_HOURS = 3  # ... and counts once this many hours are known


def new_count_state(start: datetime, settings: "SpikeSettings") -> dict:
    """The state of a count series nobody has seen yet."""
    shape = settings.rates.shape
    return {
        "kind": "count", "rule": RULE, "t": None, "start": to_iso(start), "n": 0,
        "slot": None, "sum": 0.0, "hist": [None] * (HISTORY * shape.slots_per_day), "slot_expected": None,
        "ew": None, "scale": 0.5, "ppv": None,
        "recent": [], "sums": [0.0, 0.0, 0.0], "level": 1.0, "day": None, "fast": [None], "hour": [None], "bars": None,
        "start_s": int(start.timestamp()),
        "record": None, "step": 0.0, "previous": None,
        "bursts": [], "fired": None, "calmed": True, "held": None, "low_since": None, "dropped": False,
    }


def is_current(state: dict) -> bool:
    """Whether ``state`` was written by this rule (a stored state of an older detector is rebuilt)."""
    return state.get("kind") == "measurement" or state.get("rule") == RULE


def update_count(state: dict, at: datetime, value: float, settings: "SpikeSettings", *,
                 count: float | None = None) -> Verdict:
    """Score the window starting ``at`` (``value`` posts; for a weighted series such as reach, its
    weight, with ``count`` posts behind it), then fold it into ``state`` (in place)."""
    rates, shape = settings.rates, settings.rates.shape
    if len(state["hist"]) != HISTORY * shape.slots_per_day:  # made for another window length
        state.update(new_count_state(from_iso(state["start"]), settings))
    seconds = int(at.timestamp())
    minute = seconds // 60
    slot = seconds // shape.slot_seconds
    _roll_slot(state, slot, shape, settings.level_hours)
    _roll_day(state, seconds // 86400, settings.bar_days)
    posts = value if count is None else count
    if count is not None and value > 0:  # posts per unit of weight, to expect posts from weight
        ppv = posts / value
        state["ppv"] = ppv if state["ppv"] is None else state["ppv"] + rates.scale * (ppv - state["ppv"])
    usual = _expected(state, slot, shape)
    level = state.get("level", 1.0)  # (a state written before today's level has none until its next hour)
    _learn(state, value)
    state["t"], state["n"] = to_iso(at), state["n"] + 1
    if usual is None:
        return Verdict(at, value, value, value, value, 0.0, warming_up=True)
    mu = usual * level
    per_post = 1.0 if count is None else (state["ppv"] or 0.0)
    recent, sums = state["recent"], state["sums"]
    _push(recent, sums, value, mu, posts, shape.hour_windows)
    z = _rescale(state, math.log((value + 1.0) / (mu + 1.0)), rates.scale)
    warming = seconds - state["start_s"] < settings.warmup.total_seconds()

    record = _record(state, seconds, value, settings)
    fast, fast_posts = _fast(recent, shape.fast_windows)
    # The hour's statistic matters where it could pass (the floor ratio) or raise the day's peak
    # above what the bar ignores (a peak under storm_ratio / bar_factor leaves the bar at its floor):
    # most windows of most series are skipped, every decision unchanged.
    today = state["hour"][0]
    hour = _hour(recent, sums, shape, need=min(settings.storm_ratio, max(
        today or 0.0, settings.storm_ratio / max(settings.bar_factor, 1.0))))
    if fast > _today(state["fast"]) and fast >= _fast_floor(settings):
        state["fast"][0] = fast
    elif state["fast"][0] is None and len(recent) >= shape.fast_windows:
        state["fast"][0] = 0.0  # likewise for the 15 minutes' peak
    if hour is not None and hour[0] > (today or 0.0):
        state["hour"][0] = hour[0]
    elif today is None and len(recent) >= shape.hour_windows and sums[0] + SHRINK_HOUR >= sums[1] + SHRINK_HOUR:
        state["hour"][0] = 0.0  # a day with an hour at or above expectation counts towards the bar's days
    bars = state["bars"]
    if bars is None or bars[2:] != [settings.bar_quantile, settings.bar_days]:
        bars = state["bars"] = [_bar(state["fast"], settings), _bar(state["hour"], settings),
                                settings.bar_quantile, settings.bar_days]
    fast_bar = max(settings.fast_ratio, settings.fast_bar_factor * bars[0])
    hour_bar = max(settings.storm_ratio, settings.bar_factor * bars[1])
    band = (mu / hour_bar, mu * hour_bar)
    if (not state["calmed"] and seconds - state["fired"] >= 3600
            and (sums[0] + SHRINK_HOUR) / (sums[1] + SHRINK_HOUR) < HELD_RATIO):
        state["calmed"] = True  # an hour after the burst began, the last hour is back to normal
    armed = state["fired"] is None or (seconds - state["fired"] >= rates.rearm_seconds and state["calmed"])
    if warming:
        return Verdict(at, value, mu, *band, z, warming_up=True, firing=not armed, level=level)

    kind, rule, confidence, held = None, None, 0.0, None
    if armed:
        passed = []
        if fast >= fast_bar and _counted(fast_posts, settings, per_post):
            passed.append(("fast", fast, fast_bar))
        if hour is not None and hour[0] >= hour_bar and hour[1] >= HELD_RATIO and _counted(hour[2], settings, per_post):
            passed.append(("hour", hour[0], hour_bar))
        if (record is not None and value > mu and _counted((posts, mu), settings, per_post)
                and poisson_sf(posts, record * per_post) <= settings.record_p):
            passed.append(("record", value / max(record, 1.0), 1.0))  # shown as "× the old record"
        if passed:
            rule, statistic, bar = passed[0]
            state["fired"], state["calmed"] = seconds, False
            if _recurs(state, minute, settings):
                held, rule = ("recurs daily", statistic, bar), None
            else:
                kind, confidence = "spike", min(1.0, statistic / bar - 0.5)
        elif _within_weather(state, seconds, rates, fast, fast_posts, hour, settings, per_post):
            # It would have been a storm on a calm brand: said once, for the backtest.
            which = max((fast / fast_bar, "fast", fast, fast_bar),
                        (hour[0] / hour_bar if hour else 0.0, "hour", hour[0] if hour else 0.0, hour_bar))
            held = ("within its ordinary daily peaks", which[2], which[3])
    # A drop is against the hour's usual count (a source silent for hours must not lower its own expectation).
    if _track_drop(state, seconds, posts, usual * per_post, settings) and kind is None:  # in posts: reach is no count
        kind, confidence = "drop", min(1.0, 1.0 - (posts + 1.0) / (usual * per_post + 1.0))
    # What the alert explains: the test that fired, else the hour's ratio against its bar.
    burst, bar = (statistic, bar) if kind == "spike" else (hour[0] if hour else 0.0, hour_bar)
    dropped = kind == "drop"  # said against what it was judged against
    return Verdict(at, value, usual if dropped else mu, *band, z, kind, False, not armed and kind is None, confidence,
                   burst, bar, held, None, rule, 1.0 if dropped else level)


def _push(recent: list, sums: list, value: float, mu: float, posts: float, windows: int) -> None:
    """The window joins the last hour's (its value, expectation and posts, and their running sums)."""
    recent.append((value, mu, posts))
    sums[0] += value
    sums[1] += mu
    sums[2] += posts
    if len(recent) > windows:
        old = recent.pop(0)
        sums[0] -= old[0]
        sums[1] -= old[1]
        sums[2] -= old[2]


def _rescale(state: dict, y: float, rate: float) -> float:
    """The window's log ratio ``y`` in the series' robust scales (before it joins them), then the
    scale updated with it, clipped at ``HUBER`` scales."""
    scale = max(state["scale"], SCALE_FLOOR)
    state["scale"] += rate * (min(abs(y), HUBER * scale) - state["scale"])
    return y / scale


def _fast_floor(settings: "SpikeSettings") -> float:
    """A day's 15-minute peak below this never moves the fast test's bar (its floor ratio over its
    factor), so it is kept as 0: a quiet window need not compute it."""
    return settings.fast_ratio / max(settings.fast_bar_factor, 1.0)


def is_asleep(state: dict, shape) -> bool:
    """No post in the last hour: the windows until the next post change nothing but what ``sleep``
    advances (no test can pass on them)."""
    recent = state.get("recent")
    return (state.get("kind") == "count" and recent is not None and len(recent) == shape.hour_windows
            and not any(w[0] or w[2] for w in recent))


def sleep(state: dict, first: int, until: int, settings: "SpikeSettings", *, weighted: bool = False) -> int:
    """Advance an asleep series over its windows without posts, from the one starting at ``first``
    (the one after ``state["t"]``) to the one starting at ``until`` (epoch seconds, exclusive),
    exactly as ``update_count`` would with a 0 in each, at a fraction of its cost: a brand's quiet
    sources and measures cost little. Returns how many windows it advanced; 0 when it cannot here
    (not asleep, not the next window, or so busy an hour that a silence could be a drop: those
    windows take ``update_count``)."""
    rates, shape = settings.rates, settings.rates.shape
    step = int(settings.window.total_seconds())
    if (first >= until or state.get("t") is None or int(from_iso(state["t"]).timestamp()) + step != first
            or len(state["hist"]) != HISTORY * shape.slots_per_day or not is_asleep(state, shape)
            or not state["calmed"]):  # (an hour without posts has calmed any burst)
        return 0
    # Expected posts per window never exceed this until the next post (a median of the past hours,
    # or the running mean, which only decays): under 1.5 no drop can start and none is under way.
    per_post = (state["ppv"] or 0.0) if weighted else 1.0
    busiest = max((h for h in state["hist"] if h is not None), default=0.0)
    busiest = max(busiest, state["slot_expected"] or 0.0) * shape.window_share
    if max(busiest, state["ew"] or 0.0, FLOOR) * per_post >= 1.5 or _fast_floor(settings) <= 1.0:
        return 0
    slot_seconds, scale_rate = shape.slot_seconds, rates.scale
    for seconds in range(first, until, step):
        slot = seconds // slot_seconds
        if slot != state["slot"]:
            _roll_slot(state, slot, shape, settings.level_hours)
        if seconds // 86400 != state["day"]:
            _roll_day(state, seconds // 86400, settings.bar_days)
        if state["fast"][0] is None:
            state["fast"][0] = 0.0
        mu = _expected(state, slot, shape) * state.get("level", 1.0)
        _learn(state, 0.0)
        _push(state["recent"], state["sums"], 0.0, mu, 0.0, shape.hour_windows)  # (a new hour sums afresh)
        _rescale(state, math.log((0.0 + 1.0) / (mu + 1.0)), scale_rate)
        _record(state, seconds, 0.0, settings)  # never beaten by a 0
    count = len(range(first, until, step))
    state["t"], state["n"] = to_iso(from_iso(state["t"]) + count * settings.window), state["n"] + count
    state["low_since"], state["dropped"] = None, False
    return count


def _roll_slot(state: dict, slot: int, shape, level_hours: int) -> None:
    """Close the slot (an hour) before ``slot``: its sum joins the days' history (slots skipped, no
    windows seen, are unknown, not zero); the new slot's expectation and today's level."""
    current = state["slot"]
    if current == slot:
        return
    hist, size = state["hist"], len(state["hist"])
    if current is not None:
        hist[current % size] = state["sum"]
        for missing in range(current + 1, min(slot, current + 1 + size)):
            hist[missing % size] = None
    days = _days_of(state, slot, shape)
    state["slot"], state["sum"] = slot, 0.0
    state["slot_expected"] = None if days is None else _usual(state, slot, shape, days)
    state["level"] = _level(state, slot, shape, days, level_hours)
    # The hour's running sums, summed afresh once an hour so rounding never builds up.
    recent = state["recent"]
    state["sums"] = [sum(w[0] for w in recent), sum(w[1] for w in recent), sum(w[2] for w in recent)]


def _days_of(state: dict, slot: int, shape) -> list[int] | None:
    """The days (back from ``slot``) whose counts at this hour make its expectation: the last
    ``DAYS`` days of its kind (weekdays for a weekday, weekend days for a weekend day: a quiet
    Sunday does not lower a Monday, nor a Monday raise a Sunday), of the last ``DAYS`` days of any
    kind until ``MIN_DAYS`` of its kind exist; None before."""
    hist, per_day = state["hist"], shape.slots_per_day
    size = len(hist)
    weekend = (slot // per_day + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    alike, any_kind = [], []
    for back in range(1, HISTORY + 1):
        if hist[(slot - back * per_day) % size] is None:
            continue
        if back <= DAYS:
            any_kind.append(back)
        if len(alike) < DAYS and ((slot // per_day - back + 3) % 7 >= 5) == weekend:
            alike.append(back)
    days = alike if len(alike) >= MIN_DAYS else any_kind
    return days if len(days) >= MIN_DAYS else None


def _usual(state: dict, slot: int, shape, days: list[int]) -> float | None:
    """The median of ``slot``'s sum and its two neighbours' (the hour before and after: a daily
    rhythm is smooth, and three times the samples keep a quiet brand's median off a lucky zero) on
    ``days`` back (None when none is known)."""
    hist, per_day = state["hist"], shape.slots_per_day
    size = len(hist)
    values = []
    for back in days:
        here = slot - back * per_day
        values += [v for v in (hist[here % size], hist[(here - 1) % size], hist[(here + 1) % size]) if v is not None]
    return statistics.median(values) if values else None


def _level(state: dict, slot: int, shape, days: list[int] | None, hours: int) -> float:
    """Today's level for ``slot``: the median of the ``hours`` hours before the last, each hour's
    count against the same ``days`` at that hour (the days the slot's expectation is made of: a
    Sunday's level reads Saturday evening against the weekends before), ``SHRINK_HOUR`` posts added
    to both (a quiet brand's 0 of 0.3 is no level of nothing); within ``LEVEL_LOW`` …
    ``LEVEL_HIGH``; 1 with it off or under ``LEVEL_MIN_HOURS`` known."""
    if not hours or days is None:
        return 1.0
    hist = state["hist"]
    size, ratios = len(hist), []
    older = [back for back in days if back < HISTORY]  # an earlier hour's 14th day back is already today's
    for earlier in range(slot - LEVEL_SKIP - hours, slot - LEVEL_SKIP):
        count = hist[earlier % size]
        usual = None if count is None else _usual(state, earlier, shape, older)
        if usual is not None:
            ratios.append((count + SHRINK_HOUR) / (usual + SHRINK_HOUR))
    if len(ratios) < LEVEL_MIN_HOURS:
        return 1.0
    return min(LEVEL_HIGH, max(LEVEL_LOW, statistics.median(ratios)))


def _expected(state: dict, slot: int, shape) -> float | None:
    expected = state["slot_expected"]
    if expected is not None:
        return max(FLOOR, expected * shape.window_share)
    return None if state["ew"] is None else max(FLOOR, state["ew"])


def _learn(state: dict, value: float) -> None:
    """The slot's running sum, and the running mean of windows used before an hour has days."""
    state["sum"] += value
    ew = state["ew"]
    if ew is None:
        state["ew"] = value
    else:  # a storm barely moves it: what is far above is clipped
        state["ew"] = ew + 0.02 * (min(value, ew + 3 * math.sqrt(ew + 1) + 1) - ew)


def _roll_day(state: dict, day: int, keep: int) -> None:
    """A new day: the daily maxima move back one place (the last ``keep`` days are kept)."""
    current = state["day"]
    if current == day:
        return
    if current is not None:
        for _ in range(min(day - current, keep + 1)):
            state["fast"].insert(0, None)
            state["hour"].insert(0, None)
        del state["fast"][keep + 1:], state["hour"][keep + 1:]
    state["day"], state["bars"] = day, None


def _today(maxima: list) -> float:
    return maxima[0] or 0.0


def _bar(maxima: list, settings: "SpikeSettings") -> float:
    """The series' ordinary daily peak: the ``bar_quantile`` of its past days' maxima (0 with
    fewer than two days)."""
    past = [m for m in maxima[1:] if m is not None]
    if len(past) < 2:
        return 0.0
    past.sort()
    return past[int(settings.bar_quantile * (len(past) - 1))]


def _record(state: dict, seconds: int, value: float, settings: "SpikeSettings") -> float | None:
    """The old record when this window beats every window of the last ``record_memory`` by
    ``record_margin`` typical steps (the mean change from one window to the next), else None; then
    the window joins the record, kept as the highs of three blocks so an old one ages out."""
    previous, step = state["previous"], state["step"]
    if previous is not None:
        state["step"] = step + settings.rates.scale * (abs(value - previous) - step)
    state["previous"] = value
    blocks = state["record"]
    if blocks is None:
        state["record"] = [[seconds, value]]
        return None
    high = max(b[1] for b in blocks)
    beaten = high if value > high and value - high >= settings.record_margin * step else None
    if seconds - blocks[-1][0] >= settings.rates.record_block.total_seconds():
        state["record"] = [*blocks[-2:], [seconds, value]]
    elif value > blocks[-1][1]:
        blocks[-1][1] = value
    return beaten


def _fast(recent: list, windows: int) -> tuple[float, tuple[float, float]]:
    """The fast test's statistic (the lowest ratio of the last ``windows``) and its (posts, expected)."""
    if len(recent) < windows:
        return 0.0, (0.0, 0.0)
    lowest, posts, mu = math.inf, 0.0, 0.0
    for i in range(len(recent) - windows, len(recent)):
        w = recent[i]
        ratio = (w[0] + SHRINK_FAST) / (w[1] + SHRINK_FAST)
        if ratio < lowest:
            lowest = ratio
        posts += w[2]
        mu += w[1]
    return lowest, (posts, mu)


def _hour(recent: list, sums: list, shape, *, need: float) -> tuple[float, float, tuple[float, float]] | None:
    """The hour test's statistics: the last hour's ratio with its busiest quarter set aside, the
    last half hour's with its busiest third aside, and the hour's (posts, expected) counted.
    None when the hour cannot reach ``need`` (its ratio with nothing set aside is below it: setting
    the busiest windows aside only lowers it), which is most windows of most series."""
    if len(recent) < shape.hour_windows or (sums[0] + SHRINK_HOUR) / (sums[1] + SHRINK_HOUR) < max(1.0, need):
        return None
    hour, hour_posts = _trimmed(recent, shape.hour_trim)
    half, _ = _trimmed(recent[-shape.half_windows:], shape.half_trim)
    return hour, half, hour_posts


def _trimmed(windows: list, trim: int) -> tuple[float, tuple[float, float]]:
    ordered = sorted(windows, key=lambda w: w[0] / w[1])[:len(windows) - trim] if trim else windows
    value = sum(v for v, _, _ in ordered)
    mu = sum(m for _, m, _ in ordered)
    return (value + SHRINK_HOUR) / (mu + SHRINK_HOUR), (sum(p for _, _, p in ordered), mu)


def _counted(posts: tuple[float, float], settings: "SpikeSettings", per_post: float) -> bool:
    """Enough posts above expectation, and improbably many under a Poisson law, to be a storm
    (``posts``: observed and expected, the expected in the series' units)."""
    observed, expected = posts[0], posts[1] * per_post
    return observed - expected >= settings.min_excess and poisson_sf(observed, max(expected, 0.5)) <= settings.max_p


def _recurs(state: dict, minute: int, settings: "SpikeSettings") -> bool:
    """Whether a burst came at this time of day on an earlier day (within ``recurring`` days);
    this one is remembered either way."""
    horizon = settings.recurring_days * 1440
    bursts = [b for b in state["bursts"] if minute - b <= horizon]
    recurs = any(RECUR_AFTER < minute - b and abs((minute - b + 720) % 1440 - 720) <= RECUR_MINUTES for b in bursts)
    state["bursts"] = [*bursts, minute] if horizon else []
    return recurs


def _within_weather(state: dict, seconds: int, rates, fast: float, fast_posts, hour, settings: "SpikeSettings",
                    per_post: float) -> bool:
    """A burst that passes the floor ratios and the count tests but not this series' own bar, not
    yet reported within ``rearm``."""
    if state["held"] is not None and seconds - state["held"] < rates.rearm_seconds:
        return False
    floor = (fast >= settings.fast_ratio and _counted(fast_posts, settings, per_post)) or (
        hour is not None and hour[0] >= settings.storm_ratio and hour[1] >= HELD_RATIO
        and _counted(hour[2], settings, per_post))
    if floor:
        state["held"] = seconds
    return floor


def _track_drop(state: dict, seconds: int, value: float, expected: float, settings: "SpikeSettings") -> bool:
    """A drop: at most ``drop_ratio`` × expected where much was expected, for ``drop_after``; once per drop."""
    if (value + 1.0) / (expected + 1.0) <= settings.drop_ratio and expected >= settings.drop_min_expected:
        since = state["low_since"] if state["low_since"] is not None else seconds
        state["low_since"] = since
        if not state["dropped"] and seconds - since >= settings.drop_after.total_seconds():
            state["dropped"] = True
            return True
    elif (value + 1.0) / (expected + 1.0) > 2 * settings.drop_ratio:
        state["low_since"], state["dropped"] = None, False
    return False
