"""Reddit: anonymous RSS (search and subreddit listings), or the JSON API with an OAuth app.

Anonymous JSON answers 403 these days, so without credentials we read ``search.rss`` and
``/r/{sub}/new/.rss`` (no scores there, and 429s come quickly: the host limiter honours them).
With ``client_id_env`` / ``client_secret_env`` (a "script" or "web" app's credentials) the
connector takes an app-only token and reads ``oauth.reddit.com`` listings, which carry score,
comments, upvote ratio and subreddit subscribers, paged back to the cursor.
"""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import (Resume, SearchOptions, SourceOptions, SubRequests, Syntax, as_int, combined, malformed_item,
                             parse_time, read_back, secret)
from connectors.quota import Cost, Quota, plural
from connectors.rss import feed_headers, parse_feed
from monitor.errors import FetchError, ParseError
from monitor.models import FetchResult, Mention, Query, SourceState, to_iso

SITE = "https://www.reddit.com"


# Reddit's search wiki (read 2026-12-02, the archived /wiki/search): AND, OR, NOT, parentheses and
# quoted phrases; the API reference's /search takes "q: a string no longer than 512 characters".
# The rules ORed into as few searches as fit.
SYNTAX = Syntax(boolean=True, max_query=512)
# Reddit's free tier since 2023-07-01 (r/modnews, "API Update", read 2026-12-02): 100 queries a
# minute per OAuth client id, averaged over 10 minutes; 10 without OAuth.
OAUTH_QUOTA = Quota(100, timedelta(minutes=1), "per OAuth client id, Reddit's Data API terms")
RSS_QUOTA = Quota(10, timedelta(minutes=1), "without an OAuth app, Reddit's Data API terms")

class RedditOptions(SearchOptions):
    """Reddit options."""

    type: Literal["reddit"] = "reddit"
    base_url: str | None = Field(default=SITE, description="Where the RSS feeds and token endpoint are.")
    oauth_url: str = Field(default="https://oauth.reddit.com", description="The OAuth JSON API root.")
    search: bool = Field(default=True, description="Search all of Reddit for the brands' terms.")
    subreddits: list[str] = Field(default=[], description="Subreddits whose new posts to read (matched locally).")
    limit: int = Field(default=100, ge=1, le=100, description="Items per page (Reddit's maximum is 100).")
    comments: bool = Field(default=True, description="Also read the subreddits' new comments (/r/x/comments): "
                                                      "most of what customers say on Reddit is in comments.")
    username: str | None = Field(default=None, description="Your Reddit username, for the User-Agent Reddit asks for "
                                                            "(<platform>:<app id>:<version> (by /u/username)).")
    client_id_env: str | None = Field(default=None, description="Environment variable with the OAuth app's client id.")
    client_secret_env: str | None = Field(default=None, description="Environment variable with the OAuth app's secret.")


    def access(self) -> str | None:
        if self.client_id_env and self.client_secret_env:
            return None
        return ("anonymous RSS: 10 requests a minute, no scores or subscriber counts (reach is a typical account's); "
                "with an OAuth app (create a 'script' app at https://www.reddit.com/prefs/apps, then set client_id_env "
                "and client_secret_env) the JSON API gives 100 a minute, scores and subscribers")


