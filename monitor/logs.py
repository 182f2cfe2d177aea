"""Logging set-up, and the filter that keeps secrets out of every log line at every verbosity.

Libraries log what they send: slack-sdk's debug log prints a webhook's full URL (the URL is the
secret), httpx prints query strings (API keys). The filter sits on the handlers, so it sees
every record whichever logger made it, and rewrites the message, its arguments and any
traceback before a formatter turns them into text.
"""

from __future__ import annotations

import logging
import re
import sys
import threading

REDACTED = "***"
MIN_SECRET = 6  # shorter values are too common to replace safely (and too weak to be real secrets)
_PATTERNS = [
    # A Slack webhook's path is its secret (hooks.slack.com/services/T…/B…/…, or a stand-in's).
    (re.compile(r"(/services/)[A-Za-z0-9_-]+/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+"), r"\1" + REDACTED),
    (re.compile(r"\b(xox[abposre]|xapp)-[A-Za-z0-9-]+"), r"\1-" + REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    (re.compile(r"(?i)([?&](?:key|api_key|apikey|token|access_token|client_secret|password)=)[^&\s\"'>]+"), r"\1" + REDACTED),
]


class SecretFilter(logging.Filter):
    """Replaces known secret values and secret-shaped strings in a record with ``***``."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()

    def add(self, *values: str | None) -> None:
        """Never log these values (the secrets read from the environment)."""
        with self._lock:
            known = set(self._secrets) | {v for v in values if v and len(v) >= MIN_SECRET}
            self._secrets = tuple(sorted(known, key=len, reverse=True))  # longest first: no partial leftovers

    def redact(self, text: str) -> str:
        """``text`` with every secret in it replaced."""
        for value in self._secrets:
            if value in text:
                text = text.replace(value, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: log its template rather than lose the line
            message = str(record.msg)
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


SECRETS = SecretFilter()  # logging is process-wide, and so is what must never reach it


def setup_logging(verbose: int, quiet: bool) -> None:
    """Log to standard error at the asked verbosity, every handler behind the secret filter."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        if SECRETS not in handler.filters:
            handler.addFilter(SECRETS)
    # APScheduler logs every job start at INFO; keep the log about sources, not the scheduler.
    for name in ("apscheduler", "httpx", "httpcore", "slack_sdk"):
        logging.getLogger(name).setLevel(logging.WARNING if verbose < 2 else logging.DEBUG)
