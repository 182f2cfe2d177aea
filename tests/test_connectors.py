"""The connector contract, over the whole registry, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from connectors import REGISTRY
from connectors.http import make_client
from monitor.errors import FetchError, ParseError, RateLimited
from monitor.models import SourceState
from tests.samples import JSON, SAMPLES, serve
from tests.support import NOW, fixture_bytes, queries


def test_every_registered_connector_has_a_contract_sample() -> None:
    assert set(REGISTRY) == set(SAMPLES)


@pytest.fixture(autouse=True)
def credentials(monkeypatch) -> None:
    for sample in SAMPLES.values():
        for key, value in sample.env.items():
            monkeypatch.setenv(key, value)


def fetch(httpserver: HTTPServer, type_: str, *, timeout: float = 5.0, state: SourceState = SourceState(), **extra):
    sample = SAMPLES[type_]
    connector_cls = REGISTRY[type_]
    options = connector_cls.Options.model_validate({**sample.options(httpserver.url_for("").rstrip("/")), **extra})
    with make_client(contact="tests@example.invalid", timeout_seconds=timeout) as client:
        return connector_cls(client).fetch(options, queries=queries('"Acme Cloud"'), state=state, now=NOW)


@pytest.mark.parametrize("type_", sorted(SAMPLES))
def test_fetch_yields_mentions_with_ids_urls_text_and_aware_times(httpserver: HTTPServer, type_: str) -> None:
    serve(httpserver, type_)
    first = fetch(httpserver, type_).mentions
    second = fetch(httpserver, type_).mentions
    assert first
    for mention in first:
        assert mention.id and mention.url and mention.text
        assert mention.published_at.tzinfo is not None
        assert mention.source_type == type_
        assert mention.raw
    assert [m.id for m in first] == [m.id for m in second], "ids must be stable across fetches"


@pytest.mark.parametrize("type_", sorted(SAMPLES))
def test_user_agent_names_the_project_and_contact(httpserver: HTTPServer, type_: str) -> None:
    serve(httpserver, type_)
    fetch(httpserver, type_)
    agent = httpserver.log[0][0].headers["User-Agent"]
    assert agent.startswith("reputation-monitor/") and "tests@example.invalid" in agent


@pytest.mark.parametrize("type_", sorted(SAMPLES))
def test_server_error_is_a_retryable_fetch_error(httpserver: HTTPServer, type_: str) -> None:
    serve(httpserver, type_, lambda r: r.respond_with_data("boom", status=500))
    with pytest.raises(FetchError) as info:
        fetch(httpserver, type_)
    assert info.value.retryable and info.value.status == 500
    assert info.value.source == SAMPLES[type_].options("")["name"]


@pytest.mark.parametrize("type_", sorted(SAMPLES))
def test_client_error_is_not_retryable(httpserver: HTTPServer, type_: str) -> None:
    serve(httpserver, type_, lambda r: r.respond_with_data("gone", status=404))
    with pytest.raises(FetchError) as info:
        fetch(httpserver, type_)
    assert not info.value.retryable and info.value.status == 404


@pytest.mark.parametrize("type_", sorted(SAMPLES))
def test_429_is_rate_limited_with_retry_after(httpserver: HTTPServer, type_: str) -> None:
    serve(httpserver, type_, lambda r: r.respond_with_data("slow down", status=429, headers={"Retry-After": "120"}))
    with pytest.raises(RateLimited) as info:
        fetch(httpserver, type_)
    assert info.value.retry_after_seconds == 120


@pytest.mark.parametrize("type_", sorted(SAMPLES))
def test_timeout_is_a_retryable_fetch_error(httpserver: HTTPServer, type_: str) -> None:
    sample = SAMPLES[type_]

    def slow(_request):
        time.sleep(1.0)
        return Response(sample.body, content_type=sample.content_type)

    serve(httpserver, type_, lambda r: r.respond_with_handler(slow))
    with pytest.raises(FetchError) as info:
        fetch(httpserver, type_, timeout=0.2)
    assert info.value.retryable and "timed out" in str(info.value)


@pytest.mark.parametrize("type_", sorted(SAMPLES))
def test_empty_body_is_a_parse_error(httpserver: HTTPServer, type_: str) -> None:
    serve(httpserver, type_, lambda r: r.respond_with_data(b"", content_type=SAMPLES[type_].content_type))
    with pytest.raises(ParseError, match="empty body"):
        fetch(httpserver, type_)


@pytest.mark.parametrize("type_", sorted(SAMPLES))
def test_malformed_body_is_a_parse_error(httpserver: HTTPServer, type_: str) -> None:
    serve(httpserver, type_, lambda r: r.respond_with_data(b"<html><body>{{ not it", content_type="text/html"))
    with pytest.raises(ParseError):
        fetch(httpserver, type_)


@pytest.mark.parametrize("type_", sorted(SAMPLES))
def test_well_formed_body_of_the_wrong_shape_is_a_parse_error(httpserver: HTTPServer, type_: str) -> None:
    wrong = b'{"unexpected": true}' if SAMPLES[type_].content_type == JSON else b"<?xml version='1.0'?><nothing/>"
    serve(httpserver, type_, lambda r: r.respond_with_data(wrong, content_type=SAMPLES[type_].content_type))
    with pytest.raises(ParseError):
        fetch(httpserver, type_)


def test_truncated_json_is_a_parse_error(httpserver: HTTPServer) -> None:
    body = SAMPLES["hackernews"].body[:200]
    httpserver.expect_request(SAMPLES["hackernews"].path).respond_with_data(body, content_type="application/json")
    with pytest.raises(ParseError, match="did not return JSON"):
        fetch(httpserver, "hackernews")


# --- rss -------------------------------------------------------------------------------------


def test_rss_conditional_get_sends_validators_and_handles_304(httpserver: HTTPServer) -> None:
    headers = {"ETag": '"v1"', "Last-Modified": "Mon, 23 Nov 2026 10:30:00 GMT"}
    httpserver.expect_ordered_request("/feed.xml").respond_with_data(
        fixture_bytes("feed.rss.xml"), content_type="application/rss+xml", headers=headers)
    httpserver.expect_ordered_request(
        "/feed.xml", headers={"If-None-Match": '"v1"', "If-Modified-Since": "Mon, 23 Nov 2026 10:30:00 GMT"}
    ).respond_with_data(b"", status=304)
    first = fetch(httpserver, "rss")
    assert first.state.etag == '"v1"' and len(first.mentions) == 3
    second = fetch(httpserver, "rss", state=first.state)
    assert second.not_modified and second.mentions == [] and second.state == first.state
    httpserver.check_assertions()


def test_atom_feed_with_relative_link(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(fixture_bytes("feed.atom.xml"), content_type="application/atom+xml")
    (mention,) = fetch(httpserver, "rss").mentions
    assert mention.id == "tag:status.example,2026:incident-42"
    # Relative links resolve against the address the feed was fetched from (RFC 3986 base URI).
    assert mention.url == httpserver.url_for("/incidents/42")
    assert mention.author_name == "Status Team"
    assert mention.language == "en"
    assert mention.published_at.isoformat() == "2026-11-23T10:00:00+00:00"


def test_rss_fields(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(fixture_bytes("feed.rss.xml"), content_type="application/rss+xml")
    mention = fetch(httpserver, "rss").mentions[0]
    assert mention.title == "Acme Cloud lost our data"
    assert mention.author_name == "Dana K"
    assert mention.language == "en"
    assert "<b>infuriating</b>" in mention.text  # normalize strips HTML, not the connector


# --- hackernews ------------------------------------------------------------------------------


def test_hackernews_sends_terms_tags_and_cursor(httpserver: HTTPServer) -> None:
    sample = SAMPLES["hackernews"]
    httpserver.expect_request(sample.path).respond_with_data(sample.body, content_type=sample.content_type)
    result = fetch(httpserver, "hackernews", state=SourceState(cursor="1795420000"))
    args = httpserver.log[0][0].args
    assert args["query"] == '"Acme Cloud"'
    assert args["tags"] == "(story,comment)"
    assert args["numericFilters"] == "created_at_i>=1795419400", "10 minutes before the cursor: late-indexed posts"
    assert result.state.cursor == "1795430400", "the cursor moves to the newest created_at_i"


def test_the_overlap_re_reads_before_the_cursor_but_never_moves_it_back(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v1/search_by_date").respond_with_json({"hits": [], "nbPages": 0})
    result = fetch(httpserver, "hackernews", state=SourceState(cursor="1795420000"), overlap="1h")
    assert httpserver.log[0][0].args["numericFilters"] == "created_at_i>=1795416400"
    assert result.state.cursor == "1795420000"


def test_hackernews_first_run_is_bounded_by_first_run_window(httpserver: HTTPServer) -> None:
    sample = SAMPLES["hackernews"]
    httpserver.expect_request(sample.path).respond_with_data(sample.body, content_type=sample.content_type)
    fetch(httpserver, "hackernews")
    assert httpserver.log[0][0].args["numericFilters"] == f"created_at_i>={int(NOW.timestamp()) - 86400}"


def test_hackernews_pages_until_the_last_page(httpserver: HTTPServer) -> None:
    import json

    page = json.loads(SAMPLES["hackernews"].body)
    page0 = dict(page, nbPages=2, page=0, hits=page["hits"][:1])
    page1 = dict(page, nbPages=2, page=1, hits=page["hits"][1:])
    httpserver.expect_ordered_request("/api/v1/search_by_date", query_string={"query": '"Acme Cloud"', "tags": "(story,comment)",
        "numericFilters": "created_at_i>=0", "hitsPerPage": "100", "page": "0"}).respond_with_json(page0)
    httpserver.expect_ordered_request("/api/v1/search_by_date", query_string={"query": '"Acme Cloud"', "tags": "(story,comment)",
        "numericFilters": "created_at_i>=0", "hitsPerPage": "100", "page": "1"}).respond_with_json(page1)
    httpserver.expect_request("/api/v1/search").respond_with_json({"hits": [], "nbPages": 0})  # the comment's story
    result = fetch(httpserver, "hackernews", state=SourceState(cursor="1"))
    assert [m.id for m in result.mentions] == ["42000001", "42000002"]
    httpserver.check_assertions()


def test_a_hacker_news_comment_takes_its_storys_points_for_reach(httpserver: HTTPServer) -> None:
    """Algolia gives a comment no points: its readers are its story's, read in one request per 50
    stories (``tags=story,(story_…)``); a story already in the results costs nothing."""
    import json

    from monitor.config import ReachFactors
    from monitor.judgement.reach import estimate_reach

    page = json.loads(SAMPLES["hackernews"].body)
    httpserver.expect_request("/api/v1/search_by_date").respond_with_json(page)
    story = dict(page["hits"][0], objectID="41999999", points=400, _tags=["story", "story_41999999", "front_page"])
    httpserver.expect_request("/api/v1/search").respond_with_json({"hits": [story], "nbPages": 1})
    result = fetch(httpserver, "hackernews")
    comment = next(m for m in result.mentions if m.metrics["kind"] == "comment")
    assert comment.metrics["story_points"] == 400 and comment.metrics["front_page"] is True
    (story_request,) = [r for r, _ in httpserver.log if r.path == "/api/v1/search"]
    assert story_request.args["tags"] == "story,(story_41999999)"
    reach = estimate_reach(comment, ReachFactors())
    assert (reach.low, reach.high) == (3_000, 20_000)
    assert reach.method == ("hackernews comment: its story's 400 points × 75–100 visitors per point × 10%–50% "
                            "who read comments")


def test_hackernews_story_and_comment_fields(httpserver: HTTPServer) -> None:
    sample = SAMPLES["hackernews"]
    httpserver.expect_request(sample.path).respond_with_data(sample.body, content_type=sample.content_type)
    story, comment = fetch(httpserver, "hackernews").mentions
    assert story.url == "https://news.ycombinator.com/item?id=42000001"
    assert story.metrics == {"kind": "story", "points": 240, "comments": 57, "front_page": True,
                             "link": "https://blog.example/acme-outage"}
    assert comment.title == "Ask HN: Which cloud do you use?"
    assert comment.metrics["kind"] == "comment"
    assert comment.text.startswith("We moved off Acme Cloud")


def test_cached_base_joins_parse_every_recorded_feed_as_feedparser_alone() -> None:
    """``connectors.rss`` keeps feedparser's base-URI joins (a pure function it recomputes at
    every start tag); every recorded feed, ours and the shared ones, parses to the same result
    with the joins recomputed, and under an xml:base that changes from element to element."""
    import feedparser
    import feedparser.mixin

    from connectors import rss  # noqa: F401 - installs the cache
    from tests.support import ROOT, SHARED

    cached = feedparser.mixin.make_safe_absolute_uri
    assert cached.uncached is not None
    feeds = [p for folder in (ROOT / "tests" / "fixtures", SHARED / "fixtures") for p in sorted(folder.rglob("*.xml"))]
    feeds += [b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://a.example/x/"><title>t</title>
      <entry xml:base="../y/"><id>1</id><link href="p1"/><content type="html" xml:base="/z/">&lt;a href="q"&gt;q&lt;/a&gt;</content></entry>
      <entry><id>2</id><link href="p2"/></entry><entry xml:base="javascript:alert(1)//"><id>3</id><link href="p3"/></entry></feed>"""]
    assert len(feeds) >= 10
    for feed in feeds:
        body = feed.read_bytes() if isinstance(feed, Path) else feed
        headers = {"content-location": "https://feeds.example/path/feed.xml", "content-type": "application/xml"}
        with_cache = feedparser.parse(body, response_headers=headers)
        feedparser.mixin.make_safe_absolute_uri = cached.uncached
        try:
            alone = feedparser.parse(body, response_headers=headers)
        finally:
            feedparser.mixin.make_safe_absolute_uri = cached
        assert with_cache == alone, feed


