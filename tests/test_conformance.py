"""Every connector over the responses recorded from the real APIs (../shared/fixtures, when present).

Listings go through the connector's whole fetch, served from 127.0.0.1; entities (one item as it
appears inside a response) through the connector's item parser; meta files through the code
that reads them (rate-limit headers).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

from connectors import REGISTRY
from connectors.bluesky import parse_post
from connectors.http import HostLimiter, make_client
from connectors.lemmy import parse_post_view
from connectors.mastodon import parse_status
from monitor.models import SourceState
from tests.support import NOW, SHARED, queries

FIXTURES = SHARED / "fixtures"
pytestmark = pytest.mark.skipif(not FIXTURES.exists(), reason="../shared/fixtures not present")


def files(pattern: str) -> list[Path]:
    return sorted(FIXTURES.glob(pattern)) if FIXTURES.exists() else []


# (glob, connector type, served path, options, state) for every listing kind.
LISTINGS = [
    ("*/*.rss.xml", "rss", "/feed", {"url": "BASE/feed"}, SourceState()),
    ("*/*.atom.xml", "rss", "/feed", {"url": "BASE/feed"}, SourceState()),
    ("appstore/*.xml", "rss", "/feed", {"url": "BASE/feed"}, SourceState()),
    ("hackernews/search*.json", "hackernews", "/api/v1/search_by_date", {"base_url": "BASE/api/v1", "max_pages": 1}, SourceState(cursor="0")),
    ("reddit/*_listing_*.json", "reddit", "/search", {"base_url": "BASE", "oauth_url": "BASE", "client_id_env": "T_ID",
                                                       "client_secret_env": "T_SECRET", "max_pages": 1}, SourceState(cursor="2000-01-01T00:00:00Z")),
    ("reddit/*.atom.xml", "reddit", "/search.rss", {"base_url": "BASE", "max_pages": 1}, SourceState(cursor="2000-01-01T00:00:00Z")),
    ("youtube/*.atom.xml", "youtube", "/feeds/videos.xml", {"base_url": "BASE", "channel_ids": ["UCx"]}, SourceState()),
    ("googlenews/*.rss.xml", "googlenews", "/rss/search", {"base_url": "BASE"}, SourceState()),
    ("appstore/customerreviews_*.json", "appstore", "/us/rss/customerreviews/page=1/id=1/sortby=mostrecent/json",
     {"base_url": "BASE", "app_ids": ["1"]}, SourceState()),
    ("stackexchange/*.json", "stackexchange", "/search/advanced", {"base_url": "BASE", "max_pages": 1, "answers": False},
     SourceState(cursor="0")),
    ("github/search_issues_*.json", "github", "/search/issues", {"base_url": "BASE", "max_pages": 1}, SourceState(cursor="2000-01-01T00:00:00Z")),
    ("discourse/posts_json_*.json", "discourse", "/posts.json", {"base_url": "BASE", "mode": "posts"}, SourceState()),
    ("discourse/search_json_*.json", "discourse", "/search.json", {"base_url": "BASE"}, SourceState()),
    ("discourse/latest_json_*.json", "discourse", "/latest.json", {"base_url": "BASE", "mode": "latest"}, SourceState()),
    ("mastodon/timelines_tag_*[0-9].json", "mastodon", "/api/v1/timelines/tag/hoot", {"base_url": "BASE", "hashtags": ["hoot"]}, SourceState()),
]
CASES = [(path, kind, served, options, state) for pattern, kind, served, options, state in LISTINGS for path in files(pattern)]


def test_every_recorded_listing_has_a_case() -> None:
    listed = {c[0] for c in CASES}
    expected = {p for p in FIXTURES.glob("*/*") if p.suffix in (".json", ".xml") and "_objects_" not in p.name
                and not p.name.startswith(("postview", "communityview", "status_", "feedviewpost")) and not p.name.endswith("headers.json")}
    assert expected <= listed


@pytest.mark.parametrize("path, kind, served, options, state", CASES, ids=[f"{c[1]}:{c[0].parent.name}/{c[0].name}" for c in CASES])
def test_connector_reads_recorded_listing(httpserver: HTTPServer, monkeypatch, path: Path, kind, served, options, state) -> None:
    monkeypatch.setenv("T_ID", "id")
    monkeypatch.setenv("T_SECRET", "secret")
    content_type = "application/json" if path.suffix == ".json" else "application/xml"
    httpserver.expect_request("/api/v1/access_token").respond_with_json({"access_token": "t"})
    httpserver.expect_request(served).respond_with_data(path.read_bytes(), content_type=content_type)
    base = httpserver.url_for("").rstrip("/")
    cls = REGISTRY[kind]
    parsed = cls.Options.model_validate({"name": "recorded", "type": kind, **{k: v.replace("BASE", base) if isinstance(v, str) else v
                                                                              for k, v in options.items()}})
    with make_client() as client:
        result = cls(client).fetch(parsed, queries=queries("apple"), state=state, now=NOW)
    assert result.mentions, f"no mention from {path.name}"
    for mention in result.mentions:
        assert mention.id and mention.url and mention.published_at.tzinfo is not None
        assert mention.title or mention.text


@pytest.mark.parametrize("path", files("bluesky/*.json"), ids=lambda p: p.name)
def test_bluesky_post_views_parse(path: Path) -> None:
    data = json.loads(path.read_text())
    views = data if isinstance(data, list) else [data["post"]]
    for view in views:
        mention = parse_post(view, source="b")
        assert mention.url.startswith("https://bsky.app/profile/") and mention.published_at.tzinfo is not None


@pytest.mark.parametrize("path", files("mastodon/status_*.json"), ids=lambda p: p.name)
def test_mastodon_status_entities_parse(path: Path) -> None:
    mention = parse_status(json.loads(path.read_text()), source="m")
    assert mention.url and mention.text and mention.audience is not None


def test_lemmy_entities_parse() -> None:
    (post,) = files("lemmy/postview_*.json")
    mention = parse_post_view(json.loads(post.read_text()), source="l")
    assert mention.url == "https://sh.itjust.works/post/5716352" and mention.published_at.tzinfo is not None
    (community,) = files("lemmy/communityview_*.json")
    assert json.loads(community.read_text())["counts"]["subscribers"] >= 0


def test_mastodon_rate_limit_headers_are_understood() -> None:
    (path,) = files("mastodon/*.headers.json")
    recorded = json.loads(path.read_text())["headers"]
    headers = httpx.Headers([(k, v) for k, values in recorded.items() for v in values])
    limiter = HostLimiter()
    limiter.after("localhost:3000", httpx.Response(200, headers=headers))
    assert "localhost:3000" in limiter._spacing
