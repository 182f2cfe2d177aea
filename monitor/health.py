"""Is the monitor healthy? The alerts a source raises about itself (failing, or answering but
silent), what ``monitor status`` shows and what ``status --check`` exits on.

Pure: rows in (the store's sources and outbox summary, the config), alerts and lines out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.models import Alert, Spend, clean_text, from_iso

OFFLINE = "no DNS answer"  # what connectors/http.py says when a host name does not resolve
OVERDUE_GRACE = timedelta(minutes=5)  # a due source not run this long past its time is overdue
PENDING_TOO_LONG = timedelta(hours=1)  # an alert waiting this long is not being delivered


@dataclass(frozen=True)
class SourceLine:
    """One source as ``monitor status`` shows it: from the database, marked against the config."""

    name: str
    type: str
    every: timedelta | None  # None: not in the config (or disabled)
    row: dict  # the stored row ({} when it never ran)
    in_config: bool = True
    enabled: bool = True
    access: str | None = None  # what the source can read as configured, when credentials would give more


def source_lines(rows: list[dict], configured: list) -> list[SourceLine]:
    """Every source the database holds, and every configured one that never ran, by name."""
    by_name = {s.name: s for s in configured}
    lines = []
    for row in rows:
        options = by_name.get(row["name"])
        lines.append(SourceLine(row["name"], row["type"], options.every if options else None, row,
                                in_config=options is not None, enabled=bool(options and options.enabled),
                                access=options.access() if options else None))
    stored = {row["name"] for row in rows}
    lines += [SourceLine(s.name, s.type, s.every, {}, enabled=s.enabled, access=s.access())
              for s in configured if s.name not in stored]
    return sorted(lines, key=lambda line: line.name)


def overdue_by(line: SourceLine, now: datetime) -> timedelta | None:
    """How long past its next check a configured, enabled source is (None: on time)."""
    due = from_iso(line.row.get("next_check_at"))
    if not (line.in_config and line.enabled) or due is None:
        return None
    late = now - due
    return late if late > max(OVERDUE_GRACE, (line.every or timedelta(0))) else None


def problems(lines: list[SourceLine], outbox: list[dict], *, failing_after: int, now: datetime,
             unavailable: dict[str, str] | None = None, receivers: list[str] | None = None) -> list[str]:
    """One line per reason the monitor is not healthy: every source failing its last run, a source
    that never succeeded since it was added, a source failing (``failing_after`` times in a row, as
    ``source_down``), a source overdue (nothing is running it), alerts pending that no configured
    receiver can deliver (its secret unset, or it is no longer in the config: ``receivers``), an
    alert that failed for good, or alerts waiting longer than PENDING_TOO_LONG."""
    out = []
    active = [line for line in lines if line.in_config and line.enabled]
    ran = [line for line in active if line.row.get("last_success_at") or line.row.get("error_count")]
    if len(ran) > 1 and all(int(line.row.get("error_count") or 0) for line in ran):
        offline = any(OFFLINE in (line.row.get("last_error") or "") for line in ran)
        out.append(f"every source failed its last run ({len(ran)} of {len(ran)})"
                   + (": no DNS answers, is this machine offline?" if offline else ""))
    for line in lines:
        fails = int(line.row.get("error_count") or 0)
        error = clean_text(line.row.get("last_error"), width=160)
        never = line in active and fails and not line.row.get("last_success_at")
        if line in active and fails >= failing_after:
            out.append(f"source {line.name} is failing ({fails} in a row{', never succeeded' if never else ''}): {error}")
        elif never:
            out.append(f"source {line.name} has never succeeded ({fails} run{'s' if fails != 1 else ''} failed): {error}")
        late = overdue_by(line, now)
        if late is not None:
            out.append(f"source {line.name} is overdue by {format_age(late)} (is `monitor run` running?)")
    for receiver in outbox:
        name, pending = receiver["receiver"], receiver.get("pending") or 0
        alerts = f"{pending} alert{'s' if pending != 1 else ''}"
        if receiver.get("failed"):
            out.append(f"receiver {name}: {receiver['failed']} alert{'s' if receiver['failed'] != 1 else ''} could not be"
                       f" delivered: {clean_text(receiver.get('last_error'), width=160)}")
        why = (unavailable or {}).get(name)
        if pending and receivers is not None and name not in receivers:
            out.append(f"receiver {name}: {alerts} pending, and no receiver of that name is in the config to send them")
            continue
        if pending and why:
            out.append(f"receiver {name}: {alerts} pending that it cannot deliver ({why})")
            continue
        oldest = from_iso(receiver.get("oldest_pending_at"))
        if oldest is not None and now - oldest > PENDING_TOO_LONG:
            out.append(f"receiver {name}: {alerts} waiting for {format_age(now - oldest)}")
    return out


def format_age(delta: timedelta) -> str:
    """``45s``, ``12m``, ``5h``, ``3d``."""
    seconds = int(abs(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def source_down_alert(name: str, error: str, failures: int, last_success: str | None, *, now: datetime) -> Alert:
    """A source that keeps failing: silence from it is not calm. One alert per outage."""
    since = f"last success {last_success}" if last_success else "never succeeded"
    return Alert(
        key=f"source_down:{name}:{last_success or 'never'}",
        kind="source_down",
        brand="",
        source=name,
        severity="critical",
        reason=f"source {name} failed {failures} times in a row ({since}); last error: {error}",
        created_at=now,
    )


SILENT_MIN_MENTIONS = 20  # a rhythm needs this many stored mentions before silence can break it


def budget_alerts(name: str, spend: Spend | None, *, now: datetime) -> list[Alert]:
    """An alert for each share of a paid source's budget its run crossed (80 %, all of it): once
    a period each (the key holds the period and the share)."""
    if spend is None:
        return []
    out = []
    for share in spend.crossed:
        whole = share >= 1.0
        out.append(Alert(
            key=f"budget:{name}:{spend.period}:{share:g}", kind="budget", brand="", source=name,
            severity="critical" if whole else "warning",
            reason=(f"source {name} has spent this month's budget (${spend.spent_usd:,.2f} of ${spend.budget_usd:,.2f}):"
                    f" it reads nothing more until {spend.resets} — raise monthly_budget_usd to go on" if whole else
                    f"source {name} has spent {spend.spent_usd / spend.budget_usd:.0%} of this month's budget"
                    f" (${spend.spent_usd:,.2f} of ${spend.budget_usd:,.2f}); it stops reading at the budget"
                    f" until {spend.resets}"),
            created_at=now,
        ))
    return out


def silent_source_alert(row: dict | None, *, factor: float, now: datetime) -> Alert | None:
    """A source that answers but has brought nothing for ``factor`` times its usual gap between
    mentions (and at least six hours): it is probably broken (a changed feed, a lost search),
    not calm. One alert per silence (keyed by the last mention)."""
    if row is None:
        return None
    name = row["name"]
    count, first, last = row["mentions_stored"], row["first_published_at"], row["last_published_at"]
    if count < SILENT_MIN_MENTIONS or not last:
        return None
    last_at = from_iso(last)
    gap = (last_at - from_iso(first)) / (count - 1)
    quiet = now - last_at
    if quiet < max(gap * factor, timedelta(hours=6)):
        return None
    hours = quiet.total_seconds() / 3600
    return Alert(
        key=f"source_down:{name}:silent:{last}", kind="source_down", brand="", source=name, severity="critical",
        reason=(f"source {name} answers but has brought no mention for {hours:.0f} h, while it usually brings one "
                f"every {gap.total_seconds() / 3600:.1f} h ({count:,} so far): check its query or feed"),
        created_at=now,
    )
