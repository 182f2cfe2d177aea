"""The store at agency scale: a million mentions, and what PR teams and commands ask of it.

    python benchmarks/store_scale.py [--mentions 1000000] [--db PATH]

Builds the store through its real API (``Store.save_mentions``, 1,000 a batch: the rows, the
full-text index, the rollups and the source counters in one transaction each), bypassing only
the judging (the mentions arrive judged: random buckets and reach; texts from ``pipeline.py``'s
phrases plus words drawn from a Zipf vocabulary, so some words are in half the posts and most in
few), and authors (not folded). Then prints, each the median of repeated runs:

- the file's size per million mentions;
- full-text search (``Store.search``, ranked among the newest 10,000 matches): the median of 20
  words of every frequency, the most common word, a phrase; beside the old plan (rank every match);
- ``brand_health_daily`` for one brand over 14 days, and ``brand_health``, with their query plans;
- ``status`` (every source row) and the digest's day (one brand's bucket counts and top posts);
- the schema's example queries (monitor/schema.md), with their plans;
- ``monitor serve``'s canned queries, ``monitor report --since 7d``, and ``monitor export
  mentions`` (all rows as CSV, written nowhere: its peak memory shows whether it streams).

- ``monitor backtest --since 30d`` over the last 30 days of the data, 3 brands, the whole command
  (per-window counts summed by SQLite, the brands replayed side by side, one process per core).

Issue 17's goals: search ≤ 50 ms for all three, brand health ≤ 200 ms (goal 10 ms), the backtest
≤ 5 s (32 s when it loaded every row).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pipeline  # noqa: E402

from monitor.models import Judged, Match, Mention, Reach, Score  # noqa: E402
from monitor.store import Store  # noqa: E402

BRANDS = ["Acme Cloud", "Beta Mail", "Gamma Bank"]
SOURCES = ["hn", "reddit", "mastodon", "news", "reviews"]
BUCKETS = ["apathetic"] * 6 + ["assassin", "advocate", None]
START = datetime(2026, 9, 1, tzinfo=timezone.utc)
DAYS = 90


def vocabulary(size: int = 50_000, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) for _ in range(size)]


def mentions(n: int, seed: int = 5):
    """Judged mentions in batches of 1,000, spread evenly over ``DAYS`` days."""
    rng = random.Random(seed)
    words = vocabulary()
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf: the first word is in most posts
    cumulative = list(itertools.accumulate(weights))
    step = DAYS * 86400 / n
    batch = []
    for i in range(n):
        phrase = rng.choice(pipeline.PHRASES).format(s=rng.choice(pipeline.SUBJECTS))
        extra = " ".join(rng.choices(words, cum_weights=cumulative, k=8))
        brands = tuple(rng.sample(BRANDS, 2)) if rng.random() < 0.05 else (rng.choice(BRANDS),)
        bucket = rng.choice(BUCKETS)
        likely = rng.randint(1, 5000)
        m = Mention(source=rng.choice(SOURCES), id=str(i), url=f"https://example.com/{i}", text=f"{phrase} {extra}",
                    published_at=START + timedelta(seconds=i * step), title="", author=f"user{i % 20000}", source_type="rss")
        compound = None if bucket is None else rng.uniform(-1, 1)
        score = Score(compound, bucket, (), None if bucket else "too short",
                      None if compound is None else round((1 - compound) / 2, 4))
        batch.append(Judged(m, Match(brands, ('"x"',)), score, Reach(max(1, likely // 10), likely * 5, "bench", likely)))
        if len(batch) == 1000:
            yield batch
            batch = []
    if batch:
        yield batch


def timed(fn, repeat: int = 5) -> float:
    """The median seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def plan(store: Store, sql: str, params: tuple = ()) -> str:
    return "; ".join(row[3] for row in store.db.execute("EXPLAIN QUERY PLAN " + sql, params))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="Keep the store here (default: a temporary folder).")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    path = args.db or Path(folder.name) / "scale.db"
    with Store(path) as store:
        for name in SOURCES:
            store.ensure_source(name, "rss", now=START)
        if not store.db.execute("SELECT count(*) FROM mentions").fetchone()[0]:
            started = time.perf_counter()
            for batch in mentions(args.mentions):
                store.save_mentions(batch, fetched_at=batch[-1].mention.published_at)
            spent = time.perf_counter() - started
            print(f"built {args.mentions:,} mentions through Store.save_mentions in {spent:.0f} s "
                  f"({args.mentions / spent:,.0f} a second)")
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        count = store.db.execute("SELECT count(*) FROM mentions").fetchone()[0]
        size = path.stat().st_size
        print(f"store: {count:,} mentions, {size / 2**20:,.0f} MB ({size / count * 1e6 / 2**30:.2f} GB per million)")

        words = vocabulary()
        by_rank = [words[int(10 ** (k * 4.6 / 19)) - 1] for k in range(20)]  # ranks 1 to 40,000: common to rare
        median_word = statistics.median(timed(lambda w=w: store.search(w, limit=20), 3) for w in by_rank)
        common = store.db.execute("SELECT count(*) FROM mentions_fts WHERE mentions_fts MATCH ?", (words[0],)).fetchone()[0]
        print("\nfull-text search (Store.search, limit 20), median of repeated runs:")
        print(f"  median of 20 words of every frequency:        {median_word * 1e3:7.1f} ms")
        for label, query in ((f"the most common word ({common:,} posts)", words[0]), ('a phrase ("support was quick")',
                                                                                     '"support was quick"')):
            bounded = timed(lambda q=query: store.search(q, limit=20))
            everything = timed(lambda q=query: store.search(q, limit=20, among=count), 3)
            newest = timed(lambda q=query: store.search(q, limit=20, order="newest"))
            print(f"  {label:<45} {bounded * 1e3:7.1f} ms ranked among the newest 10,000 "
                  f"({everything * 1e3:,.0f} ms ranking every match, {everything / bounded:,.0f}x); "
                  f"{newest * 1e3:.1f} ms --order newest")

        since = (START + timedelta(days=DAYS - 14)).date().isoformat()
        daily = "SELECT * FROM brand_health_daily WHERE brand = ? AND day >= ? ORDER BY day"
        health = timed(lambda: store.db.execute(daily, (BRANDS[0], since)).fetchall(), 20)
        overall = timed(lambda: store.db.execute("SELECT * FROM brand_health").fetchall(), 20)
        print(f"\nbrand_health_daily, one brand, 14 days: {health * 1e3:.2f} ms   plan: {plan(store, daily, (BRANDS[0], since))}")
        print(f"brand_health, every brand, all time:   {overall * 1e3:.2f} ms")
        status = timed(store.sources_status, 20)
        day = START + timedelta(days=DAYS - 1)
        digest = timed(lambda: (store.bucket_counts(BRANDS[0], day, day + timedelta(days=1)),
                                store.top_mentions(BRANDS[0], "assassin", day, day + timedelta(days=1), limit=5)))
        print(f"status (every source row):             {status * 1e3:.2f} ms")
        print(f"digest's day (bucket counts, top 5):   {digest * 1e3:.1f} ms")

        # The schema's example queries, as a PR team pastes them (the authors are not folded here:
        # the author queries read an empty table; the full-text one also with the commonest word).
        import re

        block = re.search(r"```sql\n(.*?)```", (Path(__file__).resolve().parents[1] / "monitor" / "schema.md").read_text(), re.S)
        examples = [q.strip() for q in block.group(1).split(";") if q.strip()]
        examples.append(examples[1].replace("'refund*'", f"'{words[0]}'").replace("-- Full-text: refund complaints", "-- the same, the commonest word"))
        print("\nthe schema's example queries (median of 3):")
        for example in examples:
            title = example.splitlines()[0].lstrip("- ")
            sql = "\n".join(line for line in example.splitlines() if not line.startswith("--"))
            rows = len(store.db.execute(sql).fetchall())
            spent = timed(lambda q=sql: store.db.execute(q).fetchall(), 3)
            print(f"  {title[:44]:<44} {spent * 1e3:8.1f} ms {rows:>7,} rows   plan: {plan(store, sql)[:90]}")

        # The web UI's canned queries, with the parameters a PR lead would type.
        from monitor.serve import queries

        end = START + timedelta(days=DAYS)
        params = {"key": "slack:none", "brand": BRANDS[0], "days": "14", "q": words[3], "source": SOURCES[0], "bucket": "assassin", "since": "",
                  "min_reach": "1000", "handle": "user7", "threshold": "", "start": (end - timedelta(hours=1)).isoformat(), "end": end.isoformat()}
        from monitor.webui import prepare_connection

        prepare_connection(store.db.conn)  # text_key, as monitor serve's Datasette has it
        print("\nmonitor serve's canned queries (median of 3):")
        for name, query in queries("scale", "http://127.0.0.1:8001").items():
            used = {k: v for k, v in params.items() if f":{k}" in query["sql"]}
            spent = timed(lambda q=query["sql"], u=used: store.db.execute(q, u).fetchall(), 3)
            print(f"  {name:<24} {spent * 1e3:8.1f} ms   plan: {plan(store, query['sql'], used)[:110]}")

        # The dashboard monitor serve opens on: each of its reads, then the whole page (goal: each ≤ 200 ms).
        from monitor.dashboard import Filters, gather as dashboard, outlier_of, render as draw

        month = end - timedelta(days=30)
        reads = {
            "voice_days (every brand, 30 days)": lambda: store.voice_days(month, end),
            "source_totals (one brand)": lambda: store.source_totals(month, end, brands=[BRANDS[0]]),
            "top_texts assassins (one brand)": lambda: store.top_texts("assassin", month, end, brands=[BRANDS[0]]),
            "top_texts advocates (every brand)": lambda: store.top_texts("advocate", month, end, brands=BRANDS),
            "widest_post (one day)": lambda: store.widest_post(end - timedelta(days=1), end, bucket="assassin",
                                                               brands=[BRANDS[0]]),
            "storms (one brand)": lambda: store.storms(since=month, brand=BRANDS[0]),
            "author_moves (one brand)": lambda: store.author_moves(BRANDS[0], month, end, limit=20),
            "acted_alerts (every brand)": lambda: store.acted_alerts(month, brands=BRANDS),
        }
        print("\nthe dashboard's reads, 30 days (median of 3):")
        for name, read in reads.items():
            print(f"  {name:<36} {timed(read, 3) * 1e3:8.1f} ms")

        def whole(brand: str) -> str:
            page = dashboard(store, Filters(brand=brand, days=30), now=end)
            outlier_of(store, page)
            return draw(page, database="scale")

        for brand, label in ((BRANDS[0], "one brand"), ("", "every brand")):
            print(f"  the whole page, {label:<22} {timed(lambda b=brand: whole(b), 3) * 1e3:8.1f} ms")

        # The report for the last 7 days of every brand.
        from monitor.report import gather, render

        started = time.perf_counter()
        page = render(gather(store, BRANDS, end - timedelta(days=7), end, now=end), end - timedelta(days=7), end, end)
        print(f"\nmonitor report --since 7d, 3 brands: {time.perf_counter() - started:.2f} s ({len(page) / 1024:.0f} KB)")

    # An export of every mention streams: peak memory while writing them all as CSV to nowhere.
    import io
    import resource

    from monitor.cli.common import write_rows
    from monitor.store.exports import export_columns

    with Store(path, readonly=True) as store:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()

        class Nowhere(io.TextIOBase):
            def write(self, text: str) -> int:
                return len(text)

        count = write_rows(store.export("mentions"), "csv", export_columns("mentions"), Nowhere())
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"monitor export mentions (CSV): {count:,} rows in {time.perf_counter() - started:.1f} s; "
              f"peak memory grew {max(0, after - before) / 1024:.1f} MB")

    # The pages as a PR lead opens them: a real monitor serve of the store, each page fetched whole.
    import httpx

    from tests.support import serving  # the tests' own helper: monitor serve on a free loopback port

    pages = ["/", f"/?brand={BRANDS[0].replace(' ', '%20')}&days=90", f"/{path.stem}", f"/{path.stem}/mentions",
             f"/{path.stem}/mentions?bucket=assassin", f"/{path.stem}/authors", f"/{path.stem}/alerts",
             f"/{path.stem}/to_label", f"/{path.stem}/assassins_last_7_days"]
    with serving(path) as base:
        print("\nmonitor serve's pages over HTTP (the whole response, median of 3):")
        for page in pages:
            httpx.get(base + page, timeout=60)  # warm
            spent = timed(lambda p=page: httpx.get(base + p, timeout=60).raise_for_status(), 3)
            print(f"  {page[:60]:<60} {spent * 1e3:8.1f} ms")

    # The backtest as people run it: the whole command, its last 30 days ending with the data.
    import subprocess

    config = Path(folder.name) / "backtest.yaml"
    config.write_text("brands:\n" + "".join(f"  - {{name: {b}, keywords: ['\"{b}\"']}}\n" for b in BRANDS)
                      + "sources: [{name: blog, type: rss, url: 'https://blog.example.com/feed.xml'}]\n"
                      + f"database: {path.resolve()}\n", encoding="utf-8")
    ago = max(0, (datetime.now(timezone.utc) - (START + timedelta(days=DAYS))).days)
    argv = [sys.executable, "-m", "monitor", "--config", str(config), "backtest", "--since", "30d", "--until", f"{ago}d"]
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        runs.append(time.perf_counter() - started)
    print(f"monitor backtest --since 30d, {len(BRANDS)} brands (the whole command, median of 3): "
          f"{statistics.median(runs):.2f} s, {len(os.sched_getaffinity(0))} cores; {done.stdout.strip().splitlines()[-1][:60]}…")
    folder.cleanup()


if __name__ == "__main__":
    main()
