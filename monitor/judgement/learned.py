"""The learned layer of the assassin call: two small linear models read beside VADER.

A hurt customer writes a complaint ("still waiting for my refund", "@AcmeHelp my order never
came") or is plainly negative about the brand. Each is a head: a logistic model over the
character n-grams (2 to 5) of each distinct word of the text, with VADER's compound and the cue
features beside them. ``complaint`` is trained on tweets to companies labelled complaint / not
(Preotiuc-Pietro et al., ACL 2019) and on a site's own labels (``monitor label``); ``negative`` on
sentiment sets (TweetEval, Apple, Sentiment140, UCI, VADER's ground truth). The call is the mean
of the two heads' log-odds: a complaint that reads negative is surely one, a neutral question to
support or a news headline is not. Weights are NB-scaled (Wang & Manning's NBSVM, the strongest
simple baseline for short texts), trained by ``benchmarks/train_assassin.py`` into a versioned
file shipped in the package; ``monitor train`` writes a site's refit beside the database.

Fast because it is linear over words: a word's score (the sum of its n-grams' weights) is
computed once and cached, so a text costs one dictionary look-up per distinct word. A long text
is read at the density of a short one (its word scores scaled to ``length`` words), so a
review is not called an assassin for being long. Reasons are the words that pushed the call,
in the post's own words ("complaint: refund, waiting, still").

Pure: a model (a dict, as stored) and a text's words and features in; a probability and reasons out.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

DENSE = ("compound", "tone", "negativity", "positivity", "churn", "grievance", "first_person",
         "intensity", "news")
HEADS = ("complaint", "negative")
DEFAULT_THRESHOLD = 0.5  # the heads are trained class-balanced: even odds is the call
CACHE_WORDS = 200_000  # word scores kept per model (a few MB); the cache starts over when full
MIN_GRAM, MAX_GRAM = 2, 5


def word_grams(word: str) -> list[str]:
    """The character n-grams of one lower-cased word, padded with a space each side (a word
    shorter than an n-gram is one gram). The same as scikit-learn's ``char_wb`` per word."""
    padded = f" {word} "
    out = []
    for n in range(MIN_GRAM, MAX_GRAM + 1):
        if len(padded) <= n:
            out.append(padded)
            break
        out.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return out


def distinct_words(text: str) -> list[str]:
    """The text's distinct lower-cased whitespace-separated words, in first-seen order."""
    return list(dict.fromkeys(text.lower().split()))


@dataclass
class Head:
    """One linear head: NB-scaled n-gram weights, dense-feature weights, a bias."""

    bias: float
    grams: dict[str, float]
    dense: dict[str, float]
    _cache: dict[str, float] = field(default_factory=dict, repr=False)

    def word(self, word: str) -> float:
        """The sum of a word's n-gram weights (cached)."""
        value = self._cache.get(word)
        if value is None:
            grams = self.grams
            value = 0.0
            for gram in word_grams(word):
                value += grams.get(gram, 0.0)
            if len(self._cache) >= CACHE_WORDS:
                self._cache.clear()
            self._cache[word] = value
        return value

    def logit(self, words: list[str], dense: dict[str, float], scale: float) -> float:
        """The head's log-odds for a text (its words' scores × the length scale, the dense features)."""
        values = list(map(self._cache.get, words))  # the loop in C: most words are cached
        if None in values:
            values = [self.word(w) if v is None else v for v, w in zip(values, words)]
        z = self.bias + sum(values) * scale
        for name, weight in self.dense.items():
            z += weight * dense.get(name, 0.0)
        return z


@dataclass
class Model:
    """The learned layer as shipped (or refit for one site)."""

    version: str
    heads: dict[str, Head]
    length: int  # a text with more distinct words than this is read at this density
    threshold: float
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> "Model":
        heads = {name: Head(h["bias"], h["grams"], h["dense"]) for name, h in data["heads"].items()}
        return cls(data["version"], heads, data["length"], data["threshold"], data.get("meta", {}))

    def to_dict(self) -> dict:
        return {"version": self.version, "length": self.length, "threshold": self.threshold, "meta": self.meta,
                "heads": {n: {"bias": h.bias, "dense": h.dense, "grams": h.grams} for n, h in self.heads.items()}}

    def call(self, text: str, dense: dict[str, float], *, skip: frozenset[str] = frozenset()) -> "Call":
        """The assassin probability of ``text`` (with its VADER and cue ``dense`` features) and why;
        words whose letters are in ``skip`` are not read (praise slang in praise)."""
        words = distinct_words(text)
        if skip:
            words = [w for w in words if w.strip(_PUNCTUATION) not in skip]
        return self.call_words(words, dense)

    def call_words(self, words: list[str], dense: dict[str, float]) -> "Call":
        """``call`` for a text already split into its distinct words."""
        scale = min(1.0, self.length / len(words)) if words else 1.0
        logits = {name: head.logit(words, dense, scale) for name, head in self.heads.items()}
        z = sum(logits.values()) / len(logits)
        return Call(_sigmoid(z), {n: round(_sigmoid(v), 4) for n, v in logits.items()}, self, words)


@dataclass(frozen=True)
class Call:
    """What the learned layer says of one text."""

    probability: float
    heads: dict[str, float]  # each head's own probability
    model: Model
    words: list[str]

    def reasons(self, *, top: int = 4) -> list[str]:
        """In words: the heads that called it, each with the words that pushed it most (as the
        post wrote them, punctuation and small words aside)."""
        out = []
        for name, label in (("complaint", "complaint"), ("negative", "negative about the brand")):
            head = self.model.heads.get(name)
            if head is None or self.heads.get(name, 0.0) < 0.5:
                continue
            strongest: list[str] = []
            for push, word in heapq.nlargest(4 * top, zip(map(head.word, self.words), self.words)):
                plain = word.strip(_PUNCTUATION)
                if push <= 0.05 or len(strongest) == top:
                    break
                if len(plain) > 2 and plain not in _SMALL and plain not in strongest:
                    strongest.append(plain)
            out.append(f"{label}: {', '.join(strongest)}" if strongest else label)
        return out


_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?[\\]^_`{|}~…“”‘’"
_SMALL = frozenset("the and for are but not you your with this that have has had was were will from they them their "
                   "what when where which who why how all any can its our out about into more than then there been "
                   "being also very much some only over such just get got".split())


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
