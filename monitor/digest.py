"""The daily digest per brand: how the buckets moved, and who to thank or call back.

Counts of advocates, apathetics and assassins over the last period against the one before,
the net score (advocates % minus assassins % of scored mentions) of both, and the top assassins
and advocates by likely reach. It is an alert of kind ``digest``: it goes through the router
like any other (route it with ``kind="digest"``), once per brand and period.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from monitor.models import Alert, format_duration, to_iso
from monitor.store import Store, judged_from_row

TOP = 3


def _counts(store: Store, brand: str, start: datetime, end: datetime) -> dict[str, int]:
    rows = store.db.execute(
        "SELECT m.bucket, count(*) FROM mentions m, json_each(m.brands) b WHERE b.value = ?"
        " AND m.published_at >= ? AND m.published_at < ? GROUP BY m.bucket",
        (brand, to_iso(start), to_iso(end)),
    )
    counts = {"advocate": 0, "apathetic": 0, "assassin": 0, None: 0}
    counts.update({bucket: n for bucket, n in rows})
    return counts


def net_score(counts: dict) -> float | None:
    """Advocates % minus assassins % of scored mentions (None: nothing scored)."""
    scored = counts["advocate"] + counts["apathetic"] + counts["assassin"]
    return round(100.0 * (counts["advocate"] - counts["assassin"]) / scored, 1) if scored else None


def digest(store: Store, brand: str, *, now: datetime, period: timedelta = timedelta(days=1)) -> Alert:
    """The digest alert for ``brand`` over the period ending ``now``."""
    current = _counts(store, brand, now - period, now)
    previous = _counts(store, brand, now - 2 * period, now - period)
    score, before = net_score(current), net_score(previous)

    def change(key: str) -> str:
        delta = current[key] - previous[key]
        return f"{current[key]:,} ({'+' if delta >= 0 else ''}{delta:,})"

    trend = "n/a" if score is None else f"{score:+.1f}" + ("" if before is None else f" (was {before:+.1f})")
    reason = (
        f"last {format_duration(period)}: advocates {change('advocate')}, apathetic {change('apathetic')}, assassins {change('assassin')}"
        f"{', unscored ' + format(current[None], ',') if current[None] else ''}; net score {trend}"
    )
    top = []
    for bucket in ("assassin", "advocate"):
        rows = store.db.query(
            "SELECT m.* FROM mentions m, json_each(m.brands) b WHERE b.value = ? AND m.bucket = ?"
            " AND m.published_at >= ? AND m.published_at < ? ORDER BY m.reach_likely DESC, m.published_at DESC LIMIT ?",
            (brand, bucket, to_iso(now - period), to_iso(now), TOP),
        )
        top.extend(judged_from_row(row) for row in rows)
    return Alert(
        key=f"digest:{brand}:{to_iso(now)[:10]}:{format_duration(period)}", kind="digest", brand=brand, source="all sources",
        severity="info", reason=reason, mentions=tuple(top), created_at=now,
    )
