"""The spike watch: each brand's settled windows scored for spikes and drops, one alert per
brand, kind and window."""

from __future__ import annotations

import logging
from datetime import datetime

from monitor.models import Alert
from monitor.runtime import Runtime, enqueue
from monitor.series import ALL_SOURCES, Fired, advance, describe, series_key
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
