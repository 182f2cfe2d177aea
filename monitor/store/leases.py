"""Leases and workers: which worker holds a source's run or the spike watch, until when, and
which workers are alive (issue 19).

One ``monitor run`` per database needs none; several (on PostgreSQL, or ``monitor once`` from
cron beside ``monitor run``) must not run one source twice at once. A lease is one row, taken by
a single conditional upsert (free, expired, or already ours), so two workers asking together
get one yes; it expires, so a worker that died mid-run gives its work up within the lease.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from monitor.models import to_iso

if TYPE_CHECKING:
    import sqlite_utils


class LeaseStore:
    """Leases and workers' heartbeats (a part of ``Store``)."""

    db: "sqlite_utils.Database"

    def lease(self, name: str, *, owner: str, now: datetime, until: datetime) -> bool:
        """Hold ``name`` for ``owner`` until ``until``: True if it was free, expired or ``owner``'s."""
        cursor = self.db.execute(
            "INSERT INTO leases (name, owner, until) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE"
            " SET owner = excluded.owner, until = excluded.until WHERE leases.until <= ? OR leases.owner = excluded.owner",
            (name, owner, to_iso(until), to_iso(now)))
        return cursor.rowcount == 1

    def renew(self, names: list[str], *, owner: str, until: datetime) -> set[str]:
        """Extend ``owner``'s leases ``names`` to ``until``; the names it still held (a lease
        that expired and was taken meanwhile is another's now, and left to it)."""
        marks = ", ".join("?" * len(names))
        self.db.execute(f"UPDATE leases SET until = ? WHERE owner = ? AND name IN ({marks})", (to_iso(until), owner, *names))
        return {row["name"] for row in self.db.query(f"SELECT name FROM leases WHERE owner = ? AND name IN ({marks})",
                                                     (owner, *names))}

    def release(self, name: str, *, owner: str) -> None:
        """Give ``name`` up, if ``owner`` still holds it."""
        self.db.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    def heartbeat(self, worker: str, *, now: datetime, started_at: datetime) -> None:
        """``worker`` is alive at ``now`` (``monitor run`` says so every delivery round)."""
        self.db.execute(
            "INSERT INTO workers (name, started_at, heartbeat_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
            (worker, to_iso(started_at), to_iso(now)))

    def forget_worker(self, worker: str) -> None:
        """``worker`` stopped cleanly."""
        self.db.execute("DELETE FROM workers WHERE name = ?", (worker,))

    def workers(self, *, since: datetime) -> list[dict]:
        """The workers heard from since ``since``: name, started_at, heartbeat_at, newest first."""
        return list(self.db.query("SELECT name, started_at, heartbeat_at FROM workers WHERE heartbeat_at >= ?"
                                  " ORDER BY heartbeat_at DESC, name", (to_iso(since),)))

    def leases(self, *, now: datetime) -> list[dict]:
        """The leases held at ``now``: name, owner, until."""
        return list(self.db.query("SELECT name, owner, until FROM leases WHERE until > ? ORDER BY name", (to_iso(now),)))
