"""Faults found when the monitor was tried as an operator would: each one served from a
loopback server (or a real file), each asserting what is recorded, what still works, and
that nothing is lost or sent twice."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from alerts.console import ConsoleNotifier
from monitor.cli import main
from monitor.config_check import parse_config
from monitor.errors import StoreError
from monitor.models import Alert, Judged, Match, Mention, Reach, Score, SourceState, from_iso
from monitor.pipeline import run_once
from monitor.runtime import Runtime, deliver, enqueue
from monitor.store import MIGRATIONS, Store
from tests.support import NOW, all_strings, fixture_bytes, free_port, loopback

WEBHOOK_CONFIG = """\
brands: [{name: Acme Cloud, keywords: [acme]}]
receivers: [{name: slack, type: slack, webhook_url_env: TEST_FAULTS_WEBHOOK}]
route: {receiver: slack, group_by: [kind, brand], group_wait: 30s, group_interval: 5m, repeat_interval: 4h}
"""


def assassin(n: int) -> Alert:
    """An assassin alert for post ``n`` of a blog."""
    mention = Mention(source="blog", id=str(n), url=f"https://blog.example/{n}", text=f"Acme Cloud lost my data ({n})",
                      published_at=NOW, author=f"user{n}", source_type="rss")
    judged = Judged(mention, Match(("Acme Cloud",), ("acme",)), Score(-0.8, "assassin", ("data loss",)), Reach(10, 100, "test"))
    return Alert(f"assassin:blog:{n}", "assassin", "Acme Cloud", "blog", "warning", "assassin score 0.90", (judged,), NOW)


@pytest.fixture
def webhook_runtime(slack, monkeypatch):
    monkeypatch.setenv("TEST_FAULTS_WEBHOOK", slack.webhook_url)
    with httpx.Client() as client:
        yield Runtime.build(parse_config(WEBHOOK_CONFIG), client=client)


# --- 1. alerts stranded after a failed send -----------------------------------------------------


@pytest.mark.parametrize("answer, first_retry", [
    ((503, "service unavailable", {}), timedelta(seconds=30)),           # the outbox's own backoff
    ((429, "rate_limited", {"Retry-After": "100"}), timedelta(seconds=100)),  # the wait Slack asked for
])
def test_alerts_a_failed_send_left_are_sent_once_by_a_later_cron_run(webhook_runtime, slack, tmp_path: Path,
                                                                     answer, first_retry) -> None:
    """`monitor once` from cron: every run flushes; a run inside the wait sends nothing and
    strands nothing; the first run after it sends every alert, once."""
    slack.script.append(answer)
    with Store(tmp_path / "m.db") as store:
        enqueue([assassin(i) for i in range(3)], webhook_runtime, store, now=NOW)
        assert deliver(webhook_runtime, store, now=NOW, flush=True).retrying == 3
        early = NOW + first_retry / 2
        assert deliver(webhook_runtime, store, now=early, flush=True).sent == 0
        assert store.due_groups(now=NOW + first_retry), "the group keeps its retry time"
        for minutes in (1, 2, 10, 60):
            deliver(webhook_runtime, store, now=NOW + first_retry + timedelta(minutes=minutes), flush=True)
        assert store.alert_counts() == {"sent": 3}
    assert len(slack.posted()) == 1 and slack.posted()[0]["text"].startswith("3 assassins · Acme Cloud · ")


def test_monitor_run_delivers_what_a_rate_limited_cron_run_left(webhook_runtime, slack, tmp_path: Path) -> None:
    """The same 429, then `monitor run`'s delivery job (no flush): sent once the wait is over."""
    slack.script.append((429, "rate_limited", {"Retry-After": "100"}))
    with Store(tmp_path / "m.db") as store:
        enqueue([assassin(1)], webhook_runtime, store, now=NOW)
        deliver(webhook_runtime, store, now=NOW, flush=True)
        deliver(webhook_runtime, store, now=NOW + timedelta(seconds=40), flush=True)  # a cron run inside the wait
        for seconds in range(60, 400, 30):
            deliver(webhook_runtime, store, now=NOW + timedelta(seconds=seconds))
        assert store.alert_counts() == {"sent": 1}
    assert len(slack.posted()) == 1


def test_a_group_an_older_version_left_idle_with_pending_alerts_is_delivered(webhook_runtime, slack, tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        enqueue([assassin(1)], webhook_runtime, store, now=NOW)
        store.db.execute("UPDATE alert_groups SET next_flush_at = NULL")  # what the stranding bug wrote
        assert deliver(webhook_runtime, store, now=NOW + timedelta(minutes=1)).sent == 1
    assert len(slack.posted()) == 1


# --- 2, 3, 8: bad bodies and bad items from a source ----------------------------------------------


def write_config(tmp_path: Path, base: str, bad: str) -> Path:
    """A config with one good feed (``blog``) beside the source under test (``bad``)."""
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "config.yaml"
    path.write_text(f"""\
database: {tmp_path / 'monitor.db'}
brands: [{{name: Acme Cloud, keywords: ['"Acme Cloud"']}}]
sources:
  - {{name: bad, {bad}}}
  - {{name: blog, type: rss, url: {base}/feed.xml}}
""")
    return path


def once(config: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), "once"], catch_exceptions=False)
    return result.exit_code, result.output


def source_row(config: Path, name: str) -> dict:
    with Store(config.parent / "monitor.db", readonly=True) as store:
        return store.source_row(name)


def stored(config: Path, source: str) -> list[str]:
    with sqlite3.connect(config.parent / "monitor.db") as db:
        return [row[0] for row in db.execute("SELECT id FROM mentions WHERE source = ? ORDER BY id", (source,))]


def hn_page(*hits: dict) -> bytes:
    return json.dumps({"hits": list(hits), "nbPages": 1}).encode()


def hn_hit(ident: str, created: object) -> dict:
    return {"objectID": ident, "created_at_i": created, "title": f"Acme Cloud story {ident}", "author": "pg",
            "points": 3, "_tags": ["story"]}


