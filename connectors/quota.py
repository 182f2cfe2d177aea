"""What a run of a source costs against the limit its API documents.

Each searched connector says its ``QUOTA`` (the documented limit, and where it is documented)
and a ``cost(options, queries)``: the requests one run makes at least (every search's first
page, every listing), so ``monitor check-config`` can say before the first run that 100,000
rules would spend an API's hour in a minute, and which setting fixes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Quota:
    """A documented request limit: ``amount`` ``unit`` per ``per``; ``where`` says per what and
    from which documentation."""

    amount: int
    per: timedelta
    where: str
    unit: str = "requests"

    def __str__(self) -> str:
        return f"{self.amount:,} {self.unit} {_period(self.per)} ({self.where})"


@dataclass(frozen=True)
class Cost:
    """One run's cost at least, in its quota's unit; ``how`` says what is asked; ``runs_cap``:
    the most runs per quota period that pay it, when the connector paces itself (YouTube's
    searches), else every run does; ``warning``: what else the connector sees amiss."""

    amount: int
    how: str
    quota: Quota | None
    runs_cap: float | None = None
    warning: str | None = None

    def per_period(self, every: timedelta) -> float | None:
        """What the runs of one quota period spend at ``every``, or None without a quota."""
        if self.quota is None:
            return None
        runs = self.quota.per / every
        if self.runs_cap is not None:
            runs = min(runs, self.runs_cap)
        return self.amount * runs


def _period(per: timedelta) -> str:
    seconds = int(per.total_seconds())
    for size, one, many in ((86400, "a day", "days"), (3600, "an hour", "hours"), (60, "a minute", "minutes")):
        if seconds % size == 0:
            count = seconds // size
            return one if count == 1 else f"per {count} {many}"
    return f"per {seconds} s"


def plural(count: int, word: str) -> str:
    """``count`` and ``word``, in the plural unless one: "1 search", "3 searches"."""
    if count == 1:
        return f"{count:,} {word}"
    return f"{count:,} {word}{'es' if word.endswith(('s', 'sh', 'ch', 'x')) else 's'}"


def span_words(span: timedelta) -> str:
    """A span as people say it: ``25 min``, ``6.5 h``, ``3.0 days``."""
    minutes = span.total_seconds() / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h" if minutes < 2880 else f"{minutes / 1440:.1f} days"
