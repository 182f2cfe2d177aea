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
import string
from collections.abc import Callable, Sequence
from typing import NamedTuple

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    C_INCR,
    N_SCALAR,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
    normalize,
)

from monitor.judgement import sentence
from monitor.judgement.assassin import cue_phrases, cues, features, reasons_for, score_features
from monitor.judgement.language import UNDETERMINED
from monitor.judgement.learned import Model, name_words
from monitor.models import Score

MAX_SENTENCE_WORDS = 60
# A sentence ends after a word ending in . ! or ? and at a line break; "e.g. this" splits too, harmlessly.
_SENTENCE_END = frozenset(".!?")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``, none longer than MAX_SENTENCE_WORDS words."""
    return [" ".join(tokens) for tokens in _sentence_tokens(text)]


def _sentence_tokens(text: str) -> list[list[str]]:
    """The sentences as lists of whitespace tokens (what VADER tokenises), each split once.

    Splitting the words first and cutting after each that ends a sentence is the same as
    splitting the text at whitespace after . ! ? and at line breaks (a regex look-behind at
    every character costs twice as much)."""
    out: list[list[str]] = []
    for line in text.split("\n") if "\n" in text else (text,):
        words = line.split()
        start = 0
        for i, word in enumerate(words):
            if word[-1] in _SENTENCE_END:
                out.append(words[start : i + 1])
                start = i + 1
        if start < len(words):
            out.append(words[start:] if start else words)
    if any(len(words) > MAX_SENTENCE_WORDS for words in out):
        out = [words[i : i + MAX_SENTENCE_WORDS] for words in out for i in range(0, len(words), MAX_SENTENCE_WORDS)]
    return out


_NEGATE = frozenset(NEGATE)


def _is_negation(word: str) -> bool:
    return word in _NEGATE or "n't" in word


def _some_caps(words: list[str]) -> bool:
    """VADER's ``allcap_differential`` (some words in capitals, not all) with the loop in C."""
    return any(map(str.isupper, words)) and not all(map(str.isupper, words))


def _words(tokens: list[str]) -> list[str]:
    # Most tokens are plain words: isalnum() settles those before the slower strip.
    return [
        word if word.isalnum() or len(stripped := word.strip(string.punctuation)) <= 2 else stripped for word in tokens
    ]


# Every word of a multi-word idiom or booster: a sentence window without one cannot hold any.
_IDIOM_WORDS = frozenset(w for key in [*SPECIAL_CASES, *(k for k in BOOSTER_DICT if " " in k)] for w in key.split())


def _valence(lexicon: dict[str, float], words: list[str], lowers: list[str], i: int, cap_diff: bool) -> float:
    """VADER's ``sentiment_valence`` for the lexicon word ``i`` of a sentence, over words lower-cased
    once: the same steps in the same order (the "no" rules, capitals, three words back for
    boosters, negation and idioms, "least"), so the same number. VADER lower-cases the neighbours
    at every look and its negation and idiom checks the whole input for every word, which is what
    makes it quadratic."""
    lower = lowers[i]
    valence = lexicon[lower]
    if lower == "no" and i != len(words) - 1 and lowers[i + 1] in lexicon:
        valence = 0.0
    if (i > 0 and lowers[i - 1] == "no") or (i > 1 and lowers[i - 2] == "no") or (
        i > 2 and lowers[i - 3] == "no" and lowers[i - 1] in ("or", "nor")
    ):
        valence = lexicon[lower] * N_SCALAR
    if cap_diff and words[i].isupper():
        valence = valence + C_INCR if valence > 0 else valence - C_INCR
    for start_i in range(min(i, 3)):
        j = i - start_i - 1
        before = lowers[j]
        if before in lexicon:
            continue
        if before in BOOSTER_DICT:  # scalar_inc_dec, dampened with distance
            scalar = BOOSTER_DICT[before]
            if valence < 0:
                scalar *= -1
            if cap_diff and words[j].isupper():
                scalar = scalar + C_INCR if valence > 0 else scalar - C_INCR
            valence = valence + scalar * (1.0, 0.95, 0.9)[start_i]
        valence = _negation(valence, lowers, start_i, i)
        if start_i == 2:
            valence = _idioms(valence, lowers[i - 3 : i + 3])
    if i > 0 and lowers[i - 1] == "least" and "least" not in lexicon:  # _least_check
        if i == 1 or lowers[i - 2] not in ("at", "very"):
            valence = valence * N_SCALAR
    return valence


