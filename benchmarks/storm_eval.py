"""Storm catch: the storm rule on real tweet-volume series with storms of known size and start.

    python benchmarks/storm_eval.py [--seeds 1,2] [--report 5,6] [--select] [--jobs N] [--work DIR]

The corpora are ``../shared/eval/storms/dev`` and, for each of ``--seeds``, one more made by its
``make_storms.py`` from the same five brands' series (other storms, other thinning; cached under
``--work``). Every series is streamed window by window through ``monitor.judgement.spikes.update``
as the monitor does (nothing looked ahead), and each corpus is scored by its own
``score_storms.py``: storms caught within 2 hours (all, and of 3× and more), the median delay,
false alarms per series-month and daily bursts paged again. ``--report`` adds corpora made with
other seeds that no choice of settings ever saw.

``--false-alarms`` prints, for the defaults, what the alarms outside every labelled window were:
each one's biggest hour (from 2 hours before it to 1 hour after) as the corpus's generator sizes a
storm (its excess over the median of that hour on the 7 days before), counted by size and volume.
A background series is real tweet volume: its own bursts, which nobody labelled, count as false
alarms when a detector hears them.

``--background`` counts the background's own bursts outside every labelled window, sized the same
way (an hour at 1.5×, 3× and 6× its normal excess or more, at least 12 posts above it as the
generator's smallest storm, one per 12 hours): what a detector that hears every storm of that size
must also page, per series-month.

``--known-start`` prints how soon each storm could be told at best: knowing its start, the first
window by which its posts since then are improbable against the detector's expectation (Poisson
p ≤ 10⁻⁴, at least 5 posts and 3× above it), by size; a bound no detector that must find the
start reaches, to set the delay beside.

``--select`` runs the selection procedure, fixed before any fold was scored: every setting of
``GRID`` on every series of the dev corpus and the ``--seeds`` corpora; then each of the five
brands (its three volumes together) is held out in turn, the setting that best meets the
objective on the other four is chosen, and the held-out brand's series are scored with it. Their
results together are the **out-of-sample** figure (what a brand nobody tuned to gets); the
setting the same objective picks on all five is the **in-sample** one, and it should be the
defaults. The objective: the most storms of 3× and more caught, among settings with at most
``FA_MAX`` false alarms per series-month; ties go to the shorter median delay.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import glob
import itertools
import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.judgement.spikes import SpikeSettings, new_state, update  # noqa: E402

STORMS = Path(__file__).resolve().parents[2] / "shared" / "eval" / "storms"
BRANDS = ("AAPL", "AMZN", "FB", "GOOG", "IBM")
FA_MAX = 2.0
GRID = [dict(fast_ratio=f, fast_bar_factor=fb, storm_ratio=r, bar_factor=b, bar_days=d)
        for f, fb, r, b, d in itertools.product((4.0, 5.0, 6.0), (1.5, 2.0, 2.5), (2.0, 2.5, 2.75, 3.0),
                                                (1.0, 1.25, 1.5, 1.75), (14, 28))]
FMT = "%Y-%m-%d %H:%M:%S"


def corpora(seeds: list[int], work: Path) -> list[Path]:
    """The dev corpus and one per seed (made once, then cached)."""
    out = [STORMS / "dev"]
    for seed in seeds:
        folder = work / f"seed{seed}"
        if not (folder / "storms.json").exists():
            subprocess.run([sys.executable, str(STORMS / "make_storms.py"), str(STORMS.parent / "nab"), str(folder),
                            "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
        out.append(folder)
    return out


def read(path: str) -> tuple[list[str], list[datetime], list[float]]:
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    stamps = [r["timestamp"] for r in rows]
    return stamps, [datetime.strptime(s[:19], FMT).replace(tzinfo=timezone.utc) for s in stamps], \
        [float(r["value"]) for r in rows]


def detect(path: str, setting: dict) -> list[int]:
    """The rows of one series that fire under ``setting`` (spikes and drops: both alert)."""
    _, times, values = read(path)
    settings = replace(SpikeSettings(), **setting)
    state = new_state(times[0], settings)
    return [i for i, (at, value) in enumerate(zip(times, values)) if update(state, at, value, settings).fired]


def _generator():
    """The corpus generator's module: its own measure of a storm's size (``hourly_normal``)."""
    if str(STORMS) not in sys.path:
        sys.path.insert(0, str(STORMS))
    import make_storms

    return make_storms


def alarm_sizes(corpus: "Corpus", fired: dict[str, list[int]]) -> list[tuple[str, str, float]]:
    """Each alarm outside every labelled window (its series, spike or drop, the biggest hour around
    it as the generator sizes a storm: excess over the median of that hour on the 7 days before)."""
    make_storms = _generator()
    out = []
    for key, rows in fired.items():
        _, times, values = read(corpus.paths[key])
        naive = [t.replace(tzinfo=None) for t in times]
        counts = [int(v) for v in values]
        wins = [(datetime.strptime(a[:19], FMT), datetime.strptime(b[:19], FMT)) for a, b in corpus.windows[key]]
        settings = SpikeSettings()
        state = new_state(times[0], settings)
        kinds = {i: update(state, at, value, settings).kind for i, (at, value) in enumerate(zip(times, values))}
        for i in rows:
            if any(a <= naive[i] <= b for a, b in wins):
                continue
            biggest = max((sum(counts[j:j + 12]) / normal - 1.0
                           for j in range(max(0, i - 24), min(len(counts) - 12, i + 12))
                           for normal in (make_storms.hourly_normal(counts, naive, j),)), default=0.0)
            out.append((key, kinds[i], biggest))
    return out


def background_bursts(corpus: "Corpus", sizes: tuple[float, ...]) -> tuple[dict[float, int], float]:
    """The background's own bursts outside every labelled window: for each size, the hours (one per
    12 hours, after the 4 days the generator leaves before its first storm) at that excess over
    their normal or more and at least 12 posts above it, as the generator sizes a storm; and the
    series-months looked at."""
    make_storms = _generator()
    found, windows = {size: 0 for size in sizes}, 0
    for key, path in corpus.paths.items():
        _, times, values = read(path)
        naive = [t.replace(tzinfo=None) for t in times]
        counts = [int(v) for v in values]
        wins = [(datetime.strptime(a[:19], FMT), datetime.strptime(b[:19], FMT)) for a, b in corpus.windows[key]]
        last = {size: None for size in sizes}
        for j in range(4 * 288, len(counts) - 12):
            if any(a <= naive[j] <= b or a <= naive[j + 11] <= b for a, b in wins):
                continue
            windows += 1
            normal = make_storms.hourly_normal(counts, naive, j)
            hour = sum(counts[j:j + 12])
            for size in sizes:
                if hour / normal - 1.0 >= size and hour - normal >= 12 and (last[size] is None or j - last[size] >= 144):
                    found[size] += 1
                    last[size] = j
    return found, windows * 300 / (30 * 86400)


def known_start(corpus: "Corpus") -> dict[str, list[float | None]]:
    """For each storm (by kind and size), the minutes from its start to the first window by which the
    posts since its start are improbable against the defaults' expectation (None: not within 2 h)."""
    from monitor.judgement.verdict import poisson_sf

    settings, out = SpikeSettings(), {}
    expected: dict[str, tuple[list, list]] = {}
    for s in corpus.storms:
        if s["file"] not in expected:
            _, times, values = read(corpus.paths[s["file"]])
            state = new_state(times[0], settings)
            expected[s["file"]] = ([t.replace(tzinfo=None) for t in times], values,
                                   [update(state, at, value, settings).expected for at, value in zip(times, values)])
        times, values, mus = expected[s["file"]]
        i = times.index(datetime.strptime(s["start"], FMT))
        seen = mu = 0.0
        found = None
        for k in range(min(24, len(values) - i)):
            seen, mu = seen + values[i + k], mu + mus[i + k]
            if seen - mu >= 5 and (seen + 2) / (mu + 2) >= 3 and poisson_sf(seen, max(mu, 0.5)) <= 1e-4:
                found = 5.0 * k
                break
        out.setdefault(f"{s['kind']} {s['ratio']:g}×", []).append(found)
    return out


