"""The one HTTP client factory, and the request helper that turns httpx failures into ours."""

from __future__ import annotations

import email.utils
import json
import re
import threading
import time
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from monitor.errors import FetchError, ParseError, RateLimited
from monitor.models import clean_text, format_size

try:
    from importlib.metadata import version as _version

    VERSION = _version("reputation-monitor")
except Exception:  # pragma: no cover - running from a source tree that was never installed
    VERSION = "0"

_SECRET_PARAMS = {"key", "api_key", "apikey", "token", "access_token", "client_secret", "password"}


MAX_SPACING_SECONDS = 10.0  # never sleep longer than this inside a job; back off instead
DEFAULT_MAX_BODY = 10 * 1024 * 1024  # bytes of a decompressed body, per response (sources' max_body)
MAX_READ_SECONDS = 120.0  # a body still arriving after this is given up, however fast it comes
PROGRESS_GRACE = 10.0  # seconds a body may take before it must arrive at MIN_BYTES_PER_SECOND
MIN_BYTES_PER_SECOND = 1024  # slower than this (a server dripping bytes) holds a thread for nothing
LARGE_BODY = 2**20  # a body past this many bytes is a large one ...
LARGE_BODIES = 4  # ... and the client's threads read this many large bodies at once
_CHUNK = 64 * 1024


class HostLimiter:
    """Politeness per host, shared by every source on it (one per client).

    A host that answered 429/503 with Retry-After, or whose X-RateLimit-Remaining reached 0, is
    not asked again before it said; a source that wants it earlier gets RateLimited at once
    (no request sent) and backs off. While a quota lasts, requests are spread over the reset
    window so a burst of sources never empties it.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # epoch seconds; injected where time is simulated
        self._lock = threading.Lock()
        self._blocked_until: dict[str, float] = {}
        self._spacing: dict[str, float] = {}
        self._floor: dict[str, float] = {}  # the least spacing a host's documentation asks for
        self._last: dict[str, float] = {}

    def before(self, host: str, *, source: str) -> None:
        """Wait for the host's spacing, or raise RateLimited while it is blocked."""
        with self._lock:
            now = self._clock()
            blocked = self._blocked_until.get(host, 0.0)
            if blocked > now:
                raise RateLimited(
                    f"{host} asked us to wait {blocked - now:.0f}s more", source=source, retry_after_seconds=blocked - now
                )
            wait = self._last.get(host, 0.0) + max(self._spacing.get(host, 0.0), self._floor.get(host, 0.0)) - now
            self._last[host] = now + max(0.0, wait)
        if wait > 0:
            time.sleep(min(wait, MAX_SPACING_SECONDS))

    def pace(self, host: str, seconds: float) -> None:
        """Never ask ``host`` more often than once in ``seconds`` (what its documentation asks)."""
        with self._lock:
            self._floor[host] = max(self._floor.get(host, 0.0), seconds)

    def block(self, host: str, seconds: float) -> None:
        """Keep every source off ``host`` for ``seconds`` (Retry-After, Stack Exchange backoff)."""
        with self._lock:
            until = self._clock() + seconds
            self._blocked_until[host] = max(self._blocked_until.get(host, 0.0), until)

    def blocked(self) -> dict[str, float]:
        """The hosts asked to wait for now, and for how many seconds more: what a later run, in
        this process or another, must know too (the store keeps it)."""
        with self._lock:
            now = self._clock()
            return {host: until - now for host, until in self._blocked_until.items() if until > now}

    def after(self, host: str, response: httpx.Response) -> None:
        """Learn the host's limits from a response's headers: ``X-RateLimit-*`` (GitHub, Reddit,
        Mastodon, Lemmy) or the IETF draft's ``RateLimit-*`` (Bluesky)."""
        headers = response.headers
        if response.status_code in (403, 429, 503):
            retry_after = parse_retry_after(headers.get("Retry-After"))
            if retry_after:
                self.block(host, retry_after)
        remaining = _number(headers.get("X-RateLimit-Remaining") or headers.get("RateLimit-Remaining"))
        reset = _reset_seconds(headers.get("X-RateLimit-Reset") or headers.get("RateLimit-Reset"))
        if remaining is None or reset is None:
            return
        if remaining < 1:
            self.block(host, reset)
        with self._lock:
            self._spacing[host] = min(MAX_SPACING_SECONDS, reset / max(remaining, 1.0))


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _reset_seconds(value: str | None) -> float | None:
    """Seconds until a rate-limit window resets, from the three forms servers use.

    GitHub sends an epoch time, Reddit seconds from now, Mastodon an ISO 8601 time.
    """
    if not value:
        return None
    number = _number(value)
    now = time.time()
    if number is not None:
        return max(0.0, number - now) if number > 1e9 else max(0.0, number)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, when.timestamp() - now)


