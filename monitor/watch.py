"""The watches over stored mentions: the spike watch (each brand's settled windows scored for
spikes and drops, one alert per brand, kind and window; ``monitor backtest`` replays it) and the
daily digest. They read and write the store; what they compute is ``series``, ``spikes`` and
``digest``, which do no I/O."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from monitor.judgement.digest import TOP, digest
from monitor.judgement.series import (
    ALL_SOURCES,
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
from monitor.judgement.spikes import SpikeSettings
from monitor.models import Alert, from_iso
from monitor.runtime import Runtime, enqueue
from monitor.store import Store

log = logging.getLogger("monitor")


def watch_series(runtime: Runtime, store: Store, *, now: datetime) -> list[Fired]:
    """Score the brands' settled windows for spikes and drops; one alert per brand, kind and window.

    Each brand's advanced series states, its spikes and their alerts share one transaction:
    states saved without the alert would never fire that storm again. (One per brand, so a
    long first pass over history holds the write lock for one brand at a time.)
    """
    spikes, alerts = runtime.config.spikes, runtime.config.alerts
    if not spikes.enabled:
        return []
    settings = spikes.settings()
    known = store.spike_states()
    fired: list[Fired] = []
    for brand in (b.name for b in runtime.config.brands):
        first_pass = series_key(brand, ALL_SOURCES, "mentions") not in known
        # Like posts: a brand's first pass over its history stores old spikes quietly (alerts.backfill);
        # after that, a spike older than alerts.max_age (the monitor was down) is stored, not pushed.
        window = alerts.backfill if first_pass else alerts.max_age
        with store.transaction():
            found = advance(store, [brand], settings, now=now, settle=spikes.settle, history=spikes.history, states=known)
            storms: dict[tuple, list[Fired]] = {}
            for item in found:
                log.warning("%s", describe(item).splitlines()[0])
                # Brand-level spikes and drops; a drop on one source too (a broken connector shows there).
                if item.window_end >= now - window and (item.source == ALL_SOURCES or item.verdict.kind == "drop"):
                    storms.setdefault((item.source, item.verdict.kind, item.verdict.at), []).append(item)
            enqueue([spike_alert(items, now=now) for items in storms.values()], runtime, store, now=now)
        fired.extend(found)
    return fired


def spike_alert(items: list[Fired], *, now: datetime) -> Alert:
    """One alert for a brand's spike (or drop) in one window, however many of its series fired:
    each series' explanation is part of the reason."""
    first = items[0]
    e = first.explanation
    parts = [f"{item.explanation['summary']} (z {item.verdict.z:+.1f})" for item in items]
    reason = "; ".join(parts) + f". Method: {e['method']}"
    if e["words"]:
        reason += f". Words: {', '.join(e['words'])}"
    if e["sources"]:
        reason += ". Sources: " + ", ".join(f"{s} {share:.0%}" for s, share in e["sources"].items())
    bad = {"negative", "assassins", "negative_reach"}
    return Alert(
        key=f"{first.verdict.kind}:{first.brand}:{first.source}:{e['window'][0]}",
        kind=first.verdict.kind or "spike",
        brand=first.brand,
        source="all sources" if first.source == ALL_SOURCES else first.source,
        severity="critical" if first.verdict.kind == "spike" and bad & {i.measure for i in items} else "warning",
        reason=reason,
        created_at=now,
    )


def advance(store: Store, brands: list[str], settings: SpikeSettings, *, now: datetime, settle: timedelta,
            history: timedelta, states: dict[str, dict] | None = None, save: bool = True,
            held: list[Held] | None = None) -> list[Fired]:
    """Score every window of every brand's series that has settled since the last call.

    ``states`` (series → state) replaces the stored states, for a backtest; with ``save`` False
    nothing is written; ``held`` collects the bursts the novelty bar held back. Returns what
    fired, explained.
    """
    states = store.spike_states() if states is None else states
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
        rows = store.brand_mentions(brand, start, until)
        fired += score_windows(brand, rows, start=start, until=until, states=states, settings=settings, held=held)
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


def _save_states(store: Store, brand: str, states: dict[str, dict], *, now: datetime) -> None:
    """Every series state of ``brand``, in one transaction."""
    with store.transaction():
        for key, state in states.items():
            if key.startswith(f"{brand}|"):
                store.save_spike_state(key, state, now=now)


def digest_alert(store: Store, brand: str, *, now: datetime, period: timedelta = timedelta(days=1)) -> Alert:
    """The daily digest of ``brand`` over the period ending ``now``."""
    top = [j for bucket in ("assassin", "advocate") for j in store.top_mentions(brand, bucket, now - period, now, limit=TOP)]
    return digest(brand, current=store.bucket_counts(brand, now - period, now),
                  previous=store.bucket_counts(brand, now - 2 * period, now - period), top=top, now=now, period=period)
