"""The pipeline end to end through `monitor once`, against a real loopback server, on SQLite and
on PostgreSQL (the ``database`` fixture)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from monitor.cli import main
from monitor.models import from_iso
from tests.support import fixture_bytes

FEED_HEADERS = {"ETag": '"feed-v1"', "Last-Modified": "Mon, 23 Nov 2026 10:30:00 GMT"}


def write_config(tmp_path: Path, base: str, *, database: str, extra_sources: str = "", alerts: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""\
database: {database}
brands:
  - name: Acme Cloud
    keywords: ['"Acme Cloud"']
sources:
  - name: blog
    type: rss
    url: {base}/feed.xml
  - name: hn
    type: hackernews
    base_url: {base}/api/v1
    first_run: 36500d
{extra_sources}
{alerts}
"""
    )
    return path


def serve_both(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed.xml", headers={"If-None-Match": '"feed-v1"'}).respond_with_data(b"", status=304)
    httpserver.expect_request("/feed.xml").respond_with_data(
        fixture_bytes("feed.rss.xml"), content_type="application/rss+xml", headers=FEED_HEADERS)
    httpserver.expect_request("/api/v1/search_by_date").respond_with_data(
        fixture_bytes("hn_search_by_date.json"), content_type="application/json")


def once(config: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), "once"], catch_exceptions=False)
    return result.exit_code, result.output


def rows(database: str, sql: str) -> list[tuple]:
    from monitor.store import Store

    with Store(database) as store:
        cursor = store.db.execute(sql)
        return [tuple(r) for r in cursor.fetchall()] if cursor.description else []


def test_two_runs_store_each_mention_exactly_once_and_use_conditional_get(tmp_path: Path, database: str, httpserver: HTTPServer) -> None:
    serve_both(httpserver)
    config = write_config(tmp_path, httpserver.url_for("").rstrip("/"), database=database)
    code, output = once(config)
    assert code == 0, output
    assert "blog: 3 fetched, 2 matched, 2 new" in output
    assert "hn: 2 fetched, 2 matched, 2 new" in output
    code, output = once(config)
    assert code == 0, output
    assert "blog: not modified" in output
    assert "hn: 2 fetched, 2 matched, 0 new" in output
    assert rows(database, "SELECT source, count(*) FROM mentions GROUP BY source ORDER BY source") == [("blog", 2), ("hn", 2)]

    feed_requests = [r for r, _ in httpserver.log if r.path == "/feed.xml"]
    assert "If-None-Match" not in feed_requests[0].headers
    assert feed_requests[1].headers["If-None-Match"] == '"feed-v1"'
    assert feed_requests[1].headers["If-Modified-Since"] == "Mon, 23 Nov 2026 10:30:00 GMT"
    hn_requests = [r for r, _ in httpserver.log if r.path.endswith("search_by_date")]
    assert hn_requests[1].args["numericFilters"] == "created_at_i>=1795429800", "second run asks from the cursor less the overlap"


def test_stored_mentions_are_scored_bucketed_and_have_reach(tmp_path: Path, database: str, httpserver: HTTPServer) -> None:
    serve_both(httpserver)
    config = write_config(tmp_path, httpserver.url_for("").rstrip("/"), database=database)
    once(config)
    found = {r[0]: r[1:] for r in rows(database, "SELECT id, bucket, text, reach_low, reach_high, reach_method FROM mentions")}
    bucket, text, low, high, method = found["https://reviews.example/acme-lost-data"]
    assert bucket == "assassin"
    assert text.startswith("Acme Cloud deleted our backups. Worst, most infuriating vendor ever & support")
    assert found["https://reviews.example/love-acme"][0] == "advocate"
    assert found["42000001"][2:4] == (240 * 75, 240 * 100)
    assert "points" in found["42000001"][4]
    assert all(r[1] and r[3] is not None for r in found.values())


