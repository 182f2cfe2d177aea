"""Storms: one burst of a brand, as a community manager reads it in ten seconds.

The detector fires per series (four measures, for the brand and for each of its sources), so one
burst fires several series in the same window or a few windows apart. A storm merges them:
every brand-level spike of a brand that comes within ``GAP`` of the storm's last window joins it,
with the per-source spikes of its windows; it grows while its headline measure stays in a burst
(z ≥ half the threshold, the detector's own rule for a burst that lasts) and ends after ``GAP``
without one. A drop is a storm of its own per source (a broken connector shows there).

The headline is the measure that matters most for a reputation: negative posts, else assassins'
posts, else all posts (a rise in negative reach alone is headlined by its negative posts). A storm
says in words what happened (posts, what was expected at that time of day, where, which words,
how many people it reached) and keeps the numbers behind it for a second line. Its reach is the
sum of its posts' estimates (each source's own method), and audiences overlap, so that sum is
more than the distinct people reached: the alert says so.

Pure: fired series, their windows' verdicts and the storm's posts in; storms and text out.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.judgement.series import ALL_SOURCES, Fired, _in_measure, window_floor
from monitor.models import Alert, Judged, from_iso, to_iso

GAP = timedelta(hours=1)  # a storm continues while its windows come within this of each other
HEADLINES = ("negative", "assassins", "mentions")
NOUNS = {"negative": "negative posts", "assassins": "posts from assassins", "mentions": "posts"}
TOP_POSTS = 5


def headline(measures) -> str:
    """The measure a storm is told by."""
    for measure in HEADLINES:
        if measure in measures:
            return measure
    return "negative"  # negative reach alone: its posts are the negative ones


@dataclass
class Storm:
    """One burst (or drop) of one brand: its windows, the series that fired in it, its posts' tally."""

    brand: str
    kind: str  # "spike" or "drop"
    source: str  # ALL_SOURCES, or the one source of a drop
    start: datetime  # the first window's start
    end: datetime  # the last window's end
    measure: str  # the headline measure
    step: timedelta = timedelta(minutes=5)  # the detector's window
    windows: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # window start → measure → [value, expected, z]
    series: list[str] = field(default_factory=list)  # "source|measure" of every series that fired in it
    first: dict[str, list] = field(default_factory=dict)  # measure → [window start, value, expected, z] of its first firing
    methods: dict[str, str] = field(default_factory=dict)  # measure → how its first firing was decided
    words: list[str] = field(default_factory=list)
    posts: int = 0
    expected: float = 0.0
    reach: tuple[int, int, int] = (0, 0, 0)  # low, likely, high: sums over its posts
    sources: dict[str, int] = field(default_factory=dict)  # posts per source
    top: list[tuple[str, str]] = field(default_factory=list)  # (source, id) of its widest-reaching posts
    alerted_posts: int = 0  # its posts when it was last alerted (0: never)
    alerts: int = 0
    ended: bool = False

    @property
    def id(self) -> str:
        return f"{self.brand}|{self.source}|{self.kind}|{to_iso(self.start)}"

    def to_row(self) -> dict:
        return {
            "id": self.id, "brand": self.brand, "source": None if self.source == ALL_SOURCES else self.source,
            "kind": self.kind, "measure": self.measure, "started_at": to_iso(self.start), "ended_at": to_iso(self.end),
            "window_seconds": int(self.step.total_seconds()),
            "ended": int(self.ended), "posts": self.posts, "expected": round(self.expected, 3),
            "reach_low": self.reach[0], "reach_likely": self.reach[1], "reach_high": self.reach[2],
            "sources": dict(self.sources), "words": list(self.words), "series": list(self.series), "first": self.first,
            "windows": self.windows, "methods": self.methods, "top_posts": [list(t) for t in self.top],
            "summary": summary(self), "details": details(self),
            "alerted_posts": self.alerted_posts, "alerts": self.alerts,
        }

    @classmethod
    def from_row(cls, row: dict) -> "Storm":
        return cls(
            brand=row["brand"], kind=row["kind"], source=row["source"] or ALL_SOURCES, start=from_iso(row["started_at"]),
            end=from_iso(row["ended_at"]), measure=row["measure"], step=timedelta(seconds=row["window_seconds"]),
            windows=row["windows"], series=row["series"], first=row["first"],
            methods=row["methods"], words=row["words"], posts=row["posts"], expected=row["expected"],
            reach=(row["reach_low"], row["reach_likely"], row["reach_high"]), sources=row["sources"],
            top=[tuple(t) for t in row["top_posts"]], alerted_posts=row["alerted_posts"], alerts=row["alerts"],
            ended=bool(row["ended"]),
        )


