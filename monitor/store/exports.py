"""Exports: a table's rows for a period and filters, streamed from the cursor (a million rows are
never held in memory)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Callable, Iterator

from monitor.models import to_iso

if TYPE_CHECKING:
    import sqlite_utils

# What each export holds (never the raw payloads or the outbox's internals), the column its
# period filters on, and whether it has a brand and a bucket to filter on.
EXPORTS = {
    "mentions": ("source, id, published_at, fetched_at, brand, brands, {matched} AS matched_keywords, bucket, speaker, read_as,"
                 " sentiment, assassin_score,"
                 " bucket_reasons, reach_low, reach_likely, reach_high, reach_method, author, author_name, audience,"
                 " language, title, text, url, metrics", "published_at", True, True),
    "authors": ("source, handle, display_name, audience, mentions, scored_mentions, mean_sentiment, latest_sentiment,"
                " latest_at, weighted_sentiment, weighted_assassin, bucket, bucket_since, first_seen, last_seen",
                "last_seen", False, True),
    "spikes": ("id, series, brand, source, measure, kind, window_start, window_end, observed, expected, band_low, band_high,"
               " z, confidence, method, explanation, storm", "window_start", True, False),
    "alerts": ("key, receiver, kind, brand, source, severity, reason, mention_source, mention_id, status, created_at,"
               " attempts, sent_at, last_error", "created_at", True, False),
}


def export_columns(kind: str) -> list[str]:
    """The columns an export of ``kind`` writes, in order."""
    return [c.strip().rpartition(" AS ")[2] for c in EXPORTS[kind][0].split(",")]


class ExportStore:
    """Streaming exports (a part of ``Store``)."""

    db: "sqlite_utils.Database"
    _matched: Callable[[str], str]  # MentionStore's

    def export(self, kind: str, *, since: datetime | None = None, until: datetime | None = None,
               brand: str | None = None, bucket: str | None = None) -> Iterator[dict]:
        """``kind``'s rows (``EXPORTS``) in the period, oldest first, filtered; ValueError names
        what a kind cannot be filtered on."""
        if kind not in EXPORTS:
            raise ValueError(f"export {kind!r}: use one of {', '.join(EXPORTS)}")
        columns, when, has_brand, has_bucket = EXPORTS[kind]
        if brand is not None and not has_brand:
            raise ValueError(f"{kind} have no brand: export them without --brand")
        if bucket is not None and not has_bucket:
            raise ValueError(f"{kind} have no bucket: export them without --bucket")
        tests, params = [], []
        if since is not None:
            tests.append(f"{when} >= ?")
            params.append(to_iso(since))
        if until is not None:
            tests.append(f"{when} < ?")
            params.append(to_iso(until))
        if brand is not None:
            tests.append(self._names_brand("mentions", any_case=True) if kind == "mentions" else self._same_text("brand"))
            params.append(brand)
        if bucket is not None:
            tests.append("bucket IS NULL" if bucket == "unscored" else "bucket = ?")
            params += [] if bucket == "unscored" else [bucket]
        where = (" WHERE " + " AND ".join(tests)) if tests else ""
        columns = columns.format(matched=self._matched("mentions")) if kind == "mentions" else columns
        return self.db.query(f"SELECT {columns} FROM {kind}{where} ORDER BY {when}", params)
