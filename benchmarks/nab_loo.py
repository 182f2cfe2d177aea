"""Is the NAB figure an artefact of tuning on these files? Leave one file out and see.

    python benchmarks/nab_loo.py [DIR]

For a small grid of settings around the defaults (novelty, its half-life, threshold, re-arm),
every NAB series in DIR (laid out as for ``nab_eval.py``) is streamed once per setting. Then,
for each file in turn, the setting with the best score on the *other* files is chosen and
scored on that file alone; the held-out scores are summed into one normalized score. A
detector that only fits these files drops here; one that generalizes keeps most of its score.
Prints each setting's in-sample score, each fold's choice, and the held-out score last.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import itertools
import json
import os
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nab_eval import DEFAULT_DIR, detect, read_series  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.judgement.spikes import SpikeSettings  # noqa: E402

GRID = [
    {"novelty": n, "novelty_half_life": timedelta(days=d), "threshold": t, "rearm": timedelta(hours=h)}
    for n, d, t, h in itertools.product((0.6, 0.8), (5, 7, 9), (5.0, 5.5, 6.0), (12, 24))
]


def _scorer(folder: Path):
    spec = importlib.util.spec_from_file_location("score_nab", folder / "score_nab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    scorer = _scorer(args.folder)
    weights = scorer.PROFILES["standard"]
    (windows_file,) = glob.glob(str(args.folder / "labels" / "combined_windows*.json"))
    windows = json.load(open(windows_file))
    series = {}
    for path in sorted(glob.glob(str(args.folder / "data" / "realTweets" / "*.csv"))):
        key = next(k for k in windows if k.endswith(os.path.basename(path)))
        rows = read_series(path)
        points, scored = scorer.point_values([r[1].replace(tzinfo=None) for r in rows], windows[key], weights)
        series[key] = (rows, points, scored)
    n_windows = sum(len(windows[k]) for k in series)

    def normalized(raw: float) -> float:
        return 100 * (raw + n_windows) / (2 * n_windows)

    raw: list[dict[str, float]] = []  # per setting: file → raw score
    for setting in GRID:
        settings = replace(SpikeSettings(), **setting)
        per_file = {}
        for key, (rows, points, scored) in series.items():
            flags = [r[2] for r in detect(rows, settings)]
            (_, value, *_), = scorer.score_at([(key, flags, points, scored, len(windows[key]))], 0.5, weights)[1]
            per_file[key] = value
        raw.append(per_file)
        print(_label(setting), f"{normalized(sum(per_file.values())):.1f}", flush=True)

    held_out = 0.0
    for key in series:
        best = max(range(len(GRID)), key=lambda i: sum(v for k, v in raw[i].items() if k != key))
        held_out += raw[best][key]
        print(f"{os.path.basename(key)}: chosen on the others {_label(GRID[best])}, raw here {raw[best][key]:.3f}")
    default = dict(zip(GRID[0], (getattr(SpikeSettings(), k) for k in GRID[0])))
    if default in GRID:
        print(f"defaults ({_label(default)}) in-sample: {normalized(sum(raw[GRID.index(default)].values())):.2f}")
    print(f"leave-one-file-out normalized: {normalized(held_out):.2f}")


def _label(setting: dict) -> str:
    return " ".join(f"{k}={v / timedelta(hours=1):g}h" if isinstance(v, timedelta) else f"{k}={v:g}" for k, v in setting.items())


if __name__ == "__main__":
    main()
