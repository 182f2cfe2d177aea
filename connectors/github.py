"""GitHub issues (and pull requests): ``/search/issues``, sorted by creation, back to the cursor;
new comments that name the brand on any issue; repository stars and authors' followers for reach.

A customer often says it in a comment on an old issue, whose title and body never name the
brand: ``in:comments`` with ``updated:>=`` finds those issues (search does not say which comment
matched), and each one's comments since the comments' cursor are read
(``/repos/{repo}/issues/{n}/comments?since=``), up to ``COMMENTED_ISSUES`` issues a run.
Stars (``/repos/{repo}``) and followers (``/users/{login}``) cost a core-API request each (60 an
hour without a token, 5,000 with), so at most ``lookups`` a run; without a token both are held
to ``WITHOUT_TOKEN`` a run.

GitHub's REST and GraphQL docs (read 2026-12-02): search 10 requests a minute without a token,
30 with; the core API 60 an hour without, 5,000 with; a secondary limit answers 403 (with or
without Retry-After); Discussions have no REST search, only GraphQL ``search(type: DISCUSSION)``.
Since September 2025 a query must say ``is:issue`` (or ``is:pull-request``) or GitHub answers
422. Search never returns more than 1,000 results for one query, so paging stops at the
1,000th, and a run whose query matched more says so in the log-visible error count: poll more
often or narrow ``qualifiers``. Unauthenticated search allows 10 requests a minute, 30 with a
token; the host limiter spreads requests over the window GitHub announces.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import Backlog, Cursors, SearchOptions, SourceOptions, SubRequests, Syntax, as_int, malformed_item, parse_time, secret
from connectors.quota import Cost, Quota, plural
from monitor.errors import FetchError, MissingCredential, ParseError
from monitor.models import FetchResult, Mention, Query, SourceState, to_iso

log = logging.getLogger("connectors.github")
RESULT_CAP = 1000


# Issue search ANDs words and keeps "quoted phrases"; OR belongs to the newer advanced search,
# so none is sent (the anchor alone: one request per rule).
SYNTAX = Syntax()
# Search: 10 requests a minute without a token, 30 with (GitHub's REST docs, read 2026-12-02).
SEARCH_QUOTA = Quota(10, timedelta(minutes=1), "search API without a token, GitHub's REST docs")
TOKEN_SEARCH_QUOTA = Quota(30, timedelta(minutes=1), "search API with a token, GitHub's REST docs")

class GitHubOptions(SearchOptions):
    """GitHub issue search options."""

    type: Literal["github"] = "github"
    base_url: str | None = Field(default="https://api.github.com", description="API root (GitHub Enterprise: https://HOST/api/v3).")
    qualifiers: str = Field(default="", description="Extra search qualifiers, e.g. 'org:acme' or 'repo:acme/app'.")
    token_env: str | None = Field(default=None, description="Environment variable with a token (raises the rate limit).")
    per_page: int = Field(default=100, ge=1, le=100, description="Results per page (at most 100).")
    max_pages: int = Field(default=10, ge=1, le=10, description="Pages per term per run (10 × 100 = GitHub's 1,000 cap).")
    kinds: list[Literal["issue", "pull-request", "discussion"]] = Field(
        default=["issue"], description="What to search: issues, pull requests, Discussions (GraphQL: needs token_env).")
    comments: bool = Field(default=True, description="Also read new comments naming the brand on any issue (in:comments).")
    lookups: int = Field(default=20, ge=0, le=1000, description="Repositories (stars) and authors (followers) looked up per run, for reach.")


COMMENTED_ISSUES = 20  # issues whose new comments are read per run (a request each)
# Without a token the core API allows 60 requests an hour: at most 5 comment reads and 5 look-ups
# a run keeps four runs an hour (every 15m) at 40.
WITHOUT_TOKEN = 5


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
                metrics={"kind": "pull_request" if item.get("pull_request") else "issue",
                         "comments": as_int(item.get("comments")), "reactions": as_int(reactions.get("total_count")),
                         "plus_one": as_int(reactions.get("+1")), "minus_one": as_int(reactions.get("-1")),
                         "state": item.get("state"), "repository": (item.get("repository_url") or "").rsplit("/repos/", 1)[-1]},
                raw=item,
            ))
    return out


DISCUSSIONS = """query($q: String!, $n: Int!, $after: String) {
  search(query: $q, type: DISCUSSION, first: $n, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { ... on Discussion { id number title body url createdAt upvoteCount author { login }
      repository { nameWithOwner } comments { totalCount } reactions { totalCount } } }
  }
}"""


def parse_discussion(node: dict, *, source: str) -> Mention:
    """One Discussion node of the GraphQL search."""
    title = node.get("title") or ""
    login = (node.get("author") or {}).get("login") or ""
    return Mention(
        source=source, source_type="github", id=f"d{node['id']}", url=node["url"], title=title,
        text=node.get("body") or title, published_at=parse_time(node.get("createdAt"), source=source),
        author=login, author_name=login,
        metrics={"kind": "discussion", "comments": as_int((node.get("comments") or {}).get("totalCount")),
                 "reactions": as_int((node.get("reactions") or {}).get("totalCount")), "upvotes": as_int(node.get("upvoteCount")),
                 "repository": (node.get("repository") or {}).get("nameWithOwner")},
        raw=node,
    )


def parse_comment(comment: dict, issue: Mention, *, source: str) -> Mention:
    """One issue comment (``/issues/{n}/comments``), under its issue's title."""
    if not comment.get("id") or not comment.get("html_url"):
        raise ParseError("a comment without id or html_url", source=source)
    user = comment.get("user") or {}
    reactions = comment.get("reactions") or {}
    return Mention(
        source=source, source_type="github", id=f"c{comment['id']}", url=comment["html_url"], title=issue.title,
        text=comment.get("body") or "", published_at=parse_time(comment.get("created_at"), source=source),
        author=user.get("login", ""), author_name=user.get("login", ""),
        metrics={"kind": "comment", "reactions": as_int(reactions.get("total_count")), "plus_one": as_int(reactions.get("+1")),
                 "minus_one": as_int(reactions.get("-1")), "repository": issue.metrics.get("repository"), "issue": issue.id},
        raw=comment,
    )


