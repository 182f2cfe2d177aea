"""Big and hostile bodies: parsing cost stays linear, a gzip bomb costs at most max_body.

    python benchmarks/limits.py

1. Feed parsing (the rss connector's parse_feed, feedparser underneath) on RSS bodies of 1, 2,
   4 and 8 MB with HTML in every item: seconds, and each time as a ratio to the 1 MB time
   against the ratio of sizes (linear: the two columns agree).
2. A gzip bomb (1 MB on the wire, 1 GB inflated) fetched through the one request helper from a
   loopback server: the error, and the peak of Python memory during the fetch (tracemalloc),
   against the 10 MB cap.
"""

from __future__ import annotations

import sys
import threading
import time
import tracemalloc
import zlib
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors import http  # noqa: E402
from connectors.rss import parse_feed  # noqa: E402
from monitor.errors import FetchError  # noqa: E402

NOW = datetime(2026, 11, 23, tzinfo=timezone.utc)


def feed(megabytes: int) -> bytes:
    item = ("<item><title>Acme Cloud item {i}</title><link>https://x.example/{i}</link><guid>{i}</guid>"
            "<description>&lt;p&gt;" + "word " * 150 + "&lt;/p&gt;</description></item>")
    items, size, i = [], 0, 0
    while size < megabytes << 20:
        text = item.format(i=i)
        items.append(text)
        size += len(text)
        i += 1
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>{"".join(items)}</channel></rss>'.encode()


def parsing() -> None:
    print("feed parsing (parse_feed): size, seconds, time ratio to 1 MB, size ratio")
    base = None
    for mb in (1, 2, 4, 8):
        body = feed(mb)
        started = time.perf_counter()
        entries = parse_feed(body, source="bench", url="https://x.example/feed", now=NOW)
        elapsed = time.perf_counter() - started
        base = base or elapsed
        print(f"  {mb} MB  {len(entries):6,} items  {elapsed:6.2f} s  {elapsed / base:5.2f}×  {mb:.0f}×")


def bomb() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b" " * (1 << 20)
    body = b"".join(packer.compress(chunk) for _ in range(1024)) + packer.flush()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = http.make_client()
    tracemalloc.start()
    try:
        http.get(client, f"http://127.0.0.1:{server.server_address[1]}/bomb.xml", source="bench")
        outcome = "read whole (the cap did not hold)"
    except FetchError as exc:
        outcome = str(exc).split(";")[0]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    server.shutdown()
    print(f"gzip bomb ({len(body) / (1 << 20):.1f} MB on the wire, 1024 MB inflated): {outcome}")
    print(f"  peak Python memory during the fetch: {peak / (1 << 20):.1f} MB (cap {http.DEFAULT_MAX_BODY >> 20} MB; "
          f"{peak / http.DEFAULT_MAX_BODY:.2f}× the cap)")


if __name__ == "__main__":
    parsing()
    bomb()
