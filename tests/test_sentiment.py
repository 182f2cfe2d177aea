"""Sentence-level VADER: the same scores as bare VADER where it can be, linear cost, plain text."""

from __future__ import annotations

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from monitor.judgement.sentiment import MAX_SENTENCE_WORDS, Scorer, bucket_for, score, split_sentences
from monitor.judgement.text import html_to_text
from tests.support import SHARED


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer()


@pytest.fixture(scope="module")
def bare() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


@pytest.mark.parametrize(
    "text",
    [
        "VADER is smart, handsome, and funny!",
        "The book was not good at all",
        "At least it isn't a horrible book.",
        "The food was good but the service was TERRIBLE!!!",
        "I am never so happy as when it rains",
        "Without doubt a great product :)",
        "Acme support is the worst 😠 cancelling now",
        "kind of good, sort of bad",
    ],
)
def test_one_sentence_scores_exactly_as_bare_vader(scorer: Scorer, bare: SentimentIntensityAnalyzer, text: str) -> None:
    assert scorer.compound(text) == bare.polarity_scores(text)["compound"]


@pytest.mark.skipif(not (SHARED / "eval" / "vader").exists(), reason="shared eval data not present")
def test_every_one_sentence_ground_truth_text_scores_exactly_as_bare_vader(scorer: Scorer, bare) -> None:
    """Our own walk over a sentence's lexicon words (``_valence``, negation, idioms) against VADER's, on the
    18,819 texts of its ground truth that are one sentence."""
    compared, differing = 0, []
    for path in sorted((SHARED / "eval" / "vader").glob("*GroundTruth.txt")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) < 3 or len(split_sentences(scorer._demojize(parts[2]))) != 1:
                continue
            compared += 1
            if scorer.compound(parts[2]) != bare.polarity_scores(parts[2])["compound"]:
                differing.append(parts[2])
    # Numbers are not scored (VADER reads "86 minutes" as "86": get rid of): the texts that hold
    # one of its number entries differ, and only those.
    numbered = [t for t in differing if {"86", "143", "182", "187", "1337", "1432"} & set(t.lower().replace(".", " ")
                                                                                         .replace(",", " ").split())]
    assert compared > 18000 and differing == numbered and len(numbered) <= 10, differing


def test_sentences_are_split_and_capped() -> None:
    assert split_sentences("Good. Bad!\nUgly?  ") == ["Good.", "Bad!", "Ugly?"]
    long = " ".join(["word"] * (MAX_SENTENCE_WORDS * 2 + 1))
    assert [len(s.split()) for s in split_sentences(long)] == [MAX_SENTENCE_WORDS, MAX_SENTENCE_WORDS, 1]


def test_sentences_end_at_whitespace_after_end_punctuation_and_at_line_breaks() -> None:
    # The definition, as a regex split; the scorer cuts its word list instead (twice as fast).
    import random
    import re

    rule = re.compile(r"(?<=[.!?])\s+|\n+")
    pieces = ["ok", "no", ".", "!", "?", "?!", " ", "  ", "\n", "\n\n", "\t", "\r\n", "\u00a0", "\u2028", "\u3000",
              "e.g.", "...", "\x1c", " word" * (MAX_SENTENCE_WORDS + 5)]
    rng = random.Random(5)
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 25)))
        expected = [s for part in rule.split(text) for s in split_sentences(part)]  # each part: one sentence, capped
        assert split_sentences(text) == expected, repr(text)


def test_long_text_sums_sentences_like_vader(scorer: Scorer) -> None:
    text = "I love it. " * 3 + "It is awful and broken. " * 10
    assert scorer.compound(text) < -0.9


def test_html_is_stripped_and_entities_decoded() -> None:
    raw = "<p>Support was <b>awful</b> &amp; slow&#x27;s</p><p>Second&nbsp;para</p><script>alert(1)</script>"
    assert html_to_text(raw) == "Support was awful & slow's\nSecond para"
    assert html_to_text("a < b and c > d") == "a < b and c > d"


def test_whitespace_collapses_as_its_definition_says() -> None:
    # The definition: control characters and bidi overrides go, runs of spaces and tabs become one
    # space, whitespace around a line break one line break, the edges go. html_to_text gets there
    # without replacing every space by itself.
    import random
    import re

    def reference(value: str) -> str:
        value = re.sub(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", "", value)
        value = re.sub(r"[ \t\r\f\v\u00a0]+", " ", value)
        return re.sub(r"\s*\n\s*", "\n", value).strip()

    pieces = ["a", "bb", " ", "  ", "\t", "\r", "\f", "\v", "\u00a0", "\n", "\n\n", " \n ", "\u2028", "\x1c", "\u3000", "x y", "\x1b[2J", "\u202e", "\u2067", "\x85"]
    rng = random.Random(9)
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 20)))
        assert html_to_text(text) == reference(text), repr(text)


def test_buckets_from_thresholds() -> None:
    assert bucket_for(-0.6, 0.3, advocate_above=0.5, assassin_threshold=0.25) == "assassin"
    assert bucket_for(-0.6, 0.2, advocate_above=0.5, assassin_threshold=0.25) == "apathetic"
    assert bucket_for(0.7, 0.25, advocate_above=0.5, assassin_threshold=0.25) == "assassin", "the assassin call wins"
    assert bucket_for(0.7, 0.1, advocate_above=0.5, assassin_threshold=0.25) == "advocate"