@pytest.fixture
def blog(httpserver: HTTPServer) -> str:
    httpserver.expect_request("/feed.xml").respond_with_data(fixture_bytes("feed.rss.xml"), content_type="application/rss+xml")
    return httpserver.url_for("").rstrip("/")


@pytest.mark.parametrize("created", ["yesterday", 10**20, [1], None, -10**15])
def test_a_hit_with_an_unreadable_time_is_skipped_and_counted_not_fatal(tmp_path: Path, httpserver: HTTPServer, blog: str,
                                                                        created) -> None:
    good = int(NOW.timestamp()) - 60
    httpserver.expect_request("/hn/search_by_date").respond_with_data(
        hn_page(hn_hit("1", created), hn_hit("2", good)), content_type="application/json")
    config = write_config(tmp_path, blog, f"type: hackernews, base_url: '{blog}/hn', first_run: 36500d")
    code, output = once(config)
    assert code == 0, output
    assert "bad: 1 fetched" in output and "blog: 3 fetched" in output
    assert stored(config, "bad") == ["2"]
    row = source_row(config, "bad")
    assert row["error_count"] == 0
    if created is not None:  # a hit without a time is not an item at all
        assert "skipped 1 malformed item (1: " in row["last_warning"] and "unreadable time" in row["last_warning"]
        assert row["skipped_total"] == 1


def test_json_nested_200000_deep_is_a_parse_error_of_that_source(tmp_path: Path, httpserver: HTTPServer, blog: str) -> None:
    httpserver.expect_request("/hn/search_by_date").respond_with_data(b"[" * 200_000 + b"]" * 200_000)
    config = write_config(tmp_path, blog, f"type: hackernews, base_url: '{blog}/hn'")
    code, output = once(config)
    assert code == 0 and "bad: failed: " in output and "nested too deep" in output
    assert "blog: 3 fetched" in output and len(stored(config, "blog")) == 2  # two name the brand
    assert "nested too deep" in source_row(config, "bad")["last_error"]


def test_whatever_escapes_a_connector_is_that_sources_failure_with_backoff_and_source_down(
        tmp_path: Path, httpserver: HTTPServer, blog: str) -> None:
    # Lemmy community ids of two types cannot be sorted together: a TypeError outside any item.
    posts = [{"post": {"id": i, "name": "Acme Cloud is down", "published": "2026-11-23T10:00:00Z"},
              "community": {"id": community}, "creator": {"name": "x"}, "counts": {}} for i, community in ((1, 1), (2, "x"))]
    httpserver.expect_request("/lemmy/api/v3/search").respond_with_json({"posts": posts})
    config = write_config(tmp_path, blog, f"type: lemmy, base_url: '{blog}/lemmy'")
    text = config.read_text().replace("sources:", "alerts: {source_down_after: 2}\nsources:")
    config.write_text(text)
    parsed = parse_config(text)
    with Store(tmp_path / "monitor.db") as store, httpx.Client() as client:
        runtime = Runtime.build(parsed, client=client, notifiers={})
        for attempt in range(3):
            reports = run_once(runtime, store, now=NOW + timedelta(hours=attempt * 7))
            assert "connector failed: TypeError" in reports[0].error and reports[1].error is None
        row = store.source_row("bad")
        assert row["error_count"] == 3 and row["errors_total"] == 3
        assert from_iso(row["next_check_at"]) > NOW + timedelta(hours=14), "it backs off"
        assert store.db.execute("SELECT count(*) FROM alerts WHERE kind = 'source_down'").fetchone()[0] == 1


def gzip_bomb(inflated: int) -> bytes:
    """``inflated`` bytes of spaces, gzipped (about a thousandth of the size)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b" " * (1 << 20)
    return b"".join(packer.compress(chunk) for _ in range(inflated >> 20)) + packer.flush()


def traced_peak(run) -> tuple[object, int]:
    """What ``run()`` returns, and the peak of Python memory while it ran (bytes)."""
    tracemalloc.start()
    try:
        return run(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_gzip_bomb_stops_at_max_body_in_bounded_memory(tmp_path: Path, httpserver: HTTPServer, blog: str) -> None:
    bomb = gzip_bomb(1 << 30)  # 1 MB on the wire, 1 GB inflated
    httpserver.expect_request("/bomb.xml").respond_with_data(bomb, headers={"Content-Encoding": "gzip"},
                                                             content_type="application/rss+xml")
    control = write_config(tmp_path / "control", blog, f"type: rss, url: '{blog}/feed.xml'")
    once(control)  # models and modules loaded before anything is measured
    (_, baseline) = traced_peak(lambda: once(control))
    config = write_config(tmp_path, blog, f"type: rss, url: '{blog}/bomb.xml'")
    (code, output), peak = traced_peak(lambda: once(config))
    assert code == 0 and "bad: failed: body of" in output and "is larger than max_body (10MB)" in output
    assert "blog: 3 fetched" in output
    # The body's cap, and the pieces joined once: about twice max_body above a normal run.
    assert peak - baseline < 25 * (1 << 20), f"peak {peak / (1 << 20):.0f} MB, a normal run {baseline / (1 << 20):.0f} MB"
    assert "larger than max_body" in source_row(config, "bad")["last_error"]


def test_a_body_over_a_sources_max_body_is_refused_and_a_smaller_one_read(tmp_path: Path, httpserver: HTTPServer,
                                                                        blog: str) -> None:
    big = fixture_bytes("feed.rss.xml").replace(b"</channel>", b"<!--" + b" " * (3 << 20) + b"--></channel>")
    httpserver.expect_request("/big.xml").respond_with_data(big, content_type="application/rss+xml")
    config = write_config(tmp_path, blog, f"type: rss, url: '{blog}/big.xml', max_body: 2MB")
    code, output = once(config)
    assert "bad: failed: body of" in output and "larger than max_body (2MB)" in output
    config.write_text(config.read_text().replace("max_body: 2MB", "max_body: 4MB"))
    code, output = once(config)
    assert "bad: 3 fetched" in output


def test_a_truncated_feed_is_a_warning_and_its_cut_off_stub_is_not_stored(tmp_path: Path, httpserver: HTTPServer,
                                                                          blog: str) -> None:
    whole = fixture_bytes("feed.rss.xml")
    cut = whole[: whole.rindex(b"<item>") + len(b"<item>")]
    httpserver.expect_request("/cut.xml").respond_with_data(cut, content_type="application/rss+xml")
    config = write_config(tmp_path, blog, f"type: rss, url: '{blog}/cut.xml'")
    code, output = once(config)
    assert code == 0 and "bad: 2 fetched" in output
    assert len(stored(config, "bad")) == 2
    warning = source_row(config, "bad")["last_warning"]
    assert "is a partial document" in warning and "skipped 1 malformed item" in warning
    status = CliRunner().invoke(main, ["--config", str(config), "status"])
    assert "partial document" in status.output


def test_undecodable_bytes_are_reported(tmp_path: Path, httpserver: HTTPServer, blog: str) -> None:
    body = fixture_bytes("feed.rss.xml").replace(b"Acme Cloud", b"Acme Cloud \xff\xfe", 1)
    httpserver.expect_request("/latin.xml").respond_with_data(body, content_type="application/rss+xml; charset=utf-8")
    config = write_config(tmp_path, blog, f"type: rss, url: '{blog}/latin.xml'")
    once(config)
    assert "undecodable bytes" in source_row(config, "bad")["last_warning"]


def test_an_author_written_as_entities_is_read_as_text_and_stays_text_in_slack(tmp_path: Path, httpserver: HTTPServer,
                                                                            blog: str, slack, monkeypatch) -> None:
    feed = f"""<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title>
