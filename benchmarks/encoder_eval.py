"""Does a sentence encoder earn its cost in the assassin call? Measured before it is wired in.

    python benchmarks/encoder_eval.py [EVAL_DIR] [--encode-only] [--every-set]

Encodes every labelled set of ``../shared/eval`` with ``monitor.judgement.encoder`` (the vectors
kept in the cache folder, keyed by the texts and the weights, so a second run takes seconds), then
prints, on the same harness as ``sentiment_eval.py``:

- **TweetEval, trained without it** (the sets that teach the ``negative`` head, TweetEval left
  out; ROC-AUC on TweetEval's negatives) and **brand complaints, 10-fold** (F1 at 0.5, ROC-AUC):
  for today's learned layer (the shipped heads; in the complaint folds, its complaint head
  trained without each fold), for a logistic head on the encoder's vector and VADER's compound
  (``encoder``), and for their combination, the mean of the layer's and the encoder head's
  log-odds (``both``);
- the encoder's throughput on tweets (texts per second) against the fast call's;
- with ``--every-set``, every sentiment set trained without it (issue 34: no set more than 0.01
  ROC-AUC below today's call), today's call beside the four heads' mean.

The encoder heads are logistic regressions on the standardised features, class-balanced and each
set weighing the same, as the layer's heads are; their L2 strength is chosen for each head on its
own training texts (5-fold, ROC-AUC, among ``STRENGTHS``), never on the texts it is scored on.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import labelled_sets  # noqa: E402

from monitor.judgement import encoder as encoders  # noqa: E402
from monitor.judgement.language import cache_folder  # noqa: E402

STRENGTHS = (1.0, 10.0, 100.0, 1000.0)


def vectors(name: str, texts: list[str], model) -> "np.ndarray":  # noqa: F821
    """The set's vectors, from the cache folder when this set and these weights were encoded before."""
    import numpy as np

    key = hashlib.sha256("\0".join(texts).encode() + encoders.FILES_SHA256["model.safetensors"].encode()).hexdigest()[:16]
    path = cache_folder() / "encoder-eval" / f"{name}-{key}.npy"
    if path.exists():
        return np.load(path)
    started = time.perf_counter()
    out = model.encode(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    print(f"encoded {name}: {len(texts):,} texts in {time.perf_counter() - started:.0f} s", flush=True)
    return out


def fit(x, y, weights, strength: float):
    """A weighted, L2-penalised logistic regression by Newton's method (385 features: exact in ~10
    steps); ``x`` already standardised. Returns (coefficients, bias)."""
    import numpy as np

    xb = np.hstack([x, np.ones((len(x), 1))])
    theta = np.zeros(xb.shape[1])
    penalty = np.r_[np.full(x.shape[1], strength), 0.0]
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(xb @ theta)))
        gradient = xb.T @ (weights * (p - y)) + penalty * theta
        hessian = (xb * (weights * p * (1 - p))[:, None]).T @ xb + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-7:
            break
    return theta[:-1], theta[-1]


def balanced(groups, labels):
    """Each set weighing the same, each class half of its set (as the layer's heads are trained);
    the weights sum to the number of texts."""
    import numpy as np

    groups, labels = np.asarray(groups), np.asarray(labels)
    w = np.zeros(len(labels))
    names = sorted(set(groups))
    for name in names:
        for label in (0, 1):
            chosen = (groups == name) & (labels == label)
            if chosen.any():
                w[chosen] = 1.0 / (2 * len(names) * chosen.sum())
    return w * len(labels)