def gather(fired: list[Fired], open_storms: list[Storm], *, window: timedelta, gap: timedelta = GAP) -> list[Storm]:
    """Join each fired series to the storm it continues (same brand and kind; a drop also the same
    source), or start one. Per-source spikes join their brand's storm but never start one. Returns
    the storms touched, open ones first, in start order."""
    storms = list(open_storms)
    touched: dict[str, Storm] = {}
    ordered = sorted(fired, key=lambda f: (f.verdict.at, f.source != ALL_SOURCES))
    for item in ordered:
        kind = item.verdict.kind or "spike"
        scope = ALL_SOURCES if kind == "spike" else item.source
        at = item.verdict.at
        storm = next((s for s in storms if s.brand == item.brand and s.kind == kind and s.source == scope
                      and not s.ended and s.start - gap <= at <= s.end + gap), None)
        if storm is None:
            if kind == "spike" and item.source != ALL_SOURCES:
                continue  # a source's own spike is part of a brand's storm, not one by itself
            storm = Storm(item.brand, kind, scope, at, item.window_end, item.measure, window)
            storms.append(storm)
        storm.end = max(storm.end, item.window_end)
        item.storm = storm.id
        name = f"{item.source}|{item.measure}"
        if name not in storm.series:
            storm.series.append(name)
        if item.source == scope:
            storm.methods.setdefault(item.measure, item.explanation.get("method", ""))
            storm.measure = headline([storm.measure, item.measure])
            if not storm.words:
                storm.words = list(item.explanation.get("words", []))
            verdict = item.verdict
            numbers = [verdict.value, verdict.expected, round(verdict.z, 2)]
            storm.windows.setdefault(to_iso(at), {})[item.measure] = numbers
            storm.first.setdefault(item.measure, [to_iso(at), *numbers])
        touched[storm.id] = storm
    return sorted(touched.values(), key=lambda s: s.start)


def extend(storm: Storm, hot: dict[datetime, dict[str, list[float]]], *, window: timedelta, until: datetime,
           gap: timedelta = GAP) -> None:
    """Grow a spike storm by the windows after its end in which its headline measure is still in a
    burst (``hot``: window start → measure → [value, expected, z], the brand's windows in a burst);
    end it once ``gap`` has passed with none."""
    if storm.ended:
        return
    if storm.kind == "drop":
        storm.ended = until > storm.end + gap
        return
    for at in sorted(hot):
        measures = hot[at]
        if at < storm.end - window or storm.measure not in measures:
            continue
        if at > storm.end + gap:
            break
        storm.windows.setdefault(to_iso(at), {}).update(measures)
        storm.end = max(storm.end, at + window)
    if until > storm.end + gap:
        storm.ended = True


def tally(storm: Storm, rows: list[dict]) -> None:
    """Count the storm's posts: those of its headline measure in its windows (``rows``: the
    brand's posts from its start to its end), with what was expected, their reach and sources."""
    starts = {from_iso(at) for at in storm.windows}
    mine = [r for r in rows if window_floor(from_iso(r["published_at"]), storm.step) in starts
            and (storm.source == ALL_SOURCES or r["source"] == storm.source) and _in_measure(r, storm.measure)]
    storm.posts = len(mine)
    storm.expected = sum(m.get(storm.measure, [0.0, 0.0])[1] for m in storm.windows.values())
    storm.reach = (sum(r.get("reach_low") or 0 for r in mine), sum(r.get("reach_likely") or 0 for r in mine),
                   sum(r.get("reach_high") or 0 for r in mine))
    storm.sources = dict(Counter(r["source"] for r in mine).most_common())
    widest = sorted(mine, key=lambda r: (-(r.get("reach_likely") or 0), r["published_at"]))[:TOP_POSTS]
    storm.top = [(r["source"], r["id"]) for r in widest]


def news(storm: Storm, *, min_excess: float) -> str | None:
    """What to say now: "new" for a storm never alerted, "grown" once its posts have doubled since
    the last alert (by at least ``min_excess``), else None."""
    if storm.kind == "drop":
        return "new" if storm.alerts == 0 else None
    if storm.alerts == 0:
        return "new"
    if storm.posts >= 2 * storm.alerted_posts and storm.posts - storm.alerted_posts >= min_excess:
        return "grown"
    return None


def span(delta: timedelta) -> str:
    """``5 minutes``, ``45 minutes``, ``1 hour``, ``2.5 hours``, ``3 days``."""
    minutes = delta / timedelta(minutes=1)
    if minutes < 60:
        return f"{minutes:.0f} minute{'s' if round(minutes) != 1 else ''}"
    hours = minutes / 60
    if hours < 48:
        shown = f"{hours:.1f}".rstrip("0").rstrip(".")
        return f"{shown} hour{'s' if shown != '1' else ''}"
    return f"{hours / 24:.1f}".rstrip("0").rstrip(".") + " days"


def _about(x: float) -> str:
    """A count as people say it: ``about 0``, ``about 3``, ``about 1,200``."""
    return f"about {x:,.0f}" if x >= 10 else f"about {math.floor(x + 0.5):d}"


