"""What every connector is: options it accepts in config.yaml, and the fetch it performs.

A connector is stateless. It turns ``(options, the brands' queries, remembered state)`` into a
``FetchResult`` and raises a ``ConnectorError`` subclass for anything the caller should record.
Cursors, ETags and error counts live in the store; the HTTP client is passed in.
"""

from __future__ import annotations

import json
import logging
import os
import re
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from dataclasses import dataclass, field, fields, replace
from typing import Callable, ClassVar, Iterator, Mapping, Protocol, Sequence

import httpx
from pydantic import Field, field_validator, model_validator

from monitor.errors import ConnectorError, MissingCredential, ParseError
from monitor.models import (
    Duration, FetchResult, Query, SearchTerm, Section, Size, SourceState, at_least, check_env_name, check_http_url, clean_text,
    to_iso,
)

log = logging.getLogger("connectors")

class SourceOptions(Section):
    """Options every source accepts; each connector adds its own."""

    name: str = Field(min_length=1, description="Unique name of this source; mentions are filed under it.")
    type: str = Field(description="The connector that reads this source.")
    every: Duration = Field(default="15m", description="How often to poll, e.g. 10m or 1h.")
    enabled: bool = Field(default=True, description="Set false to keep a source in the file without polling it.")
    base_url: str | None = Field(
        default=None,
        description="Override the API's address: a mirror, a self-hosted instance, or a test server.",
    )
    brands: list[str] = Field(
        default=[],
        description="Brands this source belongs to (an app's reviews, the brand's own channel, subreddit or forum): "
                    "its posts are theirs without naming them; keyword rules still add other brands.",
    )
    official: bool = Field(
        default=False,
        description="The brand's own voice (its status page, blog or announcements): posts are stored, searched and "
                    "counted, never called assassins or advocates (an incident notice is not a hurt customer).",
    )
    press: bool = Field(
        default=False,
        description="A newsroom's articles (a news site's feed; Google News always): coverage, not a customer. Posts are "
                    "stored, searched and counted, never called assassins or advocates; one the call reads as hostile "
                    "raises a press alert with its reach (alerts.press).",
    )
    refresh: bool = Field(
        default=True,
        description="Re-read the engagement of this source's recent mentions on the refresh: schedule, so their reach "
                    "grows as they do (where the source can be asked; false: reach stays as first seen, no extra requests).",
    )
    max_body: Size = Field(
        default="10MB", ge=1024, le=1 << 30,
        description="Largest response body read, decompressed (KB/MB/GB are binary); a larger one is an error.",
    )

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str | None) -> str | None:
        return check_http_url(value)

    _every = field_validator("every")(classmethod(lambda cls, v: at_least("10s", "a source is polled at most every 10 seconds")(v)))

    @field_validator("*", mode="after")
    @classmethod
    def _env_names(cls, value, info):
        if info.field_name and info.field_name.endswith("_env") and isinstance(value, str):
            return check_env_name(value)
        return value

    @model_validator(mode="after")
    def _one_voice(self):
        if self.official and self.press:
            raise ValueError("official and press are both true — a source is the brand's own voice (official) or a "
                             "newsroom's (press), not both: keep one")
        return self

    def credential_envs(self) -> list[str]:
        """Environment variables this source is configured to read its credentials from."""
        return [v for k, v in self if k.endswith("_env") and v]

    def access(self) -> str | None:
        """What the source can read as configured, when that falls short of what credentials
        would give (``status`` shows it); None when there is nothing to say."""
        return None

    def missing_credentials(self) -> list[str]:
        """Configured credential variables that are not set."""
        return [name for name in self.credential_envs() if not os.environ.get(name)]


def secret(options: SourceOptions, field: str) -> str | None:
    """The value of the environment variable named by ``options.<field>``.

    Raises MissingCredential, naming every configured variable that is unset, before any request:
    the source is skipped and recorded like any other failure.
    """
    missing = options.missing_credentials()
    if missing:
        raise MissingCredential(
            f"skipped: environment variable {', '.join(missing)} not set", source=options.name, variable=missing[0]
        )
    name = getattr(options, field)
    return os.environ.get(name) if name else None


