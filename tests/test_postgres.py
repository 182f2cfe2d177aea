"""PostgreSQL, on a real cluster (a throwaway one, started for the session): the store's schema
(the same tables, views and columns as on SQLite, migrations applied once, full-text search with
English stemming, the brand-health views over the rollups), and ``monitor migrate`` copying a
SQLite store into it (every row, resumable, counts checked)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from monitor.store import Store
from monitor.store.postgres import MIGRATIONS, migrate
from tests.support import new_postgres_database

psycopg = pytest.importorskip("psycopg")


@pytest.fixture
def database(postgres):
    """The URL of a fresh, empty database on the session's cluster."""
    url = new_postgres_database(postgres)
    yield url
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {url.rsplit('/', 1)[1]} WITH (FORCE)")


@pytest.fixture
def pg(database):
    """A connection to a fresh database, migrated."""
    with psycopg.connect(database, autocommit=True) as conn:
        migrate(conn)
        yield conn


def _sqlite_columns(tmp_path: Path) -> dict[str, list[str]]:
    Store(tmp_path / "m.db").close()
    with sqlite3.connect(tmp_path / "m.db") as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
                 if not r[0].startswith(("mentions_fts", "sqlite_"))]
        return {n: [r[1] for r in conn.execute(f"PRAGMA table_info({n})")] for n in names}


def test_the_same_tables_views_and_columns_as_on_sqlite(pg, tmp_path: Path) -> None:
    theirs: dict[str, list[str]] = {}
    for table, column in pg.execute("SELECT table_name, column_name FROM information_schema.columns"
                                    " WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"):
        theirs.setdefault(table, []).append(column)
    ours = _sqlite_columns(tmp_path)
    assert set(theirs) - {"monitor_schema"} == set(ours)
    for name, columns in ours.items():
        extra = ["search"] if name == "mentions" else []  # the full-text index, a column here
        assert sorted(theirs[name]) == sorted(columns + extra), name


def test_migrations_run_once(pg) -> None:
    assert migrate(pg) == len(MIGRATIONS)
    assert pg.execute("SELECT version FROM monitor_schema").fetchall() == [(len(MIGRATIONS),)]


def test_the_migration_moves_matched_rule_texts_to_the_rules_table(pg) -> None:
    with pg.transaction():  # a database at version 7, before matched rules were stored by reference
        pg.execute("DROP SCHEMA public CASCADE")
        pg.execute("CREATE SCHEMA public")
        pg.execute("CREATE TABLE monitor_schema (version integer NOT NULL)")
        pg.execute("INSERT INTO monitor_schema VALUES (7)")
        for script in MIGRATIONS[:7]:
            pg.execute(script)
    for ident, rules in (("1", '["\\"Acme\\"", "acme AND outage"]'), ("2", '["acme AND outage"]'), ("3", "[]")):
        pg.execute("INSERT INTO mentions (source, id, source_type, published_at, fetched_at, brand, brands, matched_keywords)"
                   " VALUES ('blog', %s, 'rss', now(), %s, 'Acme', '[]', %s)", (ident, f"2026-01-0{ident}T00:00:00Z", rules))
    assert migrate(pg) == len(MIGRATIONS)
    assert pg.execute("SELECT id, rule FROM rules ORDER BY id").fetchall() == [(1, '"Acme"'), (2, "acme AND outage")]
    assert pg.execute("SELECT m.id, s.rule_ids FROM mentions m LEFT JOIN rule_sets s ON s.id = m.rule_set ORDER BY m.id"
                      ).fetchall() == [("1", "[1,2]"), ("2", "[2]"), ("3", None)], "the lists as the store writes them"
    assert pg.execute("SELECT id, position, rule FROM mention_rules ORDER BY id, position").fetchall() == [
        ("1", 0, '"Acme"'), ("1", 1, "acme AND outage"), ("2", 0, "acme AND outage")]


