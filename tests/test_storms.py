"""Storms: one burst is one alert, said in words first, its reach, and updates in its thread."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.judgement.series import ALL_SOURCES, Fired
from monitor.judgement.spikes import Verdict
from monitor.judgement.storms import Storm, alert, describe, details, extend, gather, news, summary, tally
from monitor.models import Judged, Match, Mention, Reach, Score
from monitor.store import Store
from tests.support import NOW

T0 = datetime(2026, 11, 30, 14, 25, tzinfo=timezone.utc)
STEP = timedelta(minutes=5)


def fired(source: str, measure: str, value: float, expected: float, z: float, at: datetime = T0) -> Fired:
    verdict = Verdict(at, value, expected, 0.0, expected + 2, z, "spike", confidence=1.0)
    return Fired("Acme Cloud", source, measure, verdict, at + STEP,
                 {"method": f"storm rule on {measure}", "words": ["outage", "checkout"], "window": [at.isoformat()]})


def row(i: int, source: str, at: datetime, *, sentiment: float = -0.6, reach: tuple[int, int, int] = (1, 3, 4),
        bucket: str = "assassin") -> dict:
    return {"source": source, "id": str(i), "published_at": (at + timedelta(seconds=i)).isoformat(), "bucket": bucket,
            "sentiment": sentiment, "reach_low": reach[0], "reach_likely": reach[1], "reach_high": reach[2],
            "author": f"u{i}", "title": "", "text": "Acme Cloud outage, checkout broken", "url": None}


def test_one_burst_firing_eight_series_is_one_storm_told_in_words() -> None:
    # Four measures for the brand and two for one of its sources fire in one window, and one more
    # measure five minutes later: one storm, headlined by its negative posts.
    items = [fired(ALL_SOURCES, m, v, 0.2, z) for m, v, z in
             (("mentions", 9, 10.8), ("negative", 7, 15.9), ("negative_reach", 52_000, 22.9))]
    items += [fired("hackernews", "negative", 5, 0.1, 12.0), fired("hackernews", "mentions", 6, 0.1, 9.0),
              fired(ALL_SOURCES, "assassins", 6, 0.1, 14.0, at=T0 + STEP)]
    (storm,) = gather(items, [], window=STEP)
    assert storm.measure == "negative" and storm.start == T0 and storm.end == T0 + 2 * STEP
    assert len(storm.series) == 6 and all(item.storm == storm.id for item in items)
    # It grows by the next window still in a burst, and not by one after an hour's quiet.
    hot = {T0 + 2 * STEP: {"negative": [2.0, 0.2, 3.1]}, T0 + timedelta(hours=3): {"negative": [9.0, 0.2, 9.0]}}
    extend(storm, hot, window=STEP, until=T0 + 3 * STEP)
    assert storm.end == T0 + 3 * STEP and not storm.ended
    rows = ([row(i, "hackernews", T0, reach=(6_000, 8_000, 10_000)) for i in range(5)]
            + [row(5 + i, "reddit", T0, reach=(2_000, 3_000, 4_000)) for i in range(2)]
            + [row(7 + i, "reddit", T0, sentiment=0.5, bucket="advocate") for i in range(3)]  # not negative: not counted
            + [row(10 + i, "hackernews", T0 + 2 * STEP) for i in range(2)])
    tally(storm, rows)
    assert storm.posts == 9 and storm.sources == {"hackernews": 7, "reddit": 2}
    assert summary(storm) == ("Acme Cloud: 9 negative posts in 15 minutes, about 0 expected at this time of day; "
                              "mostly on hackernews (78%); top words: outage, checkout; "
                              "reached about 34,000–58,000 people so far")
    numbers = details(storm)
    assert numbers.startswith("In 5-minute windows (UTC): negative 7 (expected 0.2, z +15.9) at 14:25, mentions 9 "
                              "(expected 0.2, z +10.8) at 14:25, negative reach 52,000 (expected 0.2, z +22.9) at 14:25, "
                              "assassins 6 (expected 0.1, z +14.0) at 14:30. Fired on: all sources, hackernews (6 series)")
    assert "How: storm rule on negative" in numbers
    assert "audiences overlap, so fewer distinct people than that" in numbers
    ended = Storm.from_row(storm.to_row())
    extend(ended, {}, window=STEP, until=T0 + 3 * STEP + timedelta(hours=1, minutes=5))
    assert ended.ended  # an hour without a window in a burst
    assert Storm.from_row(storm.to_row()).to_row() == storm.to_row()  # what the store keeps reads back the same


def test_a_storm_is_news_when_it_starts_and_each_time_it_doubles() -> None:
    storm = Storm("Acme Cloud", "spike", ALL_SOURCES, T0, T0 + STEP, "negative", posts=7)
    assert news(storm, min_excess=5) == "new"
    storm.alerts, storm.alerted_posts = 1, 7
    storm.posts = 13
    assert news(storm, min_excess=5) is None  # not yet doubled
    storm.posts = 14
    assert news(storm, min_excess=5) == "grown"
    small = Storm("Acme Cloud", "spike", ALL_SOURCES, T0, T0 + STEP, "negative", posts=4, alerts=1, alerted_posts=2)
    assert news(small, min_excess=5) is None  # doubled, but by two posts
    drop = Storm("Acme Cloud", "drop", "forum", T0, T0 + STEP, "mentions", alerts=1)
    assert news(drop, min_excess=5) is None  # a drop is said once


def test_the_alert_carries_the_storms_own_posts_and_the_period_it_is_about() -> None:
    storm = Storm("Acme Cloud", "spike", ALL_SOURCES, T0, T0 + STEP, "negative", posts=7, alerts=1, alerted_posts=3,
                  series=["*|negative"], reach=(100, 200, 300), first={"negative": ["2026-11-30T14:25:00Z", 7, 0.2, 15.9]})
    post = Judged(Mention("forum", "1", None, "Acme Cloud is down", T0), Match(("Acme Cloud",), ()),
                  Score(-0.7, "assassin"), Reach(1, 4, "typical account", 3))
    grown = alert(storm, "grown", [post], now=NOW)
    assert grown.reason.startswith("The storm grows (3 → 7 posts). Acme Cloud: 7 negative posts in 5 minutes")
    assert grown.key == f"spike:Acme Cloud:*:{T0.isoformat().replace('+00:00', 'Z')}:7" and grown.severity == "critical"
    assert grown.mentions == (post,) and grown.starts_at == T0 and grown.ends_at == T0 + STEP + timedelta(hours=1)
    assert grown.details.startswith("In 5-minute windows (UTC): negative 7 (expected 0.2, z +15.9) at 14:25.")
    assert describe(storm, [post]).splitlines()[2] == "  ▸ ? (forum, reach ~3): Acme Cloud is down"


CONFIG = """\
database: {db}
brands:
  - name: Acme
    keywords: [acme]
