"""The cascade: which posts the sentence heads read, and the words their reading rests on.

The fast call (the learned layer's word heads) reads a post in well under a millisecond; the
sentence encoder takes about ten on two cores. A post the fast call puts far below the line is
almost never called an assassin once the sentence heads join, so with ``sentiment.encoder: auto``
two lines of the fast probability divide the posts, each fixed by a procedure before any
evaluation (``benchmarks/train_assassin.py``). From the model's ``floor`` (the 1st percentile of the
fast probability among the training texts the four heads together call assassin) the four heads
call the post: every post that could alert, and the uncertain ones below the line. Between
``reads_from`` (the highest line, in steps of 0.01 down from the floor, at which no training set's
ROC-AUC is more than 0.01 below the four heads reading every text) and the floor, the sentence
heads read the post to order it, but cannot make it an assassin (``Model.cascade``): the fast call
is sure there, and the sentence complaint head alone calls a status notice a complaint. Under
``reads_from`` the fast call stands. ``always`` reads every post (still held under the line below
the floor), ``off`` none; where the encoder cannot run (not installed), the fast call stands alone.

An alert never says "the model said 0.83": where the sentence heads call a post that its words
alone did not, the reason names the words their reading rests on (``carried``: each word's share of
the heads' log-odds, read in its sentence): "complaint (the sentence as a whole): lost, files".
"""

from __future__ import annotations

import re
from typing import Callable

from monitor.judgement.learned import SMALL_WORDS, Call, Model, name_words

CARRIED_TOP = 3
CARRIED_MIN = 0.1  # log-odds a word must carry to be named
CHUNK = 128  # posts encoded at a time: their token states are kept until their words are named


def read(calls: list[Call | None], texts: list[str], model: Model, encoder: Callable[[], object | None], *,
         mode: str, threshold: float, abouts: list[re.Pattern | None] | None = None) -> list[Call | None]:
    """``calls`` (the fast calls of ``texts``; None where unscored) with the sentence heads' reading
    added where the cascade sends the post to them. ``encoder`` gives the loaded encoder (or None
    where it cannot run) and is asked only when some post needs it; ``abouts``: each text's brand
    pattern (the brand's own name is never a reason)."""
    chosen = [k for k, call in enumerate(calls) if call is not None and is_read(call, model, mode)]
    if not chosen:
        return calls
    loaded = encoder()
    if loaded is None:
        return calls
    out = list(calls)
    for start in range(0, len(chosen), CHUNK):
        some = chosen[start : start + CHUNK]
        vectors, tokens = loaded.read([texts[k] for k in some])
        logits = model.sentence.logits(vectors, [calls[k].dense for k in some])
        for k, heads, read_as in zip(some, logits, tokens):
            call = model.cascade(calls[k], heads, threshold)
            lone = alone(call) if call.probability >= threshold else []
            if lone:
                call = call._replace(carried=carried(loaded, model, texts[k], lone, abouts[k] if abouts else None,
                                                     read_as))
            out[k] = call
    return out


def is_read(call: Call, model: Model, mode: str) -> bool:
    """Whether the cascade sends a post to the sentence heads (``mode``: sentiment.encoder)."""
    if mode == "off" or model.sentence is None:
        return False
    return mode == "always" or call.fast_probability >= model.sentence.first_read


def alone(call: Call) -> list[str]:
    """The sentence heads that call the post where the word head of their task does not (their
    reason would have no words)."""
    read = call.read
    return [name for name, logit in call.sentences.items() if logit >= 0 and read.get(name, (0.0,))[0] < 0]


def carried(encoder, model: Model, text: str, heads: list[str], about: re.Pattern | None = None,
            tokens=None) -> tuple[str, ...]:
    """The words the sentence heads' reading rests on most. The heads are linear in the encoder's
    vector, and the vector is a sum of its words' shares (``Encoder.words``), so each head's
    log-odds splits exactly by word: the words (the brand's name and small words aside) whose
    shares push ``heads`` (those that call the post alone, ``alone``) the most. ``tokens``: the
    text as the encoder read it (``Encoder.read``), so it is not encoded twice."""
    weights = sum(model.sentence.vector(name) for name in heads)
    pushes: dict[str, float] = {}
    brand = name_words(text, about)
    for word, share in encoder.words(text, tokens):
        key = word.lower()
        if len(key) > 2 and key not in SMALL_WORDS and any(c.isalpha() for c in key) and key not in brand:
            pushes[key] = pushes.get(key, 0.0) + float(share @ weights)
    strongest = sorted(((push, word) for word, push in pushes.items()), reverse=True)[:CARRIED_TOP]
    return tuple(word for push, word in strongest if push >= CARRIED_MIN)
