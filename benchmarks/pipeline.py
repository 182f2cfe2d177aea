"""Pipeline throughput against bare VADER, measured in the same run (machines here are noisy).

    python benchmarks/pipeline.py [--mentions 20000] [--postgres postgresql://user@host/postgres]

Prints mentions per second through ``monitor.ingest.ingest``, the stages a source run takes:
normalize → match → dedupe → language → score (VADER and the assassin cues) → store with
authors (a real SQLite file, in pages of 100 as connectors deliver them); bare
``polarity_scores`` per second on the same texts, their ratio (of the best runs, and the median of each run's ratio to the VADER run
beside it), and the seconds to score a 1 MB text (with bare VADER on 33 KB beside it).
``--postgres URL`` also runs the same pipeline into PostgreSQL (a fresh database on that server
each run, interleaved with the others) and prints its ratio beside SQLite's.

The pipeline runs the fast call (``sentiment.encoder: off``: the stages bare VADER is compared
with). Then **the whole call with the cascade** (``auto``, the default; the sentence encoder
installed): posts per second through ``score_all`` with the shipped model, the share of posts the
cascade sent to the encoder, the same with the fast call alone beside it, and a 1 MB text's
seconds — on this corpus (complaint-heavy: a storm's worth) and, where ``../shared/eval`` exists,
on 2,000 TweetEval tweets (an ordinary day's mix).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from monitor.config_check import parse_config  # noqa: E402
from monitor.ingest import ingest, normalize, scored_text  # noqa: E402
from monitor.judgement.language import LanguageDetector  # noqa: E402
from monitor.judgement.sentiment import Scorer  # noqa: E402
from monitor.models import Mention  # noqa: E402
from monitor.runtime import Runtime  # noqa: E402
from monitor.store import Store  # noqa: E402

CONFIG = """
sentiment:
  encoder: "off"
brands:
  - name: Acme Cloud
    keywords: ['"Acme Cloud"', 'acmecloud', '"Acme" AND (outage OR down OR billing OR support)']
    exclude: ['"Acme Corporation" AND cartoon']
  - name: Beta Mail
    keywords: ['"Beta Mail"', 'betamail*']
"""
SUBJECTS = ["Acme Cloud", "acme cloud", "AcmeCloud", "Beta Mail", "the new Acme dashboard", "my bank", "this phone"]
PHRASES = [
    "{s} is down again and support is useless", "I love {s}, it just works", "{s} billing charged me twice",
    "Switched from {s} last week, never again", "{s} announced a new region today", "honestly {s} is fine I guess",
    "the outage at {s} cost us a whole day of work", "great job {s} team, brilliant release",
    "why does {s} keep logging me out?!", "{s} support was quick and friendly", "cancelling {s} after this mess",
    "Is anyone else seeing errors with {s}?", "{s} is the worst vendor we have ever used",
]


def corpus(n: int, seed: int = 7) -> list[Mention]:
    """``n`` tweet-to-review sized posts, some in HTML, nine in ten naming a brand."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    out = []
    for i in range(n):
        subject = rng.choice(SUBJECTS if rng.random() < 0.9 else ["the weather", "my cat"])
        sentences = [rng.choice(PHRASES).format(s=subject) + rng.choice([".", "!", "!!", "?", "."])
                     for _ in range(rng.choice([1, 1, 2, 3, 5]))]
        text = " ".join(sentences)
        if i % 3 == 0:
            text = "<p>" + text.replace(". ", ".</p><p>") + " &amp; more</p>"
        out.append(Mention(source="bench", id=str(i), url=f"https://example.com/{i}", text=text,
                           published_at=start + timedelta(seconds=i), title="", author=f"user{i % 500}",
                           source_type="rss"))
    return out