def _task(args: tuple[str, int]) -> tuple[str, int, list[int]]:
    path, index = args
    return path, index, detect(path, SETTINGS_LIST[index])


SETTINGS_LIST: list[dict] = []


def run_all(paths: list[str], settings: list[dict], jobs: int) -> dict[tuple[str, int], list[int]]:
    """Every series under every setting, in parallel processes."""
    SETTINGS_LIST[:] = settings
    tasks = [(p, i) for i in range(len(settings)) for p in paths]
    if jobs <= 1:
        return {(p, i): fired for p, i, fired in map(_task, tasks)}
    with concurrent.futures.ProcessPoolExecutor(jobs, initializer=_init, initargs=(settings,)) as pool:
        return {(p, i): fired for p, i, fired in pool.map(_task, tasks, chunksize=4)}


def _init(settings: list[dict]) -> None:
    SETTINGS_LIST[:] = settings


class Corpus:
    """One corpus's storms, windows and series, scored as its score_storms.py does (the grid needs
    thousands of scores; the figures printed come from score_storms.py itself)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.storms = json.load(open(folder / "storms.json"))
        self.windows = {}
        for path in glob.glob(str(folder / "labels" / "combined_windows*.json")):
            self.windows.update(json.load(open(path)))
        self.paths = {key: str(folder / "data" / key) for key in self.windows}
        self.times = {key: read(path)[1] for key, path in self.paths.items()}

    def tally(self, fired: dict[str, list[int]], brands: tuple[str, ...]) -> dict:
        """Storms of 3× and more caught, all caught, delays, false alarms, months, bursts paged again."""
        out = {"big": [], "all": [], "delays": [], "false": 0, "months": 0.0, "repeats": 0}
        fires = {k: [self.times[k][i].replace(tzinfo=None) for i in fired[k]] for k in fired}
        for s in self.storms:
            if not any(b in s["file"] for b in brands):
                continue
            start = datetime.strptime(s["start"], FMT)
            hits = [t for t in fires[s["file"]] if start <= t <= start + timedelta(hours=2)]
            if hits:
                out["delays"].append((hits[0] - start).total_seconds() / 60)
            out["all"].append(bool(hits))
            if s["ratio"] >= 3:
                out["big"].append(bool(hits))
            if s["kind"] == "daily burst":
                day, end = start + timedelta(days=1), self.times[s["file"]][-1].replace(tzinfo=None)
                while day < end:
                    out["repeats"] += sum(1 for f in fires[s["file"]] if day - timedelta(minutes=30) <= f <= day + timedelta(hours=2))
                    day += timedelta(days=1)
        for key, ts in fires.items():
            if not any(b in key for b in brands):
                continue
            wins = [(datetime.strptime(a[:19], FMT), datetime.strptime(b[:19], FMT)) for a, b in self.windows[key]]
            out["false"] += sum(1 for t in ts if not any(a <= t <= b for a, b in wins))
            span = self.times[key][-1] - self.times[key][0]
            out["months"] += span.total_seconds() / (30 * 86400)
        return out


def pooled(tallies: list[dict]) -> dict:
    big = [x for t in tallies for x in t["big"]]
    every = [x for t in tallies for x in t["all"]]
    delays = sorted(x for t in tallies for x in t["delays"])
    months = sum(t["months"] for t in tallies)
    return {"big": 100 * sum(big) / len(big) if big else 0.0, "all": 100 * sum(every) / len(every) if every else 0.0,
            "delay": delays[len(delays) // 2] if delays else float("nan"),
            "fa": sum(t["false"] for t in tallies) / months if months else 0.0,
            "repeats": sum(t["repeats"] for t in tallies)}


def line(p: dict) -> str:
    return (f"3x and more {p['big']:5.1f}%, all {p['all']:5.1f}%, median delay {p['delay']:.0f} min, "
            f"false alarms {p['fa']:.2f}/series-month, bursts re-paged {p['repeats']}")


def objective(p: dict) -> tuple:
    within = p["fa"] <= FA_MAX
    return (within, p["big"] if within else -p["fa"], -p["delay"])


def official(corpus: Corpus, fired: dict[str, list[int]], out: Path) -> str:
    """Write the results as NAB CSVs and return score_storms.py's summary line for them."""
    out.mkdir(parents=True, exist_ok=True)
    for key, path in corpus.paths.items():
        stamps, _, values = read(path)
        hits = set(fired[key])
        with open(out / f"monitor_{os.path.basename(key)}", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["timestamp", "value", "anomaly_score"])
            writer.writerows((s, v, 1.0 if i in hits else 0.0) for i, (s, v) in enumerate(zip(stamps, values)))
    scorer = corpus.folder / "score_storms.py"
    if not scorer.exists():
        scorer = STORMS / "score_storms.py"
    result = subprocess.run([sys.executable, str(scorer), str(corpus.folder), str(out)], capture_output=True, text=True,
                            check=True)
    return result.stdout.strip().splitlines()[-1]


