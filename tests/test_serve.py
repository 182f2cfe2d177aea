"""monitor serve: Datasette over a real store, on loopback, read-only, with the canned queries."""

from __future__ import annotations

from pathlib import Path

import httpx

from monitor.serve import DESCRIPTIONS, QUERIES, described
from monitor.store import Store
from tests.support import serving


def test_every_table_is_described_and_every_canned_query_runs(tmp_path: Path) -> None:
    from tests.test_store import _mixed

    tables = described()
    with Store(tmp_path / "m.db") as store:
        names = {row[0] for row in store.db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
                                                    " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'mentions_fts_%'")}
        assert names <= set(DESCRIPTIONS) and names <= set(tables)
        store.save_mentions(_mixed(12), fetched_at=_mixed(1)[0].mention.published_at)
        from monitor.webui import prepare_connection

        prepare_connection(store.db.conn)  # text_key, as monitor serve's Datasette has it
        for name, query in QUERIES.items():
            params = {p: "" for p in __import__("re").findall(r":([a-z_]+)", query["sql"])}
            params.update(q="refund", brand="Acme", start="2000-01-01", end="2100-01-01", source="blog", handle="dana")
            store.db.execute(query["sql"], {k: v for k, v in params.items() if f":{k}" in query["sql"]}).fetchall()
    assert tables["mentions"]["columns"]["brand"] == "first matching brand"


def test_serve_answers_the_canned_assassins_query_from_a_real_server(tmp_path: Path) -> None:
    from tests.test_store import judged

    db = tmp_path / "monitor.db"
    with Store(db) as store:
        recent = judged("7", "Acme Cloud deleted our data and support never answered")
        from dataclasses import replace
        from datetime import datetime, timezone

        now = datetime.now(timezone.utc).replace(microsecond=0)
        store.save_mentions([replace(recent, mention=replace(recent.mention, published_at=now))], fetched_at=now)
    with serving(db) as base:
        rows = httpx.get(f"{base}/monitor/assassins_last_7_days.json?_shape=array").json()
        assert [r["id"] for r in rows] == ["7"] and rows[0]["url"] == "https://example.com/7"
        author = httpx.get(rows[0]["author_page"].replace("author_mentions?", "author_mentions.json?_shape=array&")).json()
        assert rows[0]["author_page"].startswith(f"{base}/monitor/author_mentions?source=blog&handle=dana")
        assert [r["url"] for r in author] == ["https://example.com/7"], "a row links to its author's posts"
        page = httpx.get(f"{base}/monitor/assassins_last_7_days").text
        assert "Assassins of the last 7 days" in page and "https://example.com/7" in page
        meta = httpx.get(f"{base}/-/metadata.json").json()
        assert meta["databases"]["monitor"]["tables"]["mentions"]["description"].startswith("Every stored post")
        write = httpx.get(f"{base}/monitor.json", params={"sql": "DELETE FROM mentions", "_shape": "array"})
        assert write.status_code >= 400, "read-only"
        with Store(db, readonly=True) as store:
            assert store.db.execute("SELECT count(*) FROM mentions").fetchone()[0] == 1


def test_serve_private_hides_who_labelled_and_silenced_and_where_the_database_is(tmp_path: Path) -> None:
    from tests.test_store import judged

    db = tmp_path / "secret-folder" / "monitor.db"
    db.parent.mkdir()
    with Store(db) as store:
        one = judged("7", "Acme Cloud deleted our data")
        store.save_mentions([one], fetched_at=one.mention.published_at)
        store.save_label("blog", "7", "assassin", note="Maria thinks this is the CTO", who="maria", at=one.mention.published_at)
    with serving(db, "--private") as base:
        assert httpx.get(f"{base}/monitor/labels.json").status_code == 403
        sql = httpx.get(f"{base}/monitor.json", params={"sql": "SELECT who, note FROM labels"})
        assert sql.status_code == 403 and "maria" not in sql.text
        assert httpx.get(f"{base}/monitor/mentions.json?_shape=array").status_code == 200
        for page in ("/-/databases.json", "/monitor", "/"):
            assert "secret-folder" not in httpx.get(base + page).text, page