def parse_listing(data: object, *, source: str, skipped: list[str] | None = None) -> tuple[list[Mention], str | None]:
    """A Listing (``kind: Listing``) of t3 things into mentions, and its ``after`` token."""
    if not isinstance(data, dict) or not isinstance((data.get("data") or {}).get("children"), list):
        raise ParseError("Reddit returned JSON that is not a Listing", source=source)
    out = []
    for child in data["data"]["children"]:
        with malformed_item(child, source=source, skipped=skipped):
            post = child.get("data") if isinstance(child, dict) else None
            if child.get("kind") not in ("t1", "t3") or not isinstance(post, dict) or not post.get("id"):
                continue
            if child["kind"] == "t1":
                out.append(_comment(post, source=source))
                continue
            title = post.get("title") or ""
            out.append(Mention(
                source=source, source_type="reddit", id=f"t3_{post['id']}", url=SITE + post.get("permalink", f"/comments/{post['id']}"),
                title=title, text=post.get("selftext") or title, published_at=parse_time(post.get("created_utc"), source=source),
                author=post.get("author") or "", author_name=post.get("author") or "",
                metrics={"score": as_int(post.get("score")), "comments": as_int(post.get("num_comments")),
                         "upvote_ratio": post.get("upvote_ratio"), "crossposts": as_int(post.get("num_crossposts")),
                         "subreddit": post.get("subreddit"),
                         "subreddit_subscribers": as_int(post.get("subreddit_subscribers")), "link": post.get("url")},
                raw=post,
            ))
    return out, data["data"].get("after")


def _comment(comment: dict, *, source: str) -> Mention:
    """A t1 thing (a comment): its text, its post's title, the comment's own permalink."""
    return Mention(
        source=source, source_type="reddit", id=f"t1_{comment['id']}",
        url=SITE + comment.get("permalink", f"/comments/{comment.get('link_id', '').removeprefix('t3_')}/_/{comment['id']}"),
        title=comment.get("link_title") or "", text=comment.get("body") or "",
        published_at=parse_time(comment.get("created_utc"), source=source),
        author=comment.get("author") or "", author_name=comment.get("author") or "",
        metrics={"kind": "comment", "score": as_int(comment.get("score")), "subreddit": comment.get("subreddit"),
                 "subreddit_subscribers": as_int(comment.get("subreddit_subscribers"))},
        raw=comment,
    )


def agent(options: RedditOptions) -> dict[str, str]:
    """The User-Agent in the form Reddit's API rules ask for, when the operator gave a username."""
    if not options.username:
        return {}
    return {"User-Agent": f"python:reputation-monitor:{http.VERSION} (by /u/{options.username.removeprefix('/u/')})"}


def _rss_mentions(response: httpx.Response, *, source: str, now: datetime, skipped: list[str] | None = None,
                  warnings: list[str] | None = None) -> list[Mention]:
    out = []
    for m in parse_feed(response.content, source=source, url=str(response.url), headers=feed_headers(response), now=now,
                        skipped=skipped, warnings=warnings):
        author = m.author_name.removeprefix("/u/")
        tags = (m.raw or {}).get("tags") or []
        subreddit = tags[0].get("term") if tags and isinstance(tags[0], dict) else None
        # feedparser resolves the bare "t3_…" (post) or "t1_…" (comment) Atom id against the feed's
        # URL; keep Reddit's own name.
        thing = re.search(r"t[13]_[0-9a-z]+", m.id)
        ident = thing.group() if thing else m.id
        metrics = {"subreddit": subreddit, **({"kind": "comment"} if ident.startswith("t1_") else {})}
        out.append(replace(m, source_type="reddit", id=ident, author=author, author_name=author, language=None,
                           text=m.text or m.title, metrics=metrics))
    return out


