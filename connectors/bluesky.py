"""Bluesky: ``app.bsky.feed.searchPosts`` with an app password, authors' followers from ``getProfiles``.

``createSession`` is limited (30 per 5 minutes, 300 a day per account), so the session is kept
for the life of the process and renewed with ``refreshSession`` when the access token expires;
only when that fails is a new session created. Tokens stay in memory, never in the store.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import Backlog, SearchOptions, SourceOptions, SubRequests, Syntax, as_int, malformed_item, parse_time, secret
from connectors.quota import Cost, Quota, plural
from monitor.errors import FetchError, ParseError
from monitor.models import FetchResult, Mention, Query, Refreshed, SourceState, to_iso

PROFILES_PER_CALL = 25  # app.bsky.actor.getProfiles accepts at most 25 actors


# The searchPosts lexicon (read 2026-12-02): "syntax, phrase, boolean, and faceting is unspecified,
# but Lucene query syntax is recommended": quoted phrases and words (ANDed) only, no OR.
SYNTAX = Syntax()
# General API requests: 3,000 per 5 minutes per IP (docs.bsky.app, "Rate Limits", read 2026-12-06).
QUOTA = Quota(3000, timedelta(minutes=5), "per IP, docs.bsky.app rate limits")

class BlueskyOptions(SearchOptions):
    """Bluesky options: an account handle and app password, by environment variable."""

    type: Literal["bluesky"] = "bluesky"
    base_url: str | None = Field(default="https://bsky.social", description="The account's PDS (XRPC root without /xrpc).")
    handle_env: str = Field(default="BLUESKY_HANDLE", description="Environment variable with the account's handle or email.")
    app_password_env: str = Field(default="BLUESKY_APP_PASSWORD", description="Environment variable with an app password.")
    limit: int = Field(default=100, ge=1, le=100, description="Posts per page (the API's maximum is 100).")


def parse_post(post: dict, *, source: str) -> Mention:
    """One ``app.bsky.feed.defs#postView``."""
    record = post.get("record") or {}
    author = post.get("author") or {}
    uri = post.get("uri")
    if not uri or not record.get("createdAt"):
        raise ParseError("a post without uri or record.createdAt", source=source)
    handle = author.get("handle") or author.get("did", "")
    langs = record.get("langs") or []
    return Mention(
        source=source, source_type="bluesky", id=uri,
        url=f"https://bsky.app/profile/{handle}/post/{uri.rsplit('/', 1)[-1]}",
        text=record.get("text", ""), published_at=parse_time(record["createdAt"], source=source),
        author=handle, author_name=author.get("displayName") or handle, language=langs[0].split("-")[0] if langs else None,
        metrics={"likes": as_int(post.get("likeCount")), "reposts": as_int(post.get("repostCount")),
                 "replies": as_int(post.get("replyCount")), "quotes": as_int(post.get("quoteCount")), "did": author.get("did")},
        raw=post,
    )


def sort_at(post: dict, mention: Mention) -> datetime:
    """When the AppView files a post, which ``since`` filters on: the earlier of the author's
    ``createdAt`` (client-set, may be in the future) and the server's ``indexedAt``. A cursor
    following ``createdAt`` alone would jump to a post dated 2031 and hide everything after it."""
    try:
        indexed = parse_time(post["indexedAt"], source=mention.source) if post.get("indexedAt") else None
    except ParseError:
        indexed = None
    return min(mention.published_at, indexed) if indexed else mention.published_at