def _negation(valence: float, lowers: list[str], start_i: int, i: int) -> float:
    """VADER's ``_negation_check`` reading the three words it needs."""
    w1 = lowers[i - 1]
    if start_i == 0:
        return valence * N_SCALAR if _is_negation(w1) else valence
    w2 = lowers[i - 2]
    if start_i == 1:
        if w2 == "never" and w1 in ("so", "this"):
            return valence * 1.25
        if w2 == "without" and w1 == "doubt":
            return valence
        return valence * N_SCALAR if _is_negation(w2) else valence
    w3 = lowers[i - 3]
    if (w3 == "never" and w2 in ("so", "this")) or w1 in ("so", "this"):
        return valence * 1.25
    if w3 == "without" and (w2 == "doubt" or w1 == "doubt"):
        return valence
    return valence * N_SCALAR if _is_negation(w3) else valence


def _idioms(valence: float, w: list[str]) -> float:
    """VADER's ``_special_idioms_check`` over the six lower-cased words around the word (three
    before it, itself, two after; fewer at the end of the sentence)."""
    if _IDIOM_WORDS.isdisjoint(w):
        return valence
    twoone, threetwo = f"{w[1]} {w[2]}", f"{w[0]} {w[1]}"
    threetwoone = f"{w[0]} {twoone}"
    for seq in (f"{w[2]} {w[3]}", f"{twoone} {w[3]}", twoone, threetwoone, threetwo):
        if seq in SPECIAL_CASES:
            valence = SPECIAL_CASES[seq]
            break
    if len(w) > 4 and (zeroone := f"{w[3]} {w[4]}") in SPECIAL_CASES:
        valence = SPECIAL_CASES[zeroone]
    if len(w) > 5 and (zeroonetwo := f"{w[3]} {w[4]} {w[5]}") in SPECIAL_CASES:
        valence = SPECIAL_CASES[zeroonetwo]
    for n_gram in (threetwoone, threetwo, twoone):
        if n_gram in BOOSTER_DICT:
            valence = valence + BOOSTER_DICT[n_gram]
    return valence


