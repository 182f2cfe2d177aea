"""The streaming spike detector: low counts, bursts, rhythm, restarts."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from monitor.judgement.series import method
from monitor.judgement.spikes import SpikeSettings, new_state, poisson_sf, update
from monitor.store import Store

SETTINGS = SpikeSettings()
START = datetime(2026, 10, 5, tzinfo=timezone.utc)  # a Monday
STEP = SETTINGS.window


def poisson(rng: random.Random, rate: float) -> int:
    """Knuth's method: fine for the small rates of these tests."""
    if rate > 30:
        return max(0, round(rng.gauss(rate, math.sqrt(rate))))
    limit, k, p = math.exp(-rate), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def rhythm(at: datetime, base: float) -> float:
    """Busy days, quiet nights, weekends at a third."""
    daily = 0.35 + 0.65 * max(0.0, math.sin(math.pi * (at.hour + at.minute / 60 - 6) / 16)) if 6 <= at.hour < 22 else 0.35
    return base * daily * (0.33 if at.weekday() >= 5 else 1.0)


def run(values: list[float], state: dict | None = None, start: datetime = START):
    state = state or new_state(start)
    return state, [update(state, start + i * STEP, v, SETTINGS) for i, v in enumerate(values)]


def test_poisson_tail() -> None:
    assert poisson_sf(0, 3.0) == 1.0 and poisson_sf(2, 3.0) == 1.0
    assert math.isclose(poisson_sf(3, 0.5), 1 - math.exp(-0.5) * (1 + 0.5 + 0.125), rel_tol=1e-9)
    assert poisson_sf(40, 2.0) < 1e-30


def test_cold_start_says_so_and_never_fires() -> None:
    _, verdicts = run([5.0] * 100 + [500.0])
    assert all(v.warming_up and not v.fired for v in verdicts)


def test_low_counts_do_not_fire_but_a_real_jump_from_few_does() -> None:
    rng = random.Random(1)
    quiet = [float(poisson(rng, 0.1)) for _ in range(4 * 288)]
    state, verdicts = run(quiet + [3.0, 3.0, 3.0])
    assert sum(v.fired for v in verdicts) == 0  # 0 → 3 negative posts is not a storm, even for 15 minutes
    rng = random.Random(2)
    few = [float(poisson(rng, 2.0)) for _ in range(4 * 288)]
    _, verdicts = run(few + [40.0])
    assert verdicts[-1].kind == "spike" and verdicts[-1].rule == "record"  # 2 → 40 is, a month's record at once
    # Below a record (the series once had 60), 2 → 40 is a storm once it has held for 15 minutes.
    few[288] = 60.0
    _, verdicts = run(few + [40.0, 40.0, 40.0])
    assert [v.kind for v in verdicts[-3:]] == [None, None, "spike"] and verdicts[-1].rule == "fast", verdicts[-3:]


def quiet_days(days: int, rate: float, seed: int, start: datetime = START) -> list[float]:
    rng = random.Random(seed)
    return [float(poisson(rng, rhythm(start + i * STEP, rate))) for i in range(days * 288)]


def test_a_tenfold_burst_fires_within_fifteen_minutes_and_a_shared_post_only_as_a_record() -> None:
    history = quiet_days(10, 30, 3)
    at = START + len(history) * STEP
    state, verdicts = run(history)
    assert sum(v.fired for v in verdicts[288:]) <= 1  # ten days of ordinary traffic: at most one call
    # One window at 100×, then back to normal (one post shared widely): news the first time, as the
    # month's record; two days later the same spike is no record and no storm.
    first = update(state, at, 100 * rhythm(at, 30), SETTINGS)
    assert first.kind == "spike" and first.rule == "record"
    later = at + timedelta(days=2)
    quiet = [update(state, at + k * STEP, rhythm(at + k * STEP, 30), SETTINGS) for k in range(1, 576)]
    again = [update(state, later + k * STEP, (100 if k == 0 else 1) * rhythm(later + k * STEP, 30), SETTINGS)
             for k in range(12)]
    assert not any(v.fired for v in quiet + again)
    state, _ = run(history)
    burst = [update(state, at + k * STEP, 10 * rhythm(at + k * STEP, 30), SETTINGS) for k in range(3)]
    (fired,) = [v for v in burst if v.fired]  # within 15 minutes, once
    assert fired.kind == "spike" and fired.value > fired.high and 0 < fired.confidence <= 1