def test_first_run_stores_the_backlog_without_alerting(tmp_path: Path, database: str, httpserver: HTTPServer) -> None:
    serve_both(httpserver)
    config = write_config(tmp_path, httpserver.url_for("").rstrip("/"), database=database)
    once(config)
    assert rows(database, "SELECT count(*) FROM alerts") == [(0,)]


def test_backfill_window_lets_a_first_run_alert_on_recent_posts(tmp_path: Path, database: str, httpserver: HTTPServer) -> None:
    serve_both(httpserver)
    config = write_config(tmp_path, httpserver.url_for("").rstrip("/"), alerts="alerts:\n  backfill: 1000d\n  max_age: 1000d\n", database=database)
    code, output = once(config)
    # Three assassins of one brand in one pass: one message for their group (kind, brand).
    assert output.count("assassin · Acme Cloud") == 1 and "3 assassin posts about Acme Cloud" in output
    assert "Acme Cloud lost our data" in output or "acme-lost-data" in output
    assert rows(database, "SELECT receiver, kind, status, mention_id FROM alerts ORDER BY key") == [
        ("console", "assassin", "sent", "https://reviews.example/acme-lost-data"),
        ("console", "assassin", "sent", "42000001"), ("console", "assassin", "sent", "42000002")]
    assert "jdoe" in output
    code, output = once(config)
    assert "assassin ·" not in output, "an alert is never sent twice"


def test_new_post_after_the_first_run_alerts(tmp_path: Path, database: str, httpserver: HTTPServer) -> None:
    base = httpserver.url_for("").rstrip("/")
    page = json.loads(fixture_bytes("hn_search_by_date.json"))
    httpserver.expect_ordered_request("/api/v1/search_by_date").respond_with_json(dict(page, hits=page["hits"][:1]))
    httpserver.expect_ordered_request("/api/v1/search_by_date").respond_with_json(page)
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {database}\nbrands: [{{name: Acme Cloud, keywords: ['\"Acme Cloud\"']}}]\n"
                      f"sources: [{{name: hn, type: hackernews, first_run: 36500d, base_url: '{base}/api/v1'}}]\nalerts: {{max_age: 1000d}}\n")
    assert "assassin ·" not in once(config)[1]
    code, output = once(config)
    assert "[WARNING] assassin · Acme Cloud · hn" in output and "jdoe" in output


def test_one_failing_source_does_not_stop_the_others(tmp_path: Path, database: str, httpserver: HTTPServer) -> None:
    serve_both(httpserver)
    httpserver.expect_request("/broken.xml").respond_with_data("boom", status=503)
    base = httpserver.url_for("").rstrip("/")
    extra = f"  - name: broken\n    type: rss\n    url: {base}/broken.xml\n"
    config = write_config(tmp_path, base, extra_sources=extra, database=database)
    code, output = once(config)
    assert code == 0
    assert "broken: failed: HTTP 503 from" in output
    assert "blog: 3 fetched" in output and "hn: 2 fetched" in output
    (error_count, last_error), = rows(database, "SELECT error_count, last_error FROM sources WHERE name = 'broken'")
    assert error_count == 1 and "HTTP 503" in last_error


def test_every_source_failing_exits_non_zero(tmp_path: Path, database: str) -> None:
    # Nothing listens on port 9 of 127.0.0.1 (discard), so every connection is refused.
    config = write_config(tmp_path, "http://127.0.0.1:9", database=database)
    code, output = once(config)
    assert code == 1
    assert "blog: failed: cannot connect to 127.0.0.1:9: " in output and "(fetching 127.0.0.1:9/feed.xml)" in output


