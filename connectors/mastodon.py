"""Mastodon: hashtag timelines on an instance, and full-text search when a token is given.

Hashtag timelines are public on most instances, but some answer 401/422 without a token; the
error says so. Since Mastodon 4.5 an admin may also limit or disable them
(``configuration.timelines_access.hashtag_feeds`` of ``/api/v2/instance``: ``public``,
``authenticated`` or ``disabled``, for local and for remote posts), and a disabled feed answers
``[]`` — the same as a quiet brand. A run whose every tag came back empty asks the instance
once, and says which it is. Full-text search (``/api/v2/search``) needs a user token and only finds posts
whose authors opted in. Status ids are time-ordered snowflakes, so the cursor is the highest id
seen and ``since_id`` asks only for what is newer.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import Backlog, OVERLAP, OVERLAP_WHY, SourceOptions, SubRequests, Syntax, as_int, malformed_item, parse_time, searches, secret
from connectors.quota import Cost, Quota, plural
from monitor.errors import FetchError, ParseError
from monitor.models import Duration, FetchResult, Mention, Query, Refreshed, SourceState


# Mastodon's full-text search ANDs words and keeps "quoted phrases"; no OR is sent.
SYNTAX = Syntax()
QUOTA = Quota(300, timedelta(minutes=5), "per IP or account, docs.joinmastodon.org rate limits")
REFRESH_PER_RUN = 40  # statuses re-read a run, one request each (instances allow 300 requests in 5 minutes)

class MastodonOptions(SourceOptions):
    """Mastodon options."""

    type: Literal["mastodon"] = "mastodon"
    base_url: str | None = Field(default="https://mastodon.social", description="The instance to read.")
    hashtags: list[str] | None = Field(default=None, description="Tags to follow (without #); default: the brands' names (each rule's anchor), spaces removed.")
    token_env: str | None = Field(default=None, description="Environment variable with a user token: enables full-text search.")
    max_pages: int = Field(default=5, ge=1, le=50, description="Pages (40 statuses) per tag per run.")
    overlap: Duration = Field(default=OVERLAP, description=OVERLAP_WHY)


def _id_time(status_id: int) -> str:
    """When a status id was given (ids are milliseconds shifted 16 bits), to the minute."""
    return datetime.fromtimestamp((status_id >> 16) / 1000, timezone.utc).isoformat(timespec="minutes")


def overlapped(since_id: int, overlap: timedelta) -> int:
    """``since_id`` moved ``overlap`` back. Mastodon ids are its milliseconds since the epoch
    shifted 16 bits left: a remote post that federates late is given an id from its
    ``created_at``, below a since_id already passed, and only reading back finds it."""
    if since_id < 1 << 40:  # not a time-based id (a small or test instance): nothing to move
        return since_id
    return max(0, since_id - (int(overlap.total_seconds() * 1000) << 16))


def parse_status(status: dict, *, source: str) -> Mention:
    """One Status entity (a reblog is read as the post it boosts)."""
    status = status.get("reblog") or status
    account = status.get("account") or {}
    if not status.get("id") or not status.get("created_at"):
        raise ParseError("a status without id or created_at", source=source)
    text = status.get("content") or ""
    if status.get("spoiler_text"):
        text = f"{status['spoiler_text']}\n{text}"
    return Mention(
        # The uri is the status' own, the same on every instance; the id is this instance's.
        source=source, source_type="mastodon", id=str(status.get("uri") or status["id"]), url=status.get("url") or status.get("uri"),
        text=text, published_at=parse_time(status["created_at"], source=source),
        author=account.get("acct", ""), author_name=account.get("display_name") or account.get("username", ""),
        language=status.get("language"), audience=as_int(account.get("followers_count")),
        metrics={"replies": as_int(status.get("replies_count")), "reblogs": as_int(status.get("reblogs_count")),
                 "favourites": as_int(status.get("favourites_count")), "quotes": as_int(status.get("quotes_count")),
                 "bot": account.get("bot"), "local_id": str(status["id"])},
        raw=status,
    )


def _hashtags(queries: Sequence[Query]) -> list[str]:
    """The brands' own names as tags: each rule's anchor ("Acme Cloud" → acmecloud), never the
    words it ANDs with them ("support" is no tag of the brand's)."""
    tags: dict[str, None] = {}  # an ordered set: a list's membership test made 100,000 rules take a minute
    for query in queries:
        for group in [query.anchor] if query.anchor else query.alternatives:
            tag = re.sub(r"[^\w]", "", group[0].text).lower()  # the brand's term (brand_first), never "#support"
            if tag:
                tags[tag] = None
    return list(tags)


class MastodonConnector:
    """Reads hashtag timelines (and, with a token, full-text search) on one instance."""

    type: ClassVar[str] = "mastodon"
    Options: ClassVar[type[SourceOptions]] = MastodonOptions

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    @staticmethod
    def cost(options: MastodonOptions, queries: Sequence[Query]) -> Cost:
        """A request per tag a run, and per search term with a token."""
        tags = len(options.hashtags or _hashtags(queries))
        terms = len(searches(queries, SYNTAX)) if options.token_env else 0
        how = plural(tags, "tag timeline") + (f", {plural(terms, 'search')}" if terms else "")
        return Cost(tags + terms, how, QUOTA)

    def fetch(self, options: MastodonOptions, *, queries: Sequence[Query], state: SourceState, now: datetime) -> FetchResult:
        """Statuses newer than the cursor from every tag (and search term, with a token); first the
        id windows earlier runs left unread at their page limit (``Backlog``), oldest first."""
        token = secret(options, "token_env")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        backlog = Backlog.load(state.cursor)
        since_id = int(backlog.cursor) if backlog.cursor and backlog.cursor.isdigit() else None
        windows: list[tuple[int | None, int | None]] = [*backlog.gaps, (overlapped(since_id, options.overlap)
                                                                        if since_id else None, None)]
        seen: dict[str, Mention] = {}
        ids: set[int] = set()
        skipped: list[str] = []
        owed: list[tuple[int, int]] = []
        requests = [(f"/api/v1/timelines/tag/{tag}", {}) for tag in (options.hashtags or _hashtags(queries))]
        if token:
            requests += [("/api/v2/search", {"q": term, "type": "statuses", "resolve": "false"})
                         for term in searches(queries, SYNTAX)]
        subs = SubRequests(options.name)
        tags_heard = tags_read = 0
        for path, params in requests:
            before = len(ids)
            with subs.each(path if "/tag/" in path else f"search {params['q']!r}"):
                for low, high in windows:
                    oldest = self._window(options, path, params, headers, bool(token), low, high, seen, ids, skipped)
                    if oldest is not None and low is not None:  # the overlap below the cursor is never owed
                        owed.append((low if high is not None else max(low, since_id or low), oldest))
                if "/tag/" in path:
                    tags_read += 1
                    tags_heard += len(ids) > before
        warnings = self._feeds_closed(options, headers, bool(token)) if tags_read and not tags_heard else []
        newest = max([since_id or 0, *ids])
        after = Backlog(str(newest) if newest else backlog.cursor, Backlog.merged(owed))
        result = after.result(list(seen.values()), skipped, _id_time)
        if warnings:
            result = FetchResult(result.mentions, result.state, result.not_modified, result.skipped,
                                 (*result.warnings, *warnings))
        return subs.result(result, state)

    def _feeds_closed(self, options: MastodonOptions, headers: dict, token: bool) -> list[str]:
        """Why every tag answered ``[]``, when the instance says it is not a quiet brand: a
        FetchError when its hashtag feeds are disabled (or need a token this source lacks), a
        warning when only local or only remote posts are in them; nothing when they are public
        or the instance does not say (before 4.5, or no ``/api/v2/instance``)."""
        try:
            data, _ = http.get_json(self.client, f"{options.base_url}/api/v2/instance", source=options.name,
                                    headers=headers)
        except (FetchError, ParseError):
            return []
        access = (((data.get("configuration") or {}).get("timelines_access") or {}).get("hashtag_feeds")
                  if isinstance(data, dict) else None)
        if not isinstance(access, dict):
            return []
        levels = {side: str(access.get(side) or "public") for side in ("local", "remote")}
        shut = [side for side, level in levels.items() if level == "disabled" or (level == "authenticated" and not token)]
        said = f"local {levels['local']}, remote {levels['remote']}"
        if len(shut) == 2:
            need = ("set token_env (a user token) to read them" if "disabled" not in levels.values()
                    else "read another instance, or set token_env to search its posts instead")
            raise FetchError(f"{options.base_url} has closed its hashtag feeds to this source "
                             f"(configuration.timelines_access.hashtag_feeds: {said}): every tag answers [] whatever"
                             f" is posted — {need}", source=options.name, retryable=False)
        if shut:
            return [f"{options.base_url} shows only {'remote' if shut == ['local'] else 'local'} posts in its hashtag"
                    f" feeds (hashtag_feeds: {said}): its {shut[0]} posts are not heard"]
        return []

    def _window(self, options: MastodonOptions, path: str, params: dict, headers: dict, token: bool, low: int | None,
                high: int | None, seen: dict[str, Mention], ids: set[int], skipped: list[str]) -> int | None:
        """One timeline's or search's statuses with ids in (low, high), newest first, ``max_pages``
        of 40 at most; None when read to the end (or on a first run: one page is the backlog), else
        the oldest id read."""
        max_id, oldest = high, None
        for _ in range(options.max_pages):
            query = {**params, "limit": 40}
            if low is not None:
                # Timelines take since_id; /api/v2/search has none, only min_id and max_id
                # (the search method's parameters in Mastodon's docs, read 2026-12-02).
                query["min_id" if path == "/api/v2/search" else "since_id"] = str(low)
            if max_id is not None:
                query["max_id"] = str(max_id)
            try:
                data, _ = http.get_json(self.client, f"{options.base_url}{path}", source=options.name, params=query,
                                        headers=headers)
            except FetchError as exc:
                if exc.status in (401, 403, 422) and not token and "/timelines/tag/" in path:
                    raise FetchError(f"{options.base_url} requires a token for hashtag timelines — set token_env "
                                     f"(HTTP {exc.status})", source=options.name, retryable=False, status=exc.status) from exc
                raise
            statuses = data.get("statuses") if isinstance(data, dict) else data
            if not isinstance(statuses, list):
                raise ParseError(f"{path} did not return a list of statuses", source=options.name)
            for status in statuses:
                with malformed_item(status, source=options.name, skipped=skipped):
                    mention = parse_status(status, source=options.name)
                    seen.setdefault(mention.id, mention)
            page_ids = [int(s["id"]) for s in statuses if isinstance(s, dict) and str(s.get("id", "")).isdigit()]
            ids.update(page_ids)
            if len(statuses) < 40 or not page_ids or low is None:
                return None  # read to the end; or a first run, whose one page is the backlog
            max_id = oldest = min(page_ids)
        return oldest

    def refresh(self, options: MastodonOptions, mentions: Sequence[Mention], *, now: datetime) -> dict[str, Refreshed]:
        """Boosts, favourites, replies and the author's followers now: ``/api/v1/statuses/:id`` per
        status (its local id), at most ``REFRESH_PER_RUN`` a run (instances allow 300 requests in
        5 minutes); a status gone (404) is left out."""
        token = secret(options, "token_env")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        out: dict[str, Refreshed] = {}
        for m in mentions[:REFRESH_PER_RUN]:
            local = str(m.metrics.get("local_id") or m.id)
            if not local.isdigit():
                continue
            try:
                data, _ = http.get_json(self.client, f"{options.base_url}/api/v1/statuses/{local}", source=options.name,
                                        headers=headers)
            except FetchError as exc:
                if exc.status in (404, 410):
                    continue
                raise
            if isinstance(data, dict) and data.get("id"):
                fresh = parse_status(data, source=options.name)
                out[m.id] = Refreshed({k: v for k, v in fresh.metrics.items() if k in ("replies", "reblogs", "favourites", "quotes")},
                                      fresh.audience)
        return out
