"""Several `monitor run` workers on one database (issue 19): three processes, 200 sources on a
loopback farm, twenty minutes of schedule on an injected clock, and one worker killed with
SIGKILL in the middle of a source's run.

Each worker is a real process with a real ``Monitor`` on the shared clock, doing what its
scheduler would: looking at every source (``run_source_job``: due? lease free? due still?),
the spike watch every minute and delivery every 30 seconds, then a clean stop. The farm logs
every fetch on the same clock; Slack is the loopback stand-in.

The clock runs 30 times faster than the wall's while every worker is idle, and stands still
while any is at work: a job takes no simulated time, however slow the machine is today. So the
schedule the test checks is the monitor's, not the machine's speed (a busy 2-core machine once
made a sweep over 200 sources look like a late run).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from monitor.store import Store

SPEED = 30.0  # simulated seconds per real second
START = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
END = START + timedelta(minutes=20)
SOURCES = 200
EVERY = timedelta(minutes=5)
POSTS_EVERY = timedelta(minutes=3)
TRAP_AT = START + timedelta(minutes=8)  # the first fetch from then on is held until its worker is killed
ANGRY = "Acme Cloud deleted our backups again. Worst, most infuriating vendor ever &amp; support ignores us."
CALM = "Acme Cloud status page says maintenance tonight, post {k} of feed {feed}."


class Clock:
    """The injected clock every process shares: START at real time ``t0``, SPEED times as fast,
    except while a worker is busy (``busy[k]`` set): then it stands still."""

    def __init__(self, context) -> None:
        self.lock = context.Lock()
        self.t0 = context.Value("d", 0.0, lock=False)
        self.busy = context.Array("i", 3, lock=False)
        self.since = context.Value("d", 0.0, lock=False)  # when the current busy spell began
        self.paused = context.Value("d", 0.0, lock=False)  # real seconds spent busy so far

    def __call__(self) -> datetime:
        with self.lock:
            if not self.t0.value:
                return START
            now = time.time()
            paused = self.paused.value + (now - self.since.value if any(self.busy) else 0.0)
            return START + timedelta(seconds=(now - self.t0.value - paused) * SPEED)

    def start(self) -> None:
        with self.lock:
            self.t0.value = time.time()

    def enter(self, k: int) -> None:
        with self.lock:
            if not any(self.busy):
                self.since.value = time.time()
            self.busy[k] = 1

    def leave(self, k: int) -> None:
        with self.lock:
            if self.busy[k]:
                self.busy[k] = 0
                if not any(self.busy):
                    self.paused.value += time.time() - self.since.value


def posts(feed: int, until: datetime) -> list[tuple[str, datetime, bool]]:
    """Feed ``feed``'s posts published by ``until``: one every three minutes from half an hour
    before START (each feed a few seconds apart), every fourth one angry: (url, published, angry)."""
    first = START - timedelta(minutes=30) + timedelta(seconds=feed % 170)
    out, k = [], 0
    while first + k * POSTS_EVERY <= until:
        out.append((f"https://feeds.example/{feed}/{k}", first + k * POSTS_EVERY, k % 4 == 3))
        k += 1
    return out


class Farm:
    """The loopback feeds: what each serves depends on the shared clock; every fetch is logged."""

    def __init__(self) -> None:
        self.clock: Clock | None = None
        self.fetches: dict[int, list[tuple[datetime, bool]]] = defaultdict(list)  # feed -> (when, trapped)
        self.trapped = threading.Event()
        self.trapped_feed: int | None = None
        self.release = threading.Event()
        self.lock = threading.Lock()
        farm = self

        class Feed(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                feed = int(self.path.strip("/").removesuffix(".xml").removeprefix("feed"))
                at = farm.clock()
                with farm.lock:
                    trap = at >= TRAP_AT and farm.trapped_feed is None
                    if trap:
                        farm.trapped_feed = feed
                    farm.fetches[feed].append((at, trap))
                if trap:
                    farm.trapped.set()
                    farm.release.wait(30)  # its worker is killed meanwhile: nobody reads this answer
                items = "".join(
                    f"<item><title>post {url.rsplit('/', 1)[1]}</title><link>{url}</link><guid>{url}</guid>"
                    f"<description>{ANGRY if angry else CALM.format(k=url.rsplit('/', 1)[1], feed=feed)}</description>"
                    f"<pubDate>{format_datetime(published, usegmt=True)}</pubDate></item>"
                    for url, published, angry in posts(feed, at))
                body = f"<?xml version='1.0'?><rss version='2.0'><channel><title>f{feed}</title>{items}</channel></rss>".encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the trapped worker is dead

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Feed)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_port}"


def work(config: str, k: int, ready, go, clock: Clock) -> None:
    """One worker process: a Monitor on the shared clock, looking at every source from its own
    place in the list as its scheduler's jobs would, until END; then a clean stop."""
    import logging

    from monitor.ingest import is_due
    from monitor.scheduler import Monitor

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("monitor").setLevel(logging.ERROR)  # first runs, spikes: not this test's matter

    monitor = Monitor(config, clock=clock)
    names = [s.name for s in monitor.runtime.config.sources]
    offset = k * SOURCES // 3
    names = names[offset:] + names[:offset]

    def job(run, *args) -> None:
        clock.enter(k)
        try:
            run(*args)
        finally:
            clock.leave(k)

    ready.wait()
    go.wait()
    next_watch = next_delivery = START
    while clock() < END:
        with Store(monitor.db_path) as store:
            rows = {row["name"]: row for row in store.sources_status()}
        looked = 0
        for name in names:
            if clock() >= END:
                break
            if is_due(rows.get(name), clock()):
                job(monitor.run_source_job, name)
                looked += 1
            if clock() >= next_delivery:
                job(monitor.deliver_job)
                next_delivery = clock() + timedelta(seconds=30)
            if clock() >= next_watch:
                job(monitor.spikes_job)
                next_watch = clock() + timedelta(minutes=1)
        if not looked:
            time.sleep(0.05)
    monitor.stop()