def test_failing_source_backs_off(database: str, httpserver: HTTPServer) -> None:
    from datetime import timedelta

    import httpx

    from monitor.config_check import parse_config
    from monitor.ingest import backoff, is_due, run_source
    from monitor.runtime import Runtime
    from monitor.store import Store
    from tests.support import NOW

    httpserver.expect_request("/down.xml").respond_with_data("down", status=503)
    config = parse_config(f"brands: [{{name: A, keywords: [a]}}]\n"
                          f"sources: [{{name: down, type: rss, url: '{httpserver.url_for('/down.xml')}', every: 10m}}]\n")
    waits = []
    with Store(database) as store, httpx.Client() as client:
        runtime = Runtime.build(config, client=client, notifiers={})
        now = NOW
        for _ in range(3):
            assert run_source(config.sources[0], runtime, store, now=now).error
            due = from_iso(store.source_row("down")["next_check_at"])
            assert not is_due(store.source_row("down"), due - timedelta(seconds=1)) and is_due(store.source_row("down"), due)
            waits.append(due - now)
            now = due
    assert waits == [timedelta(minutes=10), timedelta(minutes=20), timedelta(minutes=40)]  # doubling from every

    assert backoff(timedelta(minutes=10), 1) == timedelta(minutes=10)
    assert backoff(timedelta(minutes=10), 3) == timedelta(minutes=40)
    assert backoff(timedelta(minutes=10), 20) == timedelta(hours=6)
    assert backoff(timedelta(minutes=10), 1, retry_after_seconds=3600) == timedelta(hours=1)


def test_a_source_that_keeps_failing_raises_source_down_once(tmp_path: Path, database: str, httpserver: HTTPServer) -> None:
    serve_both(httpserver)
    httpserver.expect_request("/broken.xml").respond_with_data("boom", status=503)
    base = httpserver.url_for("").rstrip("/")
    config = write_config(tmp_path, base, extra_sources=f"  - name: broken\n    type: rss\n    url: {base}/broken.xml\n", database=database)
    outputs = [once(config)[1] for _ in range(4)]
    assert ["source_down" in out for out in outputs] == [False, False, True, False]
    assert "source broken failed 3 times in a row (never succeeded); last error: HTTP 503" in outputs[2]
    assert rows(database, "SELECT kind, source, status FROM alerts WHERE kind = 'source_down'") == [("source_down", "broken", "sent")]


def test_a_first_pass_over_history_stores_old_spikes_without_alerting(tmp_path: Path, database: str) -> None:
    from click.testing import CliRunner

    from monitor.cli import main

    CliRunner().invoke(main, ["--db", database, "demo"])  # two weeks of history with a storm two days ago
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {database}\nbrands: [{{name: Acme Cloud, keywords: ['\"Acme Cloud\"']}}]\n")
    for table in ("spike_series", "alerts", "alert_groups"):  # a fresh watch: forget the demo's series, keep its mentions
        rows(database, f"DELETE FROM {table}")
    code, output = once(config)
    assert "SPIKE" not in output and "spike ·" not in output  # found and stored, not pushed (backfill 0s)
    assert rows(database, "SELECT count(*) > 0 FROM spikes") == [(1,)]
    assert rows(database, "SELECT count(*) FROM alerts WHERE kind = 'spike'") == [(0,)]


def refuse(database: str, table: str, when: str = "true") -> None:
    """Make the real database refuse writes to ``table`` (as a full disk would), from the next run on."""
    from monitor.store import Store

    with Store(database) as store:
        if database.startswith("postgresql:"):
            store.db.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
                             " $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'disk_full', MESSAGE = 'database or disk is full'; END $$")
            store.db.execute(f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} FOR EACH ROW WHEN ({when})"
                             " EXECUTE FUNCTION refuse()")
        else:
            store.db.execute(f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} WHEN {when}"
                             " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")


def allow(database: str, table: str) -> None:
    rows(database, f"DROP TRIGGER refuse_{table}" + (f" ON {table}" if database.startswith("postgresql:") else ""))


