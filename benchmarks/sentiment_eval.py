"""Our scorer and assassin rule against human labels (../shared/eval, or a folder given).

    python benchmarks/sentiment_eval.py [EVAL_DIR] [--fit]

1. VADER's ground truth (tweets, Amazon and movie reviews, NYT editorials; human mean -4..4):
   Pearson r with the human mean, 3-class accuracy / macro-F1 (±0.05 on both sides) and 2-class
   accuracy / F1 on the items humans called positive or negative (compound ≥ 0 is positive),
   for our sentence-level scorer beside bare ``polarity_scores`` on the same texts.
2. The assassin call: "strongly negative" = human mean ≤ -1.5 (VADER sets) or the negative label
   (Apple brand tweets, Sentiment140, UCI review sentences). Texts are split in two by a hash of
   the text: weights and thresholds are chosen on the tuning half only, and every figure printed
   is on the held-out half. The baseline is ``compound ≤ t``, with t chosen on the tuning half
   and, to be generous to it, also at its best t on the held-out half itself.

``--fit`` re-fits the rule's weights (logistic regression on the tuning half) and prints them
for ``monitor/assassin.py``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import re
import sys
from dataclasses import asdict, fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from monitor.judgement.assassin import DEFAULT_THRESHOLD, DEFAULT_WEIGHTS, Weights, features, score_features  # noqa: E402
from monitor.judgement.sentiment import Scorer  # noqa: E402

DEFAULT_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"


# --- data --------------------------------------------------------------------------------------


def load_vader(folder: Path) -> dict[str, list[tuple[str, float]]]:
    out = {}
    for path in sorted(folder.glob("*GroundTruth.txt")):
        rows = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) >= 3:
                rows.append((parts[2].strip(), float(parts[1])))
        out[path.name.split("_")[0]] = rows
    return out


def load_labelled(root: Path) -> dict[str, list[tuple[str, int, str | None]]]:
    """(text, 1 if negative else 0, brand term) per set."""
    sets: dict[str, list] = {}
    apple = next(root.glob("apple_twitter_sentiment/*.csv"), None)
    if apple:
        with apple.open(encoding="latin-1", newline="") as f:
            sets["apple"] = [(r["text"], int(r["sentiment"] == "1"), "apple")
                             for r in csv.DictReader(f) if r["sentiment"] in ("1", "3", "5")]
    s140 = next(root.glob("sentiment140_test/*.csv"), None)
    if s140:
        with s140.open(encoding="latin-1", newline="") as f:
            sets["sentiment140"] = [(r[5], int(r[0] == "0"), r[3]) for r in csv.reader(f) if len(r) >= 6]
    for path in sorted(root.glob("uci_sentiment_sentences/*_labelled.txt")):
        rows = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            text, _, label = line.rpartition("\t")
            if label.strip() in ("0", "1"):
                rows.append((text, int(label.strip() == "0"), None))
        sets["uci_" + path.name.split("_")[0]] = rows
    return sets


def held_out(text: str) -> bool:
    """Half the texts, chosen by a hash of the text: never tuned on."""
    return hashlib.md5(text.encode("utf-8", "replace")).digest()[0] % 2 == 1


# --- metrics -----------------------------------------------------------------------------------


def pearson(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sx = math.sqrt(sum((x - mx) ** 2 for x in xs))
    sy = math.sqrt(sum((y - my) ** 2 for y in ys))
    return sxy / (sx * sy) if sx and sy else 0.0


def macro_f1(gold: list, pred: list, labels: list) -> float:
    scores = []
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, pred))
        fp = sum(g != label and p == label for g, p in zip(gold, pred))
        fn = sum(g == label and p != label for g, p in zip(gold, pred))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def prf(gold: list[int], pred: list[int]) -> tuple[float, float, float]:
    tp = sum(g and p for g, p in zip(gold, pred))
    fp = sum((not g) and p for g, p in zip(gold, pred))
    fn = sum(g and (not p) for g, p in zip(gold, pred))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def three(value: float) -> int:
    return 1 if value >= 0.05 else (-1 if value <= -0.05 else 0)


def best_threshold(gold: list[int], scores: list[float], *, higher_is_positive: bool) -> float:
    candidates = sorted({round(s, 3) for s in scores})
    best, best_f1 = candidates[0] if candidates else 0.0, -1.0
    for t in candidates[:: max(1, len(candidates) // 400)]:
        pred = [int(s >= t) if higher_is_positive else int(s <= t) for s in scores]
        f1 = prf(gold, pred)[2]
        if f1 > best_f1:
            best, best_f1 = t, f1
    return best


# --- the rule ----------------------------------------------------------------------------------


def fit(rows: list[tuple[dict[str, float], int]], *, epochs: int = 400, rate: float = 0.5, l2: float = 1e-3) -> Weights:
    names = [f.name for f in fields(Weights) if f.name != "bias"]
    w = {name: 0.0 for name in names}
    bias = 0.0
    n = len(rows)
    for _ in range(epochs):
        grad = {name: 0.0 for name in names}
        grad_bias = 0.0
        for values, label in rows:
            z = bias + sum(w[k] * values[k] for k in names)
            err = 1.0 / (1.0 + math.exp(-z)) - label
            grad_bias += err
            for k in names:
                grad[k] += err * values[k]
        bias -= rate * grad_bias / n
        for k in names:
            w[k] -= rate * (grad[k] / n + l2 * w[k])
    return Weights(bias=round(bias, 2), **{k: round(v, 2) for k, v in w.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_dir", nargs="?", type=Path, default=DEFAULT_EVAL)
    parser.add_argument("--fit", action="store_true", help="re-fit the rule's weights on the tuning half")
    args = parser.parse_args()
    scorer, bare = Scorer(), SentimentIntensityAnalyzer()

    print("1. VADER ground truth: ours (sentence-level) vs bare polarity_scores")
    print(f"{'file':<10} {'n':>6} {'r ours':>7} {'r bare':>7} {'3-acc o':>8} {'3-acc b':>8} {'3-F1 o':>7} {'3-F1 b':>7} "
          f"{'2-acc o':>8} {'2-acc b':>8} {'2-F1 o':>7} {'2-F1 b':>7}")
    vader_sets = load_vader(args.eval_dir / "vader")
    cache: dict[str, float] = {}
    for name, rows in vader_sets.items():
        texts, means = [t for t, _ in rows], [m for _, m in rows]
        ours = []
        for t in texts:
            if t not in cache:
                cache[t] = scorer.compound(t)
            ours.append(cache[t])
        theirs = [bare.polarity_scores(t)["compound"] for t in texts]
        gold3 = [three(m) for m in means]
        polar = [i for i, g in enumerate(gold3) if g]
        line = [name, len(rows), pearson(ours, means), pearson(theirs, means)]
        acc3 = [sum(three(c) == g for c, g in zip(cs, gold3)) / len(gold3) for cs in (ours, theirs)]
        f13 = [macro_f1(gold3, [three(c) for c in cs], [-1, 0, 1]) for cs in (ours, theirs)]
        g2 = [gold3[i] for i in polar]
        p2 = [[1 if cs[i] >= 0 else -1 for i in polar] for cs in (ours, theirs)]
        acc2 = [sum(a == b for a, b in zip(g2, p)) / len(g2) for p in p2]
        f12 = [macro_f1(g2, p, [-1, 1]) for p in p2]
        print(f"{line[0]:<10} {line[1]:>6} {line[2]:>7.3f} {line[3]:>7.3f} {acc3[0]:>8.3f} {acc3[1]:>8.3f} {f13[0]:>7.3f} "
              f"{f13[1]:>7.3f} {acc2[0]:>8.3f} {acc2[1]:>8.3f} {f12[0]:>7.3f} {f12[1]:>7.3f}")

    # Assassin data: (set, text, gold, brand)
    data = [(name, t, int(m <= -1.5), None) for name, rows in vader_sets.items() for t, m in rows]
    data += [(name, t, g, b) for name, rows in load_labelled(args.eval_dir).items() for t, g, b in rows]
    prepared = []
    for name, text, gold, brand in data:
        # The same call the pipeline makes: the whole text and the sentences naming the brand, in one pass.
        about = re.compile(rf"\b{re.escape(brand)}", re.IGNORECASE) if brand else None
        reading = scorer.analyse(text, about)
        compound = reading.compound
        values = features(text, compound, brand_compound=reading.about, without_courtesy=reading.without_courtesy)
        prepared.append((name, text, gold, compound, values))
    tune = [p for p in prepared if not held_out(p[1])]
    test = [p for p in prepared if held_out(p[1])]

    weights = DEFAULT_WEIGHTS
    threshold = DEFAULT_THRESHOLD
    if args.fit:
        weights = fit([(v, g) for _, _, g, _, v in tune])
        tune_scores = [score_features(v, weights) for *_, v in tune]
        threshold = best_threshold([g for _, _, g, _, _ in tune], tune_scores, higher_is_positive=True)
        print(f"\nfitted on {len(tune):,} tuning texts: {asdict(weights)}  threshold {threshold:.2f}")
    t_tuned = best_threshold([g for _, _, g, _, _ in tune], [c for _, _, _, c, _ in tune], higher_is_positive=False)

    print(f"\n2. Assassin call on the held-out half ({len(test):,} texts; tuned on the other {len(tune):,})")
    print(f"   rule: assassin_score ≥ {threshold:.2f}; baseline: compound ≤ t (t = {t_tuned:+.3f} from the tuning half, "
          "and t at its best on the held-out half)")
    print(f"{'set':<14} {'n':>6} {'pos':>5} {'rule P':>7} {'rule R':>7} {'rule F1':>8} {'base F1':>8} {'best-t F1':>9} {'best t':>7}")
    groups = sorted({p[0] for p in test}) + ["ALL"]
    for group in groups:
        rows = [p for p in test if group in ("ALL", p[0])]
        gold = [p[2] for p in rows]
        rule = [int(score_features(p[4], weights) >= threshold) for p in rows]
        base = [int(p[3] <= t_tuned) for p in rows]
        t_best = best_threshold(gold, [p[3] for p in rows], higher_is_positive=False)
        best = [int(p[3] <= t_best) for p in rows]
        p_, r_, f_ = prf(gold, rule)
        print(f"{group:<14} {len(rows):>6} {sum(gold):>5} {p_:>7.3f} {r_:>7.3f} {f_:>8.3f} {prf(gold, base)[2]:>8.3f} "
              f"{prf(gold, best)[2]:>9.3f} {t_best:>+7.3f}")


if __name__ == "__main__":
    main()