class BodyBudget:
    """How many large bodies the client's threads read at once: a body past ``large`` bytes must
    hold one of ``slots`` (waiting at most ``wait`` seconds for one), so thirty failing sources
    sending their largest bodies together hold a few ``max_body`` of memory, not thirty; small
    bodies, most feeds and API pages, never wait. One slot per body, taken once: no deadlock."""

    def __init__(self, slots: int = LARGE_BODIES, *, large: int = LARGE_BODY, wait: float = 60.0) -> None:
        self.large, self.wait = large, wait
        self._slots = threading.BoundedSemaphore(slots)

    def take(self, *, where: str, source: str) -> None:
        """Hold a slot for a body grown past ``large`` (FetchError when none frees in time)."""
        if not self._slots.acquire(timeout=self.wait):
            raise FetchError(f"{where}: other sources' large bodies held the memory for {self.wait:.0f}s; stopped "
                             "reading", source=source)

    def give(self) -> None:
        self._slots.release()


class MonitorClient(httpx.Client):
    """An httpx client carrying what its sources share: the per-host limiter, the bodies' memory
    budget and login sessions."""

    def __init__(self, *args: Any, clock: Callable[[], float] = time.time, large_bodies: int = LARGE_BODIES,
                 min_bytes_per_second: float = MIN_BYTES_PER_SECOND, progress_grace: float = PROGRESS_GRACE,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limiter = HostLimiter(clock)
        self.budget = BodyBudget(large_bodies)
        self.pace = (min_bytes_per_second, progress_grace)
        # Login sessions (Bluesky) live as long as the client, in memory only: a token is a
        # secret, so it is never written to the store.
        self.sessions: dict[tuple[str, str], dict] = {}
        # Each source's cap on a decompressed body (its max_body), set by the runtime.
        self.body_limits: dict[str, int] = {}
        # What a connector learnt of a host that holds while the monitor runs (a Lemmy without
        # API v3, a Discourse that refuses anonymous reads); connectors are built per run.
        self.learnt: dict[tuple[str, str], object] = {}


def learnt(client: httpx.Client) -> dict[tuple[str, str], object]:
    """The client's memory of hosts (a plain client's is a throwaway)."""
    return getattr(client, "learnt", {})


def make_client(
    *, contact: str = "", timeout_seconds: float = 20.0, transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.time, large_bodies: int = LARGE_BODIES,
    min_bytes_per_second: float = MIN_BYTES_PER_SECOND, progress_grace: float = PROGRESS_GRACE,
) -> httpx.Client:
    """Create the shared client: timeouts, redirects followed, a User-Agent naming us and a contact.

    Public APIs (Reddit, Algolia, Mastodon) ask for a descriptive User-Agent with a way to reach
    the operator; anonymous default agents are the first to be throttled.
    """
    agent = f"reputation-monitor/{VERSION}"
    if contact:
        agent += f" (+{contact})"
    return MonitorClient(
        follow_redirects=True,
        timeout=httpx.Timeout(timeout_seconds, connect=min(10.0, timeout_seconds)),
        # Only what _read_capped can inflate a piece at a time (httpx adds br/zstd when installed).
        headers={"User-Agent": agent, "Accept-Encoding": "gzip, deflate"},
        transport=transport,
        clock=clock,
        large_bodies=large_bodies,
        min_bytes_per_second=min_bytes_per_second,
        progress_grace=progress_grace,
    )


def safe_url(url: str | httpx.URL) -> str:
    """The URL with credential-like query parameters masked, fit for logs and error messages."""
    parts = urlsplit(str(url))
    query = [(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="()*,:")))


def short_url(url: str | httpx.URL, width: int = 60) -> str:
    """``safe_url`` without its scheme and cut to ``width``: what an error line has room for
    after its cause."""
    text = safe_url(url).split("://", 1)[-1]
    return text if len(text) <= width else text[: width - 1] + "…"