@pytest.fixture
def farm():
    farm = Farm()
    yield farm
    farm.release.set()
    farm.server.shutdown()
    farm.server.server_close()


def test_three_workers_run_every_due_source_once_and_send_every_alert_once_one_killed_mid_run(
        tmp_path: Path, database: str, farm: Farm, slack, monkeypatch) -> None:
    """On PostgreSQL, and on one SQLite file shared by processes of one host."""
    from monitor.workers import LEASE

    monkeypatch.setenv("TEST_SLACK_WEBHOOK", slack.webhook_url)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {database}\nbrands: [{{name: Acme Cloud, keywords: ['\"Acme Cloud\"']}}]\n"
        "receivers: [{name: slack, type: slack, webhook_url_env: TEST_SLACK_WEBHOOK}]\n"
        "route: {receiver: slack, group_by: [kind, source], group_wait: 0s, group_interval: 1m, repeat_interval: 4h}\n"
        "sources:\n" + "".join(f"  - {{name: feed{i}, type: rss, url: '{farm.base}/feed{i}.xml', every: 5m}}\n"
                               for i in range(SOURCES)), encoding="utf-8")
    spawn = multiprocessing.get_context("spawn")  # no fork of this threaded process
    ready, go, clock = spawn.Barrier(4), spawn.Event(), Clock(spawn)
    farm.clock = clock
    workers = [spawn.Process(target=work, args=(str(config), k, ready, go, clock)) for k in range(3)]
    for process in workers:
        process.start()
    ready.wait(timeout=120)
    clock.start()
    go.set()

    # Kill the worker whose run the farm holds: the lease names it.
    assert farm.trapped.wait(timeout=120), "no fetch reached the trap"
    with Store(database) as store:
        owner = next(r["owner"] for r in store.leases(now=clock()) if r["name"] == f"source:feed{farm.trapped_feed}")
    killed = next(p for p in workers if owner.endswith(f":{p.pid}"))
    os.kill(killed.pid, signal.SIGKILL)
    killed.join(timeout=30)
    clock.leave(workers.index(killed))  # it was busy when it died: time goes on without it
    killed_at = clock()
    farm.release.set()
    for process in workers:
        process.join(timeout=600)
    assert [p.exitcode for p in workers] == [-signal.SIGKILL if p is killed else 0 for p in workers]

    # Every due run once: no two fetches of a feed closer than its interval, none late (a job takes
    # no simulated time; a worker looks again within a few simulated seconds, and the clock may run
    # on for a moment between two jobs); the killed run's feed taken over when its lease lapsed.
    lag = timedelta(seconds=30)  # a skipped run would be late by 5 minutes
    for feed in range(SOURCES):
        times = [at for at, _ in farm.fetches[feed]]
        assert times and times[0] - START < lag + timedelta(minutes=1), (feed, times)  # the first wave: all 200 at once
        assert END - times[-1] < EVERY + lag, (feed, times)
        for (a, trapped), b in zip(farm.fetches[feed], times[1:]):
            if trapped:
                assert LEASE - timedelta(seconds=40) <= b - a and b - killed_at <= LEASE + lag, ("takeover", feed, a, b)
            else:
                assert EVERY - timedelta(seconds=20) <= b - a <= EVERY + lag, (feed, times)
    assert farm.fetches[farm.trapped_feed][-1][0] > killed_at, "the killed worker's source was taken over"

    # Nothing lost or stored twice: each feed's posts up to its last answered fetch, once.
    answered = {feed: [at for at, trapped in fetches if not trapped] for feed, fetches in farm.fetches.items()}
    expected = {url for feed, times in answered.items() for url, _, _ in posts(feed, times[-1])}
    with Store(database) as store:
        stored = [r[0] for r in store.db.execute("SELECT url FROM mentions")]
        alerts = list(store.db.query("SELECT kind, mention_id, status, notification FROM alerts"))
    assert len(stored) == len(set(stored)) and set(stored) == expected

    # The spike watch advanced each series once per window (none skipped, none counted twice),
    # whichever worker held it: a series' count of windows is the number from its first to its last.
    with Store(database) as store:
        states = store.spike_states()
    assert states
    for series, state in states.items():
        if state["t"] is not None:
            span = datetime.fromisoformat(state["t"].replace("Z", "+00:00")) - datetime.fromisoformat(state["start"].replace("Z", "+00:00"))
            assert state["n"] == span // timedelta(minutes=5) + 1, (series, state["start"], state["t"], state["n"])

    # Every alert once: each angry post after its feed's first (quiet) run has one alert, sent;
    # Slack got one message per notification, and each angry post is in exactly one.
    angry = {url for feed, times in answered.items() for url, published, is_angry in posts(feed, times[-1])
             if is_angry and published > times[0]}
    assert {a["mention_id"] for a in alerts if a["kind"] == "assassin"} == angry and len(angry) > 200
    assert {a["status"] for a in alerts} == {"sent"}
    messages = [str(body) for body in slack.posted()]
    assert len(messages) == len({a["notification"] for a in alerts})
    for url in angry:
        assert sum(url in m for m in messages) == 1, url
