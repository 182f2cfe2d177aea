"""Lemmy: an instance's search for posts, newest first, back to the cursor.

Lemmy 0.19 serves API v3 (``/api/v3/search``, ``page=N``). Lemmy 1.0 serves API v4 (the v4
upgrade guide in lemmy-docs and lemmy-js-client's types, read 2026-12-02): ``/api/v4/search``
answers ``{"search": [{"type_": "post", ...PostView}], "next_page": cursor}`` and pages by
``page_cursor``; ``actor_id`` became ``ap_id``; a post's counts may sit on the post itself.
Early 1.0 releases kept parts of v3, so ``api: auto`` asks v3 and moves to v4 for good (per
instance, while the monitor runs) when v3 answers 404 or 410. Post views are read in either
shape (``published`` or ``published_at``; ``counts`` or the post's own fields).

Times before Lemmy 0.19.4 carry no zone (they are UTC). Community subscriber counts, the reach
proxy, need one ``community`` call per community; they are fetched for the communities of new
posts only, at most ``max_communities`` a run.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import (
    Resume, SearchOptions, SourceOptions, SubRequests, Syntax, as_int, malformed_item, parse_time, read_back,
)
from connectors.quota import Cost, Quota, plural
from monitor.errors import FetchError, ParseError
from monitor.models import FetchResult, Mention, Query, SourceState, to_iso


# Lemmy's search is a case-insensitive LIKE '%q%' with spaces turned into % (``fuzzy_search`` in
# its db utils, read 2026-12-02): quotes would be searched as characters and * is no operator, so
# each search is one term, unquoted.
SYNTAX = Syntax(quotes=False, single=True)
# Each instance sets its own limits (local_site_rate_limit); Lemmy's default for search is 60 per
# 10 minutes per IP.
QUOTA = Quota(60, timedelta(minutes=10), "per IP, Lemmy's default local_site_rate_limit.search; instances differ")

class LemmyOptions(SearchOptions):
    """Lemmy options."""

    type: Literal["lemmy"] = "lemmy"
    base_url: str | None = Field(default="https://lemmy.world", description="The instance to search.")
    limit: int = Field(default=50, ge=1, le=50, description="Posts per page (the API's maximum is 50).")
    max_communities: int = Field(default=10, ge=0, le=100, description="Community subscriber look-ups per run (0: none).")
    api: Literal["auto", "v3", "v4"] = Field(
        default="auto", description="Lemmy's API: v3 (0.19), v4 (1.0), or auto (v3, then v4 when the instance has no v3).")


def parse_post_view(view: dict, *, source: str) -> Mention:
    """One PostView (an element of v3's ``search.posts`` or v4's ``search`` list), either shape."""
    post, creator = view.get("post") or {}, view.get("creator") or {}
    counts = view.get("counts") or view.get("post_actions_counts") or post  # v4 moved the counts onto the post
    community = view.get("community") or {}
    published = post.get("published") or post.get("published_at")
    if not post.get("id") or not published:
        raise ParseError("a post view without post.id or post.published", source=source)
    title = post.get("name", "")
    return Mention(
        source=source, source_type="lemmy", id=str(post["id"]), url=post.get("ap_id"), title=title,
        text=post.get("body") or title, published_at=parse_time(published, source=source),
        author=creator.get("ap_id") or creator.get("actor_id") or creator.get("name", ""),
        author_name=creator.get("display_name") or creator.get("name", ""),
        metrics={"score": as_int(counts.get("score")), "upvotes": as_int(counts.get("upvotes")),
                 "downvotes": as_int(counts.get("downvotes")), "comments": as_int(counts.get("comments")),
                 "community": community.get("ap_id") or community.get("actor_id") or community.get("name"),
                 "community_id": community.get("id"), "link": post.get("url")},
        raw=view,
    )


class LemmyConnector:
    """Searches one Lemmy instance (which sees its federated communities too)."""

    type: ClassVar[str] = "lemmy"
    Options: ClassVar[type[SourceOptions]] = LemmyOptions

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    @staticmethod
    def cost(options: LemmyOptions, queries: Sequence[Query]) -> Cost:
        """A search per term a run (one substring each)."""
        terms = options.searches(queries, SYNTAX)
        return Cost(len(terms), f"{plural(len(terms), 'search')}, one term each", QUOTA)

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
                still[label] = backlog.read(label, lambda page, stop: read_back(
                    lambda token: self._page(options, term, token, skipped), page, stop, options.max_pages, seen, newest,
                    now), since, reached)
        self._add_subscribers(options, seen)
        result = FetchResult(list(seen.values()), state, skipped=tuple(skipped))
        return subs.result(Resume(to_iso(max(newest)), still).result(result), state)

    def _version(self, options: LemmyOptions) -> str:
        return options.api if options.api != "auto" else str(http.learnt(self.client).get(("lemmy-api", options.base_url or ""), "v3"))

    def _search(self, options: LemmyOptions, term: str, page: str) -> tuple[list, str | None, bool]:
        """One search page (``page``: v3's number or v4's cursor, "1" for the first): the post
        views, the next page's token, and whether the page was full."""
        version = self._version(options)
        params = {"q": term, "type_": "Posts", "sort": "New", "listing_type": "All", "limit": options.limit}
        if version == "v3":
            try:
                data, _ = http.get_json(self.client, f"{options.base_url}/api/v3/search", source=options.name,
                                        params={**params, "page": int(page)})
            except FetchError as exc:
                if options.api != "auto" or exc.status not in (404, 410) or page != "1":
                    raise
                memory = http.learnt(self.client)
                memory[("lemmy-api", options.base_url or "")] = "v4"  # Lemmy 1.0 without v3: v4 from now on
                try:
                    return self._search(options, term, page)
                except FetchError:
                    memory.pop(("lemmy-api", options.base_url or ""), None)  # neither: v3's answer is the one to show
                    raise exc from None
            views = data.get("posts") if isinstance(data, dict) else None
            if not isinstance(views, list):
                raise ParseError("Lemmy search returned no 'posts' list", source=options.name)
            return views, str(int(page) + 1), len(views) >= options.limit
        data, _ = http.get_json(self.client, f"{options.base_url}/api/v4/search", source=options.name,
                                params={**params, **({"page_cursor": page} if page != "1" else {})})
        found = data.get("search") if isinstance(data, dict) else None
        if not isinstance(found, list):
            raise ParseError("Lemmy search returned no 'search' list", source=options.name)
        views = [v for v in found if isinstance(v, dict) and v.get("type_", "post") == "post"]
        following = data.get("next_page")
        return views, following if isinstance(following, str) and following else None, bool(following)

    def _page(self, options: LemmyOptions, term: str, token: str | None, skipped: list[str]) -> tuple[list[Mention], str | None]:
        """One search page (``token``: v3's page number or v4's cursor, None the first) and the
        next page's token (None after the last)."""
        views, following, full = self._search(options, term, token or "1")
        mentions = []
        for view in views:
            with malformed_item(view, source=options.name, skipped=skipped):
                mentions.append(parse_post_view(view, source=options.name))
        return mentions, following if full else None

    def _add_subscribers(self, options: LemmyOptions, seen: dict[str, Mention]) -> None:
        ids = sorted({m.metrics["community_id"] for m in seen.values() if m.metrics.get("community_id")})[: options.max_communities]
        subscribers = {}
        for community_id in ids:
            try:
                data, _ = http.get_json(self.client, f"{options.base_url}/api/{self._version(options)}/community",
                                        source=options.name, params={"id": community_id})
            except (FetchError, ParseError):
                continue  # a missing count only narrows reach; the posts still count
            view = (data or {}).get("community_view") or {} if isinstance(data, dict) else {}
            counts = view.get("counts") or view.get("community") or {}  # v4: the counts sit on the community
            subscribers[community_id] = as_int(counts.get("subscribers"))
        for ident, m in list(seen.items()):
            count = subscribers.get(m.metrics.get("community_id"))
            if count is not None:
                seen[ident] = replace(m, metrics={**m.metrics, "community_subscribers": count})