def test_non_english_is_stored_unscored_with_the_reason(scorer: Scorer) -> None:
    result = score(scorer, "Acme Cloud est nul", "fr", advocate_above=0.5, assassin_threshold=0.25)
    assert result.compound is None and result.bucket is None
    assert result.unscored_reason == "language 'fr' is not English; VADER scores English only"


def test_scored_mention_carries_its_reason(scorer: Scorer) -> None:
    result = score(scorer, "Acme is terrible, I hate it", "en", advocate_above=0.5, assassin_threshold=0.25)
    assert result.bucket == "assassin" and 0.25 <= result.assassin_score <= 1
    assert result.reasons[0].startswith("negative wording (compound -0.")


@pytest.mark.parametrize(
    "text",
    [
        "@AcmeCloud still waiting for a reply to my ticket, thanks for nothing",
        "@AcmeCloud please help, I was charged twice and nobody answers",
        "I am cancelling Acme Cloud today and switching to another provider. Never again.",
        # VADER calls these positive (+0.3 to +0.7): "please", "help", "hope", "appreciate".
        "still waiting for Acme to reply, please help",
        "hope you can help, I am locked out of my Acme account",
        "I would appreciate a response Acme, my order never arrived",
        "been on hold with Acme for 2 hours, please fix this",
        "Thanks Acme, my package is lost again.",
    ],
)
def test_polite_complaints_are_assassins(scorer: Scorer, text: str) -> None:
    result = score(scorer, text, "en", advocate_above=0.5, assassin_threshold=0.25)
    assert result.bucket == "assassin", (result, scorer.compound(text))


@pytest.mark.parametrize(
    "text",
    ["I use Acme for my photos", "we moved our servers to Acme last week", "Acme announced a new region today",
     "Thank you Acme for the quick fix, you are the best!", "Acme lays off 200 staff, reports say"],
)
def test_neutral_or_happy_first_person_posts_are_not_assassins(scorer: Scorer, text: str) -> None:
    # "I" with nothing negative is most customers (the apathetic 90%), not a hurt one.
    result = score(scorer, text, "en", advocate_above=0.5, assassin_threshold=0.25)
    assert result.bucket != "assassin" and result.assassin_score == 0.0, result


def test_news_headline_with_negative_words_is_not_an_assassin(scorer: Scorer) -> None:
    result = score(scorer, "Acme Cloud shares fall after analysts report weak quarter", "en",
                   advocate_above=0.5, assassin_threshold=0.25)
    assert result.bucket != "assassin"


def test_reasons_name_the_cues(scorer: Scorer) -> None:
    result = score(scorer, "I want a refund, Acme Cloud lost my files", "en", advocate_above=0.5, assassin_threshold=0.25)
    assert any(r.startswith("complaint or churn intent: refund") for r in result.reasons)
    assert any(r.startswith("service failure or being ignored: lost my") for r in result.reasons)
    assert "first-person experience" in result.reasons


def test_same_complaint_in_three_languages(scorer: Scorer) -> None:
    from monitor.judgement.language import LanguageDetector

    detector = LanguageDetector()
    posts = {
        "en": "Acme Cloud deleted my files and support ignores me. I want a refund!",
        "fr": "Acme Cloud a supprimé mes fichiers et le support m'ignore. Je veux être remboursé !",
        "ja": "Acme Cloudが私のファイルを削除し、サポートは無視しています。返金してほしい！",
    }
    for expected, text in posts.items():
        language = detector.detect(text)
        assert language == expected
        result = score(scorer, text, language, advocate_above=0.5, assassin_threshold=0.25)
        if expected == "en":
            assert result.bucket == "assassin"
        else:
            assert result.bucket is None and result.unscored_reason.startswith(f"language '{expected}' is not English")


def test_short_or_unclear_text_is_not_called_foreign() -> None:
    from monitor.judgement.language import LanguageDetector

    detector = LanguageDetector()
    assert detector.detect("acme down lol") in (None, "en")
    assert detector.detect("Great product") in (None, "en")


def test_copies_that_differ_only_in_numbers_or_links_get_one_call(scorer: Scorer) -> None:
    """"Third Acme Cloud outage this month, I want a refund #N" was an assassin for most N and an
    advocate for #143 (VADER's texting "143", I love you) and apathetic for others (the call read
    each number's letters). Numbers and links now say nothing: one text, one call."""
    import random

    from monitor.assassin_model import ModelSource
    from monitor.judgement.sentiment import score_all

    model = ModelSource().current(None)
    rng = random.Random(5)
    templates = ["Third Acme Cloud outage this month, I want a refund #{n}",
                 "Order {n} never arrived, Acme support closed ticket #{n} twice: {url}",
                 "Acme Cloud is great, {n} stars, see {url}"]
    for template in templates:
        texts = [template.format(n=n, url=url) for n in (0, 1, 7, 29, 86, 143, 182, 187, 1337, 1432, 2024,
                                                           *(rng.randint(0, 10**6) for _ in range(20)))
                 for url in ("https://acme.example/status", f"https://t.co/{rng.randint(10**5, 10**6)}")]
        scores = score_all(scorer, [(t, "en", None) for t in texts], advocate_above=0.5, assassin_threshold=0.5,
                           model=model)
        assert len({(s.compound, s.bucket, s.assassin_score) for s in scores}) == 1, (template, {
            (s.compound, s.bucket, s.assassin_score) for s in scores})
