"""Discourse forums: ``search.json`` for the brands' terms, or ``posts.json`` (every new post).

Post ids grow with time across a forum, so the cursor is the highest id seen. ``posts.json``
pages backwards with ``before=``; ``search.json`` is asked for ``after:<date> order:latest``
(Discourse's search filters; the date of the newest post read less a day, so the index returns
only recent posts) and paged (``page=``, 50 posts) down to the cursor, a term whose page limit
came first being owed from its next page; ``latest.json`` lists new topics. Reach proxies:
reads, likes, the topic's views and the poster's trust level.

An API key is sent only when the forum refuses an anonymous read (a private forum): reads of a
public forum are not charged to an admin's key, and never see its private categories.

Discourse's docs on meta.discourse.org (read 2026-12-02): ``search.json`` takes ``q`` with the
advanced filters (``after:``, ``order:latest``) and ``page``; global limits of 200 requests a
minute and 50 per 10 seconds per IP, 60 a minute shared by all admin API keys.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import (
    Backlog, Resume, SourceOptions, SubRequests, Syntax, as_int, malformed_item, parse_time, searches, secret,
)
from connectors.quota import Cost, Quota, plural
from monitor.errors import FetchError, ParseError
from monitor.models import Duration, FetchResult, Mention, Query, SourceState, to_iso

SEARCH_PAGE = 50  # posts on a full search.json page


# Search words are ANDed and "quoted phrases" kept; no OR is sent (not read in Discourse's docs
# this session: the anchor alone is the conservative choice).
SYNTAX = Syntax()
# Discourse's default for anonymous clients: 200 requests a minute per IP (DISCOURSE_MAX_REQS_PER_IP_PER_MINUTE).
QUOTA = Quota(200, timedelta(minutes=1), "per IP, Discourse's default max_reqs_per_ip_per_minute")

class DiscourseOptions(SourceOptions):
    """Discourse options: the forum and how to read it."""

    type: Literal["discourse"] = "discourse"
    base_url: str = Field(description="The forum's address, e.g. https://meta.discourse.org.")
    mode: Literal["search", "posts", "latest"] = Field(
        default="search", description="search the brands' terms; read every new post (posts); or new topics (latest)."
    )
    max_pages: int = Field(default=5, ge=1, le=50, description="posts.json pages (50 posts) per run.")
    api_key_env: str | None = Field(default=None, description="Environment variable with an API key (private forums).")
    api_username_env: str | None = Field(default=None, description="Environment variable with the key's username.")
    first_run: Duration = Field(default="1d", description="How far back the first search looks (search mode).")


def _likes(post: dict) -> int | None:
    if "like_count" in post:
        return as_int(post.get("like_count"))
    for action in post.get("actions_summary") or []:
        if isinstance(action, dict) and action.get("id") == 2:  # 2 is "like" in Discourse's post action types
            return as_int(action.get("count"))
    return None


def parse_posts(data: object, *, source: str, base_url: str, skipped: list[str] | None = None) -> list[Mention]:
    """Posts of a ``posts.json`` (``latest_posts``) or ``search.json`` (``posts`` + ``topics``) body."""
    if not isinstance(data, dict) or not isinstance(data.get("latest_posts", data.get("posts")), list):
        raise ParseError("Discourse returned JSON without 'latest_posts' or 'posts'", source=source)
    topics = {t.get("id"): t for t in data.get("topics") or [] if isinstance(t, dict)}
    out = []
    for post in data.get("latest_posts", data.get("posts")):
        if not isinstance(post, dict) or not post.get("id") or not post.get("created_at"):
            continue
        with malformed_item(post, source=source, skipped=skipped):
            topic = topics.get(post.get("topic_id"), {})
            slug = post.get("topic_slug") or topic.get("slug") or "-"
            path = post.get("post_url") or f"/t/{slug}/{post.get('topic_id')}/{post.get('post_number', 1)}"
            title = post.get("topic_title") or topic.get("title") or ""
            out.append(Mention(
                source=source, source_type="discourse", id=str(int(post["id"])), url=base_url.rstrip("/") + path,
                title=title, text=post.get("cooked") or post.get("raw") or post.get("blurb") or title,
                published_at=parse_time(post["created_at"], source=source),
                author=post.get("username", ""), author_name=post.get("name") or post.get("username", ""),
                metrics={"reads": as_int(post.get("reads")), "likes": _likes(post), "trust_level": as_int(post.get("trust_level")),
                         "topic_views": as_int(topic.get("views") or post.get("topic_views")), "post_number": as_int(post.get("post_number"))},
                raw=post,
            ))
    return out


def parse_topics(data: object, *, source: str, base_url: str, skipped: list[str] | None = None) -> list[Mention]:
    """Topics of a ``latest.json`` body (``topic_list.topics``); ids are ``topic:{id}``."""
    topics = (data.get("topic_list") or {}).get("topics") if isinstance(data, dict) else None
    if not isinstance(topics, list):
        raise ParseError("Discourse returned JSON without 'topic_list.topics'", source=source)
    out = []
    for topic in topics:
        if not isinstance(topic, dict) or not topic.get("id") or not topic.get("created_at"):
            continue
        with malformed_item(topic, source=source, skipped=skipped):
            title = topic.get("title", "")
            out.append(Mention(
                source=source, source_type="discourse", id=f"topic:{int(topic['id'])}",
                url=f"{base_url.rstrip('/')}/t/{topic.get('slug') or '-'}/{topic['id']}", title=title,
                text=topic.get("excerpt") or title, published_at=parse_time(topic["created_at"], source=source),
                author=topic.get("last_poster_username") or "", author_name=topic.get("last_poster_username") or "",
                metrics={"topic_views": as_int(topic.get("views")), "likes": as_int(topic.get("like_count")),
                         "posts": as_int(topic.get("posts_count"))},
                raw=topic,
            ))
    return out


class DiscourseConnector:
    """Reads one Discourse forum."""

    type: ClassVar[str] = "discourse"
    Options: ClassVar[type[SourceOptions]] = DiscourseOptions

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    @staticmethod
    def cost(options: DiscourseOptions, queries: Sequence[Query]) -> Cost:
        """A search per term a run in search mode; a page of new posts or topics otherwise."""
        if options.mode != "search":
            return Cost(1, f"the forum's new {'posts' if options.mode == 'posts' else 'topics'}, matched here "
                           f"(up to {options.max_pages} pages)", QUOTA)
        terms = searches(queries, SYNTAX)
        return Cost(len(terms), f"{plural(len(terms), 'search')}, one per rule (mode: posts reads every new post "
                                "in one request instead)", QUOTA)

    def fetch(self, options: DiscourseOptions, *, queries: Sequence[Query], state: SourceState, now: datetime) -> FetchResult:
        """New posts since the cursor (highest post id)."""
        key, user = secret(options, "api_key_env"), secret(options, "api_username_env")
        headers = {"Api-Key": key, "Api-Username": user or "system"} if key else {}
        if options.mode == "search":
            return self._search(options, headers, queries, state, now)
        backlog = Backlog.load(state.cursor)
        cursor = int(backlog.cursor) if backlog.cursor and backlog.cursor.isdigit() else 0
        seen: dict[str, Mention] = {}
        skipped: list[str] = []
        owed: list[tuple[int, int]] = []
        if options.mode == "latest":
            data = self._get(options, "/latest.json", {"order": "created"}, headers)
            mentions = parse_topics(data, source=options.name, base_url=options.base_url, skipped=skipped)
            newest = max([cursor, *(int(m.id.split(":")[1]) for m in mentions)])
            fresh = [m for m in mentions if int(m.id.split(":")[1]) > cursor]
            return FetchResult(fresh, SourceState(cursor=str(newest) if newest else None), skipped=tuple(skipped))
        # posts.json pages back with before=<id>: the windows earlier runs could not finish
        # (``Backlog``, in post ids) first, oldest first, then what is new since the cursor.
        for low, high in [*backlog.gaps, (cursor, None)]:
            oldest = self._posts(options, headers, low, high, seen, skipped, first=not cursor)
            if oldest is not None:
                owed.append((low, oldest))
        newest = max([cursor, *(int(i) for i in seen)])
        after = Backlog(str(newest) if newest else None, Backlog.merged(owed))
        return after.result(list(seen.values()), skipped, lambda post: f"post {post}")

    def _get(self, options: DiscourseOptions, path: str, params: dict | None, headers: dict) -> object:
        """A read, anonymous first: the key goes only to a forum that refuses anonymous reads
        (remembered for the process), so a public forum's reads are never an admin's."""
        memory = http.learnt(self.client)
        private = headers and memory.get(("discourse-private", options.base_url))
        if not private:
            try:
                return http.get_json(self.client, f"{options.base_url}{path}", source=options.name, params=params)[0]
            except FetchError as exc:
                if not headers or exc.status not in (401, 403, 404):
                    raise
                memory[("discourse-private", options.base_url)] = True
        return http.get_json(self.client, f"{options.base_url}{path}", source=options.name, params=params, headers=headers)[0]

    def _search(self, options: DiscourseOptions, headers: dict, queries: Sequence[Query], state: SourceState,
                now: datetime) -> FetchResult:
        """Each term's posts above the cursor, newest first, ``max_pages`` of 50 at most; first
        the pages earlier runs owed (``Resume``)."""
        backlog = Resume.load(state.cursor)
        ident, _, at = (backlog.cursor or "").partition("|")
        cursor = int(ident) if ident.isdigit() else 0
        newest_at = parse_time(at, source=options.name) if at else now - options.first_run
        after = (newest_at - timedelta(days=1)).date().isoformat()
        seen: dict[str, Mention] = {}
        skipped: list[str] = []
        still: dict[str, tuple[tuple[str, int], ...]] = {}
        subs = SubRequests(options.name)
        for term in searches(queries, SYNTAX):
            label = f"search {term!r}"
            with subs.each(label):
                q = f"{term} after:{after} order:latest"
                gaps = [(str(left), stop) for page, stop in backlog.owed.get(label, ())
                        if (left := self._search_pages(options, headers, q, int(page), stop, seen, skipped))]
                left = self._search_pages(options, headers, q, 1, cursor, seen, skipped)
                if left:
                    gaps.append((str(left), cursor))
                still[label] = tuple(gaps)
        newest = max([cursor, *(int(i) for i in seen)])
        newest_at = max([newest_at, *(min(m.published_at, now) for m in seen.values())])
        result = FetchResult(list(seen.values()), state, skipped=tuple(skipped))
        resume = Resume(f"{newest}|{to_iso(newest_at)}" if newest else None, still)
        return subs.result(resume.result(result, lambda post: f"post {post}"), state)

    def _search_pages(self, options: DiscourseOptions, headers: dict, q: str, page: int, stop: int,
                      seen: dict[str, Mention], skipped: list[str]) -> int | None:
        """Search pages from ``page`` on, down to post id ``stop``: None when read to the end,
        else the page to resume from."""
        for page in range(page, page + options.max_pages):
            data = self._get(options, "/search.json", {"q": q, **({"page": page} if page > 1 else {})}, headers)
            posts = parse_posts(data, source=options.name, base_url=options.base_url, skipped=skipped)
            for m in posts:
                if int(m.id) > stop:
                    seen.setdefault(m.id, m)
            more = ((data.get("grouped_search_result") or {}) if isinstance(data, dict) else {}).get("more_full_page_results")
            if more is None:  # an older forum does not say: a full page may have more after it
                more = len(posts) >= SEARCH_PAGE
            if not posts or min(int(m.id) for m in posts) <= stop or not more:
                return None
        return page + 1

    def _posts(self, options: DiscourseOptions, headers: dict, low: int, high: int | None, seen: dict[str, Mention],
               skipped: list[str], *, first: bool) -> int | None:
        """Posts with ids in (low, high), newest first, ``max_pages`` at most (one on a first run:
        its page is the backlog); None when read down to ``low``, else the oldest id read."""
        before, oldest = high, None
        for _ in range(1 if first else options.max_pages):
            data = self._get(options, "/posts.json", {"before": before} if before else None, headers)
            posts = parse_posts(data, source=options.name, base_url=options.base_url, skipped=skipped)
            for m in posts:
                if int(m.id) > low:
                    seen.setdefault(m.id, m)
            if first or not posts or min(int(m.id) for m in posts) <= low:
                return None
            before = oldest = min(int(m.id) for m in posts)
        return oldest
