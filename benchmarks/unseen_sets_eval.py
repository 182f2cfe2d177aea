"""The assassin call on labelled sets it was not shaped on: brand complaints and TweetEval.

    python benchmarks/unseen_sets_eval.py [EVAL_DIR]

EVAL_DIR (default ../shared/eval) holds ``brand_complaints/complaints-dev.csv`` (tweets to
companies' support accounts and random tweets, labelled complaint 1 / 0; half of Preotiuc-Pietro
et al., ACL 2019) and ``tweeteval_sentiment/{val,test}_{text,labels}.txt`` (0 negative, 1 neutral,
2 positive; positive here = negative). Every text goes through the stages a post takes
(``normalize``, then the batch scorer, language English) with the default threshold. Printed per
set: positives, F1 of ``bucket = assassin`` and ROC-AUC of ``assassin_score``, beside bare VADER
(score = −compound): its ROC-AUC and its F1 at the best threshold on the set itself (generous to
it). Nothing here is tuned: no learned layer exists yet (issue 15).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.ingest import normalize  # noqa: E402
from monitor.judgement.assassin import DEFAULT_THRESHOLD  # noqa: E402
from monitor.judgement.sentiment import Scorer, score_all  # noqa: E402
from monitor.models import Mention  # noqa: E402
from tests.support import NOW  # noqa: E402

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"


def auc(scores: list[float], labels: list[int]) -> float:
    """ROC-AUC by ranks (ties share their mean rank)."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(labels)
    neg = len(labels) - pos
    return (sum(r for r, y in zip(ranks, labels) if y) - pos * (pos + 1) / 2) / (pos * neg)


def f1(predicted: list[bool], labels: list[int]) -> float:
    tp = sum(1 for p, y in zip(predicted, labels) if p and y)
    fp = sum(1 for p, y in zip(predicted, labels) if p and not y)
    fn = sum(1 for p, y in zip(predicted, labels) if not p and y)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def best_f1(scores: list[float], labels: list[int]) -> float:
    return max(f1([s >= t for s in scores], labels) for t in sorted(set(scores))[:: max(1, len(set(scores)) // 400)])


def evaluate(name: str, texts: list[str], labels: list[int], scorer: Scorer) -> None:
    posts = [normalize(Mention(source="eval", id=str(i), url=None, text=t, published_at=NOW, language="en"))
             for i, t in enumerate(texts)]
    results = score_all(scorer, [(p.text, "en", None) for p in posts], advocate_above=0.5,
                        assassin_threshold=DEFAULT_THRESHOLD)
    rule = [r.assassin_score or 0.0 for r in results]
    vader = [-(r.compound or 0.0) for r in results]
    print(f"{name}: {sum(labels):,} positives of {len(labels):,}")
    print(f"  this call:   F1 {f1([r.bucket == 'assassin' for r in results], labels):.3f}   ROC-AUC {auc(rule, labels):.3f}")
    print(f"  bare VADER:  F1 {best_f1(vader, labels):.3f} (best threshold on the set)   ROC-AUC {auc(vader, labels):.3f}")


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    scorer = Scorer()
    with open(folder / "brand_complaints" / "complaints-dev.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    evaluate("brand complaints (complaint vs not)", [r["text"] for r in rows], [int(r["complaint"]) for r in rows], scorer)
    texts, labels = [], []
    for split in ("val", "test"):
        texts += (folder / "tweeteval_sentiment" / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
        labels += [int(x == "0") for x in (folder / "tweeteval_sentiment" / f"{split}_labels.txt").read_text().split()]
    evaluate("TweetEval sentiment (negative vs rest)", texts, labels, scorer)


if __name__ == "__main__":
    main()
