"""Train the learned layer of the assassin call from ``../shared/eval`` into the shipped model file.

    python benchmarks/train_assassin.py [EVAL_DIR] [--out PATH] [--check]

Reads every labelled set (``benchmarks/labelled_sets.py``): the brand complaints teach the
``complaint`` head, the sentiment sets the ``negative`` head (each set weighing the same). Each
text goes through the stages a post takes (HTML to text, VADER sentence by sentence, the cues);
the heads are NB-scaled logistic regressions over the character n-grams of each distinct word
(``monitor/judgement/training.py``). The settings were fixed before the test folds were read:
C = 0.1 for the complaint head and 0.03 for the negative head (the usual NBSVM range, one step
stronger for the head with thirty times the data), texts read at the density of 30 distinct
words (about the longest tweet), the call at probability 0.5 (the heads are class-balanced).

The **sentence heads** (issue 34) are trained on the same texts and labels: a logistic head per
task on the sentence encoder's vector of each text (``monitor/judgement/encoder.py``; the vectors
are kept in the cache folder, 7 minutes to compute once) and VADER's compound as meant, each set
weighing the same, its L2 strength chosen by 5-fold ROC-AUC on its own training texts
(``training.fit_sentence_head``). The cascade's two lines, fixed before any evaluation (``lines_of``;
``sentence.py``): the ``floor``, the 1st percentile of the fast call's probability among the
training texts that all four heads together call assassin (under it the sentence heads order a post
but cannot make it an assassin), and ``reads_from``, the highest line, in steps of 0.01 down from
the floor, at which no training set loses more than 0.01 ROC-AUC against reading every text (under
it the fast call stands alone).

Writes ``monitor/judgement/models/assassin-2.json.gz`` (weights and where they came from, no
text). ``--check`` trains again and compares with the shipped file: every weight within 1e-4
(they are stored to 1e-5; the optimisers are deterministic, but BLAS sums may differ by machine).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import labelled_sets  # noqa: E402

from monitor.assassin_model import SHIPPED, read, write  # noqa: E402
from monitor.judgement import training  # noqa: E402
from monitor.judgement import encoder as encoders  # noqa: E402
from monitor.judgement.learned import DENSE, HELD_UNDER, Model  # noqa: E402
from monitor.judgement.sentiment import Scorer  # noqa: E402
from monitor.judgement.text import html_to_text  # noqa: E402

VERSION = "assassin-2"
C = {"complaint": 0.1, "negative": 0.03}
LENGTH = 30
THRESHOLD = 0.5
TOLERANCE = 1e-4
FLOOR_SHARE = 0.01  # of the texts the four heads call assassin, the share the cascade may leave to the fast call
READ_STEP, READ_LOSS = 0.01, 0.01  # the reading line's steps down from the floor, and the ROC-AUC a set may lose


def train(eval_dir: Path) -> dict:
    sets = labelled_sets.load(eval_dir)
    scorer = Scorer()
    texts, labels, brands, heads, groups = [], [], [], [], []
    for name, data in sets.items():
        texts += data.texts
        labels += data.labels
        brands += data.brands
        heads += ["complaint" if name in labelled_sets.COMPLAINT_SETS else "negative"] * len(data.texts)
        groups += [name] * len(data.texts)
    words, dense = training.prepare(scorer, texts, brands)
    meta = {
        "trained_on": {name: {"texts": len(d.texts), "positives": sum(d.labels)} for name, d in sets.items()},
        "files": {str(p.relative_to(eval_dir)): hashlib.sha256(p.read_bytes()).hexdigest()[:16]
                  for p in labelled_sets.sources(eval_dir)},
        "settings": {"c": C, "length": LENGTH, "threshold": THRESHOLD, "min_df": training.MIN_DF,
                     "grams": "character 2-5 of each distinct word", "vader_negative": labelled_sets.VADER_NEGATIVE},
        "by": "benchmarks/train_assassin.py",
    }
    model = training.fit_model(words, dense, labels, heads, groups, c=C, length=LENGTH, version=VERSION,
                               threshold=THRESHOLD, meta=meta)
    model["meta"]["cross_validated"] = complaints_cv(model, words, dense, labels, heads)
    model["sentence"] = sentence_heads(model, sets, words, dense, labels, heads, groups)
    return model


def sentence_heads(model: dict, sets, words, dense, labels, heads, groups) -> dict:
    """The sentence heads on every set's vectors (cached), and the cascade's floor."""
    import numpy as np

    vectors = np.vstack([labelled_sets.encoded(name, [html_to_text(t) for t in data.texts], say=print)
                         for name, data in sets.items()])
    out = {}
    for head in ("complaint", "negative"):
        idx = [i for i, h in enumerate(heads) if h == head]
        out[head] = training.fit_sentence_head(vectors[idx], [dense[i] for i in idx], [labels[i] for i in idx],
                                               [groups[i] for i in idx])
    sentence = {"heads": out, "floor": 0.0, "encoder": {
        "name": "sentence-transformers/all-MiniLM-L6-v2", "revision": encoders.REVISION, "sha256": encoders.FILES_SHA256,
        "reading": encoders.READING}}
    fitted = Model.from_dict({**model, "sentence": sentence})
    fast = [fitted.call_words(w, dict(zip(DENSE, d))) for w, d in zip(words, dense)]
    logits = fitted.sentence.logits(vectors, [dict(zip(DENSE, d)) for d in dense])
    sentence["floor"], sentence["reads_from"] = lines_of(
        [c.fast_probability for c in fast], [fitted.with_sentence(c, s).probability for c, s in zip(fast, logits)],
        labels, groups)
    return sentence


def lines_of(fast: list[float], four: list[float], labels: list[int], groups: list[str]) -> tuple[float, float]:
    """The cascade's two lines from the training texts' fast and four-heads probabilities: the
    ``floor`` (``floor_of`` the texts the four heads call assassin), and ``reads_from``, the highest
    line, in steps of ``READ_STEP`` down from the floor, at which no training set's ROC-AUC of the
    cascade is more than ``READ_LOSS`` below its reading every text (both held under the line below
    the floor, as ``Model.cascade`` holds them)."""
    import numpy as np

    fast_, four_, y, group = np.asarray(fast), np.asarray(four), np.asarray(labels), np.asarray(groups)
    floor = floor_of(fast_[four_ >= THRESHOLD].tolist())
    held = held_under(fast_, four_, floor, THRESHOLD - HELD_UNDER)
    sets = [group == name for name in dict.fromkeys(groups)]
    whole = [training.auc(held[s].tolist(), y[s].tolist()) for s in sets]
    line = floor
    while line > 0:
        cascade = np.where(fast_ >= line, held, fast_)
        if all(training.auc(cascade[s].tolist(), y[s].tolist()) >= a - READ_LOSS for s, a in zip(sets, whole)):
            break
        line = max(0.0, round(line - READ_STEP, 3))
    return floor, line


def held_under(fast, four, floor: float, line: float):
    """``four`` (the four heads' reading, arrays) as ``Model.cascade`` holds it: at most ``line`` (the
    threshold less ``HELD_UNDER``, as a probability or as log-odds, as ``four`` is) where the fast
    probability ``fast`` is under the floor."""
    import numpy as np

    return np.where(fast < floor, np.minimum(four, line), four)


def floor_of(called: list[float]) -> float:
    """The cascade's floor: the ``FLOOR_SHARE`` quantile of the fast probabilities of the training
    texts the four heads call assassin (``called``), rounded down to 0.001."""
    called = sorted(called)
    return math.floor(called[int(FLOOR_SHARE * len(called))] * 1000) / 1000 if called else 0.0


def complaints_cv(model: dict, words, dense, labels, heads, folds: int = 10) -> dict:
    """The brand complaints, 10-fold: the complaint head trained without each fold (the negative
    head never saw them), the call scored on the fold; what `monitor train` prints as the
    shipped model's figure on its own data."""
    mine = [i for i, h in enumerate(heads) if h == "complaint"]
    order = [i for i in mine if labels[i]] + [i for i in mine if not labels[i]]
    probs = {}
    for k in range(folds):
        held = set(order[k::folds])
        train = [i for i in mine if i not in held]
        head = training.fit_model([words[i] for i in train], [dense[i] for i in train], [labels[i] for i in train],
                                  ["complaint"] * len(train), ["complaints"] * len(train), c=C, length=LENGTH,
                                  version="cv")["heads"]["complaint"]
        fitted = Model.from_dict({**model, "heads": {**model["heads"], "complaint": head}})
        probs.update((i, fitted.call_words(words[i], dict(zip(DENSE, dense[i]))).probability) for i in held)
    scores, gold = [probs[i] for i in mine], [labels[i] for i in mine]
    return {"folds": folds, "auc": round(training.auc(scores, gold), 4), "f1": round(training.f1(scores, gold, THRESHOLD), 4)}


