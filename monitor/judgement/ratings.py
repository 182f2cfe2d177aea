"""A review's stars beside its words. Reviews are terse and often sarcastic ("Great, another
outage"): their words can score calm or even glad while the stars say the customer is hurt. The
stars are the customer's own call, so a 1- or 2-star review is a complaint whatever its words
score, and says so as its first reason; a review of more stars keeps the words' call."""

from __future__ import annotations

from monitor.models import Score

LOW_STARS = 2  # of 5: at or under, the review is a complaint


def star_reason(stars: int) -> str:
    return f"{stars}-star review"


def with_stars(score: Score, stars: object) -> Score:
    """``score`` with the review's ``stars`` (1–5) read: at or under LOW_STARS an assassin, the
    stars its first reason. A post without stars, or left unscored, is as it was."""
    if not isinstance(stars, int) or isinstance(stars, bool) or not 1 <= stars <= 5 or score.bucket is None:
        return score
    if stars > LOW_STARS:
        return score
    reasons = (star_reason(stars), *(score.reasons if score.bucket == "assassin" else ()))
    return Score(score.compound, "assassin", reasons, score.unscored_reason, score.assassin_score)