<item><title>Acme Cloud lost all my data, I am leaving</title><link>https://blog.example/1</link><guid>1</guid>
<dc:creator><![CDATA[&lt;!here&gt; \u202eevil]]></dc:creator><pubDate>{NOW.strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate>
<description>Acme Cloud support never answered. Terrible, I want a refund.</description></item></channel></rss>"""
    httpserver.expect_request("/authors.xml").respond_with_data(feed.encode(), content_type="application/rss+xml")
    monkeypatch.setenv("TEST_FAULTS_WEBHOOK", slack.webhook_url)
    config = write_config(tmp_path, blog, f"type: rss, url: '{blog}/authors.xml'")
    config.write_text(config.read_text() + "receivers: [{name: slack, type: slack, webhook_url_env: TEST_FAULTS_WEBHOOK}]\n"
                      "alerts: {backfill: 36500d, max_age: 36500d}\n")
    assert once(config)[0] == 0
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        (author,), = db.execute("SELECT author_name FROM mentions WHERE source = 'bad'").fetchall()
    assert author == "<!here> evil"
    shown = json.dumps(slack.posted())
    assert "&lt;!here&gt; evil" in shown and "<!here>" not in shown and "\\u202e" not in shown


# --- 5, 6: the database ----------------------------------------------------------------------------


def test_a_database_from_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    Store(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 999")
    conn.close()
    before = db.read_bytes()
    for readonly in (False, True):
        with pytest.raises(StoreError) as info:
            Store(db, readonly=readonly)
        assert str(info.value) == (
            f"{db} has schema version 999, newer than this monitor knows ({len(MIGRATIONS)}): it was written by a newer "
            "version — upgrade the monitor (pip install -U reputation-monitor), or point --db at another file")
    wal = tmp_path / "m.db-wal"
    assert db.read_bytes() == before and (not wal.exists() or wal.stat().st_size == 0), "nothing written"
    result = CliRunner().invoke(main, ["--db", str(db), "--config", str(tmp_path / "none.yaml"), "status"])
    assert result.exit_code == 1 and "schema version 999, newer than this monitor knows" in result.output


@pytest.fixture
def reader_folder(tmp_path: Path):
    """A folder another user may read (pytest's own temporary folders are root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="monitor-ro-")) if os.geteuid() == 0 else tmp_path / "ro"
    folder.mkdir(exist_ok=True)
    yield folder
    folder.chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)


def as_reader(folder: Path) -> Path:
    """A config and database nobody but root may write (the readers run as another user when
    the tests run as root, since root writes anything)."""
    folder.chmod(0o755)
    config = folder / "config.yaml"
    config.write_text(f"database: {folder / 'm.db'}\nbrands: [{{name: Acme Cloud, keywords: [acme]}}]\n"
                      "sources: [{name: hn, type: hackernews}]\n")
    with Store(folder / "m.db") as store:
        store.ensure_source("hn", "hackernews", now=NOW)
    for path in (config, folder / "m.db"):
        path.chmod(0o444)
    folder.chmod(0o555)
    return folder


@pytest.mark.parametrize("command", [["search", "acme"], ["status"], ["digest"], ["backtest", "--since", "1d"],
                                     ["silence", "list"], ["alerts", "preview"]])
def test_readers_work_on_a_database_they_may_not_write(reader_folder: Path, command: list) -> None:
    folder = as_reader(reader_folder)
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    if as_nobody and not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv (util-linux): cannot drop to a user that may not write")
    try:
        result = subprocess.run([*as_nobody, sys.executable, "-m", "monitor", "--config", str(folder / "config.yaml"),
                                 *command], capture_output=True, text=True, timeout=120, cwd=folder)
    finally:
        folder.chmod(0o755)
    assert "readonly" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    assert not (folder / "m.db-wal").exists()


# --- 4: secrets never reach a log ----------------------------------------------------------------


def test_no_secret_reaches_any_log_at_debug_on_every_logger(tmp_path: Path, httpserver: HTTPServer, blog: str, slack) -> None:
    feed = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>Acme Cloud lost my data</title>
<link>https://blog.example/9</link><guid>9</guid><pubDate>{datetime.now(timezone.utc).strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate>
<description>Acme Cloud support never answered. Terrible service, I want a refund and I am leaving.</description></item></channel></rss>"""
    httpserver.expect_request("/alerts.xml").respond_with_data(feed.encode(), content_type="application/rss+xml")
    httpserver.expect_request("/se/search/advanced").respond_with_data("no", status=500)
    secrets = {"TEST_FAULTS_WEBHOOK": slack.webhook_url, "TEST_FAULTS_TOKEN": "xoxb-1234-abcdefghijklmnop",
               "TEST_FAULTS_SE_KEY": "se-key-u8Zq41Xc"}
    config = tmp_path / "config.yaml"
    config.write_text(f"""\
database: {tmp_path / 'monitor.db'}
brands: [{{name: Acme Cloud, keywords: ['"Acme Cloud"']}}]
sources:
  - {{name: feed, type: rss, url: '{blog}/alerts.xml'}}
  - {{name: se, type: stackexchange, base_url: '{blog}/se', key_env: TEST_FAULTS_SE_KEY}}
receivers:
  - {{name: hook, type: slack, webhook_url_env: TEST_FAULTS_WEBHOOK}}
  - {{name: bot, type: slack, token_env: TEST_FAULTS_TOKEN, channel: C1, base_url: '{slack.api_url}'}}
alerts: {{backfill: 1d}}
""")
    slack.script.append((500, "boom", {}))  # one failed send: error paths log too
    result = subprocess.run([sys.executable, "-m", "monitor", "-v", "-v", "--config", str(config), "once"],
                            capture_output=True, text=True, timeout=120, env={**os.environ, **secrets})
    log = result.stdout + result.stderr
    assert "DEBUG" in log and "slack_sdk" in log and "search/advanced" in log, log[-2000:]
    assert len(slack.posted()) == 1, log[-2000:]  # one of the two sends failed once, the other went out
    for name, value in secrets.items():
        assert value not in log, f"{name} reached the log"
    assert "/services/T000/B000/XXXX" not in log and "abcdefghijklmnop" not in log and "u8Zq41Xc" not in log
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        dump = "\n".join(db.iterdump())
    assert not any(value in dump for value in secrets.values()), "a secret reached the database"


# --- 7: what reaches Slack and the terminal -------------------------------------------------------

HOSTILE = "\x1b[2J\x07 evil \u202egnp.exe\u2066 \u2069\x00 \x9b31m"


def hostile(url: str, text: str = "Acme Cloud ate my invoices") -> Alert:
    mention = Mention(source="blog", id="h", url=url, text=f"{text} {HOSTILE}", published_at=NOW,
                      title=f"Title {HOSTILE}", author=f"u{HOSTILE}", author_name=f"Name {HOSTILE}", source_type="rss")
    judged = Judged(mention, Match(("Acme Cloud",), (f"acme {HOSTILE}",)), Score(-0.8, "assassin", (f"why {HOSTILE}",)),
                    Reach(10, 100, f"method {HOSTILE}"))
    return Alert("assassin:blog:h", "assassin", "Acme Cloud", f"blog{HOSTILE}", "warning", f"reason {HOSTILE}", (judged,), NOW)


def test_a_5000_character_url_does_not_hide_its_post(webhook_runtime, slack, tmp_path: Path) -> None:
    alert = hostile("https://blog.example/" + "a" * 5000, text="Acme Cloud lost my data, here is the proof")
    with Store(tmp_path / "m.db") as store:
        enqueue([alert], webhook_runtime, store, now=NOW)
        assert deliver(webhook_runtime, store, now=NOW, flush=True).sent == 1
    (message,) = slack.posted()
    post = message["blocks"][1]["text"]["text"]
    assert "Acme Cloud lost my data, here is the proof" in post and len(post) <= 3000
    assert "<" not in post, "no link is left open (the URL is not linked)"
    assert "(link too long to show)" in post


def test_no_control_or_bidi_character_reaches_any_receiver(webhook_runtime, slack, tmp_path: Path) -> None:
    forbidden = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
    alert = hostile("https://blog.example/ok\u202e?\x1b")
    with Store(tmp_path / "m.db") as store:
        enqueue([alert], webhook_runtime, store, now=NOW)
        deliver(webhook_runtime, store, now=NOW, flush=True)
    (message,) = slack.posted()
    for value in all_strings(message):
        assert not forbidden.search(value), repr(value)
    assert "evil" in json.dumps(message) and "gnp.exe" in json.dumps(message)
    shown = io.StringIO()
    ConsoleNotifier(stream=shown).send(alert)
    assert not forbidden.search(shown.getvalue().replace("\n", "")) and "evil" in shown.getvalue()


# --- operations: metrics, a stop that flushes, status --check -------------------------------------


def assassin_feed() -> bytes:
    when = datetime.now(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>Acme Cloud lost my data</title>
<link>https://blog.example/9</link><guid>9</guid><pubDate>{when}</pubDate><author>ops@example.com (Ops)</author>
<description>Acme Cloud support never answered. Terrible service, I want a refund and I am leaving.</description>
</item></channel></rss>""".encode()


def test_monitor_run_serves_metrics_and_sigterm_flushes_the_outbox(tmp_path: Path, httpserver: HTTPServer, blog: str) -> None:
    httpserver.expect_request("/alerts.xml").respond_with_data(assassin_feed(), content_type="application/rss+xml")
    httpserver.expect_request("/down.xml").respond_with_data("no", status=503)
    config = tmp_path / "config.yaml"
    config.write_text(f"""\
database: {tmp_path / 'monitor.db'}
brands: [{{name: Acme Cloud, keywords: ['"Acme Cloud"']}}]
sources:
  - {{name: feed, type: rss, url: '{blog}/alerts.xml', every: 1h}}
  - {{name: down, type: rss, url: '{blog}/down.xml', every: 1h}}
alerts: {{backfill: 1d}}
route: {{receiver: console, group_wait: 1h}}
""")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), "run", "--metrics-port", str(port)],
                               env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        metrics = ""
        deadline = time.monotonic() + 30
        # a run's counters are written when the run ends, after its alert is queued: wait for all of them
        wanted = ('monitor_source_runs_total{source="feed"} 1.0', 'monitor_source_errors_total{source="down"} 1.0',
                  'monitor_source_mentions_stored_total{source="feed"} 1.0',
                  'monitor_source_failures_in_a_row{source="down"} 1.0',
                  'monitor_receiver_alerts{receiver="console",status="pending"} 1.0')
        while time.monotonic() < deadline and not all(line in metrics for line in wanted):
            time.sleep(0.3)
            try:
                metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.HTTPError:
                continue
        for line in wanted:
            assert line in metrics, metrics
        assert re.search(r'monitor_source_seconds_since_success\{source="feed"\} \d', metrics)
        assert re.search(r'monitor_receiver_oldest_pending_seconds\{receiver="console"\} \d', metrics)
        assert 'seconds_since_success{source="down"}' not in metrics  # never succeeded
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "outbox flushed on stop: 1 sent" in err and "Acme Cloud lost my data" in out  # group_wait was an hour