class Scorer:
    """VADER's analyzer (its lexicons load once, ~50 ms) applied sentence by sentence."""

    def __init__(self) -> None:
        self.vader = SentimentIntensityAnalyzer()
        # VADER's lexicon holds texting numbers ("143": I love you, "187": murder, "86": get rid
        # of); read as sentiment they make "refund #143" glad and "order 187" furious: numbers
        # are not scored (the one place this scorer differs from bare VADER, on purpose).
        self._scored = frozenset(k for k in self.vader.lexicon.keys() - BOOSTER_DICT.keys() if not k.isdigit())
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

    def _valences(self, tokens: list[str], aside: frozenset[str] = frozenset(),
                  seen: list[str] | None = None) -> tuple[list[float], float]:
        """The per-word valences VADER's ``polarity_scores`` computes before summing for one
        sentence's tokens, and the part of their sum that the words ``aside`` (courtesy words,
        and praise slang in praise) contribute; ``seen`` collects the sentence's lower-cased words."""
        vader, lexicon = self.vader, self.vader.lexicon
        words = _words(tokens)
        lowers = " ".join(words).lower().split()
        if len(lowers) != len(words):  # a character whose lower case is two words: never seen, but be exact
            lowers = [w.lower() for w in words]
        if seen is not None:
            seen.extend(lowers)
        # Words outside the lexicon (or boosters) score 0 in sentiment_valence too: only the
        # sentiment words are visited, which is the bulk of the speed-up on long texts.
        hits = [i for i, w in enumerate(lowers) if w in self._scored]
        sentiments: list[float] = [0] * len(words)
        if not hits:
            return sentiments, 0.0
        cap_diff = _some_caps(words)
        courtesy = 0.0
        courteous: list[int] = []
        last = len(words) - 1
        for i in hits:
            lower = lowers[i]
            if lower == "kind" and i < last and lowers[i + 1] == "of":
                continue
            if lower in aside:
                courteous.append(i)
            sentiments[i] = _valence(lexicon, words, lowers, i, cap_diff)
        if "but" in lowers:  # otherwise VADER's _but_check changes nothing
            sentiments = vader._but_check(words, sentiments)
        for i in courteous:
            courtesy += sentiments[i]
        return sentiments, courtesy

    def compound(self, text: str) -> float:
        """VADER's compound score (-1..1) of ``text``, in time linear in its length."""
        return self.analyse(text).compound

    def analyse(self, text: str, about: re.Pattern | None = None) -> "Reading":
        """Compound of the whole text, of the sentences ``about`` matches, and its tone (see ``Reading``).

        One pass: each sentence's valences are computed once and summed every way.
        """
        praise = not text.isascii() and not PRAISE_EMOJI.isdisjoint(text)
        aside = COURTESY | SLANG if praise else COURTESY
        # Each marker holds "/s", "#" or "ight": substring tests spare most posts the regex.
        marked = "/s" in text or "#" in text or "ight" in text or "IGHT" in text
        sarcastic = marked and SARCASM.search(text) is not None
        text = self._demojize(text)
        total = near = courtesy = 0.0
        sentences = _sentence_tokens(text)
        # Sentences are pieces of the text: no match in the text, none in a sentence; with one
        # sentence, the text's answer is the sentence's. Only the rest needs a search each.
        whole = about is not None and about.search(text) is not None
        per_sentence = whole and len(sentences) > 1
        found_about = whole and not per_sentence
        seen: list[str] = []
        for tokens in sentences:
            values, polite = self._valences(tokens, aside, seen)
            value = float(sum(values))
            total += value
            courtesy += polite
            if per_sentence and about.search(" ".join(tokens)):
                near += value
                found_about = True
        if whole and not per_sentence:
            near = total
        emphasis = self.vader._punctuation_emphasis(text)
        tone = _compound(total - courtesy, emphasis)
        irony = None
        if not sarcastic and tone > 0:  # praise beside a failure, nothing resolved: sarcasm unmarked
            failure = SITUATION.search(text)
            if failure is not None and RESOLVED.search(text) is None:
                sarcastic, irony = True, failure.group(0).lower()
        return Reading(
            _compound(total, emphasis),
            _compound(near, emphasis) if found_about else None,
            -abs(tone) if sarcastic else tone,
            praise,
            sarcastic,
            list(dict.fromkeys(seen)),
            irony,
        )


# Formulaic politeness VADER reads as praise: "please help", "thanks in advance", "hope you can".
# A customer writing to a company uses them while complaining, so the assassin call reads the
# text's sentiment without them (the stored compound stays VADER's).
COURTESY = frozenset(
    "please pls plz thanks thank thx ty help appreciate appreciated kindly hope hoping welcome dear cheers".split()
)


# Praise slang VADER reads as pain ("Globex is sick! 🔥"): next to praise emoji (🔥 itself is
# "fire", -1.4 in VADER's lexicon) these words say how good it is, so the call's tone leaves them out.
PRAISE_EMOJI = frozenset("🔥💯😍🙌👏🤩😎🥳✨👌💪❤🥰🤘😻💖💕")
SLANG = frozenset("sick insane crazy wicked killer nasty fire dope unreal savage badass filthy mad lit".split())
# An explicit sarcasm marker turns praise words into a complaint: "Great, lost my order again /s".
SARCASM = re.compile(r"(?<!\S)/s\b|#(?:sarcasm|not)\b|\byeah,? right\b", re.IGNORECASE)
SARCASM_REASON = "sarcasm marker: its praise read as meant"
# Sarcasm without a marker is praise beside a plain failure ("Great, Acme is down again. Just
# great.", "Love waiting 3 hours for support"): the contrast of a positive sentiment and a negative
# situation (Riloff et al., EMNLP 2013). Unless the text says the failure was put right or turns
# ("but", "fixed", "thanks to"), its praise is read as the opposite, as after a marker.
SITUATION = re.compile(
    r"(?<![\w'])(?:outage|(?:is|was|been) down|(?:down|lost|missing|late|broken|crashed|failed) again|"
    r"crash(?:ed|es|ing)|broke (?:my|our|again|down)|lost (?:my|our|all)|deleted (?:my|our|all)|locked (?:me |us )?out|"
    r"charged (?:me |us )?twice|double[- ]charged|overcharged|still waiting|no (?:response|reply|answer)|"
    r"never (?:arrived|came|responded|replied)|on hold for|(?:hours?|days?|weeks?) (?:on hold|waiting)|"
    r"waiting (?:\d+|an?|two|three|four|five|six) (?:hours?|days?|weeks?)|cancell?ed my|"
    r"(?:doesn'?t|does not|didn'?t|won'?t|stopped|can'?t|cannot) (?:work|load|connect|log ?in|sign ?in|open|sync))(?![\w'])",
    re.IGNORECASE)
