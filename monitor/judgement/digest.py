"""The daily digest per brand: how the buckets moved, and who to thank or call back.

Counts of advocates, apathetics and assassins over the last period against the one before,
the net score (advocates % minus assassins % of scored mentions) of both, and the top assassins,
the hostile coverage (press articles the call read as an assassin's words) and the advocates by
likely reach. It is an alert of kind ``digest``: it goes through the router
like any other (route it with ``kind="digest"``), once per brand and period.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from monitor.models import Alert, Judged, format_duration, to_iso

TOP = 3


def net_score(counts: dict) -> float | None:
    """Advocates % minus assassins % of scored mentions (None: nothing scored)."""
    scored = counts["advocate"] + counts["apathetic"] + counts["assassin"]
    return round(100.0 * (counts["advocate"] - counts["assassin"]) / scored, 1) if scored else None


def digest(brand: str, *, current: dict, previous: dict, top: list[Judged], now: datetime,
           period: timedelta = timedelta(days=1), handled: tuple[int, int, float | None] | None = None) -> Alert:
    """The digest alert for ``brand`` over the period ending ``now``, from the bucket counts of
    that period and the one before (``store.bucket_counts``) and its top posts by reach; with
    ``handled`` (where the team acts from buttons: alerts sent, acknowledged, the median minutes
    to acknowledge), how the team kept up."""
    score, before = net_score(current), net_score(previous)

    def change(key: str) -> str:
        delta = current[key] - previous[key]
        return f"{current[key]:,} ({'+' if delta >= 0 else ''}{delta:,})"

    trend = "n/a" if score is None else f"{score:+.1f}" + ("" if before is None else f" (was {before:+.1f})")
    reason = (
        f"last {format_duration(period)}: advocates {change('advocate')}, apathetic {change('apathetic')}, assassins {change('assassin')}"
        f"{', unscored ' + format(current[None], ',') if current[None] else ''}; net score {trend}"
    )
    if handled and handled[0]:
        sent, acked, median = handled
        reason += (f"; {sent:,} alert{'s' if sent != 1 else ''}, {acked:,} acknowledged"
                   + (f", median time to acknowledge {median:.0f} min" if median is not None else ""))
    return Alert(
        key=f"digest:{brand}:{to_iso(now)[:10]}:{format_duration(period)}", kind="digest", brand=brand, source="all sources",
        severity="info", reason=reason, mentions=tuple(top), created_at=now,
    )