receivers:
  - {{name: slack, type: slack, token_env: TEST_SLACK_TOKEN, channel: C123, base_url: '{api}'}}
route:
  receiver: slack
  group_by: [kind, brand]
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 4h
"""


@pytest.fixture
def forum_monitor(slack, monkeypatch, tmp_path: Path):
    """A monitor on a clock, fed the demo's forum history (a two-hour storm of complaints), with
    its Slack on the stand-in; yields (monitor, clock, ingest(until), storm start)."""
    from monitor import demo
    from monitor.ingest import ingest
    from monitor.scheduler import Monitor

    monkeypatch.setenv("TEST_SLACK_TOKEN", "xoxb-test-token")
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(db=tmp_path / "m.db", api=slack.api_url))
    storm = NOW - timedelta(days=2, hours=3)
    clock = [storm]
    monitor = Monitor(path, clock=lambda: clock[0])
    posts = [Mention(source="forum", id=p["id"], url=f"https://forum.example/t/{p['id']}",
                     text=p["text"].replace("Acme Cloud", "Acme"), published_at=p["at"], author=p["author"],
                     source_type="discourse") for p in demo.history(NOW)]
    fed = [storm - timedelta(days=30)]

    def feed(until: datetime) -> None:
        with Store(tmp_path / "m.db") as store:
            store.ensure_source("forum", "discourse", now=clock[0])
            ingest([p for p in posts if fed[0] <= p.published_at < until], "forum", monitor.runtime, store, now=clock[0])
        fed[0] = until

    feed(storm)
    monitor.spikes_job()  # the first pass over the history: quiet, the series are known now
    yield monitor, clock, feed, storm


def test_a_live_storm_is_one_alert_then_updates_in_its_thread(forum_monitor, slack) -> None:
    monitor, clock, feed, start = forum_monitor
    feed(start + timedelta(minutes=15))
    clock[0] = start + timedelta(minutes=15) + timedelta(minutes=30)  # settled
    monitor.spikes_job()
    first = slack.posted()
    assert len(first) == 1, [m["text"] for m in first]  # eight series fired: one message
    why = first[0]["blocks"][1]["text"]["text"]
    assert why.startswith("Acme: ") and " negative posts in " in why and "expected at this time of day" in why
    assert "; mostly on forum; top words: " in why and "; reached about " in why and why.endswith(" people so far")
    numbers = first[0]["blocks"][2]["elements"][0]["text"]
    assert numbers.startswith("In 5-minute windows (UTC): negative ") and "Fired on: all sources, forum" in numbers
    assert "forum.example/t/" in str(first[0]["blocks"][3:])  # the storm's own posts
    # The storm goes on for two hours: it is said again, in the first message's thread, as it doubles.
    for minutes in (45, 90, 135):
        feed(start + timedelta(minutes=minutes))
        clock[0] = start + timedelta(minutes=minutes + 30)
        monitor.spikes_job()
    posted = slack.posted()
    updates = posted[1:]
    assert updates and all(u["thread_ts"] == "0.0001" for u in updates), [u.get("thread_ts") for u in updates]
    assert all(u["text"].startswith("Storm · Acme: The storm grows (") for u in updates), [u["text"] for u in updates]
    assert first[0]["text"].startswith("Storm · Acme: ") and " negative posts in " in first[0]["text"]
    assert len(first[0]["text"]) <= 150
    with Store(monitor.db_path) as store:
        storms = store.storms(since=start - timedelta(hours=1))
        linked = store.db.execute("SELECT count(DISTINCT storm), count(*) FROM spikes WHERE window_start >= ?",
                                  (start.isoformat().replace("+00:00", "Z"),)).fetchone()
    assert len(storms) == 1 and storms[0]["alerts"] == len(posted) and storms[0]["posts"] > 100
    assert linked[0] == 1 and linked[1] >= 4  # every series that fired joined that one storm

