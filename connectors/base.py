"""What every connector is: options it accepts in config.yaml, and the fetch it performs.

A connector is stateless. It turns ``(options, search terms, remembered state)`` into a
``FetchResult`` and raises a ``ConnectorError`` subclass for anything the caller should record.
Cursors, ETags and error counts live in the store; the HTTP client is passed in.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitor.models import Duration, FetchResult, SourceState


def check_http_url(value: str | None) -> str | None:
    """Refuse anything but an absolute http(s) URL: config URLs are fetched by the monitor."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an http(s) URL — write it like https://example.com/path")
    return value.rstrip("/") if parts.path in ("", "/") else value


class SourceOptions(BaseModel):
    """Options every source accepts; each connector adds its own."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    name: str = Field(min_length=1, description="Unique name of this source; mentions are filed under it.")
    type: str = Field(description="The connector that reads this source.")
    every: Duration = Field(default="15m", description="How often to poll, e.g. 10m or 1h.")
    enabled: bool = Field(default=True, description="Set false to keep a source in the file without polling it.")
    base_url: str | None = Field(
        default=None,
        description="Override the API's address: a mirror, a self-hosted instance, or a test server.",
    )

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str | None) -> str | None:
        return check_http_url(value)


class Connector(Protocol):
    """A source type. ``type`` is its module's name and the ``type:`` in config.yaml."""

    type: ClassVar[str]
    Options: ClassVar[type[SourceOptions]]

    def __init__(self, client: httpx.Client) -> None: ...

    def fetch(
        self, options: SourceOptions, *, terms: list[str], state: SourceState, now: datetime
    ) -> FetchResult:
        """Fetch what is new since ``state``; ``terms`` are the brands' search terms."""
        ...
