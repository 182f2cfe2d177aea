"""A config at agency scale: ``monitor check-config`` on a 5 MB file of 100,000 keyword rules.

    python benchmarks/config_scale.py [--rules 100000] [--runs 3]

Writes two configs of 100 brands into a temporary folder, one with 100,000 plain phrases
(``"Brand7 Product123"``), one with 100,000 ``"Brand7 Product123" AND (outage OR billing)``
rules, and runs ``monitor check-config`` on each as its own process (the median of ``--runs``),
beside the same command on a one-brand config in the same run. Then, in this process, what a
running monitor pays when it loads or reloads the big config: reading it (``load_config``) and
compiling its rules into the matcher. Issue 17's goal: check-config on the 5 MB file ≤ 5 s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMALL = """brands: [{name: Acme Cloud, keywords: ['"Acme Cloud"']}]
sources: [{name: blog, type: rss, url: "https://blog.example.com/feed.xml"}]
"""
WORDS = ["outage", "down", "billing", "support", "refund", "login", "slow", "price"]


def big_config(rules: int, *, anded: bool, brands: int = 100, seed: int = 1) -> str:
    rng = random.Random(seed)
    out = ["brands:"]
    for b in range(brands):
        out += [f"  - name: Brand{b}", "    keywords:"]
        for r in range(rules // brands):
            rule = f'"Brand{b} Product{r}"'
            if anded:
                rule += " AND ({} OR {})".format(*rng.sample(WORDS, 2))
            out.append(f"      - '{rule}'")
    out += ["sources:", "  - {name: blog, type: rss, url: 'https://blog.example.com/feed.xml'}", ""]
    return "\n".join(out)


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from monitor.config_check import load_config
    from monitor.judgement.matching import Matcher, compile_brand

    monitor = [sys.executable, "-m", "monitor", "check-config"]
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        (cwd / "small.yaml").write_text(SMALL, encoding="utf-8")
        base = statistics.median(timed(monitor + ["small.yaml"], cwd) for _ in range(args.runs))
        print(f"check-config, one brand: {base:.2f} s (the baseline)")
        for label, anded in (("phrases", False), ('"X Y" AND (a OR b)', True)):
            path = cwd / f"big-{int(anded)}.yaml"
            path.write_text(big_config(args.rules, anded=anded), encoding="utf-8")
            took = statistics.median(timed(monitor + [path.name], cwd) for _ in range(args.runs))
            started = time.perf_counter()
            config = load_config(path)
            loaded = time.perf_counter() - started
            started = time.perf_counter()
            Matcher([compile_brand(b.name, b.keywords, b.exclude) for b in config.brands])
            compiled = time.perf_counter() - started
            size = path.stat().st_size / 1e6
            print(f"{args.rules:,} rules, {label} ({size:.1f} MB): check-config {took:.2f} s ({took / base:.1f}× the "
                  f"baseline); in-process load {loaded:.2f} s, compile the matcher {compiled:.2f} s")
        # What every command that does not match pays for a big config (issue 35: status with
        # 10,000 rules ≤ 1.2× with 10), in turns so this machine's noise falls on both.
        status = [sys.executable, "-m", "monitor", "--config"]
        for name, rules in (("ten.yaml", 10), ("tenk.yaml", 10_000)):
            (cwd / name).write_text(big_config(rules, anded=False, brands=10) + f"database: {cwd / 'm.db'}\n", encoding="utf-8")
        from monitor.store import Store
        with Store(cwd / "m.db"):
            pass
        ten, tenk = [], []
        for _ in range(max(5, args.runs)):
            ten.append(timed(status + ["ten.yaml", "status"], cwd))
            tenk.append(timed(status + ["tenk.yaml", "status"], cwd))
        ratio = statistics.median(b / a for a, b in zip(ten, tenk))
        print(f"monitor status, 10,000 rules: {statistics.median(tenk):.2f} s against {statistics.median(ten):.2f} s with 10 "
              f"({ratio:.2f}×, the median of {len(ten)} pairs)")


if __name__ == "__main__":
    main()
