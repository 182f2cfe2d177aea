"""Hacker News stories and comments through the Algolia HN Search API (``search_by_date``).

One request per search term (Algolia ANDs the words of a query, so OR needs separate queries),
newest first, paged back to the cursor: the highest ``created_at_i`` seen so far. With more
than ``SEARCHES_BEFORE_ALL`` searches, a run reads every new story and comment instead (HN
writes a few hundred an hour: one request of up to 1,000 a run) and the rules match them here,
so 100,000 rules cost what one does.

The HN Search API (hn.algolia.com/api and its users' notes, read 2026-12-02): no key; about
10,000 requests an hour per IP; ``tags`` AND by comma and OR in parentheses; ``story_<id>``
selects a story (and its comments), ``front_page`` the stories on the front page now;
``numericFilters`` on ``created_at_i``; at most 1,000 hits a query, so windows stay small.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import (
    OVERLAP,
    OVERLAP_WHY,
    Backlog,
    SourceOptions,
    SubRequests,
    Syntax,
    id_field,
    int_field,
    malformed_item,
    parse_time,
    searches,
    text_field,
)
from connectors.quota import Cost, Quota, plural
from monitor.errors import FetchError, ParseError
from monitor.models import Duration, FetchResult, Mention, Query, Refreshed, SourceState

ITEM_URL = "https://news.ycombinator.com/item?id={}"


# HN Search (Algolia) requires every word and keeps "quoted phrases"; no OR is sent.
SYNTAX = Syntax()
QUOTA = Quota(10_000, timedelta(hours=1), "per IP, hn.algolia.com/api")
SEARCHES_BEFORE_ALL = 5
EVERYTHING = 1000  # hits a page when reading every new item: Algolia's most

class HackerNewsOptions(SourceOptions):
    """Hacker News search options."""

    type: Literal["hackernews"] = "hackernews"
    base_url: str | None = Field(default="https://hn.algolia.com/api/v1", description="Algolia HN Search API root.")
    query: list[str] | None = Field(
        default=None, description="Search terms to send instead of the brands' keywords."
    )
    read: Literal["auto", "search", "all"] = Field(
        default="auto", description="search: a request per search term; all: every new story and comment, matched "
        f"here (a request per 1,000); auto: all once the rules make more than {SEARCHES_BEFORE_ALL} searches.")
    tags: list[Literal["story", "comment", "ask_hn", "show_hn", "poll"]] = Field(
        default=["story", "comment"], description="Item types to search (ORed)."
    )
    hits_per_page: int = Field(default=100, ge=1, le=1000, description="Hits per page (Algolia allows up to 1000).")
    max_pages: int = Field(default=5, ge=1, le=50, description="Pages per term per run: bounds a burst.")
    first_run: Duration = Field(default="1d", description="How far back the first run looks.")
    overlap: Duration = Field(default=OVERLAP, description=OVERLAP_WHY)


def parse_hits(payload: object, *, source: str, url: str, skipped: list[str] | None = None) -> tuple[list[Mention], int]:
    """Mentions of one decoded ``search``/``search_by_date`` page, and the page count."""
    if not isinstance(payload, dict) or not isinstance(payload.get("hits"), list):
        raise ParseError(f"{http.safe_url(url)} returned JSON without a 'hits' list", source=source)
    mentions = []
    for hit in payload["hits"]:
        with malformed_item(hit, source=source, skipped=skipped):
            if not isinstance(hit, dict):
                raise ParseError(f"a hit that is {type(hit).__name__}, not an object")
            if hit.get("objectID") is None or hit.get("created_at_i") is None:
                raise ParseError("a hit without its objectID or created_at_i")
            mentions.append(_mention(hit, source=source))
    pages = payload.get("nbPages")
    return mentions, pages if isinstance(pages, int) else 1


def _mention(hit: dict, *, source: str) -> Mention:
    """One hit, every field read by type; ParseError (the item skipped) when one is not what
    Algolia sends: an author that is a list, a comment that is a number, a story id that is a
    mapping, a time that is unreadable ("yesterday", 10**20)."""
    tags = hit.get("_tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ParseError("_tags is not a list of words")
    comment_text = text_field(hit, "comment_text")
    is_comment = "comment" in tags or comment_text is not None
    title = (text_field(hit, "story_title") if is_comment else text_field(hit, "title")) or ""
    # A link story's only words are its title: that is its text.
    text = (comment_text if is_comment else text_field(hit, "story_text")) or ("" if is_comment else title)
    ident = id_field(hit, "objectID")
    author = text_field(hit, "author") or ""
    story_id = int_field(hit, "story_id") if is_comment else None
    return Mention(
        source=source,
        source_type="hackernews",
        id=ident,
        url=ITEM_URL.format(ident),
        title=title,
        text=text,
        published_at=parse_time(hit["created_at_i"], source=source),
        author=author,
        author_name=author,
        metrics={
            "kind": "comment" if is_comment else "story",
            "points": int_field(hit, "points"),
            "comments": int_field(hit, "num_comments"),
            "front_page": "front_page" in tags,
            "link": text_field(hit, "url") or text_field(hit, "story_url"),
            **({"story_id": story_id} if is_comment else {}),
        },
        raw=hit,
    )


log = logging.getLogger("connectors")
STORIES_PER_CALL = 50


def _terms(options: HackerNewsOptions, queries: Sequence[Query]) -> list[str]:
    """What a run asks for: the search terms, or ``[""]`` (every new item) when ``read`` says so."""
    terms = options.query or searches(queries, SYNTAX)
    if options.read == "all" or (options.read == "auto" and not options.query and len(terms) > SEARCHES_BEFORE_ALL):
        return [""]
    return terms


class HackerNewsConnector:
    """Searches Hacker News stories and comments for the brands' terms."""

    type: ClassVar[str] = "hackernews"
    Options: ClassVar[type[SourceOptions]] = HackerNewsOptions

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(
        self, options: HackerNewsOptions, *, queries: Sequence[Query], state: SourceState, now: datetime
    ) -> FetchResult:
        """Everything created at or after the cursor (or within ``first_run``), every term; first
        the windows earlier runs left unread at their page limit (``Backlog``), oldest first."""
        backlog = Backlog.load(state.cursor)
        reached = int(backlog.cursor) if backlog.cursor else int((now - options.first_run).timestamp())
        since = max(0, reached - int(options.overlap.total_seconds())) if backlog.cursor else reached
        windows: list[tuple[int, int | None]] = [*backlog.gaps, (since, None)]
        seen: dict[str, Mention] = {}
        skipped: list[str] = []
        owed: list[tuple[int, int]] = []
        subs = SubRequests(options.name)
        for term in _terms(options, queries):
            with subs.each(f"search {term!r}" if term else "every new item"):
                for low, high in windows:
                    oldest = self._window(options, term, low, high, seen, skipped)
                    if oldest is not None:  # the page limit came first
                        owed.append(Backlog.unread(low, high, oldest, reached))
        newest = max([reached, *(int(m.published_at.timestamp()) for m in seen.values())])
        self._add_story_points(options, seen)
        result = Backlog(str(newest), Backlog.merged(owed)).result(list(seen.values()), skipped)
        return subs.result(result, state)

    @staticmethod
    def cost(options: HackerNewsOptions, queries: Sequence[Query]) -> Cost:
        """A request per search a run, or one for every new item."""
        terms = _terms(options, queries)
        if terms == [""]:
            return Cost(1, f"every new story and comment, matched here against {plural(len(queries), 'rule')}", QUOTA)
        hint = (f"read: {options.read} makes {plural(len(terms), 'search')} a run; read: all (or auto) reads every new "
                "item in one request instead") if len(terms) > SEARCHES_BEFORE_ALL else None
        return Cost(len(terms), f"{plural(len(terms), 'search')}, one per rule (Algolia has no OR)", QUOTA, warning=hint)

    def _window(self, options: HackerNewsOptions, term: str, low: int, high: int | None, seen: dict[str, Mention],
                skipped: list[str]) -> int | None:
        """One term's posts created in [low, high), newest first, ``max_pages`` at most; None when
        read to the end, else the oldest time read (what is older is owed)."""
        bounds = f"created_at_i>={low}" + (f",created_at_i<{high}" if high is not None else "")
        oldest = None
        for page in range(options.max_pages):
            params = {
                **({"query": term} if term else {}),
                "tags": "(" + ",".join(options.tags) + ")",
                # ">=" not ">": two posts in the same second must not straddle runs; ids dedupe.
                "numericFilters": bounds,
                "hitsPerPage": options.hits_per_page if term else EVERYTHING,
                "page": page,
            }
            payload, response = http.get_json(self.client, f"{options.base_url}/search_by_date", source=options.name,
                                              params=params)
            mentions, pages = parse_hits(payload, source=options.name, url=str(response.url), skipped=skipped)
            for mention in mentions:
                seen.setdefault(mention.id, mention)
                stamp = int(mention.published_at.timestamp())
                oldest = stamp if oldest is None else min(oldest, stamp)
            if not mentions or page + 1 >= pages:
                return None
        return oldest

    def _stories(self, options: HackerNewsOptions, ids: Sequence[int]) -> dict[int, dict]:
        """The stories' metrics now, 50 a request (Algolia's tags: ``story,(story_1,story_2)`` is
        story AND (1 OR 2)); a story not found is left out."""
        stories: dict[int, dict] = {}
        for start in range(0, len(ids), STORIES_PER_CALL):
            batch = ids[start:start + STORIES_PER_CALL]
            tags = "story,(" + ",".join(f"story_{i}" for i in batch) + ")"
            payload, response = http.get_json(self.client, f"{options.base_url}/search", source=options.name,
                                              params={"tags": tags, "hitsPerPage": len(batch)})
            found, _ = parse_hits(payload, source=options.name, url=str(response.url))
            stories.update({int(m.id): dict(m.metrics) for m in found if m.id.isdigit()})
        return stories

    def _add_story_points(self, options: HackerNewsOptions, seen: dict[str, Mention]) -> None:
        """A comment's reach is its story's: the stories' points and front-page tags. A failure
        here only narrows reach; the comments still count."""
        wanted = sorted({m.metrics["story_id"] for m in seen.values() if m.metrics.get("story_id")
                         and str(m.metrics["story_id"]) not in seen})
        stories = {int(m.id): m.metrics for m in seen.values() if m.metrics.get("kind") == "story" and m.id.isdigit()}
        try:
            stories.update(self._stories(options, wanted))
        except (FetchError, ParseError) as exc:
            log.info("source %s: story points for comments on %d stories not read: %s", options.name, len(wanted), exc)
        for ident, m in list(seen.items()):
            story = stories.get(m.metrics.get("story_id")) if m.metrics.get("kind") == "comment" else None
            if story and story.get("points") is not None:
                seen[ident] = replace(m, metrics={**m.metrics, "story_points": story["points"],
                                                  "front_page": bool(story.get("front_page"))})

    def refresh(self, options: HackerNewsOptions, mentions: Sequence[Mention], *, now: datetime) -> dict[str, Refreshed]:
        """Stories' points, comment counts and front-page tag now, and each comment's story's
        (one request per 50 stories)."""
        def story_of(m: Mention) -> int | None:
            ident = m.metrics.get("story_id") if m.metrics.get("kind") == "comment" else m.id
            return int(ident) if str(ident).isdigit() else None

        wanted = sorted({s for s in map(story_of, mentions) if s is not None})
        stories = self._stories(options, wanted)
        out: dict[str, Refreshed] = {}
        for m in mentions:
            story = stories.get(story_of(m))  # type: ignore[arg-type]
            if story is None:
                continue
            if m.metrics.get("kind") == "comment":
                out[m.id] = Refreshed({"story_points": story.get("points"), "front_page": bool(story.get("front_page"))})
            else:
                out[m.id] = Refreshed({"points": story.get("points"), "comments": story.get("comments"),
                                       "front_page": bool(story.get("front_page"))})
        return out
