"""The SQLite store: mentions, source state, and the alert outbox / notification log.

The schema is a public interface (PR teams query it; see the README's "Database" section).
Migrations run on open, in order, recorded in ``PRAGMA user_version``. WAL lets readers (the
CLI, datasette) read while the monitor writes. Every value from a post reaches SQL only as a
bound parameter.

An sqlite3 connection belongs to the thread that opened it: open one Store per job.
"""

from __future__ import annotations

import json
import operator
import sqlite3
from urllib.parse import quote
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlite_utils

from monitor.authors import AuthorRules, fold, new_author
from monitor.checkpoint import Checkpointer
from monitor.errors import StoreError
from monitor.models import Alert, Judged, Match, Mention, Reach, Score, SourceState, from_iso, to_iso

# json.dumps with options builds a new encoder per call; rows need five encodings each.
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def _json(value: Any) -> str:
    if value is None:
        return "null"
    if not value:
        return "[]" if isinstance(value, (list, tuple)) else ("{}" if isinstance(value, dict) else _ENCODER.encode(value))
    return _ENCODER.encode(value)


def _strings(values: tuple[str, ...]) -> str:
    """A JSON array of strings; JSONEncoder.encode builds a new C encoder for every list (3× slower)."""
    return "[" + ",".join(map(_STRING, values)) + "]"


_STRING = json.encoder.encode_basestring  # ensure_ascii=False, as _ENCODER


_ROW_PUBLISHED = 8  # where _row puts published_at (ISO), reused for the authors' fold


def _row(item: Judged, fetched: str | None) -> tuple:
    m, match, score, reach = item.mention, item.match, item.score, item.reach
    return (
        m.source, m.id, m.source_type, m.url, m.author, m.author_name, m.title, m.text,
        to_iso(m.published_at), fetched, match.brand, _strings(match.brands),
        _strings(match.keywords), m.language, score.compound, score.bucket,
        _strings(score.reasons), score.unscored_reason, m.audience, _json(dict(m.metrics)),
        reach.low, reach.high, reach.method, _json(m.raw), score.assassin_score, reach.likely,
    )


