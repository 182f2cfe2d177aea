"""The store's schema on PostgreSQL: the same tables, views and columns as on SQLite (issue 19).

The public interface is the schema, so a PR team's query means the same on both: the same table,
view and column names and meanings. Where PostgreSQL has a better native type it is used, and
``monitor/schema.md`` says so: times are ``timestamptz`` (SQLite: ISO 8601 text in UTC), JSON columns
``jsonb``, counts ``bigint``, scores ``double precision``; full-text search is a generated
``tsvector`` column ``mentions.search`` (English stemming) under a GIN index instead of SQLite's
``mentions_fts`` table; ``monitor_schema`` records the version (SQLite: ``PRAGMA user_version``).

Migrations are applied on open, in order, as on SQLite; PostgreSQL's started at version 1 with
the schema SQLite reached at its version 15. Here: the schema and the copy of a SQLite store
into it (``copy_sqlite``, ``monitor migrate``); the store's operations on it are ``pgstore.PgStore``.

Imports nothing of psycopg itself: ``migrate`` is handed an open connection.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Callable, NamedTuple

from monitor.errors import StoreError
from monitor.store.migrations import BRAND_HEALTH_VIEWS

TIME = "timestamptz"
MIGRATION_LOCK = 7_346_019  # the advisory lock migrations take (any number the database's other users do not)

MIGRATIONS: list[str] = [
    # 1: the schema SQLite reached at version 15.
    f"""
    CREATE TABLE mentions (
        source text NOT NULL,
        id text NOT NULL,
        source_type text NOT NULL,
        url text,
        author text,
        author_name text,
        title text,
        text text,
        published_at {TIME} NOT NULL,
        fetched_at {TIME} NOT NULL,
        brand text NOT NULL,
        brands jsonb NOT NULL,
        matched_keywords jsonb NOT NULL,
        language text,
        sentiment double precision,
        bucket text,
        bucket_reasons jsonb,
        unscored_reason text,
        audience bigint,
        metrics jsonb,
        reach_low bigint,
        reach_high bigint,
        reach_method text,
        raw jsonb,
        assassin_score double precision,
        reach_likely bigint,
        refreshed_at {TIME},
        search tsvector GENERATED ALWAYS AS (
            to_tsvector('english', coalesce(title, '') || ' ' || coalesce(text, ''))) STORED,
        PRIMARY KEY (source, id)
    );
    CREATE INDEX mentions_brand_published ON mentions (brand, published_at);
    CREATE INDEX mentions_published ON mentions (published_at);
    CREATE INDEX mentions_author ON mentions (source, author, published_at);
    CREATE INDEX mentions_search ON mentions USING gin (search);
    CREATE INDEX mentions_brands ON mentions USING gin (brands jsonb_path_ops);

    CREATE TABLE sources (
        name text PRIMARY KEY,
        type text NOT NULL,
        cursor text,
        etag text,
        last_modified text,
        first_run_at {TIME},
        last_run_at {TIME},
        last_success_at {TIME},
        last_error text,
        last_error_at {TIME},
        error_count bigint NOT NULL DEFAULT 0,
        next_check_at {TIME},
        mentions_stored bigint NOT NULL DEFAULT 0,
        first_published_at {TIME},
        last_published_at {TIME},
        last_warning text,
        runs_total bigint NOT NULL DEFAULT 0,
        errors_total bigint NOT NULL DEFAULT 0,
        skipped_total bigint NOT NULL DEFAULT 0,
        refreshed_at {TIME},
        refresh_checks_total bigint NOT NULL DEFAULT 0,
        refresh_changes_total bigint NOT NULL DEFAULT 0,
        last_refresh_error text
    );

    CREATE TABLE alerts (
        key text PRIMARY KEY,
        receiver text NOT NULL,
        kind text NOT NULL,
        brand text,
        source text,
        severity text,
        reason text,
        mention_source text,
        mention_id text,
        status text NOT NULL DEFAULT 'pending',
        created_at {TIME} NOT NULL,
        next_attempt_at {TIME} NOT NULL,
        attempts bigint NOT NULL DEFAULT 0,
        sent_at {TIME},
        last_error text,
        payload jsonb NOT NULL,
        group_key text,
        labels jsonb,
        notification text
    );
    CREATE INDEX alerts_due ON alerts (status, next_attempt_at);
    CREATE INDEX alerts_group ON alerts (receiver, group_key, status);

    CREATE TABLE alert_groups (
        receiver text NOT NULL,
        group_key text NOT NULL,
        group_interval_s bigint NOT NULL,
        next_flush_at {TIME},
        last_flush_at {TIME},
        thread_ref text,
        thread_at {TIME},
        route text,
        PRIMARY KEY (receiver, group_key)
    );
    CREATE INDEX alert_groups_due ON alert_groups (next_flush_at);

    CREATE TABLE authors (
        source text NOT NULL,
        handle text NOT NULL,
        display_name text,
        audience bigint,
        mentions bigint NOT NULL DEFAULT 0,
        scored_mentions bigint NOT NULL DEFAULT 0,
        mean_sentiment double precision,
        latest_sentiment double precision,
        latest_at {TIME},
        weight double precision NOT NULL DEFAULT 0,
        weighted_sentiment double precision,
        weighted_assassin double precision,
        weighted_at {TIME},
        bucket text,
        bucket_since {TIME},
        first_seen {TIME},
        last_seen {TIME},
        PRIMARY KEY (source, handle)
    );

    CREATE TABLE author_transitions (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        source text NOT NULL,
        handle text NOT NULL,
        at {TIME} NOT NULL,
        from_bucket text,
        to_bucket text NOT NULL,
        mention_source text NOT NULL,
        mention_id text NOT NULL
    );
    CREATE INDEX author_transitions_at ON author_transitions (at);

    CREATE TABLE spike_series (
        series text PRIMARY KEY,
        state jsonb NOT NULL,
        updated_at {TIME} NOT NULL
    );

    CREATE TABLE spikes (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        series text NOT NULL,
        brand text NOT NULL,
        source text,
        measure text NOT NULL,
        kind text NOT NULL,
        window_start {TIME} NOT NULL,
        window_end {TIME} NOT NULL,
        observed double precision NOT NULL,
        expected double precision NOT NULL,
        band_low double precision NOT NULL,
        band_high double precision NOT NULL,
        z double precision NOT NULL,
        confidence double precision NOT NULL,
        method text NOT NULL,
        explanation jsonb NOT NULL,
        storm text,
        UNIQUE (series, window_start)
    );
    CREATE INDEX spikes_window ON spikes (window_start);

    CREATE TABLE silences (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        matchers jsonb NOT NULL,
        author text NOT NULL,
        reason text NOT NULL,
        created_at {TIME} NOT NULL,
        starts_at {TIME} NOT NULL,
        expires_at {TIME} NOT NULL
    );

    CREATE TABLE storms (
        id text PRIMARY KEY,
        brand text NOT NULL,
        source text,
        kind text NOT NULL,
        measure text NOT NULL,
        started_at {TIME} NOT NULL,
        ended_at {TIME} NOT NULL,
        window_seconds bigint NOT NULL,
        ended bigint NOT NULL DEFAULT 0,
        posts bigint NOT NULL DEFAULT 0,
        expected double precision NOT NULL DEFAULT 0,
        reach_low bigint NOT NULL DEFAULT 0,
        reach_likely bigint NOT NULL DEFAULT 0,
        reach_high bigint NOT NULL DEFAULT 0,
        sources jsonb NOT NULL DEFAULT '{{}}',
        words jsonb NOT NULL DEFAULT '[]',
        series jsonb NOT NULL DEFAULT '[]',
        first jsonb NOT NULL DEFAULT '{{}}',
        windows jsonb NOT NULL DEFAULT '{{}}',
        methods jsonb NOT NULL DEFAULT '{{}}',
        top_posts jsonb NOT NULL DEFAULT '[]',
        summary text NOT NULL DEFAULT '',
        details text NOT NULL DEFAULT '',
        alerted_posts bigint NOT NULL DEFAULT 0,
        alerts bigint NOT NULL DEFAULT 0
    );
    CREATE INDEX storms_open ON storms (brand, ended);
    CREATE INDEX storms_started ON storms (started_at);

    CREATE TABLE labels (
        mention_source text NOT NULL,
        mention_id text NOT NULL,
        label text NOT NULL CHECK (label IN ('assassin', 'not')),
        who text NOT NULL,
        at {TIME} NOT NULL,
        note text NOT NULL DEFAULT '',
        PRIMARY KEY (mention_source, mention_id)
    );

    CREATE TABLE refreshes (
        source text NOT NULL,
        id text NOT NULL,
        at {TIME} NOT NULL,
        metrics_before jsonb NOT NULL,
        metrics_after jsonb NOT NULL,
        audience_before bigint,
        audience_after bigint,
        reach_high_before bigint,
        reach_low bigint NOT NULL,
        reach_high bigint NOT NULL,
        reach_likely bigint,
        alerted bigint NOT NULL DEFAULT 0
    );
    CREATE INDEX refreshes_mention ON refreshes (source, id, at);
    CREATE INDEX refreshes_at ON refreshes (at);

    CREATE TABLE rollups (
        brand text NOT NULL,
        day date NOT NULL,
        source text NOT NULL,
        bucket text NOT NULL,
        mentions bigint NOT NULL DEFAULT 0,
        reach_likely bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (brand, day, source, bucket)
    );

    """ + BRAND_HEALTH_VIEWS,
    # 2: SQLite's 16, leases and workers.
    f"""CREATE TABLE leases (name text PRIMARY KEY, owner text NOT NULL, until {TIME} NOT NULL);
    CREATE TABLE workers (name text PRIMARY KEY, started_at {TIME} NOT NULL, heartbeat_at {TIME} NOT NULL)""",
    # 3: SQLite's 17, waits.
    f"""CREATE TABLE waits (name text PRIMARY KEY, until {TIME} NOT NULL, reason text)""",
    # 4: SQLite's 18, alert actions.
    f"""CREATE TABLE alert_actions (id bigserial PRIMARY KEY, notification text NOT NULL, receiver text,
        action text NOT NULL, value text NOT NULL DEFAULT '', who text NOT NULL, at {TIME} NOT NULL,
        envelope text UNIQUE, UNIQUE (notification, action, value))""",
    # 5: SQLite's 19, edits.
    f"""CREATE TABLE edits (source text NOT NULL, id text NOT NULL, at {TIME} NOT NULL, title_before text,
        text_before text, rating_before bigint, rating_after bigint, bucket_before text, bucket_after text);
    CREATE INDEX edits_mention ON edits (source, id, at)""",
    # 6: SQLite's 20, brands.
    f"""CREATE TABLE brands (name text PRIMARY KEY, competitor bigint NOT NULL DEFAULT 0,
        alerting bigint NOT NULL DEFAULT 1, updated_at {TIME} NOT NULL)""",
    # 7: SQLite's 21, the indexes of a bucket's posts by time and of the assassin score.
    """CREATE INDEX mentions_bucket ON mentions (bucket, published_at);
    CREATE INDEX mentions_assassin_score ON mentions (assassin_score)""",
    # 8: SQLite's 22, matched rules by reference (the rules table, mentions.rule_ids, the view mention_rules).
    f"""CREATE TABLE rules (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, rule text NOT NULL UNIQUE,
        first_matched_at {TIME} NOT NULL);
    ALTER TABLE mentions ADD COLUMN rule_ids jsonb NOT NULL DEFAULT '[]';
    INSERT INTO rules (rule, first_matched_at)
      SELECT j.value, min(m.fetched_at) FROM mentions m, jsonb_array_elements_text(m.matched_keywords) AS j(value)
      GROUP BY j.value ORDER BY min(m.fetched_at), j.value;
    UPDATE mentions m SET rule_ids = (SELECT coalesce(jsonb_agg(r.id ORDER BY j.n), '[]')
      FROM jsonb_array_elements_text(m.matched_keywords) WITH ORDINALITY AS j(value, n) JOIN rules r ON r.rule = j.value)
      WHERE m.matched_keywords != '[]';
    ALTER TABLE mentions DROP COLUMN matched_keywords;
    CREATE VIEW mention_rules AS
      SELECT m.source, m.id, j.n - 1 AS position, r.id AS rule_id, r.rule
      FROM mentions m CROSS JOIN LATERAL jsonb_array_elements(m.rule_ids) WITH ORDINALITY AS j(value, n)
      JOIN rules r ON r.id = (j.value)::bigint""",
    # 9: SQLite's 23, matched rules by set (each distinct list of rule ids once, as the text the store writes:
    # no spaces; a mention keeps its number).
    """CREATE TABLE rule_sets (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, rule_ids text NOT NULL UNIQUE);
    INSERT INTO rule_sets (rule_ids) SELECT replace(rule_ids::text, ' ', '') FROM mentions WHERE rule_ids != '[]'
      GROUP BY 1 ORDER BY min(fetched_at), 1;
    ALTER TABLE mentions ADD COLUMN rule_set bigint;
    UPDATE mentions m SET rule_set = s.id FROM rule_sets s WHERE s.rule_ids = replace(m.rule_ids::text, ' ', '');
    DROP VIEW mention_rules;
    ALTER TABLE mentions DROP COLUMN rule_ids;
    CREATE VIEW mention_rules AS
      SELECT m.source, m.id, j.n - 1 AS position, r.id AS rule_id, r.rule
      FROM mentions m JOIN rule_sets s ON s.id = m.rule_set
      CROSS JOIN LATERAL jsonb_array_elements(s.rule_ids::jsonb) WITH ORDINALITY AS j(value, n)
      JOIN rules r ON r.id = (j.value)::bigint""",
    # 10: SQLite's 24, who speaks (mentions.speaker) and what the call read in their words (mentions.read_as).
    """ALTER TABLE mentions ADD COLUMN speaker text;
    ALTER TABLE mentions ADD COLUMN read_as text;
    UPDATE mentions SET speaker = 'press',
      read_as = CASE WHEN jsonb_array_length(bucket_reasons) > 1 THEN 'assassin' ELSE 'advocate' END
      WHERE bucket_reasons->>0 LIKE 'news coverage (press: true)%';
    UPDATE mentions SET speaker = 'brand', read_as = NULL
      WHERE bucket_reasons->>0 LIKE 'the brand''s own channel (official: true)%'
         OR bucket_reasons->>0 LIKE 'the brand''s own account (%';
    CREATE INDEX mentions_speaker ON mentions (speaker, read_as, published_at) WHERE speaker IS NOT NULL""",
]


def migrate(conn: Any) -> int:
    """Apply the migrations ``conn``'s database has not had (a psycopg connection), in one
    transaction under an advisory lock, so a second process opening the store at the same moment
    waits and then finds nothing to do. Returns the version reached."""
    with conn.transaction():
        # Workers starting together: one migrates at a time (CREATE TABLE IF NOT EXISTS alone
        # races), the others wait here and then find nothing to do.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS monitor_schema (version integer NOT NULL)")
        row = conn.execute("SELECT version FROM monitor_schema").fetchone()
        if row is None:
            conn.execute("INSERT INTO monitor_schema (version) VALUES (0)")
        version = row[0] if row else 0
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            conn.execute(script)
            conn.execute("UPDATE monitor_schema SET version = %s", (number,))
        return len(MIGRATIONS)


class Copied(NamedTuple):
    """One table copied: its rows in the SQLite file and in PostgreSQL after the copy, the rows this
    run wrote, and the values cleaned of a NUL (PostgreSQL's text and jsonb cannot hold one)."""

    table: str
    sqlite: int
    postgres: int
    written: int
    cleaned: int


BATCH = 5_000


def copy_sqlite(source: sqlite3.Connection, target: Any, *, origin: str, batch: int = BATCH,
                progress: Callable[[str, int], None] | None = None) -> list[Copied]:
    """Copy every table of a SQLite store (``source``, migrated to the latest version) into
    PostgreSQL (``target``, a psycopg connection in autocommit mode, so each batch commits on
    its own; the schema is migrated here first), table by table in
    batches of ``batch`` rows with COPY. Resumable: each batch is committed with how far its table
    got (``monitor_migration``, keyed by ``origin``), so a run that stops is continued by the next
    from the last batch committed, and nothing is written twice. ``progress`` is told each batch
    (table, rows so far). Returns each table's counts, checked after: a table whose counts differ
    raises StoreError naming it."""
    migrate(target)
    target.execute("CREATE TABLE IF NOT EXISTS monitor_migration (origin text NOT NULL, table_name text NOT NULL,"
                   " last_rowid bigint NOT NULL, done boolean NOT NULL DEFAULT false, PRIMARY KEY (origin, table_name))")
    kinds = {}
    for table, column, kind in target.execute("SELECT table_name, column_name, data_type FROM information_schema.columns"
                                              " WHERE table_schema = 'public'"):
        kinds.setdefault(table, {})[column] = kind
    tables = [name for name, kind in source.execute("SELECT name, type FROM sqlite_master WHERE type = 'table'"
                                                    " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'mentions_fts%'"
                                                    " ORDER BY name")]
    out = []
    for table in tables:
        columns = [row[1] for row in source.execute(f'PRAGMA table_info("{table}")')]
        if table not in kinds or set(columns) - set(kinds[table]):
            raise StoreError(f"{table}: the SQLite store has columns PostgreSQL's schema lacks "
                             f"({', '.join(sorted(set(columns) - set(kinds.get(table, {}))))}) — migrate the SQLite file "
                             "with this version of the monitor first (open it once)")
        out.append(_copy_table(source, target, table, columns, kinds[table], origin=origin, batch=batch, progress=progress))
    for table in ("author_transitions", "spikes", "silences", "rules", "rule_sets"):  # identity columns continue after the copied ids
        target.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}")
    target.execute("ANALYZE")  # the planner's statistics of what was just loaded, before the first query needs them
    wrong = [c for c in out if c.sqlite != c.postgres]
    if wrong:
        raise StoreError("counts differ after the copy: " + ", ".join(
            f"{c.table} {c.sqlite:,} in SQLite, {c.postgres:,} in PostgreSQL" for c in wrong)
            + " — was the PostgreSQL database written to by something else? copy into an empty database")
    return out


