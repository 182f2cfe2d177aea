"""The brand's own voice. A source an admin marks ``official`` (the brand's status page, its blog,
its announcements) is the brand speaking, not a customer: its incident notices read as complaints
to the assassin call ("We are investigating elevated error rates", "the incident affecting logins
has been resolved": the sentence heads call such a notice a complaint with near certainty), and
an alert on the brand's own words is noise a community manager must never get. Its posts are
stored, searched and counted like any other; they are never an assassin or an advocate."""

from __future__ import annotations

from monitor.models import Score

OWN_VOICE = "the brand's own channel (official: true): the brand speaking, not a customer"


def as_own_voice(score: Score) -> Score:
    """``score`` of a post on an official source: apathetic, saying why (its compound and
    assassin score kept, as read). A post left unscored is as it was."""
    if score.bucket is None or score.bucket == "apathetic":
        return score
    return Score(score.compound, "apathetic", (OWN_VOICE,), score.unscored_reason, score.assassin_score)
