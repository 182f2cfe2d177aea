"""Several workers on one database: throughput with 1, 2 and 4 worker processes.

    python benchmarks/workers.py [--sources 200] [--latency 0.2] [--postgres postgresql://user@host/postgres]

A loopback farm of RSS feeds (one HTTP server on 127.0.0.1, each answer held ``--latency``
seconds, as a distant API's would be) and a config of ``--sources`` feeds; N worker processes
each go over every source doing what ``monitor run``'s source job does (run it if it is due and
its lease is free: ``Monitor.run_source_job``), each from its own place in the list, until none
is left due. Prints the seconds to run every source once and the throughput as a ratio to one
worker, measured in the same run, and checks on the farm's log that each feed was fetched
exactly once. On a SQLite file, or with ``--postgres`` a fresh database on that server.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ITEM = ("<item><title>Acme Cloud post {n} of feed {feed}</title><link>https://feeds.example/{feed}/{n}</link>"
        "<guid>https://feeds.example/{feed}/{n}</guid><description>Acme Cloud support answered within the hour,"
        " thanks</description><pubDate>Mon, 23 Nov 2026 12:{n:02d}:00 GMT</pubDate></item>")


def farm(latency: float) -> tuple[ThreadingHTTPServer, collections.Counter]:
    """The feed server, and how often each feed was fetched."""
    fetched: collections.Counter = collections.Counter()
    lock = threading.Lock()

    class Feed(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            feed = self.path.strip("/").split(".")[0]
            with lock:
                fetched[feed] += 1
            time.sleep(latency)
            body = ("<?xml version='1.0'?><rss version='2.0'><channel><title>f</title>"
                    + "".join(ITEM.format(n=n, feed=feed) for n in range(5)) + "</channel></rss>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, fetched


def worker(config: str, names: list[str], start: int) -> None:
    """One worker: every source from ``start`` round the list, as monitor run's source job does."""
    import logging

    from monitor.scheduler import Monitor

    logging.disable(logging.WARNING)
    monitor = Monitor(config)
    for name in names[start:] + names[:start]:
        monitor.run_source_job(name)
    monitor.runtime.client.close()


def run(workers: int, database: str, base: str, sources: int, folder: Path) -> float:
    names = [f"feed{i}" for i in range(sources)]
    config = folder / f"workers{workers}.yaml"
    config.write_text(
        f"database: {database}\nbrands: [{{name: Acme Cloud, keywords: ['\"Acme Cloud\"']}}]\n"
        "receivers: [{name: console, type: console}]\nsources:\n"
        + "".join(f"  - {{name: {n}, type: rss, url: '{base}/{n}.xml', every: 1h}}\n" for n in names), encoding="utf-8")
    started = time.perf_counter()
    processes = [multiprocessing.Process(target=worker, args=(str(config), names, k * sources // workers))
                 for k in range(workers)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds each feed takes to answer")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server whose user may create databases")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from pipeline import fresh_database

    server, fetched = farm(args.latency)
    base = f"http://127.0.0.1:{server.server_port}"
    print(f"{args.sources} RSS sources on a loopback farm answering in {args.latency * 1000:.0f} ms; "
          f"{'PostgreSQL' if args.postgres else 'SQLite'}")
    first = None
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, 2, 4):
            fetched.clear()
            if args.postgres:
                with fresh_database(args.postgres, f"monitor_workers_{n}") as url:
                    took = run(n, url, base, args.sources, Path(tmp))
            else:
                took = run(n, str(Path(tmp) / f"workers{n}.db"), base, args.sources, Path(tmp))
            first = first or took
            runs = collections.Counter(fetched.values())
            once = "every feed fetched once" if runs == {1: args.sources} else f"fetches per feed: {dict(runs)}"
            print(f"  {n} worker{'s' if n > 1 else ' '}: {took:6.1f} s for every source once, "
                  f"{args.sources / took:5.1f} sources/s, {first / took:4.2f}x one worker; {once}", flush=True)
    server.shutdown()


if __name__ == "__main__":
    main()
