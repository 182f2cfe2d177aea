"""Reach that grows: recent mentions re-read on a decaying schedule, against loopback APIs and a real store."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from monitor.config_check import parse_config
from monitor.ingest import run_source
from monitor.refresh import due, refresh_source
from monitor.runtime import Runtime
from monitor.store import Store
from tests.support import NOW

JSON = "application/json"
FIRST, WITHIN = timedelta(minutes=30), timedelta(days=2)


def test_the_schedule_decays_doubling_from_first_to_within() -> None:
    published = NOW
    at = lambda minutes: published + timedelta(minutes=minutes)  # noqa: E731
    assert not due(published, None, at(29), FIRST, WITHIN), "younger than first: not yet"
    assert due(published, None, at(30), FIRST, WITHIN) and due(published, at(29), at(31), FIRST, WITHIN)
    assert not due(published, at(31), at(59), FIRST, WITHIN), "between 30m and 1h: done already"
    assert due(published, at(59), at(61), FIRST, WITHIN) and due(published, at(119), at(121), FIRST, WITHIN)
    assert not due(published, at(121), at(239), FIRST, WITHIN)
    points = [m for m in range(0, 4 * 24 * 60, 15) if due(published, at(m - 15) if m else None, at(m), FIRST, WITHIN)]
    assert points == [30, 60, 120, 240, 480, 960, 1920], "30m, 1h … 32h; nothing past within (2d)"


class Algolia:
    """HN Search as Algolia answers it: ``search_by_date`` for new items, ``search`` with
    ``tags=story,(story_1,…)`` for given stories; ``points`` can be changed between runs."""

    def __init__(self, story: dict) -> None:
        self.story = story
        self.refreshes = 0

    def by_date(self, request) -> Response:
        low = int(request.args["numericFilters"].split(">=")[1].split(",")[0])
        hits = [self.story] if self.story["created_at_i"] >= low else []
        return Response(json.dumps({"hits": hits, "nbPages": 1, "page": 0}), content_type=JSON)

    def search(self, request) -> Response:
        self.refreshes += 1
        tags = request.args["tags"]
        assert tags.startswith("story,(") and tags.endswith(")")
        wanted = {t.removeprefix("story_") for t in tags[len("story,("):-1].split(",")}
        hits = [self.story] if self.story["objectID"] in wanted else []
        return Response(json.dumps({"hits": hits, "nbPages": 1, "page": 0}), content_type=JSON)


@pytest.fixture()
def hn(httpserver: HTTPServer):
    story = {"objectID": "4242", "created_at_i": int((NOW - timedelta(minutes=10)).timestamp()),
             "title": "Acme Cloud deleted our production database and support has ignored us for a week. Avoid them.",
             "author": "angry_ops", "_tags": ["story", "author_angry_ops", "story_4242"], "points": 3, "num_comments": 0,
             "url": "https://blog.example/acme"}
    api = Algolia(story)
    httpserver.expect_request("/api/v1/search_by_date").respond_with_handler(api.by_date)
    httpserver.expect_request("/api/v1/search").respond_with_handler(api.search)
    return api


def _runtime(httpserver: HTTPServer, client: httpx.Client, extra: str = "") -> Runtime:
    base = httpserver.url_for("/api/v1")
    config = parse_config(
        "brands: [{name: Acme Cloud, keywords: ['\"Acme Cloud\"']}]\n"
        f"sources: [{{name: hn, type: hackernews, base_url: '{base}', every: 15m{extra}}}]\n"
        "alerts: {backfill: 1h}\n"
    )
    return Runtime.build(config, client=client, notifiers={})


def _alerts(store: Store) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in store.db.execute("SELECT key, severity, reason FROM alerts ORDER BY created_at")]


def test_a_story_whose_points_rise_updates_its_reach_and_alerts_once(tmp_path: Path, httpserver: HTTPServer, hn) -> None:
    with Store(tmp_path / "m.db") as store, httpx.Client() as client:
        runtime = _runtime(httpserver, client)
        run_source(runtime.config.sources[0], runtime, store, now=NOW)
        (stored,) = store.mentions_by_key([("hn", "4242")])
        assert stored.score.bucket == "assassin" and stored.reach.high < 10_000
        assert [k for k, *_ in _alerts(store)] == ["console:assassin:hn:4242"], "the post itself alerted (warning)"
        assert hn.refreshes == 0, "10 minutes old: not due"

        hn.story.update(points=400, num_comments=120, _tags=[*hn.story["_tags"], "front_page"])
        report = run_source(runtime.config.sources[0], runtime, store, now=NOW + timedelta(minutes=25))  # age 35m
        assert report.refreshed == 1 and hn.refreshes == 1
        (now_seen,) = store.mentions_by_key([("hn", "4242")])
        assert now_seen.mention.metrics["points"] == 400 and now_seen.mention.metrics["front_page"] is True
        assert now_seen.reach.high == 400 * 100 and now_seen.reach.low == 400 * 75
        assert "400 points" in now_seen.reach.method
        health = store.db.execute("SELECT mentions, assassin_reach FROM brand_health_daily").fetchall()
        assert [tuple(r) for r in health] == [(1, now_seen.reach.likely)], "the rollup follows the new reach, counted once"
        (row,) = store.refreshes_of("hn", "4242")
        assert json.loads(row["metrics_before"])["points"] == 3 and json.loads(row["metrics_after"])["points"] == 400
        assert row["reach_high_before"] == stored.reach.high and row["alerted"] == 1
        alerts = _alerts(store)
        assert [(k, s) for k, s, _ in alerts] == [("console:assassin:hn:4242", "warning"), ("console:reach:assassin:hn:4242", "critical")]
        assert alerts[1][2] == ("now on the front page: points 3 → 400, comments 0 → 120; about 35,000 people "
                                "(30,000–40,000; was at most 300)")

        # Not due again before the 1 h point: no request; at it, unchanged: no write but the source's run record.
        run_source(runtime.config.sources[0], runtime, store, now=NOW + timedelta(minutes=40))
        assert hn.refreshes == 1
        before = store.db.conn.total_changes
        assert refresh_source(runtime.config.sources[0], _connector(client), runtime, store,
                              now=NOW + timedelta(minutes=55)) == 0
        assert hn.refreshes == 2
        assert store.db.conn.total_changes - before == 1, "one write: the source's refresh record, none per mention"
        assert len(store.refreshes_of("hn", "4242")) == 1 and len(_alerts(store)) == 2
        row = store.source_row("hn")
        assert row["refresh_checks_total"] == 2 and row["refresh_changes_total"] == 1

        # Risen further: updated again, but the crossing alerted already.
        hn.story["points"] = 900
        run_source(runtime.config.sources[0], runtime, store, now=NOW + timedelta(minutes=115))  # age 2h05
        assert hn.refreshes == 3 and len(store.refreshes_of("hn", "4242")) == 2 and len(_alerts(store)) == 2


def _connector(client: httpx.Client):
    from connectors import REGISTRY

    return REGISTRY["hackernews"](client)


def test_refresh_off_and_a_failing_re_read_cost_nothing_but_a_note(tmp_path: Path, httpserver: HTTPServer, hn) -> None:
    with Store(tmp_path / "m.db") as store, httpx.Client() as client:
        off = _runtime(httpserver, client, ", refresh: false")
        run_source(off.config.sources[0], off, store, now=NOW)
        run_source(off.config.sources[0], off, store, now=NOW + timedelta(minutes=25))
        assert hn.refreshes == 0

        runtime = _runtime(httpserver, client)
        httpserver.handlers.clear()
        httpserver.expect_request("/api/v1/search_by_date").respond_with_handler(hn.by_date)
        httpserver.expect_request("/api/v1/search").respond_with_data("busy", status=503)
        report = run_source(runtime.config.sources[0], runtime, store, now=NOW + timedelta(minutes=40))
        assert report.error is None and report.refreshed == 0, "the run worked; the re-read failed apart"
        row = store.source_row("hn")
        assert "HTTP 503" in row["last_refresh_error"] and row["refreshed_at"] is None, "due again next run"


# --- each connector's re-read, in its API's own format ------------------------------------------


def _refresh(httpserver: HTTPServer, options: dict, mentions, client=None):
    from connectors import REGISTRY
    from connectors.http import make_client

    base = httpserver.url_for("").rstrip("/")
    options = {k: (v.replace("BASE", base) if isinstance(v, str) else v) for k, v in options.items()}
    cls = REGISTRY[options["type"]]
    with make_client() as own:
        return cls(client or own).refresh(cls.Options.model_validate(options), mentions, now=NOW)


def _stored(source_type: str, ident: str, **metrics):
    from monitor.models import Mention

    return Mention(source="s", id=ident, url=None, text="Acme Cloud", published_at=NOW, source_type=source_type,
                   metrics=metrics)


def test_bluesky_re_reads_posts_25_a_call_with_followers(httpserver: HTTPServer, monkeypatch) -> None:
    from tests.support import fixture_bytes

    monkeypatch.setenv("BLUESKY_HANDLE", "monitor.bsky.social")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "app-pass-1234")
    httpserver.expect_request("/xrpc/com.atproto.server.createSession", method="POST").respond_with_data(
        fixture_bytes("bluesky_session.json"), content_type=JSON)
    posts = json.loads(fixture_bytes("bluesky_search.json"))["posts"]
    for post in posts:
        post["likeCount"] = (post.get("likeCount") or 0) + 1000
    httpserver.expect_request("/xrpc/app.bsky.feed.getPosts").respond_with_json({"posts": posts})
    httpserver.expect_request("/xrpc/app.bsky.actor.getProfiles").respond_with_data(fixture_bytes("bluesky_profiles.json"),
                                                                                    content_type=JSON)
    stored = [_stored("bluesky", p["uri"]) for p in posts] + [_stored("bluesky", f"at://did:plc:x/app.bsky.feed.post/{i}")
                                                              for i in range(60 - len(posts))]  # 60 asked: 3 calls of ≤25
    fresh = _refresh(httpserver, {"name": "b", "type": "bluesky", "base_url": "BASE"}, stored)
    calls = [r for r, _ in httpserver.log if r.path.endswith("getPosts")]
    assert [len(r.args.getlist("uris")) for r in calls] == [25, 25, 10]
    carol = next(f for uri, f in fresh.items() if "3lzzacme1" in uri)
    assert carol.metrics["likes"] == 1040 and carol.audience == 23000


def test_stack_exchange_re_reads_questions_100_a_call(httpserver: HTTPServer) -> None:
    from tests.support import fixture_bytes

    data = json.loads(fixture_bytes("stackexchange_search.json"))
    question = data["items"][0]
    question.update(score=57, view_count=12000)
    httpserver.expect_request(f"/2.3/questions/{question['question_id']}").respond_with_json(
        {"items": [question], "has_more": False, "quota_remaining": 9000})
    fresh = _refresh(httpserver, {"name": "se", "type": "stackexchange", "base_url": "BASE/2.3"},
                     [_stored("stackexchange", str(question["question_id"]), score=1, views=10)])
    assert fresh[str(question["question_id"])].metrics["views"] == 12000
    assert httpserver.log[0][0].args["site"] == "stackoverflow"


def test_youtube_re_reads_statistics_with_a_key_and_feeds_without(httpserver: HTTPServer, monkeypatch) -> None:
    from tests.support import fixture_bytes

    monkeypatch.setenv("YT_KEY", "secret-key")
    httpserver.expect_request("/v3/videos").respond_with_data(fixture_bytes("youtube_videos.json"), content_type=JSON)
    video = json.loads(fixture_bytes("youtube_videos.json"))["items"][0]["id"]
    fresh = _refresh(httpserver, {"name": "y", "type": "youtube", "api_url": "BASE/v3", "api_key_env": "YT_KEY"},
                     [_stored("youtube", video, views=1)])
    assert fresh[video].metrics["views"] == 9120
    assert httpserver.log[0][0].args["part"] == "statistics", "videos.list: 1 unit, not search's 100"
    httpserver.clear()
    httpserver.expect_request("/feeds/videos.xml").respond_with_data(fixture_bytes("youtube_channel.atom.xml"),
                                                                     content_type="application/atom+xml")
    fresh = _refresh(httpserver, {"name": "y", "type": "youtube", "base_url": "BASE", "channel_ids": ["UCacmereviews000000000001"]},
                     [_stored("youtube", "AcmeVid0001", views=1), _stored("youtube", "gone", views=1)])
    assert list(fresh) == ["AcmeVid0001"] and fresh["AcmeVid0001"].metrics["views"] == 48210


def test_lobsters_and_mastodon_re_read_one_by_one_and_skip_what_is_gone(httpserver: HTTPServer) -> None:
    from tests.support import fixture_bytes

    story = json.loads(fixture_bytes("lobsters_newest.json"))[0]
    httpserver.expect_request(f"/s/{story['short_id']}.json").respond_with_json({**story, "score": 88, "comments": []})
    httpserver.expect_request("/s/gone00.json").respond_with_data("not found", status=404)
    fresh = _refresh(httpserver, {"name": "l", "type": "lobsters", "base_url": "BASE"},
                     [_stored("lobsters", story["short_id"], score=1), _stored("lobsters", "gone00", score=1)])
    assert list(fresh) == [story["short_id"]] and fresh[story["short_id"]].metrics["score"] == 88

    status = json.loads(fixture_bytes("mastodon_tag.json"))[1]
    httpserver.expect_request(f"/api/v1/statuses/{status['id']}").respond_with_json({**status, "reblogs_count": 300})
    fresh = _refresh(httpserver, {"name": "m", "type": "mastodon", "base_url": "BASE"},
                     [_stored("mastodon", status["uri"], reblogs=12, local_id=status["id"])])
    assert fresh[status["uri"]].metrics["reblogs"] == 300 and fresh[status["uri"]].audience == 5400


def test_a_burst_beyond_max_pages_is_stored_once_over_three_runs_none_skipped(tmp_path: Path, httpserver: HTTPServer) -> None:
    """The gap acceptance end to end: 5 pages of new Hacker News posts, max_pages 2, three runs
    through the store: every post stored exactly once."""
    from tests.test_connector_quirks import _algolia

    start = int(NOW.timestamp()) - 3600
    posts = [{"objectID": str(5000 + i), "created_at_i": start + 60 * i, "title": f"Acme Cloud post {i}", "author": "a",
              "_tags": ["story"], "points": 1} for i in range(10)]
    httpserver.expect_request("/api/v1/search_by_date").respond_with_handler(_algolia(posts))
    httpserver.expect_request("/api/v1/search").respond_with_json({"hits": [], "nbPages": 1})
    with Store(tmp_path / "m.db") as store, httpx.Client() as client:
        runtime = _runtime(httpserver, client, ", hits_per_page: 2, max_pages: 2")
        stored = [run_source(runtime.config.sources[0], runtime, store, now=NOW + timedelta(minutes=m)).stored
                  for m in (0, 15, 30)]
        rows = [r[0] for r in store.db.execute("SELECT id FROM mentions WHERE source = 'hn' ORDER BY id")]
        status = store.source_row("hn")["last_warning"]
    assert sum(stored) == 10 and rows == sorted(p["objectID"] for p in posts), "each post once, none skipped"
    assert status is None, "caught up: no longer behind"
