"""The series the storm detector watches, counted from a brand's mentions, and what each spike says.

Per brand, four measures per window: every mention, the negative ones (VADER compound ≤ −0.05,
its standard cut), the assassins, and the reach of the negative ones (their ``reach_likely``
summed: ten posts seen by a million people outweigh a hundred seen by ten); per brand × source,
its mentions. Windows are aligned to the clock and scored once they are ``settle`` old, so posts that
arrive late still count. Each series' detector state lives in ``spike_series``; every spike or
drop goes to ``spikes`` with its explanation: observed against expected with the band, the
window, the method and how sure, the posts driving it by reach, the share per source, and the
words most over-represented against the week before.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator, NamedTuple

from monitor.judgement.counts import is_asleep, sleep
from monitor.judgement.spikes import SpikeSettings, Verdict, new_state, update
from monitor.models import to_iso

MEASURES = ("mentions", "negative", "assassins", "negative_reach")
NEGATIVE = -0.05
ALL_SOURCES = "*"
TOP_POSTS = 5
_WORD = re.compile(r"[a-z][a-z'-]{2,}")
_STOP = frozenset(
    "the and for are but not you your with this that have has had was were will would could should from they them "
    "their what when where which who why how all any can just its it's our out about into more than then there "
    "been being also very much some only over such like get got one two i'm don't can't http https www com".split()
)


def series_key(brand: str, source: str, measure: str) -> str:
    return f"{brand}|{source}|{measure}"


def window_floor(at: datetime, window: timedelta) -> datetime:
    """The start of the clock-aligned window holding ``at``."""
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    return epoch + ((at - epoch) // window) * window


@dataclass
class Fired:
    """One spike or drop of one series, with everything its explanation needs."""

    brand: str
    source: str
    measure: str
    verdict: Verdict
    window_end: datetime
    explanation: dict = field(default_factory=dict)
    storm: str | None = None  # the storm it joined (see ``storms``)

    @property
    def series(self) -> str:
        return series_key(self.brand, self.source, self.measure)


class Held(NamedTuple):
    """A burst the storm rule held back: it recurs at that time of day, or it stayed within the
    series' ordinary daily peaks (a storm on a calm brand, weather on this one)."""

    brand: str
    source: str
    measure: str
    at: datetime
    why: str  # "recurs daily" or "within its ordinary daily peaks"
    size: float  # its ratio to expectation
    bar: float  # the ratio this series needs


def _is_negative(row: dict) -> bool:
    return row["sentiment"] is not None and row["sentiment"] <= NEGATIVE


def _measures(counts: list[float]) -> tuple[tuple[str, float, float], ...]:
    """(measure, value, posts behind it) of one window's counts."""
    mentions, negative, assassins, reach = counts
    return (("mentions", mentions, mentions), ("negative", negative, negative), ("assassins", assassins, assassins),
            ("negative_reach", reach, negative))


def _in_measure(row: dict, measure: str) -> bool:
    if measure == "assassins":
        return row["bucket"] == "assassin"
    if measure in ("negative", "negative_reach"):
        return _is_negative(row)
    return True


BLOCK = 1024  # windows advanced for every series before the next block (under to_iso's cache of 4,096)
_NEVER = 1 << 62  # no window with posts ahead


@dataclass
class _Walk:
    """One series' way through the windows: where it is, its next window with posts, the last one."""

    source: str
    measure: str
    state: dict
    marks: dict[int, tuple[float, float]]  # window index → (value, posts), the windows with posts
    upcoming: Iterator[int]
    following: int = _NEVER
    i: int = 0
    last: int = -_NEVER
    retry: int = 0

    def __post_init__(self) -> None:
        self.following = next(self.upcoming, _NEVER)


class _Seen(NamedTuple):
    """What a brand's series report as they advance (``score_windows``' outputs)."""

    fired: list[Fired]
    held: list[Held]
    hot: dict[datetime, dict[str, list[float]]] | None


