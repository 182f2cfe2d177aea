"""Refreshes: recent mentions to re-read, each re-read that changed a mention's engagement, and
each edit of a review (its words or stars) sent again under the same id."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Callable

from monitor.models import Judged, to_iso
from monitor.store.codec import _json, _strings, judged_from_row, spoken

if TYPE_CHECKING:
    import sqlite_utils


_COLUMNS = ("source, id, url, text, published_at, title, author, author_name, language, audience, metrics, source_type,"
            " brands, {matched} AS matched_keywords, sentiment, bucket, bucket_reasons, unscored_reason, assassin_score, reach_low,"
            " reach_high, reach_method, reach_likely, speaker, read_as")


class RefreshStore:
    """Re-reading recent mentions' engagement (a part of ``Store``)."""

    db: "sqlite_utils.Database"
    _matched: Callable[[str], str]  # MentionStore's

    def recent_mentions(self, source: str, start: datetime, end: datetime) -> list[Judged]:
        """``source``'s mentions published in [start, end), newest first (the refresh's candidates)."""
        rows = self.db.query(  # every column judged_from_row reads; not ``raw``, the largest
            f"SELECT {_COLUMNS.format(matched=self._matched('mentions'))} FROM mentions WHERE published_at >= ? AND published_at < ? AND source = ?"
            " ORDER BY published_at DESC",
            (to_iso(start), to_iso(end), source),
        )
        return [judged_from_row(row) for row in rows]

    def save_refresh(self, before: Judged, after: Judged, *, now: datetime, alerted: bool) -> None:
        """A mention's re-read engagement and reach (``after``), and a ``refreshes`` row saying
        what it was (``before``). Call inside a transaction with the alert it raised, if any."""
        m, reach = after.mention, after.reach
        self.db.execute(
            "UPDATE mentions SET metrics = ?, audience = ?, reach_low = ?, reach_high = ?, reach_likely = ?,"
            " reach_method = ?, refreshed_at = ? WHERE source = ? AND id = ?",
            (_json(dict(m.metrics)), m.audience, reach.low, reach.high, reach.likely, reach.method, to_iso(now),
             m.source, m.id),
        )
        published = to_iso(m.published_at)
        self._roll_up([(before, published, -1), (after, published, 1)])  # the reach it was counted with, then the new
        self.db.execute(
            "INSERT INTO refreshes (source, id, at, metrics_before, metrics_after, audience_before, audience_after,"
            " reach_high_before, reach_low, reach_high, reach_likely, alerted) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (m.source, m.id, to_iso(now), _json(dict(before.mention.metrics)), _json(dict(m.metrics)),
             before.mention.audience, m.audience, before.reach.high, reach.low, reach.high, reach.likely, int(alerted)),
        )

    def save_edit(self, before: Judged, after: Judged, *, now: datetime) -> None:
        """A stored mention sent again with other words or stars (an edited review): the row takes
        the new text, its new judgement and reach (full-text search follows), the rollups move it
        from its old bucket to its new one, and ``edits`` keeps what it said before. Call inside a
        transaction with the alert it raised, if any."""
        m, s, reach = after.mention, after.score, after.reach
        self.db.execute(
            "UPDATE mentions SET title = ?, text = ?, language = ?, metrics = ?, sentiment = ?, bucket = ?,"
            " bucket_reasons = ?, unscored_reason = ?, assassin_score = ?, reach_low = ?, reach_high = ?,"
            " reach_likely = ?, reach_method = ?, raw = ?, speaker = ?, read_as = ? WHERE source = ? AND id = ?",
            (m.title, m.text, m.language, _json(dict(m.metrics)), s.compound, s.bucket, _strings(s.reasons),
             s.unscored_reason, s.assassin_score, reach.low, reach.high, reach.likely, reach.method, _json(m.raw),
             *spoken(s), m.source, m.id),
        )
        published = to_iso(before.mention.published_at)
        self._roll_up([(before, published, -1), (after, published, 1)])
        self.db.execute(
            "INSERT INTO edits (source, id, at, title_before, text_before, rating_before, rating_after, bucket_before,"
            " bucket_after) VALUES (?,?,?,?,?,?,?,?,?)",
            (m.source, m.id, to_iso(now), before.mention.title, before.mention.text, before.mention.metrics.get("rating"),
             m.metrics.get("rating"), before.score.bucket, s.bucket),
        )

    def edits_of(self, source: str, id_: str) -> list[dict]:
        """The recorded edits of one mention, oldest first."""
        return list(self.db.query("SELECT * FROM edits WHERE source = ? AND id = ? ORDER BY at", (source, id_)))

    def record_refresh_run(self, source: str, *, now: datetime, checked: int, changed: int,
                           error: str | None = None) -> None:
        """When ``source``'s mentions were last re-read, how many were looked at and changed (one
        write per run, however many were unchanged); ``error`` when the re-read failed."""
        if error is not None:  # the same mentions are due again next run
            self.db.execute("UPDATE sources SET last_refresh_error = ? WHERE name = ?", (error, source))
            return
        self.db.execute(
            "UPDATE sources SET refreshed_at = ?, refresh_checks_total = refresh_checks_total + ?,"
            " refresh_changes_total = refresh_changes_total + ?, last_refresh_error = NULL WHERE name = ?",
            (to_iso(now), checked, changed, source),
        )

    def refreshes_of(self, source: str, id_: str) -> list[dict]:
        """The recorded refreshes of one mention, oldest first."""
        return list(self.db.query("SELECT * FROM refreshes WHERE source = ? AND id = ? ORDER BY at", (source, id_)))
