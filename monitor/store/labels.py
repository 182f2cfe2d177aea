"""A site's labels: its own call (assassin or not) on stored mentions, which teach the assassin call."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from monitor.models import to_iso

if TYPE_CHECKING:
    import sqlite_utils

LABELS = ("assassin", "not")


class LabelStore:
    """Labels of stored mentions (a part of ``Store``)."""

    db: "sqlite_utils.Database"

    def save_label(self, source: str, id_: str, label: str, *, who: str, at: datetime, note: str = "") -> bool:
        """Label one stored mention (a newer label replaces an older one); False when no such mention is stored."""
        if label not in LABELS:
            raise ValueError(f"label {label!r}: use one of {', '.join(LABELS)}")
        if self.db.execute("SELECT 1 FROM mentions WHERE source = ? AND id = ?", (source, id_)).fetchone() is None:
            return False
        self.db.execute(
            "INSERT INTO labels (mention_source, mention_id, label, who, at, note) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT (mention_source, mention_id) DO UPDATE SET label = excluded.label, who = excluded.who,"
            " at = excluded.at, note = excluded.note",
            (source, id_, label, who, to_iso(at), note),
        )
        return True

    def labelled(self) -> list[dict]:
        """Every labelled mention with what the call reads (title, text, language, brands), oldest label first."""
        return list(self.db.query(
            "SELECT l.mention_source AS source, l.mention_id AS id, l.label, l.who, l.at, l.note, m.title, m.text,"
            " m.language, m.brands, m.metrics FROM labels l JOIN mentions m ON m.source = l.mention_source"
            " AND m.id = l.mention_id ORDER BY l.at, l.mention_source, l.mention_id"
        ))

    def unsure(self, threshold: float, limit: int) -> list[dict]:
        """The unlabelled scored mentions whose assassin_score lies nearest ``threshold``, nearest
        first (newest first among equals): where the call is least sure, a label teaches it most.
        Read outwards from the threshold along the score's index, not by sorting every scored post."""
        return list(self.db.query(
            "SELECT source, id, url, title, text, brands, assassin_score, published_at FROM "
            + NEAREST.format(t="?", n="?") + " c ORDER BY abs(assassin_score - ?), published_at DESC, source, id LIMIT ?",
            (threshold, limit, threshold, limit, threshold, limit),
        ))

    def label_counts(self) -> dict[str, int]:
        """Labels per value."""
        counts = dict.fromkeys(LABELS, 0)
        counts.update(dict(self.db.execute("SELECT label, count(*) FROM labels GROUP BY label").fetchall()))
        return counts


# The unlabelled scored mentions nearest a threshold ({t}), {n} on each side of it (the store's
# ``unsure`` and monitor serve's to_label read the same).
NEAREST = '''(SELECT * FROM (SELECT m.source, m.id, m.url, m.title, m.text, m.brand, m.brands, m.assassin_score, m.published_at
 FROM mentions m WHERE m.assassin_score >= {t} AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.mention_source = m.source
 AND l.mention_id = m.id) ORDER BY m.assassin_score, m.published_at DESC, m.source, m.id LIMIT {n}) above
 UNION ALL SELECT * FROM (SELECT m.source, m.id, m.url, m.title, m.text, m.brand, m.brands, m.assassin_score, m.published_at
 FROM mentions m WHERE m.assassin_score < {t} AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.mention_source = m.source
 AND l.mention_id = m.id) ORDER BY m.assassin_score DESC, m.published_at DESC, m.source, m.id LIMIT {n}) below)'''