def test_status_check_says_when_every_source_fails_or_one_never_succeeded(tmp_path: Path) -> None:
    # Offline: both sources failed their only run on a name that does not resolve.
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {tmp_path / 'm.db'}\nbrands: [{{name: A, keywords: [a]}}]\n"
                      "sources: [{name: hn, type: hackernews}, {name: news, type: rss, url: 'https://news.example/f'}]\n")
    now = datetime.now(timezone.utc)
    error = "no DNS answer for {0} (is this machine offline?) (fetching {0}/x)"
    with Store(tmp_path / "m.db") as store:
        for name, host in (("hn", "hn.algolia.com"), ("news", "news.example")):
            store.ensure_source(name, "hackernews", now=now)
            store.record_failure(name, error.format(host), now=now, next_check_at=now + timedelta(minutes=1))
    check = CliRunner().invoke(main, ["--config", str(config), "status", "--check"])
    assert check.exit_code == 1
    assert check.output.splitlines() == [
        "every source failed its last run (2 of 2): no DNS answers, is this machine offline?",
        "source hn has never succeeded (1 run failed): " + error.format("hn.algolia.com"),
        "source news has never succeeded (1 run failed): " + error.format("news.example"),
    ]
    with Store(tmp_path / "m.db") as store:  # one comes back: the other still never succeeded
        store.record_success("hn", SourceState(), now=now, next_check_at=now + timedelta(minutes=15))
    check = CliRunner().invoke(main, ["--config", str(config), "status", "--check"])
    assert check.exit_code == 1
    assert check.output == "source news has never succeeded (1 run failed): " + error.format("news.example") + "\n"