def test_a_failure_after_storing_leaves_neither_posts_without_alerts_nor_a_moved_cursor(
        tmp_path: Path, database: str, httpserver: HTTPServer) -> None:
    serve_both(httpserver)
    config = write_config(tmp_path, httpserver.url_for("").rstrip("/"), alerts="alerts:\n  backfill: 1000d\n  max_age: 1000d\n", database=database)
    refuse(database, "alerts")
    code, output = once(config)
    assert code == 1, output  # both sources failed, and said why
    assert re.search(r"blog: failed: processing failed: (IntegrityError|DiskFull): database or disk is full", output)
    # Nothing half-done: no post stored without its alert, no cursor moved past them.
    assert rows(database, "SELECT count(*) FROM mentions") == [(0,)]
    assert rows(database, "SELECT name, cursor, etag, error_count FROM sources ORDER BY name") == [
        ("blog", None, None, 1), ("hn", None, None, 1)]
    allow(database, "alerts")
    code, output = once(config)
    assert code == 0, output
    assert "3 assassin posts about Acme Cloud" in output, "the posts of the failed run alert once the database recovers"
    assert rows(database, "SELECT count(*) FROM mentions") == [(4,)]


def test_a_source_whose_posts_cannot_be_processed_does_not_stop_the_others(tmp_path: Path, database: str, httpserver: HTTPServer) -> None:
    serve_both(httpserver)
    config = write_config(tmp_path, httpserver.url_for("").rstrip("/"), database=database)
    refuse(database, "mentions", when="new.source = 'blog'")
    code, output = once(config)
    assert code == 0, output
    assert re.search(r"blog: failed: processing failed: (IntegrityError|DiskFull): database or disk is full", output)
    assert "hn: 2 fetched, 2 matched, 2 new" in output
    assert rows(database, "SELECT source, count(*) FROM mentions GROUP BY source") == [("hn", 2)]
    (error_count, last_error), = rows(database, "SELECT error_count, last_error FROM sources WHERE name = 'blog'")
    assert error_count == 1 and "database or disk is full" in last_error


