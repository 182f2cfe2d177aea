"""App Store customer reviews: the public RSS-JSON feed per app and storefront, newest first.

``/{cc}/rss/customerreviews/page={n}/id={app}/sortby=mostrecent/json`` serves 50 reviews a page,
10 pages at most. A feed with no reviews comes back without ``entry`` (or with only the app's
own metadata entry): that is an empty page, not an error. A single review arrives as an object
rather than a list. Review ids grow with time, so the cursor keeps the highest id per app and
storefront, and paging stops on reaching it.

Apple documents this feed only through its RSS generator (read 2026-12-02): no key, no stated
rate limit, 10 pages of 50; users report that the feed at times returns empty for an app with
reviews, hence the warning (not "zero reviews") when an app that had reviews comes back empty.
In 2026 the feed answers 200 with no entries (or 400) for most apps: a first read that finds
no review says so, rather than passing for a quiet app.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import SourceOptions, SubRequests, as_int, malformed_item, parse_time
from monitor.errors import ParseError
from monitor.models import FetchResult, Mention, Query, SourceState


class AppStoreOptions(SourceOptions):
    """App Store options: which apps, in which storefronts."""

    type: Literal["appstore"] = "appstore"
    base_url: str | None = Field(default="https://itunes.apple.com", description="Feed root.")
    app_ids: list[str] = Field(min_length=1, description="Numeric App Store ids (the digits after 'id' in the app's URL).")
    countries: list[str] = Field(default=["us"], description="Storefront country codes, e.g. us, gb, jp.")
    max_pages: int = Field(default=10, ge=1, le=10, description="Pages of 50 per app and storefront (the feed stops at 10).")


def _label(value: object) -> str:
    return value.get("label", "") if isinstance(value, dict) else ""


def parse_reviews(data: object, *, source: str, app_id: str, country: str, now: datetime, skipped: list[str] | None = None) -> list[Mention]:
    """Reviews in one page of the customer-reviews JSON feed."""
    if not isinstance(data, dict) or not isinstance(data.get("feed"), dict):
        raise ParseError("App Store returned JSON without a 'feed' object", source=source)
    entries = data["feed"].get("entry") or []
    if isinstance(entries, dict):
        entries = [entries]
    out = []
    for entry in entries:
        with malformed_item(entry, source=source, skipped=skipped):
            if not isinstance(entry, dict) or "im:rating" not in entry:
                continue  # the app's own metadata entry that older feeds put first
            ident = _label(entry.get("id"))
            updated = _label(entry.get("updated"))
            link = ((entry.get("link") or {}).get("attributes") or {}).get("href") if isinstance(entry.get("link"), dict) else None
            author = entry.get("author") or {}
            out.append(Mention(
                source=source, source_type="appstore", id=ident,
                url=link or f"https://apps.apple.com/{country}/app/id{app_id}?see-all=reviews",
                title=_label(entry.get("title")), text=_label(entry.get("content")) or _label(entry.get("title")),
                published_at=parse_time(updated, source=source) if updated else now,
                author=_label(author.get("uri")) or _label(author.get("name")), author_name=_label(author.get("name")),
                metrics={"rating": as_int(_label(entry.get("im:rating"))), "version": _label(entry.get("im:version")),
                         "helpful_votes": as_int(_label(entry.get("im:voteSum"))), "votes": as_int(_label(entry.get("im:voteCount"))),
                         "app_id": app_id, "country": country},
                raw=entry,
            ))
    return out


EMPTY_FEED_HINT = ("check the app id at https://apps.apple.com/{country}/app/id{app}; the feed cannot be relied on for "
                   "reviews any more, and App Store Connect's customerReviews API (the app's own team key) can")


class AppStoreConnector:
    """Reads the newest customer reviews of each app in each storefront (matched locally)."""

    type: ClassVar[str] = "appstore"
    Options: ClassVar[type[SourceOptions]] = AppStoreOptions
    revises: ClassVar[bool] = True  # an edited review comes again under its id: the stored row is updated

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(self, options: AppStoreOptions, *, queries: Sequence[Query], state: SourceState, now: datetime) -> FetchResult:
        """Pages of reviews back to the cursor; one page on a first run."""
        try:
            cursors: dict[str, int] = json.loads(state.cursor) if state.cursor else {}
        except ValueError:
            cursors = {}
        seen: dict[str, Mention] = {}
        skipped: list[str] = []
        warnings: list[str] = []
        subs = SubRequests(options.name)
        for app_id in options.app_ids:
            for country in options.countries:
                key = f"{app_id}:{country}"
                last = cursors.get(key)
                with subs.each(f"app {app_id} in {country}"):
                    for page in range(1, (options.max_pages if last else 1) + 1):
                        url = f"{options.base_url}/{country}/rss/customerreviews/page={page}/id={app_id}/sortby=mostrecent/json"
                        data, _ = http.get_json(self.client, url, source=options.name)
                        reviews = parse_reviews(data, source=options.name, app_id=app_id, country=country, now=now,
                                                skipped=skipped)
                        numeric = [int(r.id) for r in reviews if r.id.isdigit()]
                        for review in reviews:
                            seen.setdefault(review.id, review)
                        if numeric:
                            cursors[key] = max(cursors.get(key, 0), max(numeric))
                        if not reviews and page == 1 and last:
                            warnings.append(f"app {app_id} in {country}: the feed came back empty though it had reviews "
                                            "before (Apple's feed does this at times): nothing read, asked again next run")
                        elif not reviews and page == 1 and key not in cursors:
                            warnings.append(f"app {app_id} in {country}: Apple's public review feed gave no review, as "
                                            f"it does for most apps in 2026 — "
                                            + EMPTY_FEED_HINT.format(country=country, app=app_id))
                        if not reviews or (last and min(numeric, default=0) <= last):
                            break
        result = FetchResult(list(seen.values()), SourceState(cursor=json.dumps(cursors, sort_keys=True)), skipped=tuple(skipped),
                             warnings=tuple(warnings))
        return subs.result(result, state)
