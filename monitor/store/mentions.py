"""Mentions: what is stored already, storing a page of new ones, full-text search."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Iterable

from monitor.models import Judged, from_iso, to_iso
from monitor.store.authors import AuthorFolder
from monitor.store.codec import _row, judged_from_row

if TYPE_CHECKING:
    import sqlite_utils


SEARCH_COLUMNS = ("m.source, m.id, m.published_at, m.brand, m.brands, m.bucket, m.speaker, m.read_as, m.sentiment,"
                  " m.author, m.title, m.text, m.url, m.reach_low, m.reach_likely, m.reach_high")  # what a search returns
# A speaker's posts the call read as a bucket (``speaker``, then ``read_as``; the partial index mentions_speaker).
# Authors' moves a PR team reads first: who turned assassin, then lost advocates, then the loudest, then the newest
# (the audience's NULL read as 0: PostgreSQL sorts NULL first in DESC).
MOVES_FIRST = ("(to_bucket = 'assassin') DESC, (from_bucket = 'advocate') DESC, coalesce(audience, 0) DESC,"
               " at DESC")
SPOKEN_BY = "m.speaker = ? AND m.read_as = ?"
SEARCH_AMONG = 10_000  # matches ranked by default: the newest this many


class MentionStore:
    """Mentions: what is stored already, storing a page of new ones, full-text search. (a part of ``Store``)."""

    db: "sqlite_utils.Database"

    # --- what SQLite says its own way (pgstore.PgStore says it PostgreSQL's) -----------------
    def _each_brand(self, alias: str) -> str:
        """A FROM item giving each brand of ``alias``'s mention as ``b.value``."""
        return f"json_each({alias}.brands) b"

    def _names_brand(self, alias: str, *, any_case: bool = False) -> str:
        """A test that ``alias``'s mention names the brand bound to its one ``?``."""
        return f"EXISTS (SELECT 1 FROM json_each({alias}.brands) WHERE value = ?{' COLLATE NOCASE' if any_case else ''})"

    def _same_text(self, column: str) -> str:
        """``column`` equal to the one ``?``, in any case."""
        return f"{column} = ? COLLATE NOCASE"

    def _window_of(self, column: str) -> str:
        """The number of the clock-aligned window holding ``column``'s time (its length in seconds the one ``?``)."""
        return f"CAST(strftime('%s', {column}) AS INTEGER) / ?"

    def _matched(self, alias: str) -> str:
        """The JSON array of the texts of the rules ``alias``'s mention matched, in order."""
        return (f"(SELECT coalesce(json_group_array(rule), '[]') FROM (SELECT r.rule FROM rule_sets s, json_each(s.rule_ids) j"
                f" JOIN rules r ON r.id = j.value WHERE s.id = {alias}.rule_set ORDER BY j.key))")

    def _last_row(self) -> int | None:
        """Where the mentions stored next will start (for ``_index_text``)."""
        return self.db.execute("SELECT coalesce(max(rowid), 0) FROM mentions").fetchone()[0]

    def _index_text(self, after: int | None) -> None:
        """Index the mentions stored after ``after`` for full-text search, in one statement."""
        self.db.execute(
            "INSERT INTO mentions_fts (rowid, title, text) SELECT rowid, title, text FROM mentions WHERE rowid > ?", (after,))

    def known_ids(self, source: str, ids: list[str]) -> set[str]:
        """Which of ``ids`` are already stored for ``source``."""
        known: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(f"SELECT id FROM mentions WHERE source = ? AND id IN ({marks})", [source, *chunk])
            known.update(row[0] for row in rows)
        return known

    def save_mentions(
        self, judged: list[Judged], *, fetched_at: datetime, authors: AuthorFolder | None = None
    ) -> list[Judged]:
        """Store mentions not stored yet; return exactly those (the store decides what is new).

        The check, the insert, the full-text indexing and (with ``authors``) the authors' update
        share one immediate transaction, so no other writer can slip the same mention in between,
        and a crash leaves all of it or none. The rows go in with one ``executemany``.
        """
        fetched = to_iso(fetched_at)
        with self.transaction():
            last_rowid = self._last_row()
            known: set[tuple[str, str]] = set()
            for source in {item.mention.source for item in judged}:
                ids = [item.mention.id for item in judged if item.mention.source == source]
                known.update((source, ident) for ident in self.known_ids(source, ids))
            new = []
            for item in judged:
                key = (item.mention.source, item.mention.id)
                if key not in known:
                    known.add(key)
                    new.append(item)
            published = [to_iso(item.mention.published_at) for item in new]
            rule_ids = self._ids_of("rules", "rule", {rule for item in new for rule in item.match.keywords},
                                    first_matched_at=fetched)
            lists = {keywords: "[" + ",".join(str(rule_ids[k]) for k in keywords) + "]"
                     for keywords in {item.match.keywords for item in new} if keywords}
            rule_sets = self._ids_of("rule_sets", "rule_ids", set(lists.values()))
            sets = {keywords: rule_sets[text] for keywords, text in lists.items()}
            self.db.conn.executemany(
                "INSERT INTO mentions (source, id, source_type, url, author, author_name, title,"
                " text, published_at, fetched_at, brand, brands, rule_set, language, sentiment,"
                " bucket, bucket_reasons, unscored_reason, audience, metrics, reach_low, reach_high,"
                " reach_method, raw, assassin_score, reach_likely, speaker, read_as)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                [_row(item, fetched, when, sets) for item, when in zip(new, published)],
            )
            self._index_text(last_rowid)
            per_source: dict[str, list[str]] = {}
            for item, when in zip(new, published):
                per_source.setdefault(item.mention.source, []).append(when)
            for source, times in per_source.items():
                self.db.execute(
                    "UPDATE sources SET mentions_stored = mentions_stored + :count,"
                    " first_published_at = CASE WHEN first_published_at <= :first THEN first_published_at ELSE :first END,"
                    " last_published_at = CASE WHEN last_published_at >= :last THEN last_published_at ELSE :last END"
                    " WHERE name = :source",
                    {"count": len(times), "first": min(times), "last": max(times), "source": source},
                )
            self._roll_up((item, when, 1) for item, when in zip(new, published))
            if authors is not None:
                self._update_authors(list(zip(new, published)), authors)
        return new

    def _ids_of(self, table: str, key: str, values: set[str], **more: str) -> dict[str, int]:
        """Each of ``values``' id in ``table`` (the ``rules`` by text, the ``rule_sets`` by list),
        the ones never stored before added with ``more`` columns (inside the caller's transaction:
        a rolled-back page leaves no id behind, so none is cached)."""
        found = self._id_rows(table, key, sorted(values))
        missing = sorted(values - found.keys())
        if missing:
            columns = ", ".join((key, *more))
            self.db.conn.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * (1 + len(more)))}) ON CONFLICT ({key}) DO NOTHING",
                [(value, *more.values()) for value in missing])
            found.update(self._id_rows(table, key, missing))
        return found

    def _id_rows(self, table: str, key: str, values: list[str]) -> dict[str, int]:
        """The ids of those of ``values`` that ``table`` holds, 500 a query."""
        found: dict[str, int] = {}
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            found.update(self.db.execute(f"SELECT {key}, id FROM {table} WHERE {key} IN ({','.join('?' * len(chunk))})",
                                         chunk).fetchall())
        return found

    def _roll_up(self, signed: Iterable[tuple[Judged, str, int]]) -> None:
        """Add each mention (published at the time given) to the rollups, or take it away (sign
        -1), one upsert per (brand, day, source, bucket) of the lot: a re-read reach is one
        upsert of its difference."""
        sums: dict[tuple[str, str, str, str], list[int]] = {}
        for item, when, sign in signed:
            bucket, likely = item.score.bucket or "", item.reach.likely or 0
            for brand in item.match.brands:
                row = sums.setdefault((brand, when[:10], item.mention.source, bucket), [0, 0])
                row[0] += sign
                row[1] += sign * likely
        if sums:
            self.db.conn.executemany(
                "INSERT INTO rollups (brand, day, source, bucket, mentions, reach_likely) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT (brand, day, source, bucket) DO UPDATE SET mentions = rollups.mentions + excluded.mentions,"
                " reach_likely = rollups.reach_likely + excluded.reach_likely",
                [(*key, count, reach) for key, (count, reach) in sums.items()],
            )

    def search(self, query: str, *, limit: int = 20, brand: str | None = None, order: str = "rank",
               among: int = SEARCH_AMONG, source: str | None = None, bucket: str | None = None,
               since: datetime | None = None, until: datetime | None = None, min_reach: int | None = None) -> list[dict]:
        """Full-text search over title and text: the best ``limit`` of the newest ``among``
        matches (``order="rank"``, bm25), or the newest ``limit`` (``order="newest"``), with
        the filters given (``brand`` any of a mention's brands, case-insensitive; ``bucket``
        "unscored" for none; ``min_reach`` on the likely reach).

        Ranking every match of a common word scores hundreds of thousands of rows (about a second
        at a million mentions); FTS5 walks its matches newest first (by rowid, the order mentions
        were stored) and stops at ``among``, so only those are scored (the filters apply to those
        too: a rare filter among common words may need a larger ``among``). ``query`` is FTS5
        syntax (``acme NOT refund``, ``"acme cloud"``, ``acm*``); a query that is not is searched
        as quoted words (``fts_query``), validated only when it fails.
        """
        if order not in ("rank", "newest"):
            raise ValueError(f"order {order!r}: use rank or newest")
        columns = SEARCH_COLUMNS
        where, values = self._search_filters(brand=brand, source=source, bucket=bucket, since=since, until=until,
                                             min_reach=min_reach)
        if order == "newest":
            sql = (f"SELECT {columns} FROM mentions_fts f JOIN mentions m ON m.rowid = f.rowid"
                   f" WHERE mentions_fts MATCH ?{where} ORDER BY f.rowid DESC LIMIT ?")
            params: list = [query, *values, limit]
        else:
            sql = (f"SELECT {columns} FROM (SELECT rowid, rank FROM mentions_fts WHERE mentions_fts MATCH ?"
                   " ORDER BY rowid DESC LIMIT ?) f JOIN mentions m ON m.rowid = f.rowid"
                   f" WHERE 1{where} ORDER BY f.rank LIMIT ?")
            params = [query, among, *values, limit]
        try:
            return list(self.db.query(sql, params))
        except sqlite3.OperationalError:  # not FTS5: the words quoted (``fts_query`` says so to a person)
            params[0] = self.fts_query(query)[0]
            return list(self.db.query(sql, params)) if params[0] else []

    def count_matches(self, query: str, *, among: int = SEARCH_AMONG, brand: str | None = None,
                      source: str | None = None, bucket: str | None = None, since: datetime | None = None,
                      until: datetime | None = None, min_reach: int | None = None) -> tuple[int, bool]:
        """How many mentions ``search`` chooses from: those among the newest ``among`` full-text
        matches that pass the filters, and whether there were more matches than ``among``."""
        where, values = self._search_filters(brand=brand, source=source, bucket=bucket, since=since, until=until,
                                             min_reach=min_reach)
        sql = (f"SELECT count(*), coalesce(sum(CASE WHEN 1{where} THEN 1 ELSE 0 END), 0) FROM (SELECT rowid FROM"
               " mentions_fts WHERE mentions_fts MATCH ? ORDER BY rowid DESC LIMIT ?) f JOIN mentions m ON m.rowid = f.rowid")
        params: list = [*values, query, among + 1]
        try:
            matched, kept = self.db.execute(sql, params).fetchone()
        except sqlite3.OperationalError:  # not FTS5: the words quoted, as ``search`` reads them
            params[len(values)] = self.fts_query(query)[0]
            if not params[len(values)]:
                return 0, False
            matched, kept = self.db.execute(sql, params).fetchone()
        return min(kept, among), matched > among

    def _search_filters(self, *, brand: str | None, source: str | None, bucket: str | None, since: datetime | None,
                        until: datetime | None, min_reach: int | None) -> tuple[str, list]:
        """The search's filters on the mention ``m``: `` AND …`` tests and their values."""
        tests, values = [], []
        for test, value in ((self._names_brand("m", any_case=True), brand),
                            ("m.source = ?", source), ("m.published_at >= ?", to_iso(since) if since else None),
                            ("m.published_at < ?", to_iso(until) if until else None),
                            ("coalesce(m.reach_likely, m.reach_high) >= ?", min_reach)):
            if value is not None:
                tests.append(test)
                values.append(value)
        if bucket is not None:
            tests.append("m.bucket IS NULL" if bucket == "unscored" else "m.bucket = ?")
            values += [] if bucket == "unscored" else [bucket]
        return "".join(f" AND {t}" for t in tests), values

    def fts_query(self, query: str) -> tuple[str, str | None]:
        """The FTS5 query to run for ``query``, and how it was read when it is not valid FTS5
        (then every word is searched as a quoted word, so punctuation never breaks a search)."""
        try:
            self.db.execute("SELECT rowid FROM mentions_fts WHERE mentions_fts MATCH ? LIMIT 1", (query,)).fetchall()
            return query, None
        except sqlite3.OperationalError as exc:
            quoted = " ".join('"' + word.replace('"', '""') + '"' for word in query.split())
            return quoted, (f"not FTS5 ({exc}); read as the words {quoted}" if quoted else f"not FTS5 ({exc}); nothing to search")

    def brand_names(self) -> list[str]:
        """Every brand the store has mentions of (from the rollups: a few hundred rows)."""
        return [row[0] for row in self.db.execute("SELECT DISTINCT brand FROM rollups ORDER BY brand")]

    # --- one brand's mentions: the only place their SQL is written ------------------------------

    def brand_mentions(self, brand: str, start: datetime, end: datetime) -> list[dict]:
        """The mentions naming ``brand`` published in [start, end), oldest first (the columns
        the spike watch counts and explains with)."""
        return list(self.db.query(
            "SELECT m.source, b.value AS brand, m.id, m.published_at, m.bucket, m.sentiment, m.reach_likely,"
            f" m.reach_low, m.reach_high, m.author, m.title, m.text, m.url FROM mentions m, {self._each_brand('m')}"
            " WHERE m.published_at >= ? AND m.published_at < ? AND b.value = ? ORDER BY m.published_at",
            (to_iso(start), to_iso(end), brand),
        ))

    def window_counts(self, brand: str, start: datetime, end: datetime, window: timedelta,
                      negative_at: float) -> dict[datetime, dict[str, list[float]]]:
        """Per clock-aligned window in [start, end) and per source, the brand's [mentions,
        negative (sentiment ≤ ``negative_at``), assassins, negative ones' reach]: what the spike
        watch counts, summed by the database instead of loading the rows."""
        seconds = int(window.total_seconds())
        out: dict[datetime, dict[str, list[float]]] = {}
        rows = self.db.execute(
            f"SELECT {self._window_of('m.published_at')} AS w, m.source, count(*),"
            " sum(CASE WHEN m.sentiment <= ? THEN 1 ELSE 0 END), sum(CASE WHEN m.bucket = 'assassin' THEN 1 ELSE 0 END),"
            " coalesce(sum(CASE WHEN m.sentiment <= ? THEN coalesce(m.reach_likely, 0) END), 0)"
            f" FROM mentions m, {self._each_brand('m')}"
            " WHERE m.published_at >= ? AND m.published_at < ? AND b.value = ? GROUP BY w, m.source",
            (seconds, negative_at, negative_at, to_iso(start), to_iso(end), brand))
        for w, source, *counts in rows:
            out.setdefault(datetime.fromtimestamp(w * seconds, timezone.utc), {})[source] = [float(c) for c in counts]
        return out

    def mentions_by_key(self, keys: list[tuple[str, str]]) -> list[Judged]:
        """Stored mentions by (source, id), in the order asked (unknown ones left out): one query
        per source and 500 ids, as ``known_ids`` reads."""
        found = {}
        by_source: dict[str, list[str]] = {}
        for source, id_ in dict.fromkeys(keys):
            by_source.setdefault(source, []).append(id_)
        for source, ids in by_source.items():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = self.db.query(f"SELECT *, {self._matched('mentions')} AS matched_keywords FROM mentions"
                                     f" WHERE source = ? AND id IN ({','.join('?' * len(chunk))})",
                                     [source, *chunk])
                found.update(((row["source"], row["id"]), judged_from_row(row)) for row in rows)
        return [found[k] for k in keys if k in found]

    def health_days(self, brand: str, start: datetime, end: datetime) -> list[dict]:
        """``brand_health_daily`` for ``brand``, the UTC days from ``start``'s to ``end``'s, oldest first."""
        return list(self.db.query(
            "SELECT * FROM brand_health_daily WHERE brand = ? AND day >= ? AND day <= ? ORDER BY day",
            (brand, to_iso(start)[:10], to_iso(end)[:10]),
        ))

    def author_moves(self, brand: str, start: datetime, end: datetime, *, limit: int) -> list[dict]:
        """Authors whose bucket changed in [start, end) with a post naming ``brand``: each author's
        latest move, the ones that matter first (``MOVES_FIRST``)."""
        return list(self.db.query(
            "SELECT at, source, handle, display_name, audience, from_bucket, to_bucket, mention_id FROM"
            " (SELECT t.at, t.source, t.handle, a.display_name, a.audience, t.from_bucket, t.to_bucket, t.mention_id,"
            " row_number() OVER (PARTITION BY t.source, t.handle ORDER BY t.at DESC) AS latest"
            " FROM author_transitions t JOIN authors a USING (source, handle)"
            " JOIN mentions m ON m.source = t.mention_source AND m.id = t.mention_id"
            " WHERE t.at >= ? AND t.at < ? AND t.from_bucket IS NOT NULL"
            f" AND {self._names_brand('m')}) moved WHERE latest = 1 ORDER BY {MOVES_FIRST} LIMIT ?",
            (to_iso(start), to_iso(end), brand, limit),
        ))

    def first_published(self, brand: str) -> datetime | None:
        """When the oldest stored mention of ``brand`` was published."""
        first = self.db.execute(
            f"SELECT min(m.published_at) FROM mentions m, {self._each_brand('m')} WHERE b.value = ?", (brand,)
        ).fetchone()[0]
        return from_iso(first)

    def bucket_totals(self) -> dict[str | None, int]:
        """Every stored mention per bucket (None: unscored)."""
        counts: dict[str | None, int] = {"advocate": 0, "apathetic": 0, "assassin": 0, None: 0}
        counts.update(dict(self.db.execute("SELECT bucket, count(*) FROM mentions GROUP BY bucket").fetchall()))
        return counts

    def bucket_counts(self, brand: str, start: datetime, end: datetime) -> dict[str | None, int]:
        """Mentions of ``brand`` published in [start, end) per bucket (None: unscored)."""
        rows = self.db.execute(
            f"SELECT m.bucket, count(*) FROM mentions m, {self._each_brand('m')} WHERE b.value = ?"
            " AND m.published_at >= ? AND m.published_at < ? GROUP BY m.bucket",
            (brand, to_iso(start), to_iso(end)),
        )
        counts: dict[str | None, int] = {"advocate": 0, "apathetic": 0, "assassin": 0, None: 0}
        counts.update({bucket: n for bucket, n in rows})
        return counts

    def top_mentions(self, brand: str, bucket: str, start: datetime, end: datetime, *, limit: int,
                     speaker: str | None = None) -> list[Judged]:
        """The ``limit`` mentions of ``brand`` in ``bucket`` published in [start, end) with the widest likely reach
        (with ``speaker``, ``press`` or ``brand``: that speaker's the call read as ``bucket``, as ``top_texts``)."""
        said = SPOKEN_BY if speaker else "m.bucket = ?"
        rows = self.db.query(
            f"SELECT m.*, {self._matched('m')} AS matched_keywords FROM mentions m, {self._each_brand('m')}"
            f" WHERE b.value = ? AND {said}"
            " AND m.published_at >= ? AND m.published_at < ?"
            " ORDER BY m.reach_likely DESC, m.published_at DESC, m.source, m.id LIMIT ?",  # ties: the same on every run
            (brand, *((speaker,) if speaker else ()), bucket, to_iso(start), to_iso(end), limit),
        )
        return [judged_from_row(row) for row in rows]
