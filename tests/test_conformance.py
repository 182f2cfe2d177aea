"""Our connectors over responses recorded from the real APIs (../shared/fixtures, when present)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from connectors.hackernews import HackerNewsConnector, HackerNewsOptions
from connectors.http import make_client
from connectors.rss import RssConnector, RssOptions
from monitor.models import SourceState
from tests.support import NOW, SHARED

FIXTURES = SHARED / "fixtures"
pytestmark = pytest.mark.skipif(not FIXTURES.exists(), reason="../shared/fixtures not present")

# Every RSS or Atom listing recorded from a real source: the rss connector must read them all.
FEEDS = sorted(
    p for pattern in ("*/*.rss.xml", "*/*.atom.xml", "appstore/*.xml") for p in FIXTURES.glob(pattern)
) if FIXTURES.exists() else []
HN_PAGES = sorted(FIXTURES.glob("hackernews/search*.json")) if FIXTURES.exists() else []


def test_fixture_sets_were_found() -> None:
    assert len(FEEDS) >= 5 and len(HN_PAGES) == 4


@pytest.mark.parametrize("path", FEEDS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_rss_connector_reads_recorded_feed(httpserver: HTTPServer, path: Path) -> None:
    httpserver.expect_request("/feed").respond_with_data(path.read_bytes(), content_type="application/xml")
    options = RssOptions(name="recorded", url=httpserver.url_for("/feed"))
    with make_client() as client:
        result = RssConnector(client).fetch(options, terms=[], state=SourceState(), now=NOW)
    assert result.mentions, f"no mention from {path.name}"
    for mention in result.mentions:
        assert mention.id and mention.url and mention.published_at.tzinfo is not None
        assert mention.title or mention.text


@pytest.mark.parametrize("path", HN_PAGES, ids=lambda p: p.name)
def test_hackernews_connector_reads_recorded_page(httpserver: HTTPServer, path: Path) -> None:
    httpserver.expect_request("/api/v1/search_by_date").respond_with_data(path.read_bytes(), content_type="application/json")
    options = HackerNewsOptions(name="hn", base_url=httpserver.url_for("/api/v1").rstrip("/"), max_pages=1)
    with make_client() as client:
        result = HackerNewsConnector(client).fetch(options, terms=["apple"], state=SourceState(cursor="0"), now=NOW)
    assert result.mentions
    for mention in result.mentions:
        assert mention.id.isdigit() and mention.url.startswith("https://news.ycombinator.com/item?id=")
        assert mention.text and mention.author and mention.published_at.tzinfo is not None