RESOLVED = re.compile(r"(?<![\w'])(?:but|though|although|however|fix(?:ed|es|ing)?|resolved|restored|back (?:up|online)|"
                      r"working again|sorted|solved|thanks? to|help(?:ed|ing|ful)?|quick(?:ly)?|fast|soon)(?![\w'])",
                      re.IGNORECASE)


class Reading(NamedTuple):
    """What one pass of the scorer reads from a text."""

    compound: float  # VADER's compound of the whole text
    about: float | None  # compound of the sentences naming the brand (None: no sentence does)
    tone: float  # the compound as the assassin call reads it: COURTESY words left out, SLANG too
    #              in praise, and never positive after a SARCASM marker
    praise: bool = False  # praise emoji: SLANG words are praise here
    sarcastic: bool = False  # a SARCASM marker: its praise words mean the opposite
    words: list[str] = []  # its distinct words as VADER reads them: lower-cased, punctuation off, emoji in words
    irony: str | None = None  # sarcastic without a marker: the failure its praise stands beside (SITUATION)

    @property
    def meant(self) -> float:
        """The compound as the text means it: after a sarcasm marker its praise is not praise, so
        never above the tone (what the buckets and the learned layer read; ``compound`` stays VADER's)."""
        return min(self.compound, self.tone) if self.sarcastic else self.compound

    def read_words(self, lexicon: dict[str, float]) -> list[str]:
        """The words the learned layer reads: all but praise slang in praise, and after a sarcasm
        marker the words VADER reads as praise (the marker says they mean the opposite); numbers
        and links as one word each (``steady``)."""
        if not (self.praise or self.sarcastic):
            return steady(self.words)
        skip = SLANG if self.praise else frozenset()
        # Numbers steadied first: VADER's lexicon holds texting numbers ("143" is praise), which
        # would otherwise leave one copy of a sarcastic complaint a word short.
        return [w for w in steady(self.words) if w not in skip and not (self.sarcastic and lexicon.get(w, 0.0) > 0)]


_DIGITS = re.compile(r"\d+")
_LINK = ("http://", "https://", "www.")


def steady(words: list[str]) -> list[str]:
    """``words`` with each run of digits read as ``0`` and each link as ``url``, distinct: the
    same complaint numbered #29 or #143, or with another link, is the same complaint (the call
    read each number's letters, and one copy of a text flipped to advocate on its number)."""
    joined = " ".join(words)
    if not _DIGITS.search(joined) and "http" not in joined and "www." not in joined:
        return words  # most texts: nothing to change, one scan in C
    out: dict[str, None] = {}
    for word in words:
        if word.startswith(_LINK):
            word = "url"
        elif _DIGITS.search(word):  # "#29", "29" and "#143" alike: the number, its marks aside
            word = _DIGITS.sub("0", word.strip(string.punctuation)) or "0"
        out[word] = None
    return list(out)


def _compound(total: float, emphasis: float) -> float:
    """VADER's compound from the sum of word valences: score_valence's arithmetic without its
    pos/neu/neg split. The text's ! and ? emphasis (capped) pushes the sum away from zero, then
    alpha-normalisation (a zero sum stays 0, as with no words at all).
    """
    if total > 0:
        total += emphasis
    elif total < 0:
        total -= emphasis
    return round(normalize(total), 4)


def bucket_for(compound: float, assassin_score: float, *, advocate_above: float, assassin_threshold: float) -> str:
    """advocate, apathetic or assassin: the assassin call first, then the compound score."""
    if assassin_score >= assassin_threshold:
        return "assassin"
    if compound >= advocate_above:
        return "advocate"
    return "apathetic"


def score(
    scorer: Scorer,
    text: str,
    language: str | None,
    *,
    advocate_above: float,
    assassin_threshold: float,
    about: re.Pattern | None = None,
) -> Score:
    """Score a mention's plain text; leave it unscored, with the reason, if VADER cannot read it.

    ``about`` finds the brand in a sentence, so negativity next to the brand's name counts.
    """
    return score_all(scorer, [(text, language, about)], advocate_above=advocate_above,
                     assassin_threshold=assassin_threshold)[0]


