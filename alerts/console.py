"""The console receiver: a readable alert on the terminal, the default with no Slack."""

from __future__ import annotations

import sys
from typing import TextIO

from alerts.base import fmt_reach
from alerts.wording import call_label, why_line
from monitor.models import Alert, clean_text


def _clean(value: object, width: int | None = None) -> str:
    """One line without control or bidi characters (ANSI escapes included), so a post cannot
    repaint the terminal or reorder what it shows."""
    return clean_text(value, width=width)


def render_text(alert: Alert, *, width: int = 100) -> str:
    """The alert as plain text lines."""
    about = " · ".join(part for part in (alert.brand, alert.source) if part)
    lines = [f"[{_clean(alert.severity).upper()}] {_clean(alert.kind)} · {_clean(about)}", f"  why: {_clean(alert.reason)}"]
    if alert.details:
        lines.append(f"  numbers: {_clean(alert.details)}")
    for judged in alert.mentions:
        m, s, r = judged.mention, judged.score, judged.reach
        # A post without a title (a forum reply, a toot) is headed by its text; a title's text
        # is shown under it unless it only repeats it (a news item's summary often does).
        title, body = _clean(m.title), _clean(m.text, width * 2)
        if not title:
            title, body = body or "(no text)", ""
        elif body == title:
            body = ""
        who = _clean(m.author_name or m.author or "unknown author")
        if m.audience:
            who += f" ({m.audience:,} followers)"
        call = call_label(judged) if s.bucket else f"unscored: {_clean(s.unscored_reason)}"
        why = _clean(why_line(judged))
        lines += [
            f"  ▸ {title}",
            *([f"    {body}"] if body else []),
            *([f"    why: {why}"] if why and (s.bucket == "assassin" or s.is_hostile_coverage) and why not in alert.reason else []),  # (one post's alert said it)
            f"    by {who} · {_clean(call)}",
            f"    reach {fmt_reach(r.low, r.high)} ({_clean(r.method)})",
            f"    {_clean(m.url or '(no link)', 300)}",
        ]
    return "\n".join(lines)


class ConsoleNotifier:
    """Writes alerts to a stream (standard output by default)."""

    def __init__(self, name: str = "console", *, stream: TextIO | None = None) -> None:
        self.name = name
        self.stream = stream

    def send(self, alert: Alert, idempotency_key: str | None = None, thread: str | None = None) -> None:
        """Print the alert (a terminal has no threads)."""
        stream = self.stream or sys.stdout
        stream.write(render_text(alert) + "\n\n")
        stream.flush()

    def was_delivered(self, idempotency_key: str, *, since) -> bool | None:
        """A terminal keeps no record: cannot tell."""
        return None