def test_a_slow_storm_fires_on_the_hour_test() -> None:
    # Four times the usual volume, rising over half an hour: no window reaches the fast test's 4× (a
    # post added to both sides), but the hour, its busiest quarter aside, runs at three times.
    history = quiet_days(10, 30, 4)
    at = START + len(history) * STEP
    state, _ = run(history)
    verdicts = [update(state, at + k * STEP, rhythm(at + k * STEP, 30) * (1 + min(3.0, 3.0 * (k + 1) / 6)), SETTINGS)
                for k in range(24)]
    fired = [v for v in verdicts if v.fired]
    assert len(fired) == 1 and fired[0].rule == "hour" and fired[0].at - at <= timedelta(hours=1), fired
    assert fired[0].burst >= SETTINGS.storm_ratio and fired[0].bar == SETTINGS.storm_ratio
    # The alert says the bar as set (2.75×), not rounded to a tenth it is not.
    assert f"this series needs {SETTINGS.storm_ratio:g}× ({SETTINGS.storm_ratio:g}×, or" in method(SETTINGS, fired[0])


def test_a_weekly_rhythm_does_not_fire_once_learnt() -> None:
    rng = random.Random(4)
    weeks = [float(poisson(rng, rhythm(START + i * STEP, 40))) for i in range(5 * 7 * 288)]
    _, verdicts = run(weeks)
    # Monday mornings never look like storms, and a quiet weekend is no broken source, once the
    # weekdays' shares are learnt.
    assert [v for v in verdicts if v.kind == "spike"] == []
    fired = [v for v in verdicts[14 * 288 :] if v.fired]
    assert fired == [], [(v.at.isoformat(), v.kind, v.value, round(v.expected)) for v in fired]


def test_a_lasting_level_shift_is_news_once_and_the_new_normal_within_a_week() -> None:
    rng = random.Random(5)
    before = [float(poisson(rng, 20)) for _ in range(7 * 288)]
    after = [float(poisson(rng, 80)) for _ in range(8 * 288)]
    _, verdicts = run(before + after)
    assert sum(v.fired for v in verdicts[len(before):]) == 1  # the shift is news once
    assert abs(verdicts[-1].expected - 80) < 20


def test_a_busy_day_expects_a_busy_hour_and_a_quiet_day_hears_a_smaller_storm() -> None:
    # Ten ordinary weekdays, then a day whose news runs the brand at twice its usual volume from
    # the morning: by the afternoon an hour at 3.6 × the usual (1.8 × the day's own level) is that
    # day's weather, not a storm. The detector without today's level pages it.
    history = quiet_days(10, 30, 21)
    history[-2 * 288 + 36] = 200.0  # one post shared widely two days before: the month's record is high
    at = START + len(history) * STEP  # a Thursday, 00:00
    rng = random.Random(22)
    busy = [float(poisson(rng, 2 * rhythm(at + k * STEP, 30))) for k in range(14 * 12)]  # to 14:00
    probe = [float(poisson(rng, 3.6 * rhythm(at + (len(busy) + k) * STEP, 30))) for k in range(18)]
    flat = SpikeSettings(level_hours=0)
    for settings, pages in ((SETTINGS, False), (flat, True)):
        state = new_state(START)
        verdicts = [update(state, START + i * STEP, v, settings) for i, v in enumerate(history + busy + probe)]
        afternoon = verdicts[len(history) + len(busy):]
        assert any(v.kind == "spike" for v in afternoon) is pages, (settings.level_hours, afternoon)
        if settings is SETTINGS:
            assert 1.7 <= afternoon[0].level <= 2.0  # the day's level, read from the hours before the last
            usual = afternoon[0].expected / afternoon[0].level
            assert 1.7 * usual <= afternoon[0].expected <= 2.0 * usual
        else:
            assert {v.level for v in afternoon} == {1.0}
    # A day at half its usual volume: a storm of 2.2 × the usual is 4 × this day's own.
    quiet = [float(poisson(rng, 0.5 * rhythm(at + k * STEP, 30))) for k in range(14 * 12)]
    storm = [float(poisson(rng, 2.2 * rhythm(at + (len(quiet) + k) * STEP, 30))) for k in range(18)]
    for settings, pages in ((flat, False), (SETTINGS, True)):
        state = new_state(START)
        verdicts = [update(state, START + i * STEP, v, settings) for i, v in enumerate(history + quiet + storm)]
        fired = [v for v in verdicts[len(history) + len(quiet):] if v.kind == "spike"]
        assert bool(fired) is pages, settings.level_hours
    # The alert says what it was measured against.
    from monitor.judgement.series import method
    words = method(SETTINGS, fired[0])
    assert ("usually brings at today's level (its median over the last 7 days × 0.52: the 6 hours before the last "
            "ran at 0.52× their usual)") in words, words


