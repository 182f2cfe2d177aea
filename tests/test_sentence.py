"""The sentence heads in the assassin call: the shipped model's, read through the real encoder,
with the cascade deciding which posts they read and reasons in the post's words."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import pytest

from monitor.assassin_model import ModelSource, site_path, write
from monitor.config_check import parse_config
from monitor.errors import ConfigError
from monitor.judgement import encoder as encoders
from monitor.judgement import sentence
from monitor.judgement.learned import Model
from monitor.judgement.sentiment import Scorer, score_all
from tests.test_learned import model, scorer  # noqa: F401 (the shipped model and a scorer, as fixtures)

GLOBEX = re.compile(r"\bGlobex", re.IGNORECASE)


class Counting:
    """The real encoder, counting the texts it is given (the cascade's share, seen from outside)."""

    def __init__(self) -> None:
        self.inner, self.texts = encoders.shared(), []

    def read(self, texts: list[str]):
        self.texts += texts
        return self.inner.read(texts)

    def words(self, text: str, tokens=None):
        return self.inner.words(text, tokens)


def judged(scorer: Scorer, model: Model, texts: list[str], mode: str = "auto", encoder=None):
    calls: list = []
    encoder = encoder or encoders.shared()
    scores = score_all(scorer, [(t, "en", GLOBEX) for t in texts], advocate_above=0.5, assassin_threshold=0.5,
                       model=model, calls=calls, encoder=lambda: encoder, encoder_mode=mode)
    return scores, calls


def test_the_shipped_model_has_sentence_heads_and_a_floor_below_the_line(model: Model) -> None:
    assert model.sentence is not None and set(model.sentence.heads) == {"complaint", "negative"}
    assert 0.0 < model.sentence.floor < 0.5  # posts under the line that the four heads may still call
    assert 0.0 < model.sentence.first_read < model.sentence.floor  # and under it, posts they only order
    assert model.sentence.encoder["sha256"] == encoders.FILES_SHA256
    assert model.sentence.encoder["reading"] == encoders.READING  # trained on the vectors the encoder gives
    for head in model.sentence.heads.values():
        assert len(head["vector"]) == encoders.DIMENSIONS


def test_the_cascade_sends_the_encoder_only_posts_the_fast_call_cannot_rule_out(scorer: Scorer, model: Model) -> None:
    texts = ["I love Globex, best storage ever", "Globex support was quick and friendly",
             "Globex is down again and support is useless", "Still waiting for my refund from Globex, please help"]
    counting = Counting()
    scores, calls = judged(scorer, model, texts, "auto", counting)
    fast = [c.fast_probability for c in calls]
    read = [t for t, p in zip(texts, fast) if p >= model.sentence.first_read]
    assert counting.texts == read and 2 <= len(read) < len(texts)  # the praise is never read twice
    for call, result in zip(calls, scores):
        assert (call.sentence is not None) == (call.fast_probability >= model.sentence.first_read)
        assert result.assassin_score == round(call.probability, 4)
        if call.sentence is None:
            assert call.probability == call.fast_probability < 0.5
    assert [s.bucket for s in scores[2:]] == ["assassin", "assassin"]

    counting = Counting()
    _, calls = judged(scorer, model, texts, "always", counting)
    assert counting.texts == texts and all(c.sentence is not None for c in calls)
    counting = Counting()
    scores_off, calls = judged(scorer, model, texts, "off", counting)
    assert counting.texts == [] and all(c.sentence is None and c.probability == c.fast_probability for c in calls)


def test_under_the_floor_the_sentence_heads_order_a_post_but_never_make_it_an_assassin(scorer: Scorer,
                                                                                      model: Model) -> None:
    """A status notice: the fast call puts it under the floor, the sentence complaint head alone
    reads it as a complaint with near certainty. It is read (its score orders it among the calm
    posts) and held under the line, saying why; in every mode that reads it."""
    notices = ["Acme Cloud status page says maintenance tonight, post 13 of feed 57.",
               "Globex status page says maintenance tonight, post 13 of feed 57."]
    for mode in ("auto", "always"):
        scores, calls = judged(scorer, model, notices, mode)
        for call, result in zip(calls, scores):
            assert model.sentence.first_read <= call.fast_probability < model.sentence.floor
            assert call.sentence is not None and call.sentence[0] > 2  # the sentence complaint head: a complaint
            assert model.with_sentence(call, call.sentence).probability >= 0.5  # the four heads' mean would say so
            assert call.held and result.bucket == "apathetic" and result.assassin_score == 0.4999
            assert "held under the line" in result.reasons[-1]
    calm, _ = judged(scorer, model, ["Globex support answered quickly today, thanks"])
    assert not any("held under" in r for r in calm[0].reasons)


def test_the_call_is_the_mean_of_the_four_heads_log_odds(scorer: Scorer, model: Model) -> None:
    _, (call,) = judged(scorer, model, ["Globex lost my parcel and nobody answers"], "always")
    logits = [*(logit for logit, _ in call.read.values()), *call.sentence]
    assert len(logits) == 4
    assert abs(call.probability - 1 / (1 + math.exp(-sum(logits) / 4))) < 1e-9
    assert set(call.heads) == {"complaint", "negative", "sentence complaint", "sentence negative"}


def test_copies_that_differ_only_in_numbers_or_links_get_one_call(scorer: Scorer, model: Model) -> None:
    texts = [f"Third Globex outage this month, I want a refund #{n}" for n in range(1, 61)]
    texts += [f"Globex ate my files, see https://example.com/{n}?page={n * 7}" for n in range(1, 21)]
    for mode in ("auto", "always"):
        scores, _ = judged(scorer, model, texts, mode)
        assert len({s.assassin_score for s in scores[:60]}) == 1 and scores[0].bucket == "assassin"
        assert len({s.assassin_score for s in scores[60:]}) == 1


def test_sarcasm_and_headlines_as_a_person_reads_them(scorer: Scorer, model: Model) -> None:
    sarcastic = ["Great, Globex is down again. Just great.", "Oh wonderful, Globex lost my files. Thanks a lot.",
                 "Awesome, Globex cancelled my flight again /s"]
    headlines = ["Globex shares fall 5% after earnings miss", "Globex announces a new data centre in Dublin",
                 "Globex to acquire Initech for $2 billion"]
    scores, _ = judged(scorer, model, sarcastic + headlines)
    assert [s.bucket for s in scores[:3]] == ["assassin"] * 3, scores[:3]
    assert all(s.bucket != "assassin" for s in scores[3:]), scores[3:]


def test_a_call_the_sentence_heads_make_alone_names_the_words_it_rests_on(scorer: Scorer, model: Model) -> None:
    """Found among texts whose words alone do not call them: each reason names words of the post."""
    texts = ["Globex is down again. Just great.", "Well done Globex, my account is locked for the third time",
             "Globex took my money and the box was empty", "Another day, another Globex outage, lovely",
             "Two weeks and Globex still has not shipped my order", "Globex, where is my parcel?"]
    scores, calls = judged(scorer, model, texts, "always")
    alone = [(t, s, c) for t, s, c in zip(texts, scores, calls) if s.bucket == "assassin" and sentence.alone(c)]
    assert alone, [(c.heads, s.bucket) for c, s in zip(calls, scores)]
    for text, result, call in alone:
        line = next(r for r in result.reasons if "(the sentence as a whole)" in r)
        assert call.carried and all(w.lower() in text.lower() for w in call.carried), (text, call.carried)
        assert line.endswith(": " + ", ".join(call.carried))
        assert not re.search(r"\d\.\d", " ".join(result.reasons))  # never "the model said 0.83"


def test_a_long_post_is_read_from_its_start_in_a_tweets_time(scorer: Scorer, model: Model) -> None:
    long = "Globex lost my order and nobody answers. " + "Nothing else to say here at all. " * 30000  # ~1 MB
    short, long_vector = encoders.shared().encode([long[:encoders.MAX_CHARS], long])
    assert float(abs(short - long_vector).max()) == 0.0
    (result,), _ = judged(scorer, model, [long], "always")
    assert result.bucket is not None


def test_without_the_encoder_the_fast_call_stands_alone(scorer: Scorer, model: Model, tmp_path: Path,
                                                        monkeypatch, caplog) -> None:
    monkeypatch.setenv("MONITOR_ENCODER_DIR", str(tmp_path))  # an empty folder: no weights
    source = ModelSource()
    with caplog.at_level(logging.INFO, logger="monitor"):
        assert source.encoder("auto") is None and source.encoder("auto") is None
    assert caplog.text.count("model.safetensors is missing") == 1 and "reads words only" in caplog.text
    assert source.encoder("off") is None
    texts = ["Globex is down again and support is useless"]
    calls: list = []
    (result,) = score_all(scorer, [(texts[0], "en", GLOBEX)], advocate_above=0.5, assassin_threshold=0.5, model=model,
                          calls=calls, encoder=lambda: source.encoder("auto"))
    assert calls[0].sentence is None and result.assassin_score == round(calls[0].fast_probability, 4)


def test_a_site_refit_made_before_the_sentence_heads_keeps_the_shipped_ones(tmp_path: Path) -> None:
    source = ModelSource()
    database = tmp_path / "m.db"
    old = source.shipped().to_dict()
    del old["sentence"]
    old["version"] = "assassin-1+site"
    write(old, site_path(database))
    assert source.current(database).sentence is source.shipped().sentence
    assert Model.from_dict(old).sentence is None


def test_the_encoder_setting_is_checked_like_any_other() -> None:
    assert parse_config("sentiment: {encoder: 'off'}\nbrands: [{name: A, keywords: [a]}]\n").sentiment.encoder == "off"
    with pytest.raises(ConfigError) as raised:
        parse_config("sentiment:\n  encoder: sometimes\nbrands: [{name: A, keywords: [a]}]\n")
    assert "sentiment.encoder" in str(raised.value) and "line 2" in str(raised.value)


def test_the_sentence_heads_hear_a_sites_own_words_for_broken_without_a_label(scorer: Scorer, model: Model) -> None:
    from tests.test_label_train import FINE, HURT

    words_only, _ = judged(scorer, model, HURT + FINE, "off")
    cascade, _ = judged(scorer, model, HURT + FINE, "auto")
    heard = [sum(s.bucket == "assassin" for s in scores[:len(HURT)]) for scores in (words_only, cascade)]
    false = [sum(s.bucket == "assassin" for s in scores[len(HURT):]) for scores in (words_only, cascade)]
    assert heard[0] <= 2 and heard[1] >= len(HURT) // 2, heard  # "borked", "janky": never in the training sets
    assert false[1] <= 1, false


def test_a_reason_never_names_the_brands_own_name(scorer: Scorer, model: Model) -> None:
    """"cloud" of "Acme Cloud" pushed both kinds of head and was named as what the post complains of."""
    acme = re.compile(r"\bacme\s+cloud\b", re.IGNORECASE)
    texts = ["Acme Cloud outage disrupts thousands of businesses",
             "Acme Cloud lost our files again, cloud backups gone, cancelling"]
    for mode in ("always", "off"):
        scores = score_all(scorer, [(t, "en", acme) for t in texts], advocate_above=0.5, assassin_threshold=0.5,
                           model=model, encoder=encoders.shared, encoder_mode=mode)
        assert scores[1].bucket == "assassin", (mode, scores)  # (the headline is read whole only by the encoder)
        for text, result in zip(texts, scores):
            if result.bucket != "assassin":
                continue
            named = {w for r in result.reasons if ": " in r for w in r.split(": ", 1)[1].split(", ")}
            assert named and not named & {"acme", "cloud"}, (mode, text, result.reasons)