# getaddrinfo's words for a host name that does not resolve, on glibc, musl, macOS and Windows.
_NO_DNS = ("Name or service not known", "Temporary failure in name resolution", "nodename nor servname",
           "No address associated with hostname", "getaddrinfo failed", "Name does not resolve")


def _cause(exc: httpx.HTTPError, host: str) -> str:
    """What went wrong, first, in words: a name that does not resolve says the machine may be offline."""
    text = str(exc) or type(exc).__name__
    if any(words in text for words in _NO_DNS):
        return f"no DNS answer for {host} (is this machine offline?)"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {host}: {text}"
    return text


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def get(
    client: httpx.Client,
    url: str,
    *,
    source: str,
    params: dict | None = None,
    headers: dict | None = None,
) -> httpx.Response:
    """GET ``url``; return the response for 2xx and 304, raise FetchError/RateLimited otherwise."""
    return request(client, "GET", url, source=source, params=params, headers=headers)


def request(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    source: str,
    params: dict | None = None,
    headers: dict | None = None,
    json_body: Any = None,
    data: dict | None = None,
) -> httpx.Response:
    """Send a request through the host's limiter; translate every failure into FetchError.

    The body is streamed and decompressed a piece at a time, and reading stops at the source's
    ``max_body`` (a gzip bomb costs at most that much memory), or after MAX_READ_SECONDS.
    """
    limiter: HostLimiter | None = getattr(client, "limiter", None)
    host = urlsplit(url).netloc
    if limiter is not None:
        limiter.before(host, source=source)
    limit = getattr(client, "body_limits", {}).get(source, DEFAULT_MAX_BODY)
    try:
        with client.stream(method, url, params=params, headers=headers, json=json_body, data=data) as streamed:
            if limiter is not None:
                limiter.after(host, streamed)
            try:
                _check_status(streamed, source=source)
            except RateLimited as exc:
                if limiter is not None and exc.retry_after_seconds:
                    limiter.block(host, exc.retry_after_seconds)
                raise
            body = _read_capped(streamed, limit, source=source, budget=getattr(client, "budget", None),
                                pace=getattr(client, "pace", (MIN_BYTES_PER_SECOND, PROGRESS_GRACE)))
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out fetching {short_url(url)}", source=source) from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{_cause(exc, host)} (fetching {short_url(url)})", source=source) from exc
    plain = [(k, v) for k, v in streamed.headers.multi_items() if k.lower() not in ("content-encoding", "content-length")]
    return httpx.Response(streamed.status_code, headers=plain, content=body, request=streamed.request)


def _check_status(response: httpx.Response, *, source: str) -> None:
    """Nothing for 2xx and 304; RateLimited or FetchError for the rest."""
    status = response.status_code
    if status == 304 or 200 <= status < 300:
        return
    where = safe_url(response.request.url)
    if status == 429:
        retry_after = _wait(response.headers)
        wait = f", retry after {retry_after:.0f}s" if retry_after is not None else ""
        raise RateLimited(f"rate limited by {where} (HTTP 429{wait})", source=source, retry_after_seconds=retry_after)
    text = ""
    if 400 <= status < 500:
        try:
            text = _read_capped(response, 64 * 1024, source=source).decode("utf-8", "replace")
        except FetchError:
            text = ""
    if status in (400, 403):
        throttled = _throttle(response, text, source=source)
        if throttled is not None:
            raise throttled
    code, said = _error_name(text)
    # 408 and 5xx are the server's trouble and pass; other 4xx mean our request is wrong.
    retryable = status >= 500 or status == 408
    detail = f": {code}" + (f": {said}" if said else "") if code else ""
    raise FetchError(f"HTTP {status} from {where}{detail}", source=source, retryable=retryable, status=status, code=code)


def _error_name(text: str) -> tuple[str | None, str]:
    """The API's own name for an error and its message, from a JSON error body: XRPC's
    ``{"error": "ExpiredToken", "message": …}``, Stack Exchange's ``error_name``; a body that
    is no such object gives none. Both are the server's words: cleaned and cut short."""
    try:
        body = json.loads(text) if text.lstrip().startswith("{") else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return None, ""
    code = body.get("error") if isinstance(body.get("error"), str) else body.get("error_name")
    said = body.get("message") if isinstance(body.get("message"), str) else body.get("error_message")
    if not isinstance(code, str) or not code:
        return None, ""
    return clean_text(code, width=60), clean_text(said, width=160) if isinstance(said, str) else ""