def _copy_table(source: sqlite3.Connection, target: Any, table: str, columns: list[str], kinds: dict[str, str], *,
                origin: str, batch: int, progress: Callable[[str, int], None] | None) -> Copied:
    key = (origin, table)
    row = target.execute("SELECT last_rowid, done FROM monitor_migration WHERE origin = %s AND table_name = %s", key).fetchone()
    last, done = row if row else (0, False)
    total = source.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    written = cleaned = 0
    # A WITHOUT ROWID table (the rollups) has no rowid to resume by: it is small, copied whole at once.
    sql = source.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0] or ""
    has_rowid = "WITHOUT ROWID" not in sql.upper()
    names = ", ".join(f'"{c}"' for c in columns)
    while not done:
        if has_rowid:
            rows = source.execute(f'SELECT rowid, {names} FROM "{table}" WHERE rowid > ? ORDER BY rowid LIMIT ?',
                                  (last, batch)).fetchall()
        else:
            rows = [(0, *r) for r in source.execute(f'SELECT {names} FROM "{table}"')]
        with target.transaction():
            if rows:
                with target.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                    for values in rows:
                        clean = []
                        for column, value in zip(columns, values[1:]):
                            if isinstance(value, str) and ("\x00" in value or "\\u0000" in value):
                                value = value.replace("\x00", "")
                                if kinds[column] == "jsonb":
                                    value = value.replace("\\u0000", "")
                                cleaned += 1
                            clean.append(value)
                        copy.write_row(clean)
                last, written = rows[-1][0], written + len(rows)
            done = not has_rowid or len(rows) < batch
            target.execute("INSERT INTO monitor_migration (origin, table_name, last_rowid, done) VALUES (%s, %s, %s, %s)"
                           " ON CONFLICT (origin, table_name) DO UPDATE SET last_rowid = excluded.last_rowid,"
                           " done = excluded.done", (*key, last, done))
        if progress is not None:
            progress(table, written)
    copied = target.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    return Copied(table, total, copied, written, cleaned)
