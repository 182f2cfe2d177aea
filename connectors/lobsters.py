"""Lobsters (lobste.rs): the newest stories and the stories of chosen tags, matched locally.

Lobsters has no search API; every page has a JSON twin (``/newest.json``, ``/newest/page/2.json``,
``/t/{tag}.json``), 25 stories each, newest first. A story carries ``short_id``, ``created_at``
(ISO 8601 with the server's offset), ``title``, ``url``, ``score``, ``comment_count``,
``description_plain``, ``comments_url`` and ``submitter_user`` (a name; older instances send an
object with ``username``), and ``tags``: as the clients that read these pages parse them (their
code read 2026-12-02; the site documents no API beyond the ``.json`` twins). Its stories are few
(tens an hour), so a run pages back to the cursor (``max_pages`` bounds it) and asks each tag once,
every request a second after the last (the site asks bots for that).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import OVERLAP, OVERLAP_WHY, Resume, SourceOptions, SubRequests, malformed_item, parse_time, read_back
from monitor.errors import FetchError, ParseError
from monitor.models import Duration, FetchResult, Mention, Query, Refreshed, SourceState, clean_text, to_iso

SITE = "https://lobste.rs"
REFRESH_PER_RUN = 10  # stories re-read a run, one request each (a small site: kept polite)
SPACING = 1.0  # seconds between two requests: what the site's operators ask of bots
PAGE_SIZE = 25  # stories on a /newest page (Lobsters' StoriesPaginator); fewer: the last page


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
        """Stories since the cursor (less the overlap): /newest page by page, then each tag's page.
        When ``max_pages`` ran out first, /newest is owed from the next page (new stories only push
        unread ones further down) and read on the next runs."""
        http.pace_host(self.client, options.base_url, SPACING)
        backlog = Resume.load(state.cursor)
        plain = SourceState(cursor=backlog.cursor)
        reached = parse_time(plain.cursor, source=options.name) if plain.cursor else now - options.first_run
        since = reached - options.overlap if plain.cursor else reached
        newest = [reached]
        seen: dict[str, Mention] = {}
        skipped: list[str] = []
        warnings: list[str] = []
        still: dict[str, tuple[tuple[str, int], ...]] = {}
        subs = SubRequests(options.name)
        with subs.each("newest"):
            still["newest"] = backlog.read("newest", lambda page, stop: read_back(
                lambda token: self._page(options, token, skipped), page, stop, options.max_pages, seen, newest, now,
                failed=lambda token, exc: warnings.append(
                    f"newest/page/{token}: {clean_text(str(exc), width=160)} (read next run)")), since, reached)
        for tag in options.tags:
            with subs.each(f"tag {tag}"):
                data, _ = http.get_json(self.client, f"{options.base_url}/t/{tag}.json", source=options.name)
                for m in parse_stories(data, source=options.name, base_url=options.base_url or SITE, skipped=skipped):
                    if m.published_at >= since:
                        seen.setdefault(m.id, m)
                        newest.append(min(m.published_at, now))
        result = FetchResult(list(seen.values()), state, skipped=tuple(skipped), warnings=tuple(warnings))
        return subs.result(Resume(to_iso(max(newest)), still).result(result), state)

    def _page(self, options: LobstersOptions, token: str | None, skipped: list[str]) -> tuple[list[Mention], str | None]:
        """One /newest page (``token``: its number, None the first) and the next page's number
        (None after a short page: the last)."""
        page = int(token or 1)
        path = "/newest.json" if page == 1 else f"/newest/page/{page}.json"
        data, _ = http.get_json(self.client, f"{options.base_url}{path}", source=options.name)
        stories = parse_stories(data, source=options.name, base_url=options.base_url or SITE, skipped=skipped)
        return stories, str(page + 1) if len(stories) >= PAGE_SIZE else None

    def refresh(self, options: LobstersOptions, mentions: Sequence[Mention], *, now: datetime) -> dict[str, Refreshed]:
        """Score and comments now: ``/s/{short_id}.json`` per story, ``REFRESH_PER_RUN`` at most;
        a story gone (404) is left out."""
        http.pace_host(self.client, options.base_url, SPACING)
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
