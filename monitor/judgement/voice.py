"""The brand's own voice. A source an admin marks ``official`` (the brand's status page, its blog,
its announcements) is the brand speaking, not a customer: its incident notices read as complaints
to the assassin call ("We are investigating elevated error rates", "the incident affecting logins
has been resolved": the sentence heads call such a notice a complaint with near certainty), and
an alert on the brand's own words is noise a community manager must never get. Its posts are
stored, searched and counted like any other; they are never an assassin or an advocate. The same
holds for the brand's own accounts on any source (``brands[].accounts``): its support team's
"Sorry to hear that, we are looking into the outage" is not a hurt customer, and with the brand's
audience behind it, it would be the loudest assassin of the storm.

The press is not a customer either (``sources[].press``; Google News always): "Acme Cloud recalls 2
million routers over fire risk" is a publisher reporting, and the call, taught on customers' posts
where an outage is a complaint, reads it as an assassin. Coverage is stored and counted as it is
read, bucketed apathetic, and one the call reads as hostile keeps the call's reasons so it can
alert as coverage (``press`` alerts) rather than as a hurt customer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from monitor.models import Mention, Score

OWN_VOICE = "the brand's own channel (official: true): the brand speaking, not a customer"
PRESS = "news coverage (press: true): a publisher reporting, not a customer"


def as_own_voice(score: Score, reason: str = OWN_VOICE, *, speaker: str = "brand") -> Score:
    """``score`` of a post that is not a customer's: spoken by ``speaker`` (``brand`` or ``press``),
    the call's bucket kept as ``read_as``, apathetic, saying why (its compound and assassin score
    kept, as read; the press keeps an assassin's reasons after that: what a press alert says)."""
    spoken = replace(score, speaker=speaker, read_as=score.bucket)
    if score.bucket is None or score.bucket == "apathetic":
        return spoken
    reasons = (reason, *score.reasons) if speaker == "press" and score.bucket == "assassin" else (reason,)
    return replace(spoken, bucket="apathetic", reasons=reasons)


def own_account(author: str, source_type: str, accounts: Iterable[str]) -> str | None:
    """The entry of ``accounts`` (``type:handle``, as ``brands[].accounts`` keeps them) that is this
    post's author on this source type, in any case and with or without an ``@``; None for a customer."""
    handle = f"{source_type}:{author.removeprefix('@')}".casefold()
    return next((entry for entry in accounts if entry.casefold() == handle), None) if author else None


def own_voice(mention: Mention, brands: Iterable[str], score: Score, *, official: frozenset[str], press: frozenset[str],
              accounts: dict[str, list[str]]) -> Score:
    """``score``, or who speaks where it is not a customer: a post on a source marked ``official``
    or ``press`` (by name), or by one of the ``accounts`` (``brands[].accounts``, by brand) of a
    brand it names."""
    if mention.source in official:
        return as_own_voice(score)
    if mention.source in press:
        return as_own_voice(score, PRESS, speaker="press")
    for brand in brands:
        entry = own_account(mention.author, mention.source_type, accounts.get(brand, ()))
        if entry is not None:
            return as_own_voice(score, f"the brand's own account ({entry}, brands[].accounts): the brand speaking, "
                                       "not a customer")
    return score
