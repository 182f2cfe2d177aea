"""Anonymous Reddit as it answers in 2026: about one request a minute per address, 429 past it.
A loopback Reddit keeps that limit on a simulated clock; real monitor runs (``run_source``, the
store, the host limiter and its waits) share it, every listing is read in turn, none more often
than the budget allows, and a source starved of reads says so, then fails."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors.http import make_client
from monitor.config_check import parse_config
from monitor.ingest import run_source
from monitor.runtime import Runtime
from monitor.store import Store
from tests.support import NOW


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def epoch(self) -> float:
        return self.now.timestamp()


def _feed(path: str, now: datetime) -> bytes:
    stamp = now.isoformat()
    ident = f"t3_{abs(hash((path, stamp))) % 10**8:08d}"
    return (f'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>x</title>'
            f'<entry><author><name>/u/a</name></author><category term="x" label="r/x"/>'
            f'<content type="html">Acme Cloud on {path}</content><id>{ident}</id>'
            f'<link href="https://www.reddit.com/r/x/comments/{ident[3:]}/p/" /><updated>{stamp}</updated>'
            f'<published>{stamp}</published><title>Acme Cloud on {path}</title></entry></feed>').encode()


def _reddit(httpserver: HTTPServer, clock: Clock) -> dict:
    """Reddit's 2026 answer to anonymous RSS: a request a minute, a 429 (Retry-After 60) sooner."""
    seen: dict = {"ok": [], "refused": 0, "last": None}

    def answer(request: Request) -> Response:
        last = seen["last"]
        if last is not None and clock.now - last < timedelta(seconds=60):
            seen["refused"] += 1
            return Response("Too Many Requests", status=429, headers={"Retry-After": "60"})
        seen["last"] = clock.now
        seen["ok"].append((clock.now, request.path))
        return Response(_feed(request.path, clock.now), content_type="application/atom+xml")

    for path in ("/search.rss", "/r/acme+acmecloud+sysadmin+devops+selfhosted/new/.rss",
                 "/r/acme+acmecloud+sysadmin+devops+selfhosted/comments/.rss"):
        httpserver.expect_request(path).respond_with_handler(answer)
    return seen


def _config(httpserver: HTTPServer, tmp_path: Path, every: str) -> str:
    return (f"database: {tmp_path / 'm.db'}\nbrands: [{{name: Acme Cloud, keywords: ['\"Acme Cloud\"']}}]\n"
            f"sources:\n  - {{name: reddit, type: reddit, base_url: '{httpserver.url_for('').rstrip('/')}', every: {every},"
            " subreddits: [acme, acmecloud, sysadmin, devops, selfhosted]}\n")


@contextmanager
def _running(httpserver: HTTPServer, tmp_path: Path, every: str, clock: Clock):
    """The source's real runs on the simulated clock (its client's host limiter on it too): a
    function that runs it once now, and the store."""
    config = parse_config(_config(httpserver, tmp_path, every))
    with make_client(clock=clock.epoch) as client, Store(tmp_path / "m.db") as store:
        runtime = Runtime.build(config, client=client)
        yield (lambda: run_source(config.sources[0], runtime, store, now=clock.now)), store


def test_two_hours_of_a_search_and_5_subreddits_within_a_request_a_minute(httpserver: HTTPServer, tmp_path: Path) -> None:
    clock = Clock(NOW)
    seen = _reddit(httpserver, clock)
    with _running(httpserver, tmp_path, "5m", clock) as (run, store):
        while clock.now < NOW + timedelta(hours=2):
            run()
            clock.now += timedelta(minutes=5)
        status = {row["name"]: row for row in store.sources_status()}["reddit"]
    read = [path for _, path in seen["ok"]]
    assert seen["refused"] == 0, "never asked sooner than a minute after the last request"
    assert len(set(read)) == 3, "the search and both multireddit listings (5 subreddits in one request each)"
    assert all(read.count(path) >= 7 for path in set(read)), read  # 24 runs, 3 listings: in turn, 8 each
    gaps = [b - a for (a, _), (b, _) in zip(seen["ok"], seen["ok"][1:])]
    assert min(gaps) >= timedelta(seconds=60)
    assert status["error_count"] == 0
    assert "each is read every 3 runs" in (status.get("last_warning") or ""), status.get("last_warning")


def test_a_listing_starved_of_reads_is_a_warning_then_a_failure(httpserver: HTTPServer, tmp_path: Path) -> None:
    """Another client on the address takes Reddit's minute every time: the source hears nothing.
    Its waits are honoured (no failure) until a day without a read, then it fails, and goes down."""
    clock = Clock(NOW)
    seen = _reddit(httpserver, clock)
    with _running(httpserver, tmp_path, "10m", clock) as (run, store):
        run()  # one read, then the address is taken
        reports = []
        while clock.now < NOW + timedelta(hours=26):
            clock.now += timedelta(minutes=10)
            seen["last"] = clock.now  # someone else asked just now
            reports.append(run())
        status = {row["name"]: row for row in store.sources_status()}["reddit"]
    first_day = [r for r, at in zip(reports, range(len(reports))) if at < 6 * 23]
    assert not any(r.error for r in first_day), "an honoured wait is not a failure"
    assert status["error_count"] >= 3 and "nothing read from Reddit for" in status["last_error"]
