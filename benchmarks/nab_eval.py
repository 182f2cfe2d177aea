"""The spike detector on the Numenta Anomaly Benchmark's Twitter-volume series, run as in production.

    python benchmarks/nab_eval.py DIR [--out OUT] [--per-file] [--thin P [--seed S]]

DIR holds ``data/<category>/*.csv`` (``timestamp,value``; realTweets: mentions per 5 minutes), a
``labels/combined_windows*.json`` and NAB's scorer ``score_nab.py`` (as ``../shared/eval/nab``
does). Every series is streamed window by window through ``monitor.judgement.spikes.update`` with the
one frozen configuration the monitor uses (``SpikeSettings()``), nothing looked ahead; a window
that fires (a spike or a drop) is a detection (``anomaly_score`` 1). The per-file result CSVs
go to OUT, the scorer runs over them with the standard profile at threshold 0.5, and the last
line printed is the normalized score.

``--thin P`` keeps each mention with probability P (binomial thinning, seeded): the same storms
at a fraction of the volume, a check that the detector holds on quiet brands (the held-out
NAB series are quieter than these five).
"""

from __future__ import annotations

import argparse
import csv
import glob
import os
import random
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.judgement.spikes import SpikeSettings, new_state, update  # noqa: E402

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval" / "nab"


def read_series(path: str) -> list[tuple[str, datetime, float]]:
    with open(path, newline="") as handle:
        return [
            (row["timestamp"], datetime.strptime(row["timestamp"].split(".")[0], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc),
             float(row["value"]))
            for row in csv.DictReader(handle)
        ]


def thin(rows: list[tuple[str, datetime, float]], keep: float, rng: random.Random) -> list[tuple[str, datetime, float]]:
    """Each window's count thinned binomially: every mention kept with probability ``keep``."""
    return [(stamp, at, float(sum(rng.random() < keep for _ in range(int(value))))) for stamp, at, value in rows]


def detect(rows: list[tuple[str, datetime, float]], settings: SpikeSettings) -> list[tuple[str, float, float, float, str]]:
    """Stream one series; (timestamp, value, anomaly_score, z, kind) per row."""
    state = new_state(rows[0][1])
    out = []
    for stamp, at, value in rows:
        verdict = update(state, at, value, settings)
        out.append((stamp, value, 1.0 if verdict.fired else 0.0, round(verdict.z, 3), verdict.kind or ""))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--out", type=Path, help="where to write the result CSVs (default: a temporary folder)")
    parser.add_argument("--per-file", action="store_true", help="also print the scorer's per-file table")
    parser.add_argument("--thin", type=float, default=1.0, help="keep each mention with this probability (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the thinning")
    args = parser.parse_args()

    data = sorted(glob.glob(str(args.folder / "data" / "*" / "*.csv")))  # every category of an NAB-layout folder
    windows = sorted(glob.glob(str(args.folder / "labels" / "combined_windows*.json")))
    scorer = args.folder / "score_nab.py"
    if not data or len(windows) != 1 or not scorer.exists():
        sys.exit(f"{args.folder}: expected data/*/*.csv, one labels/combined_windows*.json and score_nab.py")

    settings = SpikeSettings()
    out_dir = args.out or Path(tempfile.mkdtemp(prefix="nab-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    for path in data:
        rows = read_series(path)
        results = detect(thin(rows, args.thin, rng) if args.thin < 1 else rows, settings)
        fired = sum(1 for r in results if r[2])
        print(f"{os.path.basename(path)}: {len(results):,} windows, {fired} fired")
        with open(out_dir / f"monitor_{os.path.basename(path)}", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["timestamp", "value", "anomaly_score", "z", "kind"])
            writer.writerows(results)

    command = [sys.executable, str(scorer), "--windows", windows[0], "--results", str(out_dir),
               "--threshold", "0.5", "--profile", "standard"] + (["--per-file"] if args.per_file else [])
    report = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    print(report.rstrip())
    normalized = next(line for line in reversed(report.splitlines()) if "normalized" in line.lower())
    print(normalized.split()[-1] if normalized else report.splitlines()[-1])


if __name__ == "__main__":
    main()
