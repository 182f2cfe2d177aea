"""Reddit: anonymous RSS (search and subreddit listings), or the JSON API with an approved app.

Anonymous JSON answers 403, and since mid-2026 anonymous RSS answers about **one request a
minute per address** (then 429: FreshRSS #8928, NetNewsWire #5328/#5355, QuiteRSS #1626). So
without credentials every Reddit source shares one budget on the host: a request, then a
minute's hold (kept in the store, so cron runs and other workers keep it too); a run reads one
listing's newest page, the one read longest ago first, so every search and subreddit is read in
turn; the subreddits are read together as one multireddit (``/r/a+b+c/new``). A listing not read
within its source's interval is a warning saying how far behind it is; a source that could read
nothing for a day fails (and goes ``source_down``).

With ``client_id_env`` / ``client_secret_env`` (an app Reddit approved: since November 2025 new
apps need Reddit's approval) the connector takes an app-only token, kept until it expires, and
reads ``oauth.reddit.com`` listings, which carry score, comments, upvote ratio and subreddit
subscribers, paged back to the cursor.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import (Resume, SearchOptions, SourceOptions, SubRequests, Syntax, as_int, combined, malformed_item,
                             parse_time, read_back, secret)
from connectors.quota import Cost, Quota, plural, span_words
from connectors.tokens import Tokens, access_token
from connectors.rss import feed_headers, parse_feed
from monitor.errors import ConnectorError, FetchError, ParseError, RateLimited
from monitor.models import FetchResult, Mention, Query, SourceState, to_iso

SITE = "https://www.reddit.com"


# Reddit's search wiki (read 2026-12-02, the archived /wiki/search): AND, OR, NOT, parentheses and
# quoted phrases; the API reference's /search takes "q: a string no longer than 512 characters".
# The rules ORed into as few searches as fit.
SYNTAX = Syntax(boolean=True, max_query=512)
# Reddit's free tier since 2023-07-01 (r/modnews, "API Update", read 2026-12-02): 100 queries a
# minute per OAuth client id, averaged over 10 minutes; 10 without OAuth.
OAUTH_QUOTA = Quota(100, timedelta(minutes=1), "per OAuth client id, Reddit's Data API terms")
RSS_QUOTA = Quota(1, timedelta(minutes=1), "anonymous RSS per address, as Reddit answers in 2026")
ANONYMOUS_SPACING = 60.0  # seconds between two anonymous requests, across every Reddit source
STARVED = timedelta(days=1)  # a source that could read nothing this long fails
_TOKENS = Tokens()  # by (token URL, client id)

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
        return ("anonymous RSS: about 1 request a minute per address in 2026, shared by every Reddit source, so "
                "one listing a run, in turn; no scores or subscriber counts (reach is a typical account's). The JSON "
                "API (100 requests a minute, scores and subscribers) needs an app Reddit has approved (since "
                "November 2025: apply at https://support.reddithelp.com/hc/en-us/requests/new), then set "
                "client_id_env and client_secret_env")


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
        if not oauth:
            return self._in_turn(options, listings, headers, state, now)
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

    def _in_turn(self, options: RedditOptions, listings: list[tuple[str, dict]], headers: dict, state: SourceState,
                 now: datetime) -> FetchResult:
        """Anonymous: the newest page of the listing read longest ago, within the host's budget
        (a request a minute, shared); the others wait their turn. Warnings for listings behind
        their interval; a failure when nothing could be read for a day."""
        turn = _Turns.load(state.cursor)
        seen: dict[str, Mention] = {}
        skipped: list[str] = []
        warnings: list[str] = []
        labels = [_label(path, params) for path, params in listings]
        for (path, params), label in sorted(zip(listings, labels), key=lambda pair: turn.read.get(pair[1], "")):
            try:
                mentions, _ = self._page(options, path, params, None, headers, False, now, skipped, warnings)
            except RateLimited as exc:  # no budget left (nothing sent), or Reddit said 429
                if not turn.read_any(labels, since=now - STARVED) and turn.started(now) <= now - STARVED:
                    raise FetchError(f"nothing read from Reddit for {span_words(now - turn.started(now))}: its anonymous "
                                     "budget (about 1 request a minute per address) went to other sources or was "
                                     "refused — fewer Reddit sources, a longer every, or an approved app",
                                     source=options.name) from exc
                raise  # the wait is honoured, not a failure; this listing keeps its turn
            except ConnectorError:  # the run fails (backoff, source_down); this listing keeps its turn
                http.hold_host(self.client, options.base_url or SITE, ANONYMOUS_SPACING)
                raise
            http.hold_host(self.client, options.base_url or SITE, ANONYMOUS_SPACING)
            for mention in mentions:
                seen.setdefault(mention.id, mention)
            turn.read[label] = to_iso(now)
            if len(mentions) >= params["limit"]:
                warnings.append(f"{label}: a full page since its last read: older posts between reads are missed "
                                "(anonymous Reddit reads one page a turn)")
            break  # a request a minute: the others in the next runs
        for label in labels:
            last = turn.read.get(label)
            behind = now - parse_time(last) if last else now - turn.started(now)
            if behind > options.every + timedelta(seconds=ANONYMOUS_SPACING):
                warnings.append(f"{label}: last read {span_words(behind)} ago" if last else f"{label}: not read yet")
        if any(w.endswith(" ago") or w.endswith("not read yet") for w in warnings):
            warnings.append(f"{len(labels)} listings share anonymous Reddit's request a minute: each is read every "
                            f"{len(labels)} runs")
        newest = max([m.published_at for m in seen.values()], default=None)
        turn = _Turns(turn.read, turn.since or to_iso(now), to_iso(newest) if newest else turn.cursor)
        return FetchResult(list(seen.values()), SourceState(cursor=turn.dump()), skipped=tuple(skipped),
                           warnings=tuple(warnings))

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
        if not oauth:
            turn = options.every * len(listings)
            late = (f"each listing is read once in {len(listings)} runs ({turn.total_seconds() / 3600:.1f} h) within "
                    "anonymous Reddit's request a minute: fewer rules or subreddits, or an approved app"
                    if turn > timedelta(hours=6) else None)
            return Cost(1, f"one of {plural(len(listings), 'listing')} a run, in turn ({', '.join(how) or 'nothing'})",
                        RSS_QUOTA, warning=late)
        return Cost(len(listings), ", ".join(how) or "nothing", OAUTH_QUOTA)

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
        """An app-only token, kept (in this process) until a minute before it expires."""
        key = (f"{options.base_url}/api/v1/access_token", client_id)
        kept = _TOKENS.get(key)
        if kept:
            return kept
        response = http.request(
            self.client, "POST", f"{options.base_url}/api/v1/access_token", source=options.name,
            data={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode(), **agent(options)},
        )
        token, expires = access_token(response, source=options.name, refused="Reddit gave no access token: check the "
                                      "app's id and secret (and that Reddit approved the app)")
        return _TOKENS.keep(key, token, expires=expires)


def _listings(options: RedditOptions, queries: Sequence[Query]) -> list[tuple[str, dict]]:
    """What a run reads: the searches (the rules ORed into as few as fit), the subreddits."""
    searches = [" OR ".join(options.query)] if options.query else combined(queries, SYNTAX)
    listings = [("/search", {"q": q, "sort": "new", "t": "week", "limit": options.limit})
                for q in (searches if options.search else [])]
    if options.subreddits:  # one multireddit for them all: /r/a+b+c/new
        together = "+".join(options.subreddits)
        listings.append((f"/r/{together}/new", {"limit": options.limit}))
        if options.comments:
            listings.append((f"/r/{together}/comments", {"limit": options.limit}))
    return listings


@dataclass
class _Turns:
    """Anonymous Reddit's cursor: when each listing was last read (its turn), since when the
    source has been read this way, and the newest post seen."""

    read: dict[str, str] = field(default_factory=dict)
    since: str | None = None
    cursor: str | None = None

    @classmethod
    def load(cls, raw: str | None) -> "_Turns":
        try:
            data = json.loads(raw) if raw and raw.startswith("{") else None
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("read"), dict):
            return cls(cursor=raw if raw and not raw.startswith("{") else None)
        return cls({str(k): str(v) for k, v in data["read"].items()}, data.get("since"), data.get("cursor"))

    def dump(self) -> str:
        return json.dumps({"cursor": self.cursor, "since": self.since, "read": self.read}, sort_keys=True)

    def started(self, now: datetime) -> datetime:
        return parse_time(self.since) if self.since else now

    def read_any(self, labels: list[str], *, since: datetime) -> bool:
        return any(self.read.get(label) and parse_time(self.read[label]) >= since for label in labels)


def _label(path: str, params: dict) -> str:
    return f"search {params['q']!r}" if params.get("q") else path.strip("/")

