"""The one error hierarchy of the monitor.

::

    MonitorError
    ├── ConfigError             config.yaml is invalid (carries every problem found)
    ├── ConnectorError          a source could not be read (source, retryable)
    │   ├── FetchError          network failure or HTTP status
    │   │   └── RateLimited     the server asked us to wait (retry_after_seconds)
    │   ├── ParseError          the payload is malformed or empty
    │   └── MissingCredential   an environment variable the source needs is unset
    ├── NotifyError             a receiver could not be notified (receiver, retryable)
    └── StoreError              the database cannot be opened or used as asked (path, fix)

Library exceptions (httpx, feedparser's ``bozo``, slack-sdk) are translated into these at the
boundary where they happen, and nowhere else. Anything else escaping is a bug.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error the monitor raises on purpose."""


class ConfigError(MonitorError):
    """The configuration is invalid; ``problems`` lists each one as ``path: what — fix``."""

    def __init__(self, problems: list[str], *, path: str | None = None) -> None:
        self.problems = list(problems)
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(where + "; ".join(self.problems))


class ConnectorError(MonitorError):
    """A source failed; the pipeline records it on the source row and moves on."""

    def __init__(self, message: str, *, source: str = "", retryable: bool = True) -> None:
        self.source = source
        self.retryable = retryable
        super().__init__(message)


class FetchError(ConnectorError):
    """The request failed: connection, timeout or an HTTP error status."""

    def __init__(
        self, message: str, *, source: str = "", retryable: bool = True, status: int | None = None,
        code: str | None = None,
    ) -> None:
        self.status = status
        self.code = code  # the API's own name for the error, from its body (XRPC's "ExpiredToken")
        super().__init__(message, source=source, retryable=retryable)


class RateLimited(FetchError):
    """The server answered 429 (or an equivalent); wait ``retry_after_seconds`` before asking."""

    def __init__(
        self, message: str, *, source: str = "", retry_after_seconds: float | None = None
    ) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(message, source=source, retryable=True, status=429)


class ParseError(ConnectorError):
    """The body arrived but is not what the source's format promises."""

    def __init__(self, message: str, *, source: str = "") -> None:
        super().__init__(message, source=source, retryable=False)


class MissingCredential(ConnectorError):
    """The source needs a secret from an environment variable that is not set."""

    def __init__(self, message: str, *, source: str = "", variable: str = "") -> None:
        self.variable = variable
        super().__init__(message, source=source, retryable=False)


class NotifyError(MonitorError):
    """A receiver rejected or did not take a notification."""

    def __init__(
        self,
        message: str,
        *,
        receiver: str = "",
        retryable: bool = True,
        retry_after_seconds: float | None = None,
        unknown: bool = False,
    ) -> None:
        self.receiver = receiver
        self.retryable = retryable
        self.retry_after_seconds = retry_after_seconds
        # No answer after the request went out (a timeout, a connection cut): the receiver may
        # have the message. Sending it again before asking could post it twice.
        self.unknown = unknown
        super().__init__(message)


class StoreError(MonitorError):
    """The database cannot be opened or queried as asked; the message names the file and the fix."""
