"""Big and hostile bodies: parsing cost stays linear, a gzip bomb costs at most max_body.

    python benchmarks/limits.py

1. Feed parsing (the rss connector's parse_feed, feedparser underneath) on RSS bodies of 1, 2,
   4 and 8 MB with HTML in every item: seconds, and each time as a ratio to the 1 MB time
   against the ratio of sizes (linear: the two columns agree).
2. A gzip bomb (1 MB on the wire, 1 GB inflated) fetched through the one request helper from a
   loopback server: the error, and the peak of Python memory during the fetch (tracemalloc),
   against the 10 MB cap.
3. Thirty sources, 28 of them faulty (gzip bombs, bodies past max_body, broken 9 MB feeds of
   unclosed HTML, well-formed 9 MB feeds, servers that drip, 500s, garbage), under a real ``monitor run`` for 60 s: the process's peak resident memory
   (VmHWM), against the same monitor with only the two healthy sources, in the same run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
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
            "<description>&lt;p&gt;" + "word " * 2000 + "&lt;/p&gt;</description></item>")  # 10 KB: under 1,000 items
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


def _peak_of_run(urls: list[str], seconds: float) -> float:
    """Peak resident memory (MB) of ``monitor run`` polling ``urls`` every 10 s for ``seconds``."""
    folder = Path(tempfile.mkdtemp())
    sources = "".join(f"  - {{name: s{i}, type: rss, url: '{url}', every: 10s}}\n" for i, url in enumerate(urls))
    (folder / "config.yaml").write_text(f"brands: [{{name: Acme Cloud, keywords: [acme]}}]\nsources:\n{sources}"
                                        f"receivers: [{{name: console, type: console}}]\ndatabase: {folder / 'm.db'}\n")
    run = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(folder / "config.yaml"), "run"],
                           cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0.0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and run.poll() is None:
        try:
            status = Path(f"/proc/{run.pid}/status").read_text()
            peak = max(peak, int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024)
        except (OSError, StopIteration):
            pass
        time.sleep(0.5)
    run.send_signal(signal.SIGTERM)
    try:
        run.wait(timeout=60)
    except subprocess.TimeoutExpired:
        run.kill()
    return peak


def faulty_sources(seconds: float = 60) -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(packer.compress(b" " * (1 << 20)) for _ in range(1024)) + packer.flush()
    oversize = b"<rss><channel>" + b"<item><title>acme</title></item>" * (30 << 15) + b"</channel></rss>"
    junk = (b"<rss><channel>" + b"<item><title>acme</title><description>" + b"<div><p>acme " * (9 << 16)
            + b"</description></item></channel></rss>")
    big = b"<rss><channel><title>big</title>" + b"".join(
        b"<item><title>acme %d</title><description>&lt;p&gt;acme is down, " % i + b"x" * 300
        + b"&lt;/p&gt;</description><guid>big-%d</guid></item>" % i for i in range(25000)) + b"</channel></rss>"
    good = (b"<rss><channel><title>ok</title>" + b"".join(
        f"<item><title>acme {i}</title><link>https://x.example/{i}</link><guid>{i}</guid></item>".encode()
        for i in range(20)) + b"</channel></rss>")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            kind = self.path.strip("/").split("-")[0]
            body = {"bomb": bomb, "oversize": oversize, "junk": junk, "big": big, "good": good,
                    "garbage": b"\x00\xff" * 4096}.get(kind, b"<rss>" + b" " * 4096)
            self.send_response(500 if kind == "error" else 200)
            self.send_header("Content-Type", "application/rss+xml")
            if kind == "bomb":
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                if kind == "drip":  # a byte every 2 s until the reader gives up
                    for i in range(len(body)):
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                        time.sleep(2)
                else:
                    self.wfile.write(body)
            except OSError:
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    healthy = [f"{base}/good-{i}" for i in range(2)]
    faulty = [f"{base}/{kind}-{i}" for i in range(4)
              for kind in ("bomb", "oversize", "junk", "big", "drip", "error", "garbage")]
    alone = _peak_of_run(healthy, seconds)
    crowded = _peak_of_run(healthy + faulty, seconds)
    server.shutdown()
    print(f"monitor run for {seconds:.0f} s, peak resident memory (VmHWM):")
    print(f"  2 healthy sources: {alone:.0f} MB")
    print(f"  2 healthy + 28 faulty (4 each: gzip bombs, bodies past max_body, broken 9 MB feeds, well-formed 9 MB "
          f"feeds of 25,000 items, drippers, HTTP 500s, binary garbage): {crowded:.0f} MB "
          f"({crowded / alone:.2f}× the healthy pair; {crowded - alone:.0f} MB more)")


if __name__ == "__main__":
    parsing()
    bomb()
    faulty_sources()
