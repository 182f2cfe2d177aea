"""Spike detector states, one per series, the spikes that fired, and the storms they make."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.models import to_iso
from monitor.store.codec import _json

if TYPE_CHECKING:
    import sqlite_utils


class SpikeStore:
    """Spike detector states, one per series, and the spikes that fired. (a part of ``Store``)."""

    db: "sqlite_utils.Database"

    def spike_state(self, series: str) -> dict | None:
        """The detector state of one series, or None if it was never fed."""
        row = self.db.execute("SELECT state FROM spike_series WHERE series = ?", (series,)).fetchone()
        return json.loads(row[0]) if row else None

    def spike_states(self) -> dict[str, dict]:
        """Every series' detector state."""
        return {series: json.loads(state) for series, state in self.db.execute("SELECT series, state FROM spike_series")}

    def save_spike_state(self, series: str, state: dict, *, now: datetime | None = None) -> None:
        """Store one series' state (JSON)."""
        self.db.execute(
            "INSERT INTO spike_series (series, state, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (series) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            (series, json.dumps(state), to_iso(now) if now else state.get("t") or ""),
        )

    def save_spike(self, spike: dict) -> bool:
        """Record a fired spike or drop once per (series, window); False if already recorded."""
        columns = ", ".join(spike)
        cursor = self.db.execute(
            f"INSERT INTO spikes ({columns}) VALUES ({','.join('?' * len(spike))}) ON CONFLICT DO NOTHING",
            [_json(v) if isinstance(v, (dict, list)) else v for v in spike.values()],
        )
        return bool(cursor.rowcount)

    def open_storms(self, brand: str) -> list[dict]:
        """The storms of ``brand`` that have not ended, oldest first, JSON columns decoded."""
        rows = self.db.query("SELECT * FROM storms WHERE brand = ? AND ended = 0 ORDER BY started_at", (brand,))
        return [_decoded(row) for row in rows]

    def storms(self, *, since: datetime, brand: str | None = None) -> list[dict]:
        """Storms that started since ``since`` (of one brand, or all), oldest first."""
        sql, args = "SELECT * FROM storms WHERE started_at >= ?", [to_iso(since)]
        if brand is not None:
            sql, args = sql + " AND brand = ?", [*args, brand]
        return [_decoded(row) for row in self.db.query(sql + " ORDER BY started_at, id", args)]

    def save_storm(self, storm: dict) -> None:
        """Insert or replace one storm (its row as ``Storm.to_row`` gives it)."""
        values = {k: _json(v) if isinstance(v, (dict, list)) else v for k, v in storm.items()}
        columns = ", ".join(values)
        updates = ", ".join(f"{c} = excluded.{c}" for c in values if c != "id")
        self.db.execute(f"INSERT INTO storms ({columns}) VALUES ({','.join('?' * len(values))})"
                        f" ON CONFLICT (id) DO UPDATE SET {updates}", list(values.values()))

    def link_spike(self, series: str, window_start: str, storm: str) -> None:
        """Record which storm a fired series joined."""
        self.db.execute("UPDATE spikes SET storm = ? WHERE series = ? AND window_start = ?", (storm, series, window_start))


_STORM_JSON = ("sources", "words", "series", "first", "windows", "methods", "top_posts")


def _decoded(row: dict) -> dict:
    return {k: json.loads(v) if k in _STORM_JSON and v is not None else v for k, v in row.items()}
