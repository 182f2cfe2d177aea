"""Threads: public posts found by Meta's keyword search.

``GET /v1.0/keyword_search`` on ``graph.threads.net`` (developers.facebook.com, "Keyword and
Topic Tag Search", updated 2026-01-21, read 2026-12-06): ``q``, ``search_type`` (``TOP`` or
``RECENT``), ``search_mode`` (``KEYWORD`` or ``TAG``), ``since`` / ``until`` (epoch seconds),
``limit``, ``fields``; it answers ``data[]`` of media (``id``, ``text``, ``media_type``,
``permalink``, ``timestamp`` as ``2026-12-06T09:12:44+0000``, ``username``, ``is_reply``,
``is_quote_post``, ``has_replies``, ``topic_tag``) and, where there are more, ``paging.cursors.after``.

It needs a Threads user's access token with ``threads_basic`` and ``threads_keyword_search``.
Until Meta approves the app for ``threads_keyword_search`` the same call quietly searches only
the token's own posts: a run that hears only that user says so. A user may send 2,200 queries in
a rolling 24 hours, across apps; a query that finds nothing is not counted. The search gives no
follower counts: reach is a typical account's (``reach``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import OVERLAP, OVERLAP_WHY, SourceOptions, SubRequests, Syntax, malformed_item, parse_time, searches, secret
from connectors.quota import Cost, Quota, plural
from monitor.errors import ConnectorError, ParseError
from monitor.models import Duration, FetchResult, Mention, Query, SourceState, to_iso

# Keyword search: words ANDed, quoted phrases; no OR is documented, so a rule's alternatives are
# searched one by one.
SYNTAX = Syntax()
QUOTA = Quota(2200, timedelta(hours=24), "per Threads user across apps, rolling (keyword search's documented limit)")
FIELDS = "id,text,media_type,permalink,timestamp,username,has_replies,is_quote_post,is_reply,topic_tag"


class ThreadsOptions(SourceOptions):
    """Threads options: the access token's variable and how to search."""

    type: Literal["threads"] = "threads"
    base_url: str | None = Field(default="https://graph.threads.net/v1.0", description="API root.")
    access_token_env: str = Field(default="THREADS_ACCESS_TOKEN",
                                  description="Environment variable with a Threads user token (threads_basic, threads_keyword_search).")
    search_type: Literal["RECENT", "TOP"] = Field(default="RECENT", description="RECENT: newest first (what a monitor wants).")
    limit: int = Field(default=100, ge=1, le=100, description="Posts a page.")
    max_pages: int = Field(default=3, ge=1, le=20, description="Pages a search a run, back to the cursor.")
    first_run: Duration = Field(default="1d", description="How far back the first run reads.")
    overlap: Duration = Field(default=OVERLAP, description=OVERLAP_WHY)


def parse_media(data: object, *, source: str, skipped: list[str] | None = None) -> list[Mention]:
    """One page of ``keyword_search``'s media."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ParseError("Threads returned JSON without a 'data' list", source=source)
    out = []
    for media in data["data"]:
        with malformed_item(media, source=source, skipped=skipped):
            if not isinstance(media, dict) or not media.get("id") or not media.get("timestamp"):
                raise ParseError("a post without its id or timestamp")
            user = str(media.get("username") or "")
            out.append(Mention(
                source=source, source_type="threads", id=str(media["id"]),
                url=str(media.get("permalink") or f"https://www.threads.com/@{user}"),
                text=str(media.get("text") or ""), published_at=parse_time(media["timestamp"], source=source),
                author=user, author_name=user,
                metrics={"media_type": media.get("media_type"), "reply": bool(media.get("is_reply")),
                         "quote": bool(media.get("is_quote_post")), "has_replies": bool(media.get("has_replies")),
                         "topic_tag": media.get("topic_tag")},
                raw=media,
            ))
    return out


class ThreadsConnector:
    """Searches public Threads posts for the brands' terms."""

    type: ClassVar[str] = "threads"
    Options: ClassVar[type[SourceOptions]] = ThreadsOptions

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    @staticmethod
    def cost(options: ThreadsOptions, queries: Sequence[Query]) -> Cost:
        """A query per search term a run (more in a burst); empty answers are not counted by Meta."""
        terms = len(searches(queries, SYNTAX))
        return Cost(terms, plural(terms, "search"), QUOTA)

    def fetch(self, options: ThreadsOptions, *, queries: Sequence[Query], state: SourceState, now: datetime) -> FetchResult:
        """Each search's posts since the cursor (less the overlap), newest first; the cursor is the
        newest time read."""
        headers = {"Authorization": f"Bearer {secret(options, 'access_token_env')}"}
        since = parse_time(state.cursor) - options.overlap if state.cursor else now - options.first_run
        seen: dict[str, Mention] = {}
        skipped: list[str] = []
        warnings: list[str] = []
        subs = SubRequests(options.name)
        for term in searches(queries, SYNTAX):
            with subs.each(f"search {term!r}"):
                if self._search(options, term, since, now, headers, seen, skipped):
                    warnings.append(f"search {term!r}: more than {options.max_pages} pages of new posts; raise max_pages"
                                    " or poll more often")
        warnings += self._own_posts_only(options, headers, seen)
        newest = max([parse_time(state.cursor) if state.cursor else since,
                      *(min(m.published_at, now) for m in seen.values())])
        result = FetchResult(list(seen.values()), SourceState(cursor=to_iso(newest)), skipped=tuple(skipped),
                             warnings=tuple(warnings))
        return subs.result(result, state)

    def _search(self, options: ThreadsOptions, term: str, since: datetime, now: datetime, headers: dict,
                seen: dict[str, Mention], skipped: list[str]) -> bool:
        """One term's pages back to ``since``; True when pages were left unread."""
        after = None
        for _ in range(options.max_pages):
            params = {"q": term, "search_type": options.search_type, "fields": FIELDS, "limit": options.limit,
                      "since": int(since.timestamp()), "until": int(now.timestamp()), **({"after": after} if after else {})}
            data, _ = http.get_json(self.client, f"{options.base_url}/keyword_search", source=options.name,
                                    params=params, headers=headers)
            page = parse_media(data, source=options.name, skipped=skipped)
            for mention in page:
                if mention.published_at >= since:
                    seen.setdefault(mention.id, mention)
            cursors = ((data.get("paging") or {}).get("cursors") or {}) if isinstance(data, dict) else {}
            after = cursors.get("after") if isinstance(cursors, dict) else None
            if not after or len(page) < options.limit or min((m.published_at for m in page), default=since) < since:
                return False
        return True

    def _own_posts_only(self, options: ThreadsOptions, headers: dict, seen: dict[str, Mention]) -> list[str]:
        """A warning when every post heard is the token's own user's: Meta searches only those until
        the app is approved for threads_keyword_search (a run that heard others asks nothing)."""
        authors = {m.author for m in seen.values()}
        if len(authors) != 1:
            return []
        try:
            me, _ = http.get_json(self.client, f"{options.base_url}/me", source=options.name,
                                  params={"fields": "id,username"}, headers=headers)
        except ConnectorError:  # a failed look-up leaves the run as it was
            return []
        if isinstance(me, dict) and me.get("username") in authors:
            return [f"every post found is @{me['username']}'s own: until Meta approves the app for "
                    "threads_keyword_search, keyword search reads only the token's user's posts"]
        return []
