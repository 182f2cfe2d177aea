"""How many people a mention is likely to reach: a range, a likely figure, and the method, never a bare number.

One model per kind of source, every factor from ``config.yaml`` (``reach:``; the README's "Reach
model" section cites where each default comes from):

- a count the source observed (YouTube, Stack Exchange, Discourse views) is the reach;
- Hacker News stories: points × visitors per point;
- Reddit and Lemmy posts: score × visitors per point, or a share of the community's subscribers
  when there is no score; GitHub issues and comments: a share of the repository's stars;
- authors with an audience (Mastodon, Bluesky, YouTube subscribers): potential = audience +
  reshares × a typical resharer's audience; impressions are a share of it, and the likely share
  (visibility) falls as audiences grow;
- reviews and news: the readers a review or an article on that site typically gets;
- anything else: a typical account of that platform.

An assassin's offline word of mouth can be added on top, labelled as the assumption it is.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from monitor.models import Mention, Reach

if TYPE_CHECKING:
    from monitor.config import ReachFactors

OBSERVED_VIEWS = ("views", "reads", "topic_views")
RESHARES = ("reblogs", "reposts", "quotes", "retweets", "shares")
SCORED_COMMUNITIES = {"reddit": "subreddit_subscribers", "lemmy": "community_subscribers", "lobsters": "subscribers",
                      "github": "repository_stars"}
COMMUNITY_WORDS = {"github": "repository stars"}


def visibility(audience: int, factors: "ReachFactors") -> float:
    """The likely share of an audience that sees a post: interpolated on log(audience) between points."""
    points = factors.visibility
    if audience <= points[0].audience:
        return points[0].factor
    for low, high in zip(points, points[1:]):
        if audience <= high.audience:
            span = math.log(high.audience) - math.log(low.audience)
            t = (math.log(audience) - math.log(low.audience)) / span if span else 1.0
            return low.factor + t * (high.factor - low.factor)
    return points[-1].factor


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _reshares(mention: Mention) -> int:
    if not mention.metrics:
        return 0
    return sum(_int(mention.metrics.get(key)) or 0 for key in RESHARES)


def _typical(mention: Mention, factors: "ReachFactors") -> int:
    typical = factors.typical_audience
    return typical.get(mention.source_type, typical.get("default", 19))


def _from_audience(audience: int, mention: Mention, factors: "ReachFactors", label: str) -> Reach:
    reshares = _reshares(mention)
    typical = _typical(mention, factors)
    key = (audience, reshares, typical, label)
    memo = factors.memo  # the same audiences recur (a typical account above all): build each once
    reach = memo.get(key)  # one read: another scheduler thread may clear the memo between two
    if reach is None:
        if len(memo) > 10_000:
            memo.clear()
        reach = memo[key] = _audience_reach(audience, reshares, typical, label, factors)
    return reach


def _audience_reach(audience: int, reshares: int, typical: int, label: str, factors: "ReachFactors") -> Reach:
    potential = audience + reshares * typical
    low_share, high_share = factors.impressions
    share = visibility(audience, factors)
    shared = f" + {reshares:,} reshares × {typical:,}" if reshares else ""
    return Reach(
        max(1, round(potential * low_share)),
        max(1, round(potential * high_share)),
        f"{label} {audience:,}{shared} = potential {potential:,}; {low_share:.0%}–{high_share:.0%} see it,"
        f" likely {share:.0%}",
        max(1, round(potential * share)),
    )


def _per_point(points: int, per_point: tuple[float, float], label: str) -> Reach:
    low, high = per_point
    return Reach(
        max(1, round(points * low)),
        max(1, round(points * high)),
        f"{label}: {points:,} points × {low:g}–{high:g} visitors per point",
        max(1, round(points * (low + high) / 2)),
    )


def _comment_on_story(points: int, factors: "ReachFactors") -> Reach:
    """A Hacker News comment: its story's visitors (points × visitors per point) × the share who
    read comments."""
    (low, high), (share_low, share_high) = factors.hackernews_visitors_per_point, factors.hackernews_comment_readers
    return Reach(
        max(1, round(points * low * share_low)), max(1, round(points * high * share_high)),
        f"hackernews comment: its story's {points:,} points × {low:g}–{high:g} visitors per point × "
        f"{share_low:.0%}–{share_high:.0%} who read comments",
        max(1, round(points * (low + high) / 2 * math.sqrt(share_low * share_high))),
    )


def base_reach(mention: Mention, factors: "ReachFactors") -> Reach:
    """The reach of a mention by its source's model (before any word of mouth)."""
    metrics = mention.metrics
    kind = mention.source_type
    if not metrics:  # most feeds: straight to the audience models
        return _without_metrics(mention, kind, factors)
    for key in OBSERVED_VIEWS:
        views = _int(metrics.get(key))
        if views:
            return Reach(views, views, f"{kind}: {views:,} {key.replace('_', ' ')} counted by the source", views)
    if kind == "hackernews" and metrics.get("kind") == "story" and _int(metrics.get("points")):
        return _per_point(metrics["points"], factors.hackernews_visitors_per_point, "hackernews")
    if kind == "hackernews" and metrics.get("kind") == "comment" and _int(metrics.get("story_points")):
        return _comment_on_story(metrics["story_points"], factors)
    if kind in SCORED_COMMUNITIES:
        score = _int(metrics.get("score"))
        if score:
            return _per_point(score, factors.community_visitors_per_point, kind)
        subscribers = _int(metrics.get(SCORED_COMMUNITIES[kind]))
        if subscribers:
            low, high = factors.community_share
            return Reach(
                max(1, round(subscribers * low)), max(1, round(subscribers * high)),
                f"{kind}: {subscribers:,} {COMMUNITY_WORDS.get(kind, 'community subscribers')} × {low:.1%}–{high:.1%}"
                + ("" if kind in COMMUNITY_WORDS else " (no score yet)"),
                max(1, round(subscribers * math.sqrt(low * high))),
            )
    return _without_metrics(mention, kind, factors)


def _without_metrics(mention: Mention, kind: str, factors: "ReachFactors") -> Reach:
    if mention.audience:
        return _from_audience(mention.audience, mention, factors, "audience")
    if kind in factors.site_readers:
        low, high = factors.site_readers[kind]
        return Reach(low, high, f"{kind}: typical readers of one item on the site, {low:,}–{high:,}", round(math.sqrt(low * high)))
    typical = _typical(mention, factors)
    return _from_audience(typical, mention, factors, "audience unknown: a typical account's")


def estimate_reach(mention: Mention, factors: "ReachFactors", *, bucket: str | None = None) -> Reach:
    """The likely reach of one mention, with the method that produced it."""
    reach = base_reach(mention, factors)
    if bucket == "assassin" and factors.word_of_mouth:
        low, high = factors.word_of_mouth
        return Reach(
            reach.low + low, reach.high + high,
            f"{reach.method}; + {low}–{high} people told offline (assumption: word_of_mouth)",
            (reach.likely or reach.low) + round((low + high) / 2),
        )
    return reach