def score_windows(brand: str, counts: dict[datetime, dict[str, list[float]]], *, start: datetime, until: datetime,
                  states: dict[str, dict], settings: SpikeSettings, held: list[Held] | None = None,
                  hot: dict[datetime, dict[str, list[float]]] | None = None) -> list[Fired]:
    """Advance every series of ``brand`` over the windows from ``start`` to ``until``, given the
    brand's counts per window and source then (the store's ``window_counts``);
    ``states`` (series → state) are updated in place, a new series starting at ``start``. Returns
    what fired (not yet explained), in time order; ``held`` collects the bursts the storm rule held
    back; ``hot`` collects the brand's windows in a burst (window start → measure → [value,
    expected, z], for each measure at z ≥ threshold / 2), which a storm grows by."""
    sources = sorted({source for per_source in counts.values() for source in per_source}
                     | {k.split("|")[1] for k in states if k.startswith(f"{brand}|") and k.split("|")[1] != ALL_SOURCES})
    # A source's own series counts its posts: what a broken connector shows in, and where a brand's
    # storm is. Its negative posts, assassins and reach would only annotate a storm the brand's
    # series start (a source's spike never starts one), at three times the cost.
    keys = {source: [(measure, series_key(brand, source, measure)) for measure in MEASURES[:1 if source != ALL_SOURCES else None]]
            for source in (ALL_SOURCES, *sources)}
    times = []
    at = start
    while at < until:
        times.append(at)
        at += settings.window
    active = _with_posts(counts, times, keys)
    walks = []
    for source, series in keys.items():
        for measure, key in series:
            marks = active.get((source, measure), {})
            state = states.get(key)
            if state is None:
                state = states[key] = new_state(start, settings)
            walks.append(_Walk(source, measure, state, marks, iter(sorted(marks))))
    seen = _Seen([], [], hot)
    # A block of windows at a time, every series through it: the windows' times are formatted
    # once for all the series (to_iso's cache holds a block), as they were window by window.
    for block_end in range(BLOCK, len(times) + BLOCK, BLOCK):
        for walk in walks:
            _advance(walk, brand, times, min(block_end, len(times)), until, settings, seen)
    order = {source: n for n, source in enumerate(keys)}
    seen.fired.sort(key=lambda f: (f.verdict.at, order[f.source], MEASURES.index(f.measure)))
    if held is not None:
        held += sorted(seen.held, key=lambda h: (h.at, order[h.source], MEASURES.index(h.measure)))
    return seen.fired


def _with_posts(counts: dict[datetime, dict[str, list[float]]], times: list[datetime],
                keys: dict[str, list[tuple[str, str]]]) -> dict[tuple[str, str], dict[int, tuple[float, float]]]:
    """Each series' windows with posts, (source, measure) → window index → (value, posts): the
    others are quiet, and a series asleep (no post for an hour) is advanced over them in one call."""
    active: dict[tuple[str, str], dict[int, tuple[float, float]]] = {}
    for i, at in enumerate(times):
        per_source = counts.get(at)
        if not per_source:
            continue
        everything = [sum(column) for column in zip(*per_source.values())]
        for source, series in keys.items():
            chosen = everything if source == ALL_SOURCES else per_source.get(source)
            if chosen is None:
                continue
            for (measure, value, count), _ in zip(_measures(chosen), series):
                if value or count:
                    active.setdefault((source, measure), {})[i] = (value, count)
    return active


