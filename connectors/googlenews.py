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
from connectors.base import SourceOptions, SubRequests, Syntax, combined, parse_time
from connectors.quota import Cost, plural
from connectors.rss import conditional_headers, feed_headers, parse_feed
from monitor.errors import ParseError
from monitor.models import FetchResult, Mention, Query, SourceState, to_iso


# Google's search operators: OR, "quoted phrases" and parentheses; the rules ORed into one search
# while they fit 512 characters and 31 ORs (Google documents no limit for News; its web search
# reads the first 32 words of a query, so a longer one would drop brands unseen).
SYNTAX = Syntax(boolean=True, max_query=512, max_operators=31)

class GoogleNewsOptions(SourceOptions):
    """Google News search options."""

    type: Literal["googlenews"] = "googlenews"
    base_url: str | None = Field(default="https://news.google.com", description="Google News root.")
    press: bool = Field(default=True, description="Its items are publishers' articles: coverage, not customers "
                                                  "(see sources[].press).")
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


# Editions whose language part is not the bare language (news.google.com's own edition links,
# read 2026-12-06): Brazil's Portuguese, Latin America's Spanish, Chinese by script.
EDITION_LANGUAGES = {"pt-br": "pt-419", "es-419": "es-419", "pt-pt": "pt-150", "zh-tw": "zh-Hant", "zh-hk": "zh-Hant",
                     "zh-cn": "zh-Hans"}


def ceid(hl: str, gl: str) -> str:
    """The edition id ``COUNTRY:language`` for ``hl`` and ``gl`` (``BR:pt-419``, ``MX:es-419``,
    ``US:en``)."""
    return f"{gl}:{EDITION_LANGUAGES.get(hl.casefold(), hl.split('-')[0])}"


class GoogleNewsConnector:
    """Searches Google News for the brands' terms."""

    type: ClassVar[str] = "googlenews"
    Options: ClassVar[type[SourceOptions]] = GoogleNewsOptions

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(self, options: GoogleNewsOptions, *, queries: Sequence[Query], state: SourceState, now: datetime) -> FetchResult:
        """One search feed for every rule, ORed, each anchored on its brand (``combined``; more
        feeds only when the rules do not fit one query). One feed is read with a conditional GET."""
        searches = [" OR ".join(options.query)] if options.query else combined(queries, SYNTAX)
        when = recency(options, state, now)
        single = len(searches) == 1
        mentions, skipped, warnings = [], [], []
        subs = SubRequests(options.name)
        response = None
        for q in searches:
            with subs.each(f"search {q!r}"):
                response = self._read(options, q, when, conditional_headers(state) if single else {})
                if response.status_code == 304:
                    return FetchResult([], SourceState(to_iso(now), state.etag, state.last_modified), not_modified=True)
                mentions += self._mentions(options, response, now, skipped, warnings)
        # The cursor is when the feeds were last read: the next run's ``when`` covers the time since.
        headers = response.headers if single and response is not None else {}
        result = FetchResult(mentions, SourceState(to_iso(now), headers.get("ETag"), headers.get("Last-Modified")),
                             skipped=tuple(skipped), warnings=tuple(warnings))
        return subs.result(result, state)

    @staticmethod
    def cost(options: GoogleNewsOptions, queries: Sequence[Query]) -> Cost:
        """A feed per search: the rules ORed, 512 characters and 31 ORs each."""
        searches = [" OR ".join(options.query)] if options.query else combined(queries, SYNTAX)
        return Cost(len(searches), f"{plural(len(searches), 'search feed')} for {plural(len(queries), 'rule')} ORed",
                    None)

    def _read(self, options: GoogleNewsOptions, q: str, when: str | None, headers: dict) -> httpx.Response:
        if when:
            q = f"({q}) when:{when}" if " OR " in q else f"{q} when:{when}"
        params = {"q": q, "hl": options.hl, "gl": options.gl,
                  "ceid": options.ceid or ceid(options.hl, options.gl)}
        return http.get(self.client, f"{options.base_url}/rss/search", source=options.name, params=params, headers=headers)

    def _mentions(self, options: GoogleNewsOptions, response: httpx.Response, now: datetime, skipped: list[str],
                  warnings: list[str]) -> list[Mention]:
        """The feed's items as mentions: the headline without its publisher, the publisher as author."""
        mentions = []
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
        return mentions

