"""The learned layer of the assassin call: the shipped model on cases a rule gets wrong, its
reasons in words, its language care, training that is deterministic, and a broken site file."""

from __future__ import annotations

import gzip
import logging
import re
from pathlib import Path

import pytest

from monitor.assassin_model import SHIPPED, ModelSource, read, site_path, write
from monitor.judgement import training
from monitor.judgement.language import UNDETERMINED, LanguageDetector
from monitor.judgement.learned import DEFAULT_THRESHOLD, Model, word_grams
from monitor.judgement.matching import compile_brand, Matcher
from monitor.judgement.sentiment import Scorer, score_all
from monitor.models import Match

GLOBEX = re.compile(r"\bGlobex", re.IGNORECASE)

# Our own hard cases (written for these tests): what a hurt customer says, and what only looks like it.
ASSASSINS = [
    "Still waiting for my refund from Globex, please help",  # polite: VADER reads it as praise (+0.61)
    "Hi Globex, could you please help me, my card was charged twice",
    "@GlobexHelp my order never arrived and nobody replies",
    "Globex is the worst, cancelling today",
    "Globex support closed my ticket again without fixing anything. Done with them.",
]
NOT_ASSASSINS = [
    "Globex is sick! 🔥🔥",  # praise slang next to praise emoji: VADER reads -0.81
    "The new Globex phone is insane 😍",
    "Globex shares fall 5% after earnings miss",  # a headline about the brand, not a customer
    "I use Globex for my photos",
    "Love the new Globex app!",
    "Thanks Globex support, fixed in 5 minutes!",
]
# Complaints in praise words, with an explicit marker (half of these were apathetic while the
# layer read VADER's compound, which takes the praise at its word).
SARCASTIC = ["Great, Globex lost my order again /s", "Oh great, another Globex outage. Thanks a lot #sarcasm",
             "Awesome, Globex cancelled my flight again /s", "So happy Globex broke my phone with the update /s"]


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer()


@pytest.fixture(scope="module")
def model() -> Model:
    return ModelSource().shipped()


def call(scorer: Scorer, model: Model, texts: list[str]):
    return score_all(scorer, [(t, "en", GLOBEX) for t in texts], advocate_above=0.5,
                     assassin_threshold=DEFAULT_THRESHOLD, model=model)


def test_the_shipped_model_hears_complaints_and_not_their_look_alikes(scorer: Scorer, model: Model) -> None:
    for text, result in zip(ASSASSINS, call(scorer, model, ASSASSINS)):
        assert result.bucket == "assassin", (text, result)
    for text, result in zip(NOT_ASSASSINS, call(scorer, model, NOT_ASSASSINS)):
        assert result.bucket != "assassin", (text, result)
    # Sarcasm with an explicit marker is a complaint, not praise (the marker's praise words are
    # not read, nor is VADER's compound: the layer reads it as meant).
    for text, result in zip(SARCASTIC, call(scorer, model, SARCASTIC)):
        assert result.bucket == "assassin", (text, result)
        assert result.reasons[-1] == "sarcasm marker: its praise read as meant"  # the alert says why
    # Without a marker, praise beside a plain failure is sarcasm too (the contrast of a positive
    # sentiment and a negative situation); praise for a failure put right, or a turn, is praise.
    unmarked = ["Great, Globex is down again. Just great.", "Oh wonderful, Globex lost my files. Thanks a lot.",
                "Love waiting 3 hours for Globex support. Fantastic.", "Oh great, another Globex outage. Thanks a lot"]
    for text, result in zip(unmarked, call(scorer, model, unmarked)):
        assert result.bucket == "assassin", (text, result)
        assert result.reasons[-1].startswith("praise beside a failure ("), result.reasons  # which failure
    praise = ["Great job Globex, the outage was fixed in 10 minutes", "Globex had an outage but support was great",
              "Thanks Globex, my files are back up after the crash", "I love Globex, best storage ever"]
    for text, result in zip(praise, call(scorer, model, praise)):
        assert not scorer.analyse(text).sarcastic and not any("sarcasm" in r for r in result.reasons), (text, result)
    # The cue rule it replaces called the praise slang an assassin.
    (rule,) = score_all(scorer, [(NOT_ASSASSINS[0], "en", GLOBEX)], advocate_above=0.5, assassin_threshold=0.25)
    assert rule.bucket == "assassin"


def test_reasons_are_the_posts_own_words(scorer: Scorer, model: Model) -> None:
    (result,) = call(scorer, model, ["Still waiting for my refund from Globex, please help"])
    complaint = next(r for r in result.reasons if r.startswith("complaint: "))
    assert {"waiting", "refund"} <= set(complaint.removeprefix("complaint: ").split(", "))
    assert not any("0." in r for r in result.reasons[:2])  # words, not "the model said 0.68"


def test_the_layer_reads_the_words_vader_reads_and_grams_as_char_wb_makes_them(scorer: Scorer) -> None:
    assert scorer.analyse("My order, my ORDER never came. 🔥").words == ["my", "order", "never", "came", "fire"]
    praise = scorer.analyse("Globex is sick! 🔥")
    assert praise.read_words(scorer.vader.lexicon) == ["globex", "is"]  # praise slang, in praise, is not read
    assert word_grams("no") == [" n", "no", "o ", " no", "no ", " no "]
    assert word_grams("a") == [" a", "a ", " a "]  # shorter than the n-gram: the padded word once