def _advance(walk: _Walk, brand: str, times: list[datetime], block_end: int, until: datetime,
             settings: SpikeSettings, seen: _Seen) -> None:
    """``walk``'s series through the windows before ``block_end``: asleep over its quiet stretches
    (``counts.sleep``), window by window elsewhere; what it reports goes to ``seen``."""
    shape, weighted = settings.rates.shape, walk.measure == "negative_reach"
    state, marks, i = walk.state, walk.marks, walk.i
    while i < block_end:
        if i == walk.following:
            walk.last, walk.following = i, next(walk.upcoming, _NEVER)
        elif i >= walk.retry and i - walk.last > shape.hour_windows:
            if not is_asleep(state, shape):  # posts within the hour before this run
                walk.retry = i + 1
            else:
                stop = min(walk.following, block_end)
                skipped = sleep(state, int(times[i].timestamp()), int((times[stop] if stop < len(times) else until).timestamp()),
                                settings, weighted=weighted)
                if skipped:
                    i += skipped
                    continue
                walk.retry = walk.following  # so busy an hour that a silence could be a drop: window by window
        value, count = marks.get(i, (0.0, 0.0))
        at = times[i]
        verdict = update(state, at, value, settings, count=count if weighted else None)
        i += 1
        if verdict.kind is not None:
            seen.fired.append(Fired(brand, walk.source, walk.measure, verdict, at + settings.window))
        if verdict.held is not None:
            seen.held.append(Held(brand, walk.source, walk.measure, at, *verdict.held))
        if (seen.hot is not None and walk.source == ALL_SOURCES and not verdict.warming_up
                and verdict.z >= settings.threshold / 2):
            seen.hot.setdefault(at, {})[walk.measure] = [verdict.value, verdict.expected, round(verdict.z, 2)]
    walk.i = i


def explain(item: Fired, settings: SpikeSettings, window_rows: list[dict], baseline: Counter, baseline_posts: int) -> dict:
    """What an alert shows for one spike: the numbers, the method, the posts, sources and words.

    ``window_rows``: the brand's posts in the window; ``baseline``: word counts of its week before
    (``baseline_posts`` posts).
    """
    v = item.verdict
    rows = [r for r in window_rows
            if (item.source == ALL_SOURCES or r["source"] == item.source) and _in_measure(r, item.measure)]
    top = sorted(rows, key=lambda r: -(r["reach_likely"] or 0))[:TOP_POSTS]
    per_source = Counter(r["source"] for r in rows)
    unit = "reach" if item.measure == "negative_reach" else "posts"
    scope = item.brand if item.source == ALL_SOURCES else f"{item.brand} on {item.source}"
    return {
        "summary": (
            f"{item.measure.replace('_', ' ')} of {scope} {'jumped' if v.kind == 'spike' else 'dropped'}: "
            f"{v.value:,.0f} {unit} in {to_iso(v.at)}–{to_iso(item.window_end)[11:]}, expected {v.expected:,.0f} "
            f"(band {v.low:,.0f}–{v.high:,.0f})"
        ),
        "observed": round(v.value, 2), "expected": round(v.expected, 2), "band": [round(v.low, 2), round(v.high, 2)],
        "window": [to_iso(v.at), to_iso(item.window_end)],
        "method": method(settings, v),
        "confidence": round(v.confidence, 2),
        "ratio": round(v.burst, 2), "needed": round(v.bar, 2),
        "top_posts": [
            {"source": r["source"], "id": r["id"], "author": r["author"], "reach_likely": r["reach_likely"],
             "bucket": r["bucket"], "sentiment": r["sentiment"], "title": r["title"], "text": (r["text"] or "")[:280],
             "url": r["url"]}
            for r in top
        ],
        "sources": {source: round(n / len(rows), 3) for source, n in per_source.most_common()} if rows else {},
        "words": overrepresented(_word_counts(r["text"] or "" for r in rows), len(rows), baseline, baseline_posts),
    }


def times(bar: float) -> str:
    """A series' bar as set ("2.75×", never rounded to a tenth it is not)."""
    return f"{round(bar, 2):g}×"


