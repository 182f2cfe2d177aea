"""X (Twitter): recent search, opt-in and paid, under a monthly budget.

``GET /2/tweets/search/recent`` (docs.x.com, "Search Posts: recent search", read 2026-12-06):
the last 7 days of public posts for a query (``OR``, parentheses, quoted phrases, ``-is:retweet``;
512 characters on self-serve access), ``since_id``, ``max_results`` 10–100, ``next_token``;
``tweet.fields=created_at,public_metrics,lang,author_id`` and ``expansions=author_id`` with
``user.fields=public_metrics`` give each post its author's followers. It answers ``data[]``,
``includes.users[]`` and ``meta`` (``newest_id``, ``result_count``, ``next_token``). App-only
auth: a bearer token from the environment.

In 2026 X bills reading by the post (pay-per-use, about $0.005 a post), so this source keeps what
it has read this calendar month (UTC) in its cursor and never reads past ``monthly_budget_usd``:
each request asks for no more posts than the budget has left; once it is spent the source reads
nothing until the month turns and says so (``monitor status``). Crossing ``alert_at`` (80 %) and
the whole budget each alert once (``monitor.health.budget_alert``). Reach: the author's followers
(the audience model), or the views X counted (``impression_count``) when it gives them.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import SourceOptions, Syntax, as_int, malformed_item, parse_time, searches, secret
from connectors.quota import Cost, Quota, plural
from monitor.errors import ConnectorError, ParseError
from monitor.models import FetchResult, Mention, Query, SourceState, Spend

NOT_RETWEETS = " -is:retweet"
# Recent search's query language: OR, parentheses and quoted phrases; 512 characters on
# self-serve access (less what every query carries: the retweet filter).
SYNTAX = Syntax(boolean=True, max_query=512 - len(NOT_RETWEETS))
QUOTA = Quota(60, timedelta(minutes=15), "per app, X API recent search on self-serve access (app-only)")
MIN_RESULTS = 10  # max_results may not be below 10


class XOptions(SourceOptions):
    """X options: the bearer token's variable and the month's budget."""

    type: Literal["x"] = "x"
    base_url: str | None = Field(default="https://api.x.com/2", description="API root.")
    bearer_token_env: str = Field(default="X_BEARER_TOKEN", description="Environment variable with the app's bearer token.")
    monthly_budget_usd: float = Field(gt=0, description="What this source may spend reading posts in a calendar month (UTC);"
                                                        " it reads nothing past it.")
    price_per_post_usd: float = Field(default=0.005, gt=0, description="What X bills a post read (pay-per-use, 2026).")
    alert_at: float = Field(default=0.8, gt=0, lt=1, description="Share of the budget whose crossing alerts (once a month).")
    max_pages: int = Field(default=3, ge=1, le=20, description="Pages of up to 100 posts a search a run.")
    retweets: bool = Field(default=False, description="Read retweets too (each is billed as a post).")


def parse_posts(data: object, *, source: str, skipped: list[str] | None = None) -> list[Mention]:
    """One page of recent search: its posts, each with its author from ``includes.users``."""
    if not isinstance(data, dict) or not isinstance(data.get("meta", {}), dict) or not isinstance(data.get("data", []), list):
        raise ParseError("X returned JSON that is not a page of search results", source=source)
    if "data" not in data and "meta" not in data:
        raise ParseError("X returned JSON without 'data' or 'meta'", source=source)
    users = {u.get("id"): u for u in ((data.get("includes") or {}).get("users") or []) if isinstance(u, dict)}
    out = []
    for post in data.get("data") or []:
        with malformed_item(post, source=source, skipped=skipped):
            if not isinstance(post, dict) or not post.get("id") or not post.get("created_at"):
                raise ParseError("a post without its id or created_at")
            user = users.get(post.get("author_id")) or {}
            handle = str(user.get("username") or post.get("author_id") or "")
            counts = post.get("public_metrics") if isinstance(post.get("public_metrics"), dict) else {}
            followers = (user.get("public_metrics") or {}).get("followers_count") if isinstance(user, dict) else None
            out.append(Mention(
                source=source, source_type="x", id=str(post["id"]),
                url=f"https://x.com/{handle or 'i'}/status/{post['id']}", text=str(post.get("text") or ""),
                published_at=parse_time(post["created_at"], source=source), author=handle,
                author_name=str(user.get("name") or handle), language=post.get("lang") if post.get("lang") != "und" else None,
                audience=as_int(followers),
                metrics={"retweets": as_int(counts.get("retweet_count")), "replies": as_int(counts.get("reply_count")),
                         "likes": as_int(counts.get("like_count")), "quotes": as_int(counts.get("quote_count")),
                         "views": as_int(counts.get("impression_count")) or None},
                raw=post,
            ))
    return out


class _Ledger:
    """The cursor: the newest post id read, and the posts read this month (what X bills)."""

    def __init__(self, cursor: str | None, now: datetime) -> None:
        try:
            kept = json.loads(cursor) if cursor else {}
        except ValueError:
            kept = {}
        kept = kept if isinstance(kept, dict) else {}
        self.period = now.strftime("%Y-%m")
        self.since_id = str(kept.get("since_id") or "") or None
        self.posts = int(kept.get("posts") or 0) if kept.get("month") == self.period else 0  # a new month starts at 0
        self.at_start = self.posts

    def spent(self, price: float, posts: int | None = None) -> float:
        return round((self.posts if posts is None else posts) * price, 6)

    def left(self, budget: float, price: float, posts: int | None = None) -> int:
        """Posts the budget still pays for."""
        return max(0, math.floor((budget - self.spent(price, posts)) / price + 1e-9))

    def cursor(self) -> str:
        return json.dumps({"since_id": self.since_id, "month": self.period, "posts": self.posts})


def _month_after(now: datetime) -> str:
    return f"{now.year + now.month // 12}-{now.month % 12 + 1:02d}-01"


class XConnector:
    """Searches X's last week of posts for the brands' terms, within the month's budget."""

    type: ClassVar[str] = "x"
    Options: ClassVar[type[SourceOptions]] = XOptions
    paid: ClassVar[bool] = True  # billed by the post: never read outside its own runs (no look back for a new brand)

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    @staticmethod
    def cost(options: XOptions, queries: Sequence[Query]) -> Cost:
        """A request per search a run (the money is the posts read: see monthly_budget_usd)."""
        terms = len(searches(queries, SYNTAX))
        return Cost(terms, f"{plural(terms, 'search')}; billed by the post, at most ${options.monthly_budget_usd:,.2f} a month",
                    QUOTA)

    def fetch(self, options: XOptions, *, queries: Sequence[Query], state: SourceState, now: datetime) -> FetchResult:
        """Each search's posts newer than the cursor, each request asking for no more than the
        budget has left. A failing search is named and the others kept; what was read is always
        counted against the budget, even when a later page fails."""
        headers = {"Authorization": f"Bearer {secret(options, 'bearer_token_env')}"}
        ledger = _Ledger(state.cursor, now)
        price, budget = options.price_per_post_usd, options.monthly_budget_usd
        seen: dict[str, Mention] = {}
        skipped: list[str] = []
        failed: list[tuple[str, ConnectorError]] = []
        newest = int(ledger.since_id) if ledger.since_id and ledger.since_id.isdigit() else 0
        terms = searches(queries, SYNTAX)
        for term in terms:
            query = term + ("" if options.retweets else NOT_RETWEETS)
            token = None
            for _ in range(options.max_pages):
                left = ledger.left(budget, price)
                if left < MIN_RESULTS:
                    break
                params = {"query": query, "max_results": min(100, left), "tweet.fields": "created_at,public_metrics,lang,author_id",
                          "expansions": "author_id", "user.fields": "public_metrics,username,name",
                          **({"since_id": ledger.since_id} if ledger.since_id else {}),
                          **({"next_token": token} if token else {})}
                malformed = len(skipped)
                try:
                    data, _ = http.get_json(self.client, f"{options.base_url}/tweets/search/recent", source=options.name,
                                            params=params, headers=headers)
                    page = parse_posts(data, source=options.name, skipped=skipped)
                except ConnectorError as exc:
                    failed.append((term, exc))
                    break
                ledger.posts += len(page) + len(skipped) - malformed  # a malformed post is billed too
                for mention in page:
                    seen.setdefault(mention.id, mention)
                    if mention.id.isdigit():
                        newest = max(newest, int(mention.id))
                token = (data.get("meta") or {}).get("next_token")
                if not token:
                    break
            if ledger.left(budget, price) < MIN_RESULTS:
                break  # the budget is spent: no search after this one
        return self._result(options, ledger, seen, skipped, failed, newest, len(terms), now)

    def _result(self, options: XOptions, ledger: _Ledger, seen: dict[str, Mention], skipped: list[str],
                failed: list[tuple[str, ConnectorError]], newest: int, searched: int, now: datetime) -> FetchResult:
        price, budget = options.price_per_post_usd, options.monthly_budget_usd
        spent, before = ledger.spent(price), ledger.spent(price, ledger.at_start)
        spent_out = ledger.left(budget, price) < MIN_RESULTS
        warnings: list[str] = []
        if failed and not seen and ledger.posts == ledger.at_start:
            raise failed[0][1]  # nothing read, nothing spent: the run failed
        if failed:  # the failed searches read again next run, from the old since_id
            warnings.append(f"{len(failed)} of {searched} searches failed, the rest kept ("
                            + "; ".join(f"search {term!r}: {exc}" for term, exc in failed[:3]) + ")")
        else:
            ledger.since_id = str(newest) if newest else ledger.since_id
        resets = _month_after(now)
        if spent_out:
            warnings.append(f"this month's budget is spent: ${spent:,.2f} of ${budget:,.2f} ({ledger.posts:,} posts read"
                            f" in {ledger.period}); nothing more is read until {resets} — raise monthly_budget_usd to read more")
        elif spent >= options.alert_at * budget:
            warnings.append(f"{spent / budget:.0%} of this month's budget spent (${spent:,.2f} of ${budget:,.2f},"
                            f" {ledger.posts:,} posts read in {ledger.period})")
        crossed = (*((options.alert_at,) if before < options.alert_at * budget <= spent + 1e-9 else ()),
                   *((1.0,) if spent_out and ledger.left(budget, price, ledger.at_start) >= MIN_RESULTS else ()))
        spend = Spend(spent, budget, ledger.period, resets, crossed)
        return FetchResult(list(seen.values()), SourceState(cursor=ledger.cursor()), skipped=tuple(skipped),
                           warnings=tuple(warnings), spend=spend)
