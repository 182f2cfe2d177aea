"""The learned layer of the assassin call: two small linear models read beside VADER.

A hurt customer writes a complaint ("still waiting for my refund", "@AcmeHelp my order never
came") or is plainly negative about the brand. Each is a head: a logistic model over the
character n-grams (2 to 5) of each distinct word of the text, with VADER's compound, the tone
and the cue features beside them (the cues carry the polite complaint: "still waiting… please
help" reads as praise to VADER and to n-grams learnt from sentiment sets). ``complaint`` is trained on tweets to companies labelled complaint / not
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

A model may also hold two **sentence heads** (``Sentence``): logistic heads on a sentence encoder's
vector of the whole text and VADER's compound (``monitor/judgement/encoder.py``), trained on the
same sets. They read what words alone cannot ("Great, Acme is down again. Just great."). Where
they read a post, the call is the mean of all four heads' log-odds; which posts they read is
``monitor/judgement/sentence.py``'s cascade.

Pure: a model (a dict, as stored) and a text's words and features in; a probability and reasons out.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass, field
from typing import NamedTuple

DENSE = ("compound", "tone", "negativity", "positivity", "churn", "grievance", "first_person",
         "intensity", "news")  # read beside the words (assassin.features)
HEADS = ("complaint", "negative")
DEFAULT_THRESHOLD = 0.5  # the heads are trained class-balanced: even odds is the call
HELD_UNDER = 1e-4  # how far under the line a post stays that the fast call puts under the cascade's floor
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


@dataclass
class Sentence:
    """The sentence heads: per head a weight for each of the encoder's dimensions, one for each of
    its dense features (VADER's and the cues', as the word heads read them) and a bias (the
    standardisation folded in). The cascade (``auto``): a post is read by them from the fast call's
    probability ``reads_from``; under ``floor`` the fast call is sure enough that they order the post
    but cannot make it an assassin (``Model.cascade``). ``encoder``: which encoder's vectors they read."""

    heads: dict[str, dict]
    floor: float
    encoder: dict
    reads_from: float | None = None  # None: from the floor (a model trained before the two differed)
    _arrays: tuple | None = field(default=None, repr=False)

    @property
    def first_read(self) -> float:
        """The fast probability from which the cascade reads a post."""
        return self.floor if self.reads_from is None else self.reads_from

    def logits(self, vectors, dense: list[dict[str, float]]) -> list[tuple[float, ...]]:
        """Each head's log-odds for each text (``vectors``: one row per text; ``dense``: each
        text's features, as the word heads read them)."""
        import numpy as np

        if self._arrays is None:
            names = tuple(self.heads)
            features = sorted({k for n in names for k in self.heads[n]["dense"]})
            self._arrays = (np.array([self.heads[n]["vector"] for n in names], dtype=np.float64).T,
                            np.array([[self.heads[n]["dense"].get(k, 0.0) for n in names] for k in features]).reshape(len(features), len(names)),
                            np.array([self.heads[n]["bias"] for n in names]), features)
        matrix, weights, bias, features = self._arrays
        rows = np.array([[d[k] for k in features] for d in dense], dtype=np.float64).reshape(len(dense), len(features))
        out = np.asarray(vectors, dtype=np.float64) @ matrix + rows @ weights + bias
        return [tuple(map(float, row)) for row in out]

    def vector(self, name: str):
        """One head's weights on the encoder's vector (an array)."""
        import numpy as np

        return np.asarray(self.heads[name]["vector"], dtype=np.float64)

    def to_dict(self) -> dict:
        out = {"heads": self.heads, "floor": self.floor, "encoder": self.encoder}
        return out if self.reads_from is None else {**out, "reads_from": self.reads_from}


@dataclass
class Model:
    """The learned layer as shipped (or refit for one site)."""

    version: str
    heads: dict[str, Head]
    length: int  # a text with more distinct words than this is read at this density
    threshold: float
    meta: dict = field(default_factory=dict)
    sentence: Sentence | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "Model":
        heads = {name: Head(h["bias"], h["grams"], h["dense"]) for name, h in data["heads"].items()}
        read = data.get("sentence")
        sentence = Sentence(read["heads"], read["floor"], read["encoder"], read.get("reads_from")) if read else None
        return cls(data["version"], heads, data["length"], data["threshold"], data.get("meta", {}), sentence)

    def to_dict(self) -> dict:
        out = {"version": self.version, "length": self.length, "threshold": self.threshold, "meta": self.meta,
               "heads": {n: {"bias": h.bias, "dense": h.dense, "grams": h.grams} for n, h in self.heads.items()}}
        if self.sentence is not None:
            out["sentence"] = self.sentence.to_dict()
        return out

    def __post_init__(self) -> None:
        # The call is the mean of the heads' log-odds, so its bias and dense weights are the
        # heads' means; each head is read on its own only for the reasons.
        self._names = tuple(self.heads)
        n = len(self._names)
        self._bias = sum(h.bias for h in self.heads.values()) / n
        self._head_weights = tuple(tuple(self.heads[name].dense.get(k, 0.0) for k in DENSE) for name in self._names)
        self._weights = tuple(sum(column) / n for column in zip(*self._head_weights))
        self._words: dict[str, tuple[float, ...]] = {}  # a word's score in each head

    def _word(self, word: str) -> tuple[float, ...]:
        value = tuple(self.heads[name].word(word) for name in self._names)
        if len(self._words) >= CACHE_WORDS:
            self._words.clear()
        self._words[word] = value
        return value

    def call_words(self, words: list[str], dense: dict[str, float]) -> "Call":
        """The assassin probability of a text, given its distinct words as VADER reads them
        (``sentiment.Reading.read_words``) and its ``dense`` features (VADER's and the cues'), and why."""
        scale = min(1.0, self.length / len(words)) if words else 1.0
        values = list(map(self._words.get, words))  # the loops in C: most words are cached
        if None in values:
            values = [self._word(w) if v is None else v for v, w in zip(values, words)]
        z = (self._bias + sum(map(sum, values)) * scale / len(self._names)
             + sum(map(operator.mul, self._weights, map(dense.__getitem__, DENSE))))
        return Call(_sigmoid(z), self, words, values, dense, scale, z)

    def with_sentence(self, call: "Call", logits: tuple[float, ...], carried: tuple[str, ...] = ()) -> "Call":
        """``call`` with the sentence heads' log-odds beside the word heads': the mean of all the
        heads' log-odds (``carried``: the words the sentence heads' reading rests on, for reasons)."""
        n = len(self._names)
        z = (call.fast * n + sum(logits)) / (n + len(logits))
        return call._replace(probability=_sigmoid(z), sentence=logits, carried=carried)

    def cascade(self, call: "Call", logits: tuple[float, ...], threshold: float) -> "Call":
        """``call`` as the cascade reads it with the sentence heads' log-odds: their mean with the
        word heads' (``with_sentence``), except that a post the fast call puts under the sentence
        heads' ``floor`` stays under the line ``threshold`` (``HELD_UNDER`` below it): there the
        fast call is sure enough ("Acme Cloud status page says maintenance tonight", which the
        sentence complaint head alone calls a complaint), and the sentence heads only order it."""
        read = self.with_sentence(call, logits)
        if call.fast_probability < self.sentence.floor and read.probability > threshold - HELD_UNDER:
            return read._replace(probability=threshold - HELD_UNDER, held=True)
        return read


