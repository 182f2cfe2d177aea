"""The watches over stored mentions: the spike watch (each brand's settled windows scored for
spikes and drops, merged into storms, one alert per storm and one each time it doubles;
``monitor backtest`` replays it) and the daily digest. They read and write the store; what they
compute is ``series``, ``spikes``, ``storms`` and ``digest``, which do no I/O."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import NamedTuple

from monitor.judgement.digest import TOP, digest
from monitor.judgement.series import (
    ALL_SOURCES,
    NEGATIVE,
    Fired,
    Held,
    _word_counts,
    describe,
    explain,
    score_windows,
    series_key,
    spike_row,
    window_floor,
)
from monitor.judgement.spikes import SpikeSettings, is_current
from monitor.judgement.storms import Storm, extend, gather, news, tally
from monitor.judgement.storms import alert as storm_alert
from monitor.judgement.storms import describe as describe_storm
from monitor.models import Alert, from_iso
from monitor.runtime import Runtime, enqueue
from monitor.store import Store

log = logging.getLogger("monitor")


def watch_series(runtime: Runtime, store: Store, *, now: datetime) -> list[Fired]:
    """Score the brands' settled windows for spikes and drops; merge what fires into storms; one
    alert per storm when it starts, and one each time it doubles.

    Each brand's advanced series states, its spikes, its storms and their alerts share one
    transaction: states saved without the alert would never fire that storm again. (One per
    brand, so a long first pass over history holds the write lock for one brand at a time.)
    """
    spikes, alerts = runtime.config.spikes, runtime.config.alerts
    with store.transaction():
        store.save_brands([(b.name, b.competitor, b.alerts_on) for b in runtime.config.brands], now=now)
    if not spikes.enabled:
        return []
    settings = spikes.settings()
    known = current_states(store)
    until = window_floor(now - spikes.settle, settings.window)
    fired: list[Fired] = []
    quiet = runtime.config.quiet_brands()  # competitors: their storms are kept (share of voice), not pushed
    for brand in (b.name for b in runtime.config.brands):
        first_pass = series_key(brand, ALL_SOURCES, "mentions") not in known
        # Like posts: a brand's first pass over its history stores old storms quietly (alerts.backfill);
        # after that, a storm older than alerts.max_age (the monitor was down) is stored, not pushed.
        window = alerts.backfill if first_pass else alerts.max_age
        with store.transaction():
            hot: dict[str, dict] = {}
            found = advance(store, [brand], settings, now=now, settle=spikes.settle, history=spikes.history,
                            states=known, hot=hot)
            for item in found:
                log.debug("%s", describe(item).splitlines()[0])
            open_ = [Storm.from_row(row) for row in store.open_storms(brand)]
            queued = []
            for storm in track_storms(store, brand, found, hot.get(brand, {}), settings, until=until, open_=open_):
                what = news(storm, min_excess=settings.min_excess)
                if what and storm.end >= now - window and brand not in quiet:
                    posts = store.mentions_by_key(storm.top)
                    queued.append(storm_alert(storm, what, posts, now=now))
                    log.warning("%s", describe_storm(storm, posts).splitlines()[0])
                    storm.alerts, storm.alerted_posts = storm.alerts + 1, storm.posts
                store.save_storm(storm.to_row())
            enqueue(queued, runtime, store, now=now)
        fired.extend(found)
    return fired


def track_storms(store: Store, brand: str, found: list[Fired], hot: dict, settings: SpikeSettings, *,
                 until: datetime, open_: list[Storm], save: bool = True) -> list[Storm]:
    """Merge what fired into ``brand``'s storms (``open_`` ones continued, new ones started), grow
    them by the windows still in a burst (``hot``), end those quiet for an hour, and count their
    posts. Returns every storm touched or still open."""
    storms = {s.id: s for s in open_}
    storms.update({s.id: s for s in gather(found, open_, window=settings.window)})
    if save:
        for item in found:
            if item.storm:
                store.link_spike(item.series, item.explanation["window"][0], item.storm)
    for storm in storms.values():
        extend(storm, hot, window=settings.window, until=until)
        tally(storm, store.brand_mentions(brand, storm.start, storm.end))
    return sorted(storms.values(), key=lambda s: s.start)


def advance(store: Store, brands: list[str], settings: SpikeSettings, *, now: datetime, settle: timedelta,
            history: timedelta, states: dict[str, dict] | None = None, save: bool = True,
            held: list[Held] | None = None, hot: dict[str, dict] | None = None) -> list[Fired]:
    """Score every window of every brand's series that has settled since the last call.

    ``states`` (series → state) replaces the stored states, for a backtest; with ``save`` False
    nothing is written; ``held`` collects the bursts the storm rule held back; ``hot`` (brand →
    window → measure → [value, expected, z]) the brands' windows in a burst. Returns what fired,
    explained.
    """
    states = current_states(store) if states is None else states
    window = settings.window
    until = window_floor(now - settle, window)
    fired: list[Fired] = []
    for brand in brands:
        cursor = states.get(series_key(brand, ALL_SOURCES, "mentions"))
        if cursor is not None and cursor.get("t"):
            start = from_iso(cursor["t"]) + window
        else:
            first = store.first_published(brand)
            if first is None:
                continue
            start = max(window_floor(first, window), until - history)
        if start >= until:
            continue
        counts = store.window_counts(brand, start, until, window, NEGATIVE)
        fired += score_windows(brand, counts, start=start, until=until, states=states, settings=settings, held=held,
                               hot=None if hot is None else hot.setdefault(brand, {}))
        if save:
            _save_states(store, brand, states, now=now)
    # The series of one brand that fire in one window share its posts and its week before.
    context: dict[tuple[str, datetime], tuple[list[dict], Counter, int]] = {}
    for item in fired:
        key = (item.brand, item.verdict.at)
        if key not in context:
            baseline = store.brand_mentions(item.brand, item.verdict.at - timedelta(days=7), item.verdict.at)
            context[key] = (store.brand_mentions(item.brand, item.verdict.at, item.window_end),
                            _word_counts(r["text"] or "" for r in baseline), len(baseline))
        item.explanation = explain(item, settings, *context[key])
        if save:
            store.save_spike(spike_row(item))
    return fired


class Replay(NamedTuple):
    """One brand's stored history replayed: what fired, the bursts held back, the storms with their posts."""

    fired: list[Fired]
    held: list[Held]
    storms: list[tuple[Storm, list]]


