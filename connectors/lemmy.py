"""Lemmy: an instance's ``/api/v3/search`` for posts, newest first, back to the cursor.

Times before Lemmy 0.19.4 carry no zone (they are UTC). Community subscriber counts, the reach
proxy, need one ``/api/v3/community`` call per community; they are fetched for the communities
of new posts only, at most ``max_communities`` a run.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import Resume, SearchOptions, SourceOptions, SubRequests, Syntax, as_int, malformed_item, parse_time
from monitor.errors import FetchError, ParseError
from monitor.models import FetchResult, Mention, Query, SourceState, to_iso


# Lemmy's search is a case-insensitive LIKE '%q%' with spaces turned into % (``fuzzy_search`` in
# its db utils, read 2026-12-02): quotes would be searched as characters and * is no operator, so
# each search is one term, unquoted.
SYNTAX = Syntax(quotes=False, single=True)

class LemmyOptions(SearchOptions):
    """Lemmy options."""

    type: Literal["lemmy"] = "lemmy"
    base_url: str | None = Field(default="https://lemmy.world", description="The instance to search.")
    limit: int = Field(default=50, ge=1, le=50, description="Posts per page (the API's maximum is 50).")
    max_communities: int = Field(default=10, ge=0, le=100, description="Community subscriber look-ups per run (0: none).")


def parse_post_view(view: dict, *, source: str) -> Mention:
    """One PostView (an element of ``search.posts`` or ``post/list.posts``)."""
    post, creator, counts = view.get("post") or {}, view.get("creator") or {}, view.get("counts") or {}
    community = view.get("community") or {}
    if not post.get("id") or not post.get("published"):
        raise ParseError("a post view without post.id or post.published", source=source)
    title = post.get("name", "")
    return Mention(
        source=source, source_type="lemmy", id=str(post["id"]), url=post.get("ap_id"), title=title,
        text=post.get("body") or title, published_at=parse_time(post["published"], source=source),
        author=creator.get("actor_id") or creator.get("name", ""), author_name=creator.get("display_name") or creator.get("name", ""),
        metrics={"score": as_int(counts.get("score")), "upvotes": as_int(counts.get("upvotes")),
                 "downvotes": as_int(counts.get("downvotes")), "comments": as_int(counts.get("comments")),
                 "community": community.get("actor_id") or community.get("name"), "community_id": community.get("id"),
                 "link": post.get("url")},
        raw=view,
    )


class LemmyConnector:
    """Searches one Lemmy instance (which sees its federated communities too)."""

    type: ClassVar[str] = "lemmy"
    Options: ClassVar[type[SourceOptions]] = LemmyOptions

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(self, options: LemmyOptions, *, queries: Sequence[Query], state: SourceState, now: datetime) -> FetchResult:
        """Posts published since the cursor, every term, newest first, ``max_pages`` at most. A
        term whose page limit came first is owed from the next page: new posts only push the
        unread ones further down, so starting there next run skips none (posts deleted meanwhile
        could pull a few up; the overlap does not reach them)."""
        backlog = Resume.load(state.cursor)
        plain = SourceState(cursor=backlog.cursor)
        since, reached = options.since(plain, now), options.reached(plain, now)
        newest = [reached]
        seen: dict[str, Mention] = {}
        skipped: list[str] = []
        still: dict[str, tuple[tuple[str, int], ...]] = {}
        subs = SubRequests(options.name)
        for term in options.searches(queries, SYNTAX):
            label = f"search {term!r}"
            with subs.each(label):
                read = lambda page, stop: self._read(options, term, page, stop, seen, newest, skipped, now)  # noqa: E731
                gaps = [(str(left), stop) for page, stop in backlog.owed.get(label, ()) if (left := read(int(page), stop)[0])]
                left, oldest = read(1, int(since.timestamp()))
                if left and oldest >= reached.timestamp():  # the overlap below the old cursor is never owed
                    gaps.append((str(left), int(reached.timestamp())))
                still[label] = tuple(gaps)
        self._add_subscribers(options, seen)
        result = FetchResult(list(seen.values()), state, skipped=tuple(skipped))
        return subs.result(Resume(to_iso(max(newest)), still).result(result), state)

    def _read(self, options: LemmyOptions, term: str, page: int, stop: int, seen: dict[str, Mention],
              newest: list[datetime], skipped: list[str], now: datetime) -> tuple[int | None, float]:
        """One term's posts from ``page`` on, newest first, down to ``stop`` (epoch seconds),
        ``max_pages`` at most: None when read to the end, else the page to resume from; and the
        oldest time read."""
        oldest = float("inf")
        for page in range(page, page + options.max_pages):
            params = {"q": term, "type_": "Posts", "sort": "New", "listing_type": "All", "limit": options.limit, "page": page}
            data, _ = http.get_json(self.client, f"{options.base_url}/api/v3/search", source=options.name, params=params)
            if not isinstance(data, dict) or not isinstance(data.get("posts"), list):
                raise ParseError("Lemmy search returned no 'posts' list", source=options.name)
            mentions = []
            for view in data["posts"]:
                with malformed_item(view, source=options.name, skipped=skipped):
                    mentions.append(parse_post_view(view, source=options.name))
            fresh = [m for m in mentions if m.published_at.timestamp() >= stop]
            for m in fresh:
                seen.setdefault(m.id, m)
                newest.append(min(m.published_at, now))
                oldest = min(oldest, m.published_at.timestamp())
            if len(data["posts"]) < options.limit or len(fresh) < len(mentions):
                return None, oldest  # the last page, or reached ``stop``
        return page + 1, oldest

    def _add_subscribers(self, options: LemmyOptions, seen: dict[str, Mention]) -> None:
        ids = sorted({m.metrics["community_id"] for m in seen.values() if m.metrics.get("community_id")})[: options.max_communities]
        subscribers = {}
        for community_id in ids:
            try:
                data, _ = http.get_json(self.client, f"{options.base_url}/api/v3/community", source=options.name,
                                        params={"id": community_id})
            except (FetchError, ParseError):
                continue  # a missing count only narrows reach; the posts still count
            counts = ((data or {}).get("community_view") or {}).get("counts") or {}
            subscribers[community_id] = as_int(counts.get("subscribers"))
        for ident, m in list(seen.items()):
            count = subscribers.get(m.metrics.get("community_id"))
            if count is not None:
                seen[ident] = replace(m, metrics={**m.metrics, "community_subscribers": count})
