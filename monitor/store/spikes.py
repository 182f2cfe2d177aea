"""Spike detector states, one per series, and the spikes that fired."""

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
            f"INSERT OR IGNORE INTO spikes ({columns}) VALUES ({','.join('?' * len(spike))})",
            [_json(v) if isinstance(v, (dict, list)) else v for v in spike.values()],
        )
        return bool(cursor.rowcount)