class Call(NamedTuple):
    """What the learned layer says of one text (a tuple: one is made per post; each head is
    read on its own only when asked)."""

    probability: float
    model: Model
    words: list[str]
    per_word: list[tuple[float, ...]]  # each word's score in each head (the model's head order)
    dense: dict[str, float]
    scale: float
    fast: float = 0.0  # the word heads' mean log-odds (the fast call)
    sentence: tuple[float, ...] | None = None  # the sentence heads' log-odds, where they read the post
    carried: tuple[str, ...] = ()  # the words their reading rests on most (see sentence.carried)
    held: bool = False  # the four heads called it, but the fast call put it under the floor (Model.cascade)

    @property
    def fast_probability(self) -> float:
        """What the word heads alone say (the call before the sentence heads read it)."""
        return _sigmoid(self.fast)

    @property
    def read(self) -> dict[str, tuple[float, tuple[float, ...]]]:
        """Per head: its log-odds and each word's score."""
        dense = list(map(self.dense.__getitem__, DENSE))
        per_head = list(zip(*self.per_word)) if self.per_word else [()] * len(self.model._names)
        out = {}
        for name, scores, weights in zip(self.model._names, per_head, self.model._head_weights):
            out[name] = (self.model.heads[name].bias + sum(scores) * self.scale + sum(map(operator.mul, weights, dense)),
                         scores)
        return out

    @property
    def sentences(self) -> dict[str, float]:
        """Each sentence head's log-odds by name (empty where they did not read the post)."""
        if self.sentence is None or self.model.sentence is None:
            return {}
        return dict(zip(self.model.sentence.heads, self.sentence))

    @property
    def heads(self) -> dict[str, float]:
        """Each head's own probability (a sentence head's as ``sentence <name>``)."""
        out = {name: round(_sigmoid(logit), 4) for name, (logit, _) in self.read.items()}
        out.update((f"sentence {name}", round(_sigmoid(logit), 4)) for name, logit in self.sentences.items())
        return out

    def reasons(self, *, top: int = 4, skip: frozenset[str] = frozenset()) -> list[str]:
        """In words: the heads that called it, each with the words that pushed it most (small
        words and ``skip``, the brand's own name (``name_words``), aside). A sentence head that
        agrees with a word head adds "and the sentence as a whole"; one that calls it alone names
        the words its reading rests on (``carried``)."""
        out, read, sentences = [], self.read, self.sentences
        for name, label in (("complaint", "complaint"), ("negative", "negative about the brand")):
            by_words = name in read and read[name][0] >= 0
            by_sentence = sentences.get(name, -1.0) >= 0
            if by_words:
                # Distinct words, VADER's (no punctuation left); few push: filter, then sort (C beats heapq).
                pushing = [(push, word) for push, word in zip(read[name][1], self.words)
                           if push > 0.05 and len(word) > 2 and word not in SMALL_WORDS and word not in skip]
                strongest = [word for _, word in sorted(pushing, reverse=True)[:top]]
                label += " (its words and the sentence as a whole)" if by_sentence else ""
                out.append(f"{label}: {', '.join(strongest)}" if strongest else label)
            elif by_sentence:
                out.append(f"{label} (the sentence as a whole)" + (f": {', '.join(self.carried)}" if self.carried else ""))
        return out


SMALL_WORDS = frozenset("the and for are but not you your with this that have has had was were will from they them their "
                   "what when where which who why how all any can its our out about into more than then there been "
                   "being also very much some only over such just get got".split())


def name_words(text: str, about: "re.Pattern | None") -> frozenset[str]:
    """The lower-cased words of the brand's own name as ``text`` writes it (``about``'s matches): a
    reason never names them ("cloud" of "Acme Cloud" is no complaint of the post's)."""
    if about is None:
        return frozenset()
    return frozenset(word.lower() for found in about.finditer(text) for word in _WORD.findall(found.group(0)))


_WORD = re.compile(r"\w+")


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
