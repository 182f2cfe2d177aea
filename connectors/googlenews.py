"""Google News search as RSS (``/rss/search?q=…&hl=…&gl=…&ceid=…``).

Items are titled "Headline - Publisher" and link through a Google redirect; the publisher (the
``<source>`` element) is the only author this source has.

Google documents no API for it (read 2026-12-02): the feed returns 100 items at most, newest
first, and ``when:`` in the query bounds their age, so ``when: auto`` fits it to the polling
interval; no published rate limit, so a source polls it once a run with a conditional GET.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import SourceOptions, Syntax, one_search, parse_time
from connectors.rss import conditional_headers, feed_headers, parse_feed
from monitor.errors import ParseError
from monitor.models import FetchResult, Query, SourceState, to_iso


# Google's search operators: OR, "quoted phrases" and parentheses; every rule ORed into one search.
SYNTAX = Syntax(boolean=True)

class GoogleNewsOptions(SourceOptions):
    """Google News search options."""

    type: Literal["googlenews"] = "googlenews"
    base_url: str | None = Field(default="https://news.google.com", description="Google News root.")
    query: list[str] | None = Field(default=None, description="Search terms instead of the brands' (ORed).")
    hl: str = Field(default="en-US", description="Interface language, e.g. en-US, fr.")
    gl: str = Field(default="US", description="Country edition, e.g. US, BE.")
    ceid: str | None = Field(default=None, description="Edition id COUNTRY:lang; derived from gl and hl if unset.")
    when: str | None = Field(
        default="auto",
        description="Google's recency operator (when:7d, when:2h); auto: 7d the first time, then twice the time since "
                    "the last read plus one interval, so new items are not crowded out of the 100 the feed returns; "
                    "null for none.",
    )


def recency(options: GoogleNewsOptions, state: SourceState, now: datetime) -> str | None:
    """The ``when:`` to send. The feed returns at most 100 items, most relevant first: a week's
    window for a busy brand crowds out today's. So, on ``auto``, 7d the first time, then twice the
    time since the last read (a backoff's gap included) plus one polling interval, in hours."""
    if options.when != "auto":
        return options.when
    try:
        last = parse_time(state.cursor, source=options.name) if state.cursor else None
    except ParseError:
        last = None
    if last is None:
        return "7d"
    hours = math.ceil((2 * max(now - last, timedelta(0)) + options.every).total_seconds() / 3600)
    return f"{hours}h" if hours < 24 * 7 else "7d"


class GoogleNewsConnector:
    """Searches Google News for the brands' terms."""

    type: ClassVar[str] = "googlenews"
    Options: ClassVar[type[SourceOptions]] = GoogleNewsOptions

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(self, options: GoogleNewsOptions, *, queries: Sequence[Query], state: SourceState, now: datetime) -> FetchResult:
        """One search feed for every rule, ORed, each anchored on its brand (``one_search``)."""
        q = " OR ".join(options.query) if options.query else one_search(queries, SYNTAX)
        when = recency(options, state, now)
        if when:
            q = f"({q}) when:{when}" if " OR " in q else f"{q} when:{when}"
        params = {"q": q, "hl": options.hl, "gl": options.gl,
                  "ceid": options.ceid or f"{options.gl}:{options.hl.split('-')[0]}"}
        url = f"{options.base_url}/rss/search"
        response = http.get(self.client, url, source=options.name, params=params, headers=conditional_headers(state))
        if response.status_code == 304:
            return FetchResult([], SourceState(to_iso(now), state.etag, state.last_modified), not_modified=True)
        mentions, skipped, warnings = [], [], []
        for mention in parse_feed(response.content, source=options.name, url=str(response.url),
                                  headers=feed_headers(response), now=now, skipped=skipped, warnings=warnings):
            source_el = (mention.raw or {}).get("source") or {}
            publisher = source_el.get("title", "") if isinstance(source_el, dict) else ""
            title = mention.title
            if publisher and title.endswith(f" - {publisher}"):
                title = title[: -len(publisher) - 3]
            mentions.append(replace(
                mention, source_type="googlenews", title=title, author=publisher, author_name=publisher,
                language=mention.language or options.hl.split("-")[0].lower(),
                metrics={"publisher": publisher, "publisher_url": source_el.get("href") if isinstance(source_el, dict) else None},
            ))
        # The cursor is when the feed was last read: the next run's ``when`` covers the time since.
        return FetchResult(mentions, SourceState(to_iso(now), response.headers.get("ETag"), response.headers.get("Last-Modified")),
                           skipped=tuple(skipped), warnings=tuple(warnings))
