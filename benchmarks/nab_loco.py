"""Is the NAB figure an artefact of choosing settings on the files it is scored on? Hold out and see.

    python benchmarks/nab_loco.py [DIR ...] [--counts CATEGORIES] [--by category|file]

The settings the record rules leave open (how far a record must beat the old one, in typical steps
between windows; how far an hour record must lie beyond that hour's range, in multiples of its
spread and in typical steps) are chosen by a procedure, not by hand: for a small grid around the
defaults, every series in the DIRs (laid out as for ``nab_eval.py``) is streamed
once per setting. Then each NAB category in turn (``--by file``: each file) is held out: the
setting with the best score on all the *other* series is chosen and scored on the held-out one
alone. The held-out raw scores are summed into one normalized score: what a brand or a metric
nobody tuned to would get. Prints each setting's in-sample score, each fold's choice, the
defaults' in-sample score, and the held-out score last.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nab_eval import DEFAULT_DIR, load, normalized, run  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.judgement.spikes import SpikeSettings  # noqa: E402

GRID = [
    {"record_margin": r, "hour_margin": m, "hour_steps": s}
    for r, m, s in itertools.product((0.1, 0.3), (1.0, 2.0, 4.0), (4.0, 8.0, 16.0))
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[DEFAULT_DIR])
    parser.add_argument("--counts", default="realTweets", help="comma-separated categories that are counts")
    parser.add_argument("--by", choices=("category", "file"), default="category")
    args = parser.parse_args()
    series = load(args.folders, set(filter(None, args.counts.split(","))))
    fold_of = {s.name: s.category if args.by == "category" else s.name for s in series}

    raws = []  # per setting: file → raw score
    for setting in GRID:
        raws.append(run(series, replace(SpikeSettings(), **setting))[0])
        print(f"{_label(setting)}: in-sample {normalized(raws[-1], series):.2f}", flush=True)

    held_out = {}
    for fold in sorted(set(fold_of.values())):
        inside = [s for s in series if fold_of[s.name] != fold]
        best = max(range(len(GRID)), key=lambda i: sum(raws[i][s.name] for s in inside))
        members = [s for s in series if fold_of[s.name] == fold]
        held_out.update({s.name: raws[best][s.name] for s in members})
        print(f"{fold}: chosen on the others {_label(GRID[best])}, held out {normalized(raws[best], members):.2f}")
    default = {key: getattr(SpikeSettings(), key) for key in GRID[0]}
    if default in GRID:
        print(f"defaults ({_label(default)}) in-sample: {normalized(raws[GRID.index(default)], series):.2f}")
    print(f"leave-one-{args.by}-out normalized: {normalized(held_out, series):.2f}")


def _label(setting: dict) -> str:
    return " ".join(f"{k}={_span(v)}" if isinstance(v, timedelta) else f"{k}={v:g}" for k, v in setting.items())


def _span(value: timedelta) -> str:
    hours = value / timedelta(hours=1)
    return f"{hours / 24:g}d" if hours >= 24 and hours % 24 == 0 else f"{hours:g}h"


if __name__ == "__main__":
    main()