def test_a_long_text_is_read_at_a_tweets_density(scorer: Scorer, model: Model) -> None:
    complaint = "Globex lost my order and support never replied, I want a refund."
    # Distinct words, not numbers: a number is one word to the call whatever its digits.
    calm = " ".join(f"paragraph {''.join(chr(97 + i // 26 ** k % 26) for k in range(3))} describes the weather and the"
                    " garden in detail." for i in range(400))
    short, long_ = call(scorer, model, [complaint, complaint + " " + calm])
    assert short.bucket == "assassin" and long_.assassin_score < short.assassin_score


def test_language_uncertain_is_marked_not_misread(scorer: Scorer, model: Model) -> None:
    detector = LanguageDetector()
    assert detector.detect("Globex est vraiment nul, je veux un remboursement") == "fr"
    assert detector.detect("Globex ist schlecht") == UNDETERMINED
    assert detector.detect("Globex is the worst, cancelling today") == "en"
    assert detector.detect("Globex sucks") is None  # too short to tell: scored as English
    french, unsure = score_all(scorer, [("Globex est vraiment nul, je veux un remboursement", "fr", None),
                                        ("Globex ist schlecht", UNDETERMINED, None)],
                               advocate_above=0.5, assassin_threshold=0.5, model=model)
    assert french.bucket is None and "'fr' is not English" in french.unscored_reason
    assert unsure.bucket is None and unsure.unscored_reason.startswith("language uncertain")


def test_a_brands_languages_hold_for_a_language_found_after_matching() -> None:
    matcher = Matcher([compile_brand("Globex", ["globex"], languages=["en"]), compile_brand("Acme", ["acme"])])
    both = Match(("Globex", "Acme"), ("globex", "acme"))
    assert matcher.in_language(both, "fr") == Match(("Acme",), ("globex", "acme"))
    assert matcher.in_language(Match(("Globex",), ("globex",)), "fr") is None
    assert matcher.in_language(both, "en") == both and matcher.in_language(both, None) == both


def test_training_is_deterministic_and_learns(scorer: Scorer) -> None:
    texts = [f"Globex lost my order {i}, still waiting" for i in range(10)] + [f"Globex order {i} arrived, thanks" for i in range(10)]
    labels = [1] * 10 + [0] * 10
    words, dense = training.prepare(scorer, texts)
    first = training.fit_model(words, dense, labels, ["complaint"] * 20, ["site"] * 20, c={"complaint": 1.0},
                               length=30, version="t")
    again = training.fit_model(words, dense, labels, ["complaint"] * 20, ["site"] * 20, c={"complaint": 1.0},
                               length=30, version="t")
    assert first == again
    fitted = Model.from_dict(first)
    lost, fine = (fitted.call_words(words[0], dict(zip(training.DENSE, dense[0])))
                  for words, dense in (training.prepare(scorer, [t]) for t in ("Globex lost my parcel", "Globex parcel arrived")))
    assert lost.probability > 0.5 > fine.probability


def test_the_shipped_file_is_weights_not_data_and_reads_back() -> None:
    raw = gzip.decompress(SHIPPED.read_bytes()).decode()
    assert "still waiting for my refund" not in raw.lower()  # n-grams of words, never a text
    model = read(SHIPPED)
    assert model.version == "assassin-2" and set(model.heads) == {"complaint", "negative"}
    assert model.meta["cross_validated"]["folds"] == 10 and model.meta["trained_on"]["complaints"]["texts"] == 1713


def test_a_broken_site_model_keeps_the_previous_one(tmp_path: Path, caplog) -> None:
    source = ModelSource()
    database = tmp_path / "m.db"
    assert source.current(database) is source.shipped()
    site = source.shipped().to_dict()
    site["version"] = "assassin-2+site"
    write(site, site_path(database))
    assert source.current(database).version == "assassin-2+site"
    site_path(database).write_bytes(b"not gzip at all")
    with caplog.at_level(logging.ERROR, logger="monitor"):
        kept = source.current(database)
    assert kept.version == "assassin-2+site" and "cannot read the assassin model" in caplog.text


def test_the_language_model_is_read_from_an_unpacked_copy_kept_in_the_cache_folder(tmp_path, monkeypatch) -> None:
    """py3langid ships its model packed; the first detector unpacks a copy into the cache folder and
    every later one reads it (0.4 s less a command), answering exactly as the package's own loader.
    A damaged copy, or a folder that cannot be written, falls back to the package's loader."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from monitor.judgement.language import LanguageDetector, cache_folder

    texts = ["Globex est nul et je suis triste", "das ist nicht gut, gar nicht", "esto es muy malo para todos",
             "hello world this is english", "サービスが落ちています", "Acme"]
    package = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = LanguageDetector()._model
    (copy,) = cache_folder().glob("py3langid-*")
    written = (copy / "ptc.npy").stat().st_mtime_ns
    second = LanguageDetector()._model
    assert (copy / "ptc.npy").stat().st_mtime_ns == written, "read, not unpacked again"
    for text in texts:
        assert first.classify(text) == second.classify(text) == package.classify(text), text
    (copy / "ptc.npy").write_bytes((copy / "ptc.npy").read_bytes()[:1000])  # cut short (a full disk)
    assert LanguageDetector()._model.classify(texts[0]) == package.classify(texts[0])
    assert not copy.exists(), "the damaged copy is removed; the next detector unpacks it again"
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    assert LanguageDetector()._model.classify(texts[1]) == package.classify(texts[1])
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr("pwd.getpwuid", lambda uid: (_ for _ in ()).throw(KeyError(uid)))  # a user with no home
    assert LanguageDetector()._model.classify(texts[2]) == package.classify(texts[2])