def parse_time(value: object, *, source: str = "") -> datetime:
    """An aware UTC datetime from ISO 8601 (with or without zone or 'Z') or epoch seconds."""
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), tz=timezone.utc)
        if isinstance(value, str) and value:
            text = value.strip().replace("Z", "+00:00")
            if text.isdigit():
                return datetime.fromtimestamp(int(text), tz=timezone.utc)
            parsed = datetime.fromisoformat(text)
            # Lemmy before 0.19.4 omits the zone; its times are UTC.
            return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError, OSError) as exc:
        raise ParseError(f"unreadable time {value!r}", source=source) from exc
    raise ParseError(f"missing or unreadable time {value!r}", source=source)


def as_int(value: object) -> int | None:
    """An integer from a count the API may send as a number or a string ("12"), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(float(str(value)))
    except (TypeError, ValueError):
        return None


# What a malformed item raises while it is read (a string where a number belongs, a time past
# year 9999, a list where a mapping belongs): it is skipped, never the whole source.
MALFORMED = (ParseError, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError)
_ID_KEYS = ("objectID", "id", "uri", "question_id", "name", "link")


def item_id(item: object) -> str:
    """The item's own id, for a log line (untrusted: cleaned and clipped)."""
    if isinstance(item, dict):
        for key in _ID_KEYS:
            value = item.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
                return clean_text(str(value), width=80)
    return "(no id)"


@contextmanager
def malformed_item(item: object, *, source: str, skipped: list[str] | None) -> Iterator[None]:
    """Read one item inside this block: if it is malformed, log it with the source and its id,
    add it to ``skipped`` and go on with the next item."""
    try:
        yield
    except MALFORMED as exc:
        why = clean_text(str(exc) if isinstance(exc, ParseError) else f"{type(exc).__name__}: {exc}", width=200)
        ident = item_id(item)
        log.warning("source %s: skipped malformed item %s: %s", source, ident, why)
        if skipped is not None:
            skipped.append(f"{ident}: {why}")


def text_field(item: dict, key: str) -> str | None:
    """``item[key]`` as text: a string, or None when it is missing or null; anything else (a
    list, a mapping, a number) makes the item malformed."""
    value = item.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ParseError(f"{key} is {type(value).__name__}, not text")


def int_field(item: dict, key: str) -> int | None:
    """``item[key]`` as a whole number (None when missing or null); a string, a float, a boolean,
    a mapping or a number past 10^15 makes the item malformed."""
    value = item.get(key)
    if value is None:
        return None
    if type(value) is int and abs(value) < 10**15:
        return value
    raise ParseError(f"{key} is {_shown(value)}, not a count")


def id_field(item: dict, key: str) -> str:
    """``item[key]`` as an id: a non-empty string or a whole number, as text."""
    value = item.get(key)
    if type(value) is int and abs(value) < 10**18:
        return str(value)
    if isinstance(value, str) and value:
        return value
    raise ParseError(f"{key} is {_shown(value)}, not an id")


def _shown(value: object) -> str:
    return f"{type(value).__name__} {clean_text(repr(value), width=40)}" if not isinstance(value, (dict, list)) else \
        type(value).__name__


class Cursors:
    """Several cursors a connector keeps in its source's one cursor string (a frozen dataclass of
    optional strings, the first field the oldest): the first alone, as it was stored before there
    were others, while the rest are unset; else a JSON object of them all. A stored JSON object
    without the first field's key (a ``Backlog`` kept in it) is that first cursor."""

    @classmethod
    def load(cls, raw: str | None):
        first = fields(cls)[0].name
        if not raw or not raw.startswith("{"):
            return cls(raw)
        try:
            data = json.loads(raw)
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        if first not in data:
            return cls(raw)
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})

    def dump(self) -> str | None:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        first, *rest = values
        return json.dumps(values) if any(values[k] is not None for k in rest) else values[first]