def method(settings: SpikeSettings, v: Verdict) -> str:
    if v.record:
        what, before = v.record
        side = "above" if what.endswith("high") else "below"
        extreme = "highest" if side == "above" else "lowest"
        if what.startswith("hour"):
            return (f"an hour record: {v.value:,.4g} is far {side} every window at {v.at:%H}:00–{v.at:%H}:59 UTC of the "
                    f"last {_days(settings.hour_memory)} (the {extreme} was {before:,.4g}; beyond it by ≥ "
                    f"{settings.hour_margin:g} × that hour's spread and {settings.hour_steps:g} typical steps)")
        subject = "its 1h level" if what.startswith("level") else f"{v.value:,.4g}"
        return (f"a record: {subject} is {side} every window of the last {_days(settings.record_memory)} "
                f"(the {extreme} was {before:,.4g}; beyond it by ≥ {settings.record_margin:g} typical steps)")
    if v.kind == "drop":
        return (f"every window at most {settings.drop_ratio:g}× what this hour of the day usually brings for "
                f"{settings.drop_after}, where ≥ {settings.drop_min_expected:g} posts per window were expected")
    usual = "what this hour of the day usually brings (its median over the last 7 days)"
    if abs(v.level - 1.0) >= 0.005:
        usual = (f"what this hour of the day usually brings at today's level (its median over the last 7 days × "
                 f"{v.level:.2g}: the {settings.level_hours} hours before the last ran at {v.level:.2g}× their usual)")
    if v.rule == "record":
        test = (f"{v.value:,.0f} is above every window of the last {_days(settings.record_memory)} ({v.burst:,.1f}× "
                f"the highest before), improbable at that rate (p ≤ {settings.record_p:g})")
    elif v.rule == "fast":
        test = (f"every window of the last 15 minutes at ≥ {v.burst:.1f}× {usual}; this series needs "
                f"{times(v.bar)} ({settings.fast_ratio:g}×, or {settings.fast_bar_factor:g}× its ordinary daily peak)")
    else:
        test = (f"the last hour at {v.burst:.1f}× {usual}, its busiest quarter set aside, and still ≥ 1.5× in the "
                f"last half hour; this series needs {times(v.bar)} ({settings.storm_ratio:g}×, or "
                f"{settings.bar_factor:g}× its ordinary daily peak over {settings.bar_days} days)")
    return f"the storm rule: {test}; ≥ {settings.min_excess:g} posts above expected and Poisson p ≤ {settings.max_p:g}"


def _days(span: timedelta) -> str:
    return f"{span / timedelta(days=1):g}d" if span >= timedelta(days=1) else str(span)


def _word_counts(texts: Iterable[str]) -> Counter:
    """In how many texts each word appears (stop words left out)."""
    out: Counter = Counter()
    for text in texts:
        out.update(w for w in set(_WORD.findall(text.lower())) if w not in _STOP)
    return out


def overrepresented(now: Counter, n_now: int, before: Counter, n_before: int, *, top: int = 5) -> list[str]:
    """Words much more frequent in the window (``now``: word counts over ``n_now`` texts) than in
    the baseline (smoothed log-odds, seen ≥ 2 times)."""
    n_now, n_before = max(1, n_now), max(1, n_before)
    scored = [
        (math.log((c + 0.5) / n_now) - math.log((before[w] + 0.5) / n_before), w)
        for w, c in now.items() if c >= 2
    ]
    return [w for score, w in sorted(scored, reverse=True)[:top] if score > math.log(2)]


def spike_row(item: Fired) -> dict:
    """The ``spikes`` table row of one fired series."""
    v = item.verdict
    return {
        "series": item.series, "brand": item.brand, "source": None if item.source == ALL_SOURCES else item.source,
        "measure": item.measure, "kind": v.kind, "window_start": to_iso(v.at), "window_end": to_iso(item.window_end),
        "observed": v.value, "expected": v.expected, "band_low": v.low, "band_high": v.high, "z": v.z,
        "confidence": v.confidence, "method": item.explanation.get("method", ""), "explanation": item.explanation,
    }


def describe(item: Fired) -> str:
    """A few lines for a terminal: what fired, why, and the posts behind it."""
    e = item.explanation
    lines = [f"{e['window'][0]} {item.verdict.kind.upper()} {e['summary']}",
             f"  method: {e['method']}; confidence {e['confidence']:.0%}"]
    if e["sources"]:
        lines.append("  sources: " + ", ".join(f"{s} {share:.0%}" for s, share in e["sources"].items()))
    if e["words"]:
        lines.append("  words: " + ", ".join(e["words"]))
    for post in e["top_posts"][:3]:
        text = (post["title"] or post["text"] or "").replace("\n", " ")[:100]
        lines.append(f"  ▸ {post['author'] or '?'} ({post['source']}, reach ~{post['reach_likely'] or 0:,}): {text}")
    return "\n".join(lines)
