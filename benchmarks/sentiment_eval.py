"""The sentiment scorer and the assassin call against human labels (../shared/eval, or a folder given).

    python benchmarks/sentiment_eval.py [EVAL_DIR] [--folds K] [--quick] [--combinations] [--thresholds]

1. VADER's ground truth (tweets, Amazon and movie reviews, NYT editorials; human mean -4..4):
   Pearson r with the human mean, 3-class accuracy / macro-F1 (±0.05 on both sides) and 2-class
   accuracy / F1 on the items humans called positive or negative (compound ≥ 0 is positive),
   for our sentence-level scorer beside bare ``polarity_scores`` on the same texts.
2. The assassin call (the learned layer, ``monitor/judgement/learned.py``) on every labelled set
   (``benchmarks/labelled_sets.py``), two ways, each beside the cue rule it replaces (``assassin_score``
   of ``monitor/judgement/assassin.py``, called at its 0.25) and bare VADER (score −compound,
   called at compound ≤ −0.05, VADER's own cut) on the same texts:
   - **cross-set**: the model trained on every *other* set, scored on this one (what a brand
     nobody labelled gets);
   - **in-set**: K-fold cross-validation (10 folds for the brand complaints, ``--folds`` (5) for
     the others): the model trained on every other set and the other folds of this one.
   F1 is of the call at the model's threshold (0.5, fixed before any test fold was read: the
   heads are class-balanced), ROC-AUC of the probability. Training settings are
   ``benchmarks/train_assassin.py``'s. ``--quick`` skips the in-set folds of the sentiment sets
   (the slow part: a negative head per fold).
3. With ``--combinations``: the same heads' log-odds combined other ways (the complaint head
   alone, the negative alone, a soft "or" with the negative held back by a bias, weighted means),
   every set's F1 and AUC beside the rule's F1: what changing the call would trade.
4. With ``--thresholds``: every set's F1 minus the rule's at thresholds 0.25 … 0.6, and each set's
   F1 at the threshold chosen without it (the threshold whose worst *other* set is furthest
   above the rule): whether some threshold, chosen by a procedure, puts no set below the rule.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import labelled_sets  # noqa: E402
import train_assassin  # noqa: E402
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from monitor.judgement import training  # noqa: E402
from monitor.judgement.training import auc  # noqa: E402
from monitor.judgement.assassin import DEFAULT_THRESHOLD as RULE_THRESHOLD  # noqa: E402
from monitor.judgement.learned import DENSE, Model, _sigmoid  # noqa: E402
from monitor.judgement.sentiment import Scorer  # noqa: E402

DEFAULT_EVAL = labelled_sets.DEFAULT_EVAL


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


def three(value: float) -> int:
    return 1 if value >= 0.05 else (-1 if value <= -0.05 else 0)


# --- the learned layer, trained and scored on prepared texts ------------------------------------


class Prepared:
    """Every labelled text as the layer reads it (words, DENSE features), with its set, label and
    the rule's and VADER's scores."""

    def __init__(self, root: Path, scorer: Scorer) -> None:
        self.sets = labelled_sets.load(root)
        self.names = list(self.sets)
        self.words, self.dense, self.labels, self.group, self.rule, self.compound = [], [], [], [], [], []
        for name, data in self.sets.items():
            words, dense = training.prepare(scorer, data.texts, data.brands, rule=self.rule, vader=self.compound)
            self.words += words
            self.dense += dense
            self.labels += data.labels
            self.group += [name] * len(data.texts)

    def head_of(self, i: int) -> str:
        return "complaint" if self.group[i] in labelled_sets.COMPLAINT_SETS else "negative"

    def fit(self, idx: list[int], start: dict | None = None) -> Model:
        return Model.from_dict(training.fit_model(
            [self.words[i] for i in idx], [self.dense[i] for i in idx], [self.labels[i] for i in idx],
            [self.head_of(i) for i in idx], [self.group[i] for i in idx], c=train_assassin.C,
            length=train_assassin.LENGTH, version="eval", threshold=train_assassin.THRESHOLD, start=start))

    def score(self, model: Model, idx: list[int], heads: dict[int, tuple[float, float]] | None = None) -> list[float]:
        """The call's probability for each text; ``heads`` collects each one's two log-odds."""
        out = []
        for i in idx:
            call = model.call_words(self.words[i], dict(zip(DENSE, self.dense[i])))
            out.append(call.probability)
            if heads is not None:
                read = call.read
                if "complaint" in read and "negative" in read:  # trained without the complaints: no complaint head
                    heads[i] = (read["complaint"][0], read["negative"][0])
        return out


def folds(idx: list[int], labels: list[int], k: int, seed: int = 0) -> list[list[int]]:
    """K stratified folds of ``idx`` (shuffled with a fixed seed)."""
    rng = random.Random(seed)
    out: list[list[int]] = [[] for _ in range(k)]
    for label in (0, 1):
        members = [i for i in idx if labels[i] == label]
        rng.shuffle(members)
        for n, i in enumerate(members):
            out[n % k].append(i)
    return out


def line(name: str, how: str, data: Prepared, idx: list[int], probs: list[float]) -> str:
    gold = [data.labels[i] for i in idx]
    rule = [data.rule[i] for i in idx]
    vader = [-data.compound[i] for i in idx]
    return (f"{name:<14} {how:<10} {len(idx):>6} {sum(gold):>6} | {training.f1(probs, gold, train_assassin.THRESHOLD):>6.3f} "
            f"{auc(probs, gold):>6.3f} | {training.f1(rule, gold, RULE_THRESHOLD):>6.3f} {auc(rule, gold):>6.3f} | "
            f"{training.f1(vader, gold, 0.05):>6.3f} {auc(vader, gold):>6.3f}")


# Other ways to combine the two heads' log-odds (c: complaint, n: negative), printed beside the
# call's (their mean) with --combinations: what a change of the call would do to every set.
COMBINATIONS = {
    "mean (the call)": lambda c, n: (c + n) / 2,
    "complaint only": lambda c, n: c,
    "negative only": lambda c, n: n,
    "soft or": lambda c, n: _soft_or(c, n, 0.0),
    "soft or, n-0.5": lambda c, n: _soft_or(c, n, 0.5),
    "soft or, n-1": lambda c, n: _soft_or(c, n, 1.0),
    "0.7c + 0.3n": lambda c, n: 0.7 * c + 0.3 * n,
    "0.3c + 0.7n": lambda c, n: 0.3 * c + 0.7 * n,
}


def _soft_or(c: float, n: float, bias: float) -> float:
    """log(e^c + e^(n - bias)): either head may call it (a smooth maximum)."""
    top = max(c, n - bias)
    return top + math.log(math.exp(c - top) + math.exp(n - bias - top))


THRESHOLDS = [round(0.25 + 0.025 * n, 3) for n in range(15)]  # 0.25 … 0.6


def choose_threshold(margins: dict[str, dict[float, float]], leave_out: str | None = None) -> float:
    """The threshold whose worst set (``leave_out`` aside) is furthest above the rule's F1: the
    maximin of the margins, ties to the one nearest even odds. Chosen without the set it is
    reported on, it is an out-of-sample figure."""
    def worst(t: float) -> float:
        return min(m[t] for name, m in margins.items() if name != leave_out)
    return max(THRESHOLDS, key=lambda t: (round(worst(t), 4), -abs(t - 0.5)))


def print_thresholds(data: "Prepared", heads: dict[str, dict[int, tuple[float, float]]]) -> None:
    """Every set's F1 margin over the rule's at each threshold of the call, and each set's F1 at the
    threshold chosen without it (``choose_threshold`` on the other sets)."""
    probs, gold, rule_f1 = {}, {}, {}
    for name, logits in heads.items():
        idx = sorted(logits)
        probs[name] = [_sigmoid(COMBINATIONS["mean (the call)"](*logits[i])) for i in idx]
        gold[name] = [data.labels[i] for i in idx]
        rule_f1[name] = training.f1([data.rule[i] for i in idx], gold[name], RULE_THRESHOLD)
    f1s = {name: {t: training.f1(probs[name], gold[name], t) for t in THRESHOLDS} for name in heads}
    margins = {name: {t: f1s[name][t] - rule_f1[name] for t in THRESHOLDS} for name in heads}
    print("\n4. The call's F1 at other thresholds, minus the rule's F1 (cross-set; the complaints 10-fold)")
    print(f"{'set':<14} " + " ".join(f"{t:>6}" for t in THRESHOLDS))
    for name in heads:
        print(f"{name:<14} " + " ".join(f"{margins[name][t]:>+6.3f}" for t in THRESHOLDS))
    print("\nEach set at the threshold chosen on the other sets (the worst other set furthest above the rule):")
    for name in heads:
        t = choose_threshold(margins, leave_out=name)
        print(f"{name:<14} threshold {t:<6} F1 {f1s[name][t]:.3f}  rule {rule_f1[name]:.3f}  margin {margins[name][t]:+.3f}")
    t = choose_threshold(margins)
    print(f"On every set: threshold {t} (worst margin {min(m[t] for m in margins.values()):+.3f})", flush=True)


def evaluate_layer(root: Path, scorer: Scorer, *, k: int, quick: bool, combinations: bool = False,
                   thresholds: bool = False) -> None:
    started = time.perf_counter()
    data = Prepared(root, scorer)
    everything = list(range(len(data.labels)))
    print(f"\n2. The assassin call, learned layer vs the cue rule vs bare VADER ({len(everything):,} texts, "
          f"{len(data.names)} sets; prepared in {time.perf_counter() - started:.0f}s)")
    print(f"{'set':<14} {'how':<10} {'n':>6} {'pos':>6} | {'F1':>6} {'AUC':>6} | {'rule F1':>6} {'AUC':>6} | {'VADER F1':>6} {'AUC':>6}")
    heads: dict[str, dict[int, tuple[float, float]]] = {}  # per set: each text's two log-odds, as reported
    for name in data.names:
        mine = [i for i in everything if data.group[i] == name]
        others = [i for i in everything if data.group[i] != name]
        cross = data.fit(others)
        heads[name] = {}
        print(line(name, "cross-set", data, mine, data.score(cross, mine, heads[name])), flush=True)
        if quick and name not in labelled_sets.COMPLAINT_SETS:
            continue
        probs: dict[int, float] = {}
        warm = cross.to_dict()
        for fold in folds(mine, data.labels, 10 if name in labelled_sets.COMPLAINT_SETS else k):
            held = set(fold)
            model = data.fit(others + [i for i in mine if i not in held], start=warm)
            in_set: dict[int, tuple[float, float]] = {}
            probs.update(zip(fold, data.score(model, fold, in_set)))
            if name in labelled_sets.COMPLAINT_SETS:
                heads[name].update(in_set)  # the complaints as the floor reads them: 10-fold
        print(line(name, f"in-set {10 if name in labelled_sets.COMPLAINT_SETS else k}f", data, mine,
                   [probs[i] for i in mine]), flush=True)
    print(f"({time.perf_counter() - started:.0f}s in all)")
    if combinations:
        print("\n3. The two heads combined other ways (F1 at even odds / ROC-AUC; cross-set, the complaints "
              "10-fold), beside the rule's F1")
        print(f"{'set':<14} " + " ".join(f"{label:>16}" for label in COMBINATIONS) + f" {'rule F1':>8}")
        for name, logits in heads.items():
            idx = sorted(logits)
            gold = [data.labels[i] for i in idx]
            cells = []
            for combine in COMBINATIONS.values():
                p = [_sigmoid(combine(*logits[i])) for i in idx]
                cells.append(f"{training.f1(p, gold, 0.5):.3f} / {auc(p, gold):.3f}")
            rule = training.f1([data.rule[i] for i in idx], gold, RULE_THRESHOLD)
            print(f"{name:<14} " + " ".join(f"{c:>16}" for c in cells) + f" {rule:>8.3f}", flush=True)
    if thresholds:
        print_thresholds(data, heads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_dir", nargs="?", type=Path, default=DEFAULT_EVAL)
    parser.add_argument("--folds", type=int, default=5, help="folds of the in-set cross-validation of the sentiment sets")
    parser.add_argument("--quick", action="store_true", help="skip the in-set folds of the sentiment sets")
    parser.add_argument("--combinations", action="store_true",
                        help="also print every set's F1 / AUC under other combinations of the two heads")
    parser.add_argument("--thresholds", action="store_true",
                        help="also print every set's F1 against the rule's at other thresholds, and each set's F1 at "
                             "the threshold chosen without it")
    args = parser.parse_args()
    scorer, bare = Scorer(), SentimentIntensityAnalyzer()

    print("1. VADER ground truth: ours (sentence-level) vs bare polarity_scores")
    print(f"{'file':<10} {'n':>6} {'r ours':>7} {'r bare':>7} {'3-acc o':>8} {'3-acc b':>8} {'3-F1 o':>7} {'3-F1 b':>7} "
          f"{'2-acc o':>8} {'2-acc b':>8} {'2-F1 o':>7} {'2-F1 b':>7}")
    for name, rows in load_vader(args.eval_dir / "vader").items():
        texts, means = [t for t, _ in rows], [m for _, m in rows]
        ours = [scorer.compound(t) for t in texts]
        theirs = [bare.polarity_scores(t)["compound"] for t in texts]
        gold3 = [three(m) for m in means]
        polar = [i for i, g in enumerate(gold3) if g]
        acc3 = [sum(three(c) == g for c, g in zip(cs, gold3)) / len(gold3) for cs in (ours, theirs)]
        f13 = [macro_f1(gold3, [three(c) for c in cs], [-1, 0, 1]) for cs in (ours, theirs)]
        g2 = [gold3[i] for i in polar]
        p2 = [[1 if cs[i] >= 0 else -1 for i in polar] for cs in (ours, theirs)]
        acc2 = [sum(a == b for a, b in zip(g2, p)) / len(g2) for p in p2]
        f12 = [macro_f1(g2, p, [-1, 1]) for p in p2]
        print(f"{name:<10} {len(rows):>6} {pearson(ours, means):>7.3f} {pearson(theirs, means):>7.3f} {acc3[0]:>8.3f} "
              f"{acc3[1]:>8.3f} {f13[0]:>7.3f} {f13[1]:>7.3f} {acc2[0]:>8.3f} {acc2[1]:>8.3f} {f12[0]:>7.3f} {f12[1]:>7.3f}")
    evaluate_layer(args.eval_dir, scorer, k=args.folds, quick=args.quick, combinations=args.combinations,
                   thresholds=args.thresholds)


if __name__ == "__main__":
    main()
