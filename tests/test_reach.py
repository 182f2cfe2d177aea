"""The reach model, pinned per source: each formula with the default factors, and config overrides."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from monitor.config import ReachFactors
from monitor.config_check import parse_config
from monitor.judgement.reach import estimate_reach, visibility
from monitor.models import Mention

DEFAULTS = ReachFactors()
WHEN = datetime(2026, 11, 23, tzinfo=timezone.utc)


def mention(source_type: str, *, audience: int | None = None, **metrics) -> Mention:
    return Mention(source="s", id="1", url=None, text="x", published_at=WHEN, source_type=source_type,
                   audience=audience, metrics=metrics)


def test_visibility_falls_as_audiences_grow() -> None:
    assert visibility(19, DEFAULTS) == 0.15
    assert visibility(100_000, DEFAULTS) == 0.15
    assert visibility(1_000_000, DEFAULTS) == pytest.approx(0.105)  # halfway on a log scale
    assert visibility(10_000_000, DEFAULTS) == pytest.approx(0.06)
    assert visibility(500_000_000, DEFAULTS) == 0.06


def test_an_audience_gives_potential_times_impressions_and_a_likely_share() -> None:
    reach = estimate_reach(mention("mastodon", audience=12_000, reblogs=3), DEFAULTS)
    potential = 12_000 + 3 * 19  # reshares reach a typical account's audience each
    assert (reach.low, reach.high, reach.likely) == (round(potential * 0.01), round(potential * 0.20), round(potential * 0.15))
    assert "12,000 + 3 reshares × 19 = potential 12,057" in reach.method


def test_bluesky_reposts_and_quotes_are_reshares() -> None:
    reach = estimate_reach(mention("bluesky", audience=20_000_000, reposts=100, quotes=10), DEFAULTS)
    potential = 20_000_000 + 110 * 19
    assert reach.likely == round(potential * 0.06) and reach.high == round(potential * 0.20)


def test_hacker_news_story_is_points_times_visitors_per_point() -> None:
    reach = estimate_reach(mention("hackernews", kind="story", points=208), DEFAULTS)
    assert (reach.low, reach.high, reach.likely) == (208 * 75, 208 * 100, round(208 * 87.5))
    assert reach.method == "hackernews: 208 points × 75–100 visitors per point"


def test_hacker_news_comment_falls_back_to_a_typical_account() -> None:
    reach = estimate_reach(mention("hackernews", kind="comment", points=None), DEFAULTS)
    assert (reach.low, reach.high) == (1, 4) and "typical account's 19" in reach.method


def test_reddit_score_times_visitors_per_point_and_subscribers_without_score() -> None:
    scored = estimate_reach(mention("reddit", score=500, subreddit_subscribers=2_000_000), DEFAULTS)
    assert (scored.low, scored.high) == (5_000, 50_000)
    unscored = estimate_reach(mention("reddit", score=0, subreddit_subscribers=2_000_000), DEFAULTS)
    assert (unscored.low, unscored.high) == (2_000, 20_000) and "no score yet" in unscored.method
    lemmy = estimate_reach(mention("lemmy", score=40, community_subscribers=9_000), DEFAULTS)
    assert (lemmy.low, lemmy.high) == (400, 4_000)


def test_counted_views_are_the_reach() -> None:
    for kind, key in (("youtube", "views"), ("stackexchange", "views"), ("discourse", "reads")):
        reach = estimate_reach(mention(kind, audience=1_000_000, **{key: 4_321}), DEFAULTS)
        assert (reach.low, reach.high, reach.likely) == (4_321, 4_321, 4_321), kind
        assert "counted by the source" in reach.method


def test_reviews_and_news_use_the_sites_readers() -> None:
    review = estimate_reach(mention("appstore", rating=1), DEFAULTS)
    assert (review.low, review.high) == (50, 1_000) and review.method.startswith("appstore: typical readers")
    news = estimate_reach(mention("googlenews", publisher="Example Times"), DEFAULTS)
    assert (news.low, news.high) == (500, 50_000)


def test_unknown_audience_is_a_typical_account_of_that_platform() -> None:
    assert estimate_reach(mention("rss"), DEFAULTS).high == round(19 * 0.20)
    factors = parse_config("brands: [{name: A, keywords: [a]}]\nreach: {typical_audience: {default: 19, rss: 99}}\n").reach
    assert estimate_reach(mention("rss"), factors).high == round(99 * 0.20)


def test_word_of_mouth_is_added_to_assassins_only_and_labelled() -> None:
    factors = parse_config("brands: [{name: A, keywords: [a]}]\nreach: {word_of_mouth: [9, 15]}\n").reach
    hurt = estimate_reach(mention("rss"), factors, bucket="assassin")
    calm = estimate_reach(mention("rss"), factors, bucket="apathetic")
    assert (hurt.low - calm.low, hurt.high - calm.high) == (9, 15)
    assert "offline (assumption: word_of_mouth)" in hurt.method and "offline" not in calm.method
    assert "offline" not in estimate_reach(mention("rss"), DEFAULTS, bucket="assassin").method  # off by default


def test_every_factor_comes_from_config() -> None:
    factors = parse_config(
        "brands: [{name: A, keywords: [a]}]\nreach:\n  hackernews_visitors_per_point: [10, 20]\n"
        "  community_visitors_per_point: [1, 2]\n  impressions: [0.05, 0.5]\n"
        "  visibility: [{audience: 1000, factor: 0.3}]\n  site_readers: {appstore: [1, 2]}\n"
    ).reach
    assert estimate_reach(mention("hackernews", kind="story", points=10), factors).high == 200
    assert estimate_reach(mention("reddit", score=10), factors).high == 20
    assert estimate_reach(mention("appstore"), factors).high == 2
    reach = estimate_reach(mention("mastodon", audience=1000), factors)
    assert (reach.low, reach.high, reach.likely) == (50, 500, 300)
