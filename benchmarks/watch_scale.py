"""The spike watch at agency scale: 100 brands, 20 sources, a million mentions a month.

    python benchmarks/watch_scale.py [--brands 100] [--sources 20] [--days 7] [--per-month 1000000]

Builds a store holding ``--days`` of mentions at ``--per-month`` (each a brand and a source drawn
at random, busier brands and sources more often, a daily rhythm; judged at random) through
``Store.save_mentions``, then times, each a whole process as an admin runs it:

- ``monitor backtest --since {days}d`` over all brands (issue 35's goal: 7 days ≤ 30 s);
- the spike watch alone in this process (``monitor.watch.replay`` of every brand, one core), with
  the detector updates it made and the windows it skipped as quiet.

The detector's cost follows activity: a series with no posts in a window is advanced over its
quiet windows in one step when its next post or the end of the replay comes.
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.models import Judged, Match, Mention, Reach, Score  # noqa: E402
from monitor.store import Store  # noqa: E402

BUCKETS = ["apathetic"] * 6 + ["assassin", "advocate", None]


def judged(brands: list[str], sources: list[str], start: datetime, days: int, per_month: int, seed: int = 3):
    """Mentions in batches of 1,000, in time order: a Zipf share per brand and per source, twice
    as many at the day's busiest hour as at its quietest."""
    rng = random.Random(seed)
    total = per_month * days // 30
    brand_weights = [1 / (rank + 1) for rank in range(len(brands))]
    source_weights = [1 / (rank + 1) for rank in range(len(sources))]
    batch = []
    seconds = sorted(_rhythm(rng, days) for _ in range(total))
    for i, offset in enumerate(seconds):
        brand = rng.choices(brands, brand_weights)[0]
        bucket = rng.choice(BUCKETS)
        compound = None if bucket is None else rng.uniform(-1, 1)
        likely = rng.randint(1, 5000)
        m = Mention(source=rng.choices(sources, source_weights)[0], id=str(i), url=f"https://example.com/{i}",
                    text=f"{brand} post {i}", published_at=start + timedelta(seconds=offset), title="",
                    author=f"user{i % 20000}", source_type="rss")
        score = Score(compound, bucket, (), None if bucket else "too short",
                      None if compound is None else round((1 - compound) / 2, 4))
        batch.append(Judged(m, Match((brand,), (f'"{brand}"',)), score, Reach(max(1, likely // 10), likely * 5, "bench", likely)))
        if len(batch) == 1000:
            yield batch
            batch = []
    if batch:
        yield batch


def _rhythm(rng: random.Random, days: int) -> float:
    while True:
        at = rng.uniform(0, days * 86400)
        hour = (at % 86400) / 3600
        if rng.random() < 0.5 + 0.5 * (1 + math.sin((hour - 9) / 24 * 6.283)) / 2:
            return at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--brands", type=int, default=100)
    parser.add_argument("--sources", type=int, default=20)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--per-month", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="Build the store in this folder and keep it (default: a temporary one).")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    brands = [f"Brand{n:03d}" for n in range(args.brands)]
    sources = [f"source{n:02d}" for n in range(args.sources)]
    end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=args.days)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "watch.db"
        path.unlink(missing_ok=True)
        started = time.perf_counter()
        count = 0
        with Store(path) as store:
            for name in sources:
                store.ensure_source(name, "rss", now=start)
            for batch in judged(brands, sources, start, args.days, args.per_month):
                store.save_mentions(batch, fetched_at=batch[-1].mention.published_at)
                count += len(batch)
        print(f"built {count:,} mentions ({args.brands} brands, {args.sources} sources, {args.days} days) "
              f"in {time.perf_counter() - started:.0f} s")
        config = Path(folder) / "config.yaml"
        config.write_text("brands:\n" + "".join(f"  - {{name: {b}, keywords: ['\"{b}\"']}}\n" for b in brands)
                          + "sources:\n" + "".join(f"  - {{name: {s}, type: rss, url: 'https://{s}.example.com/feed'}}\n"
                                                   for s in sources)
                          + f"database: {path}\n", encoding="utf-8")

        from monitor.config_check import load_config
        from monitor.judgement import series
        from monitor.watch import replay
        settings = load_config(config).spikes.settings()
        tally = {"updates": 0, "asleep": 0}
        update, sleep = series.update, series.sleep

        def counted_update(*a, **k):  # counted, not changed
            tally["updates"] += 1
            return update(*a, **k)

        def counted_sleep(*a, **k):
            skipped = sleep(*a, **k)
            tally["asleep"] += skipped
            return skipped

        series.update, series.sleep = counted_update, counted_sleep
        started = time.perf_counter()
        fired = sum(len(replay(str(path), b, settings, end=end, history=timedelta(days=args.days)).fired) for b in brands)
        alone = time.perf_counter() - started
        series.update, series.sleep = update, sleep
        windows = args.days * 86400 // int(settings.window.total_seconds()) * len(brands) * (len(series.MEASURES) + len(sources))
        print(f"the spike watch alone (one core): {alone:.1f} s for {windows:,} series-windows "
              f"({len(series.MEASURES)} a brand, 1 a source): {tally['updates']:,} detector updates, "
              f"{tally['asleep']:,} windows advanced asleep (no post for an hour); {fired} series fired")

        argv = [sys.executable, "-m", "monitor", "--config", str(config), "backtest", "--since", f"{args.days}d"]
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        spent = time.perf_counter() - started
        print(f"monitor backtest --since {args.days}d, {args.brands} brands × {args.sources} sources (the whole command): "
              f"{spent:.1f} s; {done.stdout.strip().splitlines()[-1][:70]}…")


if __name__ == "__main__":
    main()