class GitHubConnector:
    """Searches GitHub issues for the brands' terms."""

    type: ClassVar[str] = "github"
    Options: ClassVar[type[SourceOptions]] = GitHubOptions

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(self, options: GitHubOptions, *, queries: Sequence[Query], state: SourceState, now: datetime) -> FetchResult:
        """Issues created since the cursor, every term (first the windows earlier runs left
        unread, ``Backlog``: their page limit, or GitHub's 1,000 results a query, oldest first);
        then new comments naming the brand, and stars and followers for reach."""
        token = secret(options, "token_env")
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        cursors = _Cursors.load(state.cursor)
        backlog = Backlog.load(cursors.issues)
        plain = SourceState(cursor=backlog.cursor)
        since, reached = options.since(plain, now), options.reached(plain, now)
        windows: list[tuple[int, int | None]] = [*backlog.gaps, (int(since.timestamp()), None)]
        seen: dict[str, Mention] = {}
        skipped: list[str] = []
        owed: list[tuple[int, int]] = []
        subs = SubRequests(options.name)
        terms = options.searches(queries, SYNTAX)
        for term in terms:
            for kind in options.kinds:
                with subs.each(f"search {term!r}" + ("" if kind == "issue" else f" ({kind})")):
                    if kind == "discussion":
                        self._discussions(options, headers, token, term, since, seen, skipped)
                        continue
                    for low, high in windows:
                        oldest = self._window(options, headers, term, kind, low, high, seen, skipped)
                        if oldest is not None:  # the page limit came first
                            owed.append(Backlog.unread(low, high, oldest, int(reached.timestamp())))
        newest = max([reached, *(m.published_at for m in seen.values())])
        issues = Backlog(to_iso(newest), Backlog.merged(owed))
        comments_cursor = cursors.comments
        if options.comments:
            comments_cursor = self._comments(options, headers, terms, cursors.comments, seen, skipped, subs, now,
                                             COMMENTED_ISSUES if token else WITHOUT_TOKEN)
        self._add_reach(options, headers, seen, options.lookups if token else min(options.lookups, WITHOUT_TOKEN))
        result = issues.result(list(seen.values()), skipped)
        result = replace(result, state=SourceState(cursor=_Cursors(issues.dump(), comments_cursor).dump()))
        return subs.result(result, state)

    @staticmethod
    def cost(options: GitHubOptions, queries: Sequence[Query]) -> Cost:
        """A search per term and kind a run, and one per term for new comments (``in:comments``)."""
        terms = options.searches(queries, SYNTAX)
        calls = len(terms) * (len(options.kinds) + (1 if options.comments else 0))
        how = f"{plural(calls, 'search')}: {plural(len(terms), 'term')} × {len(options.kinds) + options.comments} (no OR)"
        return Cost(calls, how, TOKEN_SEARCH_QUOTA if options.token_env else SEARCH_QUOTA)

    def _discussions(self, options: GitHubOptions, headers: dict, token: str | None, term: str, since: datetime,
                     seen: dict[str, Mention], skipped: list[str]) -> None:
        """Discussions created since ``since`` (GraphQL ``search(type: DISCUSSION)``, newest first,
        ``max_pages`` of ``per_page``): REST search has no Discussions, and GraphQL needs a token."""
        if not token:
            raise MissingCredential("Discussions are searched through GitHub's GraphQL API, which needs a token: set "
                                    "token_env", source=options.name, variable=options.token_env or "token_env")
        q = " ".join(p for p in (term, options.qualifiers, f"created:>={to_iso(since)}", "sort:created-desc") if p)
        after = None
        for _ in range(options.max_pages):
            response = http.request(self.client, "POST", f"{options.base_url}/graphql", source=options.name, headers=headers,
                                    json_body={"query": DISCUSSIONS, "variables": {"q": q, "n": options.per_page, "after": after}})
            data = http.parse_json(response, source=options.name)
            found = ((data or {}).get("data") or {}).get("search") if isinstance(data, dict) else None
            if not isinstance(found, dict) or not isinstance(found.get("nodes"), list):
                errors = (data or {}).get("errors") if isinstance(data, dict) else None
                raise ParseError(f"GitHub GraphQL returned no search results{': ' + str(errors)[:200] if errors else ''}",
                                 source=options.name)
            for node in found["nodes"]:
                with malformed_item(node, source=options.name, skipped=skipped):
                    if isinstance(node, dict) and node.get("id") and node.get("url"):
                        mention = parse_discussion(node, source=options.name)
                        seen.setdefault(mention.id, mention)
            page = found.get("pageInfo") or {}
            if not page.get("hasNextPage") or not page.get("endCursor"):
                return
            after = page["endCursor"]

    def _comments(self, options: GitHubOptions, headers: dict, terms: Sequence[str], cursor: str | None,
                  seen: dict[str, Mention], skipped: list[str], subs: SubRequests, now: datetime, issues: int) -> str:
        """Comments made since the comments' cursor on issues whose comments match a term (one
        search per term, then each issue's comments, ``issues`` at most, least recently active
        first); the new cursor. When more issues were found than a run reads, the cursor stays
        and the issues read (with their activity then) are kept in it: the next runs read the
        rest, and the cursor moves only once every issue found was read."""
        cursor, done = _owed_comments(cursor)
        plain = SourceState(cursor=cursor)
        since, newest = options.since(plain, now), options.reached(plain, now)
        commented: dict[str, Mention] = {}
        for term in terms:
            with subs.each(f"comments {term!r}"):
                q = " ".join(p for p in (term, "in:comments", "is:issue", options.qualifiers, f"updated:>={to_iso(since)}") if p)
                data, _ = http.get_json(self.client, f"{options.base_url}/search/issues", source=options.name, headers=headers,
                                        params={"q": q, "sort": "updated", "order": "desc", "per_page": options.per_page})
                for issue in parse_issues(data, source=options.name, skipped=skipped):
                    commented.setdefault(issue.id, issue)
        active = {i.id: str((i.raw or {}).get("updated_at") or "") for i in commented.values()}
        pending = sorted((i for i in commented.values() if done.get(i.id, "") < active[i.id] or not active[i.id]),
                         key=lambda i: active[i.id])
        for issue in pending[:issues]:
            done[issue.id] = active[issue.id]
            number = as_int((issue.raw or {}).get("number"))
            if number is None or not issue.metrics.get("repository"):
                continue
            # Built on base_url, never the item's own absolute URL (an Enterprise host, a test server).
            url = f"{options.base_url}/repos/{issue.metrics['repository']}/issues/{number}/comments"
            with subs.each(f"comments on {issue.url}"):
                data, _ = http.get_json(self.client, url, source=options.name, headers=headers,
                                        params={"since": to_iso(since), "per_page": 100})
                if not isinstance(data, list):
                    raise ParseError("GitHub returned comments that are not a list", source=options.name)
                for item in data:
                    with malformed_item(item, source=options.name, skipped=skipped):
                        comment = parse_comment(item, issue, source=options.name)
                        if comment.published_at >= since:
                            seen.setdefault(comment.id, comment)
                            newest = max(newest, min(comment.published_at, now))
        if len(pending) > issues:  # the rest next run, from the same cursor
            log.info("source %s: %d commented issues left for the next runs", options.name, len(pending) - issues)
            return json.dumps({"since": cursor, "read": done})
        return to_iso(newest)

    def _add_reach(self, options: GitHubOptions, headers: dict, seen: dict[str, Mention], lookups: int) -> None:
        """Stars per repository and followers per author, ``lookups`` requests at most (most
        mentioned first); a failed look-up only narrows reach."""
        repos = Counter(m.metrics.get("repository") for m in seen.values() if m.metrics.get("repository"))
        authors = Counter(m.author for m in seen.values() if m.author)
        wanted = [("repos", r) for r, _ in repos.most_common()] + [("users", a) for a, _ in authors.most_common()]
        found: dict[tuple[str, str], int | None] = {}
        for what, name in wanted[:lookups]:
            try:
                data, _ = http.get_json(self.client, f"{options.base_url}/{what}/{name}", source=options.name, headers=headers)
            except (FetchError, ParseError) as exc:
                log.info("source %s: %s/%s not looked up: %s", options.name, what, name, exc)
                continue
            if isinstance(data, dict):
                found[(what, name)] = as_int(data.get("stargazers_count" if what == "repos" else "followers"))
        for ident, m in list(seen.items()):
            stars, followers = found.get(("repos", m.metrics.get("repository"))), found.get(("users", m.author))
            if stars is not None or followers is not None:
                metrics = {**m.metrics, **({"repository_stars": stars} if stars is not None else {})}
                seen[ident] = replace(m, metrics=metrics, audience=followers if followers is not None else m.audience)

    def _window(self, options: GitHubOptions, headers: dict, term: str, kind: str, low: int, high: int | None,
                seen: dict[str, Mention], skipped: list[str]) -> int | None:
        """One term's issues created in [low, high], newest first; None when read to the end, else
        the oldest creation time read (``max_pages`` or GitHub's 1,000-result cap came first)."""
        def iso(stamp: int) -> str:
            return to_iso(datetime.fromtimestamp(stamp, timezone.utc))

        created = f"created:>={iso(low)}" if high is None else f"created:{iso(low)}..{iso(high)}"
        q = " ".join(part for part in (term, f"is:{kind}", options.qualifiers, created) if part)
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


def _owed_comments(raw: str | None) -> tuple[str | None, dict[str, str]]:
    """The comments' cursor, and the issues already read from it (id → its activity then) while
    a run's budget left some unread."""
    if raw and raw.startswith("{"):
        try:
            data = json.loads(raw)
            return data.get("since"), {str(k): str(v) for k, v in (data.get("read") or {}).items()}
        except (ValueError, AttributeError):
            return None, {}
    return raw, {}


@dataclass(frozen=True)
class _Cursors(Cursors):
    """The issues' backlog (``Backlog``) and the comments' cursor."""

    issues: str | None = None
    comments: str | None = None
