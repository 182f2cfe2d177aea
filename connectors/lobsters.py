"""Lobsters (lobste.rs): the newest stories and the stories of chosen tags, matched locally.

Lobsters has no search API; every page has a JSON twin (``/newest.json``, ``/newest/page/2.json``,
``/t/{tag}.json``), 25 stories each, newest first. A story carries ``short_id``, ``created_at``
(ISO 8601 with the server's offset), ``title``, ``url``, ``score``, ``comment_count``,
``description_plain``, ``comments_url`` and ``submitter_user`` (a name; older instances send an
object with ``username``), and ``tags``: as the clients that read these pages parse them (their
code read 2026-12-02; the site documents no API beyond the ``.json`` twins). Its stories are few
(tens an hour), so a run pages back to the cursor (``max_pages`` bounds it) and asks each tag once.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import OVERLAP, OVERLAP_WHY, SourceOptions, SubRequests, malformed_item, parse_time
from monitor.errors import FetchError, ParseError
from monitor.models import Duration, FetchResult, Mention, Query, Refreshed, SourceState, to_iso

SITE = "https://lobste.rs"
REFRESH_PER_RUN = 25  # stories re-read a run, one request each


class LobstersOptions(SourceOptions):
    """Lobsters options."""

    type: Literal["lobsters"] = "lobsters"
    base_url: str | None = Field(default=SITE, description="The Lobsters instance (lobste.rs, or a mirror).")
    tags: list[str] = Field(default=[], description="Tags whose stories to read as well (e.g. [devops, databases]).")
    max_pages: int = Field(default=3, ge=1, le=20, description="Pages of /newest (25 stories) per run, back to the cursor.")
    first_run: Duration = Field(default="1d", description="How far back the first run looks.")
    overlap: Duration = Field(default=OVERLAP, description=OVERLAP_WHY)


def parse_stories(data: object, *, source: str, base_url: str, skipped: list[str] | None = None) -> list[Mention]:
    """The stories of one JSON page."""
    if not isinstance(data, list):
        raise ParseError("Lobsters returned JSON that is not a list of stories", source=source)
    out = []
    for story in data:
        with malformed_item(story, source=source, skipped=skipped):
            if not isinstance(story, dict) or not story.get("short_id") or not story.get("created_at"):
                continue
            submitter = story.get("submitter_user")
            author = submitter.get("username", "") if isinstance(submitter, dict) else str(submitter or "")
            title = story.get("title") or ""
            discussion = story.get("comments_url") or story.get("short_id_url") or f"{base_url}/s/{story['short_id']}"
            out.append(Mention(
                source=source, source_type="lobsters", id=str(story["short_id"]), url=discussion,
                title=title, text=story.get("description_plain") or title,
                published_at=parse_time(story["created_at"], source=source),
                author=author, author_name=author,
                metrics={"score": story.get("score"), "comments": story.get("comment_count"),
                         "tags": story.get("tags") or [], "link": story.get("url") or None},
                raw=story,
            ))
    return out


class LobstersConnector:
    """Reads Lobsters' newest stories (and chosen tags) back to the cursor."""

    type: ClassVar[str] = "lobsters"
    Options: ClassVar[type[SourceOptions]] = LobstersOptions

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(self, options: LobstersOptions, *, queries: Sequence[Query], state: SourceState, now: datetime) -> FetchResult:
        """Stories since the cursor (less the overlap): /newest page by page, then each tag's page."""
        reached = parse_time(state.cursor, source=options.name) if state.cursor else now - options.first_run
        since = reached - options.overlap if state.cursor else reached
        newest = reached
        seen: dict[str, Mention] = {}
        skipped: list[str] = []
        subs = SubRequests(options.name)
        pages = ["/newest.json"] + [f"/newest/page/{n}.json" for n in range(2, options.max_pages + 1)]
        listings = [("newest", pages)] + [(f"tag {tag}", [f"/t/{tag}.json"]) for tag in options.tags]
        for label, paths in listings:
            for path in paths:
                reached_cursor = True  # a failed page ends its listing too
                with subs.each(path.removesuffix(".json").lstrip("/") if label == "newest" else label):
                    data, _ = http.get_json(self.client, f"{options.base_url}{path}", source=options.name)
                    stories = parse_stories(data, source=options.name, base_url=options.base_url or SITE, skipped=skipped)
                    fresh = [m for m in stories if m.published_at >= since]
                    for m in fresh:
                        seen.setdefault(m.id, m)
                        newest = max(newest, min(m.published_at, now))
                    reached_cursor = len(fresh) < len(stories) or not stories  # the rest is older
                if reached_cursor:
                    break
        return subs.result(FetchResult(list(seen.values()), SourceState(cursor=to_iso(newest)), skipped=tuple(skipped)), state)

    def refresh(self, options: LobstersOptions, mentions: Sequence[Mention], *, now: datetime) -> dict[str, Refreshed]:
        """Score and comments now: ``/s/{short_id}.json`` per story, ``REFRESH_PER_RUN`` at most;
        a story gone (404) is left out."""
        out: dict[str, Refreshed] = {}
        for m in mentions[:REFRESH_PER_RUN]:
            try:
                data, _ = http.get_json(self.client, f"{options.base_url}/s/{m.id}.json", source=options.name)
            except FetchError as exc:
                if exc.status in (404, 410):
                    continue
                raise
            for story in parse_stories([data] if isinstance(data, dict) else data, source=options.name,
                                       base_url=options.base_url or SITE):
                out[story.id] = Refreshed({"score": story.metrics.get("score"), "comments": story.metrics.get("comments")})
        return out
