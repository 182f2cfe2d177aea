"""Stack Exchange: ``/search/advanced`` (questions) and ``/search/excerpts`` (answers) on one
site, newest first, back to the cursor.

``search/excerpts`` (the API's docs, read 2026-12-02) returns questions and answers matching
``q`` with ``item_type``; only its answers are kept (the questions come with views and owner
from ``search/advanced``). Comments have no search method: ``/comments`` lists a site's every
comment, too many to read on Stack Overflow, so they are not collected.

The API returns a ``backoff`` field when a method is hammered: every source on the host waits
that many seconds (the API bans clients that ignore it). ``quota_remaining`` reaching 0 means
the day's quota is gone. Without a key an IP gets 300 requests a day; a key raises it to 10,000.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import Backlog, SearchOptions, SourceOptions, SubRequests, Syntax, as_int, malformed_item, parse_time, secret
from connectors.quota import Cost, Quota, plural
from monitor.errors import ParseError, RateLimited
from monitor.models import FetchResult, Mention, Query, Refreshed, SourceState


# /search/advanced's q is free text whose words are ANDed; no OR is sent.
SYNTAX = Syntax()
# Without a key an IP gets 300 requests a day, with one 10,000 (the API's throttle page).
QUOTA = Quota(300, timedelta(days=1), "per IP without a key, api.stackexchange.com/docs/throttle")
KEY_QUOTA = Quota(10_000, timedelta(days=1), "per app key, api.stackexchange.com/docs/throttle")

class StackExchangeOptions(SearchOptions):
    """Stack Exchange options."""

    type: Literal["stackexchange"] = "stackexchange"
    base_url: str | None = Field(default="https://api.stackexchange.com/2.3", description="API root.")
    site: str = Field(default="stackoverflow", description="The site, e.g. stackoverflow, superuser, serverfault.")
    key_env: str | None = Field(default=None, description="Environment variable with an app key (raises the daily quota).")
    answers: bool = Field(default=True, description="Also search answers (/search/excerpts: one more request per term "
                                                     "and run from the daily quota).")


# A site's own domain for an answer's link (search/excerpts gives none): the few with their own
# name, else <site>.stackexchange.com.
DOMAINS = {"stackoverflow": "stackoverflow.com", "superuser": "superuser.com", "serverfault": "serverfault.com",
           "askubuntu": "askubuntu.com", "stackapps": "stackapps.com", "mathoverflow.net": "mathoverflow.net"}


def parse_answers(data: object, *, source: str, site: str, skipped: list[str] | None = None) -> list[Mention]:
    """The answers in one ``search/excerpts`` wrapper (its questions are left to search/advanced)."""
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ParseError("Stack Exchange returned JSON without an 'items' list", source=source)
    domain = DOMAINS.get(site, site if "." in site else f"{site}.stackexchange.com")
    out = []
    for item in data["items"]:
        if not isinstance(item, dict) or item.get("item_type") != "answer" or not item.get("answer_id"):
            continue
        with malformed_item(item, source=source, skipped=skipped):
            out.append(Mention(
                source=source, source_type="stackexchange", id=f"a{int(item['answer_id'])}",
                url=f"https://{domain}/a/{int(item['answer_id'])}", title=item.get("title", ""),
                text=item.get("body") or item.get("excerpt") or "",
                published_at=parse_time(item.get("creation_date"), source=source),
                metrics={"kind": "answer", "score": as_int(item.get("score")), "question_score": as_int(item.get("question_score")),
                         "accepted": bool(item.get("is_accepted")), "question_id": as_int(item.get("question_id")),
                         "tags": item.get("tags") or []},
                raw=item,
            ))
    return out


def parse_items(data: object, *, source: str, skipped: list[str] | None = None) -> list[Mention]:
    """Questions in one ``search/advanced`` (or ``/questions``) wrapper."""
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ParseError("Stack Exchange returned JSON without an 'items' list", source=source)
    out = []
    for item in data["items"]:
        if not isinstance(item, dict) or not item.get("question_id"):
            continue
        with malformed_item(item, source=source, skipped=skipped):
            owner = item.get("owner") or {}
            title = item.get("title", "")
            out.append(Mention(
                source=source, source_type="stackexchange", id=str(item["question_id"]), url=item.get("link"),
                title=title, text=item.get("body") or title, published_at=parse_time(item.get("creation_date"), source=source),
                author=str(owner.get("user_id") or owner.get("display_name") or ""), author_name=owner.get("display_name", ""),
                metrics={"score": as_int(item.get("score")), "views": as_int(item.get("view_count")),
                         "answers": as_int(item.get("answer_count")), "owner_reputation": as_int(owner.get("reputation")),
                         "tags": item.get("tags") or []},
                raw=item,
            ))
    return out


class StackExchangeConnector:
    """Searches one Stack Exchange site for the brands' terms."""

    type: ClassVar[str] = "stackexchange"
    Options: ClassVar[type[SourceOptions]] = StackExchangeOptions

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(self, options: StackExchangeOptions, *, queries: Sequence[Query], state: SourceState, now: datetime) -> FetchResult:
        """Questions created since the cursor (epoch seconds), every term; first the windows
        earlier runs left unread at their page limit (``Backlog``), oldest first."""
        key = secret(options, "key_env")
        backlog = Backlog.load(state.cursor)
        cursor = int(backlog.cursor) if backlog.cursor and backlog.cursor.isdigit() else None
        reached = cursor if cursor is not None else int((now - options.first_run).timestamp())
        since = reached - int(options.overlap.total_seconds()) if cursor is not None else reached
        windows: list[tuple[int, int | None]] = [*backlog.gaps, (since, None)]
        seen: dict[str, Mention] = {}
        skipped: list[str] = []
        owed: list[tuple[int, int]] = []
        subs = SubRequests(options.name)
        for term in options.searches(queries, SYNTAX):
            with subs.each(f"search {term!r}"):
                for method in ("advanced", "excerpts") if options.answers else ("advanced",):
                    for low, high in windows:
                        oldest = self._window(options, key, method, term, low, high, seen, skipped)
                        if oldest is not None:  # the page limit came first
                            owed.append(Backlog.unread(low, high, oldest, reached))
        newest = max([reached, *(int(m.published_at.timestamp()) for m in seen.values())])
        result = Backlog(str(newest), Backlog.merged(owed)).result(list(seen.values()), skipped)
        return subs.result(result, state)

    def _window(self, options: StackExchangeOptions, key: str | None, method: str, term: str, low: int,
                high: int | None, seen: dict[str, Mention], skipped: list[str]) -> int | None:
        """One term's questions (``advanced``) or answers (``excerpts``) created in [low, high],
        newest first, ``max_pages`` at most; None when read to the end, else the oldest creation
        time read."""
        url = f"{options.base_url}/search/{method}"
        oldest = None
        for page in range(1, options.max_pages + 1):
            params = {"q": term, "site": options.site, "sort": "creation", "order": "desc", "fromdate": low,
                      **({"todate": high} if high is not None else {}),
                      "pagesize": 100, "page": page, "filter": "withbody", **({"key": key} if key else {})}
            data, _ = http.get_json(self.client, url, source=options.name, params=params)
            if isinstance(data, dict) and data.get("backoff"):
                http.hold_host(self.client, url, float(data["backoff"]))
            found = (parse_items(data, source=options.name, skipped=skipped) if method == "advanced"
                     else parse_answers(data, source=options.name, site=options.site, skipped=skipped))
            for mention in found:
                seen.setdefault(mention.id, mention)
            # The page's oldest item (a question among excerpts too): where the window's reading stopped.
            stamps = [as_int(i.get("creation_date")) for i in data.get("items") or [] if isinstance(i, dict)]
            stamps = [t for t in stamps if t is not None]
            if stamps:
                oldest = min(stamps) if oldest is None else min(oldest, *stamps)
            if data.get("quota_remaining") == 0:
                raise RateLimited("Stack Exchange daily quota used up — add key_env or poll less often",
                                  source=options.name, retry_after_seconds=3600)
            if not data.get("has_more"):
                return None
        return oldest

    @staticmethod
    def cost(options: StackExchangeOptions, queries: Sequence[Query]) -> Cost:
        """A search per term a run (no OR), and one more for answers."""
        terms = options.searches(queries, SYNTAX)
        calls = len(terms) * (2 if options.answers else 1)
        return Cost(calls, f"{plural(calls, 'search')}: {plural(len(terms), 'term')}" + (" × 2 (answers)" if options.answers
                    else "") + " (no OR)", KEY_QUOTA if options.key_env else QUOTA)

    def refresh(self, options: StackExchangeOptions, mentions: Sequence[Mention], *, now: datetime) -> dict[str, Refreshed]:
        """Score, views and answers now: ``/questions/{ids}``, 100 ids a request (1 of the daily
        quota each); a deleted question is left out."""
        key = secret(options, "key_env")
        ids = [m.id for m in mentions if m.id.isdigit()]
        out: dict[str, Refreshed] = {}
        for start in range(0, len(ids), 100):
            url = f"{options.base_url}/questions/{';'.join(ids[start:start + 100])}"
            data, _ = http.get_json(self.client, url, source=options.name,
                                    params={"site": options.site, "pagesize": 100, **({"key": key} if key else {})})
            if isinstance(data, dict) and data.get("backoff"):
                http.hold_host(self.client, url, float(data["backoff"]))
            for m in parse_items(data, source=options.name):
                out[m.id] = Refreshed({k: m.metrics.get(k) for k in ("score", "views", "answers", "owner_reputation")})
        return out
