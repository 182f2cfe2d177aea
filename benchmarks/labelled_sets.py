"""The labelled sets of ``../shared/eval`` as the assassin call reads them: text, 1 or 0, brand term.

Each set says what its positives are; a set teaches one head of the learned layer:

| set | positive (1) | head |
|---|---|---|
| ``complaints`` (brand complaints, ACL 2019, the shared half) | a complaint to or about a company | complaint |
| ``tweeteval`` (SemEval-2017 4A validation + test) | negative (vs neutral or positive) | negative |
| ``apple`` (Apple tweets, CrowdFlower) | negative (1 vs 3, 5; not_relevant left out) | negative |
| ``sentiment140`` (the hand-labelled test set) | negative (0 vs 2, 4) | negative |
| ``uci_amazon``, ``uci_imdb``, ``uci_yelp`` (Kotzias et al.) | negative (0 vs 1) | negative |
| ``vader_tweets``, ``vader_amazon``, ``vader_movies``, ``vader_nyt`` (Hutto & Gilbert) | human mean ≤ −0.5 | negative |

The data are read from the folder given, never copied into the repository.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import NamedTuple

DEFAULT_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
VADER_NEGATIVE = -0.5  # a human mean at or below this is negative (VADER's own neutral band is ±0.05 of 4)
COMPLAINT_SETS = ("complaints",)


class Labelled(NamedTuple):
    texts: list[str]
    labels: list[int]
    brands: list[str | None]  # the brand term of each text, where the set has one


def load(root: Path = DEFAULT_EVAL) -> dict[str, Labelled]:
    """Every labelled set found under ``root`` (a missing one is left out)."""
    sets: dict[str, Labelled] = {}
    complaints = root / "brand_complaints" / "complaints-dev.csv"
    if complaints.exists():
        with complaints.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        sets["complaints"] = Labelled([r["text"] for r in rows], [int(r["complaint"]) for r in rows], [None] * len(rows))
    tweeteval = root / "tweeteval_sentiment"
    if (tweeteval / "test_text.txt").exists():
        texts, labels = [], []
        for split in ("val", "test"):
            texts += (tweeteval / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
            labels += [int(x == "0") for x in (tweeteval / f"{split}_labels.txt").read_text().split()]
        sets["tweeteval"] = Labelled(texts, labels, [None] * len(texts))
    apple = next(root.glob("apple_twitter_sentiment/*.csv"), None)
    if apple:
        with apple.open(encoding="latin-1", newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["sentiment"] in ("1", "3", "5")]
        sets["apple"] = Labelled([r["text"] for r in rows], [int(r["sentiment"] == "1") for r in rows], ["apple"] * len(rows))
    s140 = next(root.glob("sentiment140_test/*.csv"), None)
    if s140:
        with s140.open(encoding="latin-1", newline="") as f:
            rows = [r for r in csv.reader(f) if len(r) >= 6]
        sets["sentiment140"] = Labelled([r[5] for r in rows], [int(r[0] == "0") for r in rows], [r[3] for r in rows])
    for path in sorted(root.glob("uci_sentiment_sentences/*_labelled.txt")):
        texts, labels = [], []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            text, _, label = line.rpartition("\t")
            if label.strip() in ("0", "1"):
                texts.append(text)
                labels.append(int(label.strip() == "0"))
        sets["uci_" + path.name.split("_")[0]] = Labelled(texts, labels, [None] * len(texts))
    names = {"tweets": "vader_tweets", "amazonReviewSnippets": "vader_amazon", "movieReviewSnippets": "vader_movies",
             "nytEditorialSnippets": "vader_nyt"}
    for path in sorted(root.glob("vader/*_GroundTruth.txt")):
        texts, labels = [], []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) >= 3:
                texts.append(parts[2].strip())
                labels.append(int(float(parts[1]) <= VADER_NEGATIVE))
        sets[names.get(path.name.split("_")[0], path.name)] = Labelled(texts, labels, [None] * len(texts))
    return sets


def sources(root: Path = DEFAULT_EVAL) -> list[Path]:
    """The data files ``load`` reads (for a trained model's record of what it was trained on)."""
    patterns = ("brand_complaints/complaints-dev.csv", "tweeteval_sentiment/*_text.txt", "tweeteval_sentiment/*_labels.txt",
                "apple_twitter_sentiment/*.csv", "sentiment140_test/*.csv", "uci_sentiment_sentences/*_labelled.txt",
                "vader/*_GroundTruth.txt")
    return sorted(p for pattern in patterns for p in root.glob(pattern))


def encoded(name: str, texts: list[str], encoder=None, *, say=print):
    """The sentence encoder's vectors of one set's ``texts`` (an array, one row per text), kept in
    the cache folder under a key of the texts and the weights, so they are computed once per
    machine (the sets take about 7 minutes on two cores). ``encoder``: a loaded one, else loaded
    here when the cache misses."""
    import hashlib
    import time

    import numpy as np

    from monitor.judgement import encoder as encoders
    from monitor.judgement.language import cache_folder

    key = hashlib.sha256("\0".join(texts).encode() + encoders.FILES_SHA256["model.safetensors"].encode()
                         + encoders.READING.encode()).hexdigest()[:16]
    path = cache_folder() / "encoder-eval" / f"{name}-{key}.npy"
    if path.exists():
        return np.load(path)
    started = time.perf_counter()
    out = (encoder or encoders.load()).encode(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, out)
    tmp.replace(path)
    say(f"encoded {name}: {len(texts):,} texts in {time.perf_counter() - started:.0f} s")
    return out