def test_today_level_leaves_the_last_hour_out_so_a_storm_never_raises_its_own_bar() -> None:
    # A storm at 4 × that lasts: the hour it began is not in the level that judges it, and an hour
    # later the storm's own first hour is the one left out.
    history = quiet_days(10, 30, 23)
    at = START + len(history) * STEP + timedelta(hours=12)
    state, _ = run(history + quiet_days(1, 30, 24, START + len(history) * STEP)[:144])
    levels = [update(state, at + k * STEP, 4 * rhythm(at + k * STEP, 30), SETTINGS).level for k in range(24)]
    assert all(0.8 <= level <= 1.25 for level in levels), levels


def test_a_state_written_before_today_level_carries_on_and_learns_it_within_the_hour() -> None:
    history = quiet_days(10, 30, 25)[:-6]  # to half past eleven
    state, _ = run(history)
    del state["level"]  # as a stored state of the detector before it
    at = START + len(history) * STEP
    verdicts = [update(state, at + k * STEP, rhythm(at + k * STEP, 30), SETTINGS) for k in range(12)]
    assert [v.level for v in verdicts[:6]] == [1.0] * 6 and "level" in state and not any(v.fired for v in verdicts)
    assert verdicts[6].level == state["level"] != 1.0  # from the next hour on


def test_a_source_falling_silent_is_a_drop_a_quiet_hour_is_not() -> None:
    busy = quiet_days(4, 30, 6)
    _, verdicts = run(busy + [0.0] * 24)
    drops = [v for v in verdicts if v.kind == "drop"]
    assert len(drops) == 1 and drops[0].at - verdicts[len(busy)].at == SETTINGS.drop_after
    _, verdicts = run(busy + [v / 3 for v in busy[-24:]])  # a third of usual: a calm hour, not a broken source
    assert not any(v.kind == "drop" for v in verdicts)
    # On a busy day the drop is still judged, and said, against the hour's usual count, not today's level.
    rng = random.Random(26)
    busy_day = [float(poisson(rng, 1.6 * rhythm(START + (len(busy) + k) * STEP, 30))) for k in range(12 * 12)]
    said, levels = {}, {}
    for settings in (SETTINGS, SpikeSettings(level_hours=0)):
        state = new_state(START)
        verdicts = [update(state, START + i * STEP, v, settings) for i, v in enumerate(busy + busy_day + [0.0] * 24)]
        said[settings.level_hours] = [(v.at, v.expected) for v in verdicts if v.kind == "drop"]
        levels[settings.level_hours] = verdicts[len(busy) + len(busy_day) - 1].level
    assert levels[6] > 1.3 and levels[0] == 1.0  # the day ran busy ...
    assert len(said[6]) == 1 and said[6] == said[0]  # ... and its drop is said as without the level


