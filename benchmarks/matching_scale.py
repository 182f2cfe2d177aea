"""Keyword matching at agency scale: per-post time and compile time against the number of rules.

    python benchmarks/matching_scale.py [--posts 2000] [--max-rules 10000]

Rules as an agency writes them, spread over 1, 10 or 100 brands: each brand's name as a phrase,
its product names, and ``"Brand" AND (outage OR down OR billing OR support)``-style rules with
common words in their OR groups (the case that defeats a prefilter of every term). The posts are
``pipeline.py``'s generated corpus with each brand's name woven into a fraction of them. Prints,
for 10 / 100 / 1,000 / 10,000 rules, the compile time (what every config reload pays) and the
matching time per post as a ratio to the first row of its brand count (10 rules; 100 for 100
brands), measured in the same run (machines here are noisy).
Issue 17's goals: per-post ≤ 2× at 10,000 rules, compiling 10,000 rules ≤ 3 s.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pipeline  # noqa: E402

from monitor.judgement.matching import Matcher, compile_brand  # noqa: E402

COMMON = ["outage", "down", "billing", "support", "refund", "login", "slow", "price", "update", "app"]


def rules_for(n: int, brands: int, seed: int = 3) -> list[tuple[str, list[str]]]:
    """``n`` rules over ``brands`` brands: per brand its name, then products and AND rules in turn."""
    rng = random.Random(seed)
    per_brand: list[list[str]] = [[f'"Brand{b} Cloud"'] for b in range(brands)]
    i = 0
    while sum(map(len, per_brand)) < n:
        b = i % brands
        if i % 2:
            per_brand[b].append(f'"Brand{b} Product{i}"')
        else:
            words = " OR ".join(rng.sample(COMMON, 4))
            per_brand[b].append(f'"Brand{b}" AND ({words})')
        i += 1
    return [(f"Brand{b} Cloud", rules) for b, rules in enumerate(per_brand)]


def posts(n: int, brands: int, seed: int = 5) -> list[str]:
    """The pipeline corpus's texts, one in five naming one of the brands."""
    rng = random.Random(seed)
    out = []
    for text in (m.text for m in pipeline.corpus(n)):
        if rng.random() < 0.2:
            name = f"Brand{rng.randrange(brands)} Cloud"
            for subject in pipeline.SUBJECTS:
                text = text.replace(subject, name)
        out.append(text)
    return out


def measure(n: int, brands: int, texts: list[str], repeat: int = 3) -> tuple[float, float, int]:
    """(compile seconds, seconds per post, posts matched)."""
    started = time.perf_counter()
    matcher = Matcher([compile_brand(name, rules) for name, rules in rules_for(n, brands)])
    compiled = time.perf_counter() - started
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        found = sum(matcher.match(t) is not None for t in texts)
        best = min(best, time.perf_counter() - started)
    return compiled, best / len(texts), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--max-rules", type=int, default=10_000)
    args = parser.parse_args()
    sizes = [n for n in (10, 100, 1_000, 10_000) if n <= args.max_rules]
    print(f"{'brands':>6} {'rules':>7} {'compile s':>10} {'µs / post':>10} {'× first row':>11} {'matched':>8}")
    for brands in (1, 10, 100):
        texts = posts(args.posts, brands)
        base = None
        for n in sizes:
            if n < brands:
                continue
            compiled, per_post, found = measure(n, brands, texts)
            base = base or per_post
            print(f"{brands:>6} {n:>7,} {compiled:>10.2f} {per_post * 1e6:>10.1f} {per_post / base:>10.1f}× {found:>8}",
                  flush=True)


if __name__ == "__main__":
    main()