def test_the_migration_says_who_spoke_each_earlier_post_from_its_first_reason(pg) -> None:
    from tests.test_store import SPOKEN

    with pg.transaction():  # a database at version 9, before mentions.speaker and mentions.read_as
        pg.execute("DROP SCHEMA public CASCADE")
        pg.execute("CREATE SCHEMA public")
        pg.execute("CREATE TABLE monitor_schema (version integer NOT NULL)")
        pg.execute("INSERT INTO monitor_schema VALUES (9)")
        for script in MIGRATIONS[:9]:
            pg.execute(script)
    for ident, bucket, reasons, _, _ in SPOKEN:
        pg.execute("INSERT INTO mentions (source, id, source_type, published_at, fetched_at, brand, brands, bucket,"
                   " bucket_reasons) VALUES ('s', %s, 'rss', now(), now(), 'Acme', '[]', %s, %s)",
                   (ident, bucket, json.dumps(reasons)))
    assert migrate(pg) == len(MIGRATIONS)
    found = dict((i, (s, r)) for i, s, r in pg.execute("SELECT id, speaker, read_as FROM mentions").fetchall())
    assert found == {ident: (speaker, read_as) for ident, _, _, speaker, read_as in SPOKEN}


def test_full_text_search_stems_english_and_the_brand_health_views_read_the_rollups(pg) -> None:
    pg.execute("INSERT INTO mentions (source, id, source_type, title, text, published_at, fetched_at, brand, brands)"
               " VALUES ('blog', '1', 'rss', 'Acme Cloud', 'They refunded nobody', now(), now(),"
               " 'Acme', '[\"Acme\", \"Globex\"]')")
    found = pg.execute("SELECT id FROM mentions WHERE search @@ websearch_to_tsquery('english', 'refunds')").fetchall()
    assert found == [("1",)]
    assert pg.execute("SELECT id FROM mentions WHERE brands ? 'Globex'").fetchall() == [("1",)]
    pg.execute("INSERT INTO rollups (brand, day, source, bucket, mentions, reach_likely) VALUES"
               " ('Acme', '2026-11-23', 'blog', 'advocate', 3, 10), ('Acme', '2026-11-23', 'hn', 'assassin', 1, 500),"
               " ('Acme', '2026-11-23', 'hn', '', 2, 0)")
    day = pg.execute("SELECT mentions, advocates, assassins, unscored, net_score, assassin_reach FROM brand_health_daily").fetchone()
    assert [float(x) for x in day] == [6, 3, 1, 2, 50.0, 500]
    assert [float(x) for x in pg.execute("SELECT mentions, net_score FROM brand_health").fetchone()] == [6, 50.0]


def test_a_postgresql_url_opens_the_store_there_and_a_password_in_it_is_refused(database: str, tmp_path: Path,
                                                                               monkeypatch) -> None:
    from monitor.config_check import parse_config
    from monitor.errors import ConfigError, StoreError
    from monitor.store.pgstore import PgStore

    monkeypatch.chdir(tmp_path)
    with Store(database) as store:
        assert isinstance(store, PgStore) and store.schema_version == len(MIGRATIONS)
    with Store(database, readonly=True) as store:
        assert store.sources_status() == []
    with pytest.raises(StoreError, match="holds a password — put it in PGPASSWORD or ~/.pgpass") as info:
        Store("postgresql://monitor:secret@db.example:5432/monitor")
    assert "secret" not in str(info.value) and not (tmp_path / "postgresql:").exists()
    with pytest.raises(ConfigError, match="a password in the database URL") as info:
        parse_config("database: postgresql://me:hunter2@db.example/monitor\nbrands: [{name: Acme, keywords: [acme]}]\n")
    assert "hunter2" not in str(info.value)
    config = parse_config(f"database: {database}\nbrands: [{{name: Acme, keywords: [acme]}}]\n")
    assert config.database == database


