"""The SQLite store on real files: migrations, exactly-once mentions, FTS, source state, outbox."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.models import Alert, Judged, Match, Mention, Reach, Score, SourceState
from monitor.store import MIGRATIONS, Store, alert_from_dict, alert_to_dict
from tests.support import NOW


def judged(ident: str, text: str = "Acme Cloud is down again", *, source: str = "blog") -> Judged:
    mention = Mention(source=source, id=ident, url=f"https://example.com/{ident}", text=text, published_at=NOW,
                      title="Title " + ident, author="dana", source_type="rss", metrics={"points": 3}, raw={"id": ident})
    return Judged(mention, Match(("Acme",), ('"Acme Cloud"',)), Score(-0.7, "assassin", ("compound -0.70 ≤ -0.50",)),
                  Reach(1, 19, "audience unknown"))


def test_migrations_apply_once_and_wal_is_on(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    Store(path).close()
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert {"mentions", "sources", "alerts", "mentions_fts"} <= set(store.db.table_names())


def mention_count(store: Store) -> int:
    return store.db.execute("SELECT count(*) FROM mentions").fetchone()[0]


def test_a_mention_is_stored_once_however_often_it_is_saved(database: str) -> None:
    with Store(database) as store:
        store.ensure_source("blog", "rss", now=NOW)
        assert len(store.save_mentions([judged("1"), judged("2")], fetched_at=NOW)) == 2
        assert [j.mention.id for j in store.save_mentions([judged("2"), judged("3")], fetched_at=NOW)] == ["3"]
        assert mention_count(store) == 3
        assert store.source_row("blog")["mentions_stored"] == 3
        assert store.known_ids("blog", ["1", "9"]) == {"1"}


def test_same_id_in_two_sources_is_two_mentions(database: str) -> None:
    with Store(database) as store:
        store.save_mentions([judged("1"), judged("1", source="other")], fetched_at=NOW)
        assert mention_count(store) == 2


def test_stored_row_keeps_every_field(database: str) -> None:
    with Store(database) as store:
        store.save_mentions([judged("1")], fetched_at=NOW + timedelta(minutes=5))
        row = next(store.db.query("SELECT * FROM mentions"))
    assert row["published_at"] == "2026-11-23T11:00:00Z" and row["fetched_at"] == "2026-11-23T11:05:00Z"
    assert row["brand"] == "Acme" and row["rule_set"] == 1
    assert row["sentiment"] == -0.7 and row["bucket"] == "assassin"
    assert (row["reach_low"], row["reach_high"], row["reach_method"]) == (1, 19, "audience unknown")
    assert row["raw"] == '{"id": "1"}' and row["metrics"] == '{"points": 3}'


def test_matched_rules_are_stored_once_and_read_back_as_their_text(database: str) -> None:
    rules = ('"Acme Cloud"', '"Acme" AND (outage OR down)', 'acme.example')
    with Store(database) as store:
        first = replace(judged("1"), match=Match(("Acme",), rules))
        second = replace(judged("2"), match=Match(("Acme",), rules[1::-1]))
        store.save_mentions([first, second, judged("3")], fetched_at=NOW)
        assert [(r["id"], r["rule"]) for r in store.db.query("SELECT id, rule FROM rules ORDER BY id")] == [
            (1, '"Acme Cloud"'), (2, '"Acme" AND (outage OR down)'), (3, "acme.example")]
        assert [json.loads(r["rule_ids"]) for r in store.db.query(
            "SELECT s.rule_ids FROM mentions m JOIN rule_sets s ON s.id = m.rule_set ORDER BY m.id")] == [[1, 2, 3], [2, 1], [1]]
        store.save_mentions([replace(judged("5"), match=Match(("Acme",), rules))], fetched_at=NOW)
        assert store.db.execute("SELECT count(*) FROM rule_sets").fetchone()[0] == 3, "a list matched again is stored once"
        assert store.db.execute("SELECT count(DISTINCT rule_set) FROM mentions WHERE id IN ('1', '5')").fetchone()[0] == 1
        store.save_mentions([replace(judged("4"), match=Match(("Acme",), ("a rule edited",)))], fetched_at=NOW)
        assert store.db.execute("SELECT count(*) FROM rules").fetchone()[0] == 4, "a new rule text is a new row"
        assert [j.match.keywords for j in store.mentions_by_key([("blog", "2"), ("blog", "1")])] == [rules[1::-1], rules]
        assert {tuple(json.loads(r["matched_keywords"])) for r in store.export("mentions")} == {
            rules, rules[1::-1], ('"Acme Cloud"',), ("a rule edited",)}
        assert [(r["position"], r["rule"]) for r in store.db.query(
            "SELECT position, rule FROM mention_rules WHERE id = '2' ORDER BY position")] == [(0, rules[1]), (1, rules[0])]


def test_full_text_search_over_title_and_text(database: str) -> None:
    with Store(database) as store:
        store.save_mentions([judged("1", "billing refund nightmare"), judged("2", "lovely support")], fetched_at=NOW)
        assert [r["id"] for r in store.search("refund")] == ["1"]
        assert [r["id"] for r in store.search("refunds")] == ["1"], "porter stemming"
        assert [r["id"] for r in store.search("Title 2")] == ["2"]
        assert store.search('unbalanced "quote') == [], "bad FTS syntax falls back to quoted words"


def test_hostile_text_is_only_ever_a_bound_parameter(database: str) -> None:
    evil = "x'); DROP TABLE mentions; --"
    with Store(database) as store:
        store.save_mentions([judged(evil, evil)], fetched_at=NOW)
        assert store.search(evil)[0]["id"] == evil
        assert mention_count(store) == 1


def test_source_state_round_trip(database: str) -> None:
    with Store(database) as store:
        assert store.ensure_source("blog", "rss", now=NOW) is True
        state = SourceState(cursor="10", etag='"e"', last_modified="Mon, 23 Nov 2026 10:00:00 GMT")
        store.record_success("blog", state, now=NOW, next_check_at=NOW + timedelta(minutes=10))
        assert store.source_state("blog") == state
        assert store.ensure_source("blog", "rss", now=NOW) is False
        assert store.record_failure("blog", "HTTP 500", now=NOW, next_check_at=NOW) == 1
        assert store.record_failure("blog", "HTTP 500", now=NOW, next_check_at=NOW) == 2
        assert store.source_row("blog")["last_error"] == "HTTP 500"


def test_outbox_enqueues_an_alert_once_per_receiver(database: str) -> None:
    alert = Alert("assassin:blog:1", "assassin", "Acme", "blog", "warning", "why", (judged("1"),), NOW)
    with Store(database) as store:
        assert store.enqueue_alert(alert, "console", now=NOW)
        assert not store.enqueue_alert(alert, "console", now=NOW)
        assert store.enqueue_alert(alert, "slack", now=NOW)
        def due(at):
            return [row for receiver in ("console", "slack")
                    for row in store.group_pending(receiver, f"{receiver}:assassin:blog:1", now=at)]

        assert [r["receiver"] for r in due(NOW)] == ["console", "slack"]
        store.mark_sent("console:assassin:blog:1", now=NOW)
        store.mark_retry("slack:assassin:blog:1", "HTTP 503", now=NOW, retry_at=NOW + timedelta(minutes=1))
        assert due(NOW) == []
        assert [r["key"] for r in due(NOW + timedelta(minutes=1))] == ["slack:assassin:blog:1"]


def test_alert_payload_round_trips() -> None:
    alert = Alert("k", "assassin", "Acme", "blog", "warning", "why", (judged("1"),), NOW)
    back = alert_from_dict(alert_to_dict(alert))
    assert back == replace(alert, mentions=(replace(alert.mentions[0], mention=replace(alert.mentions[0].mention, raw=None)),))


def test_a_reader_can_query_while_the_monitor_writes(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with Store(path) as writer:
        writer.save_mentions([judged("1")], fetched_at=NOW)
        writer.db.execute("BEGIN IMMEDIATE")
        writer.db.execute("UPDATE mentions SET bucket = 'apathetic'")
        reader = sqlite3.connect(path, timeout=0.1)
        assert reader.execute("SELECT bucket FROM mentions").fetchone() == ("assassin",)
        writer.db.execute("COMMIT")
        reader.close()


def test_a_mention_evolves_as_dataclasses_replace_would_copy_it() -> None:
    original = judged("1").mention
    changed = original.evolve(language="en", text="plain")
    assert changed == replace(original, language="en", text="plain") and changed is not original
    assert original.language is None and original.text == "Acme Cloud is down again"  # the original is untouched
    assert original.evolve() == original


def _store_at(path: Path, version: int):
    """A store file as this monitor's ``version`` left it (its first ``version`` migrations)."""
    import sqlite_utils

    old = sqlite_utils.Database(path)
    for migration in MIGRATIONS[:version]:
        migration(old)
    old.execute(f"PRAGMA user_version = {version}")
    return old