def test_status_check_says_alerts_no_receiver_can_deliver(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("UNSET_SLACK_TOKEN", raising=False)
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {tmp_path / 'm.db'}\nbrands: [{{name: A, keywords: [a]}}]\nsources: []\n"
                      "receivers: [{name: slack, type: slack, token_env: UNSET_SLACK_TOKEN, channel: '#x'}]\n")
    now = datetime.now(timezone.utc)
    with Store(tmp_path / "m.db") as store:
        for i in range(2):
            store.enqueue_alert(assassin(i), "slack", now=now)  # just queued: not yet "waiting long"
        store.enqueue_alert(assassin(9), "old-console", now=now)
    check = CliRunner().invoke(main, ["--config", str(config), "status", "--check"])
    assert check.exit_code == 1
    assert sorted(check.output.splitlines()) == [
        "receiver old-console: 1 alert pending, and no receiver of that name is in the config to send them",
        "receiver slack: 2 alerts pending that it cannot deliver (environment variable UNSET_SLACK_TOKEN is not set)",
    ]


def test_status_check_exits_1_with_a_line_per_problem_and_0_when_healthy(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {tmp_path / 'm.db'}\nbrands: [{{name: A, keywords: [a]}}]\n"
                      "sources: [{name: ok, type: hackernews}, {name: broken, type: hackernews}]\n")
    now = datetime.now(timezone.utc)
    with Store(tmp_path / "m.db") as store:
        for name in ("ok", "broken"):
            store.ensure_source(name, "hackernews", now=now)
        store.record_success("ok", SourceState(), now=now, next_check_at=now + timedelta(minutes=15))
        store.record_success("broken", SourceState(), now=now, next_check_at=now)
        for _ in range(3):
            store.record_failure("broken", "HTTP 500 from https://hn.example", now=now, next_check_at=now + timedelta(minutes=1))
    check = CliRunner().invoke(main, ["--config", str(config), "status", "--check"])
    assert check.exit_code == 1
    assert check.output == "source broken is failing (3 in a row): HTTP 500 from https://hn.example\n"
    with Store(tmp_path / "m.db") as store:
        store.record_success("broken", SourceState(), now=now, next_check_at=now - timedelta(hours=3))
        store.enqueue_alert(assassin(1), "console", now=now - timedelta(hours=2))
        store.db.execute("UPDATE alerts SET status = 'failed', last_error = 'Slack refused the message: invalid_auth'")
    check = CliRunner().invoke(main, ["--config", str(config), "status", "--check"])
    assert check.exit_code == 1
    assert check.output.splitlines() == [
        "source broken is overdue by 3h (is `monitor run` running?)",
        "receiver console: 1 alert could not be delivered: Slack refused the message: invalid_auth",
    ]
    with Store(tmp_path / "m.db") as store:
        store.record_success("broken", SourceState(), now=now, next_check_at=now + timedelta(minutes=15))
        store.db.execute("UPDATE alerts SET status = 'sent'")
    check = CliRunner().invoke(main, ["--config", str(config), "status", "--check"])
    assert check.exit_code == 0 and check.output == "healthy: 2 sources, 0 alerts pending\n"


