"""`monitor run`: scheduling, reloading config.yaml without restart, and a clean stop."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.scheduler import Monitor
from monitor.store import Store
from tests.support import NOW, ROOT

CONFIG = """\
database: {db}
brands:
  - name: Acme
    keywords: [acme]
sources:
  - name: blog
    type: rss
    url: http://127.0.0.1:9/feed.xml
    every: 30s
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(db=tmp_path / "m.db"))
    return path


def test_valid_edit_is_picked_up_and_jobs_follow(config_path: Path) -> None:
    monitor = Monitor(config_path, clock=lambda: NOW)
    monitor.sync_jobs()
    assert [j.id for j in monitor.scheduler.get_jobs()] == ["source:blog"]
    config_path.write_text(config_path.read_text().replace("keywords: [acme]", "keywords: [acme]\n  - name: Beta\n    keywords: [beta]")
                           + "  - name: news\n    type: rss\n    url: http://127.0.0.1:9/news.xml\n")
    assert monitor.reload_if_changed() is True
    assert [b.name for b in monitor.runtime.config.brands] == ["Acme", "Beta"]
    assert monitor.runtime.matcher.match("beta is here").brands == ("Beta",)
    assert sorted(j.id for j in monitor.scheduler.get_jobs()) == ["backfill:blog", "backfill:news", "source:blog", "source:news"]
    assert monitor.reload_if_changed() is False, "an unchanged file is not reloaded"


def test_invalid_edit_keeps_the_last_good_config_and_says_why(config_path: Path, caplog) -> None:
    monitor = Monitor(config_path, clock=lambda: NOW)
    before = monitor.runtime
    config_path.write_text(config_path.read_text().replace("keywords: [acme]", "keywords: ['\"acme']"))
    with caplog.at_level(logging.ERROR):
        assert monitor.reload_if_changed() is False
    assert monitor.runtime is before
    assert "still running the last good config" in caplog.text
    assert "brands[0].keywords[0]: unbalanced quote" in caplog.text


def test_removed_source_leaves_the_schedule(config_path: Path) -> None:
    monitor = Monitor(config_path, clock=lambda: NOW)
    monitor.sync_jobs()
    config_path.write_text(config_path.read_text().replace("sources:", "sources: []\nunused:").split("unused:")[0])
    monitor.reload_if_changed()
    assert monitor.scheduler.get_jobs() == []


def test_a_source_job_runs_only_when_due_so_backoff_survives_restarts(config_path: Path) -> None:
    clock = [NOW]
    monitor = Monitor(config_path, clock=lambda: clock[0])
    monitor.run_source_job("blog")  # connection refused: recorded, backs off 30s
    with Store(monitor.db_path) as store:
        assert store.source_row("blog")["error_count"] == 1
    monitor.run_source_job("blog")
    with Store(monitor.db_path) as store:
        assert store.source_row("blog")["error_count"] == 1, "not due yet"
    clock[0] = NOW + timedelta(seconds=31)
    Monitor(config_path, clock=lambda: clock[0]).run_source_job("blog")  # a restarted monitor
    with Store(monitor.db_path) as store:
        assert store.source_row("blog")["error_count"] == 2


