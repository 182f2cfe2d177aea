"""A simulated day of `monitor run` in minutes: memory must stay flat.

    python benchmarks/soak.py [--hours 24]

A loopback server plays five sources (two RSS feeds, Hacker News, Discourse, an App Store
feed) that bring new posts every poll, with faults mixed in (503s, a 429 with Retry-After,
malformed items, a truncated feed), and a Slack webhook stand-in that answers 503 now and then.
The monitor's own job methods (`Monitor.run_source_job`, `spikes_job`, `deliver_job`) run on an
injected clock that advances one minute per step, with each source polled every 10 minutes: a
day is 1,440 steps. The process's resident memory (VmRSS) is printed after a first simulated
hour (imports and models loaded) and at the end, with the growth; the goal is flat within 10 MB.
Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.http import make_client  # noqa: E402
from monitor.scheduler import Monitor  # noqa: E402
from monitor.store import Store  # noqa: E402

START = datetime(2026, 11, 23, tzinfo=timezone.utc)
WORDS = ["outage", "refund", "billing", "support", "great", "love", "slow", "down", "checkout", "invoice"]


class Clock:
    """The injected clock: the simulated now."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def posts(clock: Clock, prefix: str, n: int = 20) -> list[dict]:
    """The newest ``n`` posts at the simulated time: two new ones a minute."""
    minute = int((clock.now - START).total_seconds() // 60)
    out = []
    for k in range(n):
        i = minute * 2 - k
        tone = "is down again, I want a refund, leaving" if i % 3 == 0 else "works great, love it"
        out.append({"id": f"{prefix}{i}", "at": START + timedelta(seconds=30 * i),
                    "text": f"Acme Cloud {tone} ({WORDS[i % len(WORDS)]} #{i})", "author": f"user{i % 97}"})
    return out


def rss(items: list[dict], *, truncated: bool = False) -> bytes:
    body = "".join(
        f"<item><title>{p['text'][:40]}</title><link>https://blog.example/{p['id']}</link><guid>{p['id']}</guid>"
        f"<pubDate>{p['at'].strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate><author>{p['author']}@example.com</author>"
        f"<description>{p['text']}</description></item>" for p in items)
    doc = f'<?xml version="1.0"?><rss version="2.0"><channel><title>blog</title>{body}</channel></rss>'
    return doc.encode()[: len(doc) * 2 // 3] if truncated else doc.encode()


def make_handler(clock: Clock, counts: dict):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, body: bytes, kind: str = "application/json", headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - the Slack webhook stand-in
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            counts["slack"] = counts.get("slack", 0) + 1
            if counts["slack"] % 17 == 0:
                return self._send(503, b"unavailable", "text/plain")
            self._send(200, b"ok", "text/plain")

        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?")[0]
            counts[path] = counts.get(path, 0) + 1
            n = counts[path]
            if n % 23 == 0:
                return self._send(503, b"busy", "text/plain")
            if n % 31 == 0:
                return self._send(429, b"slow down", "text/plain", {"Retry-After": "1"})
            if path == "/feed-a.xml":
                return self._send(200, rss(posts(clock, "a"), truncated=n % 11 == 0), "application/rss+xml")
            if path == "/feed-b.xml":
                return self._send(200, rss(posts(clock, "b")), "application/rss+xml")
            if path == "/hn/search_by_date":
                hits = [{"objectID": p["id"], "created_at_i": int(p["at"].timestamp()) if k else "yesterday",
                         "title": p["text"], "author": p["author"], "points": 3, "_tags": ["story"]}
                        for k, p in enumerate(posts(clock, "h"))]
                return self._send(200, json.dumps({"hits": hits, "nbPages": 1}).encode())
            if path == "/forum/posts.json":
                latest = [{"id": int(p["id"][1:]) + 10**6, "created_at": p["at"].isoformat(), "cooked": p["text"],
                           "username": p["author"], "topic_id": 1, "topic_slug": "t"} for p in posts(clock, "f")]
                return self._send(200, json.dumps({"latest_posts": latest}).encode())
            self._send(404, b"no", "text/plain")

        def log_message(self, *args: object) -> None:
            pass

    return Handler


class QuietServer(ThreadingHTTPServer):
    """A client hanging up on a 503 is part of the play, not news."""

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def rss_mb() -> float:
    """Resident memory of this process (Linux), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # the faults are meant: keep the output to figures
    clock, counts = Clock(), {}
    server = QuietServer(("127.0.0.1", 0), make_handler(clock, counts))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    os.environ["SOAK_SLACK_WEBHOOK"] = f"{base}/services/T0/B0/soak"
    folder = Path(tempfile.mkdtemp(prefix="soak-"))
    config = folder / "config.yaml"
    config.write_text(f"""\
database: {folder / 'monitor.db'}
brands: [{{name: Acme Cloud, keywords: ['"Acme Cloud"']}}]
sources:
  - {{name: feed-a, type: rss, url: '{base}/feed-a.xml', every: 10m}}
  - {{name: feed-b, type: rss, url: '{base}/feed-b.xml', every: 10m}}
  - {{name: hn, type: hackernews, base_url: '{base}/hn', every: 10m, first_run: 1h}}
  - {{name: forum, type: discourse, base_url: '{base}/forum', mode: posts, every: 10m}}
receivers: [{{name: slack, type: slack, webhook_url_env: SOAK_SLACK_WEBHOOK}}]
alerts: {{backfill: 1h, digest_at: null}}
""")
    monitor = Monitor(config, clock=clock, client_factory=lambda **kw: make_client(**kw, clock=lambda: clock().timestamp()))
    if os.environ.get("SOAK_DEBUG"):
        logging.getLogger("monitor").setLevel(logging.WARNING)
    names = [s.name for s in monitor.runtime.config.sources]
    steps = int(args.hours * 60)
    started, memory = time.perf_counter(), {}
    for step in range(steps):
        clock.now = START + timedelta(minutes=step)
        for name in names:
            monitor.run_source_job(name)
        if step % 5 == 0:
            monitor.spikes_job()
        monitor.deliver_job()
        if step == 60 or step == steps - 1:
            gc.collect()
            memory[step] = rss_mb()
    monitor.stop()
    with Store(folder / "monitor.db", readonly=True) as store:
        mentions = store.db.execute("SELECT count(*) FROM mentions").fetchone()[0]
        alerts = store.alert_counts()
        runs = store.db.execute("SELECT sum(runs_total), sum(errors_total), sum(skipped_total) FROM sources").fetchone()
        if os.environ.get("SOAK_DEBUG"):
            for row in store.db.query("SELECT name, runs_total, errors_total, last_error FROM sources"):
                print(row)
    server.shutdown()
    start_mb, end_mb = memory.get(60, float("nan")), memory.get(steps - 1, float("nan"))
    print(f"simulated {args.hours:g} h in {time.perf_counter() - started:.0f} s: {runs[0]} source runs ({runs[1]} failed, "
          f"{runs[2]} malformed items skipped), {mentions} mentions stored, alerts {dict(sorted(alerts.items()))}")
    print(f"memory (VmRSS): {start_mb:.1f} MB after the first simulated hour, {end_mb:.1f} MB at the end: "
          f"growth {end_mb - start_mb:+.1f} MB (goal: within 10 MB)")


if __name__ == "__main__":
    main()
