"""Reach that grows: after a source's run, re-read the engagement of its recent mentions.

A Hacker News story stored at 3 points may reach the front page with 400; a reply on Bluesky
may be reposted a thousand times. Each mention is re-read at ``refresh.first`` after it was
published, then at doubling ages until ``refresh.within`` (30m, 1h, 2h … 32h by default): a post
moves most while it is young, so the schedule decays as it ages. A run re-reads what came due
since the source's last re-read: alerting buckets first, then the widest reach, at most
``refresh.max_per_run``; the connector batches them (50 stories a request on Hacker News).

An unchanged mention costs no write. A changed one gets its new metrics and reach and a
``refreshes`` row; a post in an alerting bucket whose reach crosses ``alerts.critical_reach``,
or a story newly on Hacker News' front page, alerts then, once ("now on the front page: …").
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import Mapping, Sequence

from connectors.base import SourceOptions
from monitor.config import Config, ReachFactors
from monitor.errors import ConnectorError
from monitor.judgement.reach import estimate_reach
from monitor.models import Alert, Judged, Refreshed, clean_text, from_iso
from monitor.runtime import Runtime, enqueue
from monitor.store import Store

log = logging.getLogger("monitor")


def due(published: datetime, last: datetime | None, now: datetime, first: timedelta, within: timedelta) -> bool:
    """Whether a re-read point of a post (published + first × 2^k, none past ``within``) fell in
    (last, now]: the source's last re-read came before it and now is after it."""
    age = min(now - published, within)
    if age < first:
        return False
    steps = math.floor(math.log2(age / first) + 1e-9)
    point = published + first * (2 ** steps)
    return last is None or point > last


def merged(stored: Judged, fresh: Refreshed, factors: ReachFactors) -> Judged | None:
    """``stored`` with what the source reports now and the reach that follows from it, None when
    nothing changed (the source's missing values keep the stored ones)."""
    mention = stored.mention
    metrics = {**mention.metrics, **{k: v for k, v in fresh.metrics.items() if v is not None}}
    audience = fresh.audience if fresh.audience is not None else mention.audience
    if metrics == dict(mention.metrics) and audience == mention.audience:
        return None
    mention = mention.evolve(metrics=metrics, audience=audience)
    return Judged(mention, stored.match, stored.score, estimate_reach(mention, factors, bucket=stored.score.bucket))


def _changes(before: Mapping, after: Mapping) -> str:
    """The counts that moved, in words: "points 3 → 400, comments 0 → 120"."""
    moved = [f"{key.replace('_', ' ')} {before.get(key) or 0:,} → {value:,}" for key, value in after.items()
             if isinstance(value, int) and not isinstance(value, bool) and value != before.get(key)]
    return ", ".join(moved[:4])


def reach_alert(before: Judged, after: Judged, config: Config, *, now: datetime) -> Alert | None:
    """The alert a re-read raises: a post in an alerting bucket whose reach crossed
    ``critical_reach``, or that reached Hacker News' front page; else None."""
    bucket = after.score.bucket
    if bucket not in config.alerts.buckets or config.quiet_brands().issuperset(after.match.brands):
        return None
    critical = config.alerts.critical_reach
    crossed = before.reach.high < critical <= after.reach.high
    front = bool(after.mention.metrics.get("front_page")) and not before.mention.metrics.get("front_page")
    if not crossed and not front:
        return None
    m, reach = after.mention, after.reach
    where = "now on the front page" if front else "reach rising"
    moved = _changes(before.mention.metrics, m.metrics)
    reason = (f"{where}: {moved + '; ' if moved else ''}about {reach.likely or reach.high:,} people "
              f"({reach.low:,}–{reach.high:,}; was at most {before.reach.high:,})")
    return Alert(
        key=f"reach:{bucket}:{m.source}:{m.id}",
        kind="assassin" if bucket == "assassin" else "mention",
        brand=after.match.brand,
        source=m.source,
        severity="critical" if reach.high >= critical else "warning",
        reason=reason,
        mentions=(after,),
        created_at=now,
    )


def refresh_source(options: SourceOptions, connector: object, runtime: Runtime, store: Store, *, now: datetime) -> int:
    """Re-read the due mentions of one source (see the module); how many changed. A failure is
    logged and kept on the source's row (``last_refresh_error``), never raised: the run worked."""
    settings = runtime.config.refresh
    reread = getattr(connector, "refresh", None)
    if not settings.enabled or not options.refresh or reread is None:
        return 0
    row = store.source_row(options.name) or {}
    last = from_iso(row.get("refreshed_at"))
    alerting = set(runtime.config.alerts.buckets)
    candidates = [j for j in store.recent_mentions(options.name, now - settings.within, now - settings.first)
                  if due(j.mention.published_at, last, now, settings.first, settings.within)]
    if not candidates:
        return 0
    candidates.sort(key=lambda j: (j.score.bucket not in alerting, -(j.reach.likely or j.reach.high)))
    chosen = candidates[:settings.max_per_run]
    try:
        fresh: dict[str, Refreshed] = reread(options, [j.mention for j in chosen], now=now)
    except ConnectorError as exc:
        log.warning("source %s: re-reading %d mentions failed (due again next run): %s", options.name, len(chosen), exc)
        store.record_refresh_run(options.name, now=now, checked=0, changed=0, error=clean_text(str(exc), width=300))
        return 0
    return _apply(options.name, chosen, fresh, runtime, store, now=now)


def _apply(source: str, chosen: Sequence[Judged], fresh: Mapping[str, Refreshed], runtime: Runtime, store: Store,
           *, now: datetime) -> int:
    """Store what changed, with its alerts and the run's record, in one transaction."""
    config = runtime.config
    changed, alerts = 0, []
    with store.transaction():
        for before in chosen:
            update = fresh.get(before.mention.id)
            after = merged(before, update, config.reach) if update is not None else None
            if after is None:
                continue
            alert = reach_alert(before, after, config, now=now)
            store.save_refresh(before, after, now=now, alerted=alert is not None)
            changed += 1
            if alert is not None:
                alerts.append(alert)
        queued = enqueue(alerts, runtime, store, now=now)
        store.record_refresh_run(source, now=now, checked=len(chosen), changed=changed)
    log.info("source %s: re-read %d recent mentions, %d changed, %d alerts", source, len(chosen), changed, queued)
    return changed
