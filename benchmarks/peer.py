"""The whole of ``monitor once`` against a peer nobody here wrote: ``benchmarks/peer_script.py``
(feedparser, a regex per brand, VADER, SQLite with FTS5), on the same loopback feeds.

    python benchmarks/peer.py [--feeds 20] [--items 500] [--brands 10] [--rounds 3]

Serves ``--feeds`` RSS feeds of ``--items`` entries each (a day of posts naming ``--brands``
brands, with the phrases of ``pipeline.py``) from 127.0.0.1, then alternates, ``--rounds``
times, the peer into a fresh SQLite file and ``monitor once`` into a fresh store (every feed an
``rss`` source; the spike watch on, then off), each a whole process as a person runs it. Prints
each one's entries per second and the ratio to the peer's in the same round (this machine's
noise cancels), the median of the rounds. Both run with their bytecode cached, as installed.
The monitor runs its fast call (``sentiment.encoder: off``): the peer reads words only too; what
the sentence encoder costs is ``pipeline.py``'s "whole call" figure.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pipeline  # noqa: E402  (its phrases)


def feeds(count: int, items: int, brands: list[str], now: datetime) -> list[bytes]:
    rng = random.Random(17)
    out = []
    for f in range(count):
        entries = []
        for i in range(items):
            brand = rng.choice(brands)
            text = f"{rng.choice(pipeline.PHRASES).format(s=brand)}. {rng.choice(pipeline.PHRASES).format(s='it')}"
            when = format_datetime(now - timedelta(seconds=rng.uniform(0, 86_400)))
            entries.append(f"<item><title>{escape(text[:60])}</title><link>https://feed{f}.example/p/{i}</link>"
                           f"<guid>https://feed{f}.example/p/{i}</guid><pubDate>{when}</pubDate>"
                           f"<description>{escape(text)}</description></item>")
        out.append(('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>feed</title>'
                    + "".join(entries) + "</channel></rss>").encode())
    return out


def serve(bodies: list[bytes]) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            number = int(self.path.strip("/").split(".")[0].removeprefix("feed"))
            body = bodies[number]
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


# Both run as on a user's machine, where Python keeps the compiled bytecode of every module (pip
# compiles them at install): a shell that sets PYTHONDONTWRITEBYTECODE (CI, this project's
# machines) would compile ours, 90-odd modules, 0.2-0.4 s, again on every run. A first untimed
# round of each writes it.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True, env=ENV)
    return time.perf_counter() - started


def stored(db: Path, table: str) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--brands", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="Write the last round's databases and configs here too.")
    args = parser.parse_args()
    names = [f"Brand{chr(65 + n % 26)}{n} Cloud" for n in range(args.brands)]
    server, base = serve(feeds(args.feeds, args.items, names, datetime.now(timezone.utc)))
    urls = [f"{base}/feed{n}.xml" for n in range(args.feeds)]
    total = args.feeds * args.items
    ratios: dict[str, list[float]] = {"watch on": [], "watch off": []}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "brands.txt").write_text("\n".join(names), encoding="utf-8")
        for watch in ("on", "off"):
            (work / f"watch-{watch}.yaml").write_text(
                "brands:\n" + "".join(f"  - {{name: {n}, keywords: ['\"{n}\"']}}\n" for n in names)
                + "sources:\n" + "".join(f"  - {{name: feed{n}, type: rss, url: '{u}'}}\n" for n, u in enumerate(urls))
                + f"spikes: {{enabled: {'true' if watch == 'on' else 'false'}}}\nreceivers: [{{name: quiet, type: console}}]\n"
                + "alerts: {buckets: []}\nsentiment: {encoder: 'off'}\n", encoding="utf-8")
        timed([sys.executable, str(HERE / "peer_script.py"), str(work / "warm.db"), str(work / "brands.txt"), *urls[:1]], work)
        timed([sys.executable, "-m", "monitor", "--config", str(work / "watch-on.yaml"), "--db", str(work / "warm-monitor.db"),
               "once"], HERE.parent)
        for round_ in range(args.rounds):
            peer_db = work / f"peer{round_}.db"
            peer = timed([sys.executable, str(HERE / "peer_script.py"), str(peer_db), str(work / "brands.txt"), *urls], work)
            for watch in ("on", "off"):
                db = work / f"monitor-{watch}{round_}.db"
                ours = timed([sys.executable, "-m", "monitor", "--config", str(work / f"watch-{watch}.yaml"), "--db", str(db),
                              "once"], HERE.parent)
                ratios[f"watch {watch}"].append(peer / ours)
                if stored(db, "mentions") != stored(peer_db, "posts"):
                    sys.exit(f"monitor once stored {stored(db, 'mentions'):,} entries, the peer {stored(peer_db, 'posts'):,}:"
                             " not the same job")
                print(f"round {round_ + 1}: peer {total / peer:,.0f} entries/s; monitor once, spike watch {watch}: "
                      f"{total / ours:,.0f} entries/s ({peer / ours:.2f}× the peer)", flush=True)
        if args.keep:
            import shutil

            shutil.copytree(work, args.keep, dirs_exist_ok=True)
    server.shutdown()
    for label, values in ratios.items():
        print(f"monitor once, spike watch {label[6:]}: {statistics.median(values):.2f}× the peer's throughput "
              f"(median of {len(values)} rounds; {min(values):.2f}–{max(values):.2f}), {args.feeds} feeds × {args.items}"
              f" entries, {args.brands} brands")


if __name__ == "__main__":
    main()
