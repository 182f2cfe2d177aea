"""Silences added with ``monitor silence`` (the config's own live in config.yaml)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.models import to_iso
from monitor.store.codec import _json

if TYPE_CHECKING:
    import sqlite_utils


class SilenceStore:
    """Silences added with ``monitor silence`` (the config's own live in config.yaml). (a part of ``Store``)."""

    db: "sqlite_utils.Database"

    def add_silence(self, matchers: list[str], *, author: str, reason: str, starts_at: datetime, expires_at: datetime,
                    now: datetime) -> int:
        """Store a silence; its id."""
        cursor = self.db.execute(
            "INSERT INTO silences (matchers, author, reason, created_at, starts_at, expires_at) VALUES (?,?,?,?,?,?)",
            (_json(list(matchers)), author, reason, to_iso(now), to_iso(starts_at), to_iso(expires_at)),
        )
        return cursor.lastrowid

    def silences(self, *, now: datetime | None = None) -> list[dict]:
        """Silences (only those not yet expired when ``now`` is given), newest first."""
        sql = "SELECT * FROM silences" + (" WHERE expires_at > ?" if now else "") + " ORDER BY id DESC"
        rows = list(self.db.query(sql, (to_iso(now),) if now else ()))
        for row in rows:
            row["matchers"] = json.loads(row["matchers"])
        return rows

    def expire_silence(self, silence_id: int, *, now: datetime) -> bool:
        """End a silence now; False if there is no such active silence."""
        return bool(self.db.execute(
            "UPDATE silences SET expires_at = ? WHERE id = ? AND expires_at > ?", (to_iso(now), silence_id, to_iso(now))
        ).rowcount)