def _wait(headers: httpx.Headers) -> float | None:
    """Seconds a throttled response asks for: Retry-After, else the reset of an exhausted quota."""
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if retry_after is None and _number(headers.get("X-RateLimit-Remaining") or headers.get("RateLimit-Remaining")) == 0:
        retry_after = _reset_seconds(headers.get("X-RateLimit-Reset") or headers.get("RateLimit-Reset"))
    return retry_after


_AVAILABLE_IN = re.compile(r"available in (\d+) seconds?")
SECONDARY_LIMIT_SECONDS = 60.0  # GitHub: with neither Retry-After nor a reset, "wait for at least one minute"


def until_pacific_midnight(now: datetime) -> float:
    """Seconds from ``now`` to the next midnight in America/Los_Angeles (when Google's daily
    API quotas reset)."""
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo("America/Los_Angeles"))
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=local.tzinfo)
    return max(60.0, (midnight - local).total_seconds())


def _throttle(response: httpx.Response, text: str, *, source: str) -> RateLimited | None:
    """A rate limit that is not a 429, or None: Stack Exchange's HTTP 400 ``throttle_violation``
    ("more requests available in 82 seconds"), and GitHub's 403 (secondary limits: Retry-After,
    else an exhausted ``x-ratelimit-remaining`` until its reset, else a minute, as GitHub's
    documentation says)."""
    where = safe_url(response.request.url)
    if response.status_code == 400:
        if "throttle_violation" not in text:
            return None
        found = _AVAILABLE_IN.search(text)
        wait = float(found.group(1)) if found else SECONDARY_LIMIT_SECONDS
        return RateLimited(f"throttled by {where} (HTTP 400 throttle_violation, retry after {wait:.0f}s)",
                           source=source, retry_after_seconds=wait)
    if "quotaExceeded" in text or "dailyLimitExceeded" in text:  # Google's daily quotas reset at midnight Pacific
        wait = until_pacific_midnight(datetime.now(timezone.utc))
        return RateLimited(f"the daily quota of {where} is spent (HTTP 403 quotaExceeded); it resets at midnight "
                           f"Pacific time, in {wait / 3600:.1f} h", source=source, retry_after_seconds=wait)
    retry_after = _wait(response.headers)
    if retry_after is None and "rate limit" in text.lower():
        retry_after = SECONDARY_LIMIT_SECONDS
    if retry_after is None:
        return None  # a 403 that is a refusal, not a limit
    return RateLimited(f"rate limited by {where} (HTTP 403, retry after {retry_after:.0f}s)",
                       source=source, retry_after_seconds=retry_after)


def _read_capped(response: httpx.Response, limit: int, *, source: str, budget: BodyBudget | None = None,
                 pace: tuple[float, float] = (MIN_BYTES_PER_SECOND, PROGRESS_GRACE)) -> bytes:
    """The decompressed body, read piece by piece as the network gives it; FetchError past
    ``limit`` bytes, past MAX_READ_SECONDS, or slower than ``pace`` (bytes a second, after a grace
    of seconds: a server dripping a byte at a time never trips a read timeout, and would hold a
    thread the healthy sources need). A large body holds one of the client's ``budget`` slots.

    gzip and deflate are inflated here with zlib's ``max_length``, so no piece ever grows
    past the bytes still allowed (httpx's own decoder inflates a whole network read at once).
    """
    where = safe_url(response.request.url)
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    started = time.monotonic()
    deadline = started + MAX_READ_SECONDS
    rate, grace = pace
    parts: list[bytes] = []
    total = 0
    received = 0  # bytes off the network (before inflating): the pace is the server's

    def too_large() -> FetchError:
        return FetchError(
            f"body of {where} is larger than max_body ({format_size(limit)}); stopped reading — raise the source's"
            " max_body if it is really that big", source=source, retryable=False, status=response.status_code)

    holding = False

    def add(piece: bytes) -> None:
        nonlocal total, holding
        if total + len(piece) > limit:
            raise too_large()
        if piece:
            if budget is not None and not holding and total + len(piece) > budget.large:
                budget.take(where=where, source=source)
                holding = True
            total += len(piece)
            parts.append(piece)

    def arrived(raw: bytes) -> None:
        nonlocal received
        received += len(raw)
        now = time.monotonic()
        if now > deadline:
            raise FetchError(f"{where} was still sending after {MAX_READ_SECONDS:.0f}s; stopped reading", source=source)
        elapsed = now - started
        if elapsed > grace and received < rate * elapsed:
            raise FetchError(f"{where} sent {received:,} bytes in {elapsed:.0f}s (under {rate / 1024:g} KB/s); "
                             "stopped reading", source=source)

    try:
        if encoding in ("gzip", "x-gzip", "deflate"):
            try:
                _inflate(_paced(response.iter_raw(), arrived), encoding, add, room=lambda: limit - total + 1)
            except zlib.error as exc:
                raise ParseError(f"{where} sent a malformed {encoding} body: {exc}", source=source) from exc
        else:
            for piece in _paced(response.iter_bytes(), arrived):
                add(piece)
        return b"".join(parts)
    finally:
        if holding:
            budget.give()