def _demo(tmp_path: Path) -> Path:
    from click.testing import CliRunner

    from monitor.cli import main

    db = tmp_path / "demo.db"
    assert CliRunner().invoke(main, ["--db", str(db), "demo"], catch_exceptions=False).exit_code == 0
    return db


def test_migrate_copies_every_table_of_a_sqlite_store_and_checks_the_counts(tmp_path: Path, database: str) -> None:
    from click.testing import CliRunner

    from monitor.cli import main

    db = _demo(tmp_path)
    result = CliRunner().invoke(main, ["migrate", "--from", str(db), "--to", database], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "mentions: " in result.output and "as in the SQLite file" in result.output
    with sqlite3.connect(db) as lite, psycopg.connect(database) as pg:
        for table in _sqlite_columns(tmp_path / "schema"):
            assert lite.execute(f"SELECT count(*) FROM {table}").fetchone() == pg.execute(f"SELECT count(*) FROM {table}").fetchone(), table
        assert lite.execute("SELECT count(*) FROM mentions").fetchone()[0] > 10
        assert lite.execute("SELECT count(*) FROM spikes").fetchone()[0] >= 1
        daily = "SELECT brand, day, mentions, advocates, assassins, net_score FROM brand_health_daily ORDER BY brand, day"
        assert [(b, str(d), m, a, s, float(n) if n is not None else None) for b, d, m, a, s, n in pg.execute(daily)] == \
               [(b, d, m, a, s, n) for b, d, m, a, s, n in lite.execute(daily)]
        first = lite.execute("SELECT source, id, published_at, brands, raw FROM mentions ORDER BY rowid LIMIT 1").fetchone()
        copied = pg.execute("SELECT published_at, brands, raw FROM mentions WHERE source = %s AND id = %s", first[:2]).fetchone()
        assert copied[0].isoformat().replace("+00:00", "Z") == first[2]
        assert copied[1] == json.loads(first[3]) and copied[2] == (json.loads(first[4]) if first[4] else None)
        assert pg.execute("SELECT count(*) FROM mentions WHERE search @@ websearch_to_tsquery('english', 'outages')").fetchone()[0] >= 1
    again = CliRunner().invoke(main, ["migrate", "--from", str(db), "--to", database], catch_exceptions=False)
    assert again.exit_code == 0 and "mentions: " in again.output and "(0 copied now" in again.output, "all copied before"
    with psycopg.connect(database, autocommit=True) as pg:  # rows written after the copy take ids after the copied ones
        copied_max = pg.execute("SELECT max(id) FROM spikes").fetchone()[0]
        new = pg.execute("INSERT INTO spikes (series, brand, measure, kind, window_start, window_end, observed, expected,"
                         " band_low, band_high, z, confidence, method, explanation) VALUES ('s', 'b', 'm', 'spike', now(),"
                         " now(), 1, 1, 0, 2, 0, 0, 'x', '{}') RETURNING id").fetchone()[0]
        assert new == copied_max + 1
    third = CliRunner().invoke(main, ["migrate", "--from", str(db), "--to", database])
    assert third.exit_code == 1 and "counts differ after the copy: spikes" in third.output


def test_migrate_goes_on_after_an_interruption_from_the_last_committed_batch(tmp_path: Path, database: str) -> None:
    from monitor.store.postgres import copy_sqlite

    db = _demo(tmp_path)
    seen: list[tuple[str, int]] = []

    def stop_after_two_batches(table: str, rows: int) -> None:
        seen.append((table, rows))
        if table == "mentions" and rows >= 6:
            raise KeyboardInterrupt

    with sqlite3.connect(db) as lite, psycopg.connect(database, autocommit=True) as pg:
        with pytest.raises(KeyboardInterrupt):
            copy_sqlite(lite, pg, origin=str(db), batch=3, progress=stop_after_two_batches)
        assert pg.execute("SELECT count(*) FROM mentions").fetchone()[0] == 6
        copied = {c.table: c for c in copy_sqlite(lite, pg, origin=str(db), batch=3)}
    total = copied["mentions"].sqlite
    assert copied["mentions"].postgres == total and copied["mentions"].written == total - 6
    assert all(c.sqlite == c.postgres for c in copied.values())


def test_migrate_refuses_a_password_on_the_command_line_and_what_is_not_postgresql(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from monitor.cli import main

    db = tmp_path / "m.db"
    Store(db).close()
    result = CliRunner().invoke(main, ["migrate", "--from", str(db), "--to", "postgresql://me:hunter2@db.example/monitor"])
    assert result.exit_code == 2 and "PGPASSWORD or ~/.pgpass" in result.output and "hunter2" not in result.output
    result = CliRunner().invoke(main, ["migrate", "--from", str(db), "--to", "mysql://db.example/monitor"])
    assert result.exit_code == 2 and "must be a postgresql:// URL" in result.output


def test_sqlite_placeholders_become_psycopgs_outside_quoted_text() -> None:
    from monitor.store.pgdb import translate

    assert translate("SELECT * FROM t WHERE a = ? AND b = :name") == "SELECT * FROM t WHERE a = %s AND b = %(name)s"
    assert translate("SELECT '?', 'it''s 50%', \"odd?col\" FROM t WHERE x LIKE ? || '%'") == \
        "SELECT '?', 'it''s 50%%', \"odd?col\" FROM t WHERE x LIKE %s || '%%'"
    assert translate("SELECT x::text, 5 % 2 FROM t WHERE y = ?") == "SELECT x::text, 5 %% 2 FROM t WHERE y = %s"


def test_a_postgresql_database_reads_and_writes_like_the_sqlite_store(database: str) -> None:
    """ISO text in, ISO text out; JSON text in and out; sums as ints; transactions as sqlite3's."""
    from monitor.store.pgdb import PgDatabase

    db = PgDatabase(database)
    try:
        migrate(db.conn.raw)
        db.conn.executemany(
            "INSERT INTO labels (mention_source, mention_id, label, who, at, note) VALUES (?, ?, ?, ?, ?, ?)",
            [("blog", "1", "assassin", "ann", "2026-11-23T12:00:00Z", "50% sure"), ("blog", "2", "not", "bob",
                                                                                       "2026-11-24T08:30:00Z", "")])
        rows = list(db.query("SELECT * FROM labels WHERE at >= ? ORDER BY at", ("2026-11-23T00:00:00Z",)))
        assert [(r["mention_id"], r["at"], r["note"]) for r in rows] == [("1", "2026-11-23T12:00:00Z", "50% sure"),
                                                                        ("2", "2026-11-24T08:30:00Z", "")]
        db.execute("INSERT INTO rollups (brand, day, source, bucket, mentions, reach_likely) VALUES"
                   " (:brand, :day, 'hn', 'assassin', 2, 10)", {"brand": "Acme", "day": "2026-11-23"})
        assert list(db.query("SELECT day, assassins, assassin_reach FROM brand_health_daily")) == \
            [{"day": "2026-11-23", "assassins": 2, "assassin_reach": 10}]
        assert not db.conn.in_transaction
        db.execute("BEGIN")
        db.execute("UPDATE labels SET note = ? WHERE mention_id = ?", ('{"a": 1}', "2"))
        assert db.conn.in_transaction
        db.execute("ROLLBACK")
        assert db.execute("SELECT note FROM labels WHERE mention_id = '2'").fetchone() == ("",)
        db.execute("INSERT INTO spike_series (series, state, updated_at) VALUES (?, ?, ?)",
                   ("Acme|*|mentions", '{"level": 1.5, "daily": [0.0]}', "2026-11-23T12:00:00Z"))
        assert json.loads(db.execute("SELECT state FROM spike_series").fetchone()[0]) == {"level": 1.5, "daily": [0.0]}
    finally:
        db.close()


def _demo_run(store, now) -> list:
    """The demo's two weeks of history and today's posts through the real pipeline into ``store``."""
    from connectors.http import make_client
    from monitor import demo as demo_data
    from monitor.cli.history import _store_history
    from monitor.config_check import parse_config
    from monitor.pipeline import run_once
    from monitor.runtime import Runtime

    with demo_data.serve(now) as base:
        config = parse_config(demo_data.DEMO_CONFIG.format(base=base), path="demo config")
        with make_client(contact=config.contact) as client:
            runtime = Runtime.build(config, client=client)
            _store_history(runtime, store, now)
            return run_once(runtime, store, now=now)


def _what_it_holds(store, now) -> dict:
    from datetime import timedelta

    from monitor.judgement.series import NEGATIVE

    week = (now - timedelta(days=14), now + timedelta(hours=1))
    return {
        "tables": {t: store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                   for t in ("mentions", "authors", "author_transitions", "rollups", "spike_series", "spikes", "storms",
                             "alerts", "alert_groups", "sources")},
        "buckets": store.bucket_totals(),
        "health": [tuple(r.values()) for r in store.health_days("Acme Cloud", *week)],
        "counts": store.window_counts("Acme Cloud", *week, timedelta(hours=1), NEGATIVE),
        "first": store.first_published("Acme Cloud"),
        "top": [j.mention.id for j in store.top_mentions("Acme Cloud", "assassin", *week, limit=5)],
        "search": sorted(r["id"] for r in store.search("outage", limit=10_000)),
        "phrase": sorted(r["id"] for r in store.search('"status page" OR refund*', limit=100)),
        "not": sorted(r["id"] for r in store.search("outage NOT status", limit=10_000, brand="acme cloud")),
        "alerts": sorted((r["receiver"], r["status"]) for r in store.db.query("SELECT receiver, status FROM alerts")),
        "storms": sorted(r["summary"] for r in store.storms(since=week[0])),
        "spikes": sorted((r["series"], r["window_start"], r["kind"]) for r in store.db.query(
            "SELECT series, window_start, kind FROM spikes")),
        "authors": sorted((r["source"], r["handle"], r["bucket"], r["mentions"]) for r in store.db.query(
            "SELECT source, handle, bucket, mentions FROM authors")),
        "sources": sorted((r["name"], r["mentions_stored"], r["first_published_at"]) for r in store.sources_status()),
        "export": sum(1 for _ in store.export("mentions", brand="ACME CLOUD")),
    }


def test_the_pipeline_keeps_the_same_store_on_postgresql_as_on_sqlite(tmp_path: Path, database: str) -> None:
    """The demo's history and posts through the real pipeline (connectors, judging, the store, the
    spike watch, storms, the router to the console) once into SQLite and once into PostgreSQL:
    the two stores hold and answer the same."""
    from monitor.models import utcnow
    from monitor.store.pgstore import PgStore

    now = utcnow()
    with Store(tmp_path / "demo.db") as lite:
        _demo_run(lite, now)
        expected = _what_it_holds(lite, now)
    with PgStore(database) as pg:
        _demo_run(pg, now)
        found = _what_it_holds(pg, now)
    assert expected["tables"]["mentions"] > 100 and expected["tables"]["spikes"] >= 1 and expected["search"]
    for key in expected:
        assert found[key] == expected[key], key


def _rows(csv_text: str) -> list[dict]:
    import csv
    import io

    def value(text: str):
        try:
            return json.loads(text) if text[:1] in "[{" else text
        except ValueError:
            return text

    rows = [{k: value(v) for k, v in row.items() if not k.endswith("_at")} for row in csv.DictReader(io.StringIO(csv_text))]
    return sorted(rows, key=lambda r: (r["source"], r["id"]))  # posts of the same second come in either order


def test_the_commands_answer_the_same_on_postgresql_as_on_sqlite(tmp_path: Path, postgres: str, database: str) -> None:
    """What people type (search, export, backtest) answers the same from one history in SQLite and
    in PostgreSQL; `monitor demo`, status and report run on PostgreSQL; serve says it reads SQLite.

    The history is the SQLite demo's, copied by `monitor migrate`: two demos run at their own
    now differ in where their posts fall in the five-minute windows, so a spike's z can differ
    in its last digit (the pipeline itself is held equal at one instant in the test above)."""
    from click.testing import CliRunner

    from monitor.cli import main

    def run(db: str, *args: str) -> str:
        result = CliRunner().invoke(main, ["--db", db, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    lite = str(tmp_path / "demo.db")
    assert "Stored " in run(lite, "demo") and "Stored " in run(database, "demo")
    copy = new_postgres_database(postgres)
    run(lite, "migrate", "--from", lite, "--to", copy)
    for args in (["search", "refund", "--order", "newest", "--limit", "50"], ["export", "mentions", "--brand", "acme cloud"],
                 ["backtest", "--since", "30d"]):
        mine = run(lite, *args)
        theirs = run(copy, *args)
        if args[0] == "backtest":  # the period's end is each run's now
            mine, theirs = (re.sub(r"between \S+ and \S+", "", x) for x in (mine, theirs))
        if args[0] == "export":  # jsonb keeps JSON's meaning, not its spelling
            mine, theirs = (_rows(x) for x in (mine, theirs))
        assert theirs == mine, args
    assert "forum" in run(database, "status")
    assert "storm" in run(database, "backtest", "--since", "30d").lower()
    report = tmp_path / "report.html"
    run(database, "report", "--since", "30d", "--out", str(report))
    assert "Acme Cloud" in report.read_text(encoding="utf-8")
    refused = CliRunner().invoke(main, ["--db", database, "serve"])
    assert refused.exit_code == 2 and "Datasette reads SQLite" in refused.output


def test_a_claim_waits_for_another_deliverers_and_then_finds_the_alerts_taken(database: str) -> None:
    """Two processes delivering from one PostgreSQL store (monitor run and monitor once): the
    second claim waits on the first's row locks, then sees the alerts gone and claims nothing."""
    import threading
    import time

    from tests.support import NOW, hostile_alert

    first, second = Store(database), Store(database)
    try:
        assert first.enqueue_alert(hostile_alert(), "console", now=NOW)
        keys = [r["key"] for r in first.db.query("SELECT key FROM alerts")]
        results: list[bool] = []
        with first.transaction():
            first.db.execute("SELECT key FROM alerts WHERE status = 'pending' FOR UPDATE")
            waiter = threading.Thread(target=lambda: results.append(second.mark_sending(keys, "n2", now=NOW)))
            waiter.start()
            deadline = time.monotonic() + 30
            while not first.db.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'").fetchone()[0]:
                assert time.monotonic() < deadline, "the second claim never waited on the first's locks"
                time.sleep(0.01)
            first.db.execute("UPDATE alerts SET status = 'sending', notification = 'n1'")
        waiter.join(30)
        assert results == [False]
        assert [r["notification"] for r in first.db.query("SELECT notification FROM alerts")] == ["n1"]
    finally:
        first.close()
        second.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def either(request, tmp_path: Path) -> str:
    """A database of each kind: a SQLite file, a fresh PostgreSQL database."""
    return str(tmp_path / "m.db") if request.param == "sqlite" else request.getfixturevalue("database")


def test_a_lease_goes_to_one_worker_lapses_when_its_worker_dies_and_is_given_back(either: str) -> None:
    from datetime import timedelta

    from tests.support import NOW

    later = NOW + timedelta(minutes=30)
    with Store(either) as one, Store(either) as two:
        assert one.lease("source:hn", owner="a:1", now=NOW, until=later)
        assert not two.lease("source:hn", owner="b:2", now=NOW + timedelta(minutes=5), until=later)
        assert one.lease("source:hn", owner="a:1", now=NOW + timedelta(minutes=5), until=later), "its own, renewed"
        assert [(r["name"], r["owner"]) for r in two.leases(now=NOW)] == [("source:hn", "a:1")]
        assert two.lease("source:hn", owner="b:2", now=later, until=later + timedelta(minutes=30)), "a:1 died: lapsed"
        one.release("source:hn", owner="a:1")  # too late: not a:1's any more
        assert [r["owner"] for r in one.leases(now=later)] == ["b:2"]
        two.release("source:hn", owner="b:2")
        assert one.leases(now=later) == [] and one.lease("source:hn", owner="a:1", now=later, until=later)


def test_workers_starting_together_migrate_a_new_postgresql_database_once(database: str) -> None:
    """Found by benchmarks/workers.py: CREATE TABLE IF NOT EXISTS races between processes."""
    import threading

    barrier, errors = threading.Barrier(4), []

    def open_it() -> None:
        barrier.wait()
        try:
            Store(database).close()
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with Store(database) as store:
        assert store.schema_version == len(MIGRATIONS)


def test_a_writer_keeps_the_planners_statistics_so_known_ids_are_found_by_the_primary_key(database: str) -> None:
    """A new database has no statistics until autovacuum's next look (a minute): its planner
    takes a source's mentions for a few dozen rows and reads them all to find known ids. The
    store analyzes after its first 1,000 mentions and each doubling; migrate after its copy."""
    from tests.test_store import judged

    def estimate(store) -> int:  # the planner's guess of a source's mentions
        line = store.db.execute("EXPLAIN SELECT id FROM mentions WHERE source = 'blog'").fetchone()[0]
        return int(re.search(r"rows=(\d+)", line).group(1))

    with Store(database) as store:
        for page in range(12):
            store.save_mentions([judged(f"{page}-{i}") for i in range(100)], fetched_at=judged("x").mention.published_at)
        assert store.db.execute("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'mentions'").fetchone()[0]
        assert 900 <= estimate(store) <= 1300, estimate(store)  # without: a few dozen, and a scan of them all per page


def test_a_read_only_role_reads_what_the_pr_team_needs_and_cannot_write(tmp_path: Path, database: str) -> None:
    """The README's role for PR teams (SELECT only): `monitor search`, `export`, `status` and
    `report` work through it; a command that writes is refused by the server, said plainly."""
    from click.testing import CliRunner

    from monitor.cli import main

    assert CliRunner().invoke(main, ["--db", database, "demo"]).exit_code == 0
    name = database.rsplit("/", 1)[1]
    with psycopg.connect(database, autocommit=True) as admin:  # the README's grants (trust auth here: no password)
        admin.execute("DO $$ BEGIN CREATE ROLE pr_team LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        admin.execute(f"GRANT CONNECT ON DATABASE {name} TO pr_team")
        admin.execute("GRANT USAGE ON SCHEMA public TO pr_team")
        admin.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO pr_team")
    reader = database.replace("postgresql://monitor@", "postgresql://pr_team@")
    for args in (["search", "refund", "--limit", "3"], ["export", "mentions", "--brand", "acme cloud"], ["status"],
                 ["report", "--since", "30d", "--out", str(tmp_path / "r.html")]):
        result = CliRunner().invoke(main, ["--db", reader, *args])
        assert result.exit_code == 0, (args, result.output)
    assert "Acme Cloud" in (tmp_path / "r.html").read_text(encoding="utf-8")
    refused = CliRunner().invoke(main, ["--db", reader, "silence", "add", "kind=test", "--for", "1h", "--author", "a",
                                        "--reason", "r"])
    assert refused.exit_code != 0 and "Traceback" not in refused.output and "permission denied" in refused.output, refused.output