@dataclass(frozen=True)
class Backlog:
    """A source's cursor and the windows earlier runs could not read to the end (``max_pages``
    ran out first): the next runs read them, oldest first, so a burst is read late, never skipped.

    Stored in the cursor: the plain cursor while nothing is owed (as before), else JSON.
    """

    cursor: str | None
    gaps: tuple[tuple[int, int], ...] = ()  # [from, to) in the source's time unit, oldest first

    @classmethod
    def load(cls, raw: str | None) -> "Backlog":
        if not raw or not raw.startswith("{"):
            return cls(raw)
        try:
            data = json.loads(raw)
            return cls(data.get("cursor"), tuple((int(lo), int(hi)) for lo, hi in data.get("gaps", [])))
        except (ValueError, TypeError, AttributeError):
            return cls(None)  # unreadable: start again from first_run, as with no cursor

    def dump(self) -> str | None:
        return json.dumps({"cursor": self.cursor, "gaps": [list(g) for g in self.gaps]}) if self.gaps else self.cursor

    @staticmethod
    def merged(gaps: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
        """Windows sorted, overlapping ones joined."""
        out: list[tuple[int, int]] = []
        for lo, hi in sorted(g for g in gaps if g[0] < g[1]):
            if out and lo <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], hi))
            else:
                out.append((lo, hi))
        return tuple(out)

    @staticmethod
    def unread(low: int, high: int | None, oldest: int, reached: int) -> tuple[int, int]:
        """What a window read down to ``oldest`` still owes (that second included: it may hold
        more); the new window (``high`` None) owes nothing below the old cursor ``reached``, read
        last run (only posts indexed late are lost there)."""
        return (low if high is not None else max(low, reached), oldest + 1)

    def result(self, mentions: list, skipped: Sequence[str], where: Callable[[int], str] | None = None) -> FetchResult:
        """A run's result with this backlog as its cursor, and "behind" as its warning while owing."""
        warning = self.behind(where)
        return FetchResult(mentions, SourceState(cursor=self.dump()), skipped=tuple(skipped),
                           warnings=(warning,) if warning else ())

    def behind(self, where: Callable[[int], str] | None = None) -> str | None:
        """What ``status`` says of a source still owing windows (``where`` names a window's lower
        bound, for sources whose windows are not in epoch seconds)."""
        if not self.gaps:
            return None
        low = self.gaps[0][0]
        oldest = where(low) if where else datetime.fromtimestamp(low, timezone.utc).isoformat(timespec="minutes")
        return (f"behind: {len(self.gaps)} window{'s' if len(self.gaps) > 1 else ''} not read to the end yet (the oldest "
                f"from {oldest}); the next runs read them — raise max_pages or poll more often if this stays")


@dataclass(frozen=True)
class Resume:
    """The backlog of sources that page by a token or a page number rather than by time
    (Reddit's ``after``, Lemmy's ``page``): per listing, where each unread stretch resumes and the
    time (epoch seconds) to read it down to. The plain cursor while nothing is owed, else JSON."""

    cursor: str | None
    owed: Mapping[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)

    @classmethod
    def load(cls, raw: str | None) -> "Resume":
        if not raw or not raw.startswith("{"):
            return cls(raw)
        try:
            data = json.loads(raw)
            return cls(data.get("cursor"), {str(k): tuple((str(a), int(b)) for a, b in v)
                                            for k, v in (data.get("owed") or {}).items()})
        except (ValueError, TypeError, AttributeError):
            return cls(None)

    def dump(self) -> str | None:
        owed = {k: [list(g) for g in v] for k, v in self.owed.items() if v}
        return json.dumps({"cursor": self.cursor, "owed": owed}) if owed else self.cursor

    def read(self, label: str, read: Callable[[str | None, int], tuple[str | None, float]], since: datetime,
             reached: datetime) -> tuple[tuple[str, int], ...]:
        """Read one listing: first what earlier runs owed of it, oldest first, then from its top
        down to ``since``; what is still owed. ``read(token, stop)`` reads from ``token`` (None:
        the top) down to ``stop`` and says where to resume (None: done) and the oldest time read;
        the overlap below the old cursor (``reached``) is never owed."""
        gaps = [(left, stop) for token, stop in self.owed.get(label, ()) if (left := read(token, stop)[0])]
        left, oldest = read(None, int(since.timestamp()))
        if left and oldest >= reached.timestamp():
            gaps.append((left, int(reached.timestamp())))
        return tuple(gaps)

    def result(self, result: FetchResult, where: Callable[[int], str] | None = None) -> FetchResult:
        """``result`` with this as its cursor, and "behind" as a warning while anything is owed
        (``where`` names a stop that is not epoch seconds)."""
        stops = sorted(stop for gaps in self.owed.values() for _, stop in gaps)
        warning = Backlog(None, tuple((stop, stop + 1) for stop in stops)).behind(where)
        return FetchResult(result.mentions, SourceState(cursor=self.dump()), result.not_modified, result.skipped,
                           (*result.warnings, *([warning] if warning else [])))