class Head:
    """A logistic head on [vector, compound], standardised on its training texts, its L2 strength
    chosen among ``STRENGTHS`` by 5-fold cross-validation on those texts."""

    def __init__(self, x, y, weights, strength: float | None = None) -> None:
        import numpy as np

        from monitor.judgement.training import auc

        self.mean, self.scale = x.mean(0), x.std(0) + 1e-6
        z = (x - self.mean) / self.scale
        if strength is None:
            fold = np.arange(len(y)) % 5
            np.random.default_rng(0).shuffle(fold)
            scores = {}
            for candidate in STRENGTHS:
                out = np.zeros(len(y))
                for k in range(5):
                    coef, bias = fit(z[fold != k], y[fold != k], weights[fold != k], candidate)
                    out[fold == k] = z[fold == k] @ coef + bias
                scores[candidate] = auc(out.tolist(), y.astype(int).tolist())
            strength = max(STRENGTHS, key=lambda c: (scores[c], c))
        self.strength = strength
        self.coef, self.bias = fit(z, y, weights, strength)

    def logit(self, x):
        return ((x - self.mean) / self.scale) @ self.coef + self.bias


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_dir", nargs="?", type=Path, default=labelled_sets.DEFAULT_EVAL)
    parser.add_argument("--encode-only", action="store_true", help="fill the cache of vectors and stop")
    parser.add_argument("--every-set", action="store_true", help="also every sentiment set, trained without it")
    args = parser.parse_args()
    sets = labelled_sets.load(args.eval_dir)
    encoder = encoders.load()
    encoded = {name: vectors(name, data.texts, encoder) for name, data in sets.items()}
    if args.encode_only:
        return
    import numpy as np
    import sentiment_eval
    from monitor.judgement.sentiment import Scorer
    from monitor.judgement.training import auc, f1

    started = time.perf_counter()
    scorer = Scorer()
    data = sentiment_eval.Prepared(args.eval_dir, scorer)
    x = np.hstack([np.vstack([encoded[name] for name in data.names]), np.asarray(data.compound)[:, None]])
    y, group = np.asarray(data.labels, float), np.asarray(data.group)
    complaint = np.isin(group, list(labelled_sets.COMPLAINT_SETS))
    print(f"prepared {len(y):,} texts in {time.perf_counter() - started:.0f} s")

    def encoder_heads(train, test):
        """The encoder's two heads trained on ``train`` (the complaint head on its complaint texts,
        the negative head on the rest), each one's log-odds on ``test``."""
        return [Head(x[mask], y[mask], balanced(group[mask], y[mask])).logit(x[test])
                for mask in (train & complaint, train & ~complaint)]

    def report(name, how, idx, layer, encoded):
        """F1 at even odds and ROC-AUC of each way to read the four heads' log-odds."""
        gold = y[idx].astype(int).tolist()
        (lc, ln), (ec, en) = layer, encoded
        for label, logits in (("today's call (its two heads' mean)", (lc + ln) / 2), ("the encoder's two heads' mean", (ec + en) / 2),
                              ("the four heads' mean", (lc + ln + ec + en) / 4),
                              ("today's two and the encoder's negative", (lc + ln + en) / 3),
                              ("complaint heads' mean", (lc + ec) / 2), ("negative heads' mean", (ln + en) / 2),
                              ("today's complaint head", lc), ("today's negative head", ln),
                              ("the encoder's complaint head", ec), ("the encoder's negative head", en)):
            probs = (1 / (1 + np.exp(-logits))).tolist()
            print(f"{name:<11} {how:<10} {label:<40} F1 {f1(probs, gold, 0.5):.3f}  ROC-AUC {auc(probs, gold):.3f}",
                  flush=True)

    def layer_heads(model, idx):
        heads: dict[int, tuple[float, float]] = {}
        data.score(model, idx, heads)
        return np.array([heads[i] for i in idx]).T

    everything = np.arange(len(y))
    mine = group == "tweeteval"
    report("tweeteval", "cross-set", everything[mine], layer_heads(data.fit(everything[~mine].tolist()), everything[mine].tolist()),
           encoder_heads(~mine, mine))
    mine = group == "complaints"
    others = everything[~mine].tolist()
    layer, encoded = np.zeros((2, len(y))), np.zeros((2, len(y)))
    warm = data.fit(others).to_dict()
    for fold in sentiment_eval.folds(everything[mine].tolist(), data.labels, 10):
        held = np.zeros(len(y), bool)
        held[fold] = True
        fold = np.flatnonzero(held).tolist()
        model = data.fit(others + [i for i in everything[mine] if not held[i]], start=warm)
        layer[:, fold] = layer_heads(model, fold)
        encoded[:, fold] = encoder_heads(~held, held)
    report("complaints", "10-fold", everything[mine], layer[:, mine], encoded[:, mine])
    if args.every_set:
        print("\nEvery sentiment set, trained without it: today's call → the four heads' mean (F1 at even odds, ROC-AUC)")
        for name in data.names:
            mine = group == name
            if name in labelled_sets.COMPLAINT_SETS:
                continue  # trained without the complaints there is no complaint head: their 10-fold is above
            gold = y[mine].astype(int).tolist()
            lc, ln = layer_heads(data.fit(everything[~mine].tolist()), everything[mine].tolist())
            ec, en = encoder_heads(~mine, mine)
            today, four = 1 / (1 + np.exp(-(lc + ln) / 2)), 1 / (1 + np.exp(-(lc + ln + ec + en) / 4))
            a, b = auc(today.tolist(), gold), auc(four.tolist(), gold)
            print(f"{name:<14} F1 {f1(today.tolist(), gold, 0.5):.3f} → {f1(four.tolist(), gold, 0.5):.3f}"
                  f"   ROC-AUC {a:.3f} → {b:.3f} ({b - a:+.3f})", flush=True)
    tweets = sets["tweeteval"].texts[:2000]
    began = time.perf_counter()
    encoder.encode(tweets)
    encode_rate = len(tweets) / (time.perf_counter() - began)
    began = time.perf_counter()
    for text in tweets:
        scorer.analyse(text)
    print(f"throughput on 2,000 tweets: the encoder {encode_rate:,.0f} texts/s; VADER's reading"
          f" {len(tweets) / (time.perf_counter() - began):,.0f} texts/s ({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