@contextlib.contextmanager
def fresh_database(server: str, name: str):
    """A new database on the PostgreSQL server at ``server``, dropped after: its URL."""
    import psycopg

    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run_pipeline(mentions: list[Mention], runtime: Runtime, db: Path | str) -> float:
    now = datetime(2026, 11, 23, tzinfo=timezone.utc)
    started = time.perf_counter()
    with Store(db) as store:
        store.ensure_source("bench", "rss", now=now)
        for page in range(0, len(mentions), 100):
            ingest(mentions[page : page + 100], "bench", runtime, store, now=now)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=9, help="best of this many runs of each measurement")
    parser.add_argument("--postgres", metavar="URL", help="also into PostgreSQL: a server URL whose user may create"
                        " databases (a fresh one each run; the password from PGPASSWORD or ~/.pgpass)")
    args = parser.parse_args()

    config = parse_config(CONFIG)
    scorer, bare = Scorer(), SentimentIntensityAnalyzer()
    runtime = Runtime.build(config, client=None, scorer=scorer, detector=LanguageDetector(), notifiers={})
    mentions = corpus(args.mentions)
    texts = [scored_text(normalize(m)) for m in mentions]

    pipeline_s, bare_s, postgres_s = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat):
            # Interleaved, so a slow moment of the machine hits both sides.
            pipeline_s.append(run_pipeline(mentions, runtime, Path(tmp) / f"bench{r}.db"))
            started = time.perf_counter()
            for text in texts:
                bare.polarity_scores(text)
            bare_s.append(time.perf_counter() - started)
            if args.postgres:
                with fresh_database(args.postgres, f"monitor_bench_{r}") as url:
                    postgres_s.append(run_pipeline(mentions, runtime, url))
    ours, theirs = len(mentions) / min(pipeline_s), len(texts) / min(bare_s)
    # Each pipeline run and the VADER run right after it saw the same moment of the machine:
    # their ratio, per pair, is the steadier figure when the machine is busy in spells.
    pairs = sorted((len(mentions) / p) / (len(texts) / b) for p, b in zip(pipeline_s, bare_s))

    rng = random.Random(1)
    words = " ".join(rng.choice(PHRASES).format(s=rng.choice(SUBJECTS)) + "." for _ in range(30000))
    megabyte, small = words[:1_000_000], words[:33_000]
    started = time.perf_counter()
    scorer.compound(megabyte)
    one_mb = time.perf_counter() - started
    started = time.perf_counter()
    bare.polarity_scores(small)
    bare_33k = time.perf_counter() - started

    print(f"corpus: {len(mentions):,} mentions, best of {args.repeat}")
    print(f"pipeline (normalize → match → dedupe → language → score → store): {ours:,.0f} mentions/s")
    print(f"bare VADER polarity_scores on the same texts:                    {theirs:,.0f} texts/s")
    print(f"ratio pipeline / bare VADER:                                     {ours / theirs:.2f}x")
    print(f"ratio per interleaved pair: median {pairs[len(pairs) // 2]:.2f}x"
          f" (from {pairs[0]:.2f}x to {pairs[-1]:.2f}x over {len(pairs)} pairs)")
    if postgres_s:
        on_pg = len(mentions) / min(postgres_s)
        pg_pairs = sorted((len(mentions) / p) / (len(texts) / b) for p, b in zip(postgres_s, bare_s))
        print(f"the same pipeline into PostgreSQL:                               {on_pg:,.0f} mentions/s")
        print(f"ratio PostgreSQL pipeline / bare VADER:                          {on_pg / theirs:.2f}x (per pair: median "
              f"{pg_pairs[len(pg_pairs) // 2]:.2f}x; SQLite's above: {ours / theirs:.2f}x)")
    print(f"score a 1 MB text: {one_mb:.2f} s   (bare VADER on 33 KB: {bare_33k:.2f} s; it grows with the square)")
    whole_call(texts[:2000], megabyte, scorer)


def whole_call(texts: list[str], megabyte: str, scorer: Scorer) -> None:
    """Posts per second through the whole call with the cascade, the share the encoder read, and a
    1 MB text's seconds (skipped, saying why, where the encoder is not installed)."""
    from monitor.assassin_model import ModelSource
    from monitor.judgement import encoder as encoders
    from monitor.judgement.sentiment import score_all

    try:
        encoder = encoders.shared()
    except encoders.EncoderUnavailable as exc:
        print(f"the whole call with the cascade: not measured ({exc})")
        return
    model = ModelSource().shipped()
    sets = {"this corpus": texts}
    tweets = Path(__file__).resolve().parents[2] / "shared" / "eval"
    if (tweets / "tweeteval_sentiment").exists():
        import labelled_sets

        sets["TweetEval tweets"] = labelled_sets.load(tweets)["tweeteval"].texts[:2000]

    def run(batch: list[str], mode: str) -> tuple[float, float]:
        encoder.forget()  # each run reads its texts afresh (the encoder remembers the texts it read lately)
        calls: list = []
        started = time.perf_counter()
        for page in range(0, len(batch), 100):  # pages of 100, as connectors deliver them
            page_calls: list = []
            score_all(scorer, [(t, "en", None) for t in batch[page : page + 100]], advocate_above=0.5,
                      assassin_threshold=0.5, model=model, calls=page_calls, encoder=lambda: encoder, encoder_mode=mode)
            calls += page_calls
        spent = time.perf_counter() - started
        return len(batch) / spent, sum(c is not None and c.sentence is not None for c in calls) / len(batch)

    run(texts[:100], "auto")  # the encoder's first batch warms its arrays
    for name, batch in sets.items():
        fast = max(run(batch, "off")[0] for _ in range(3))
        cascade, share = max(run(batch, "auto") for _ in range(3))
        print(f"the whole call with the cascade on {name} ({len(batch):,} posts, {len(set(batch)):,} distinct): {cascade:,.0f} posts/s, "
              f"{share:.0%} read by the encoder (the fast call alone: {fast:,.0f} posts/s)")
    started = time.perf_counter()
    score_all(scorer, [(megabyte, "en", None)], advocate_above=0.5, assassin_threshold=0.5, model=model,
              encoder=lambda: encoder, encoder_mode="always")
    print(f"the whole call on a 1 MB text, the encoder included: {time.perf_counter() - started:.2f} s")
    status = Path("/proc/self/status")
    if status.exists():  # Linux: this process's resident memory, the encoder loaded and used
        rss = next(int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("VmRSS"))
        print(f"the encoder run by {encoder.backend}; this process's memory now: {rss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
