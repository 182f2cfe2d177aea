"""What the alert side needs from the rest, as protocols: a receiver (``Notifier``), the outbox
(``Outbox``, which the store implements), and the settings delivery follows (``DeliveryPolicy``).

alerts/ imports only ``monitor.models`` and ``monitor.errors`` (and its own modules): it never
sees the store, the config or a source's wire format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Mapping, Protocol

from monitor.models import Alert


class Notifier(Protocol):
    """A configured receiver."""

    name: str

    def send(self, alert: Alert, idempotency_key: str | None = None, thread: str | None = None) -> str | None:
        """Deliver ``alert`` (as a reply in ``thread`` where the receiver has threads); return a
        reference later messages can reply to, or None; raise NotifyError when it did not go out."""
        ...

    def was_delivered(self, idempotency_key: str, *, since: datetime) -> bool | None:
        """After a crash between a send and its record: did it go out? None when it cannot tell."""
        ...


class QuietWindow(Protocol):
    """A named quiet-hours window (config.yaml's ``quiet_hours``)."""

    name: str
    allow_critical: bool

    def quiet_until(self, now: datetime) -> datetime | None:
        """When the window ``now`` falls in ends, or None when it is not quiet now."""
        ...


@dataclass(frozen=True)
class DeliveryPolicy:
    """What delivery follows besides the routing tree, taken from the config once per config."""

    silences: tuple[dict, ...] = ()  # the config's silences: id, parsed matchers, starts_at, expires_at
    quiet_hours: Mapping[str, QuietWindow] = field(default_factory=dict)
    spike_rearm: timedelta = timedelta(hours=12)  # a sent spike inhibits its brand's assassins this long
    source_down_after: int = 3  # a source failing this often in a row is down: its drops are inhibited


class Outbox(Protocol):
    """The outbox and notification log (``monitor.store.Store`` is one)."""

    def enqueue_alert(self, alert: Alert, receiver: str, *, now: datetime, group_key: str | None = None,
                      route: str | None = None, group_wait: timedelta = ..., group_interval: timedelta = ...,
                      repeat_interval: timedelta | None = None) -> bool: ...
    def due_groups(self, *, now: datetime | None, limit: int = 1000) -> list[dict]: ...
    def group_pending(self, receiver: str, group_key: str, *, now: datetime | None) -> list[dict]: ...
    def row_alert(self, row: dict) -> Alert: ...
    def schedule_group(self, receiver: str, group_key: str, *, next_flush_at: datetime | None,
                       flushed_at: datetime | None = None) -> None: ...
    def mark_sending(self, keys: list[str], notification: str, *, now: datetime) -> bool: ...
    def mark_sent(self, key: str, *, now: datetime) -> None: ...
    def mark_retry(self, key: str, error: str, *, now: datetime, retry_at: datetime) -> None: ...
    def mark_failed(self, key: str, error: str, *, now: datetime) -> None: ...
    def mark_unconfirmed(self, key: str, why: str) -> None: ...
    def mark_inhibited(self, key: str, why: str) -> None: ...
    def mark_silenced(self, key: str, silence_id: int | str) -> None: ...
    def set_thread(self, receiver: str, group_key: str, ref: str, *, now: datetime) -> None: ...
    def stale_sending(self, *, before: datetime) -> list[dict]: ...
    def recently_sent(self, kind: str, *, since: datetime) -> dict[tuple[str, str], list[tuple]]: ...
    def pending_alerts(self, receiver: str, *, kind: str, brand: str) -> list[dict]: ...
    def failing_sources(self, *, at_least: int) -> set[str]: ...
    def silences(self, *, now: datetime | None = None) -> list[dict]: ...
    def save_wait(self, name: str, *, until: datetime, reason: str = "") -> None: ...
    def waits(self, *, now: datetime, prefix: str = "") -> dict[str, tuple[datetime, str]]: ...


def fmt_reach(low: int, high: int) -> str:
    """``1,200–2,400 people`` (or one number when the range is a point)."""
    return f"{low:,} people" if low == high else f"{low:,}–{high:,} people"