def _people(low: int, high: int) -> str:
    return f"{_round(low):,} people" if _round(low) == _round(high) else f"{_round(low):,}–{_round(high):,} people"


def _round(n: int) -> int:
    """Two significant figures: a reach estimate is not exact."""
    if n < 100:
        return int(n)
    digits = int(math.log10(n)) - 1
    return int(round(n, -digits))


def summary(storm: Storm) -> str:
    """The storm in words: what, how much against what was expected, where, which words, how far."""
    duration = span(storm.end - storm.start)
    scope = storm.brand if storm.source == ALL_SOURCES else f"{storm.brand} on {storm.source}"
    if storm.kind == "drop":
        _, value, expected, _ = storm.first.get(storm.measure) or next(iter(storm.first.values()))
        check = "are its sources still working?" if storm.source == ALL_SOURCES else f"is {storm.source} still working?"
        return (f"{scope}: {value:,.0f} {NOUNS.get(storm.measure, 'posts')} in {duration}, {_about(expected)} expected "
                f"at this time of day, after a long stretch far below normal; {check}")
    parts = [f"{scope}: {storm.posts:,} {NOUNS[storm.measure]} in {duration}, {_about(storm.expected)} expected at this time of day"]
    total = sum(storm.sources.values())
    if total:
        source, n = next(iter(storm.sources.items()))
        if n * 2 > total:
            parts.append(f"mostly on {source}" + (f" ({n / total:.0%})" if n < total else ""))
        else:
            parts.append("spread over " + ", ".join(f"{s} ({c / total:.0%})" for s, c in list(storm.sources.items())[:3]))
    if storm.words:
        parts.append("top words: " + ", ".join(storm.words[:4]))
    if storm.reach[2]:
        parts.append(f"reached about {_people(storm.reach[0], storm.reach[2])} so far")
    return "; ".join(parts)


def details(storm: Storm) -> str:
    """The numbers behind the summary: each measure that fired, when first, against its
    expectation; where it fired, how it was decided, how the reach was counted."""
    order = sorted(storm.first.items(), key=lambda kv: (kv[1][0], HEADLINES.index(kv[0]) if kv[0] in HEADLINES else 9))
    numbers = ", ".join(
        f"{measure.replace('_', ' ')} {value:,.0f} (expected {expected:,.1f}, z {z:+.1f}) at {from_iso(at):%H:%M}"
        for measure, (at, value, expected, z) in order
    )
    where = sorted({s.split("|")[0] for s in storm.series})
    scopes = ", ".join("all sources" if s == ALL_SOURCES else s for s in where)
    text = (f"In {storm.step / timedelta(minutes=1):g}-minute windows (UTC): {numbers}. Fired on: {scopes} "
            f"({len(storm.series)} series). How: {storm.methods.get(storm.measure) or next(iter(storm.methods.values()), '')}")
    if storm.kind == "spike":
        text += (f". Reach: the sum of its {storm.posts:,} posts' estimates (each by its source's method; likely "
                 f"{_round(storm.reach[1]):,}); audiences overlap, so fewer distinct people than that")
    return text


def alert(storm: Storm, what: str, posts: list[Judged], *, now: datetime, gap: timedelta = GAP) -> Alert:
    """The alert for a storm that is news (``what``: "new" or "grown", see ``news``): its summary
    first, the numbers behind it as details, its widest-reaching posts, and the period it is about
    (the assassin alerts of that period ride inside it; see alerts.notify)."""
    lead = "" if what == "new" else f"The storm grows ({storm.alerted_posts:,} → {storm.posts:,} posts). "
    measures = {s.split("|")[1] for s in storm.series}
    bad = storm.kind == "spike" and bool(measures & {"negative", "assassins", "negative_reach"})
    return Alert(
        key=f"{storm.kind}:{storm.brand}:{storm.source}:{to_iso(storm.start)}" + ("" if what == "new" else f":{storm.posts}"),
        kind=storm.kind, brand=storm.brand, source="all sources" if storm.source == ALL_SOURCES else storm.source,
        severity="critical" if bad else "warning", reason=lead + summary(storm), details=details(storm),
        mentions=tuple(posts), created_at=now, starts_at=storm.start, ends_at=storm.end + gap,
    )


def describe(storm: Storm, posts: list[Judged]) -> str:
    """A few lines for a terminal (``monitor backtest``, the log): the words, the numbers, the posts."""
    lines = [f"{storm.start:%Y-%m-%d %H:%M} UTC {storm.kind.upper()} {summary(storm)}", f"  numbers: {details(storm)}"]
    for judged in posts[:3]:
        m = judged.mention
        text = (m.title or m.text or "").replace("\n", " ")[:100]
        lines.append(f"  ▸ {m.author or '?'} ({m.source}, reach ~{judged.reach.likely or 0:,}): {text}")
    return "\n".join(lines)
