"""DEV (dev.to) and other Forem sites: the latest articles, the recent articles of chosen tags,
and the comments on them, matched locally (the API has no search).

Forem's API v1 (``swagger/v1/api_v1.json`` in forem/forem, read 2026-12-02, and its v0 docs):
``/api/articles/latest`` lists published articles newest first (``page``, ``per_page`` up to
1,000); ``/api/articles?tag=`` orders by popularity, so a tag is asked with ``top=N`` (articles
of the last N days, N covering the time since the cursor) and read whole; ``/api/comments?a_id=``
returns an article's comments as a tree (``children``). An article in a listing carries its
``description`` (its opening lines), not its body: the newest ``bodies`` new articles a run are
read whole (``/api/articles/{id}``, ``body_html``). Reads need no key; an ``api-key`` header
(``api_key_env``) is sent when one is set. DEV rate-limits anonymous reads (HTTP 429 with
``Retry-After``), which the host limiter honours.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from datetime import datetime
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import (
    OVERLAP, OVERLAP_WHY, Resume, SourceOptions, SubRequests, as_int, malformed_item, parse_time, read_back, secret,
)
from monitor.errors import ConnectorError, ParseError
from monitor.models import Duration, FetchResult, Mention, Query, SourceState, to_iso

SITE = "https://dev.to"
log = logging.getLogger("connectors")


class DevOptions(SourceOptions):
    """DEV / Forem options: the site, the tags to read, and how many articles' comments to read."""

    type: Literal["dev"] = "dev"
    base_url: str | None = Field(default=SITE, description="The Forem site (dev.to, or another Forem).")
    tags: list[str] = Field(default=[], description="Tags whose recent articles to read as well (e.g. [devops, aws]).")
    per_page: int = Field(default=100, ge=1, le=1000, description="Articles per page of /articles/latest (at most 1,000).")
    max_pages: int = Field(default=3, ge=1, le=20, description="Pages of /articles/latest per run, back to the cursor.")
    comments: int = Field(default=20, ge=0, le=200,
                          description="Articles whose new comments are read per run (a request each; 0: none).")
    first_run: Duration = Field(default="1d", description="How far back the first run looks.")
    overlap: Duration = Field(default=OVERLAP, description=OVERLAP_WHY)
    api_key_env: str | None = Field(default=None, description="Environment variable with a Forem API key (optional).")
    bodies: int = Field(default=30, ge=0, le=1000,
                        description="New articles a run whose whole body is read (a request each; the listing carries "
                                    "only the opening lines, where a brand named further down is missed); 0: none.")


def parse_articles(data: object, *, source: str, skipped: list[str] | None = None) -> list[Mention]:
    """The articles of one listing (a JSON list of ArticleIndex)."""
    if not isinstance(data, list):
        raise ParseError("Forem returned JSON that is not a list of articles", source=source)
    out = []
    for article in data:
        with malformed_item(article, source=source, skipped=skipped):
            if not isinstance(article, dict) or not article.get("id") or not article.get("url"):
                continue
            user = article.get("user") or {}
            published = article.get("published_at") or article.get("published_timestamp") or article.get("created_at")
            title = article.get("title") or ""
            tags = article.get("tag_list") if isinstance(article.get("tag_list"), list) else []
            out.append(Mention(
                source=source, source_type="dev", id=str(int(article["id"])), url=article["url"], title=title,
                text=article.get("description") or title, published_at=parse_time(published, source=source),
                author=user.get("username") or "", author_name=user.get("name") or user.get("username") or "",
                metrics={"kind": "article", "reactions": as_int(article.get("public_reactions_count")),
                         "comments": as_int(article.get("comments_count")), "tags": tags,
                         "last_comment_at": article.get("last_comment_at")},
                raw=article,
            ))
    return out


def parse_comments(data: object, article: Mention, *, source: str, base_url: str,
                   skipped: list[str] | None = None) -> list[Mention]:
    """An article's comment tree (``/api/comments?a_id=``), flattened."""
    if not isinstance(data, list):
        raise ParseError("Forem returned comments that are not a list", source=source)
    out, stack = [], list(data)
    while stack:
        comment = stack.pop()
        if not isinstance(comment, dict):
            continue
        stack.extend(c for c in comment.get("children") or [] if isinstance(c, dict))
        with malformed_item(comment, source=source, skipped=skipped):
            code, user = comment.get("id_code"), comment.get("user") or {}
            if not code or not comment.get("created_at"):
                continue
            username = user.get("username") or ""
            out.append(Mention(
                source=source, source_type="dev", id=f"c{code}",
                url=f"{base_url.rstrip('/')}/{username}/comment/{code}" if username else article.url,
                title=article.title, text=comment.get("body_html") or "",
                published_at=parse_time(comment["created_at"], source=source),
                author=username, author_name=user.get("name") or username,
                metrics={"kind": "comment", "article": article.id},
                raw=comment,
            ))
    return out