def read_back(page: Callable[[str | None], tuple[list, str | None]], start: str | None, stop: int, pages: int,
              seen: dict, newest: list[datetime], now: datetime,
              failed: Callable[[str, ConnectorError], None] | None = None) -> tuple[str | None, float]:
    """Pages of a newest-first listing from ``start`` (None: its top) down to ``stop`` (epoch
    seconds), ``pages`` at most, into ``seen`` (and their times into ``newest``). ``page(token)``
    gives a page's mentions and the next page's token (None: the last page). Where to resume (None:
    read to the end) and the oldest time read; with ``failed``, a page that fails after the first
    is reported to it and resumed from next run, the pages before it kept."""
    oldest, token = float("inf"), start
    for number in range(pages):
        try:
            mentions, following = page(token)
        except ConnectorError as exc:
            if failed is None or number == 0 or token is None:
                raise
            failed(token, exc)
            return token, oldest
        fresh = [m for m in mentions if m.published_at.timestamp() >= stop]
        for m in fresh:
            seen.setdefault(m.id, m)
            newest.append(min(m.published_at, now))
            oldest = min(oldest, m.published_at.timestamp())
        if not following or len(fresh) < len(mentions):
            return None, oldest  # the last page, or reached ``stop``
        token = following
    return token, oldest


def reviews_since(source: str, units: Sequence[str], what: str, page: Callable[[str, str | None], tuple[list, str | None]],
                  *, since: datetime, pages: int, now: datetime, state: SourceState, skipped: list[str],
                  warnings: list[str]) -> FetchResult:
    """The review sources' run: each of ``units`` (apps, business units) read newest first back to
    ``since``, ``pages`` at most (``page(unit, token)``: a page and the next page's token), one
    failing unit named and the others kept (``SubRequests``); the newest time read is the cursor."""
    seen: dict = {}
    newest = [since]
    subs = SubRequests(source)
    for unit in units:
        with subs.each(f"{what} {unit}"):
            left, _ = read_back(lambda token: page(unit, token), None, int(since.timestamp()), pages, seen, newest, now)
            if left:
                warnings.append(f"{what} {unit}: more than {pages} pages of new reviews; raise max_pages or poll more often")
    result = FetchResult(list(seen.values()), SourceState(cursor=to_iso(max(newest))), skipped=tuple(skipped),
                         warnings=tuple(warnings))
    return subs.result(result, state)


