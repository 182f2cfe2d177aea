"""Authors over time: each (source, handle) folded mention by mention into a bucket of its own.

One post makes a mention an assassin; a person is one when their recent history says so. Each
author keeps recency-weighted means of compound and assassin score, with weights halving every
``half_life`` of published time, so the latest posts count most and a customer who was helped
moves out of the assassin bucket. The state is O(1) per author and does not depend on the order
mentions arrive in (a late backlog weighs by when it was written, not when it was fetched).
Every bucket change is returned as a transition for ``author_transitions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.judgement.sentiment import bucket_for
from monitor.models import Judged, from_iso, to_iso


@dataclass(frozen=True)
class AuthorRules:
    """How an author's history becomes a bucket (the thresholds are the mentions' own)."""

    half_life: timedelta
    advocate_above: float
    assassin_threshold: float

    def new_row(self, source: str, handle: str) -> dict:
        """The row of an author not seen before (what the store asks when it has none)."""
        return new_author(source, handle)

    def fold(self, row: dict, item: Judged, published: str | None = None) -> "Transition | None":
        """Add ``item`` to the author's ``row`` (in place); the bucket change it caused, if any."""
        return fold(row, item, self, published)


@dataclass(frozen=True)
class Transition:
    """An author moved between buckets; ``from_bucket`` is None the first time they get one."""

    source: str
    handle: str
    at: str
    from_bucket: str | None
    to_bucket: str
    mention_source: str
    mention_id: str


def new_author(source: str, handle: str) -> dict:
    """The row of an author not seen before (the ``authors`` table's columns)."""
    return {
        "source": source, "handle": handle, "display_name": None, "audience": None, "mentions": 0,
        "scored_mentions": 0, "mean_sentiment": None, "latest_sentiment": None, "latest_at": None,
        "weight": 0.0, "weighted_sentiment": None, "weighted_assassin": None, "weighted_at": None,
        "bucket": None, "bucket_since": None, "first_seen": None, "last_seen": None,
    }


def fold(row: dict, item: Judged, rules: AuthorRules, published: str | None = None) -> Transition | None:
    """Add one stored mention to its author's ``row`` (in place); the bucket change it caused, if any.

    ``published`` is ``to_iso(item.mention.published_at)`` when the caller already has it.
    """
    m, score = item.mention, item.score
    published = published or to_iso(m.published_at)
    row["mentions"] += 1
    if m.author_name:
        row["display_name"] = m.author_name
    if m.audience is not None and (row["last_seen"] is None or published >= row["last_seen"] or row["audience"] is None):
        row["audience"] = m.audience
    row["first_seen"] = min(row["first_seen"] or published, published)
    row["last_seen"] = max(row["last_seen"] or published, published)
    if score.compound is None:
        return None  # unscored (another language, no text): counted, but says nothing of the bucket

    n = row["scored_mentions"]
    row["mean_sentiment"] = round(((row["mean_sentiment"] or 0.0) * n + score.compound) / (n + 1), 4)
    row["scored_mentions"] = n + 1
    if row["latest_at"] is None or published >= row["latest_at"]:
        row["latest_sentiment"], row["latest_at"] = score.compound, published

    _add_weighted(row, m.published_at, published, score.compound, score.assassin_score or 0.0, rules.half_life)
    bucket = bucket_for(
        row["weighted_sentiment"], row["weighted_assassin"],
        advocate_above=rules.advocate_above, assassin_threshold=rules.assassin_threshold,
    )
    if bucket == row["bucket"]:
        return None
    before = row["bucket"]
    row["bucket"], row["bucket_since"] = bucket, published
    return Transition(m.source, m.author, published, before, bucket, m.source, m.id)


def _add_weighted(
    row: dict, when: datetime, when_iso: str, compound: float, assassin: float, half_life: timedelta
) -> None:
    """Exponentially decayed means: the state is kept as of the newest post seen (``weighted_at``)."""
    weight = row["weight"] or 0.0
    sums = (
        (row["weighted_sentiment"] or 0.0) * weight,
        (row["weighted_assassin"] or 0.0) * weight,
    )
    anchor = row.get("_anchor") or from_iso(row["weighted_at"])  # _anchor: parsed once while the store keeps the row
    if anchor is None or when >= anchor:
        decay = 0.5 ** ((when - anchor) / half_life) if anchor is not None else 0.0
        weight, own = weight * decay + 1.0, 1.0
        sums = (sums[0] * decay, sums[1] * decay)
        row["weighted_at"], row["_anchor"] = when_iso, when
    else:  # an older post arriving late counts as much as it would have then
        own = 0.5 ** ((anchor - when) / half_life)
        weight += own
    row["weight"] = weight
    row["weighted_sentiment"] = round((sums[0] + own * compound) / weight, 4)
    row["weighted_assassin"] = round((sums[1] + own * assassin) / weight, 4)
