"""Any RSS or Atom feed: blogs, forums, review sites, Google Alerts feeds.

Fetched with the shared client (never by feedparser itself, which would bypass our timeouts,
User-Agent and error handling), with a conditional GET so an unchanged feed costs a 304.
feedparser is handed the response's Content-Type (feedparser's docs, read 2026-12-02): without
it a valid feed with no entries is flagged as malformed.

A large feed is read one at a time, and only as far as it is well-formed: feedparser's loose parser,
its fallback for a broken document, takes about 90 times the body in memory and a minute of CPU
on a few megabytes of unclosed HTML (a 7 MB one: 630 MB), so thirty broken feeds at once would
hold gigabytes (benchmarks/limits.py).
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import threading
from xml.parsers import expat
from datetime import datetime, timezone
from typing import ClassVar, Literal, Sequence
from urllib.parse import urljoin

import feedparser
import feedparser.mixin
import httpx
from pydantic import Field, field_validator

from connectors import http, plain_feed
from connectors.base import SourceOptions, malformed_item
from monitor.errors import ParseError
from monitor.models import FetchResult, Mention, Query, SourceState, check_http_url


def _cache_base_joins() -> None:
    """feedparser (6.0) joins the document's base URI with itself at every start tag
    (``mixin.unknown_starttag``): three urljoins an entry, 40 % of its time on a 500-entry RSS
    feed. The join is a pure function of two strings (and feedparser's constant list of schemes),
    so its answers are kept: the same answers (a test parses every recorded feed both ways)."""
    join = feedparser.mixin.make_safe_absolute_uri
    if getattr(join, "uncached", None) is not None:
        return
    cached = functools.lru_cache(maxsize=256)(join)

    def make_safe_absolute_uri(base: str, rel: str | None = None) -> str:
        if len(base or "") + len(rel or "") > 2048:  # never keep a hostile document's giant xml:base
            return join(base, rel)
        return cached(base, rel)

    make_safe_absolute_uri.uncached = join  # type: ignore[attr-defined]
    feedparser.mixin.make_safe_absolute_uri = make_safe_absolute_uri


_cache_base_joins()


class RssOptions(SourceOptions):
    """An RSS/Atom source: the feed's URL."""

    type: Literal["rss"] = "rss"
    url: str = Field(description="The feed's URL (absolute, or relative to base_url).")

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        if value.startswith("/"):
            return value
        return check_http_url(value)


LARGE_FEED = 1 << 20  # bytes: a feed past this is parsed alone, and never loosely
_LARGE_PARSE = threading.Lock()
# Expat errors that do not mean a broken document: feedparser re-encodes (a windows-1252 feed) and
# replaces HTML's entities (&nbsp; without a DTD) before its own strict parse.
_FORGIVEN = {expat.errors.codes[e] for e in (expat.errors.XML_ERROR_UNKNOWN_ENCODING,
                                              expat.errors.XML_ERROR_INCORRECT_ENCODING,
                                              expat.errors.XML_ERROR_UNDEFINED_ENTITY)}
MAX_ENTRIES = 1000  # entries read from one feed document (feeds carry 10 to a few hundred)
MAX_DEPTH = 256  # elements open at once: a feed needs a dozen; unclosed HTML opens a million


class _TooDeep(Exception):
    pass


def _checked(body: bytes) -> tuple[bytes, str | None, str | None, int]:
    """A large body walked once by expat (streaming, no tree kept, at most MAX_DEPTH elements
    open: its own stack of a million unclosed tags is 140 MB), so that feedparser builds only what
    will be read: the body to parse (cut after its MAX_ENTRIES-th entry, or after the last entry
    before a fault, its open elements closed), why it cannot be read at all (a fault before any
    whole entry), the fault it was cut at, and how many entries it lists."""
    parser, stack, entries = expat.ParserCreate(), [], [0]
    ends: list[int | tuple[int, tuple[str, ...]]] = [0, (0, ())]  # [entries, (end of the last whole one, open then)]
    cut: list[bytes | None] = [None]
    ascii_compatible = not body.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00", b"<\x00"))

    def closed(at: int, open_: tuple[str, ...]) -> bytes:
        return body[:at] + "".join(f"</{n}>" for n in reversed(open_)).encode()

    def start(name: str, _: object) -> None:
        stack.append(name)
        if len(stack) > MAX_DEPTH:
            raise _TooDeep(f"more than {MAX_DEPTH} elements open at line {parser.CurrentLineNumber}")

    def end(name: str) -> None:
        stack.pop()
        if name.rpartition(":")[2] in ("item", "entry") and not any(
                n.rpartition(":")[2] in ("item", "entry") for n in stack):
            entries[0] += 1
            if entries[0] <= MAX_ENTRIES:
                ends[1] = (body.index(b">", parser.CurrentByteIndex) + 1, tuple(stack))
            if entries[0] == MAX_ENTRIES and ascii_compatible:
                cut[0] = closed(*ends[1])

    parser.StartElementHandler, parser.EndElementHandler = start, end
    fault = None
    try:
        parser.Parse(body, True)
    except _TooDeep as exc:
        fault = str(exc)
    except expat.ExpatError as exc:
        fault = None if exc.code in _FORGIVEN else str(exc)
    if fault is None:
        return (cut[0] if cut[0] is not None and entries[0] > MAX_ENTRIES else body), None, None, entries[0]
    if not entries[0] or not ascii_compatible:
        return body, fault, None, entries[0]
    return closed(*ends[1]), None, fault, min(entries[0], MAX_ENTRIES)  # what came before the fault


def _entry_time(entry: dict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            # feedparser normalises every date to a UTC struct_time.
            return datetime.fromtimestamp(calendar.timegm(parsed), tz=timezone.utc)
    return None


def _entry_text(entry: dict) -> str:
    contents = entry.get("content") or []
    if contents:
        return "\n".join(c.get("value", "") for c in contents)
    return entry.get("summary", "") or ""


def _language(code: str | None) -> str | None:
    if not code:
        return None
    return code.split("-")[0].split("_")[0].strip().lower() or None


def feed_headers(response: httpx.Response) -> dict[str, str]:
    """The response headers feedparser reads (the type and language): without a type, a feed
    with no entries (an empty page, a quiet search) is taken for an unreadable document."""
    return {k.lower(): v for k, v in response.headers.items() if k.lower() in ("content-type", "content-language")}


def _parsed(body: bytes, *, where: str, source: str, url: str, headers: dict | None,
            warnings: list[str] | None) -> tuple[list, str | None, int]:
    """feedparser's reading of a document outside the plain shape: its entries, the feed's
    language and how many entries the document lists."""
    listed = 0
    if len(body) > LARGE_FEED:
        size = len(body)
        body, broken, fault, listed = _checked(body)
        if fault and warnings is not None:
            warnings.append(f"{where} is a partial document ({fault}); read the {listed:,} entries before the fault")
        if broken:
            raise ParseError(f"{where} is {size / (1 << 20):.1f} MB and not well-formed XML ({broken}) before its first "
                             f"whole entry; a feed over {LARGE_FEED >> 20} MB is not read loosely (that takes about 90× "
                             "its size in memory)", source=source)
        with _LARGE_PARSE:  # one at a time: each takes several times its size in memory
            parsed = feedparser.parse(body, response_headers={"content-location": url, **(headers or {})})
    else:
        parsed = feedparser.parse(body, response_headers={"content-location": url, **(headers or {})})
    problem = parsed.get("bozo_exception")
    if parsed.bozo and not parsed.entries:
        raise ParseError(f"{where} is not a readable feed: {problem or 'not RSS or Atom'}", source=source)
    if not parsed.entries and not parsed.feed:
        raise ParseError(f"{where} is not a readable feed: no channel or entries", source=source)
    if parsed.bozo and warnings is not None:
        if isinstance(problem, feedparser.CharacterEncodingOverride):
            warnings.append(f"undecodable bytes in {where}: {problem} — some characters may be wrong")
        else:
            warnings.append(f"{where} is a partial document ({problem}); read what came before the fault")
    return parsed.entries, _language(parsed.feed.get("language")), listed


def parse_feed(body: bytes, *, source: str, url: str, headers: dict | None = None, now: datetime,
               skipped: list[str] | None = None, warnings: list[str] | None = None) -> list[Mention]:
    """Parse a feed body into mentions; raise ParseError when it is not a feed.

    feedparser never raises: a document it could not read whole (truncated, not well-formed)
    or whose bytes are not in the encoding it declares still yields what it read. That is a
    warning added to ``warnings`` (shown by ``monitor status``), and an entry with nothing in it
    (the stub a cut-off document ends with) is skipped, not stored.
    """
    where = http.safe_url(url)
    if not body.strip():
        raise ParseError(f"empty body from {where}", source=source)
    plain = plain_feed.entries(body, url=url, headers=headers) if len(body) <= LARGE_FEED else None
    if plain is not None:
        entries, language = plain
        feed_language, listed = _language(language), len(entries)
    else:
        entries, feed_language, listed = _parsed(body, where=where, source=source, url=url, headers=headers,
                                                 warnings=warnings)
    listed = max(listed, len(entries))
    if listed > MAX_ENTRIES:  # feeds list newest first; a page of 25,000 is a fault, not news
        if warnings is not None:
            warnings.append(f"{where} lists {listed:,} entries; read the first {MAX_ENTRIES:,}")
        entries = entries[:MAX_ENTRIES]
    mentions = []
    for entry in entries:
        with malformed_item(entry, source=source, skipped=skipped):
            mention = _entry_mention(entry, source=source, now=now, feed_language=feed_language)
            if mention is None:
                raise ParseError("an entry with no id, link, title or text (a cut-off document)", source=source)
            mentions.append(mention)
    return mentions


def _entry_mention(entry: dict, *, source: str, now: datetime, feed_language: str | None) -> Mention | None:
    """One entry, or None when it holds nothing."""
    link = entry.get("link") or None
    title, text = entry.get("title", "") or "", _entry_text(entry)
    ident = entry.get("id") or link
    if not ident:
        if not (title or text):
            return None
        ident = "sha1:" + hashlib.sha1((title + "\0" + text).encode()).hexdigest()
    author = entry.get("author", "") or ""
    detail = entry.get("author_detail") or {}
    return Mention(
        source=source,
        source_type="rss",
        id=str(ident),
        url=link,
        title=title,
        text=text,
        published_at=_entry_time(entry) or now,
        author=detail.get("email") or author,
        author_name=detail.get("name") or author,
        language=_language(entry.get("language")) or feed_language,
        raw=given(entry),
    )


def given(entry: dict) -> dict:
    """The entry as the feed gave it, without the copies feedparser derives from it: each
    ``*_detail`` (a field again with its type and base), ``*_parsed`` (its dates as tuples),
    ``authors`` (the author again), ``guidislink``, ``links`` when it holds only the entry's link,
    and ``summary`` when it is the content again: 42 % less on the recorded feeds of
    ``../shared/fixtures`` (``tests/test_connectors.py``), on every stored post."""
    out = {}
    for key, value in entry.items():
        if key.endswith(("_detail", "_parsed")) or key in ("guidislink", "authors"):
            continue
        if key == "links" and all(link.get("rel") == "alternate" and link.get("href") == entry.get("link") for link in value):
            continue
        if key == "summary" and any(c.get("value") == value for c in entry.get("content") or ()):
            continue  # an Atom entry's content, copied when it has no summary of its own
        out[key] = value
    return out


def conditional_headers(state: SourceState) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the validators kept on the source's row."""
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


class RssConnector:
    """Reads one RSS or Atom feed, locally matched against every brand."""

    type: ClassVar[str] = "rss"
    Options: ClassVar[type[SourceOptions]] = RssOptions

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(self, options: RssOptions, *, queries: Sequence[Query], state: SourceState, now: datetime) -> FetchResult:
        """Fetch the feed, conditionally when an ETag or Last-Modified was kept."""
        url = urljoin(options.base_url + "/", options.url.lstrip("/")) if options.base_url and options.url.startswith("/") else options.url
        response = http.get(self.client, url, source=options.name, headers=conditional_headers(state))
        if response.status_code == 304:
            return FetchResult([], state, not_modified=True)
        skipped: list[str] = []
        warnings: list[str] = []
        mentions = parse_feed(
            response.content,
            source=options.name,
            url=str(response.url),
            headers=feed_headers(response),
            now=now,
            skipped=skipped,
            warnings=warnings,
        )
        new_state = SourceState(
            cursor=state.cursor,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )
        return FetchResult(mentions, new_state, skipped=tuple(skipped), warnings=tuple(warnings))
