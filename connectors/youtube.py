"""YouTube: channel and playlist Atom feeds (no key), and Data API search and comments with a key.

Feeds carry the latest 15 uploads with views and a like count (``media:starRating``), and no
search: they are matched locally. With ``api_key_env`` the Data API's ``search.list`` finds
videos by keyword since the cursor, ``videos.list`` / ``channels.list`` add views, likes and
channel subscribers, and ``commentThreads.list`` (``allThreadsRelatedToChannelId``, newest
first) reads the comments on the followed channels' videos, where customers talk to the brand.

Quota (the Data API's docs, read 2026-12-02): 10,000 units a day per project; ``videos``,
``channels`` and ``commentThreads`` cost 1 unit a call; ``search.list`` costs 100 and is
limited to ``search_calls_per_day`` (100) calls a day in a bucket of its own. Searches are
spaced to fit it: after a round of N calls the next waits N × 24 h / search_calls_per_day
(one term: every 14.4 minutes), while the feeds and comments are read at every run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import (Backlog, Cursors, SearchOptions, SourceOptions, SubRequests, Syntax, as_int, combined,
                             malformed_item, parse_time, secret)
from connectors.quota import Cost, Quota, plural, span_words
from connectors.rss import feed_headers, parse_feed
from monitor.errors import ParseError
from monitor.models import FetchResult, Mention, Query, Refreshed, SourceState, to_iso

WATCH_URL = "https://www.youtube.com/watch?v={}"


# search.list (read 2026-12-02): q takes - (NOT) and | (OR) but no parentheses, so a rule is
# searched for its anchor, and anchors of one term ("Acme Cloud", globex) are ORed into one search
# of up to 500 characters (no length is documented): each search costs a call of the 100-a-day
# bucket. commentThreads' searchTerms takes plain words: one rule's anchor each.
SYNTAX = Syntax()
SEARCH_SYNTAX = Syntax(flat_or=True, or_word="|", max_query=500)

class YouTubeOptions(SearchOptions):
    """YouTube options: feeds to follow, and an optional Data API key for search."""

    type: Literal["youtube"] = "youtube"
    base_url: str | None = Field(default="https://www.youtube.com", description="Where the feeds are served.")
    api_url: str = Field(default="https://www.googleapis.com/youtube/v3", description="Data API root.")
    channel_ids: list[str] = Field(default=[], description="Channel ids (UC…) whose uploads to follow.")
    playlist_ids: list[str] = Field(default=[], description="Playlist ids (PL…) to follow.")
    api_key_env: str | None = Field(default=None, description="Environment variable with a Data API key: enables search.")
    comments: bool = Field(default=True, description="With a key, read the comments on the followed channels' videos "
                                                      "(commentThreads.list, 1 quota unit per 100).")
    search_calls_per_day: int = Field(default=100, ge=1, le=10_000,
                                      description="search.list calls a day the schedule is fitted to (YouTube's bucket).")

    def access(self) -> str | None:
        if self.api_key_env:
            return (f"search.list is limited to {self.search_calls_per_day} calls a day: searches are spaced to fit "
                    f"(one term: every {24 * 60 / self.search_calls_per_day:g} minutes at most); feeds and comments "
                    "are read at every run")
        return "feeds only (the latest 15 uploads of each channel): set api_key_env for keyword search and comments"


def _searches(options: YouTubeOptions, queries: Sequence[Query]) -> list[str]:
    return list(options.query) if options.query else combined(queries, SEARCH_SYNTAX)


def _feed_mentions(response: httpx.Response, *, source: str, now: datetime, skipped: list[str] | None = None,
                   warnings: list[str] | None = None) -> list[Mention]:
    out = []
    for mention in parse_feed(response.content, source=source, url=str(response.url), headers=feed_headers(response),
                              now=now, skipped=skipped, warnings=warnings):
        raw = mention.raw or {}
        video = raw.get("yt_videoid") or mention.id.rsplit(":", 1)[-1]
        stats = raw.get("media_statistics") or {}
        rating = raw.get("media_starrating") or {}
        out.append(replace(
            mention, source_type="youtube", id=video, url=WATCH_URL.format(video),
            text=raw.get("media_description") or mention.text or mention.title,
            author=raw.get("yt_channelid") or mention.author, language=None,
            metrics={"views": as_int(stats.get("views")), "likes": as_int(rating.get("count")), "channel_id": raw.get("yt_channelid")},
        ))
    return out


def parse_comment_thread(item: dict, *, source: str) -> Mention:
    """One ``youtube#commentThread``: its top-level comment, linked in its video."""
    snippet = item.get("snippet") or {}
    top = snippet.get("topLevelComment") or {}
    comment = top.get("snippet") or {}
    ident, video = top.get("id") or item.get("id"), comment.get("videoId") or snippet.get("videoId")
    if not ident or not comment.get("publishedAt"):
        raise ParseError("a comment thread without id or publishedAt", source=source)
    author = (comment.get("authorChannelId") or {}).get("value") or comment.get("authorDisplayName") or ""
    return Mention(
        source=source, source_type="youtube", id=str(ident),
        url=f"{WATCH_URL.format(video)}&lc={ident}" if video else None,
        text=comment.get("textOriginal") or comment.get("textDisplay") or "",
        published_at=parse_time(comment["publishedAt"], source=source),
        author=author, author_name=comment.get("authorDisplayName") or author,
        metrics={"kind": "comment", "likes": as_int(comment.get("likeCount")), "replies": as_int(snippet.get("totalReplyCount")),
                 "video_id": video},
        raw=item,
    )