def differences(a: dict, b: dict) -> float:
    """The largest absolute difference between two models' weights (a gram missing in one counts as 0)."""
    worst = 0.0
    for name in set(a["heads"]) | set(b["heads"]):
        ha, hb = a["heads"].get(name, {}), b["heads"].get(name, {})
        worst = max(worst, abs(ha.get("bias", 0.0) - hb.get("bias", 0.0)))
        for part in ("dense", "grams"):
            pa, pb = ha.get(part, {}), hb.get(part, {})
            for key in set(pa) | set(pb):
                worst = max(worst, abs(pa.get(key, 0.0) - pb.get(key, 0.0)))
    sa, sb = a.get("sentence") or {"heads": {}}, b.get("sentence") or {"heads": {}}
    if set(sa["heads"]) != set(sb["heads"]):
        return float("inf")  # one has sentence heads the other lacks
    worst = max(worst, abs(sa.get("floor", 0.0) - sb.get("floor", 0.0)),
                abs((sa.get("reads_from") or 0.0) - (sb.get("reads_from") or 0.0)))
    for name in sa["heads"]:
        ha, hb = sa["heads"][name], sb["heads"][name]
        if set(ha["dense"]) != set(hb["dense"]):
            return float("inf")
        worst = max(worst, abs(ha["bias"] - hb["bias"]), *(abs(ha["dense"][k] - hb["dense"][k]) for k in ha["dense"]),
                    *(abs(x - y) for x, y in zip(ha["vector"], hb["vector"])))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_dir", nargs="?", type=Path, default=labelled_sets.DEFAULT_EVAL)
    parser.add_argument("--out", type=Path, default=SHIPPED)
    parser.add_argument("--check", action="store_true", help="train again and compare with --out instead of writing it")
    args = parser.parse_args()
    started = time.perf_counter()
    model = train(args.eval_dir)
    spent = time.perf_counter() - started
    grams = {name: len(h["grams"]) for name, h in model["heads"].items()}
    if args.check:
        shipped = read(args.out).to_dict()
        worst = differences(model, shipped)
        print(f"trained in {spent:.0f}s; largest weight difference from {args.out}: {worst:.2e} (tolerance {TOLERANCE:g})")
        sys.exit(0 if worst <= TOLERANCE else 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write(model, args.out)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()[:16]
    cv = model["meta"]["cross_validated"]
    print(f"brand complaints, {cv['folds']}-fold: F1 {cv['f1']:.3f}, ROC-AUC {cv['auc']:.3f}")
    sentence = model["sentence"]
    print("sentence heads: " + ", ".join(f"{n} (L2 {h['strength']:g})" for n, h in sentence["heads"].items())
          + f"; the cascade reads posts whose fast probability is at least {sentence['reads_from']}, and calls them"
          f" from {sentence['floor']}")
    print(f"trained in {spent:.0f}s: {grams} n-gram weights; wrote {args.out} ({args.out.stat().st_size:,} bytes, sha256 {digest})")


if __name__ == "__main__":
    main()
