"""What the dashboard and the report read: per-day and per-source totals from the rollups (small
at any size), distinct texts with their copies counted, and the alerts the team acted on."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Sequence

from monitor.models import ACTED_ON, to_iso
from monitor.store.mentions import SPOKEN_BY

if TYPE_CHECKING:
    import sqlite_utils

BUCKET_SUMS = (
    "sum(mentions) AS mentions,"
    " sum(CASE WHEN bucket = 'advocate' THEN mentions ELSE 0 END) AS advocates,"
    " sum(CASE WHEN bucket = 'apathetic' THEN mentions ELSE 0 END) AS apathetics,"
    " sum(CASE WHEN bucket = 'assassin' THEN mentions ELSE 0 END) AS assassins,"
    " sum(CASE WHEN bucket = '' THEN mentions ELSE 0 END) AS unscored,"
    " sum(CASE WHEN bucket = 'assassin' THEN reach_likely ELSE 0 END) AS assassin_reach"
)


class DashboardStore:
    """The dashboard's reads (a part of ``Store``)."""

    db: "sqlite_utils.Database"

    def save_brands(self, brands: Sequence[tuple[str, bool, bool]], *, now: datetime) -> None:
        """The watched brands as the config says them now: (name, competitor, alerting) each. A
        brand no longer watched keeps its row (its mentions are still stored) until it is named again."""
        kept = {(r["name"], bool(r["competitor"]), bool(r["alerting"])) for r in self.db.query("SELECT * FROM brands")}
        changed = [b for b in brands if (b[0], bool(b[1]), bool(b[2])) not in kept]
        if changed:
            self.db.conn.executemany(
                "INSERT INTO brands (name, competitor, alerting, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (name)"
                " DO UPDATE SET competitor = excluded.competitor, alerting = excluded.alerting, updated_at = excluded.updated_at",
                [(name, int(competitor), int(alerting), to_iso(now)) for name, competitor, alerting in changed])

    def competitor_names(self) -> list[str]:
        """The brands the config last called competitors."""
        return [row[0] for row in self.db.execute("SELECT name FROM brands WHERE competitor = 1 ORDER BY name")]

    def source_names(self) -> list[str]:
        """Every source the store has mentions from (the rollups: a few hundred rows)."""
        return [row[0] for row in self.db.execute("SELECT DISTINCT source FROM rollups ORDER BY source")]

    def voice_days(self, start: datetime, end: datetime, *, source: str | None = None) -> list[dict]:
        """Every brand's mentions per bucket and its assassins' likely reach, per UTC day from
        ``start``'s to ``end``'s (one ``source``, or all), by brand then day."""
        return list(self.db.query(
            f"SELECT brand, day, {BUCKET_SUMS} FROM rollups WHERE day >= ? AND day <= ? AND (? = '' OR source = ?)"
            " GROUP BY brand, day ORDER BY brand, day",
            (to_iso(start)[:10], to_iso(end)[:10], source or "", source or ""),
        ))

    def source_totals(self, start: datetime, end: datetime, *, brands: Sequence[str]) -> list[dict]:
        """Mentions per source and bucket of ``brands`` over the days from ``start``'s to ``end``'s,
        busiest source first."""
        marks = ",".join("?" * len(brands)) or "NULL"
        return list(self.db.query(
            f"SELECT source, {BUCKET_SUMS} FROM rollups WHERE day >= ? AND day <= ? AND brand IN ({marks})"
            " GROUP BY source ORDER BY mentions DESC, source",
            (to_iso(start)[:10], to_iso(end)[:10], *brands),
        ))

    def _brands_test(self, brands: Sequence[str]) -> tuple[str, list[str]]:
        """A test that the mention names one brand (any of its brands), or that its first brand is
        one of several (the across-brands view), and its arguments."""
        if len(brands) == 1:
            return self._names_brand("m"), list(brands)  # type: ignore[attr-defined]
        return f"m.brand IN ({','.join('?' * len(brands)) or 'NULL'})", list(brands)

    def top_texts(self, bucket: str, start: datetime, end: datetime, *, brands: Sequence[str],
                  source: str | None = None, limit: int = 10, speaker: str | None = None) -> list[dict]:
        """The texts said in ``bucket`` in [start, end) of ``brands`` (with ``speaker``, ``press`` or
        ``brand``: that speaker's texts the call read as ``bucket``, hostile coverage for one), one
        row per distinct text (a copied or spammed post counted once, with its ``copies``), widest
        likely reach first: the widest copy's source, author, time, URL and reach.

        The widest posts are read first (a top-N sort, not a sort of every text), more of them
        while copies crowd out distinct texts; then the chosen texts' copies are counted."""
        brand_test, brand_args = self._brands_test(brands)
        said = SPOKEN_BY if speaker else "m.bucket = ?"
        where = (f"{said} AND m.published_at >= ? AND m.published_at < ? AND {brand_test} AND (? = '' OR m.source = ?)")
        args = [*((speaker,) if speaker else ()), bucket, to_iso(start), to_iso(end), *brand_args, source or "", source or ""]
        chosen: dict[str, dict] = {}
        wanted = limit * 20
        while True:
            rows = list(self.db.query(  # the widest rows' keys first: their texts are read for those alone
                "SELECT coalesce(nullif(m.title, ''), m.text) AS said, m.reach_likely, m.reach_low, m.reach_high, m.source,"
                " m.author, m.published_at, m.url FROM (SELECT m.source AS s, m.id AS i, m.reach_likely AS r,"
                f" m.published_at AS p FROM mentions m WHERE {where} ORDER BY m.reach_likely DESC, m.published_at DESC"
                " LIMIT ?) w JOIN mentions m ON m.source = w.s AND m.id = w.i ORDER BY w.r DESC, w.p DESC", (*args, wanted)))
            for row in rows:
                if row["said"] not in chosen and len(chosen) < limit:
                    chosen[row["said"]] = row
            if len(chosen) >= limit or len(rows) < wanted:
                break
            chosen, wanted = {}, wanted * 8  # copies crowded the widest posts: read further down
        if not chosen:
            return []
        marks = ",".join("?" * len(chosen))
        copies = dict(self.db.execute(
            f"SELECT coalesce(nullif(m.title, ''), m.text) AS said, count(*) FROM mentions m WHERE {where}"
            f" AND coalesce(nullif(m.title, ''), m.text) IN ({marks}) GROUP BY said", (*args, *chosen)).fetchall())
        return [{**row, "copies": copies.get(said, 1)} for said, row in chosen.items()]

    def widest_post(self, start: datetime, end: datetime, *, bucket: str, brands: Sequence[str],
                    source: str | None = None) -> dict | None:
        """The post of ``brands`` in ``bucket`` with the widest likely reach in [start, end): what
        makes a day's reach stand out."""
        brand_test, brand_args = self._brands_test(brands)
        return next(iter(self.db.query(
            "SELECT m.source, m.author, m.published_at, m.reach_likely, coalesce(nullif(m.title, ''), m.text) AS said,"
            f" m.url FROM mentions m WHERE m.bucket = ? AND m.published_at >= ? AND m.published_at < ? AND {brand_test}"
            " AND (? = '' OR m.source = ?) ORDER BY m.reach_likely DESC LIMIT 1",
            (bucket, to_iso(start), to_iso(end), *brand_args, source or "", source or ""),
        )), None)

    def acted_alerts(self, start: datetime, *, brands: Sequence[str], limit: int = 20) -> list[dict]:
        """The notifications sent since ``start`` (assassins, storms, reach), newest first, with
        who acknowledged each from Slack and when (None: nobody yet)."""
        return list(self.db.query(
            "SELECT a.notification, min(a.brand) AS brand, min(a.kind) AS kind, min(a.sent_at) AS sent_at,"
            " min(a.reason) AS reason, count(*) AS alerts,"
            " (SELECT x.who FROM alert_actions x WHERE x.notification = a.notification AND x.action = 'ack'"
            "  ORDER BY x.at LIMIT 1) AS acknowledged_by,"
            " (SELECT min(x.at) FROM alert_actions x WHERE x.notification = a.notification AND x.action = 'ack')"
            " AS acknowledged_at"
            f" FROM alerts a WHERE a.status = 'sent' AND a.kind IN {ACTED_ON} AND a.sent_at >= ?"
            f" AND a.brand IN ({','.join('?' * len(brands)) or 'NULL'})"
            " AND a.notification IS NOT NULL GROUP BY a.notification ORDER BY sent_at DESC LIMIT ?",
            (to_iso(start), *brands, limit),
        ))