def test_a_weighted_series_drops_on_its_posts_not_on_its_weight() -> None:
    """The reach of a brand's negative posts: a post an hour or so, each seen by about a thousand,
    so ~40 of reach expected per window but 0.04 posts. An hour without one is a quiet hour (the
    old rule read the reach as posts and called every such hour a silent source)."""
    rng = random.Random(4)
    state = new_state(START)
    verdicts = []
    for i in range(5 * 288):
        posts = 1.0 if rng.random() < 0.04 or (i % 288) == 100 else 0.0
        verdicts.append(update(state, START + i * STEP, posts * rng.uniform(500, 1500), SETTINGS, count=posts))
    assert not any(v.kind == "drop" for v in verdicts)
    # The same brand's posts, ten a window, falling silent: a drop, as for any count.
    busy = [10.0 * (1 + (i % 3)) for i in range(4 * 288)]
    state = new_state(START)
    drops = [update(state, START + i * STEP, 1000.0 * v, SETTINGS, count=v).kind for i, v in enumerate(busy + [0.0] * 24)]
    assert drops.count("drop") == 1


def test_state_reloaded_from_sqlite_scores_as_state_kept_in_memory(tmp_path: Path) -> None:
    values = quiet_days(4, 25, 7) + [300.0, 310.0, 305.0, 20.0, 0.0]
    _, in_memory = run(values)
    assert any(v.fired for v in in_memory)
    with Store(tmp_path / "m.db") as store:
        for i, value in enumerate(values):
            state = store.spike_state("Acme/all") or new_state(START)
            verdict = update(state, START + i * STEP, value, SETTINGS)
            store.save_spike_state("Acme/all", state)
            assert verdict == in_memory[i], i
    # And the stored form is plain JSON, a few KB.
    with Store(tmp_path / "m.db") as store:
        raw = store.db.execute("SELECT state FROM spike_series WHERE series = 'Acme/all'").fetchone()[0]
        assert json.loads(raw)["n"] == len(values) and len(raw) < 4096


def storm(rng: random.Random, windows: int, level: float = 300.0) -> list[float]:
    return [level + rng.randint(0, 20) for _ in range(windows)]


def test_one_storm_one_alert_and_a_second_storm_fires_even_after_a_bigger_one() -> None:
    rng = random.Random(8)

    def quiet(hours: float) -> list[float]:
        return [float(poisson(rng, 30)) for _ in range(int(hours * 12))]

    # Four quiet days, a two-hour storm, its aftershock within the re-arm time, then two days later
    # a smaller storm (after a bigger one: the quiet-brand miss) and a second big one.
    parts = [quiet(96), storm(rng, 24), quiet(4), storm(rng, 6), quiet(44), storm(rng, 12, 200.0), quiet(48),
             storm(rng, 24), quiet(6)]
    values = [v for part in parts for v in part]
    starts = [sum(len(p) for p in parts[:i]) for i in range(len(parts))]
    _, verdicts = run(values)
    fired = [i for i, v in enumerate(verdicts) if v.kind == "spike"]
    assert len(fired) == 3, [(i, verdicts[i].rule) for i in fired]
    assert starts[1] <= fired[0] <= starts[1] + 2  # the storm: within 15 minutes
    assert all(not v.fired for v in verdicts[starts[3]:starts[4]])  # its aftershock: the same storm
    assert starts[5] <= fired[1] <= starts[5] + 2  # smaller than the first, days later: still news
    assert starts[7] <= fired[2] <= starts[7] + 2