def test_a_webhook_url_without_its_scheme_is_named_and_never_printed(tmp_path: Path, monkeypatch) -> None:
    secret = "hooks.slack.com/services/T0SECRET/B0SECRET/XXXXSECRET"
    monkeypatch.setenv("BAD_SLACK_WEBHOOK", secret)
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {tmp_path / 'm.db'}\nbrands: [{{name: A, keywords: [a]}}]\nsources: []\n"
                      "receivers: [{name: slack, type: slack, webhook_url_env: BAD_SLACK_WEBHOOK}]\n")
    check = CliRunner().invoke(main, ["--config", str(config), "check-config"])
    assert "receivers[0] (slack): environment variable BAD_SLACK_WEBHOOK does not hold a webhook URL" in check.output
    with Store(tmp_path / "m.db") as store:
        store.enqueue_alert(assassin(1), "slack", now=datetime.now(timezone.utc))
    status = CliRunner().invoke(main, ["--config", str(config), "status", "--check"])
    assert status.exit_code == 1 and "receiver slack: 1 alert pending that it cannot deliver (environment variable " \
        "BAD_SLACK_WEBHOOK does not hold a webhook URL" in status.output
    once = CliRunner().invoke(main, ["--config", str(config), "once"])
    assert secret not in check.output + status.output + once.output and "T0SECRET" not in once.output
    # The notifier itself, handed such a URL, fails with words and never the value.
    from alerts.slack import SlackNotifier
    from monitor.errors import NotifyError

    with pytest.raises(NotifyError) as caught:
        SlackNotifier("slack", webhook_url=secret).send(assassin(2))
    assert "no https:// in front" in str(caught.value) and "SECRET" not in str(caught.value) and not caught.value.retryable


def test_a_posts_url_keeps_no_bidirectional_or_invisible_character_and_its_emoji_keep_their_joiner() -> None:
    from monitor.ingest import normalize

    hostile = Mention(source="blog", id="1", url="https://evil.example/\u202egnp.exe\u200b", text="Acme \u200bCloud 👩\u200d💻",
                      title="t\u200f", published_at=NOW, author="a\u2066b", source_type="rss")
    clean = normalize(hostile)
    assert clean.url == "https://evil.example/%E2%80%AEgnp.exe%E2%80%8B"
    assert clean.text == "Acme Cloud 👩\u200d💻" and clean.title == "t" and clean.author == "ab"


GOOD_HIT = {"objectID": "100", "created_at_i": 1_763_900_000, "_tags": ["comment"], "author": "dana",
            "comment_text": "Acme Cloud lost my data", "story_id": 7, "story_title": "Ask HN", "points": None}
BAD_HITS = {
    "author a list": {"author": ["x", "y"]},
    "author a mapping": {"author": {"name": "x"}},
    "author a number": {"author": 12},
    "comment_text a number": {"comment_text": 123},
    "comment_text a list": {"comment_text": ["a", "b"]},
    "comment_text 900 deep": {"comment_text": "NESTED"},
    "story_id a mapping": {"story_id": {"id": 7}},
    "story_id text": {"story_id": "seven"},
    "story_id a float": {"story_id": 7.5},
    "points a mapping": {"points": {"n": 1}},
    "points 5,000 digits": {"points": "BIGINT"},
    "num_comments text": {"num_comments": "12"},
    "objectID a mapping": {"objectID": {"id": 1}},
    "objectID a boolean": {"objectID": True},
    "objectID empty": {"objectID": ""},
    "created_at_i text": {"created_at_i": "yesterday"},
    "created_at_i past 9999": {"created_at_i": 10**20},
    "created_at_i a list": {"created_at_i": [1]},
    "_tags a word": {"_tags": "comment"},
    "_tags of numbers": {"_tags": [1, 2]},
    "story_title a list": {"story_title": ["t"]},
    "url a number": {"url": 5, "comment_text": None, "_tags": ["story"], "title": "Acme Cloud"},
    "title a mapping": {"title": {"t": 1}, "comment_text": None, "_tags": ["story"]},
    "not an object": None,
}


@pytest.mark.parametrize("case", sorted(BAD_HITS))
def test_one_malformed_item_is_skipped_and_counted_and_the_good_post_beside_it_stored(case: str, tmp_path: Path,
                                                                                    httpserver: HTTPServer) -> None:
    bad = "[1, 2, 3]" if BAD_HITS[case] is None else json.dumps({**GOOD_HIT, "objectID": "101", **BAD_HITS[case]})
    bad = bad.replace('"NESTED"', "[" * 900 + "]" * 900).replace('"BIGINT"', "9" * 5000)
    page = '{"hits": [%s, %s], "nbPages": 1}' % (json.dumps(GOOD_HIT), bad)
    httpserver.expect_request("/api/v1/search_by_date").respond_with_data(page, content_type="application/json")
    httpserver.expect_request("/api/v1/search").respond_with_data('{"hits": [], "nbPages": 1}',
                                                                   content_type="application/json")
    config = parse_config(f"database: {tmp_path / 'm.db'}\nbrands: [{{name: Acme Cloud, keywords: ['\"Acme Cloud\"']}}]\n"
                          f"sources: [{{name: hn, type: hackernews, base_url: '{httpserver.url_for('/api/v1')}', "
                          "first_run: 36500d}]\n")
    with httpx.Client() as client, Store(tmp_path / "m.db") as store:
        report = run_once(Runtime.build(config, client=client), store, now=datetime.now(timezone.utc))[0]
        stored = [r[0] for r in store.db.execute("SELECT id FROM mentions")]
        row = store.source_row("hn")
    assert report.error is None and stored == ["100"], (report, stored)
    assert report.skipped == 1 and row["error_count"] == 0 and "skipped" in (row["last_warning"] or "")


