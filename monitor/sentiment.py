"""Sentiment with VADER, sentence by sentence, and the bucket it puts a mention in.

VADER is built for sentences: its negation and idiom checks rebuild the lower-cased word list
for every word, so bare ``polarity_scores`` costs O(n²) in the length of the text (a 33 KB text
takes about half a second, a 1 MB one minutes). We split the text into sentences (and cap a
sentence at ``MAX_SENTENCE_WORDS``), collect each sentence's word valences exactly as VADER
does, then sum them and normalise once, as VADER does for its whole input. A one-sentence text
therefore scores exactly as bare VADER; a long text costs linear time.
"""

from __future__ import annotations

import re

from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE, N_SCALAR, SentimentIntensityAnalyzer, SentiText

from monitor.models import Score

MAX_SENTENCE_WORDS = 60
# A sentence ends at . ! ? or a line break followed by space; "e.g. this" splits too, harmlessly.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``, none longer than MAX_SENTENCE_WORDS words."""
    out: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        words = sentence.split()
        if not words:
            continue
        if len(words) <= MAX_SENTENCE_WORDS:
            out.append(sentence.strip())
        else:
            out.extend(" ".join(words[i : i + MAX_SENTENCE_WORDS]) for i in range(0, len(words), MAX_SENTENCE_WORDS))
    return out


_NEGATE = frozenset(NEGATE)


def _is_negation(word: str) -> bool:
    return word in _NEGATE or "n't" in word


class _Vader(SentimentIntensityAnalyzer):
    """VADER with its negation check computed from the three words it reads, not the whole list.

    Same result as the original (tests compare both over VADER's own ground truth); the original
    lower-cases every word of the input for each of three look-backs of every sentiment word.
    """

    @staticmethod
    def _negation_check(valence: float, words_and_emoticons: list, start_i: int, i: int) -> float:
        w1 = words_and_emoticons[i - 1].lower()
        if start_i == 0:
            return valence * N_SCALAR if _is_negation(w1) else valence
        w2 = words_and_emoticons[i - 2].lower()
        if start_i == 1:
            if w2 == "never" and w1 in ("so", "this"):
                return valence * 1.25
            if w2 == "without" and w1 == "doubt":
                return valence
            return valence * N_SCALAR if _is_negation(w2) else valence
        w3 = words_and_emoticons[i - 3].lower()
        if (w3 == "never" and w2 in ("so", "this")) or w1 in ("so", "this"):
            return valence * 1.25
        if w3 == "without" and (w2 == "doubt" or w1 == "doubt"):
            return valence
        return valence * N_SCALAR if _is_negation(w3) else valence


class Scorer:
    """VADER's analyzer (its lexicons load once, ~50 ms) applied sentence by sentence."""

    def __init__(self) -> None:
        self.vader = _Vader()
        self._emoji = frozenset(ch for ch in self.vader.emojis if len(ch) == 1)

    def _demojize(self, text: str) -> str:
        """VADER's emoji-to-words step, skipped in one set test when there is no emoji."""
        if self._emoji.isdisjoint(text):
            return text
        emojis, out, prev_space = self.vader.emojis, [], True
        for ch in text:
            if ch in emojis:
                if not prev_space:
                    out.append(" ")
                out.append(emojis[ch])
                prev_space = False
            else:
                out.append(ch)
                prev_space = ch == " "
        return "".join(out).strip()

    def _valences(self, sentence: str) -> list[float]:
        """The per-word valences VADER's ``polarity_scores`` computes before summing."""
        vader = self.vader
        lexicon = vader.lexicon
        sentitext = SentiText(sentence)
        words = sentitext.words_and_emoticons
        sentiments: list[float] = []
        for i, item in enumerate(words):
            lower = item.lower()
            # Words outside the lexicon score 0 in sentiment_valence too; skipping the call is
            # the bulk of the speed-up on long texts.
            if lower not in lexicon or lower in BOOSTER_DICT or (
                lower == "kind" and i < len(words) - 1 and words[i + 1].lower() == "of"
            ):
                sentiments.append(0)
                continue
            sentiments = vader.sentiment_valence(0, sentitext, item, i, sentiments)
        return vader._but_check(words, sentiments)

    def compound(self, text: str) -> float:
        """VADER's compound score (-1..1) of ``text``, in time linear in its length."""
        text = self._demojize(text)
        valences: list[float] = []
        for sentence in split_sentences(text):
            valences.extend(self._valences(sentence))
        # score_valence adds the text's ! and ? emphasis (capped) and normalises the sum.
        return self.vader.score_valence(valences, text)["compound"]


def bucket_for(compound: float, *, advocate_above: float, assassin_below: float) -> str:
    """advocate, apathetic or assassin for a compound score and the configured thresholds."""
    if compound <= assassin_below:
        return "assassin"
    if compound >= advocate_above:
        return "advocate"
    return "apathetic"


def score(
    scorer: Scorer, text: str, language: str | None, *, advocate_above: float, assassin_below: float
) -> Score:
    """Score a mention's plain text; leave it unscored, with the reason, if VADER cannot read it."""
    if language and language != "en":
        return Score(None, None, (), f"language {language!r} is not English; VADER scores English only")
    if not text.strip():
        return Score(None, None, (), "no text to score")
    compound = scorer.compound(text)
    bucket = bucket_for(compound, advocate_above=advocate_above, assassin_below=assassin_below)
    if bucket == "assassin":
        reasons = (f"compound {compound:+.2f} ≤ {assassin_below:+.2f}",)
    elif bucket == "advocate":
        reasons = (f"compound {compound:+.2f} ≥ {advocate_above:+.2f}",)
    else:
        reasons = (f"compound {compound:+.2f} between {assassin_below:+.2f} and {advocate_above:+.2f}",)
    return Score(compound, bucket, reasons)