def test_a_daily_burst_is_news_once_then_weather() -> None:
    # A bot posting 20 minutes a day at 09:00 at ten times the usual from a Tuesday on: its first day
    # fires, the later days are held back as recurring (and said so for the backtest).
    values = quiet_days(15, 30, 9)
    for day in range(8, 15):
        first = day * 288 + 9 * 12
        for k in range(4):
            values[first + k] = 10 * rhythm(START + (first + k) * STEP, 30)
    _, verdicts = run(values)
    fired = [v for v in verdicts if v.kind == "spike"]
    assert len(fired) == 1 and fired[0].at.date() == (START + timedelta(days=8)).date(), fired
    # The next days are held back as recurring; by then it is every day's peak, which the bar of
    # this series' ordinary daily peaks keeps below a storm.
    held = [v.at.date() for v in verdicts if v.held and v.held[0] == "recurs daily"]
    assert held[:3] == [(START + timedelta(days=d)).date() for d in range(9, 12)]
    last_day = [v.held[0] for v in verdicts[-288:] if v.held]
    assert last_day == ["within its ordinary daily peaks"], last_day


def test_a_bursty_brand_needs_a_bigger_burst() -> None:
    # A brand whose volume runs at eight times the usual for half an hour every day at a random time
    # (its ordinary weather): the same half hour on a calm brand is a storm, here it is not.
    rng = random.Random(10)
    values = quiet_days(21, 30, 10) + quiet_days(1, 30, 12, START + timedelta(days=21))[:144]
    for day in range(1, 20):
        first = day * 288 + 108 + rng.randrange(0, 24)  # 09:00-11:00: over 12 h before the probe, no record for it
        for k in range(first, first + 6):
            values[k] = 8 * values[k]
    at = START + len(values) * STEP  # a Monday, noon

    def half_hour(state: dict) -> list:
        return [update(state, at + k * STEP, (8 if k < 6 else 1) * rhythm(at + k * STEP, 30), SETTINGS) for k in range(12)]

    state, _ = run(values)
    same = half_hour(state)
    assert not any(v.fired for v in same) and any(v.held and v.held[0] == "within its ordinary daily peaks" for v in same)
    calm, _ = run(quiet_days(21, 30, 11) + quiet_days(1, 30, 12, START + timedelta(days=21))[:144])
    assert any(v.fired for v in half_hour(calm))


def measure(values: list[float], start: datetime = START, settings: SpikeSettings = SETTINGS):
    state = new_state(start)
    return state, [update(state, start + i * STEP, v, settings, measurement=True) for i, v in enumerate(values)]


def test_a_measurement_fires_on_its_records_in_its_own_units() -> None:
    # An ad-exchange rate around 0.08: a count's floors (5 posts, Poisson) would never let it fire.
    rng = random.Random(11)
    ordinary = [0.08 + 0.02 * math.sin(i / 40) + rng.uniform(-0.01, 0.01) for i in range(4 * 288)]
    state, verdicts = measure(ordinary)
    late = [v for v in verdicts if not v.warming_up]
    before = sum(v.fired for v in late)
    high = update(state, START + len(ordinary) * STEP, 0.31, SETTINGS, measurement=True)
    assert high.kind == "spike" and high.record[0] == "value high" and 0.1 < high.record[1] < 0.11, high
    # Re-armed later, a value below everything seen is a drop.
    at = START + (len(ordinary) + 2) * STEP + SETTINGS.rearm
    low = update(state, at, 0.01, SETTINGS, measurement=True)
    assert low.kind == "drop" and low.record[0] == "value low", low
    assert before <= 2  # days of ordinary wobble: the early records of a young series at most


def test_a_quiet_brands_storm_is_a_storm_only_when_it_is_one() -> None:
    rng = random.Random(12)
    quiet = [float(poisson(rng, 0.3)) for _ in range(5 * 288)]  # most windows 0, a few 1 or 2
    state, verdicts = run(quiet)
    at = START + len(quiet) * STEP
    few = [update(state, at + k * STEP, 2.0 if k < 3 else 0.0, SETTINGS) for k in range(12)]
    assert not any(v.fired for v in few)  # 6 posts in 15 minutes: not a storm
    storm = [update(state, at + (12 + k) * STEP, 8.0, SETTINGS) for k in range(3)]  # 8 a window where 0 is usual
    assert storm[-1].kind == "spike", storm


