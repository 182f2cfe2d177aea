"""Access tokens the sources are given or sign, kept (in this process) until a minute before
they expire, so a run is not a token request (Reddit's app token, Google's service-account
token, App Store Connect's own JWT)."""

from __future__ import annotations

import threading
import time
from typing import Hashable

import httpx

from connectors import http
from connectors.base import as_int
from monitor.errors import FetchError

MARGIN = 60.0  # seconds before its expiry a kept token is no longer used


class Tokens:
    """Tokens by key (the token URL or issuer and the client), each with its expiry."""

    every: "list[Tokens]" = []  # each source's cache: forget_all() empties them (a test's fresh start)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[Hashable, tuple[str, float]] = {}
        Tokens.every.append(self)

    def get(self, key: Hashable, *, now: float | None = None) -> str | None:
        """The kept token, or None when there is none or it expires within MARGIN."""
        with self._lock:
            kept = self._kept.get(key)
        now = time.time() if now is None else now
        return kept[0] if kept and kept[1] - MARGIN > now else None

    def keep(self, key: Hashable, token: str, *, expires: float) -> str:
        """Keep ``token`` until ``expires`` (epoch seconds); return it."""
        with self._lock:
            self._kept[key] = (token, expires)
        return token

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


def access_token(response: httpx.Response, *, source: str, refused: str) -> tuple[str, float]:
    """The ``access_token`` of an OAuth token answer and when it expires (``expires_in``, else an
    hour); FetchError saying ``refused`` when there is none."""
    data = http.parse_json(response, source=source)
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise FetchError(refused, source=source, retryable=False)
    return token, time.time() + (as_int(data.get("expires_in")) or 3600)


def forget_all() -> None:
    """Empty every source's kept tokens."""
    for tokens in Tokens.every:
        tokens.clear()