def label(setting: dict) -> str:
    return " ".join(f"{k}={v:g}" for k, v in setting.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2", help="corpora made with these seeds beside dev (default 1,2)")
    parser.add_argument("--report", default="", help="more corpora, by seed, that no choice of settings sees")
    parser.add_argument("--select", action="store_true", help="run the selection procedure over GRID")
    parser.add_argument("--false-alarms", action="store_true", help="size the defaults' alarms outside every window")
    parser.add_argument("--known-start", action="store_true", help="how soon each storm could be told, knowing its start")
    parser.add_argument("--background", action="store_true", help="count the background's own bursts outside every window")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2)
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "monitor-storm-eval")
    args = parser.parse_args()
    if not STORMS.exists():
        sys.exit(f"no storm corpus at {STORMS}")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    chosen_on = [Corpus(f) for f in corpora(seeds, args.work)]
    extra = [Corpus(f) for f in corpora([int(s) for s in args.report.split(",") if s], args.work)[1:]]
    defaults = {k: getattr(SpikeSettings(), k) for k in GRID[0]}

    if args.select:
        grid = GRID if defaults in GRID else [*GRID, defaults]
        results = run_all([p for c in chosen_on for p in c.paths.values()], grid, args.jobs)
        per = [{b: [c.tally({k: results[(c.paths[k], i)] for k in c.paths}, (b,)) for c in chosen_on] for b in BRANDS}
               for i in range(len(grid))]
        score = lambda i, brands: pooled([t for b in brands for t in per[i][b]])  # noqa: E731
        picks = {}
        for held in BRANDS:
            others = tuple(b for b in BRANDS if b != held)
            picks[held] = max(range(len(grid)), key=lambda i: objective(score(i, others)))
            print(f"{held} held out: chosen on the other four {label(grid[picks[held]])}")
            print(f"    the four: {line(score(picks[held], others))}")
            print(f"    {held}:  {line(score(picks[held], (held,)))}")
        inside = max(range(len(grid)), key=lambda i: objective(score(i, BRANDS)))
        print(f"chosen on all five: {label(grid[inside])} (the defaults: {label(defaults)})")
        for c in chosen_on:
            fired = {k: results[(c.paths[k], picks[next(b for b in BRANDS if b in k)])] for k in c.paths}
            print(f"out-of-sample, {c.folder.name} (each brand with the setting chosen without it): "
                  f"{official(c, fired, args.work / 'results' / c.folder.name / 'out-of-sample')}")
        print(f"out-of-sample, every corpus pooled: "
              f"{line(pooled([per[picks[b]][b][j] for b in BRANDS for j in range(len(chosen_on))]))}")
        print(f"in-sample, every corpus pooled: {line(score(inside, BRANDS))}")

    everything = chosen_on + extra
    results = run_all([p for c in everything for p in c.paths.values()], [defaults], args.jobs)
    for c in everything:
        fired = {k: results[(c.paths[k], 0)] for k in c.paths}
        seen = "" if c in chosen_on else " (no choice saw it)"
        print(f"defaults, {c.folder.name}{seen}: {official(c, fired, args.work / 'results' / c.folder.name / 'defaults')}")
    print("defaults, every corpus pooled: " + line(pooled([c.tally({k: results[(c.paths[k], 0)] for k in c.paths}, BRANDS)
                                                            for c in everything])))
    if args.known_start:
        found: dict[str, list] = {}
        for c in everything:
            for kind, delays in known_start(c).items():
                found.setdefault(kind, []).extend(delays)
        told = sorted(d for delays in found.values() for d in delays if d is not None)
        print("knowing each storm's start, the first window by which its posts are improbable (p ≤ 1e-4, 3× and 5 "
              f"above expected): median {told[len(told) // 2]:.0f} min over {len(told)} storms told within 2 h, "
              f"{sum(d <= 20 for d in told)} within 20 min; " + ", ".join(
                  f"{kind} {sum(d is not None for d in delays)}/{len(delays)}" for kind, delays in sorted(found.items())))
    if args.background:
        sizes = (1.5, 3.0, 6.0)
        tallies = [background_bursts(c, sizes) for c in everything]
        months = sum(t[1] for t in tallies)
        print(f"the background's own bursts outside every labelled window ({months:.0f} series-months), sized as the "
              "generator sizes a storm: " + ", ".join(f"{size:g}× and more {sum(t[0][size] for t in tallies) / months:.2f}"
                                                        " per series-month" for size in sizes))
    if args.false_alarms:
        sizes = [a for c in everything for a in alarm_sizes(c, {k: results[(c.paths[k], 0)] for k in c.paths})]
        spikes = [a for a in sizes if a[1] == "spike"]
        bins = [("under 1.5×", 0.0, 1.5), ("1.5–3×", 1.5, 3.0), ("3–6×", 3.0, 6.0), ("6× and more", 6.0, float("inf"))]
        print(f"defaults' alarms outside every labelled window: {len(sizes)} ({len(sizes) - len(spikes)} drops); the "
              "storms among them, by their biggest hour's excess over its normal volume (the generator's own measure): "
              + ", ".join(f"{label} {sum(low <= a[2] < high for a in spikes)}" for label, low, high in bins))
        for level in ("v100", "v025", "v005"):
            mine = [a for a in spikes if level in a[0]]
            print(f"  {level[1:].lstrip('0') or '0'} % volume: {len(mine)} alarms, {sum(a[2] >= 3 for a in mine)} of them on an hour"
                  " at 3× its normal excess or more")


if __name__ == "__main__":
    main()