class DevConnector:
    """Reads a Forem site's latest articles, chosen tags, and the comments on them."""

    type: ClassVar[str] = "dev"
    Options: ClassVar[type[SourceOptions]] = DevOptions

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(self, options: DevOptions, *, queries: Sequence[Query], state: SourceState, now: datetime) -> FetchResult:
        """Articles since the cursor (less the overlap): /articles/latest page by page (owed from
        the next page when ``max_pages`` ran out), each tag's recent articles, then the comments
        of the articles that have new ones."""
        key = secret(options, "api_key_env")
        # The v1 API is asked for by its media type; without it Forem answers from the deprecated v0.
        headers = {"Accept": "application/vnd.forem.api-v1+json", **({"api-key": key} if key else {})}
        backlog = Resume.load(state.cursor)
        plain = SourceState(cursor=backlog.cursor)
        reached = parse_time(plain.cursor, source=options.name) if plain.cursor else now - options.first_run
        since = reached - options.overlap if plain.cursor else reached
        newest = [reached]
        seen: dict[str, Mention] = {}
        skipped: list[str] = []
        still: dict[str, tuple[tuple[str, int], ...]] = {}
        subs = SubRequests(options.name)
        with subs.each("latest"):
            still["latest"] = backlog.read("latest", lambda page, stop: read_back(
                lambda token: self._page(options, headers, token, skipped), page, stop, options.max_pages, seen, newest,
                now), since, reached)
        days = max(1, math.ceil((now - since).total_seconds() / 86400))
        listed: dict[str, Mention] = {}
        for tag in options.tags:
            with subs.each(f"tag {tag}"):
                data, _ = http.get_json(self.client, f"{options.base_url}/api/articles", source=options.name,
                                        params={"tag": tag, "top": days, "per_page": 1000}, headers=headers)
                for m in parse_articles(data, source=options.name, skipped=skipped):
                    listed.setdefault(m.id, m)
                    if m.published_at >= since:
                        seen.setdefault(m.id, m)
                        newest.append(min(m.published_at, now))
        self._bodies(options, headers, seen)
        self._comments(options, headers, [*seen.values(), *listed.values()], since, seen, skipped, subs)
        result = FetchResult(list(seen.values()), state, skipped=tuple(skipped))
        return subs.result(Resume(to_iso(max(newest)), still).result(result), state)

    def _bodies(self, options: DevOptions, headers: dict, seen: dict[str, Mention]) -> None:
        """The whole text of the newest ``options.bodies`` articles (``/api/articles/{id}``'s
        ``body_html``, after its opening lines); one that cannot be read keeps its opening lines."""
        articles = sorted((m for m in seen.values() if m.metrics.get("kind") == "article"),
                          key=lambda m: m.published_at, reverse=True)[:options.bodies]
        for article in articles:
            try:
                data, _ = http.get_json(self.client, f"{options.base_url}/api/articles/{article.id}",
                                        source=options.name, headers=headers)
            except ConnectorError as exc:  # only the rest of its text is missing: never a reason to read again
                log.info("source %s: article %s read without its body: %s", options.name, article.id, exc)
                continue
            body = data.get("body_html") if isinstance(data, dict) else None
            if isinstance(body, str) and body.strip():
                seen[article.id] = replace(article, text=f"{article.text}\n\n{body}")

    def _page(self, options: DevOptions, headers: dict, token: str | None,
              skipped: list[str]) -> tuple[list[Mention], str | None]:
        """One page of /articles/latest (``token``: its number, None the first) and the next
        page's number (None after a short page: the last)."""
        page = int(token or 1)
        data, _ = http.get_json(self.client, f"{options.base_url}/api/articles/latest", source=options.name,
                                params={"page": page, "per_page": options.per_page}, headers=headers)
        articles = parse_articles(data, source=options.name, skipped=skipped)
        return articles, str(page + 1) if len(articles) >= options.per_page else None

    def _comments(self, options: DevOptions, headers: dict, articles: list[Mention], since: datetime,
                  seen: dict[str, Mention], skipped: list[str], subs: SubRequests) -> None:
        """The comments made since ``since`` on the articles commented on since then, the most
        recently commented first, ``options.comments`` articles at most."""
        def last_comment(m: Mention) -> datetime | None:
            try:
                return parse_time(m.metrics.get("last_comment_at"), source=options.name)
            except ParseError:
                return None

        recent = {m.id: m for m in articles if m.metrics.get("kind") == "article" and (m.metrics.get("comments") or 0) > 0
                  and (last_comment(m) or since) > since}
        ordered = sorted(recent.values(), key=lambda m: last_comment(m) or since, reverse=True)[:options.comments]
        for article in ordered:
            with subs.each(f"comments on {article.id}"):
                data, _ = http.get_json(self.client, f"{options.base_url}/api/comments", source=options.name,
                                        params={"a_id": article.id}, headers=headers)
                for comment in parse_comments(data, article, source=options.name, base_url=options.base_url or SITE,
                                              skipped=skipped):
                    if comment.published_at >= since:
                        seen.setdefault(comment.id, comment)
