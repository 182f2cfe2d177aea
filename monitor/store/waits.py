"""Waits: a host or a receiver that asked the monitor to wait (a 429's Retry-After, a spent
quota), until when and why. Kept in the store, so what one run learnt holds for the next: a cron
job of ``monitor once`` every few seconds waits as asked, and so do the other workers."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from monitor.models import from_iso, to_iso

if TYPE_CHECKING:
    import sqlite_utils


class WaitStore:
    """Waits (a part of ``Store``): names are ``host:<host>`` and ``receiver:<name>``."""

    db: "sqlite_utils.Database"

    def save_wait(self, name: str, *, until: datetime, reason: str = "") -> None:
        """Wait on ``name`` until ``until`` (a later wait already kept stands)."""
        self.db.execute(
            "INSERT INTO waits (name, until, reason) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE"
            " SET until = excluded.until, reason = excluded.reason WHERE waits.until < excluded.until",
            (name, to_iso(until), reason))

    def waits(self, *, now: datetime, prefix: str = "") -> dict[str, tuple[datetime, str]]:
        """The waits still running at ``now`` (those of ``prefix``), name → (until, reason)."""
        rows = self.db.query("SELECT name, until, reason FROM waits WHERE until > ? AND name LIKE ?",
                             (to_iso(now), prefix + "%"))
        return {row["name"]: (from_iso(row["until"]), row["reason"] or "") for row in rows}