def test_a_record_ages_out_after_record_memory() -> None:
    settings = SpikeSettings(record_memory=timedelta(days=9), rearm=timedelta(hours=1))
    state, _ = measure([50.0 + (i % 7) for i in range(288)] + [90.0] + [50.0 + (i % 7) for i in range(3 * 288)],
                       settings=settings)
    at = START + (4 * 288 + 1) * STEP
    below_the_old_high = update(state, at, 80.0, settings, measurement=True)
    assert below_the_old_high.record is None or below_the_old_high.record[0] != "value high"
    for i in range(1, 9 * 288):  # nine days later the block holding the 90 has aged out
        update(state, at + i * STEP, 50.0 + (i % 7), settings, measurement=True)
    again = update(state, at + 9 * 288 * STEP, 80.0, settings, measurement=True)
    assert again.record is not None and again.record[0] == "value high", again
    assert len(json.dumps(state)) < 3072  # the records cost a few numbers (and 24 hours × 2 ranges), not history


def test_a_record_must_beat_the_old_one_by_more_than_the_series_wobbles() -> None:
    # A metric wobbling between 50 and 56 (typical step between windows ~1.7): a new high by a hair
    # is the wobble, not news; one clear of it by a step is.
    state, verdicts = measure([50.0 + (i % 7) for i in range(3 * 288)])
    assert not any(v.fired for v in verdicts[288:])
    at = START + 3 * 288 * STEP
    hair = update(state, at, 56.1, SETTINGS, measurement=True)
    assert not hair.fired and hair.record is None, hair
    clear = update(state, at + STEP, 58.0, SETTINGS, measurement=True)
    assert clear.kind == "spike" and clear.record == ("value high", 56.1), clear


def daily_square(at: datetime, rng: random.Random, busy: bool = True) -> float:
    """Busy from 08:00 to 18:00 (80), quiet otherwise (20), with a little noise."""
    return (80.0 if busy and 8 <= at.hour < 18 else 20.0) + rng.uniform(-2, 2)


def test_an_hour_record_hears_a_daily_peak_that_never_came() -> None:
    rng = random.Random(13)
    days = 6 * 288
    values = [daily_square(START + i * STEP, rng) for i in range(days)]
    # Day 7: the busy hours stay at the night's level, inside the series' overall range.
    values += [daily_square(START + i * STEP, rng, busy=False) for i in range(days, days + 288)]
    state, verdicts = measure(values)
    assert [v for v in verdicts[2 * 288:days] if v.fired] == []  # ordinary days, once two are seen
    fired = [v for v in verdicts[days:] if v.fired]
    assert len(fired) == 1 and fired[0].record[0] == "hour low", fired
    assert fired[0].at.hour == 8 and fired[0].record[1] > 70  # at the first quiet busy window
    assert 20 * 0.9 < fired[0].value < 25
    # The method line says it in words.
    from monitor.judgement.series import method
    assert method(SETTINGS, fired[0]).startswith("an hour record: ") and "08:00–08:59 UTC" in method(SETTINGS, fired[0])


def test_an_hour_needs_days_of_that_hour_before_its_range_counts() -> None:
    # Hourly values: each hour of the day has one window a day, so a week holds only 7 of them
    # (fewer than hour_samples): no hour record, however odd the hour looks.
    hourly = SpikeSettings(window=timedelta(hours=1))
    rng = random.Random(14)
    state = new_state(START)
    verdicts = [update(state, START + i * timedelta(hours=1), daily_square(START + i * timedelta(hours=1), rng, busy=i < 6 * 24),
                       hourly, measurement=True) for i in range(7 * 24)]
    assert not any(v.record and v.record[0].startswith("hour") for v in verdicts)


