"""How many people a mention is likely to reach: a range and the method, never a bare number.

A first model; the assassins/reach issue refines it per source. Impressions are typically 1–20%
of an author's audience (industry measurements of organic reach); Hacker News sends about
75–100 visitors per point to a story (one well-documented case); an unknown audience falls back
to a typical account's (~19 followers on X).
"""

from __future__ import annotations

from monitor.models import Mention, Reach

IMPRESSION_SHARE = (0.01, 0.20)
HN_VISITORS_PER_POINT = (75, 100)
TYPICAL_AUDIENCE = 19


def estimate_reach(mention: Mention) -> Reach:
    """The likely reach of one mention, with the method that produced it."""
    points = mention.metrics.get("points") if mention.metrics else None
    if mention.source_type == "hackernews" and mention.metrics.get("kind") == "story" and isinstance(points, int):
        low, high = HN_VISITORS_PER_POINT
        return Reach(points * low, points * high, f"hackernews: {points} points × {low}–{high} visitors per point")
    if mention.audience is not None and mention.audience > 0:
        low, high = IMPRESSION_SHARE
        return Reach(
            max(1, round(mention.audience * low)),
            max(1, round(mention.audience * high)),
            f"audience {mention.audience:,} × {low:.0%}–{high:.0%} seen",
        )
    return Reach(1, TYPICAL_AUDIENCE, f"audience unknown: 1 to a typical account's {TYPICAL_AUDIENCE} followers")
