"""The sentence heads of the assassin call, measured on sets they were not trained on.

    python benchmarks/encoder_eval.py [EVAL_DIR] [--encode-only] [--every-set]

Encodes every labelled set of ``../shared/eval`` with ``monitor.judgement.encoder`` (the vectors
kept in the cache folder, keyed by the texts and the weights, so a second run takes seconds), then
prints, on the same harness as ``sentiment_eval.py``:

- **TweetEval, trained without it** (the sets that teach the ``negative`` head, TweetEval left
  out; ROC-AUC on TweetEval's negatives) and **brand complaints, 10-fold** (F1 at 0.5, ROC-AUC):
  for the word heads alone (the fast call; in the complaint folds, its complaint head trained
  without each fold), for the sentence heads alone, for the four heads' mean, and for **the call
  as shipped**: the cascade, where the four heads read the texts whose fast probability is at
  least the reading line that train_assassin's procedure picks on the same training texts (held
  under the line below its floor), and the fast call the rest (with the share of texts it sends to
  the encoder); also the four heads read as the
  likelier task (the larger of the two tasks' head means), measured and not adopted;
- the encoder's throughput on tweets (texts per second) against VADER's reading;
- with ``--every-set``, every sentiment set trained without it (issue 34: no set more than 0.01
  ROC-AUC below the fast call), the fast call beside the four heads' mean.

Every head is trained as ``benchmarks/train_assassin.py`` trains the shipped ones
(``training.fit_sentence_head``: L2 strength chosen by 5-fold on its own training texts), never
on the texts it is scored on.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import labelled_sets  # noqa: E402
import train_assassin  # noqa: E402

from monitor.judgement import encoder as encoders  # noqa: E402
from monitor.judgement import training  # noqa: E402
from monitor.judgement.learned import DENSE, HELD_UNDER, Sentence  # noqa: E402
from monitor.judgement.text import html_to_text  # noqa: E402

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_dir", nargs="?", type=Path, default=labelled_sets.DEFAULT_EVAL)
    parser.add_argument("--encode-only", action="store_true", help="fill the cache of vectors and stop")
    parser.add_argument("--every-set", action="store_true", help="also every sentiment set, trained without it")
    args = parser.parse_args()
    sets = labelled_sets.load(args.eval_dir)
    encoder = encoders.load()
    encoded = {name: labelled_sets.encoded(name, [html_to_text(t) for t in data.texts], encoder)
               for name, data in sets.items()}
    if args.encode_only:
        return
    import numpy as np
    import sentiment_eval
    from monitor.judgement.sentiment import Scorer
    from monitor.judgement.training import auc, f1

    started = time.perf_counter()
    scorer = Scorer()
    data = sentiment_eval.Prepared(args.eval_dir, scorer)
    vectors = np.vstack([encoded[name] for name in data.names])
    rows = [dict(zip(DENSE, row)) for row in data.dense]  # the features as the heads read them
    y, group = np.asarray(data.labels, float), np.asarray(data.group)
    complaint = np.isin(group, list(labelled_sets.COMPLAINT_SETS))
    print(f"prepared {len(y):,} texts in {time.perf_counter() - started:.0f} s")

    def encoder_heads(train, test, model=None):
        """The sentence heads trained on ``train`` as train_assassin trains them (the complaint head
        on its complaint texts, the negative head on the rest): each one's log-odds on ``test``, and
        with ``model`` (the word heads trained on ``train``) the cascade's floor by the shipped procedure."""
        heads = {}
        for name, mask in (("complaint", train & complaint), ("negative", train & ~complaint)):
            chosen = np.flatnonzero(mask)
            heads[name] = training.fit_sentence_head(vectors[chosen], [data.dense[i] for i in chosen],
                                                     y[chosen].astype(int).tolist(), group[chosen].tolist())
        sentence = Sentence(heads, 0.0, {})
        out = np.array(sentence.logits(vectors[test], [rows[i] for i in np.flatnonzero(test)])).T
        if model is None:
            return out
        idx = np.flatnonzero(train).tolist()
        fast = np.array(data.score(model, idx))
        sc, sn = np.array(sentence.logits(vectors[idx], [rows[i] for i in idx])).T
        z = np.log(fast / (1 - fast))
        four = 1 / (1 + np.exp(-(2 * z + sc + sn) / 4))
        return out, train_assassin.lines_of(fast.tolist(), four.tolist(), y[idx].astype(int).tolist(), group[idx].tolist())

    def cascaded(layer, encoded, lines):
        """The call as shipped, as log-odds: the four heads' mean where the fast call is at least the
        reading line, held under the line (``Model.cascade``) where it is under the floor, else the
        fast call; and which texts the encoder read."""
        (lc, ln), (ec, en) = layer, encoded
        floor, reads_from = lines
        fast = 1 / (1 + np.exp(-(lc + ln) / 2))
        four = train_assassin.held_under(fast, (lc + ln + ec + en) / 4, floor,
                                         np.log((0.5 - HELD_UNDER) / (0.5 + HELD_UNDER)))
        read = fast >= reads_from
        return np.where(read, four, (lc + ln) / 2), read

    def report(name, how, idx, layer, encoded, cascade=None, read=None):
        """F1 at even odds and ROC-AUC of each way to read the four heads' log-odds, and of the call
        as shipped (``cascade``, with ``read``: which texts the encoder read)."""
        gold = y[idx].astype(int).tolist()
        (lc, ln), (ec, en) = layer, encoded
        if cascade is not None:
            print(f"{name:<11} {how:<10} the cascade reads {read.mean():.0%} of these texts", flush=True)
        for label, logits in (("today's call (its two heads' mean)", (lc + ln) / 2), ("the encoder's two heads' mean", (ec + en) / 2),
                              ("the four heads' mean", (lc + ln + ec + en) / 4),
                              *((("the call as shipped (the cascade)", cascade),) if cascade is not None else ()),
                              ("today's two and the encoder's negative", (lc + ln + en) / 3),
                              ("the likelier task (the larger task mean)", np.maximum((lc + ec) / 2, (ln + en) / 2)),
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
    model = data.fit(everything[~mine].tolist())
    layer, (encoded, cascade_of) = layer_heads(model, everything[mine].tolist()), encoder_heads(~mine, mine, model)
    print(f"tweeteval   cross-set  the cascade's floor and reading line {cascade_of}")
    report("tweeteval", "cross-set", everything[mine], layer, encoded, *cascaded(layer, encoded, cascade_of))
    mine = group == "complaints"
    others = everything[~mine].tolist()
    layer, encoded, cascade, read = np.zeros((2, len(y))), np.zeros((2, len(y))), np.zeros(len(y)), np.zeros(len(y), bool)
    warm = data.fit(others).to_dict()
    for fold in sentiment_eval.folds(everything[mine].tolist(), data.labels, 10):
        held = np.zeros(len(y), bool)
        held[fold] = True
        fold = np.flatnonzero(held).tolist()
        model = data.fit(others + [i for i in everything[mine] if not held[i]], start=warm)
        layer[:, fold] = layer_heads(model, fold)
        encoded[:, fold], cascade_of = encoder_heads(~held, held, model)
        cascade[fold], read[fold] = cascaded(layer[:, fold], encoded[:, fold], cascade_of)
    report("complaints", "10-fold", everything[mine], layer[:, mine], encoded[:, mine], cascade[mine], read[mine])
    if args.every_set:
        print("\nEvery sentiment set, trained without it: the fast call → the four heads' mean → the call as shipped"
              " (the cascade; F1 at even odds, ROC-AUC)")
        for name in data.names:
            mine = group == name
            if name in labelled_sets.COMPLAINT_SETS:
                continue  # trained without the complaints there is no complaint head: their 10-fold is above
            gold = y[mine].astype(int).tolist()
            model = data.fit(everything[~mine].tolist())
            layer = layer_heads(model, everything[mine].tolist())
            encoded, floor = encoder_heads(~mine, mine, model)
            (lc, ln), (ec, en) = layer, encoded
            shipped, read = cascaded(layer, encoded, floor)
            scores = [(1 / (1 + np.exp(-z))).tolist() for z in ((lc + ln) / 2, (lc + ln + ec + en) / 4, shipped)]
            areas = [auc(p, gold) for p in scores]
            print(f"{name:<14} F1 " + " → ".join(f"{f1(p, gold, 0.5):.3f}" for p in scores)
                  + "   ROC-AUC " + " → ".join(f"{a:.3f}" for a in areas)
                  + f" ({areas[2] - areas[0]:+.3f}; the encoder read {read.mean():.0%})", flush=True)
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
