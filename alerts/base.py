"""What a receiver is: something with a name that sends one alert or raises NotifyError."""

from __future__ import annotations

from typing import Protocol

from datetime import datetime

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


def fmt_reach(low: int, high: int) -> str:
    """``1,200–2,400 people`` (or one number when the range is a point)."""
    return f"{low:,} people" if low == high else f"{low:,}–{high:,} people"