class SubRequests:
    """The requests one run makes for several things (feeds, tags, subreddits, searches, apps):
    one that fails is logged and named in the run's warning, and the others' posts are kept.

    While any failed, the run keeps the source's old cursor, so what the failed one missed is
    asked for again next run (re-reading the others costs nothing: stored ids are skipped).
    Only when every one failed does the run fail, with the first error.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.done = 0
        self.failed: list[tuple[str, ConnectorError]] = []

    @contextmanager
    def each(self, label: str) -> Iterator[None]:
        """One sub-request (``label`` says which, e.g. "tag acme")."""
        try:
            yield
        except ConnectorError as exc:
            log.warning("source %s: %s failed: %s", self.source, label, exc)
            self.failed.append((label, exc))
        else:
            self.done += 1

    def result(self, result: FetchResult, old: SourceState) -> FetchResult:
        """``result`` as it stands, or with the old state and a warning when some failed."""
        if not self.failed:
            return result
        if not self.done:
            raise self.failed[0][1]
        names = "; ".join(f"{label}: {clean_text(str(exc), width=160)}" for label, exc in self.failed[:3])
        more = "; …" if len(self.failed) > 3 else ""
        warning = f"{len(self.failed)} of {len(self.failed) + self.done} requests failed, the rest kept ({names}{more})"
        return FetchResult(result.mentions, old, result.not_modified, result.skipped, (*result.warnings, warning))


@dataclass(frozen=True)
class Syntax:
    """What a source's search box understands (each connector's ``SYNTAX`` says from where).
    A rule's ``word*`` is sent as the word: no source here documents a prefix operator (Bluesky's
    is "unspecified", Lemmy would search the star as a character); local matching applies the
    rule exactly either way."""

    boolean: bool = False  # OR and parentheses, AND by a space: a rule is one search
    quotes: bool = True  # "two words" finds the phrase
    single: bool = False  # one term per search (a substring match, as Lemmy's LIKE)
    or_word: str = "OR"  # how the API writes OR (YouTube: "|")
    flat_or: bool = False  # OR without parentheses (YouTube): single terms can be ORed, no more
    max_query: int | None = None  # the longest query the API reads, in characters
    max_operators: int | None = None  # how many AND/OR/NOT one query may hold


def _term(term: SearchTerm, syntax: Syntax) -> str:
    return f'"{term.text}"' if term.phrase and syntax.quotes else term.text


def _group(terms: Sequence[SearchTerm], syntax: Syntax, *, nested: bool = False) -> str:
    text = " ".join(_term(t, syntax) for t in terms)
    return f"({text})" if nested and len(terms) > 1 else text


def searches(queries: Sequence[Query], syntax: Syntax) -> list[str]:
    """The searches to send for the brands' rules, each anchored on what the rule requires.

    With OR, a rule is one search (``"Acme" (outage OR support)``); without, a rule is a search
    for its anchor (``"Acme"``: one request, not one per OR term, and never "support" alone), or
    one per alternative when no term is common to all its matches (``acme OR globex``).
    """
    out: list[str] = []
    for query in queries:
        if syntax.boolean:
            rests = [tuple(t for t in group if t not in query.anchor) for group in query.alternatives]
            if query.anchor and not all(rests):
                out.append(_group(query.anchor, syntax))
            elif query.anchor:
                either = f" {syntax.or_word} ".join(_group(r, syntax, nested=True) for r in rests)
                out.append(f"{_group(query.anchor, syntax)} ({either})")
            else:
                out.append(f" {syntax.or_word} ".join(_group(g, syntax, nested=True) for g in query.alternatives))
            continue
        for group in [query.anchor] if query.anchor else query.alternatives:
            if syntax.single:  # the brand's term (``brand_first`` put it first), else the rule's first
                group = group[:1]
            out.append(_group(group, syntax))
    return list(dict.fromkeys(out))


def combined(queries: Sequence[Query], syntax: Syntax) -> list[str]:
    """Every rule's search ORed into as few queries as the API reads (``max_query`` characters,
    ``max_operators`` operators), for sources with OR: 100,000 rules cost a few hundred requests
    a page, not 100,000. Without OR, the searches as ``searches`` makes them; with OR but no
    parentheses (``flat_or``), single terms ORed and the rest alone. A single search longer than
    the API reads is sent as it is (the API reads its start)."""
    parts = searches(queries, syntax)
    if not syntax.boolean and not syntax.flat_or:
        return parts
    joint = f" {syntax.or_word} "
    out: list[str] = []
    group: list[str] = []
    size = operators = 0
    for part in parts:
        if not syntax.boolean and not _ONE_TERM.fullmatch(part):
            out.append(part)  # "acme cloud" AND-ed words: with no parentheses, a search of its own
            continue
        piece = part if _ONE_TERM.fullmatch(part) else f"({part})"
        cost = _operators(piece, syntax)
        if group and ((syntax.max_query and size + len(joint) + len(piece) > syntax.max_query)
                      or (syntax.max_operators is not None and operators + 1 + cost > syntax.max_operators)):
            out.append(_joined(group, joint))
            group, size, operators = [], 0, 0
        size += len(piece) + (len(joint) if group else 0)
        operators += cost + (1 if group else 0)
        group.append(piece)
    if group:
        out.append(_joined(group, joint))
    return out


def _joined(group: list[str], joint: str) -> str:
    return group[0][1:-1] if len(group) == 1 and group[0].startswith("(") else joint.join(group)


def _operators(text: str, syntax: Syntax) -> int:
    """The explicit operators in ``text`` outside its quoted phrases."""
    bare = re.sub(r'"[^"]*"', " ", text)
    return len(re.findall(rf"(?<!\S)(?:{re.escape(syntax.or_word)}|AND|NOT)(?!\S)", bare))


_ONE_TERM = re.compile(r'"[^"]*"|[^\s"()]+')


OVERLAP = "10m"
OVERLAP_WHY = ("How far before the cursor each run reads again: posts reach a search index (or a federated "
               "instance) late and would fall behind the cursor; re-read ones are skipped by id.")


class SearchOptions(SourceOptions):
    """Options of sources that are searched page by page back to a cursor."""

    max_pages: int = Field(default=5, ge=1, le=50, description="Pages per query per run: bounds a burst.")
    first_run: Duration = Field(default="1d", description="How far back the first run looks.")
    query: list[str] | None = Field(default=None, description="Search terms to send instead of the brands' keywords.")
    overlap: Duration = Field(default=OVERLAP, description=OVERLAP_WHY)

    def searches(self, queries: Sequence[Query], syntax: Syntax) -> list[str]:
        """What to search: the configured query as written, else the brands' rules (``searches``)."""
        return list(self.query) if self.query else searches(queries, syntax)

    def reached(self, state: SourceState, now: datetime) -> datetime:
        """How far the source has been read: the cursor (an ISO time), else ``first_run`` ago;
        the next cursor is never older than this."""
        if state.cursor:
            return parse_time(state.cursor)
        return now - self.first_run

    def since(self, state: SourceState, now: datetime) -> datetime:
        """Where this run reads from: ``overlap`` before the cursor (posts reach search indexes
        late; stored ids are skipped), else ``first_run`` ago."""
        return self.reached(state, now) - (self.overlap if state.cursor else timedelta(0))


class Connector(Protocol):
    """A source type. ``type`` is its module's name and the ``type:`` in config.yaml."""

    type: ClassVar[str]
    Options: ClassVar[type[SourceOptions]]

    def __init__(self, client: httpx.Client) -> None: ...

    def fetch(
        self, options: SourceOptions, *, queries: Sequence[Query], state: SourceState, now: datetime
    ) -> FetchResult:
        """Fetch what is new since ``state``; ``queries``: the brands' rules as searches (``searches``)."""
        ...

    # Optional: ``paid: ClassVar[bool] = True`` where reading costs money (its spend kept in its cursor):
    # a brand added later is not looked for back in time (``ingest.backfill_source``).
    #
    # Optional: ``revises: ClassVar[bool] = True`` where a post the source gave may come again edited
    # under its id (a review's words or stars): the run updates the stored row (``ingest.revised``).
    #
    # Optional, where the source can be asked again about posts it gave (monitor/refresh.py):
    #
    # def refresh(self, options, mentions: Sequence[Mention], *, now: datetime) -> dict[str, Refreshed]:
    #     """Each mention's engagement now, by id (batched; a post gone is left out); a
    #     ConnectorError when the source cannot be read, as in ``fetch``."""
