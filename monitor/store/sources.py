"""Sources: cursors, validators, successes, failures and their counts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from monitor.models import SourceState, to_iso

if TYPE_CHECKING:
    import sqlite_utils


class SourceStore:
    """Sources: cursors, validators, successes, failures and their counts. (a part of ``Store``)."""

    db: "sqlite_utils.Database"

    def source_row(self, name: str) -> dict | None:
        """The stored state of source ``name``, or None if it never ran."""
        rows = list(self.db.query("SELECT * FROM sources WHERE name = ?", (name,)))
        return rows[0] if rows else None

    def source_state(self, name: str) -> SourceState:
        """Cursor, ETag and Last-Modified to hand the connector."""
        row = self.source_row(name) or {}
        return SourceState(row.get("cursor"), row.get("etag"), row.get("last_modified"))

    def ensure_source(self, name: str, type_: str, *, now: datetime) -> bool:
        """Create the source's row if needed; True if this is its first run."""
        cursor = self.db.execute(
            "INSERT INTO sources (name, type, first_run_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (name, type_, to_iso(now))
        )
        if cursor.rowcount:
            return True
        row = self.source_row(name)
        return row is not None and row["last_success_at"] is None

    def record_success(self, name: str, state: SourceState, *, now: datetime, next_check_at: datetime,
                       warning: str | None = None, skipped: int = 0) -> None:
        """Remember the new cursor/ETag and that the source worked (with what was odd, if anything)."""
        self.db.execute(
            "UPDATE sources SET cursor = ?, etag = ?, last_modified = ?, last_run_at = ?, last_success_at = ?,"
            " error_count = 0, next_check_at = ?, last_warning = ?, runs_total = runs_total + 1,"
            " skipped_total = skipped_total + ? WHERE name = ?",
            (state.cursor, state.etag, state.last_modified, to_iso(now), to_iso(now), to_iso(next_check_at), warning,
             skipped, name),
        )

    def record_wait(self, name: str, warning: str, *, now: datetime, next_check_at: datetime) -> None:
        """Remember a run its host asked to wait out: not a failure (no error counted), the
        source asked again at ``next_check_at``, and why in its warning."""
        self.db.execute(
            "UPDATE sources SET last_run_at = ?, next_check_at = ?, last_warning = ?, runs_total = runs_total + 1"
            " WHERE name = ?", (to_iso(now), to_iso(next_check_at), warning, name))

    def record_failure(self, name: str, error: str, *, now: datetime, next_check_at: datetime) -> int:
        """Remember a failure; return the number of failures in a row."""
        outer = self.db.conn.in_transaction
        row = self.db.execute(
            "UPDATE sources SET last_run_at = ?, last_error = ?, last_error_at = ?, error_count = error_count + 1,"
            " next_check_at = ?, runs_total = runs_total + 1, errors_total = errors_total + 1 WHERE name = ?"
            " RETURNING error_count",
            (to_iso(now), error, to_iso(now), to_iso(next_check_at), name),
        ).fetchone()
        if not outer:  # a row-returning statement is not auto-committed by sqlite-utils
            self.db.conn.commit()
        return row[0] if row else 0

    def sources_status(self) -> list[dict]:
        """Every source row with its stored mention count."""
        return list(self.db.query("SELECT * FROM sources ORDER BY name"))

    def failing_sources(self, *, at_least: int) -> set[str]:
        """Sources that failed at least this many times in a row (and have not succeeded since)."""
        return {name for name, in self.db.execute("SELECT name FROM sources WHERE error_count >= ?", (at_least,))}
