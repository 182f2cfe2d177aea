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
from connectors.base import SearchOptions, SourceOptions, SubRequests, Syntax, as_int, malformed_item, parse_time
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
        """Posts published since the cursor, every term."""
        since = options.since(state, now)
        newest = options.reached(state, now)
        seen: dict[str, Mention] = {}
        skipped: list[str] = []
        subs = SubRequests(options.name)
        for term in options.searches(queries, SYNTAX):
            with subs.each(f"search {term!r}"):
                for page in range(1, options.max_pages + 1):
                    params = {"q": term, "type_": "Posts", "sort": "New", "listing_type": "All", "limit": options.limit, "page": page}
                    data, _ = http.get_json(self.client, f"{options.base_url}/api/v3/search", source=options.name, params=params)
                    if not isinstance(data, dict) or not isinstance(data.get("posts"), list):
                        raise ParseError("Lemmy search returned no 'posts' list", source=options.name)
                    mentions = []
                    for view in data["posts"]:
                        with malformed_item(view, source=options.name, skipped=skipped):
                            mentions.append(parse_post_view(view, source=options.name))
                    fresh = [m for m in mentions if m.published_at >= since]
                    for m in fresh:
                        seen.setdefault(m.id, m)
                        newest = max(newest, m.published_at)
                    if len(fresh) < options.limit:
                        break
        self._add_subscribers(options, seen)
        return subs.result(FetchResult(list(seen.values()), SourceState(cursor=to_iso(newest)), skipped=tuple(skipped)), state)

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