class RedditConnector:
    """Reads Reddit search and subreddit listings."""

    type: ClassVar[str] = "reddit"
    Options: ClassVar[type[SourceOptions]] = RedditOptions

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(self, options: RedditOptions, *, queries: Sequence[Query], state: SourceState, now: datetime) -> FetchResult:
        """Every listing back to the cursor, newest first, ``max_pages`` at most: JSON listings with
        credentials, RSS without. A listing whose page limit came first is owed from the last
        item read (``after``, which both forms take) and read on the next runs, oldest first."""
        client_id, client_secret = secret(options, "client_id_env"), secret(options, "client_secret_env")
        listings = _listings(options, queries)
        headers = agent(options)
        oauth = bool(client_id and client_secret)
        if oauth:
            headers = {"Authorization": f"Bearer {self._token(options, client_id, client_secret)}", **headers}
        backlog = Resume.load(state.cursor)
        plain = SourceState(cursor=backlog.cursor)
        since, reached = options.since(plain, now), options.reached(plain, now)
        newest = [reached]
        seen: dict[str, Mention] = {}
        skipped: list[str] = []
        warnings: list[str] = []
        still: dict[str, tuple[tuple[str, int], ...]] = {}
        subs = SubRequests(options.name)
        for path, params in listings:
            label = _label(path, params)
            with subs.each(label):
                still[label] = backlog.read(label, lambda after, stop: read_back(
                    lambda token: self._page(options, path, params, token, headers, oauth, now, skipped, warnings),
                    after, stop, options.max_pages, seen, newest, now), since, reached)
        result = FetchResult(list(seen.values()), state, skipped=tuple(skipped), warnings=tuple(warnings))
        return subs.result(Resume(to_iso(max(newest)), still).result(result), state)

    @staticmethod
    def cost(options: RedditOptions, queries: Sequence[Query]) -> Cost:
        """A request per listing a run: the searches (the rules ORed, 512 characters each) and
        each subreddit's new posts and comments."""
        listings = _listings(options, queries)
        found = sum(path == "/search" for path, _ in listings)
        how = [f"{plural(found, 'search')} for {plural(len(queries), 'rule')} ORed"] if found else []
        if len(listings) > found:
            how.append(f"{plural(len(listings) - found, 'subreddit listing')}")
        oauth = bool(options.client_id_env and options.client_secret_env)
        return Cost(len(listings), ", ".join(how) or "nothing", OAUTH_QUOTA if oauth else RSS_QUOTA)

    def _page(self, options: RedditOptions, path: str, params: dict, after: str | None, headers: dict, oauth: bool,
              now: datetime, skipped: list[str], warnings: list[str]) -> tuple[list[Mention], str | None]:
        """One listing page from ``after`` (None: its top) and the next page's ``after`` (None:
        the last): JSON with OAuth, else RSS, whose feed has none: a full page goes on from its
        last item, as listings do."""
        query = {**params, **({"after": after} if after else {})}
        if oauth:
            data, _ = http.get_json(self.client, f"{options.oauth_url}{path}", source=options.name,
                                    params={**query, "raw_json": 1}, headers=headers)
            return parse_listing(data, source=options.name, skipped=skipped)
        url = f"{options.base_url}{path}.rss" if path == "/search" else f"{options.base_url}{path}/.rss"
        response = http.get(self.client, url, source=options.name, params=query, headers=headers)
        mentions = _rss_mentions(response, source=options.name, now=now, skipped=skipped, warnings=warnings)
        return mentions, mentions[-1].id if len(mentions) >= params["limit"] else None

    def _token(self, options: RedditOptions, client_id: str, client_secret: str) -> str:
        response = http.request(
            self.client, "POST", f"{options.base_url}/api/v1/access_token", source=options.name,
            data={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode(), **agent(options)},
        )
        token = (http.parse_json(response, source=options.name) or {}).get("access_token")
        if not token:
            raise FetchError("Reddit gave no access token: check the OAuth app's id and secret", source=options.name, retryable=False)
        return token


def _listings(options: RedditOptions, queries: Sequence[Query]) -> list[tuple[str, dict]]:
    """What a run reads: the searches (the rules ORed into as few as fit), the subreddits."""
    searches = [" OR ".join(options.query)] if options.query else combined(queries, SYNTAX)
    listings = [("/search", {"q": q, "sort": "new", "t": "week", "limit": options.limit})
                for q in (searches if options.search else [])]
    for sub in options.subreddits:
        listings.append((f"/r/{sub}/new", {"limit": options.limit}))
        if options.comments:
            listings.append((f"/r/{sub}/comments", {"limit": options.limit}))
    return listings


def _label(path: str, params: dict) -> str:
    return f"search {params['q']!r}" if params.get("q") else path.strip("/")

