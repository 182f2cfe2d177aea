"""The alert outbox and notification log: groups, claims, sends, failures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.models import Alert, from_iso, to_iso
from monitor.store.codec import _json, alert_to_dict, row_alert

if TYPE_CHECKING:
    import sqlite_utils


class OutboxStore:
    """The alert outbox and notification log: groups, claims, sends, failures. (a part of ``Store``)."""

    db: "sqlite_utils.Database"

    # --- what SQLite says its own way (pgstore.PgStore says it PostgreSQL's) -----------------
    _FOR_UPDATE = ""  # a write transaction here already holds the file's write lock

    def _later_of(self, a: str, b: str) -> str:
        return f"max({a}, {b})"

    def _after_interval(self, time: str, seconds: str) -> str:
        return f"strftime('%Y-%m-%dT%H:%M:%SZ', {time}, '+' || {seconds} || ' seconds')"

    def _json_field(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"

    def enqueue_alert(
        self, alert: Alert, receiver: str, *, now: datetime, group_key: str | None = None, route: str | None = None,
        group_wait: timedelta = timedelta(0), group_interval: timedelta = timedelta(0),
        repeat_interval: timedelta | None = None,
    ) -> bool:
        """Put an alert in the outbox for ``receiver``, in its group; False if it was not queued
        (already logged, and sent less than ``repeat_interval`` ago, or never to repeat).

        ``route``: the key path of the route that queued it (its group's settings come from there).
        A new group is flushed ``group_wait`` from now; an idle group that notified before,
        ``group_interval`` after its last notification.
        """
        first = alert.mentions[0].mention if alert.mentions else None
        key = f"{receiver}:{alert.key}"
        group = group_key or key
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO alerts (key, receiver, kind, brand, source, severity, reason, mention_source,"
                " mention_id, created_at, next_attempt_at, payload, group_key, labels) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT DO NOTHING",
                (
                    key, receiver, alert.kind, alert.brand, alert.source, alert.severity,
                    alert.reason, first.source if first else None, first.id if first else None,
                    to_iso(now), to_iso(now), _json(alert_to_dict(alert)), group, _json({**alert.labels, "fingerprint": alert.fingerprint}),
                ),
            )
            queued = bool(cursor.rowcount)
            if not queued and repeat_interval is not None:
                # Raised again: it goes out again once repeat_interval has passed since it was sent.
                queued = bool(self.db.execute(
                    "UPDATE alerts SET status = 'pending', next_attempt_at = ?, payload = ?, attempts = 0"
                    " WHERE key = ? AND status = 'sent' AND sent_at <= ?",
                    (to_iso(now), _json(alert_to_dict(alert)), key, to_iso(now - repeat_interval)),
                ).rowcount)
            if queued:
                self.db.execute(
                    "INSERT INTO alert_groups (receiver, group_key, group_interval_s, next_flush_at, route)"
                    " VALUES (?,?,?,?,?)"
                    " ON CONFLICT (receiver, group_key) DO UPDATE SET group_interval_s = excluded.group_interval_s,"
                    " route = coalesce(excluded.route, alert_groups.route),"
                    " next_flush_at = coalesce(alert_groups.next_flush_at, " + self._later_of(
                        "?", f"coalesce({self._after_interval('alert_groups.last_flush_at', 'excluded.group_interval_s')}, ?)")
                    + ")",
                    (receiver, group, int(group_interval.total_seconds()), to_iso(now + group_wait), route, to_iso(now), to_iso(now)),
                )
        return queued

    def row_alert(self, row: dict) -> Alert:
        """The alert an outbox row carries."""
        return row_alert(row)

    def due_groups(self, *, now: datetime | None, limit: int = 1000) -> list[dict]:
        """Groups whose next notification is due (``now`` None: every waiting group), oldest first.

        A group left idle while it still holds pending alerts that are due (a database written
        before idle groups kept their retry time) is due too: no pending alert is ever stranded.
        """
        due = "" if now is None else " AND g.next_flush_at <= :at"  # no time: every waiting group
        pending_due = "" if now is None else " AND a.next_attempt_at <= :at"
        return list(self.db.query(
            f"SELECT * FROM alert_groups g WHERE (g.next_flush_at IS NOT NULL{due})"
            " OR (g.next_flush_at IS NULL AND EXISTS (SELECT 1 FROM alerts a WHERE a.receiver = g.receiver"
            f"   AND a.group_key = g.group_key AND a.status = 'pending'{pending_due}))"
            " ORDER BY g.next_flush_at IS NOT NULL, g.next_flush_at, g.receiver, g.group_key LIMIT :limit",
            {"at": to_iso(now), "limit": limit},
        ))

    def group_pending(self, receiver: str, group_key: str, *, now: datetime | None) -> list[dict]:
        """A group's alerts waiting to go out (and due, if they failed before; ``now`` None: all)."""
        due = "" if now is None else " AND next_attempt_at <= ?"
        return list(self.db.query(
            f"SELECT * FROM alerts WHERE receiver = ? AND group_key = ? AND status = 'pending'{due} ORDER BY created_at, key",
            (receiver, group_key) if now is None else (receiver, group_key, to_iso(now)),
        ))

    def schedule_group(self, receiver: str, group_key: str, *, next_flush_at: datetime | None,
                       flushed_at: datetime | None = None) -> None:
        """Set when a group notifies next and record a notification. None: when its earliest
        pending alert is due (one waiting out a backoff or a Retry-After), else idle until an
        alert joins — so every pending alert keeps a time at which it is tried again."""
        self.db.execute(
            "UPDATE alert_groups SET next_flush_at = coalesce(:next, (SELECT min(a.next_attempt_at) FROM alerts a"
            "   WHERE a.receiver = :receiver AND a.group_key = :group AND a.status = 'pending')),"
            " last_flush_at = coalesce(:flushed, last_flush_at) WHERE receiver = :receiver AND group_key = :group",
            {"next": to_iso(next_flush_at) if next_flush_at else None, "flushed": to_iso(flushed_at) if flushed_at else None,
             "receiver": receiver, "group": group_key},
        )

    def mark_sending(self, keys: list[str], notification: str, *, now: datetime) -> bool:
        """Claim these alerts, before a send, as going out in ``notification`` (its idempotency
        key): all of them, or none (False) if another deliverer, a second process on this
        database, took any of them first. A crash before mark_sent leaves them 'sending', to be
        checked."""
        with self.transaction():
            marks = ",".join("?" * len(keys))
            # SQLite's write lock is the whole file's (BEGIN IMMEDIATE); PostgreSQL locks the rows read.
            pending = len(self.db.execute(f"SELECT key FROM alerts WHERE status = 'pending' AND key IN ({marks})"
                                          f"{self._FOR_UPDATE}", keys).fetchall())
            if pending != len(set(keys)):
                return False
            self.db.conn.executemany(
                "UPDATE alerts SET status = 'sending', notification = ?, next_attempt_at = ? WHERE key = ?",
                [(notification, to_iso(now), key) for key in keys],
            )
        return True

    def stale_sending(self, *, before: datetime) -> list[dict]:
        """Alerts left 'sending' since before ``before``: their process died mid-send."""
        return list(self.db.query(
            "SELECT * FROM alerts WHERE status = 'sending' AND next_attempt_at <= ? ORDER BY notification, key",
            (to_iso(before),),
        ))

    def undelivered(self, *, limit: int = 5) -> list[dict]:
        """The latest alerts that could not be delivered ('failed') or may not have been
        ('unconfirmed'): receiver, status, last_error."""
        return list(self.db.query(
            "SELECT receiver, status, last_error FROM alerts WHERE status IN ('failed', 'unconfirmed')"
            " ORDER BY created_at DESC LIMIT ?", (limit,),
        ))

    def recently_sent(self, kind: str, *, since: datetime) -> dict[tuple[str, str], list[tuple]]:
        """(receiver, brand) of ``kind`` alerts sent since ``since`` (what is still firing), each with
        the periods those alerts are about ((None, None) for an alert that names none)."""
        firing: dict[tuple[str, str], list[tuple]] = {}
        for receiver, brand, starts, ends in self.db.execute(
            f"SELECT receiver, brand, {self._json_field('payload', 'starts_at')}, {self._json_field('payload', 'ends_at')}"
            " FROM alerts WHERE kind = ? AND status = 'sent' AND sent_at >= ?", (kind, to_iso(since))
        ):
            firing.setdefault((receiver, brand), []).append((from_iso(starts), from_iso(ends)))
        return firing

    def pending_alerts(self, receiver: str, *, kind: str, brand: str) -> list[dict]:
        """Alerts of one kind and brand waiting for ``receiver``, in any group."""
        return list(self.db.query(
            "SELECT * FROM alerts WHERE receiver = ? AND kind = ? AND brand = ? AND status = 'pending' ORDER BY created_at, key",
            (receiver, kind, brand),
        ))

    def mark_unconfirmed(self, key: str, why: str) -> None:
        """Log a notification that may or may not have gone out (a crash mid-send, a receiver that
        cannot be asked): not sent again, shown by ``monitor status``."""
        self.db.execute("UPDATE alerts SET status = 'unconfirmed', last_error = ? WHERE key = ?", (why, key))

    def mark_inhibited(self, key: str, why: str) -> None:
        """Log a notification absorbed by a firing alert (Alertmanager's inhibition)."""
        self.db.execute("UPDATE alerts SET status = 'inhibited', last_error = ? WHERE key = ?", (why, key))

    def set_thread(self, receiver: str, group_key: str, ref: str, *, now: datetime) -> None:
        """Remember the message a group's later notifications reply to."""
        self.db.execute(
            "UPDATE alert_groups SET thread_ref = ?, thread_at = ? WHERE receiver = ? AND group_key = ?",
            (ref, to_iso(now), receiver, group_key),
        )

    def mark_silenced(self, key: str, silence_id: int) -> None:
        """Log a notification held back by a silence."""
        self.db.execute(
            "UPDATE alerts SET status = 'silenced', last_error = ? WHERE key = ?", (f"silenced by silence {silence_id}", key)
        )

    def mark_sent(self, key: str, *, now: datetime) -> None:
        """Log a notification as delivered (whatever its state: pending, or sending before a crash)."""
        self.db.execute(
            "UPDATE alerts SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE key = ?",
            (to_iso(now), key),
        )

    def mark_retry(self, key: str, error: str, *, now: datetime, retry_at: datetime) -> None:
        """Log a failed attempt that will be retried at ``retry_at`` (pending again); also how an
        alert a crash left 'sending', that did not go out, is put back."""
        self.db.execute(
            "UPDATE alerts SET status = 'pending', attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE key = ?",
            (error, to_iso(retry_at), key),
        )

    def mark_failed(self, key: str, error: str, *, now: datetime) -> None:
        """Give a notification up as failed: retrying cannot fix it (shown by ``monitor status``)."""
        self.db.execute(
            "UPDATE alerts SET status = 'failed', attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE key = ?",
            (error, to_iso(now), key),
        )

    def outbox_summary(self, *, failed_since: datetime | None = None) -> list[dict]:
        """Per receiver: alerts by status (pending, sending, sent, …), the oldest pending one's
        creation time, and the alerts that failed for good (created since ``failed_since``) with
        the latest one's error."""
        rows: dict[str, dict] = {}
        for receiver, status, count, oldest in self.db.execute(
                "SELECT receiver, status, count(*), min(created_at) FROM alerts GROUP BY receiver, status"):
            row = rows.setdefault(receiver, {"receiver": receiver, "pending": 0, "failed": 0, "oldest_pending_at": None})
            row[status] = count
            if status == "pending":
                row["oldest_pending_at"] = oldest
        for row in rows.values():
            row["failed_total"], row["failed"] = row["failed"], 0
        for receiver, count, error in self.db.execute(
                "SELECT receiver, count(*), (SELECT last_error FROM alerts b WHERE b.receiver = a.receiver AND"
                " b.status = 'failed' ORDER BY created_at DESC LIMIT 1) FROM alerts a WHERE status = 'failed'"
                " AND created_at >= ? GROUP BY receiver", (to_iso(failed_since) if failed_since else "",)):
            rows[receiver].update(failed=count, last_error=error)
        return sorted(rows.values(), key=lambda r: r["receiver"])

    def alert_counts(self) -> dict[str, int]:
        """Notifications by status."""
        return {row["status"]: row["n"] for row in self.db.query("SELECT status, count(*) AS n FROM alerts GROUP BY status")}