def test_a_source_keeps_its_first_and_last_post_and_the_migration_backfills_them(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    old = _store_at(path, 7)  # a database from before the rhythm columns, with a mention
    old.execute("INSERT INTO sources (name, type, first_run_at) VALUES ('blog', 'rss', '2026-01-01T00:00:00Z')")
    old.execute("INSERT INTO mentions (source, id, source_type, published_at, fetched_at, brand, brands, matched_keywords)"
                " VALUES ('blog', 'old', 'rss', '2026-01-02T00:00:00Z', '2026-01-02T00:00:00Z', 'Acme', '[]', '[]')")
    old.conn.commit()
    old.close()
    with Store(path) as store:
        row = store.source_row("blog")
        assert (row["first_published_at"], row["last_published_at"]) == ("2026-01-02T00:00:00Z",) * 2
        newer, older = judged("n"), replace(judged("o"), mention=replace(judged("o").mention, published_at=NOW - timedelta(days=9)))
        store.save_mentions([newer], fetched_at=NOW)
        store.save_mentions([older], fetched_at=NOW)  # a late post widens the span, not the end
        row = store.source_row("blog")
        assert row["first_published_at"] == "2026-01-02T00:00:00Z" and row["last_published_at"] == NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert row["mentions_stored"] == 2  # what this store saved (the hand-made row was never counted)


def test_the_migration_moves_matched_rule_texts_to_the_rules_table(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    old = _store_at(path, 21)  # before matched rules were stored by reference
    for ident, rules in (("1", ['"Acme"', "acme AND outage"]), ("2", ["acme AND outage"]), ("3", [])):
        old.execute("INSERT INTO mentions (source, id, source_type, published_at, fetched_at, brand, brands, matched_keywords)"
                    " VALUES ('blog', ?, 'rss', '2026-01-02T00:00:00Z', ?, 'Acme', '[\"Acme\"]', ?)",
                    (ident, f"2026-01-0{ident}T00:00:00Z", json.dumps(rules)))
    old.conn.commit()
    old.close()
    with Store(path) as store:
        assert [tuple(r.values()) for r in store.db.query("SELECT * FROM rules ORDER BY id")] == [
            (1, '"Acme"', "2026-01-01T00:00:00Z"), (2, "acme AND outage", "2026-01-01T00:00:00Z")]
        assert [r["rule_ids"] for r in store.db.query(
            "SELECT s.rule_ids FROM mentions m LEFT JOIN rule_sets s ON s.id = m.rule_set ORDER BY m.id")] == ["[1,2]", "[2]", None]
        assert not {"matched_keywords", "rule_ids"} & {r[1] for r in store.db.execute("PRAGMA table_info(mentions)")}
        assert [j.match.keywords for j in store.mentions_by_key([("blog", "1"), ("blog", "3")])] == [
            ('"Acme"', "acme AND outage"), ()]
        store.save_mentions([judged("4")], fetched_at=NOW)
        assert store.db.execute("SELECT s.rule_ids FROM mentions m JOIN rule_sets s ON s.id = m.rule_set"
                                " WHERE m.id = '4'").fetchone()[0] == "[3]"


# Rows as the press, the brand's own channel and a customer were stored before who speaks had a column.
SPOKEN = (("press-hostile", "apathetic", ["news coverage (press: true): a publisher reporting, not a customer",
                                          "complaint: outage"], "press", "assassin"),
          ("press-glad", "apathetic", ["news coverage (press: true): a publisher reporting, not a customer"], "press", "advocate"),
          ("status", "apathetic", ["the brand's own channel (official: true): the brand speaking, not a customer"], "brand", None),
          ("support", "apathetic", ["the brand's own account (x:AcmeCloud, brands[].accounts): the brand speaking, "
                                    "not a customer"], "brand", None),
          ("customer", "assassin", ["complaint: outage"], None, None),  # a customer's: NULL, its bucket the call
          ("unscored", None, [], None, None))


def test_the_migration_says_who_spoke_each_earlier_post_from_its_first_reason(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    old = _store_at(path, 23)  # before mentions.speaker and mentions.read_as
    for ident, bucket, reasons, _, _ in SPOKEN:
        old.execute("INSERT INTO mentions (source, id, source_type, published_at, fetched_at, brand, brands, bucket,"
                    " bucket_reasons) VALUES ('s', ?, 'rss', '2026-01-02T00:00:00Z', '2026-01-02T00:00:00Z', 'Acme',"
                    " '[\"Acme\"]', ?, ?)", (ident, bucket, json.dumps(reasons)))
    old.conn.commit()
    old.close()
    with Store(path) as store:
        found = {r["id"]: (r["speaker"], r["read_as"]) for r in store.db.query("SELECT id, speaker, read_as FROM mentions")}
        assert found == {ident: (speaker, read_as) for ident, _, _, speaker, read_as in SPOKEN}
        scores = {j.mention.id: j.score for j in store.mentions_by_key([("s", "press-hostile"), ("s", "customer")])}
        assert scores["press-hostile"].call == "assassin" and scores["press-hostile"].bucket == "apathetic"
        assert scores["customer"].speaker == "customer" and scores["customer"].call == "assassin"
        plan = " ".join(r[3] for r in store.db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM mentions m WHERE m.speaker = 'press'"
            " AND m.read_as = 'assassin' AND m.published_at >= '2026-01-01'"))
        assert "mentions_speaker" in plan, plan  # the dashboard's hostile coverage reads the few rows not a customer's


def test_mastodon_mentions_move_to_their_uri_with_their_labels(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    old = _store_at(path, 12)  # before statuses were filed under their uri
    uri = "https://social.example/users/dana/statuses/9"
    for ident, raw in (("111", json.dumps({"id": "111", "uri": uri})), ("222", "null")):
        old.execute("INSERT INTO mentions (source, id, source_type, published_at, fetched_at, brand, brands, matched_keywords,"
                    " metrics, raw) VALUES ('m', ?, 'mastodon', '2026-01-02T00:00:00Z', '2026-01-02T00:00:00Z', 'Acme', '[]',"
                    " '[]', '{\"reblogs\": 1}', ?)", (ident, raw))
    old.execute("INSERT INTO labels VALUES ('m', '111', 'assassin', 'ana', '2026-01-03T00:00:00Z', '')")
    old.conn.commit()
    old.close()
    with Store(path) as store:
        rows = {r["id"]: json.loads(r["metrics"]) for r in store.db.query("SELECT id, metrics FROM mentions")}
        assert rows == {uri: {"reblogs": 1, "local_id": "111"}, "222": {"reblogs": 1}}, "without a uri: left as it was"
        assert [r["mention_id"] for r in store.db.query("SELECT mention_id FROM labels")] == [uri]


def test_committed_pages_reach_the_database_file_in_the_background_while_the_store_writes_on(tmp_path: Path) -> None:
    import threading
    import time

    path = tmp_path / "m.db"

    def in_file() -> int:  # what the database file holds, the WAL ignored
        file = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        try:
            return file.execute("SELECT count(*) FROM mentions").fetchone()[0]
        except sqlite3.DatabaseError:  # not even the tables yet, or read while the checkpointer writes
            return 0  # (immutable=1 takes no lock: a page half copied reads as "malformed"; look again)
        finally:
            file.close()

    with Store(path) as store:
        store.save_mentions([judged("1"), judged("2")], fetched_at=NOW)
        deadline = time.monotonic() + 10
        while (found := in_file()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        # Far below wal_autocheckpoint: without the background checkpoint the rows would wait in the WAL.
        assert found == 2
        assert [t for t in threading.enumerate() if t.name.startswith("checkpoint ")]
    assert not [t for t in threading.enumerate() if t.name.startswith("checkpoint ")], "close stops the checkpointer"


def test_the_judgements_author_rows_have_the_authors_tables_columns(database: str) -> None:
    from monitor.judgement.authors import new_author
    from monitor.store.authors import _AUTHOR_COLUMNS

    assert tuple(new_author("s", "h")) == _AUTHOR_COLUMNS
    with Store(database) as store:
        assert tuple(d[0] for d in store.db.execute("SELECT * FROM authors LIMIT 0").description) == _AUTHOR_COLUMNS


def test_search_ranks_among_the_newest_matches_or_lists_the_newest(database: str) -> None:
    with Store(database) as store:
        # Stored and published oldest first: "1" says refund three times (the best match), the rest once.
        def at(item: Judged, minutes: int) -> Judged:
            return replace(item, mention=replace(item.mention, published_at=NOW + timedelta(minutes=minutes)))

        store.save_mentions([at(judged("1", "refund refund refund from Acme Cloud"), 1)], fetched_at=NOW)
        store.save_mentions([at(judged(str(i), f"Acme Cloud refund number {i}"), i) for i in range(2, 6)], fetched_at=NOW)
        assert [r["id"] for r in store.search("refund", limit=1)] == ["1"], "ranked: the best match first"
        assert [r["id"] for r in store.search("refund", limit=3, order="newest")] == ["5", "4", "3"]
        ranked = [r["id"] for r in store.search("refund", limit=5, among=3)]
        assert "1" not in ranked and sorted(ranked) == ["3", "4", "5"], "only the newest 3 matches are ranked"
        with pytest.raises(ValueError, match="use rank or newest"):
            store.search("refund", order="oldest")


# The view before rollups (a day whose mentions were all unscored said NULL advocates; now 0).
OLD_HEALTH = """SELECT b.value AS brand, substr(m.published_at, 1, 10) AS day, count(*) AS mentions,
    coalesce(sum(m.bucket = 'advocate'), 0) AS advocates, coalesce(sum(m.bucket = 'apathetic'), 0) AS apathetics,
    coalesce(sum(m.bucket = 'assassin'), 0) AS assassins, sum(m.bucket IS NULL) AS unscored,
    round(100.0 * (sum(m.bucket = 'advocate') - sum(m.bucket = 'assassin')) / nullif(sum(m.bucket IS NOT NULL), 0), 1) AS net_score,
    sum(CASE WHEN m.bucket = 'assassin' THEN m.reach_likely ELSE 0 END) AS assassin_reach
    FROM mentions m, json_each(m.brands) b GROUP BY b.value, day ORDER BY brand, day"""


def _mixed(count: int) -> list[Judged]:
    buckets = ["assassin", "advocate", "apathetic", None]
    out = []
    for i in range(count):
        base = judged(f"m{i}", source=("blog", "hn")[i % 2])
        m = replace(base.mention, published_at=NOW - timedelta(hours=7 * i))
        bucket = buckets[i % 4]
        score = Score(None if bucket is None else -0.5, bucket, (), "too short" if bucket is None else None)
        match = Match(("Acme", "Globex") if i % 3 == 0 else ("Acme",), ('"Acme Cloud"',))
        out.append(Judged(m, match, score, Reach(1, 100 + i, "x", 10 + i)))
    return out


def test_brand_health_reads_rollups_kept_with_the_mentions_and_matches_a_full_scan(tmp_path: Path) -> None:
    """The rollups answer exactly what the old per-mention view did, after batches, and after a
    migration from a store that had none (SQLite's: PostgreSQL's is held equal to it in
    test_postgres.py)."""
    items = _mixed(40)
    with Store(tmp_path / "m.db") as store:
        store.save_mentions(items[:25], fetched_at=NOW)
        store.save_mentions(items[20:], fetched_at=NOW)  # overlapping batch: the stored five not counted again
        daily = [tuple(r) for r in store.db.execute("SELECT * FROM brand_health_daily ORDER BY brand, day")]
        assert daily == [tuple(r) for r in store.db.execute(OLD_HEALTH)] and len(daily) > 10
        plan = " ".join(r[3] for r in store.db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM brand_health_daily WHERE brand = 'Acme' AND day >= '2026-11-10'"))
        assert "rollups" in plan and "mentions" not in plan
        # A store from before v14: its rollups are built from the mentions it holds.
        store.db.execute("DROP TABLE rollups")
        MIGRATIONS[13](store.db)
        assert [tuple(r) for r in store.db.execute("SELECT * FROM brand_health_daily ORDER BY brand, day")] == daily


def _count_windows(rows, window):
    """The spike watch's measures counted from the rows themselves, per window and source."""
    from monitor.judgement.series import _is_negative, window_floor
    from monitor.models import from_iso

    out: dict = {}
    for r in rows:
        counts = out.setdefault(window_floor(from_iso(r["published_at"]), window), {}).setdefault(r["source"], [0.0] * 4)
        counts[0] += 1
        if _is_negative(r):
            counts[1] += 1
            counts[3] += r["reach_likely"] or 0
        counts[2] += r["bucket"] == "assassin"
    return out


def test_window_counts_summed_by_sqlite_equal_the_spike_watchs_count_of_the_rows(database: str) -> None:
    """The spike watch and the backtest read per-window counts from the store instead of loading
    rows: the same numbers the series' own count of those rows gives (unscored posts, posts of
    two brands, no reach, windows left empty)."""
    from monitor.judgement.series import NEGATIVE

    items = _mixed(40)
    items[5] = replace(items[5], reach=Reach(None, None, "x", None))
    items[6] = replace(items[6], score=Score(NEGATIVE, "apathetic"))  # at the cut: negative
    start, end = NOW - timedelta(days=12), NOW + timedelta(hours=1)
    with Store(database) as store:
        store.save_mentions(items, fetched_at=NOW)
        for brand in ("Acme", "Globex", "Nobody"):
            for window in (timedelta(minutes=5), timedelta(hours=6)):
                counted = store.window_counts(brand, start, end, window, NEGATIVE)
                expected = _count_windows(store.brand_mentions(brand, start, end), window)
                assert counted == expected, (brand, window)
                assert bool(counted) == (brand != "Nobody")
        assert sum(c[1] for w in store.window_counts("Acme", start, end, timedelta(hours=6), NEGATIVE).values()
                   for c in w.values()) > 5


def _open_at_once(path: str, barrier) -> None:
    barrier.wait()
    Store(path).close()


def test_workers_starting_together_on_a_new_file_each_open_it_and_it_is_migrated_once(tmp_path: Path) -> None:
    """Found by benchmarks/workers.py: four processes opening a new file at once raced on the WAL
    switch ("database is locked") and on the migrations ("table storms already exists")."""
    import multiprocessing

    for round_ in range(3):
        path = str(tmp_path / f"new{round_}.db")
        barrier = multiprocessing.Barrier(4)
        processes = [multiprocessing.Process(target=_open_at_once, args=(path, barrier)) for _ in range(4)]
        for p in processes:
            p.start()
        for p in processes:
            p.join(60)
        assert [p.exitcode for p in processes] == [0, 0, 0, 0]
        with Store(path) as store:
            assert store.schema_version == len(MIGRATIONS)