def _brand_counts(seed: int, days: int) -> dict[datetime, dict[str, list[float]]]:
    """A brand's windows as ``window_counts`` gives them: a busy source that falls silent on the
    last day, a quiet one with a burst, a rare one; [mentions, negative, assassins, negative reach]."""
    rng = random.Random(seed)
    out: dict[datetime, dict[str, list[float]]] = {}
    for i in range(days * 288):
        at = START + i * STEP
        rates = {"busy": 0.0 if i >= (days - 1) * 288 + 100 else rhythm(at, 12), "quiet": rhythm(at, 0.3), "rare": 0.01}
        if (days - 2) * 288 + 40 <= i < (days - 2) * 288 + 60:
            rates["quiet"] = 6.0
        for source, rate in rates.items():
            posts = poisson(rng, rate)
            if posts:
                negative = sum(rng.random() < 0.3 for _ in range(posts))
                out.setdefault(at, {})[source] = [float(posts), float(negative), float(negative // 2),
                                                  float(sum(rng.randint(10, 3000) for _ in range(negative)))]
    return out


def _window_by_window(counts, start, until, states):
    """Every series updated at every window: what ``score_windows`` must equal."""
    from monitor.judgement.series import ALL_SOURCES, MEASURES, _measures, series_key
    sources = sorted({s for per in counts.values() for s in per})
    fired, held, hot = [], [], {}
    at = start
    while at < until:
        per = counts.get(at, {})
        everything = [sum(c) for c in zip(*per.values())] if per else [0.0] * 4
        for source in (ALL_SOURCES, *sources):
            chosen = everything if source == ALL_SOURCES else per.get(source, [0.0] * 4)
            for measure, value, count in _measures(chosen)[:None if source == ALL_SOURCES else 1]:
                key = series_key("Acme", source, measure)
                state = states.setdefault(key, new_state(start, SETTINGS))
                v = update(state, at, value, SETTINGS, count=count if measure == "negative_reach" else None)
                if v.fired:
                    fired.append((v.at, source, measure, v.kind))
                if v.held:
                    held.append((at, source, measure, v.held[0]))
                if source == ALL_SOURCES and not v.warming_up and v.z >= SETTINGS.threshold / 2:
                    hot.setdefault(at, {})[measure] = [v.value, v.expected, round(v.z, 2)]
        at += STEP
    assert MEASURES[0] == "mentions"
    return fired, held, hot


def test_quiet_windows_skipped_in_one_step_score_exactly_as_window_by_window(monkeypatch) -> None:
    """A brand's series advanced over their quiet stretches in one call (``counts.sleep``) end in
    the same states, fire the same spikes and drops and hold back the same bursts as every series
    updated at every window; so do runs of a few windows each, as the monitor scores them live."""
    from monitor.judgement import series
    days = 6
    counts = _brand_counts(5, days)
    until = START + timedelta(days=days)
    expected_states: dict[str, dict] = {}
    fired, held, hot = _window_by_window(counts, START, until, expected_states)
    assert any(kind == "drop" for *_, kind in fired) and any(kind == "spike" for *_, kind in fired)
    skipped: list[int] = []
    real = series.sleep
    monkeypatch.setattr(series, "sleep", lambda *a, **k: skipped.append(real(*a, **k)) or skipped[-1])  # counts only
    for runs in ([(START, until)], _runs(days)):
        states = {key: new_state(START, SETTINGS) for key in expected_states}  # every source known from the start
        got_held: list = []
        got_hot: dict = {}
        got: list = []
        skipped.clear()
        for begin, end in runs:
            got += series.score_windows("Acme", {k: v for k, v in counts.items() if begin <= k < end}, start=begin,
                                        until=end, states=states, settings=SETTINGS, held=got_held, hot=got_hot)
        assert [(f.verdict.at, f.source, f.measure, f.verdict.kind) for f in got] == fired
        assert [(h.at, h.source, h.measure, h.why) for h in got_held] == held
        assert got_hot == hot
        assert json.dumps(states, sort_keys=True) == json.dumps(expected_states, sort_keys=True)
        assert sum(skipped) > 1000  # the quiet stretches were skipped, not walked window by window


def _runs(days: int) -> list[tuple[datetime, datetime]]:
    """Runs of one to three windows, as a monitor on a schedule scores them."""
    rng, out, at, until = random.Random(2), [], START, START + timedelta(days=days)
    while at < until:
        end = min(until, at + STEP * rng.randint(1, 3))
        out.append((at, end))
        at = end
    return out