def test_cron_runs_of_monitor_once_wait_out_a_hosts_retry_after_and_it_is_no_failure(tmp_path: Path,
                                                                                      httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data("slow down", status=429, headers={"Retry-After": "30"})
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {tmp_path / 'm.db'}\nbrands: [{{name: A, keywords: [acme]}}]\n"
                      f"sources: [{{name: blog, type: rss, url: '{httpserver.url_for('/feed.xml')}'}}]\n")
    for _ in range(3):  # three cron runs, seconds apart, each a new process's client
        CliRunner().invoke(main, ["--config", str(config), "once"])
    assert len(httpserver.log) == 1, "asked to wait 30 s: asked once"
    with Store(tmp_path / "m.db") as store:
        row = store.source_row("blog")
    assert row["error_count"] == 0 and "rate limited, waiting as asked" in row["last_warning"]
    check = CliRunner().invoke(main, ["--config", str(config), "status", "--check"])
    assert check.exit_code == 0, check.output  # an honoured rate limit is not a failure


def test_a_receivers_retry_after_holds_across_runs(slack, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TEST_SLACK_WEBHOOK", slack.webhook_url)
    config = parse_config("brands: [{name: Acme Cloud, keywords: [acme]}]\n"
                          "receivers: [{name: slack, type: slack, webhook_url_env: TEST_SLACK_WEBHOOK}]\n")
    slack.script.append((429, "rate_limited", {"Retry-After": "20"}))
    now = datetime.now(timezone.utc)
    for run in range(6):  # monitor once every 3 s: a new runtime (process) each time, a new alert each time
        with httpx.Client() as client, Store(tmp_path / "m.db") as store:
            runtime = Runtime.build(config, client=client)
            enqueue([assassin(run)], runtime, store, now=now + timedelta(seconds=3 * run))
            deliver(runtime, store, now=now + timedelta(seconds=3 * run), flush=True)
    assert len(slack.requests) == 1, "nothing sent before the 20 s Slack asked for"
    with httpx.Client() as client, Store(tmp_path / "m.db") as store:
        deliver(Runtime.build(config, client=client), store, now=now + timedelta(seconds=35), flush=True)
        assert store.alert_counts() == {"sent": 6}
    assert 2 <= len(slack.requests) <= 3  # after the wait: the retried alert and the five that waited


class _Dripper:
    """A loopback server whose /drip answers a byte every ``every`` seconds for ``for_seconds``, and
    whose /hold answers nothing until released; /ok is a healthy feed. Counts the requests."""

    def __init__(self, every: float = 0.25, for_seconds: float = 30.0) -> None:
        from http.server import BaseHTTPRequestHandler
        import threading

        self.release = threading.Event()
        self.hits: dict[str, int] = {}
        this = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?")[0]
                this.hits[path] = this.hits.get(path, 0) + 1
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.end_headers()
                    if path.startswith("/hold"):
                        this.release.wait(60)
                    elif path.startswith("/drip"):
                        deadline = time.monotonic() + for_seconds
                        while time.monotonic() < deadline and not this.release.is_set():
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            time.sleep(every)
                    self.wfile.write(b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>")
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.base, self.server = loopback(Handler)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_server_dripping_bytes_is_cut_off_by_its_pace_not_after_minutes() -> None:
    from connectors.http import get, make_client
    from monitor.errors import FetchError

    dripper = _Dripper(every=0.25)
    try:
        with make_client(progress_grace=1.0) as client:  # the default grace is 10 s
            started = time.monotonic()
            with pytest.raises(FetchError) as caught:
                get(client, dripper.base + "/drip", source="slow")
            spent = time.monotonic() - started
    finally:
        dripper.close()
    assert "(under 1 KB/s); stopped reading" in str(caught.value) and spent < 10, (str(caught.value), spent)


def test_sources_whose_servers_hold_their_answer_never_take_a_healthy_sources_thread(tmp_path: Path) -> None:
    # Thirty sources whose server holds every answer, one healthy every 10 s: the healthy one runs
    # again and again while all thirty are held (each job has a thread of its own; with the pool of
    # 10 threads it had, held jobs took them all and the healthy one ran once at most).
    from monitor.scheduler import Monitor

    dripper = _Dripper()
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {tmp_path / 'm.db'}\nbrands: [{{name: A, keywords: [acme]}}]\nsources:\n"
                      + "".join(f"  - {{name: held{i}, type: rss, url: '{dripper.base}/hold{i}', every: 10s}}\n"
                                for i in range(30))
                      + f"  - {{name: healthy, type: rss, url: '{dripper.base}/ok', every: 10s}}\n")
    monitor = Monitor(config)
    monitor.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (dripper.hits.get("/ok", 0) >= 2 and len(dripper.hits) == 31):
            time.sleep(0.05)
        assert dripper.hits.get("/ok", 0) >= 2 and len(dripper.hits) == 31, dripper.hits
        assert not dripper.release.is_set()  # every held one is still held
    finally:
        dripper.release.set()
        monitor.stop()
        dripper.close()


def test_thirty_failing_sources_read_together_hold_a_few_bodies_of_memory_not_thirty() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler

    from connectors.http import get, make_client
    from monitor.errors import FetchError

    bomb = gzip_bomb(1 << 30)  # each inflates to 1 GB; max_body stops it at 10 MB

    class Bomb(BaseHTTPRequestHandler):  # a server answering all thirty at once
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(bomb)))
            self.end_headers()
            try:
                self.wfile.write(bomb)
            except OSError:
                pass  # the reader stopped at max_body

        def log_message(self, *args: object) -> None:
            pass

    base, server = loopback(Bomb)
    url = f"{base}/bomb"
    errors: list[str] = []
    go = threading.Barrier(30)

    def read(client) -> None:
        go.wait()
        try:
            get(client, url, source="faulty")
        except FetchError as exc:
            errors.append(str(exc))

    def together(client) -> None:
        threads = [threading.Thread(target=read, args=(client,)) for _ in range(30)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    try:
        with make_client() as client:
            _, peak = traced_peak(lambda: together(client))
    finally:
        server.shutdown()
        server.server_close()
    assert len(errors) == 30 and all("larger than max_body" in e for e in errors), errors[:2]
    # Four large bodies at once (each its 10 MB and the join), the others waiting at 1 MB: thirty
    # read at once held thirty times that.
    assert peak < 160 * (1 << 20), f"peak {peak / (1 << 20):.0f} MB"


BROKEN_FEED = (b"<rss><channel><item><title>acme</title><description>" + b"<div><p>acme " * (9 << 16)
               + b"</description></item></channel></rss>")  # 7 MB of unclosed HTML
LONG_FEED = b"<rss><channel><title>long</title>" + b"".join(
    b"<item><title>acme %d</title><description>&lt;p&gt;acme is down " % i + b"x" * 300
    + b"&lt;/p&gt;</description><guid>long-%d</guid></item>" % i for i in range(25000)) + b"</channel></rss>"


def _parse_cost(name: str) -> dict:
    """parse_feed over one of the feeds above in a fresh interpreter: what it said, and how much
    its peak resident memory grew (the loose parser's cost is C memory tracemalloc never sees)."""
    script = f"""
import json, resource, sys
from datetime import datetime, timezone
from connectors.rss import parse_feed
from monitor.errors import ParseError
from tests.test_faults import {name} as body
before, warnings = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, []
try:
    said = len(parse_feed(body, source="s", url="https://feeds.example/f.xml", now=datetime.now(timezone.utc),
                          headers={{"content-type": "application/rss+xml"}}, warnings=warnings))
except ParseError as exc:
    said = str(exc)
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps({{"said": said, "warnings": warnings, "grown": grown}}))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_broken_7_mb_feed_is_refused_in_megabytes_not_hundreds() -> None:
    # feedparser's loose parser took 630 MB (and a minute) over it; expat refuses it at its depth.
    cost = _parse_cost("BROKEN_FEED")
    assert "is 7.3 MB and not well-formed XML (more than 256 elements open at line 1)" in cost["said"], cost
    assert cost["grown"] < 20, cost


def test_a_large_feed_cut_short_keeps_its_whole_entries() -> None:
    from datetime import datetime, timezone

    from connectors.rss import parse_feed

    warnings: list[str] = []
    cut = LONG_FEED[:400_000 + (1 << 20)]  # past 1 MB, so walked by expat first
    mentions = parse_feed(cut, source="s", url="https://feeds.example/f.xml", headers={"content-type": "application/rss+xml"},
                          now=datetime.now(timezone.utc), warnings=warnings)
    whole = cut.count(b"</item>")
    assert len(mentions) == min(whole, 1000) and mentions[-1].title == f"acme {len(mentions) - 1}"
    assert warnings and "is a partial document (no element found" in warnings[0], warnings


def test_a_feed_of_25000_entries_reads_its_first_thousand_and_says_so() -> None:
    cost = _parse_cost("LONG_FEED")
    assert cost["said"] == 1000 and cost["warnings"] == [
        "https://feeds.example/f.xml lists 25,000 entries; read the first 1,000"], cost
    assert cost["grown"] < 20, cost  # all 25,000 parsed took 57 MB more


def test_thirty_sources_28_faulty_under_monitor_run_peak_under_300_mb(tmp_path: Path) -> None:
    """A real monitor run with 28 faulty sources beside 2 healthy ones, until every source has run:
    its peak resident memory (VmHWM) stays under 300 MB (853 MB when the issue was filed)."""
    import threading
    from http.server import BaseHTTPRequestHandler

    bomb = gzip_bomb(1 << 30)
    good = b"<rss><channel><title>ok</title><item><title>acme ok</title><guid>ok</guid></item></channel></rss>"
    bodies = {"bomb": bomb, "broken": BROKEN_FEED, "long": LONG_FEED, "good": good,
              "oversize": b"<rss><channel>" + b"<item><title>acme</title></item>" * (1 << 19)}

    class Faulty(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            kind = self.path.strip("/").split("-")[0]
            body = bodies.get(kind, b"\x00\xff" * 4096)
            self.send_response(500 if kind == "error" else 200)
            self.send_header("Content-Type", "application/rss+xml")
            if kind == "bomb":
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass

        def log_message(self, *args: object) -> None:
            pass

    base, server = loopback(Faulty)
    paths = ["good-1", "good-2"] + [f"{kind}-{i}" for i in range(5) for kind in ("bomb", "broken", "long", "oversize",
                                                                                  "error", "garbage")][:28]
    sources = "".join(f"  - {{name: s{i}, type: rss, url: '{base}/{p}', every: 1h}}\n" for i, p in enumerate(paths))
    db = tmp_path / "m.db"
    (tmp_path / "config.yaml").write_text(f"brands: [{{name: Acme Cloud, keywords: [acme]}}]\nsources:\n{sources}"
                                          f"database: {db}\nreceivers: [{{name: console, type: console}}]\n")
    run = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(tmp_path / "config.yaml"), "run"],
                           cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak, ran = 0.0, 0
    try:
        deadline = time.monotonic() + 600  # a bound against a hang, not a timing
        while ran < 30:
            assert run.poll() is None and time.monotonic() < deadline, f"{ran} of 30 sources ran"
            status = Path(f"/proc/{run.pid}/status").read_text()
            peak = max(peak, int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024)
            if db.exists():
                try:
                    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
                        ran = con.execute("SELECT count(*) FROM sources WHERE last_run_at IS NOT NULL").fetchone()[0]
                except sqlite3.Error:
                    pass
            time.sleep(0.25)
        status = Path(f"/proc/{run.pid}/status").read_text()
        peak = max(peak, int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024)
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            run.kill()
        server.shutdown()
    assert peak < 300, f"peak {peak:.0f} MB"
    with sqlite3.connect(db) as con:
        stored = con.execute("SELECT count(*) FROM mentions").fetchone()[0]
    assert stored >= 1000 + 1, "the healthy feed and the first 1,000 entries of each long one are stored"