def test_a_source_bound_to_a_brand_keeps_its_posts_that_do_not_name_it(tmp_path: Path, database: str, httpserver: HTTPServer) -> None:
    """An app's reviews and the brand's own forum rarely say the brand's name: bound to it, the
    source keeps them (exclusions still apply); rules still add the other brands a post names."""
    feed = """<?xml version="1.0"?><rss version="2.0"><channel><title>forum</title>
    <item><guid>1</guid><title>Login keeps failing since the update</title><link>https://forum.example/1</link>
      <pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate></item>
    <item><guid>2</guid><title>Switched here from Globex, much better</title><link>https://forum.example/2</link>
      <pubDate>Mon, 23 Nov 2026 10:05:00 GMT</pubDate></item>
    <item><guid>3</guid><title>Best cartoon episodes</title><link>https://forum.example/3</link>
      <pubDate>Mon, 23 Nov 2026 10:10:00 GMT</pubDate></item>
    </channel></rss>"""
    httpserver.expect_request("/forum.xml").respond_with_data(feed, content_type="application/rss+xml")
    config = tmp_path / "config.yaml"
    config.write_text(f"""
database: {database}
brands:
  - {{name: Acme Cloud, keywords: ['"Acme Cloud"'], exclude: [cartoon]}}
  - {{name: Globex, keywords: [globex]}}
sources:
  - {{name: own-forum, type: rss, url: "{httpserver.url_for('/forum.xml')}", brands: [Acme Cloud]}}
  - {{name: same-feed-unbound, type: rss, url: "{httpserver.url_for('/forum.xml')}"}}
""")
    result = CliRunner().invoke(main, ["--config", str(config), "once"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    from monitor.store import Store

    with Store(database) as store:  # the rules matched, as an export writes them
        found = {(r["source"], r["url"][-1]): (json.loads(r["brands"]), json.loads(r["matched_keywords"]))
                 for r in store.export("mentions")}
    assert found == {
        ("own-forum", "1"): (["Acme Cloud"], ["bound source"]),
        ("own-forum", "2"): (["Globex", "Acme Cloud"], ["globex", "bound source"]),
        ("same-feed-unbound", "2"): (["Globex"], ["globex"]),
    }


def test_status_says_a_source_is_behind_until_its_burst_is_read(tmp_path: Path, database: str, httpserver: HTTPServer) -> None:
    from tests.test_connector_quirks import _algolia

    now = int(datetime.now(timezone.utc).timestamp())
    posts = [{"objectID": str(7000 + i), "created_at_i": now - 3600 + 60 * i, "title": f"Acme Cloud is down again ({i})",
              "author": "a", "_tags": ["story"], "points": 1} for i in range(6)]
    httpserver.expect_request("/api/v1/search_by_date").respond_with_handler(_algolia(posts))
    httpserver.expect_request("/api/v1/search").respond_with_json({"hits": [], "nbPages": 0})
    config = tmp_path / "config.yaml"
    config.write_text(f"""
database: {database}
brands: [{{name: Acme Cloud, keywords: ['"Acme Cloud"']}}]
sources:
  - {{name: hn, type: hackernews, base_url: "{httpserver.url_for('/api/v1')}", hits_per_page: 3, max_pages: 1, every: 10s}}
""")
    runner = CliRunner()
    stored, statuses = [], []
    for _ in range(3):
        assert runner.invoke(main, ["--config", str(config), "once"], catch_exceptions=False).exit_code == 0
        statuses.append(runner.invoke(main, ["--config", str(config), "status"], catch_exceptions=False).output)
        stored.append(rows(database, "SELECT count(*) FROM mentions")[0][0])
        rows(database, "UPDATE sources SET next_check_at = NULL")  # due again at once, as the scheduler would make it later
    assert stored == [3, 5, 6]  # each owed window keeps its boundary second: a post there is never lost
    assert "warning, hn: behind: 1 window not read to the end yet" in statuses[0]
    assert "behind" not in statuses[2]


def test_a_post_by_the_brands_own_account_is_the_brand_speaking_never_an_assassin(
        tmp_path: Path, database: str, httpserver: HTTPServer) -> None:
    """The brand's support account answering in a storm reads as a complaint to the call, and with
    the brand's audience behind it, it would be the loudest assassin alert of the storm. Named in
    ``brands[].accounts``, its posts are stored and never alert; the same words from a customer do."""
    words = "<p>Sorry, Acme Cloud is down again and we are still investigating the outage. Awful day, we hate this too.</p>"

    def status(ident: int, acct: str, followers: int) -> dict:
        return {"id": str(113500000000000000 + ident), "created_at": f"2026-11-23T10:0{ident}:00.000Z",
                "language": "en", "url": f"https://mastodon.example/@{acct}/{ident}", "content": words,
                "replies_count": 0, "reblogs_count": 0, "favourites_count": 0, "reblog": None,
                "account": {"id": str(ident), "username": acct.split("@")[0], "acct": acct, "display_name": acct,
                            "followers_count": followers}}

    httpserver.expect_request("/api/v1/timelines/tag/acmecloud").respond_with_json(
        [status(2, "AcmeCloud", 250_000), status(1, "angry@other.example", 300)])
    config = tmp_path / "config.yaml"
    config.write_text(f"""
database: {database}
brands: [{{name: Acme Cloud, keywords: ['"Acme Cloud"'], accounts: ["mastodon:@acmecloud"]}}]
sources:
  - {{name: masto, type: mastodon, base_url: "{httpserver.url_for('/').rstrip('/')}", hashtags: [acmecloud], max_pages: 1}}
alerts: {{backfill: 36500d, max_age: 36500d}}
""")
    code, output = once(config)
    assert code == 0, output
    found = {r[0]: r[1:] for r in rows(database, "SELECT author, bucket, bucket_reasons FROM mentions")}
    assert found["angry@other.example"][0] == "assassin"  # the same words from a customer
    assert found["AcmeCloud"][0] == "apathetic"
    assert "the brand's own account (mastodon:acmecloud" in found["AcmeCloud"][1]
    alerted = rows(database, "SELECT mention_id FROM alerts WHERE kind = 'assassin'")
    assert len(alerted) == 1 and alerted[0][0].endswith("1"), alerted


def test_a_brands_account_is_its_handle_on_its_source_type_in_any_case() -> None:
    from monitor.judgement.voice import own_account

    accounts = ["x:AcmeCloud", "mastodon:acme@mastodon.social"]
    assert own_account("@acmecloud", "x", accounts) == "x:AcmeCloud"
    assert own_account("ACME@mastodon.social", "mastodon", accounts) == "mastodon:acme@mastodon.social"
    assert own_account("AcmeCloud", "bluesky", accounts) is None  # another platform's AcmeCloud may be anyone
    assert own_account("AcmeCloudFan", "x", accounts) is None and own_account("", "x", accounts) is None


def test_a_headline_is_coverage_never_an_assassin_and_hostile_coverage_raises_a_press_alert(
        tmp_path: Path, database: str, httpserver: HTTPServer) -> None:
    """Google News' items are publishers' articles: "Acme Cloud outage disrupts thousands of
    businesses" is an assassin to the call (taught on customers' posts, where an outage is a
    complaint) when a plain feed carries it. From a press source it is coverage: stored apathetic
    saying why, and, read as hostile, a press alert with the call's reasons rather than an
    assassin alert; the good news beside it raises nothing."""
    httpserver.expect_request("/rss/search").respond_with_data(fixture_bytes("googlenews_search.rss.xml"),
                                                               content_type="application/rss+xml")
    feed = """<?xml version="1.0"?><rss version="2.0"><channel><title>tech</title>
    <item><guid>1</guid><title>Acme Cloud outage disrupts thousands of businesses</title>
      <link>https://blog.example/1</link><pubDate>Mon, 23 Nov 2026 10:15:00 GMT</pubDate></item>
    </channel></rss>"""
    httpserver.expect_request("/feed.xml").respond_with_data(feed, content_type="application/rss+xml")
    config = tmp_path / "config.yaml"
    config.write_text(f"""
database: {database}
brands: [{{name: Acme Cloud, keywords: ['"Acme Cloud"']}}]
sources:
  - {{name: news, type: googlenews, base_url: "{httpserver.url_for('/').rstrip('/')}"}}
  - {{name: blog, type: rss, url: "{httpserver.url_for('/feed.xml')}"}}
alerts: {{backfill: 36500d, max_age: 36500d}}
""")
    code, output = once(config)
    assert code == 0, output
    found = {(r[0], r[1]): r[2:] for r in rows(database, "SELECT source, title, bucket, bucket_reasons FROM mentions")}
    headline = "Acme Cloud outage disrupts thousands of businesses"
    assert found[("blog", headline)][0] == "assassin"  # the words alone, from a source nobody described
    assert found[("news", headline)][0] == "apathetic"
    assert "news coverage (press: true)" in found[("news", headline)][1]
    assert {bucket for (source, _), (bucket, _) in found.items() if source == "news"} == {"apathetic"}
    alerted = dict(rows(database, "SELECT source, kind FROM alerts"))
    assert alerted == {"blog": "assassin", "news": "press"}, alerted
    press = rows(database, "SELECT reason FROM alerts WHERE kind = 'press'")[0][0]
    # Said as a person reads it: the call and why in the article's words, never the raw reasons.
    assert re.fullmatch(r"hostile coverage, \d+% sure; [a-z ]+: ‘[^’]+’(, ‘[^’]+’)*", press), press
    assert "outage disrupts" in press and "score" not in press and "news coverage" not in press
    spoken = {(s, t): (who, read) for s, t, who, read in rows(database, "SELECT source, title, speaker, read_as FROM mentions")}
    assert spoken[("news", headline)] == ("press", "assassin") and spoken[("blog", headline)] == (None, None)
    assert {who for (source, _), (who, _) in spoken.items() if source == "news"} == {"press"}
    hostile = rows(database, "SELECT source, title FROM mentions WHERE speaker = 'press' AND read_as = 'assassin'")
    assert hostile == [("news", headline)], "the schema's query for hostile coverage"
    found = CliRunner().invoke(main, ["--config", str(config), "search", "disrupts"], catch_exceptions=False).output
    lines = {line.split()[-1].split(":")[0]: line for line in found.splitlines() if "disrupts" in line}
    assert "press, hostile" in lines["news"] and " assassin " in lines["blog"], found  # who spoke, in the search


def test_coverage_that_is_not_hostile_alerts_only_as_its_bucket_asks(tmp_path: Path, database: str,
                                                                      httpserver: HTTPServer) -> None:
    """With apathetic posts alerting too, the good news is a plain mention alert, never a press one."""
    httpserver.expect_request("/rss/search").respond_with_data(fixture_bytes("googlenews_search.rss.xml"),
                                                               content_type="application/rss+xml")
    config = tmp_path / "config.yaml"
    config.write_text(f"""
database: {database}
brands: [{{name: Acme Cloud, keywords: ['"Acme Cloud"']}}]
sources: [{{name: news, type: googlenews, base_url: "{httpserver.url_for('/').rstrip('/')}"}}]
alerts: {{backfill: 36500d, max_age: 36500d, buckets: [assassin, apathetic]}}
""")
    code, output = once(config)
    assert code == 0, output
    kinds = sorted(kind for (kind,) in rows(database, "SELECT kind FROM alerts"))
    assert kinds == ["mention", "press"], kinds


def test_an_official_source_is_the_brand_speaking_never_an_assassin(tmp_path: Path, database: str, httpserver: HTTPServer) -> None:
    """The brand's status page: its incident notices read as complaints to the call, and the same
    words on a customer's feed are one; marked ``official``, they are stored and never alert."""
    feed = """<?xml version="1.0"?><rss version="2.0"><channel><title>status</title>
    <item><guid>1</guid><title>Acme Cloud deleted our backups again. Worst, most infuriating vendor ever and support ignores us.</title>
      <link>https://status.example/1</link><pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate></item>
    <item><guid>2</guid><title>Acme Cloud: the incident affecting logins has been resolved.</title>
      <link>https://status.example/2</link><pubDate>Mon, 23 Nov 2026 10:05:00 GMT</pubDate></item>
    </channel></rss>"""
    httpserver.expect_request("/status.xml").respond_with_data(feed, content_type="application/rss+xml")
    config = tmp_path / "config.yaml"
    config.write_text(f"""
database: {database}
brands: [{{name: Acme Cloud, keywords: ['"Acme Cloud"']}}]
sources:
  - {{name: status, type: rss, url: "{httpserver.url_for('/status.xml')}", official: true}}
  - {{name: customers, type: rss, url: "{httpserver.url_for('/status.xml')}"}}
alerts: {{backfill: 36500d, max_age: 36500d}}
""")
    code, output = once(config)
    assert code == 0, output
    found = {(r[0], r[1][-1]): r[2:] for r in rows(database, "SELECT source, url, bucket, bucket_reasons FROM mentions")}
    assert found[("customers", "1")][0] == "assassin"  # the same words from a customer
    assert {found[("status", k)][0] for k in "12"} == {"apathetic"}
    assert "the brand speaking, not a customer" in found[("status", "1")][1]
    spoken = {(r[0], r[1][-1]): r[2:] for r in rows(database, "SELECT source, url, speaker, read_as FROM mentions")}
    assert spoken[("status", "1")] == ("brand", "assassin") and spoken[("customers", "1")] == (None, None)
    alerted = rows(database, "SELECT source, mention_id FROM alerts WHERE kind = 'assassin'")
    assert {source for source, _ in alerted} == {"customers"} and any(m.endswith("/1") for _, m in alerted)