@dataclass(frozen=True)
class _Cursors(Cursors):
    """Where search and comments have read to, and when the search bucket allows the next search."""

    search: str | None = None
    comments: str | None = None
    next_search: str | None = None


class YouTubeConnector:
    """Follows channel and playlist feeds; searches the Data API when a key is configured."""

    type: ClassVar[str] = "youtube"
    Options: ClassVar[type[SourceOptions]] = YouTubeOptions

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(self, options: YouTubeOptions, *, queries: Sequence[Query], state: SourceState, now: datetime) -> FetchResult:
        """Every configured feed, then (with a key) the followed channels' comments since their
        cursor and, when the search bucket allows, a search per term since the cursor."""
        key = secret(options, "api_key_env")
        seen: dict[str, Mention] = {}
        skipped: list[str] = []
        warnings: list[str] = []
        feeds = [("channel_id", c) for c in options.channel_ids] + [("playlist_id", p) for p in options.playlist_ids]
        subs = SubRequests(options.name)
        for param, value in feeds:
            with subs.each(f"{param.split('_')[0]} {value}"):
                response = http.get(self.client, f"{options.base_url}/feeds/videos.xml", source=options.name,
                                    params={param: value})
                for mention in _feed_mentions(response, source=options.name, now=now,
                                              skipped=skipped, warnings=warnings):
                    seen.setdefault(mention.id, mention)
        cursors = _Cursors.load(state.cursor)
        if key:
            cursors = self._comments(options, key, queries, cursors, seen, skipped, subs, now)
            if cursors.next_search is None or parse_time(cursors.next_search) <= now:
                # Windows of publication time: first those earlier rounds left unread (Backlog).
                backlog = Backlog.load(cursors.search)
                plain = SourceState(cursor=backlog.cursor)
                since, reached = options.since(plain, now), options.reached(plain, now)
                windows: list[tuple[int, int | None]] = [*backlog.gaps, (int(since.timestamp()), None)]
                newest, owed, calls = reached, [], [0]
                for term in _searches(options, queries):
                    with subs.each(f"search {term!r}"):
                        for low, high in windows:
                            found, oldest = self._search(options, key, term, low, high, skipped, calls)
                            for mention in found:
                                seen.setdefault(mention.id, mention)
                                newest = max(newest, min(mention.published_at, now))
                            if oldest is not None:  # max_pages came first
                                owed.append(Backlog.unread(low, high, oldest, int(reached.timestamp())))
                searched = Backlog(to_iso(newest), Backlog.merged(owed))
                if searched.behind():
                    warnings.append(f"search {searched.behind()}")
                wait = timedelta(days=1) * calls[0] / options.search_calls_per_day
                cursors = replace(cursors, search=searched.dump(), next_search=to_iso(now + wait))
            self._add_statistics(options, key, seen)
        result = FetchResult(list(seen.values()), SourceState(cursor=cursors.dump()), skipped=tuple(skipped),
                             warnings=tuple(warnings))
        return subs.result(result, state)

    @staticmethod
    def cost(options: YouTubeOptions, queries: Sequence[Query]) -> Cost:
        """A round of searches (the search bucket), spaced to fit ``search_calls_per_day``."""
        if not options.api_key_env:
            return Cost(0, f"{plural(len(options.channel_ids) + len(options.playlist_ids), 'feed')}, no search "
                           "(no api_key_env)", None)
        calls = len(_searches(options, queries))
        quota = Quota(options.search_calls_per_day, timedelta(days=1), "search_calls_per_day, the Data API's search "
                      "bucket", unit="search.list calls")
        every = timedelta(days=1) * calls / options.search_calls_per_day
        return Cost(calls, f"a round of {plural(calls, 'search')} for {plural(len(queries), 'rule')}, once every "
                           f"{span_words(every)} at most", quota, runs_cap=options.search_calls_per_day / calls,
                    warning=(f"a round of searches takes {span_words(every)} of the search bucket: a storm is heard that "
                             "late; follow channels or raise search_calls_per_day") if every > timedelta(hours=6) else None)

    def _comments(self, options: YouTubeOptions, key: str, queries: Sequence[Query], cursors: "_Cursors",
                  seen: dict[str, Mention], skipped: list[str], subs: SubRequests, now: datetime) -> "_Cursors":
        """The comment threads on each followed channel's videos since the comments' cursor,
        newest first, ``max_pages`` of 100 at most; a bound source's are all the brand's,
        otherwise only those with a search term (``searchTerms``) are asked for."""
        if not options.comments or not options.channel_ids:
            return cursors
        plain = SourceState(cursor=cursors.comments)
        since, newest = options.since(plain, now), options.reached(plain, now)
        terms = [None] if options.brands else [t.replace('"', "") for t in options.searches(queries, SYNTAX)]
        for channel in options.channel_ids:
            for term in terms:
                with subs.each(f"comments on {channel}" + (f" with {term!r}" if term else "")):
                    page_token = None
                    for _ in range(options.max_pages):
                        params = {"part": "snippet", "allThreadsRelatedToChannelId": channel, "order": "time",
                                  "maxResults": 100, "textFormat": "plainText", "key": key,
                                  **({"searchTerms": term} if term else {}), **({"pageToken": page_token} if page_token else {})}
                        data, _ = http.get_json(self.client, f"{options.api_url}/commentThreads", source=options.name,
                                                params=params)
                        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                            raise ParseError("YouTube commentThreads returned no 'items' list", source=options.name)
                        comments = []
                        for item in data["items"]:
                            with malformed_item(item, source=options.name, skipped=skipped):
                                comments.append(parse_comment_thread(item, source=options.name))
                        fresh = [c for c in comments if c.published_at >= since]
                        for c in fresh:
                            seen.setdefault(c.id, c)
                            newest = max(newest, min(c.published_at, now))
                        page_token = data.get("nextPageToken")
                        if not page_token or len(fresh) < len(comments):
                            break
        return replace(cursors, comments=to_iso(newest))

    def _search(self, options: YouTubeOptions, key: str, term: str, low: int, high: int | None, skipped: list[str],
                calls: list[int]) -> tuple[list[Mention], int | None]:
        """One term's videos published in [low, high), newest first, ``max_pages`` of 50 at most;
        and None when read to the end, else the oldest time read (what is older is owed)."""
        def iso(stamp: int) -> str:
            return to_iso(datetime.fromtimestamp(stamp, timezone.utc))

        out, page_token = [], None
        for _ in range(options.max_pages):
            calls[0] += 1
            params = {"part": "snippet", "q": term, "type": "video", "order": "date", "maxResults": 50,
                      "publishedAfter": iso(low), **({"publishedBefore": iso(high)} if high is not None else {}), "key": key}
            if page_token:
                params["pageToken"] = page_token
            data, _ = http.get_json(self.client, f"{options.api_url}/search", source=options.name, params=params)
            if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                raise ParseError("YouTube search returned no 'items' list", source=options.name)
            for item in data["items"]:
                with malformed_item(item, source=options.name, skipped=skipped):
                    video = (item.get("id") or {}).get("videoId")
                    snippet = item.get("snippet") or {}
                    if not video or not snippet.get("publishedAt"):
                        continue
                    out.append(Mention(
                        source=options.name, source_type="youtube", id=video, url=WATCH_URL.format(video),
                        title=snippet.get("title", ""), text=snippet.get("description") or snippet.get("title", ""),
                        published_at=parse_time(snippet["publishedAt"], source=options.name),
                        author=snippet.get("channelId", ""), author_name=snippet.get("channelTitle", ""),
                        language=snippet.get("defaultAudioLanguage"), metrics={"channel_id": snippet.get("channelId")}, raw=item,
                    ))
            page_token = data.get("nextPageToken")
            if not page_token:
                return out, None
        return out, min((int(m.published_at.timestamp()) for m in out), default=None)

    def _video_stats(self, options: YouTubeOptions, key: str, ids: Sequence[str]) -> dict[str, dict]:
        """Views, likes and comments per video, 50 ids a call (the API's maximum; 1 quota unit each)."""
        stats: dict[str, dict] = {}
        for start in range(0, len(ids), 50):
            data, _ = http.get_json(self.client, f"{options.api_url}/videos", source=options.name,
                                    params={"part": "statistics", "id": ",".join(ids[start:start + 50]), "key": key})
            for item in (data or {}).get("items", []) if isinstance(data, dict) else []:
                counts = item.get("statistics") or {}
                stats[item.get("id")] = {"views": as_int(counts.get("viewCount")), "likes": as_int(counts.get("likeCount")),
                                         "comments": as_int(counts.get("commentCount"))}
        return stats

    def _subscribers(self, options: YouTubeOptions, key: str, channels: Sequence[str]) -> dict[str, int | None]:
        """Subscribers per channel, 50 a call."""
        subscribers: dict[str, int | None] = {}
        for start in range(0, len(channels), 50):
            data, _ = http.get_json(self.client, f"{options.api_url}/channels", source=options.name,
                                    params={"part": "statistics", "id": ",".join(channels[start:start + 50]), "key": key})
            for item in (data or {}).get("items", []) if isinstance(data, dict) else []:
                subscribers[item.get("id")] = as_int((item.get("statistics") or {}).get("subscriberCount"))
        return subscribers

    def _add_statistics(self, options: YouTubeOptions, key: str, seen: dict[str, Mention]) -> None:
        """Views and likes per video, subscribers per channel."""
        for ident, counts in self._video_stats(options, key, list(seen)).items():
            if ident in seen:
                seen[ident] = replace(seen[ident], metrics={**seen[ident].metrics, **counts})
        channels = sorted({m.metrics.get("channel_id") for m in seen.values() if m.metrics.get("channel_id")})
        subscribers = self._subscribers(options, key, channels)
        for ident, m in list(seen.items()):
            count = subscribers.get(m.metrics.get("channel_id"))
            if count is not None:
                seen[ident] = replace(m, audience=count)

    def refresh(self, options: YouTubeOptions, mentions: Sequence[Mention], *, now: datetime) -> dict[str, Refreshed]:
        """Views, likes and comments now: with a key ``videos.list`` (1 unit per 50 videos, from the
        10,000-unit bucket, not search's); without one, the configured feeds again (their latest 15
        videos carry views and likes)."""
        key = secret(options, "api_key_env")
        wanted = {m.id for m in mentions}
        if key:
            return {ident: Refreshed(counts) for ident, counts in self._video_stats(options, key, sorted(wanted)).items()
                    if ident in wanted}
        out: dict[str, Refreshed] = {}
        feeds = [("channel_id", c) for c in options.channel_ids] + [("playlist_id", p) for p in options.playlist_ids]
        for param, value in feeds:
            response = http.get(self.client, f"{options.base_url}/feeds/videos.xml", source=options.name, params={param: value})
            for m in _feed_mentions(response, source=options.name, now=now):
                if m.id in wanted:
                    out[m.id] = Refreshed({"views": m.metrics.get("views"), "likes": m.metrics.get("likes")})
        return out