def test_monitor_run_logs_failures_keeps_running_reloads_and_stops_cleanly(config_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config_path), "run"],
                               cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 30

        def wait_for(text: str) -> None:
            while time.monotonic() < deadline:
                line = process.stderr.readline()
                lines.append(line)
                if text in line:
                    return
                assert process.poll() is None, "".join(lines)
            pytest.fail(f"no {text!r} in:\n" + "".join(lines))

        wait_for("source blog failed (1 in a row): cannot connect to 127.0.0.1:9: ")
        config_path.write_text(config_path.read_text() + "  - name: news\n    type: rss\n    url: http://127.0.0.1:9/news.xml\n")
        wait_for("reloaded")
        wait_for("source news failed (1 in a row)")
        assert process.poll() is None, "still running after failures"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_a_spike_whose_alert_could_not_be_queued_fires_on_the_next_watch(config_path: Path) -> None:
    import sqlite3

    from monitor import demo
    from monitor.ingest import ingest
    from monitor.models import Mention

    clock = [NOW - timedelta(days=2, hours=3)]  # the demo's storm starts now
    monitor = Monitor(config_path, clock=lambda: clock[0])
    posts = [Mention(source="forum", id=p["id"], url=None, text=p["text"].replace("Acme Cloud", "Acme"),
                     published_at=p["at"], author=p["author"], source_type="discourse") for p in demo.history(NOW)]
    db = config_path.parent / "m.db"
    with Store(db) as store:
        store.ensure_source("forum", "discourse", now=clock[0])
        ingest([p for p in posts if p.published_at < clock[0]], "forum", monitor.runtime, store, now=clock[0])
    monitor.spikes_job()  # the first pass over the history: the brand's series are known now
    with Store(db) as store:
        ingest([p for p in posts if p.published_at >= clock[0]], "forum", monitor.runtime, store, now=NOW)
        store.db.execute("CREATE TRIGGER refuse BEFORE INSERT ON alerts BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    clock[0] += timedelta(hours=3)  # the storm has settled
    with pytest.raises(sqlite3.IntegrityError):
        monitor.spikes_job()  # the job fails (APScheduler logs it); the storm must not be forgotten
    with Store(db) as store:
        store.db.execute("DROP TRIGGER refuse")
    monitor.spikes_job()
    with Store(db) as store:
        kinds = [r[0] for r in store.db.execute("SELECT kind FROM alerts")]
    assert kinds.count("spike") == 1, kinds


def test_a_source_another_worker_holds_is_left_to_it_until_its_lease_lapses(config_path: Path) -> None:
    """Several workers on one database: the one holding a source's lease runs it; the others
    leave it, and take it over once the lease has lapsed (its worker died)."""
    from monitor.workers import LEASE

    clock = [NOW]
    monitor = Monitor(config_path, clock=lambda: clock[0])
    with Store(monitor.db_path) as store:
        assert store.lease("source:blog", owner="elsewhere:1", now=NOW, until=NOW + LEASE)
    monitor.run_source_job("blog")
    with Store(monitor.db_path) as store:
        assert store.source_row("blog") is None, "left to the worker that holds it"
    clock[0] = NOW + LEASE
    monitor.run_source_job("blog")  # connection refused: it ran, and says so
    with Store(monitor.db_path) as store:
        assert store.source_row("blog")["error_count"] == 1
        assert store.leases(now=clock[0]) == [], "given back after the run"


def test_a_source_job_looks_often_so_runs_come_every_every_and_not_one_and_a_half_times_that(config_path: Path) -> None:
    """The job looks every minute (a quarter of ``every`` when shorter); the store's due time
    decides. Woken at ``every`` with a positive jitter, a job found its source due a moment
    later every other time and waited a whole interval more."""
    from monitor.scheduler import check_every

    monitor = Monitor(config_path)
    monitor.sync_jobs()
    assert monitor.scheduler.get_job("source:blog").trigger.interval == timedelta(seconds=7.5)  # every: 30s
    assert check_every(timedelta(minutes=15)) == 60 and check_every(timedelta(hours=6)) == 60
    # Runs a job would see over an hour of a 15-minute source, looking every minute with jitter.
    import random

    from monitor.ingest import is_due

    rng, due, runs, at = random.Random(1), NOW, [], NOW
    for minute in range(60):
        at = NOW + timedelta(minutes=minute, seconds=rng.uniform(0, 6))
        if is_due({"next_check_at": due.strftime("%Y-%m-%dT%H:%M:%SZ")}, at):
            runs.append(at)
            due = at + timedelta(minutes=15)
    gaps = [(b - a).total_seconds() / 60 for a, b in zip(runs, runs[1:])]
    assert len(runs) == 4 and all(15 <= g < 16.2 for g in gaps), gaps


def test_a_database_away_is_said_once_and_its_return_once_and_the_jobs_go_on(config_path: Path, caplog) -> None:
    """A PostgreSQL server restarting (or a disk away): every job finds the database gone; the
    log says so once, not in a traceback per job, and says when it is back; nothing is lost."""
    clock = [NOW]
    monitor = Monitor(config_path, clock=lambda: clock[0])
    db = Path(monitor.db_path)
    db.rename(db.with_suffix(".away"))
    db.mkdir()  # a directory where the file was: nothing can open it
    with caplog.at_level(logging.INFO, logger="monitor.scheduler"):
        for _ in range(3):
            monitor.run_source_job("blog")
            monitor.deliver_job()
            monitor.spikes_job()
        db.rmdir()
        db.with_suffix(".away").rename(db)
        monitor.run_source_job("blog")  # connection refused by the feed: it ran, and says so
    said = [r.getMessage() for r in caplog.records if r.name == "monitor.scheduler"]
    assert len([m for m in said if "cannot open the database" in m]) == 1, said
    assert "the jobs wait for the database" in said[0] and not [r for r in caplog.records if r.exc_info]
    assert len([m for m in said if "the database is back after" in m]) == 1, said
    with Store(db) as store:
        assert store.source_row("blog")["error_count"] == 1


def test_a_digest_due_while_the_database_is_away_is_tried_again_not_lost(config_path: Path) -> None:
    monitor = Monitor(config_path, clock=lambda: NOW)
    db = Path(monitor.db_path)
    db.rename(db.with_suffix(".away"))
    db.mkdir()
    monitor.digest_job()
    retry = monitor.scheduler.get_job("digest-retry")
    assert retry is not None and retry.func == monitor.digest_job
    db.rmdir()
    db.with_suffix(".away").rename(db)
    monitor.digest_job()
    with Store(db) as store:
        assert [r[0] for r in store.db.execute("SELECT kind FROM alerts")] == ["digest"]


def test_a_held_lease_is_renewed_while_its_block_runs_and_lapses_once_nobody_renews_it(database: str) -> None:
    """A slow source keeps its lease however long it runs (the process renews it every RENEW);
    a lease nobody renews any more (its worker killed) lapses LEASE after the last renewal."""
    import threading

    from monitor.workers import LEASE, POLL, RENEW, held, worker

    clock = [NOW]
    lock = threading.Lock()

    def now():
        with lock:
            return clock[0]

    def until(store):
        return {r["name"]: r["until"] for r in store.leases(now=NOW)}

    with Store(database) as store, held(store, "source:slow", now=NOW, clock=now) as ours:
        assert ours and until(store) == {"source:slow": "2026-11-23T11:02:00Z"}
        for step in range(1, 5):  # eight minutes of a slow run, renewed every 30 s of its clock
            with lock:
                clock[0] = NOW + step * RENEW * 4
            deadline = time.monotonic() + 20 * POLL
            while until(store)["source:slow"] != (clock[0] + LEASE).strftime("%Y-%m-%dT%H:%M:%SZ") and time.monotonic() < deadline:
                time.sleep(POLL / 5)
            assert until(store)["source:slow"] == (clock[0] + LEASE).strftime("%Y-%m-%dT%H:%M:%SZ"), step
            assert not store.lease("source:slow", owner="elsewhere:1", now=clock[0], until=clock[0] + LEASE)
        # A worker that died stops renewing: its lease lapses and another takes it over.
        store.lease("source:dead", owner="gone:1", now=clock[0], until=clock[0] + LEASE)
    with Store(database) as store:
        assert [r["name"] for r in store.leases(now=clock[0])] == ["source:dead"], "ours given back at the block's end"
        assert not store.lease("source:dead", owner=worker(), now=clock[0] + LEASE - RENEW, until=clock[0] + 2 * LEASE)
        assert store.lease("source:dead", owner=worker(), now=clock[0] + LEASE, until=clock[0] + 2 * LEASE)


def test_status_says_which_worker_is_running_which_source(config_path: Path) -> None:
    from click.testing import CliRunner

    from monitor.cli import main
    from monitor.models import utcnow

    Store(config_path.parent / "m.db").close()
    with Store(config_path.parent / "m.db") as store:
        store.lease("source:blog", owner="host-b:4242", now=utcnow(), until=utcnow() + timedelta(minutes=30))
    result = CliRunner().invoke(main, ["--config", str(config_path), "status"], catch_exceptions=False)
    assert "running, blog: worker host-b:4242, lease until " in result.output


def test_status_says_a_worker_went_silent_without_stopping(config_path: Path) -> None:
    from click.testing import CliRunner

    from monitor.cli import main
    from monitor.models import utcnow

    with Store(config_path.parent / "m.db") as store:
        store.heartbeat("host-a:1", now=utcnow() - timedelta(seconds=20), started_at=utcnow() - timedelta(hours=1))
        store.heartbeat("host-b:2", now=utcnow() - timedelta(minutes=7), started_at=utcnow() - timedelta(hours=1))
    out = CliRunner().invoke(main, ["--config", str(config_path), "status"], catch_exceptions=False).output
    alive = next(line for line in out.splitlines() if "worker host-a:1" in line)
    dead = next(line for line in out.splitlines() if "worker host-b:2" in line)
    assert "silent" not in alive and "silent since, without stopping cleanly (killed or crashed?)" in dead


def test_a_running_monitor_is_listed_as_a_worker_until_it_stops(config_path: Path) -> None:
    from click.testing import CliRunner

    from monitor.cli import main
    from monitor.workers import worker

    monitor = Monitor(config_path)
    monitor.start()
    try:
        result = CliRunner().invoke(main, ["--config", str(config_path), "status"], catch_exceptions=False)
        assert f"worker {worker()}: heard from " in result.output
    finally:
        monitor.stop()
    with Store(config_path.parent / "m.db") as store:
        assert store.workers(since=NOW - timedelta(days=3650)) == [], "a clean stop says goodbye"


def test_a_brand_added_under_monitor_run_finds_the_posts_its_feed_already_served(tmp_path: Path, httpserver) -> None:
    # The feed answers 304 to a conditional request: a normal run after the edit fetches nothing.
    # The brand added is looked for again without the conditional headers: its post is stored
    # within a second, not never.
    from datetime import datetime, timezone
    from email.utils import format_datetime

    published = format_datetime(datetime.now(timezone.utc) - timedelta(hours=3), usegmt=True)
    items = "".join(f"<item><title>{t}</title><link>https://blog.example/{i}</link><guid>https://blog.example/{i}</guid>"
                    f"<pubDate>{published}</pubDate></item>"
                    for i, t in enumerate(["Acme ships a new release", "Globex outage took our shop down"]))
    feed = f"<?xml version='1.0'?><rss version='2.0'><channel><title>b</title>{items}</channel></rss>".encode()
    httpserver.expect_request("/feed.xml", headers={"If-None-Match": '"v1"'}).respond_with_data(b"", status=304)
    httpserver.expect_request("/feed.xml").respond_with_data(feed, content_type="application/rss+xml",
                                                               headers={"ETag": '"v1"'})
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(db=tmp_path / "m.db").replace("http://127.0.0.1:9/feed.xml", httpserver.url_for("/feed.xml"))
                    .replace("every: 30s", "every: 1h"))
    monitor = Monitor(path)
    monitor.run_source_job("blog")
    titles = lambda: sorted(r[0] for r in Store(tmp_path / "m.db").db.execute("SELECT title FROM mentions"))  # noqa: E731
    assert titles() == ["Acme ships a new release"]
    path.write_text(path.read_text().replace("keywords: [acme]", "keywords: [acme]\n  - name: Globex\n    keywords: [globex]"))
    monitor.start()
    try:
        assert monitor.reload_if_changed() is True
        deadline = time.monotonic() + 10
        while len(titles()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        monitor.stop()
    assert titles() == ["Acme ships a new release", "Globex outage took our shop down"]
    conditional = [r for r, _ in httpserver.log if r.headers.get("If-None-Match")]
    assert len(httpserver.log) == 2 and not conditional, "looked for again without the conditional header"


def test_a_config_deleted_under_monitor_run_is_said_once_and_its_return_too(config_path: Path, caplog) -> None:
    monitor = Monitor(config_path, clock=lambda: NOW)
    text = config_path.read_text()
    config_path.unlink()
    with caplog.at_level(logging.WARNING, logger="monitor"):
        assert monitor.reload_if_changed() is False and monitor.reload_if_changed() is False
        gone = [r.getMessage() for r in caplog.records if "is gone" in r.getMessage()]
        assert len(gone) == 1 and "still running the last good config" in gone[0]
        config_path.write_text(text)
        assert monitor.reload_if_changed() is False  # the same content: nothing to apply
    assert any(r.getMessage().endswith("is back") for r in caplog.records)
    assert [b.name for b in monitor.runtime.config.brands] == ["Acme"]
