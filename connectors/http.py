"""The one HTTP client factory, and the request helper that turns httpx failures into ours."""

from __future__ import annotations

import email.utils
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from monitor.errors import FetchError, RateLimited

try:
    from importlib.metadata import version as _version

    VERSION = _version("reputation-monitor")
except Exception:  # pragma: no cover - running from a source tree that was never installed
    VERSION = "0"

_SECRET_PARAMS = {"key", "api_key", "apikey", "token", "access_token", "client_secret", "password"}


def make_client(
    *, contact: str = "", timeout_seconds: float = 20.0, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """Create the shared client: timeouts, redirects followed, a User-Agent naming us and a contact.

    Public APIs (Reddit, Algolia, Mastodon) ask for a descriptive User-Agent with a way to reach
    the operator; anonymous default agents are the first to be throttled.
    """
    agent = f"reputation-monitor/{VERSION}"
    if contact:
        agent += f" (+{contact})"
    return httpx.Client(
        follow_redirects=True,
        timeout=httpx.Timeout(timeout_seconds, connect=min(10.0, timeout_seconds)),
        headers={"User-Agent": agent},
        transport=transport,
    )


def safe_url(url: str | httpx.URL) -> str:
    """The URL with credential-like query parameters masked, fit for logs and error messages."""
    parts = urlsplit(str(url))
    query = [(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="()*,:")))


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
    try:
        response = client.get(url, params=params, headers=headers)
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out fetching {safe_url(url)}", source=source) from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"cannot fetch {safe_url(url)}: {exc}", source=source) from exc
    status = response.status_code
    if status == 304 or 200 <= status < 300:
        return response
    where = safe_url(response.request.url)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        wait = f", retry after {retry_after:.0f}s" if retry_after is not None else ""
        raise RateLimited(f"rate limited by {where} (HTTP 429{wait})", source=source, retry_after_seconds=retry_after)
    # 408 and 5xx are the server's trouble and pass; other 4xx mean our request is wrong.
    retryable = status >= 500 or status == 408
    raise FetchError(f"HTTP {status} from {where}", source=source, retryable=retryable, status=status)
