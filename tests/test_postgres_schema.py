"""The store's schema on a real PostgreSQL cluster (a throwaway one, started for the session):
the same tables, views and columns as on SQLite, migrations applied once, full-text search with
English stemming, the brand-health views over the rollups."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from monitor.store import Store
from monitor.store.postgres import MIGRATIONS, migrate

psycopg = pytest.importorskip("psycopg")


@pytest.fixture
def pg(postgres):
    """A fresh database on the session's cluster, migrated."""
    import uuid

    name = "t" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    with psycopg.connect(postgres.rsplit("/", 1)[0] + "/" + name, autocommit=True) as conn:
        migrate(conn)
        yield conn
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


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


def test_full_text_search_stems_english_and_the_brand_health_views_read_the_rollups(pg) -> None:
    pg.execute("INSERT INTO mentions (source, id, source_type, title, text, published_at, fetched_at, brand, brands,"
               " matched_keywords) VALUES ('blog', '1', 'rss', 'Acme Cloud', 'They refunded nobody', now(), now(),"
               " 'Acme', '[\"Acme\", \"Globex\"]', '[]')")
    found = pg.execute("SELECT id FROM mentions WHERE search @@ websearch_to_tsquery('english', 'refunds')").fetchall()
    assert found == [("1",)]
    assert pg.execute("SELECT id FROM mentions WHERE brands ? 'Globex'").fetchall() == [("1",)]
    pg.execute("INSERT INTO rollups (brand, day, source, bucket, mentions, reach_likely) VALUES"
               " ('Acme', '2026-11-23', 'blog', 'advocate', 3, 10), ('Acme', '2026-11-23', 'hn', 'assassin', 1, 500),"
               " ('Acme', '2026-11-23', 'hn', '', 2, 0)")
    day = pg.execute("SELECT mentions, advocates, assassins, unscored, net_score, assassin_reach FROM brand_health_daily").fetchone()
    assert [float(x) for x in day] == [6, 3, 1, 2, 50.0, 500]
    assert [float(x) for x in pg.execute("SELECT mentions, net_score FROM brand_health").fetchone()] == [6, 50.0]


def test_a_postgresql_url_is_refused_with_what_exists_not_taken_for_a_file_name(tmp_path: Path, monkeypatch) -> None:
    from monitor.errors import StoreError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match="is a PostgreSQL URL: only its schema exists so far") as info:
        Store("postgresql://monitor:secret@db.example:5432/monitor")
    assert "secret" not in str(info.value) and not (tmp_path / "postgresql:").exists()