def _v1(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE mentions (
            source TEXT NOT NULL,
            id TEXT NOT NULL,
            source_type TEXT NOT NULL,
            url TEXT,
            author TEXT,
            author_name TEXT,
            title TEXT,
            text TEXT,
            published_at TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            brand TEXT NOT NULL,
            brands TEXT NOT NULL,
            matched_keywords TEXT NOT NULL,
            language TEXT,
            sentiment REAL,
            bucket TEXT,
            bucket_reasons TEXT,
            unscored_reason TEXT,
            audience INTEGER,
            metrics TEXT,
            reach_low INTEGER,
            reach_high INTEGER,
            reach_method TEXT,
            raw TEXT,
            PRIMARY KEY (source, id)
        );
        CREATE INDEX mentions_brand_published ON mentions (brand, published_at);
        CREATE INDEX mentions_published ON mentions (published_at);
        CREATE TABLE sources (
            name TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            cursor TEXT,
            etag TEXT,
            last_modified TEXT,
            first_run_at TEXT,
            last_run_at TEXT,
            last_success_at TEXT,
            last_error TEXT,
            last_error_at TEXT,
            error_count INTEGER NOT NULL DEFAULT 0,
            next_check_at TEXT,
            mentions_stored INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE alerts (
            key TEXT PRIMARY KEY,
            receiver TEXT NOT NULL,
            kind TEXT NOT NULL,
            brand TEXT,
            source TEXT,
            severity TEXT,
            reason TEXT,
            mention_source TEXT,
            mention_id TEXT,
            status TEXT NOT NULL DEFAULT 'pending',
            created_at TEXT NOT NULL,
            next_attempt_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            sent_at TEXT,
            last_error TEXT,
            payload TEXT NOT NULL
        );
        CREATE INDEX alerts_due ON alerts (status, next_attempt_at);
        """
    )
    # External-content FTS5 (v3 moved indexing of new rows into save_mentions).
    db.table("mentions").enable_fts(["title", "text"], create_triggers=True, tokenize="porter unicode61")


def _v2(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE mentions ADD COLUMN assassin_score REAL")


def _v3(db: sqlite_utils.Database) -> None:
    # save_mentions indexes each batch with one INSERT … SELECT (2.5× cheaper than a per-row
    # trigger); an edit re-indexes only when the indexed columns change.
    db.executescript(
        """
        DROP TRIGGER mentions_ai;
        DROP TRIGGER mentions_au;
        CREATE TRIGGER mentions_au AFTER UPDATE OF title, text ON mentions BEGIN
          INSERT INTO mentions_fts (mentions_fts, rowid, title, text) VALUES('delete', old.rowid, old.title, old.text);
          INSERT INTO mentions_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
        END;
        """
    )


def _v4(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        ALTER TABLE mentions ADD COLUMN reach_likely INTEGER;
        CREATE TABLE authors (
            source TEXT NOT NULL,
            handle TEXT NOT NULL,
            display_name TEXT,
            audience INTEGER,
            mentions INTEGER NOT NULL DEFAULT 0,
            scored_mentions INTEGER NOT NULL DEFAULT 0,
            mean_sentiment REAL,
            latest_sentiment REAL,
            latest_at TEXT,
            weight REAL NOT NULL DEFAULT 0,
            weighted_sentiment REAL,
            weighted_assassin REAL,
            weighted_at TEXT,
            bucket TEXT,
            bucket_since TEXT,
            first_seen TEXT,
            last_seen TEXT,
            PRIMARY KEY (source, handle)
        );
        CREATE TABLE author_transitions (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            handle TEXT NOT NULL,
            at TEXT NOT NULL,
            from_bucket TEXT,
            to_bucket TEXT NOT NULL,
            mention_source TEXT NOT NULL,
            mention_id TEXT NOT NULL
        );
        CREATE INDEX author_transitions_at ON author_transitions (at);
        -- One row per brand and UTC day; a mention naming two brands counts for both.
        CREATE VIEW brand_health_daily AS
        SELECT b.value AS brand,
               substr(m.published_at, 1, 10) AS day,
               count(*) AS mentions,
               sum(m.bucket = 'advocate') AS advocates,
               sum(m.bucket = 'apathetic') AS apathetics,
               sum(m.bucket = 'assassin') AS assassins,
               sum(m.bucket IS NULL) AS unscored,
               round(100.0 * (sum(m.bucket = 'advocate') - sum(m.bucket = 'assassin'))
                     / nullif(sum(m.bucket IS NOT NULL), 0), 1) AS net_score,
               sum(CASE WHEN m.bucket = 'assassin' THEN m.reach_likely ELSE 0 END) AS assassin_reach
        FROM mentions m, json_each(m.brands) b
        GROUP BY b.value, day;
        CREATE VIEW brand_health AS
        SELECT brand, sum(mentions) AS mentions, sum(advocates) AS advocates, sum(apathetics) AS apathetics,
               sum(assassins) AS assassins, sum(unscored) AS unscored,
               round(100.0 * (sum(advocates) - sum(assassins)) / nullif(sum(mentions) - sum(unscored), 0), 1) AS net_score,
               min(day) AS first_day, max(day) AS last_day
        FROM brand_health_daily
        GROUP BY brand;
        """
    )


def _v5(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE spike_series (
            series TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE spikes (
            id INTEGER PRIMARY KEY,
            series TEXT NOT NULL,
            brand TEXT NOT NULL,
            source TEXT,
            measure TEXT NOT NULL,
            kind TEXT NOT NULL,
            window_start TEXT NOT NULL,
            window_end TEXT NOT NULL,
            observed REAL NOT NULL,
            expected REAL NOT NULL,
            band_low REAL NOT NULL,
            band_high REAL NOT NULL,
            z REAL NOT NULL,
            confidence REAL NOT NULL,
            method TEXT NOT NULL,
            explanation TEXT NOT NULL,
            UNIQUE (series, window_start)
        );
        CREATE INDEX spikes_window ON spikes (window_start);
        """
    )


def _v6(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        ALTER TABLE alerts ADD COLUMN group_key TEXT;
        ALTER TABLE alerts ADD COLUMN labels TEXT;
        ALTER TABLE alerts ADD COLUMN notification TEXT;
        CREATE INDEX alerts_group ON alerts (receiver, group_key, status);
        CREATE TABLE alert_groups (
            receiver TEXT NOT NULL,
            group_key TEXT NOT NULL,
            group_interval_s INTEGER NOT NULL,
            next_flush_at TEXT,
            last_flush_at TEXT,
            PRIMARY KEY (receiver, group_key)
        );
        CREATE INDEX alert_groups_due ON alert_groups (next_flush_at);
        CREATE TABLE silences (
            id INTEGER PRIMARY KEY,
            matchers TEXT NOT NULL,
            author TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL,
            starts_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        """
    )


def _v7(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        ALTER TABLE alert_groups ADD COLUMN thread_ref TEXT;
        ALTER TABLE alert_groups ADD COLUMN thread_at TEXT;
        """
    )


def _v8(db: sqlite_utils.Database) -> None:
    # A source's rhythm (first and last post stored) kept with its count, so telling a silent
    # source from a calm one reads one row instead of scanning the source's mentions every run.
    db.executescript(
        """
        ALTER TABLE sources ADD COLUMN first_published_at TEXT;
        ALTER TABLE sources ADD COLUMN last_published_at TEXT;
        UPDATE sources SET
          first_published_at = (SELECT min(published_at) FROM mentions WHERE mentions.source = sources.name),
          last_published_at = (SELECT max(published_at) FROM mentions WHERE mentions.source = sources.name);
        """
    )


def _v9(db: sqlite_utils.Database) -> None:
    # What the last good run found odd (malformed items skipped, a partial feed, undecodable
    # bytes), and running totals for monitoring (monitor run --metrics-port).
    db.executescript(
        """
        ALTER TABLE sources ADD COLUMN last_warning TEXT;
        ALTER TABLE sources ADD COLUMN runs_total INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sources ADD COLUMN errors_total INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sources ADD COLUMN skipped_total INTEGER NOT NULL DEFAULT 0;
        """
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9]

_AUTHOR_COLUMNS = tuple(new_author("", ""))
AUTHOR_CACHE = 20_000  # author rows a store keeps between pages
_author_values = operator.itemgetter(*_AUTHOR_COLUMNS)  # an author row dict → its column values, in C


class Store:
    """All persistence. Open one per thread; close it when done.

    ``readonly`` opens the file for reading only (``search``, ``status``, ``digest``, ``backtest``):
    it works on a file the user may not write, and never creates, migrates or changes it.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = str(path)
        self.readonly = readonly
        # Author rows as last written by this connection, valid while no other connection has
        # committed (PRAGMA data_version): a source's next page folds into them without a SELECT.
        self._authors: dict[tuple[str, str], dict] = {}
        self._authors_version: int | None = None
        self._checkpointer: Checkpointer | None = None  # started by the first write transaction
        try:
            if readonly:
                self.db = self._open_readonly()
            else:
                if self.path != ":memory:":
                    Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite_utils.Database(self.path)
            self.db.execute("PRAGMA busy_timeout = 10000")
            self._check_version()  # before anything is written: a newer schema is refused untouched
            if readonly:
                return
            if self.path != ":memory:":
                self.db.enable_wal()
                # With WAL, NORMAL never corrupts the file; a power cut may lose the last commits,
                # which the next run fetches again (the cursor is saved after the mentions).
                self.db.execute("PRAGMA synchronous = NORMAL")
                # Checkpoint every ~16 MB of WAL rather than 4 MB: pages rewritten by successive
                # batches (indexes, FTS segments, authors) are copied back once (15% faster writes).
                self.db.execute("PRAGMA wal_autocheckpoint = 4000")
            self._migrate()
        except StoreError:
            if hasattr(self, "db"):
                self.db.close()
            raise
        except (OSError, sqlite3.DatabaseError) as exc:
            raise StoreError(
                f"cannot open the database {self.path}: {exc} — point --db, MONITOR_DB"
                " or database: in config.yaml at a monitor database or a new file in a writable folder") from exc

    def close(self) -> None:
        """Close the connection (after the background checkpointer, if one ran)."""
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (taken immediately, so two writers queue instead of deadlocking).

        Inside another it is a savepoint of it, so a caller can make several steps one (a run's
        mentions, their alerts and the source's new cursor) and a crash leaves all or none.
        """
        outer = not self.db.conn.in_transaction
        self.db.execute("BEGIN IMMEDIATE" if outer else "SAVEPOINT nested")
        try:
            yield
        except BaseException:
            for statement in ("ROLLBACK",) if outer else ("ROLLBACK TO nested", "RELEASE nested"):
                self.db.execute(statement)  # a savepoint rolled back stays open until released
            self._authors.clear()  # rows folded in memory that the database no longer has
            raise
        self.db.execute("COMMIT" if outer else "RELEASE nested")
        if outer and self.path != ":memory:":
            if self._checkpointer is None:
                self._checkpointer = Checkpointer(self.path)
            self._checkpointer.want()

    def _open_readonly(self) -> sqlite_utils.Database:
        if not Path(self.path).is_file():
            raise StoreError(f"no database at {self.path} — run `monitor once` or `monitor run` first, or point --db,"
                             " MONITOR_DB or database: in config.yaml at the monitor's database")
        uri = "file:" + quote(str(Path(self.path).resolve()))
        conn = sqlite3.connect(uri + "?mode=ro", uri=True)
        try:
            conn.execute("PRAGMA user_version").fetchone()
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            # A WAL database in a folder we cannot write: its -shm cannot be made. Nothing is
            # writing it then (a writer would need the folder too), so read the file as it is.
            conn.close()
            conn = sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True)
        return sqlite_utils.Database(conn)

    def _check_version(self) -> None:
        version = self.schema_version
        known = len(MIGRATIONS)
        if version > known:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this monitor knows ({known}): it was written by a"
                " newer version — upgrade the monitor (pip install -U reputation-monitor), or point --db at another file")
        if self.readonly and version < known:
            what = "is not a monitor database" if version == 0 else f"has schema version {version}, older than {known}"
            raise StoreError(f"{self.path} {what} — run `monitor once` once with write access to upgrade it, or point"
                             " --db at the monitor's database")

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                migration(self.db)
                self.db.execute(f"PRAGMA user_version = {int(number)}")

    @property
    def schema_version(self) -> int:
        """The number of migrations applied."""
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    # --- mentions ----------------------------------------------------------------------------

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
        self, judged: list[Judged], *, fetched_at: datetime, authors: AuthorRules | None = None
    ) -> list[Judged]:
        """Store mentions not stored yet; return exactly those (the store decides what is new).

        The check, the insert, the full-text indexing and (with ``authors``) the authors' update
        share one immediate transaction, so no other writer can slip the same mention in between,
        and a crash leaves all of it or none. The rows go in with one ``executemany``.
        """
        fetched = to_iso(fetched_at)
        with self.transaction():
            last_rowid = self.db.execute("SELECT coalesce(max(rowid), 0) FROM mentions").fetchone()[0]
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
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO mentions (source, id, source_type, url, author, author_name, title,"
                " text, published_at, fetched_at, brand, brands, matched_keywords, language, sentiment,"
                " bucket, bucket_reasons, unscored_reason, audience, metrics, reach_low, reach_high,"
                " reach_method, raw, assassin_score, reach_likely)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows := [_row(item, fetched) for item in new],
            )
            # New rows get rowids above the old maximum; index them in one statement.
            self.db.execute(
                "INSERT INTO mentions_fts (rowid, title, text) SELECT rowid, title, text FROM mentions WHERE rowid > ?",
                (last_rowid,),
            )
            per_source: dict[str, list[str]] = {}
            for item, row in zip(new, rows):
                per_source.setdefault(item.mention.source, []).append(row[_ROW_PUBLISHED])
            for source, published in per_source.items():
                self.db.execute(
                    "UPDATE sources SET mentions_stored = mentions_stored + :count,"
                    " first_published_at = min(coalesce(first_published_at, :first), :first),"
                    " last_published_at = max(coalesce(last_published_at, :last), :last) WHERE name = :source",
                    {"count": len(published), "first": min(published), "last": max(published), "source": source},
                )
            if authors is not None:
                self._update_authors(new, authors, {id(item): row[_ROW_PUBLISHED] for item, row in zip(new, rows)})
        return new

    def _update_authors(self, new: list[Judged], rules: AuthorRules, published: dict[int, str]) -> None:
        """Fold new mentions into their authors' rows, oldest first; record bucket changes.

        ``published``: each item's ISO publication time by ``id(item)``, already made for its row.
        """
        by_author: dict[tuple[str, str], list[Judged]] = {}
        for item in new:
            if item.mention.author:
                by_author.setdefault((item.mention.source, item.mention.author), []).append(item)
        if not by_author:
            return
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
        rows = self._authors
        if version != self._authors_version or len(rows) > AUTHOR_CACHE:
            rows.clear()  # another connection wrote (or the cache is full): read afresh
        self._authors_version = version
        if missing := [key for key in by_author if key not in rows]:
            rows.update(self._author_rows(missing))
        transitions = []
        for key, items in by_author.items():
            row = rows.get(key) or new_author(*key)
            for item in sorted(items, key=lambda j: j.mention.published_at):
                change = fold(row, item, rules, published.get(id(item)))
                if change is not None:
                    transitions.append(change)
            rows[key] = row
        marks = ",".join("?" * len(_AUTHOR_COLUMNS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in _AUTHOR_COLUMNS[2:])
        self.db.conn.executemany(
            f"INSERT INTO authors ({', '.join(_AUTHOR_COLUMNS)}) VALUES ({marks})"
            f" ON CONFLICT (source, handle) DO UPDATE SET {updates}",
            [_author_values(rows[key]) for key in by_author],
        )
        self.db.conn.executemany(
            "INSERT INTO author_transitions (source, handle, at, from_bucket, to_bucket, mention_source, mention_id)"
            " VALUES (?,?,?,?,?,?,?)",
            [(t.source, t.handle, t.at, t.from_bucket, t.to_bucket, t.mention_source, t.mention_id) for t in transitions],
        )

    def _author_rows(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        out: dict[tuple[str, str], dict] = {}
        by_source: dict[str, list[str]] = {}
        for source, handle in keys:
            by_source.setdefault(source, []).append(handle)
        for source, handles in by_source.items():
            for start in range(0, len(handles), 500):
                chunk = handles[start : start + 500]
                sql = (f"SELECT {', '.join(_AUTHOR_COLUMNS)} FROM authors"
                       f" WHERE source = ? AND handle IN ({','.join('?' * len(chunk))})")
                for values in self.db.conn.execute(sql, [source, *chunk]):
                    out[(values[0], values[1])] = dict(zip(_AUTHOR_COLUMNS, values))
        return out

    def author(self, source: str, handle: str) -> dict | None:
        """One author's row, or None."""
        return self._author_rows([(source, handle)]).get((source, handle))

    def count_mentions(self, source: str | None = None) -> int:
        """How many mentions are stored (for one source, or all)."""
        if source is None:
            return self.db.execute("SELECT count(*) FROM mentions").fetchone()[0]
        return self.db.execute("SELECT count(*) FROM mentions WHERE source = ?", (source,)).fetchone()[0]

    def search(self, query: str, *, limit: int = 20, brand: str | None = None) -> list[dict]:
        """Full-text search over title and text, best match first.

        ``query`` is FTS5 syntax (``acme NOT refund``, ``"acme cloud"``, ``acm*``); a query that
        is not valid FTS5 is retried with every word quoted, so punctuation never breaks a search.
        """
        sql = (
            "SELECT m.source, m.id, m.published_at, m.brand, m.bucket, m.sentiment, m.author, m.title,"
            " m.text, m.url, m.reach_low, m.reach_high FROM mentions_fts JOIN mentions m ON m.rowid = mentions_fts.rowid"
            " WHERE mentions_fts MATCH ?" + (" AND m.brand = ?" if brand else "") + " ORDER BY mentions_fts.rank LIMIT ?"
        )
        params: list = [query, *([brand] if brand else []), limit]
        try:
            return list(self.db.query(sql, params))
        except sqlite3.OperationalError:
            quoted = " ".join('"' + word.replace('"', '""') + '"' for word in query.split())
            if not quoted:
                return []
            params[0] = quoted
            return list(self.db.query(sql, params))

    # --- sources -----------------------------------------------------------------------------

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
            "INSERT OR IGNORE INTO sources (name, type, first_run_at) VALUES (?, ?, ?)", (name, type_, to_iso(now))
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

    # --- spike detector state and spikes ------------------------------------------------------

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

    # --- alert outbox / notification log ----------------------------------------------------

    def enqueue_alert(
        self, alert: Alert, receiver: str, *, now: datetime, group_key: str | None = None,
        group_wait: timedelta = timedelta(0), group_interval: timedelta = timedelta(0),
        repeat_interval: timedelta | None = None,
    ) -> bool:
        """Put an alert in the outbox for ``receiver``, in its group; False if it was not queued
        (already logged, and sent less than ``repeat_interval`` ago, or never to repeat).

        A new group is flushed ``group_wait`` from now; an idle group that notified before,
        ``group_interval`` after its last notification.
        """
        first = alert.mentions[0].mention if alert.mentions else None
        key = f"{receiver}:{alert.key}"
        group = group_key or key
        with self.transaction():
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO alerts (key, receiver, kind, brand, source, severity, reason, mention_source,"
                " mention_id, created_at, next_attempt_at, payload, group_key, labels) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
                    "INSERT INTO alert_groups (receiver, group_key, group_interval_s, next_flush_at) VALUES (?,?,?,?)"
                    " ON CONFLICT (receiver, group_key) DO UPDATE SET group_interval_s = excluded.group_interval_s,"
                    " next_flush_at = coalesce(alert_groups.next_flush_at,"
                    "   max(?, coalesce(strftime('%Y-%m-%dT%H:%M:%SZ', alert_groups.last_flush_at,"
                    "   '+' || excluded.group_interval_s || ' seconds'), ?)))",
                    (receiver, group, int(group_interval.total_seconds()), to_iso(now + group_wait), to_iso(now), to_iso(now)),
                )
        return queued

    def due_groups(self, *, now: datetime | None, limit: int = 1000) -> list[dict]:
        """Groups whose next notification is due (``now`` None: every waiting group), oldest first.

        A group left idle while it still holds pending alerts that are due (a database written
        before idle groups kept their retry time) is due too: no pending alert is ever stranded.
        """
        at = to_iso(now)
        return list(self.db.query(
            "SELECT * FROM alert_groups g WHERE (g.next_flush_at IS NOT NULL AND (:at IS NULL OR g.next_flush_at <= :at))"
            " OR (g.next_flush_at IS NULL AND EXISTS (SELECT 1 FROM alerts a WHERE a.receiver = g.receiver"
            "   AND a.group_key = g.group_key AND a.status = 'pending' AND (:at IS NULL OR a.next_attempt_at <= :at)))"
            " ORDER BY coalesce(g.next_flush_at, ''), g.receiver, g.group_key LIMIT :limit", {"at": at, "limit": limit},
        ))

    def group_pending(self, receiver: str, group_key: str, *, now: datetime | None) -> list[dict]:
        """A group's alerts waiting to go out (and due, if they failed before; ``now`` None: all)."""
        return list(self.db.query(
            "SELECT * FROM alerts WHERE receiver = ? AND group_key = ? AND status = 'pending'"
            " AND (? IS NULL OR next_attempt_at <= ?) ORDER BY created_at, key",
            (receiver, group_key, to_iso(now), to_iso(now)),
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
            pending = self.db.execute(f"SELECT count(*) FROM alerts WHERE status = 'pending' AND key IN ({marks})",
                                      keys).fetchone()[0]
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

    def failing_sources(self, *, at_least: int) -> set[str]:
        """Sources that failed at least this many times in a row (and have not succeeded since)."""
        return {name for name, in self.db.execute("SELECT name FROM sources WHERE error_count >= ?", (at_least,))}

    def recently_sent(self, kind: str, *, since: datetime) -> set[tuple[str, str]]:
        """(receiver, brand) of ``kind`` alerts sent since ``since``: what is still firing."""
        return {(r, b) for r, b in self.db.execute(
            "SELECT receiver, brand FROM alerts WHERE kind = ? AND status = 'sent' AND sent_at >= ?", (kind, to_iso(since))
        )}

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

    # --- silences ----------------------------------------------------------------------------

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

    def due_alerts(self, *, now: datetime, limit: int = 100) -> list[dict]:
        """Pending notifications whose next attempt is due, oldest first."""
        return list(
            self.db.query(
                "SELECT * FROM alerts WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY created_at, key LIMIT ?",
                (to_iso(now), limit),
            )
        )

    def mark_sent(self, key: str, *, now: datetime) -> None:
        """Log a notification as delivered (whatever its state: pending, or sending before a crash)."""
        self.db.execute(
            "UPDATE alerts SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE key = ?",
            (to_iso(now), key),
        )

    def mark_failed(self, key: str, error: str, *, now: datetime, retry_at: datetime | None) -> None:
        """Log a failed attempt; with ``retry_at`` None the notification is given up as failed.
        Also used to put back, as pending, an alert a crash left 'sending' that did not go out."""
        self.db.execute(
            "UPDATE alerts SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE key = ?",
            ("pending" if retry_at else "failed", error, to_iso(retry_at or now), key),
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


def row_alert(row: dict) -> Alert:
    """The alert an outbox row carries."""
    return alert_from_dict(json.loads(row["payload"]))


def judged_from_row(row: dict) -> Judged:
    """A stored mention row back as a Judged (the raw payload left out)."""
    mention = Mention(
        source=row["source"], id=row["id"], url=row["url"], text=row["text"] or "",
        published_at=from_iso(row["published_at"]), title=row["title"] or "", author=row["author"] or "",
        author_name=row["author_name"] or "", language=row["language"], audience=row["audience"],
        metrics=json.loads(row["metrics"] or "{}"), source_type=row["source_type"],
    )
    return Judged(
        mention,
        Match(tuple(json.loads(row["brands"])), tuple(json.loads(row["matched_keywords"]))),
        Score(row["sentiment"], row["bucket"], tuple(json.loads(row["bucket_reasons"] or "[]")),
              row["unscored_reason"], row["assassin_score"]),
        Reach(row["reach_low"] or 1, row["reach_high"] or 1, row["reach_method"] or "", row["reach_likely"]),
    )


def _mention_dict(m: Mention) -> dict:
    data = asdict(m)
    data["published_at"] = to_iso(m.published_at)
    data["raw"] = None  # the raw payload stays in the mentions table; alerts do not need it
    data["metrics"] = dict(m.metrics)
    return data


def alert_to_dict(alert: Alert) -> dict:
    """An alert as JSON-ready data (its outbox payload)."""
    return {
        "key": alert.key,
        "kind": alert.kind,
        "brand": alert.brand,
        "source": alert.source,
        "severity": alert.severity,
        "reason": alert.reason,
        "created_at": to_iso(alert.created_at),
        "mentions": [
            {
                "mention": _mention_dict(j.mention),
                "match": {"brands": list(j.match.brands), "keywords": list(j.match.keywords)},
                "score": {**asdict(j.score), "reasons": list(j.score.reasons)},
                "reach": asdict(j.reach),
            }
            for j in alert.mentions
        ],
    }


def alert_from_dict(data: dict) -> Alert:
    """Rebuild an alert from its outbox payload."""
    mentions = []
    for item in data["mentions"]:
        m = dict(item["mention"])
        m["published_at"] = from_iso(m["published_at"])
        mentions.append(
            Judged(
                mention=Mention(**m),
                match=Match(tuple(item["match"]["brands"]), tuple(item["match"]["keywords"])),
                score=Score(**{**item["score"], "reasons": tuple(item["score"]["reasons"])}),
                reach=Reach(**item["reach"]),
            )
        )
    return Alert(
        key=data["key"],
        kind=data["kind"],
        brand=data["brand"],
        source=data["source"],
        severity=data["severity"],
        reason=data["reason"],
        mentions=tuple(mentions),
        created_at=from_iso(data.get("created_at")),
    )
