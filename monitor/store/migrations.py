"""The schema, one migration per version, applied in order on open (``PRAGMA user_version``).

The schema is a public interface (the README's "Database" section documents every table):
a migration adds, it never renames or drops what users may query, with one exception, in two steps:
v22 moved ``mentions.matched_keywords`` (every matched rule's text, repeated on each mention) to the
rule ids ``mentions.rule_ids`` of the ``rules`` table, and v23 those lists to ``rule_sets`` (each
distinct list once; a mention keeps its ``rule_set``); the view ``mention_rules`` answers what the
columns did throughout, and exports still write ``matched_keywords`` (``monitor/schema.md`` says how
to ask).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import sqlite_utils


def _v1(db: sqlite_utils.Database) -> None:
    # Long because it is the first schema, written out as one SQL script.
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


def _v10(db: sqlite_utils.Database) -> None:
    # The route that made a group, kept rather than read back out of the group key's text.
    db.executescript(
        """
        ALTER TABLE alert_groups ADD COLUMN route TEXT;
        UPDATE alert_groups SET route = substr(group_key, 1, instr(group_key, '{') - 1) WHERE instr(group_key, '{') > 0;
        """
    )


def _v11(db: sqlite_utils.Database) -> None:
    # Storms: the series one burst fires merged into one event, with its tally and its words; each
    # spike row says which storm it joined.
    db.executescript(
        """
        CREATE TABLE storms (
            id TEXT PRIMARY KEY,
            brand TEXT NOT NULL,
            source TEXT,
            kind TEXT NOT NULL,
            measure TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT NOT NULL,
            window_seconds INTEGER NOT NULL,
            ended INTEGER NOT NULL DEFAULT 0,
            posts INTEGER NOT NULL DEFAULT 0,
            expected REAL NOT NULL DEFAULT 0,
            reach_low INTEGER NOT NULL DEFAULT 0,
            reach_likely INTEGER NOT NULL DEFAULT 0,
            reach_high INTEGER NOT NULL DEFAULT 0,
            sources TEXT NOT NULL DEFAULT '{}',
            words TEXT NOT NULL DEFAULT '[]',
            series TEXT NOT NULL DEFAULT '[]',
            first TEXT NOT NULL DEFAULT '{}',
            windows TEXT NOT NULL DEFAULT '{}',
            methods TEXT NOT NULL DEFAULT '{}',
            top_posts TEXT NOT NULL DEFAULT '[]',
            summary TEXT NOT NULL DEFAULT '',
            details TEXT NOT NULL DEFAULT '',
            alerted_posts INTEGER NOT NULL DEFAULT 0,
            alerts INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX storms_open ON storms (brand, ended);
        CREATE INDEX storms_started ON storms (started_at);
        ALTER TABLE spikes ADD COLUMN storm TEXT;
        """
    )


def _v12(db: sqlite_utils.Database) -> None:
    # A site's own calls on its mentions, which teach the assassin call (monitor label, monitor train).
    db.executescript(
        """
        CREATE TABLE labels (
            mention_source TEXT NOT NULL,
            mention_id TEXT NOT NULL,
            label TEXT NOT NULL CHECK (label IN ('assassin', 'not')),
            who TEXT NOT NULL,
            at TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (mention_source, mention_id)
        );
        """
    )


def _v13(db: sqlite_utils.Database) -> None:
    # Reach that grows: each re-read that changed a mention's engagement (monitor/refresh.py) is a
    # row of ``refreshes``; the mention keeps its latest metrics and reach and when they changed.
    # A source's row says when its mentions were last re-read and how many were looked at.
    db.executescript(
        """
        CREATE TABLE refreshes (
            source TEXT NOT NULL,
            id TEXT NOT NULL,
            at TEXT NOT NULL,
            metrics_before TEXT NOT NULL,
            metrics_after TEXT NOT NULL,
            audience_before INTEGER,
            audience_after INTEGER,
            reach_high_before INTEGER,
            reach_low INTEGER NOT NULL,
            reach_high INTEGER NOT NULL,
            reach_likely INTEGER,
            alerted INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX refreshes_mention ON refreshes (source, id, at);
        CREATE INDEX refreshes_at ON refreshes (at);
        ALTER TABLE mentions ADD COLUMN refreshed_at TEXT;
        ALTER TABLE sources ADD COLUMN refreshed_at TEXT;
        ALTER TABLE sources ADD COLUMN refresh_checks_total INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sources ADD COLUMN refresh_changes_total INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sources ADD COLUMN last_refresh_error TEXT;
        """
    )
    # Mastodon statuses are filed under their uri (the same on every instance), no longer the
    # instance's local id, which is kept in metrics for re-reading; labels follow their mention.
    db.executescript(
        """
        UPDATE OR IGNORE mentions SET id = json_extract(raw, '$.uri'), metrics = json_set(coalesce(metrics, '{}'), '$.local_id', id)
          WHERE source_type = 'mastodon' AND json_valid(raw) AND json_extract(raw, '$.uri') IS NOT NULL AND id NOT LIKE '%://%';
        UPDATE OR IGNORE labels SET mention_id = (
            SELECT m.id FROM mentions m WHERE m.source = labels.mention_source AND m.source_type = 'mastodon'
              AND json_extract(m.metrics, '$.local_id') = labels.mention_id)
          WHERE EXISTS (SELECT 1 FROM mentions m WHERE m.source = labels.mention_source AND m.source_type = 'mastodon'
              AND json_extract(m.metrics, '$.local_id') = labels.mention_id);
        """
    )


# The brand-health views over the rollups, as of version 14 (PostgreSQL's schema defines the same).
BRAND_HEALTH_VIEWS = """
        -- One row per brand and UTC day; a mention naming two brands counts for both.
        CREATE VIEW brand_health_daily AS
        SELECT brand, day,
               sum(mentions) AS mentions,
               sum(CASE WHEN bucket = 'advocate' THEN mentions ELSE 0 END) AS advocates,
               sum(CASE WHEN bucket = 'apathetic' THEN mentions ELSE 0 END) AS apathetics,
               sum(CASE WHEN bucket = 'assassin' THEN mentions ELSE 0 END) AS assassins,
               sum(CASE WHEN bucket = '' THEN mentions ELSE 0 END) AS unscored,
               round(100.0 * (sum(CASE WHEN bucket = 'advocate' THEN mentions ELSE 0 END)
                              - sum(CASE WHEN bucket = 'assassin' THEN mentions ELSE 0 END))
                     / nullif(sum(CASE WHEN bucket != '' THEN mentions ELSE 0 END), 0), 1) AS net_score,
               sum(CASE WHEN bucket = 'assassin' THEN reach_likely ELSE 0 END) AS assassin_reach
        FROM rollups
        GROUP BY brand, day;
        CREATE VIEW brand_health AS
        SELECT brand, sum(mentions) AS mentions, sum(advocates) AS advocates, sum(apathetics) AS apathetics,
               sum(assassins) AS assassins, sum(unscored) AS unscored,
               round(100.0 * (sum(advocates) - sum(assassins)) / nullif(sum(mentions) - sum(unscored), 0), 1) AS net_score,
               min(day) AS first_day, max(day) AS last_day
        FROM brand_health_daily
        GROUP BY brand;
"""


def _v14(db: sqlite_utils.Database) -> None:
    # Rollups: mentions and likely reach per (brand, UTC day, source, bucket; '' when unscored),
    # kept in the transaction that stores mentions; brand health reads them, not every mention.
    db.executescript(
        """
        CREATE TABLE rollups (
            brand TEXT NOT NULL,
            day TEXT NOT NULL,
            source TEXT NOT NULL,
            bucket TEXT NOT NULL,
            mentions INTEGER NOT NULL DEFAULT 0,
            reach_likely INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (brand, day, source, bucket)
        ) WITHOUT ROWID;
        INSERT INTO rollups (brand, day, source, bucket, mentions, reach_likely)
        SELECT b.value, substr(m.published_at, 1, 10), m.source, coalesce(m.bucket, ''), count(*),
               coalesce(sum(m.reach_likely), 0)
        FROM mentions m, json_each(m.brands) b GROUP BY 1, 2, 3, 4;
        DROP VIEW brand_health;
        DROP VIEW brand_health_daily;
        """ + BRAND_HEALTH_VIEWS
    )


def _v15(db: sqlite_utils.Database) -> None:
    # An author's posts, newest first (monitor serve's author page, links from every assassin):
    # a search by source alone then sorting its posts took 0.1 s at a million mentions.
    db.execute("CREATE INDEX mentions_author ON mentions (source, author, published_at)")


def _v16(db: sqlite_utils.Database) -> None:
    # Leases: which worker holds a source's run or the spike watch, until when; workers' heartbeats.
    db.execute("CREATE TABLE leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, until TEXT NOT NULL)")
    db.execute("CREATE TABLE workers (name TEXT PRIMARY KEY, started_at TEXT NOT NULL, heartbeat_at TEXT NOT NULL)")


def _v17(db: sqlite_utils.Database) -> None:
    # Waits: a host or a receiver that asked us to wait (Retry-After, a spent quota), until when,
    # kept across runs so a cron job of monitor once every few seconds still waits as asked.
    db.execute("CREATE TABLE waits (name TEXT PRIMARY KEY, until TEXT NOT NULL, reason TEXT)")


def _v18(db: sqlite_utils.Database) -> None:
    # Alert actions: what people did to an alert from Slack's buttons, once per distinct act.
    db.execute("CREATE TABLE alert_actions (id INTEGER PRIMARY KEY, notification TEXT NOT NULL, receiver TEXT,"
               " action TEXT NOT NULL, value TEXT NOT NULL DEFAULT '', who TEXT NOT NULL, at TEXT NOT NULL,"
               " envelope TEXT UNIQUE, UNIQUE (notification, action, value))")


def _v19(db: sqlite_utils.Database) -> None:
    # Edits: a review sent again with other words or stars is updated in place; what it said before is kept here.
    db.execute("CREATE TABLE edits (source TEXT NOT NULL, id TEXT NOT NULL, at TEXT NOT NULL, title_before TEXT,"
               " text_before TEXT, rating_before INTEGER, rating_after INTEGER, bucket_before TEXT, bucket_after TEXT)")
    db.execute("CREATE INDEX edits_mention ON edits (source, id, at)")


def _v20(db: sqlite_utils.Database) -> None:
    # Brands: the watched brands as config.yaml last said them, which of them are competitors (share of voice).
    db.execute("CREATE TABLE brands (name TEXT PRIMARY KEY, competitor INTEGER NOT NULL DEFAULT 0,"
               " alerting INTEGER NOT NULL DEFAULT 1, updated_at TEXT NOT NULL)")


def _v21(db: sqlite_utils.Database) -> None:
    # The dashboard's top texts read one bucket's posts of a period (a million mentions: 300 ms
    # scanning the period's every post, 75 ms by bucket); the posts to label are those nearest the
    # threshold, read outwards from it (9 s sorting every scored post).
    db.execute("CREATE INDEX mentions_bucket ON mentions (bucket, published_at)")
    db.execute("CREATE INDEX mentions_assassin_score ON mentions (assassin_score)")


def _v22(db: sqlite_utils.Database) -> None:
    # Matched rules by reference: at 10,000 rules a post matching 25 of them kept 1.7 KB of rule
    # text (2.2× the bytes of a mention matching one); each rule's text is now stored once. A
    # rule's text never changes under its id: an edited rule is a new row, so an old mention
    # still says what matched it then.
    db.executescript(
        """
        CREATE TABLE rules (id INTEGER PRIMARY KEY, rule TEXT NOT NULL UNIQUE, first_matched_at TEXT NOT NULL);
        ALTER TABLE mentions ADD COLUMN rule_ids TEXT NOT NULL DEFAULT '[]';
        INSERT INTO rules (rule, first_matched_at)
          SELECT j.value, min(m.fetched_at) FROM mentions m, json_each(m.matched_keywords) j
          GROUP BY j.value ORDER BY min(m.rowid);
        UPDATE mentions SET rule_ids = (SELECT coalesce(json_group_array(id), '[]') FROM
          (SELECT r.id FROM json_each(mentions.matched_keywords) j JOIN rules r ON r.rule = j.value ORDER BY j.key))
          WHERE matched_keywords != '[]';
        ALTER TABLE mentions DROP COLUMN matched_keywords;
        CREATE VIEW mention_rules AS
          SELECT m.source, m.id, j.key AS position, r.id AS rule_id, r.rule
          FROM mentions m, json_each(m.rule_ids) j JOIN rules r ON r.id = j.value;
        """
    )


def _v23(db: sqlite_utils.Database) -> None:
    # Matched rules by set: a post matching 25 of 10,000 rules still kept 25 ids (119 bytes, 1.13×
    # the bytes of a mention matching one rule); the lists repeat (a brand's rules and the words of
    # its posts make few distinct ones), so each is stored once and a mention keeps its number.
    db.executescript(
        """
        CREATE TABLE rule_sets (id INTEGER PRIMARY KEY, rule_ids TEXT NOT NULL UNIQUE);
        INSERT INTO rule_sets (rule_ids) SELECT rule_ids FROM mentions WHERE rule_ids != '[]'
          GROUP BY rule_ids ORDER BY min(rowid);
        ALTER TABLE mentions ADD COLUMN rule_set INTEGER;
        UPDATE mentions SET rule_set = (SELECT id FROM rule_sets s WHERE s.rule_ids = mentions.rule_ids)
          WHERE rule_ids != '[]';
        DROP VIEW mention_rules;
        ALTER TABLE mentions DROP COLUMN rule_ids;
        CREATE VIEW mention_rules AS
          SELECT m.source, m.id, j.key AS position, r.id AS rule_id, r.rule
          FROM mentions m JOIN rule_sets s ON s.id = m.rule_set, json_each(s.rule_ids) j JOIN rules r ON r.id = j.value;
        """
    )


def _v24(db: sqlite_utils.Database) -> None:
    # Who speaks: only a customer can be an assassin, so the brand's own channels and the press are
    # bucketed apathetic; ``read_as`` keeps what the call read in their words (hostile coverage is
    # press read as an assassin). Both NULL for a customer (nearly every post: no bytes, no rewrite of
    # the table). Earlier rows are customers unless their first reason says otherwise: the press's
    # kept an assassin's reasons after its own (else it was read as an advocate); the brand's did not
    # say (an apathetic post of either was stored as it was read, and reads as a customer's). The
    # index holds only the few rows not a customer's.
    db.executescript(
        """
        ALTER TABLE mentions ADD COLUMN speaker TEXT;
        ALTER TABLE mentions ADD COLUMN read_as TEXT;
        UPDATE mentions SET speaker = 'press',
          read_as = CASE WHEN json_array_length(bucket_reasons) > 1 THEN 'assassin' ELSE 'advocate' END
          WHERE bucket_reasons LIKE '["news coverage (press: true)%';
        UPDATE mentions SET speaker = 'brand', read_as = NULL
          WHERE bucket_reasons LIKE '["the brand''s own channel (official: true)%'
             OR bucket_reasons LIKE '["the brand''s own account (%';
        CREATE INDEX mentions_speaker ON mentions (speaker, read_as, published_at) WHERE speaker IS NOT NULL;
        """
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9, _v10, _v11, _v12, _v13, _v14,
                                                             _v15, _v16, _v17, _v18, _v19, _v20, _v21, _v22, _v23, _v24]
