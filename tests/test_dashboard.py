"""The dashboard `monitor serve` opens on, and its readable tables, in a real headless Chromium
(through the DevTools protocol) over the demo database: every chart drawn with the numbers SQL
gives over the same rows, filters that change them, no console error, nothing fetched from
anywhere but 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from monitor.store import Store
from tests.cdp import Browser, available
from tests.support import make_demo, serving

pytestmark = pytest.mark.skipif(not available(), reason="no Chromium here (CI installs Debian's)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return make_demo(tmp_path_factory.mktemp("demo"))


def _sql_totals(db: Path, brands: list[str], days: int, source: str = "") -> dict:
    """What the page must say, straight from the rollups (days: today and the days before)."""
    start = (datetime.now(timezone.utc) - timedelta(days=days - 1)).strftime("%Y-%m-%d")
    marks = ",".join("?" * len(brands))
    with Store(db, readonly=True) as store:
        rows = dict(store.db.execute(
            f"SELECT bucket, sum(mentions) FROM rollups WHERE day >= ? AND brand IN ({marks}) AND (? = '' OR source = ?)"
            " GROUP BY bucket", (start, *brands, source, source)).fetchall())
        reach = store.db.execute(
            f"SELECT coalesce(sum(reach_likely), 0) FROM rollups WHERE day >= ? AND brand IN ({marks})"
            " AND bucket = 'assassin' AND (? = '' OR source = ?)", (start, *brands, source, source)).fetchone()[0]
        voice = dict(store.db.execute("SELECT brand, sum(mentions) FROM rollups WHERE day >= ? AND (? = '' OR source = ?)"
                                      " GROUP BY brand", (start, source, source)).fetchall())
    return {"mentions": sum(rows.values()), "assassins": rows.get("assassin", 0), "advocates": rows.get("advocate", 0),
            "apathetics": rows.get("apathetic", 0), "reach": reach, "voice": voice}


READ = """(() => {
  const sum = (sel, attr) => [...document.querySelectorAll(sel)].reduce((a, e) => a + Number(e.getAttribute(attr)), 0);
  const figure = name => document.querySelector(`[data-figure="${name}"]`).firstChild.textContent.replace(/,/g, "");
  return {
    stacked: document.querySelectorAll("svg.stacked rect.bar").length,
    buckets: Object.fromEntries(["advocates", "apathetics", "assassins", "unscored"].map(
      b => [b, sum(`svg.stacked rect.bar[data-bucket="${b}"]`, "data-value")])),
    reach_bars: sum("svg.capped rect.bar", "data-value"),
    voice_lines: [...document.querySelectorAll("svg.lines polyline.voice")].map(e => e.getAttribute("data-brand")),
    voice: Object.fromEntries([...document.querySelectorAll("table.voice tr[data-brand]")].map(
      r => [r.getAttribute("data-brand"), Number(r.querySelector("[data-mentions]").getAttribute("data-mentions"))])),
    sources: document.querySelectorAll("svg.rows rect.bar").length,
    storms: document.querySelectorAll("svg.timeline rect.storm").length,
    storm_lines: document.querySelectorAll("li.storm-line").length,
    assassins: document.querySelectorAll("table.texts.assassin tr.assassin").length,
    coverage: [...document.querySelectorAll("table.texts.coverage tr.coverage td.post")].map(e => e.textContent),
    assassin_texts: [...document.querySelectorAll("table.texts.assassin td.post")].map(e => e.textContent),
    copies: [...document.querySelectorAll("table.texts.advocate td[data-copies]")].map(e => Number(e.getAttribute("data-copies"))),
    mentions: Number(figure("mentions")), assassins_figure: Number(figure("assassins")), reach: Number(figure("reach")),
    outlier: (document.querySelector("p.outlier") || {}).textContent || "",
    alert_kinds: [...document.querySelectorAll("table.alerts tr td:nth-child(2)")].map(e => e.textContent),
    net_explained: document.body.textContent.includes("Net score = advocates minus assassins"),
    times: [...document.querySelectorAll("time[datetime]")].slice(0, 3).map(t => [t.getAttribute("datetime"), t.textContent]),
  };
})()"""


def test_the_dashboard_draws_every_chart_with_the_numbers_sql_gives_and_its_filters_change_them(demo: Path) -> None:
    with serving(demo) as base, Browser() as browser:
        browser.open(f"{base}/")
        page = browser.js(READ)
        sql = _sql_totals(demo, ["Acme Cloud"], 30)  # yours: Globex Cloud is the demo's competitor
        assert page["stacked"] == 30 * 4, "a bar per day and bucket"
        assert page["buckets"]["assassins"] == sql["assassins"] and page["buckets"]["advocates"] == sql["advocates"]
        assert page["mentions"] == sql["mentions"] == sum(page["buckets"].values())
        assert page["reach"] == page["reach_bars"] == sql["reach"]
        assert page["voice_lines"] == ["Acme Cloud", "Globex Cloud"] and page["voice"] == sql["voice"]
        assert page["sources"] >= 3 and page["storms"] == page["storm_lines"] == 1
        assert page["assassins"] == 10 and max(page["copies"]) > 1, "one row per distinct text, its copies counted"
        headline = "Acme Cloud outage disrupts thousands of businesses"  # the demo's Google News: the press
        assert page["coverage"] == [headline] and headline not in page["assassin_texts"], "hostile coverage, apart"
        assert sorted(page["alert_kinds"]) == ["assassin", "press", "spike"], "every alert a person acts on"
        assert "through one post on hackernews" in page["outlier"], "the reach outlier is cut and named"
        assert page["net_explained"]
        assert all(iso and "UTC" not in shown for iso, shown in page["times"]), "times in the viewer's zone"
        # Filters: one brand (the competitor), a week, one source.
        browser.open(f"{base}/?brand={quote('Globex Cloud')}&days=7&source=forum")
        week = browser.js(READ)
        sql = _sql_totals(demo, ["Globex Cloud"], 7, "forum")
        assert week["stacked"] == 7 * 4 and week["mentions"] == sql["mentions"] != page["mentions"]
        assert week["assassins_figure"] == sql["assassins"] and week["voice"] == sql["voice"]
        assert browser.console == [], browser.console
        assert browser.requests and [url for url in browser.requests if not url.startswith((base, "data:"))] == []


def test_tables_read_newest_first_with_internal_tables_out_of_the_menu_and_times_local(demo: Path) -> None:
    with serving(demo) as base, Browser() as browser:
        browser.open(f"{base}/demo/mentions")
        first = browser.js("[...document.querySelectorAll('td.col-published_at')].slice(0, 2).map(c => c.title)")
        with Store(demo, readonly=True) as store:
            newest = [r[0] for r in store.db.execute("SELECT published_at FROM mentions ORDER BY published_at DESC LIMIT 2")]
        assert first == newest, "mentions newest first, each time's UTC kept in its title"
        assert browser.js("document.querySelector('details > dl.column-descriptions') !== null"), "column notes folded"
        raw = browser.js("document.querySelector('td.col-raw details summary')")
        assert raw is None or "characters of JSON" in browser.js("document.querySelector('td.col-raw summary').textContent")
        browser.open(f"{base}/demo")
        listed = browser.js("[...document.querySelectorAll('h3 a, h2 a')].map(a => a.textContent.trim())")
        assert "mentions" in listed and not {"leases", "spike_series", "workers", "waits"} & set(listed), listed
        browser.open(f"{base}/demo/to_label")
        assert browser.js("document.querySelector('textarea#sql-editor') === null || "
                          "document.querySelector('textarea#sql-editor').offsetParent === null"), "the SQL folded"
        assert browser.console == [], browser.console
        assert [url for url in browser.requests if not url.startswith((base, "data:"))] == []
    with serving(demo) as base:  # still queryable by name
        assert httpx.get(f"{base}/demo/spike_series.json?_size=1").status_code == 200


def test_to_label_in_the_ui_is_what_monitor_label_suggest_lists(demo: Path) -> None:
    cli = subprocess.run([sys.executable, "-m", "monitor", "--db", str(demo), "label", "--suggest", "200"],
                         capture_output=True, text=True, check=True).stdout.splitlines()[1:]
    listed = [line.split()[0] for line in cli]
    with serving(demo) as base:
        rows = httpx.get(f"{base}/demo/to_label.json?_shape=array").json()
    assert len(rows) == len(listed) > 5
    for row, line in zip(rows, listed):  # the command shortens a long id to 40 characters with "…"
        assert row["mention"] == line or (line.endswith("…") and row["mention"].startswith(line[:-1])), (row, line)


def test_the_dashboard_names_who_acknowledged_an_alert_except_when_served_private(tmp_path: Path) -> None:
    """The alerts panel says who acknowledged each from Slack; ``serve --private`` hides who
    acted (``alert_actions``), and the dashboard then names nobody."""
    from tests.test_store import judged

    db = tmp_path / "monitor.db"
    now = datetime.now(timezone.utc).replace(microsecond=0)
    when = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    with Store(db) as store:
        one = judged("7", "Acme Cloud deleted our data")
        from dataclasses import replace

        store.save_mentions([replace(one, mention=replace(one.mention, published_at=now))], fetched_at=now)
        with store.transaction():
            store.db.execute("INSERT INTO alerts (key, receiver, kind, brand, reason, status, created_at, next_attempt_at,"
                             " sent_at, notification, payload) VALUES ('slack:assassin:blog:7', 'slack', 'assassin', 'Acme',"
                             " 'assassin score 0.97', 'sent', ?, ?, ?, 'n-1', '{}')", (when, when, when))
            store.db.execute("INSERT INTO alert_actions (notification, receiver, action, who, at) VALUES"
                             " ('n-1', 'slack', 'ack', 'maria.lopez', ?)", (when,))
    with serving(db) as base:
        page = httpx.get(f"{base}/").text
        assert "maria.lopez" in page and "assassin score 0.97" in page
    with serving(db, "--private") as base:
        page = httpx.get(f"{base}/").text
        assert "maria.lopez" not in page and "someone" in page
