"""What people did to an alert from Slack: acknowledged it, labelled a post, silenced the brand,
took it on. One row per distinct act, so a click sent twice (a replayed envelope, a double click)
is applied once."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from monitor.models import ACTED_ON, from_iso, to_iso

if TYPE_CHECKING:
    import sqlite_utils

ACTIONS = ("ack", "assign", "label_not", "label_assassin", "silence_2h", "silence_24h")


class ActionStore:
    """Alert actions (a part of ``Store``)."""

    db: "sqlite_utils.Database"

    def record_action(self, notification: str, action: str, *, who: str, at: datetime, receiver: str = "",
                      value: str = "", envelope: str = "") -> bool:
        """Record one act on the notification's alerts; False when it was recorded before (the
        same act with the same value, or the same envelope): the caller then applies nothing."""
        if action not in ACTIONS:
            raise ValueError(f"action {action!r}: use one of {', '.join(ACTIONS)}")
        if envelope and self.db.execute("SELECT 1 FROM alert_actions WHERE envelope = ?", (envelope,)).fetchone():
            return False
        return bool(self.db.execute(
            "INSERT INTO alert_actions (notification, receiver, action, value, who, at, envelope) VALUES (?,?,?,?,?,?,?)"
            " ON CONFLICT (notification, action, value) DO NOTHING",
            (notification, receiver, action, value, who, to_iso(at), envelope or None)).rowcount)

    def notification_has(self, notification: str, receiver: str, post: str = "") -> bool:
        """Whether ``receiver`` sent ``notification`` (and, given ``post`` as ``source:id``, with that post)."""
        source, _, ident = post.partition(":")
        sql = "SELECT 1 FROM alerts WHERE notification = ? AND receiver = ?" + (
            " AND mention_source = ? AND mention_id = ?" if post else "") + " LIMIT 1"
        return self.db.execute(sql, (notification, receiver, *((source, ident) if post else ()))).fetchone() is not None

    def alert_actions(self, notification: str) -> list[dict]:
        """The acts on one notification, oldest first."""
        return list(self.db.query("SELECT * FROM alert_actions WHERE notification = ? ORDER BY at, id", (notification,)))

    def buttons_used(self) -> bool:
        """Whether anyone ever acted on an alert from its buttons (the digest then counts them)."""
        return self.db.execute("SELECT 1 FROM alert_actions LIMIT 1").fetchone() is not None

    def acknowledgements(self, *, since: datetime, until: datetime | None = None,
                         brand: str | None = None) -> tuple[int, int, float | None]:
        """Notifications sent in [since, until) that carry an assassin, hostile coverage or a storm (of ``brand``),
        how many of them were acknowledged, and the median minutes from sending to the first
        acknowledgement."""
        sent = {row["notification"]: from_iso(row["sent_at"]) for row in self.db.query(
            "SELECT notification, MIN(sent_at) AS sent_at FROM alerts WHERE status = 'sent' AND sent_at >= ?"
            f" AND sent_at < ? AND kind IN {ACTED_ON} AND notification IS NOT NULL"
            + (" AND brand = ?" if brand else "") + " GROUP BY notification",
            (to_iso(since), to_iso(until) if until else "9999-12-31T23:59:59Z", *((brand,) if brand else ())))}
        acked = {row["notification"]: from_iso(row["at"]) for row in self.db.query(
            "SELECT notification, MIN(at) AS at FROM alert_actions WHERE action = 'ack' AND at >= ? GROUP BY notification",
            (to_iso(since),)) if row["notification"] in sent}
        waits = sorted((acked[n] - sent[n]).total_seconds() / 60 for n in sent if n in acked)
        median = None
        if waits:
            middle = len(waits) // 2
            median = waits[middle] if len(waits) % 2 else (waits[middle - 1] + waits[middle]) / 2
        return len(sent), len(waits), median