def _paced(chunks: Iterator[bytes], arrived: Callable[[bytes], None]) -> Iterator[bytes]:
    """The network's pieces as they come, each told to ``arrived`` (which may stop the read)."""
    for chunk in chunks:
        arrived(chunk)
        yield chunk


def _inflate(chunks: Iterator[bytes], encoding: str, add: Callable[[bytes], None], *, room: Callable[[], int]) -> None:
    """Inflate gzip or deflate ``chunks`` into ``add``, never a piece longer than ``room()``."""
    wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    started = False
    for raw in chunks:
        if not started and encoding == "deflate" and raw and raw[0] & 0x0F != 8:
            inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, without the zlib header
        started = True
        while raw:
            add(inflater.decompress(raw, room()))
            raw = inflater.unconsumed_tail
            if inflater.eof and inflater.unused_data:  # a second gzip member
                raw, inflater = inflater.unused_data, zlib.decompressobj(wbits)
    add(inflater.flush())


def get_json(
    client: httpx.Client, url: str, *, source: str, params: dict | None = None, headers: dict | None = None
) -> tuple[Any, httpx.Response]:
    """GET a JSON document; an empty or non-JSON body is a ParseError."""
    response = get(client, url, source=source, params=params, headers=headers)
    return parse_json(response, source=source), response


def _bounded_int(text: str) -> int | float:
    return int(text) if len(text.lstrip("-")) <= 4000 else float("inf")


def parse_json(response: httpx.Response, *, source: str) -> Any:
    """The response's JSON body, or ParseError naming the URL (never its secrets)."""
    where = safe_url(response.request.url)
    if not response.content.strip():
        raise ParseError(f"empty body from {where}", source=source)
    try:
        return json.loads(response.content)
    except ValueError as exc:
        if "digits" not in str(exc):
            raise ParseError(f"{where} did not return JSON: {exc}", source=source) from exc
    except RecursionError as exc:
        raise ParseError(f"{where} returned JSON nested too deep to read", source=source) from exc
    # A number of thousands of digits (past Python's limit for int): read the page again with
    # such a number as infinity, which no field takes, so only its item is skipped.
    try:
        return json.loads(response.content, parse_int=_bounded_int)
    except ValueError as exc:
        raise ParseError(f"{where} did not return JSON: {exc}", source=source) from exc
    except RecursionError as exc:
        raise ParseError(f"{where} returned JSON nested too deep to read", source=source) from exc


def pace_host(client: httpx.Client, url: str, seconds: float) -> None:
    """Space every source's requests to ``url``'s host at least ``seconds`` apart."""
    limiter: HostLimiter | None = getattr(client, "limiter", None)
    if limiter is not None:
        limiter.pace(urlsplit(url).netloc, seconds)


def hold_host(client: httpx.Client, url: str, seconds: float) -> None:
    """Keep every source off ``url``'s host for ``seconds`` (an API's own backoff field)."""
    limiter: HostLimiter | None = getattr(client, "limiter", None)
    if limiter is not None and seconds > 0:
        limiter.block(urlsplit(url).netloc, seconds)