def test_report_is_one_self_contained_html_file_with_charts_and_escaped_posts(tmp_path: Path) -> None:
    from dataclasses import replace
    from datetime import datetime, timedelta, timezone

    from click.testing import CliRunner

    from monitor.cli import main
    from tests.test_store import judged

    now = datetime.now(timezone.utc).replace(microsecond=0)
    db = tmp_path / "m.db"
    with Store(db) as store:
        items = []
        for day in range(6):
            for n in range(day + 1):
                j = judged(f"{day}-{n}", "Acme Cloud <script>alert(1)</script> lost our data")
                items.append(replace(j, mention=replace(j.mention, title="", published_at=now - timedelta(days=day, hours=n, minutes=1),
                                                        url="javascript:alert(1)" if n else f"https://example.com/{day}")))
        store.save_mentions(items, fetched_at=now)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["--db", str(db), "report", "--since", "7d", "--brand", "acme", "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "<h2>Acme</h2>" in page
    assert page.count('class="bar"') >= 2 * 6, "two charts with a bar per day"
    assert "<script>" not in page and "&lt;script&gt;" in page, "a post's text stays text"
    assert 'href="javascript:' not in page and 'href="https://example.com/0"' in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', ""), "nothing to fetch: self-contained"
    unknown = CliRunner().invoke(main, ["--db", str(db), "report", "--brand", "Globex", "--out", str(out)])
    assert unknown.exit_code == 2 and "it has: Acme" in unknown.output


def test_report_previous_period_is_complete_today_is_marked_partial_and_an_outlier_cannot_flatten_reach(
        tmp_path: Path) -> None:
    """Every bucket and the reach of the period before (never "–" where mentions exist), the
    period's last day marked as so far, one huge post cut from the reach scale and named, and the
    top lists one row per distinct text with its copies."""
    import re
    from dataclasses import replace
    from datetime import datetime, timedelta, timezone

    from click.testing import CliRunner

    from monitor.cli import main
    from monitor.models import Reach, Score
    from tests.test_store import judged

    now = datetime.now(timezone.utc).replace(microsecond=0)
    db = tmp_path / "m.db"
    with Store(db) as store:
        items = []
        for day in range(14):  # both periods: an advocate, an apathetic and an assassin a day
            for n, (bucket, reach) in enumerate((("advocate", 40), ("apathetic", 10), ("assassin", 30 + day))):
                j = judged(f"{day}-{n}", f"Acme day {day} post {n}")
                items.append(replace(j, score=Score(0.1, bucket), reach=Reach(reach, reach, "test", reach),
                                     mention=replace(j.mention, title="", published_at=now - timedelta(days=day, minutes=5))))
        for copy in range(3):  # one text posted three times
            j = judged(f"copy-{copy}", "Acme lost my files again")
            items.append(replace(j, score=Score(-0.8, "assassin"), reach=Reach(5, 5, "test", 5),
                                 mention=replace(j.mention, title="", published_at=now - timedelta(days=2, minutes=copy))))
        big = judged("big", "Acme outage on the front page")
        items.append(replace(big, score=Score(-0.9, "assassin"), reach=Reach(20000, 22000, "test", 21000),
                             mention=replace(big.mention, title="", url="https://news.example/big",
                                             published_at=now - timedelta(days=1, minutes=1))))
        store.save_mentions(items, fetched_at=now)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["--db", str(db), "report", "--since", "7d", "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    before = dict(re.findall(r'data-before="([a-z]+)">([^<]*)<', page))
    assert before["mentions"] == "21" and before["apathetics"].startswith("7 ") and before["net"] == "+0.0"
    assert before["reach"] == str(sum(30 + d for d in range(7, 14)))
    assert "–" not in before.values()
    assert "so far" in page and "The last day is still under way" in page
    assert 'class="bar cut"' in page and "through one post" in page and "https://news.example/big" in page
    assert re.search(r'Acme lost my files again</a></td><td class=num data-copies="3"', page), "one row, three copies"
