"""The console receiver: a readable alert on the terminal, the default with no Slack."""

from __future__ import annotations

import sys
from typing import TextIO

from alerts.base import fmt_reach
from monitor.models import Alert

_CONTROL = {i: None for i in range(32) if i not in (9, 10)} | {127: None}


def _clean(value: str) -> str:
    """Drop control characters (ANSI escapes included) so a post cannot repaint the terminal."""
    return value.translate(_CONTROL)


def render_text(alert: Alert, *, width: int = 100) -> str:
    """The alert as plain text lines."""
    about = " · ".join(part for part in (alert.brand, alert.source) if part)
    lines = [f"[{alert.severity.upper()}] {alert.kind} · {about}", f"  why: {alert.reason}"]
    for judged in alert.mentions:
        m, s, r = judged.mention, judged.score, judged.reach
        title = _clean(m.title or "(untitled)")
        body = " ".join(_clean(m.text).split())
        if len(body) > width * 2:
            body = body[: width * 2 - 1] + "…"
        who = _clean(m.author_name or m.author or "unknown author")
        if m.audience:
            who += f" ({m.audience:,} followers)"
        sentiment = f"{s.compound:+.2f}" if s.compound is not None else f"unscored: {s.unscored_reason}"
        lines += [
            f"  ▸ {title}",
            f"    {body}" if body else "    (no text)",
            f"    by {who} · {s.bucket or '-'} · sentiment {sentiment}",
            f"    reach {fmt_reach(r.low, r.high)} ({r.method})",
            f"    {_clean(m.url or '(no link)')}",
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
