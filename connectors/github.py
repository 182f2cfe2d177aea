"""GitHub issues: ``/search/issues``, sorted by creation, back to the cursor.

Since September 2025 a query must say ``is:issue`` (or ``is:pull-request``) or GitHub answers
422. Search never returns more than 1,000 results for one query, so paging stops at the
1,000th, and a run whose query matched more says so in the log-visible error count: poll more
often or narrow ``qualifiers``. Unauthenticated search allows 10 requests a minute, 30 with a
token; the host limiter spreads requests over the window GitHub announces.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import Backlog, SearchOptions, SourceOptions, SubRequests, Syntax, as_int, malformed_item, parse_time, secret
from monitor.errors import ParseError
from monitor.models import FetchResult, Mention, Query, SourceState, to_iso

log = logging.getLogger("connectors.github")
RESULT_CAP = 1000


# Issue search ANDs words and keeps "quoted phrases"; OR belongs to the newer advanced search,
# so none is sent (the anchor alone: one request per rule).
SYNTAX = Syntax()

class GitHubOptions(SearchOptions):
    """GitHub issue search options."""

    type: Literal["github"] = "github"
    base_url: str | None = Field(default="https://api.github.com", description="API root (GitHub Enterprise: https://HOST/api/v3).")
    qualifiers: str = Field(default="", description="Extra search qualifiers, e.g. 'org:acme' or 'repo:acme/app'.")
    token_env: str | None = Field(default=None, description="Environment variable with a token (raises the rate limit).")
    per_page: int = Field(default=100, ge=1, le=100, description="Results per page (at most 100).")
    max_pages: int = Field(default=10, ge=1, le=10, description="Pages per term per run (10 × 100 = GitHub's 1,000 cap).")


def parse_issues(data: object, *, source: str, skipped: list[str] | None = None) -> list[Mention]:
    """Items of one ``search/issues`` page."""
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ParseError("GitHub returned JSON without an 'items' list", source=source)
    out = []
    for item in data["items"]:
        if not isinstance(item, dict) or not item.get("id") or not item.get("html_url"):
            continue
        with malformed_item(item, source=source, skipped=skipped):
            user = item.get("user") or {}
            reactions = item.get("reactions") or {}
            title = item.get("title") or ""
            out.append(Mention(
                source=source, source_type="github", id=str(item["id"]), url=item["html_url"], title=title,
                text=item.get("body") or title, published_at=parse_time(item.get("created_at"), source=source),
                author=user.get("login", ""), author_name=user.get("login", ""),
                metrics={"comments": as_int(item.get("comments")), "reactions": as_int(reactions.get("total_count")),
                         "plus_one": as_int(reactions.get("+1")), "minus_one": as_int(reactions.get("-1")),
                         "state": item.get("state"), "repository": (item.get("repository_url") or "").rsplit("/repos/", 1)[-1]},
                raw=item,
            ))
    return out


class GitHubConnector:
    """Searches GitHub issues for the brands' terms."""

    type: ClassVar[str] = "github"
    Options: ClassVar[type[SourceOptions]] = GitHubOptions

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(self, options: GitHubOptions, *, queries: Sequence[Query], state: SourceState, now: datetime) -> FetchResult:
        """Issues created since the cursor, every term; first the windows earlier runs left unread
        (``Backlog``: their page limit, or GitHub's 1,000 results a query), oldest first."""
        token = secret(options, "token_env")
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        backlog = Backlog.load(state.cursor)
        plain = SourceState(cursor=backlog.cursor)
        since, reached = options.since(plain, now), options.reached(plain, now)
        windows: list[tuple[int, int | None]] = [*backlog.gaps, (int(since.timestamp()), None)]
        seen: dict[str, Mention] = {}
        skipped: list[str] = []
        owed: list[tuple[int, int]] = []
        subs = SubRequests(options.name)
        for term in options.searches(queries, SYNTAX):
            with subs.each(f"search {term!r}"):
                for low, high in windows:
                    oldest = self._window(options, headers, term, low, high, seen, skipped)
                    if oldest is not None:  # the page limit came first
                        owed.append(Backlog.unread(low, high, oldest, int(reached.timestamp())))
        newest = max([reached, *(m.published_at for m in seen.values())])
        result = Backlog(to_iso(newest), Backlog.merged(owed)).result(list(seen.values()), skipped)
        return subs.result(result, state)

    def _window(self, options: GitHubOptions, headers: dict, term: str, low: int, high: int | None,
                seen: dict[str, Mention], skipped: list[str]) -> int | None:
        """One term's issues created in [low, high], newest first; None when read to the end, else
        the oldest creation time read (``max_pages`` or GitHub's 1,000-result cap came first)."""
        def iso(stamp: int) -> str:
            return to_iso(datetime.fromtimestamp(stamp, timezone.utc))

        created = f"created:>={iso(low)}" if high is None else f"created:{iso(low)}..{iso(high)}"
        q = " ".join(part for part in (term, "is:issue", options.qualifiers, created) if part)
        oldest = None
        for page in range(1, options.max_pages + 1):
            params = {"q": q, "sort": "created", "order": "desc", "per_page": options.per_page, "page": page}
            data, _ = http.get_json(self.client, f"{options.base_url}/search/issues", source=options.name,
                                    params=params, headers=headers)
            items = parse_issues(data, source=options.name, skipped=skipped)
            for mention in items:
                seen.setdefault(mention.id, mention)
                stamp = int(mention.published_at.timestamp())
                oldest = stamp if oldest is None else min(oldest, stamp)
            total = as_int(data.get("total_count")) or 0
            if not items or page * options.per_page >= total:
                return None
            if page * options.per_page >= RESULT_CAP:
                log.info("source %s: %r matched %d issues, past GitHub's %d a query: the rest is read next run",
                         options.name, term, total, RESULT_CAP)
                return oldest
        return oldest