def test_raw_keeps_what_the_feed_gave_not_feedparsers_derived_copies() -> None:
    """A stored post's ``raw`` is the entry as the source wrote it: the fields, the tags, the
    Google News source and YouTube's media fields stay; feedparser's copies (``*_detail``,
    ``*_parsed``, ``authors``, a ``links`` of the link alone, an Atom summary that is the content) go."""
    from connectors.rss import parse_feed

    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>Acme down</title>
      <link>https://e.com/1</link><description>&lt;p&gt;Acme Cloud is &lt;b&gt;down&lt;/b&gt;&lt;/p&gt;</description>
      <pubDate>Mon, 23 Nov 2026 12:00:00 GMT</pubDate><guid>https://e.com/1</guid><author>a@e.com (Ann)</author>
      <category>outage</category><source url="https://news.example">Example News</source></item></channel></rss>"""
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>t3_x</id>
      <title>Acme Cloud again</title><link href="https://e.com/2"/><link rel="enclosure" href="https://e.com/2.mp3"/>
      <updated>2026-11-23T12:00:00Z</updated><content type="html">&lt;p&gt;Acme Cloud lost my files&lt;/p&gt;</content>
      <author><name>/u/bob</name></author></entry></feed>"""
    item = parse_feed(rss, source="s", url="https://e.com/feed", now=NOW)[0].raw
    assert not [k for k in item if k.endswith(("_detail", "_parsed"))] and "authors" not in item and "links" not in item
    assert item["title"] == "Acme down" and item["published"].startswith("Mon, 23 Nov 2026") and item["id"] == "https://e.com/1"
    assert item["tags"][0]["term"] == "outage" and item["source"]["title"] == "Example News" and item["author"] == "a@e.com (Ann)"
    entry = parse_feed(atom, source="s", url="https://e.com/feed", now=NOW)[0].raw
    assert "summary" not in entry and entry["content"][0]["value"] == "<p>Acme Cloud lost my files</p>"
    assert [link["rel"] for link in entry["links"]] == ["alternate", "enclosure"], "a link beyond the entry's own is kept"
    assert entry["author"] == "/u/bob" and entry["updated"] == "2026-11-23T12:00:00Z"