def score_all(
    scorer: Scorer,
    items: Sequence[tuple[str, str | None, re.Pattern | None]],
    *,
    advocate_above: float,
    assassin_threshold: float,
    model: Model | None = None,
    calls: list | None = None,
    encoder: Callable[[], object | None] | None = None,
    encoder_mode: str = "auto",
) -> list[Score]:
    """``score`` for a batch of (text, language, about): each stage runs over the whole batch
    before the next (VADER, then the cue scan, then the call), which keeps each one's code and
    tables in the CPU's caches: about a fifth faster than text by text (benchmarks/pipeline.py).

    With a ``model`` (the learned layer, see ``learned``) the call is its probability, read from
    the words and from VADER's and the cues' features; without one, the hand-weighted cue rule.
    ``calls``, when given, receives each item's ``Call`` (None where unscored or without a model):
    ``classify`` shows its heads without reading the text a second time. ``encoder`` (a function
    giving the loaded sentence encoder, or None where it cannot run) lets the model's sentence
    heads read the posts the cascade sends them (``sentence.read``, ``encoder_mode``)."""
    out: list[Score | None] = [None] * len(items)
    if calls is not None:
        calls[:] = [None] * len(items)
    todo = []
    for n, (text, language, about) in enumerate(items):
        if language == UNDETERMINED:
            out[n] = Score(None, None, (), "language uncertain: too short to tell English from another language; "
                                           "not scored rather than misread")
        elif language and language != "en":
            out[n] = Score(None, None, (), f"language {language!r} is not English; VADER scores English only")
        elif not text or text.isspace():
            out[n] = Score(None, None, (), "no text to score")
        else:
            todo.append(n)
    readings = [scorer.analyse(items[n][0], items[n][2]) for n in todo]
    found_all = [cues(items[n][0]) for n in todo]
    values_all = [features(items[n][0], reading.compound, brand_compound=reading.about, found=found, tone=reading.tone)
                  for n, reading, found in zip(todo, readings, found_all)]
    read: list = [None] * len(todo)
    if model is not None:
        read = [model.call_words(reading.read_words(scorer.vader.lexicon), layer_features(values, reading))
                for reading, values in zip(readings, values_all)]
        if encoder is not None and model.sentence is not None:
            read = sentence.read(read, [items[n][0] for n in todo], model, encoder, mode=encoder_mode,
                                 threshold=assassin_threshold, abouts=[items[n][2] for n in todo])
    for n, reading, found, values, call in zip(todo, readings, found_all, values_all, read):
        text, compound = items[n][0], reading.compound
        if call is not None:
            assassin_score = round(call.probability, 4)
            if calls is not None:
                calls[n] = call
        else:
            assassin_score = round(score_features(values), 4)
        # Sarcasm is not advocacy: its praise words are read as the marker says.
        liking = reading.meant
        bucket = bucket_for(liking, assassin_score, advocate_above=advocate_above, assassin_threshold=assassin_threshold)
        if bucket == "assassin":
            reasons = (tuple(call.reasons(skip=name_words(text, items[n][2])) + cue_phrases(found)) if call
                       else tuple(reasons_for(text, compound, values, found=found)))
            if reading.sarcastic:  # why its praise words did not count
                reasons += (f"praise beside a failure ({reading.irony}): read as sarcasm" if reading.irony
                            else SARCASM_REASON,)
        else:
            reasons = (f"compound {compound:+.2f}" + (f" ≥ {advocate_above:+.2f}" if bucket == "advocate" else ""),)
            if call is not None and call.held:
                reasons += (HELD_REASON,)
        out[n] = Score(compound, bucket, reasons, None, assassin_score)
    return out


HELD_REASON = ("the sentence as a whole reads as a complaint, its words far from one: held under the line "
               "(as a notice reads; `monitor label` it if it is a complaint)")


def layer_features(values: dict[str, float], reading: Reading) -> dict[str, float]:
    """The cue features ``values`` with VADER's readings beside them, as the learned layer reads
    them: the compound as meant (``Reading.meant``) and the tone. One place for scoring, ``classify``
    and training, so what the layer was trained on is what it is given."""
    return {**values, "compound": reading.meant, "tone": reading.tone}


