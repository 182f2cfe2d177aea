"""The spike detector on Numenta Anomaly Benchmark series, run as in production.

    python benchmarks/nab_eval.py [DIR ...] [--counts CATEGORIES] [--per-file] [--out OUT] [--thin P [--seed S]]

Each DIR holds ``data/<category>/*.csv`` (``timestamp,value``), one ``labels/combined_windows*.json``
and NAB's scorer ``score_nab.py`` (as ``../shared/eval/nab`` and ``../shared/eval/nab_other`` do;
several DIRs are scored together). Every series is streamed row by row through
``monitor.judgement.spikes.update`` with the one frozen configuration the monitor uses
(``SpikeSettings()``), its ``window`` set to the series' own step (the median gap between rows, as
an admin sets ``spikes.window`` to what they watch), nothing looked ahead. A window that fires (a
spike or a drop) is a detection (``anomaly_score`` 1).

What a series is decides how it is read, by a rule fixed in advance, not per file: the
categories named by ``--counts`` (default ``realTweets``: mentions per 5 minutes, what the
monitor counts) are counts; every other category (CPU, latency, rates, temperatures, taxi
passengers, traffic) is a measurement, with no posts behind its values.

Prints each file's windows and detections, the normalized score (NAB standard profile, threshold
0.5) per category, per DIR and overall; the last line is the overall score. ``--thin P`` keeps each
mention of a count series with probability P (binomial thinning, seeded): the same storms at a
fraction of the volume, a check that the detector holds on quiet brands.
"""

from __future__ import annotations

import argparse
import csv
import glob
import importlib.util
import json
import os
import random
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.judgement.spikes import SpikeSettings, new_state, update  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"
DEFAULT_DIR = SHARED / "nab"
WEIGHTS = {"tp": 1.0, "fp": 0.11, "fn": 1.0}  # NAB's standard profile


class Series(NamedTuple):
    """One labelled NAB file, with the scorer's per-row table for it."""

    name: str  # category/file.csv, as the labels name it
    folder: str
    category: str
    rows: list[tuple[str, datetime, float]]
    points: list  # score_nab.point_values rows
    scored: int  # windows scored (not inside the probation)
    count: bool
    scorer: object  # the folder's score_nab module

    @property
    def step(self):
        gaps = sorted(b[1] - a[1] for a, b in zip(self.rows, self.rows[1:]))
        return gaps[len(gaps) // 2]


def scorer_module(folder: Path):
    spec = importlib.util.spec_from_file_location(f"score_nab_{abs(hash(str(folder)))}", folder / "score_nab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_series(path: str) -> list[tuple[str, datetime, float]]:
    with open(path, newline="") as handle:
        return [
            (row["timestamp"], datetime.strptime(row["timestamp"].split(".")[0], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc),
             float(row["value"]))
            for row in csv.DictReader(handle)
        ]


def load(folders: list[Path], counts: set[str]) -> list[Series]:
    """Every labelled series of the folders, in name order."""
    out = []
    for folder in folders:
        data = sorted(glob.glob(str(folder / "data" / "*" / "*.csv")))
        labels = glob.glob(str(folder / "labels" / "combined_windows*.json"))
        if not data or len(labels) != 1 or not (folder / "score_nab.py").exists():
            sys.exit(f"{folder}: expected data/*/*.csv, one labels/combined_windows*.json and score_nab.py")
        windows = json.load(open(labels[0]))
        scorer = scorer_module(folder)
        for path in data:
            category = Path(path).parent.name
            name = f"{category}/{os.path.basename(path)}"
            rows = read_series(path)
            points, scored = scorer.point_values([r[1].replace(tzinfo=None) for r in rows], windows.get(name, []), WEIGHTS)
            out.append(Series(name, folder.name, category, rows, points, scored, category in counts, scorer))
    return out


def thin(rows: list[tuple[str, datetime, float]], keep: float, rng: random.Random) -> list[tuple[str, datetime, float]]:
    """Each window's count thinned binomially: every mention kept with probability ``keep``."""
    return [(stamp, at, float(sum(rng.random() < keep for _ in range(int(value))))) for stamp, at, value in rows]


def detect(rows: list[tuple[str, datetime, float]], settings: SpikeSettings, *, count: bool = True) -> list[int]:
    """Stream one series; the indices of the rows that fired."""
    state = new_state(rows[0][1])
    return [i for i, (_, at, value) in enumerate(rows) if update(state, at, value, settings, measurement=not count).fired]


def raw_score(series: Series, fired: list[int]) -> float:
    """NAB's raw score of one file (standard profile), by the folder's own scorer."""
    flags = [0.0] * len(series.rows)
    for i in fired:
        flags[i] = 1.0
    _, ((_, raw, *_),) = series.scorer.score_at([(series.name, flags, series.points, series.scored, 0)], 0.5, WEIGHTS)
    return raw


def normalized(raws: dict[str, float], series: list[Series]) -> float:
    """100 × (raw − null) / (perfect − null) over ``series``: null (no detection) is 0, perfect 100."""
    windows = sum(s.scored for s in series)
    return 100 * (sum(raws[s.name] for s in series) + windows) / (2 * windows) if windows else 0.0


def run(series: list[Series], settings: SpikeSettings, *, keep: float = 1.0, seed: int = 1) -> tuple[dict, dict]:
    """Raw score and detections per file."""
    rng, raws, fired = random.Random(seed), {}, {}
    for s in series:
        rows = thin(s.rows, keep, rng) if keep < 1 and s.count else s.rows
        fired[s.name] = detect(rows, replace(settings, window=s.step), count=s.count)
        raws[s.name] = raw_score(s, fired[s.name])
    return raws, fired


def report(raws: dict[str, float], series: list[Series]) -> list[tuple[str, float]]:
    """(group, normalized score) per category, per folder when there are several, and overall."""
    groups = [(c, [s for s in series if s.category == c]) for c in sorted({s.category for s in series})]
    folders = sorted({s.folder for s in series})
    if len(folders) > 1:
        groups += [(f"{f}/ ({sum(s.folder == f for s in series)} files)", [s for s in series if s.folder == f]) for f in folders]
    groups.append((f"overall ({len(series)} files)", series))
    return [(label, normalized(raws, members)) for label, members in groups if any(m.scored for m in members) or label.startswith("overall")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[DEFAULT_DIR])
    parser.add_argument("--counts", default="realTweets", help="comma-separated categories that are counts")
    parser.add_argument("--per-file", action="store_true", help="also print each file's raw score")
    parser.add_argument("--out", type=Path, help="write NAB result CSVs (timestamp,value,anomaly_score) here")
    parser.add_argument("--thin", type=float, default=1.0, help="keep each mention with this probability (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the thinning")
    args = parser.parse_args()

    series = load(args.folders, set(filter(None, args.counts.split(","))))
    raws, fired = run(series, SpikeSettings(), keep=args.thin, seed=args.seed)
    for s in series:
        extra = f", raw {raws[s.name]:+.2f}" if args.per_file else ""
        print(f"{s.name}: {len(s.rows):,} rows of {s.step}, {'count' if s.count else 'measurement'}, "
              f"{len(fired[s.name])} fired{extra}")
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            hits = set(fired[s.name])
            with open(args.out / f"monitor_{os.path.basename(s.name)}", "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["timestamp", "value", "anomaly_score"])
                writer.writerows((stamp, value, 1.0 if i in hits else 0.0) for i, (stamp, _, value) in enumerate(s.rows))
    for label, score in report(raws, series):
        print(f"{label:40s} {score:6.2f}")
    print(f"{report(raws, series)[-1][1]:.2f}")


if __name__ == "__main__":
    main()