class BlueskyConnector:
    """Searches Bluesky posts for the brands' terms."""

    type: ClassVar[str] = "bluesky"
    Options: ClassVar[type[SourceOptions]] = BlueskyOptions

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def _xrpc(self, options: BlueskyOptions, method: str) -> str:
        return f"{options.base_url}/xrpc/{method}"

    def _session(self, options: BlueskyOptions, *, renew: bool = False) -> dict:
        handle, password = secret(options, "handle_env"), secret(options, "app_password_env")
        sessions = getattr(self.client, "sessions", {})
        key = (options.base_url or "", handle)
        session = sessions.get(key)
        if session and not renew:
            return session
        if session and renew:
            try:
                response = http.request(self.client, "POST", self._xrpc(options, "com.atproto.server.refreshSession"),
                                        source=options.name, headers={"Authorization": f"Bearer {session['refreshJwt']}"})
                session = http.parse_json(response, source=options.name)
                if isinstance(session, dict) and session.get("accessJwt"):
                    sessions[key] = session
                    return session
            except FetchError:
                pass  # an expired refresh token: log in again below
        response = http.request(self.client, "POST", self._xrpc(options, "com.atproto.server.createSession"),
                                source=options.name, json_body={"identifier": handle, "password": password})
        session = http.parse_json(response, source=options.name)
        if not isinstance(session, dict) or not session.get("accessJwt"):
            raise FetchError("Bluesky createSession returned no access token", source=options.name, retryable=False)
        sessions[key] = session
        return session

    def _get(self, options: BlueskyOptions, method: str, params: dict) -> dict:
        session = self._session(options)
        for attempt in range(2):
            try:
                data, _ = http.get_json(self.client, self._xrpc(options, method), source=options.name, params=params,
                                        headers={"Authorization": f"Bearer {session['accessJwt']}"})
            except FetchError as exc:
                # An expired access token is a 400 ExpiredToken (or a 401): refresh once and retry;
                # any other 400 is our request's fault, and refreshing would only spend the
                # session quota (createSession: 30 in 5 minutes).
                if (exc.code == "ExpiredToken" or exc.status == 401) and attempt == 0:
                    session = self._session(options, renew=True)
                    continue
                raise
            if not isinstance(data, dict):
                raise ParseError(f"{method} did not return an object", source=options.name)
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    def fetch(self, options: BlueskyOptions, *, queries: Sequence[Query], state: SourceState, now: datetime) -> FetchResult:
        """Posts since the cursor for every term, newest first (first the windows earlier runs
        left unread at their page limit, ``Backlog``, oldest first), then their authors' followers."""
        backlog = Backlog.load(state.cursor)
        plain = SourceState(cursor=backlog.cursor)
        since, reached = options.since(plain, now), options.reached(plain, now)
        windows: list[tuple[int, int | None]] = [*backlog.gaps, (int(since.timestamp()), None)]
        seen: dict[str, Mention] = {}
        sorted_at: dict[str, datetime] = {}
        skipped: list[str] = []
        owed: list[tuple[int, int]] = []
        subs = SubRequests(options.name)
        for term in options.searches(queries, SYNTAX):
            with subs.each(f"search {term!r}"):
                for low, high in windows:
                    oldest = self._window(options, term, low, high, seen, sorted_at, skipped, now)
                    if oldest is not None:  # the page limit came first
                        owed.append(Backlog.unread(low, high, oldest, int(reached.timestamp())))
        newest = max([reached, *sorted_at.values()])
        self._add_followers(options, seen)
        result = Backlog(to_iso(newest), Backlog.merged(owed)).result(list(seen.values()), skipped)
        return subs.result(result, state)

    def _window(self, options: BlueskyOptions, term: str, low: int, high: int | None, seen: dict[str, Mention],
                sorted_at: dict[str, datetime], skipped: list[str], now: datetime) -> int | None:
        """One term's posts filed in [low, high) (``since``/``until`` filter on sortAt), newest
        first; None when read to the end, else the oldest sortAt read."""
        def iso(stamp: int) -> str:
            return to_iso(datetime.fromtimestamp(stamp, timezone.utc))

        cursor, oldest = None, None
        for _ in range(options.max_pages):
            params = {"q": term, "sort": "latest", "since": iso(low), "limit": options.limit,
                      **({"until": iso(high)} if high is not None else {})}
            if cursor:
                params["cursor"] = cursor
            data = self._get(options, "app.bsky.feed.searchPosts", params)
            posts = data.get("posts")
            if not isinstance(posts, list):
                raise ParseError("searchPosts returned no 'posts' list", source=options.name)
            for post in posts:
                with malformed_item(post, source=options.name, skipped=skipped):
                    mention = parse_post(post, source=options.name)
                    seen.setdefault(mention.id, mention)
                    filed = min(sort_at(post, mention), now)
                    sorted_at[mention.id] = filed
                    stamp = int(filed.timestamp())
                    oldest = stamp if oldest is None else min(oldest, stamp)
            cursor = data.get("cursor")
            if not cursor or not posts:
                return None
        return oldest

    def _add_followers(self, options: BlueskyOptions, seen: dict[str, Mention]) -> None:
        dids = sorted({m.metrics["did"] for m in seen.values() if m.metrics.get("did")})
        followers: dict[str, int | None] = {}
        for start in range(0, len(dids), PROFILES_PER_CALL):
            data = self._get(options, "app.bsky.actor.getProfiles", {"actors": dids[start:start + PROFILES_PER_CALL]})
            for profile in data.get("profiles") or []:
                followers[profile.get("did")] = as_int(profile.get("followersCount"))
        for ident, m in list(seen.items()):
            if followers.get(m.metrics.get("did")) is not None:
                seen[ident] = replace(m, audience=followers[m.metrics["did"]])

    @staticmethod
    def cost(options: BlueskyOptions, queries: Sequence[Query]) -> Cost:
        """A search per term a run (searchPosts documents no OR)."""
        terms = options.searches(queries, SYNTAX)
        return Cost(len(terms), f"{plural(len(terms), 'search')}, one per rule (no OR documented)", QUOTA)

    def refresh(self, options: BlueskyOptions, mentions: Sequence[Mention], *, now: datetime) -> dict[str, Refreshed]:
        """Likes, reposts, replies and quotes now, ``app.bsky.feed.getPosts`` 25 posts a call, and
        the authors' followers (``getProfiles``); a deleted post is left out."""
        uris = [m.id for m in mentions if m.id.startswith("at://")]
        fresh: dict[str, Mention] = {}
        for start in range(0, len(uris), PROFILES_PER_CALL):
            data = self._get(options, "app.bsky.feed.getPosts", {"uris": uris[start:start + PROFILES_PER_CALL]})
            for post in data.get("posts") or []:
                with malformed_item(post, source=options.name, skipped=None):
                    mention = parse_post(post, source=options.name)
                    fresh[mention.id] = mention
        self._add_followers(options, fresh)
        keys = ("likes", "reposts", "replies", "quotes")
        return {ident: Refreshed({k: m.metrics.get(k) for k in keys}, m.audience) for ident, m in fresh.items()}