def replay(database: str, brand: str, settings: SpikeSettings, *, end: datetime, history: timedelta) -> Replay:
    """``brand``'s mentions of ``history`` before ``end`` through the spike watch and the storm
    tracker from fresh states, writing nothing (``monitor backtest``). It opens the store itself,
    read-only: brands share nothing, so a backtest replays them in parallel processes."""
    held: list[Held] = []
    hot: dict[str, dict] = {}
    with Store(database, readonly=True) as store:
        fired = advance(store, [brand], settings, now=end, settle=timedelta(0), history=history, states={}, save=False,
                        held=held, hot=hot)
        storms = track_storms(store, brand, fired, hot.get(brand, {}), settings, until=end, open_=[], save=False)
        return Replay(fired, held, [(storm, store.mentions_by_key(storm.top)) for storm in storms])


def current_states(store: Store) -> dict[str, dict]:
    """The stored series states the storm rule can continue. A state an older detector wrote is
    left out, so its brand's series start again from stored history (``spikes.history``), its old
    storms kept quietly as on any first pass."""
    return {key: state for key, state in store.spike_states().items() if is_current(state)}


def _save_states(store: Store, brand: str, states: dict[str, dict], *, now: datetime) -> None:
    """Every series state of ``brand``, in one transaction."""
    with store.transaction():
        for key, state in states.items():
            if key.startswith(f"{brand}|"):
                store.save_spike_state(key, state, now=now)


def digest_alert(store: Store, brand: str, *, now: datetime, period: timedelta = timedelta(days=1)) -> Alert:
    """The daily digest of ``brand`` over the period ending ``now``."""
    top = [j for bucket, speaker in (("assassin", None), ("assassin", "press"), ("advocate", None))
           for j in store.top_mentions(brand, bucket, now - period, now, limit=TOP, speaker=speaker)]
    handled = store.acknowledgements(since=now - period, until=now, brand=brand) if store.buttons_used() else None
    return digest(brand, current=store.bucket_counts(brand, now - period, now),
                  previous=store.bucket_counts(brand, now - 2 * period, now - period), top=top, now=now, period=period,
                  handled=handled)
