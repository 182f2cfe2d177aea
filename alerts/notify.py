"""Delivery, a stage chain per due group (after Alertmanager's notify pipeline):
recover → mute (silences, inhibition) → hold (quiet hours) → claim → send → record.

One pass at a time per process (``lock``), and every claim is atomic in the outbox, so a group
goes out once even with two processes delivering from one database. Spikes go first: a spike
absorbs its brand's waiting assassin alerts whose posts belong to it (published in the period it
is about: its ``starts_at``–``ends_at``), which ride inside its message, and while it fires
(``DeliveryPolicy.spike_rearm``) later assassins of that period are inhibited. An assassin post
from before or after the storm is not the storm's: it goes out on its own.
"""

from __future__ import annotations

import logging
import threading
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Mapping

from alerts.base import DeliveryPolicy, Notifier, Outbox
from alerts.router import Route, by_path, merge, parse_matcher, silenced_by
from monitor.errors import NotifyError
from monitor.models import Alert, doubling, from_iso, to_iso

log = logging.getLogger("monitor")

DELIVERY_BACKOFF = (timedelta(seconds=30), timedelta(hours=1))  # first retry, longest wait
SEND_GRACE = timedelta(minutes=2)  # longer than any send can take (Slack's timeout is 15 s)


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery round did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    waiting: int = 0


def deliver(outbox: Outbox, notifiers: Mapping[str, Notifier], router: Route, policy: DeliveryPolicy, *,
            now: datetime, flush: bool = False, lock: threading.Lock | None = None,
            unavailable: Mapping[str, str] | None = None) -> DeliveryReport:
    """Send every group whose notification is due, one message per group. ``flush`` sends every
    waiting group now (a one-shot run about to exit has no later to wait for); alerts waiting
    out a retry stay waiting. Silenced and inhibited alerts are logged as such, not sent."""
    with lock or nullcontext():
        recover_sending(outbox, notifiers, now=now)
        round_ = _Round(outbox, notifiers, by_path(router), policy, now, silences=_silences(outbox, policy, now),
                        firing=outbox.recently_sent("spike", since=now - policy.spike_rearm),
                        down=outbox.failing_sources(at_least=policy.source_down_after))
        # A receiver that asked to wait (a 429's Retry-After, in this run or an earlier one: a
        # cron job's) is not asked again before its time.
        round_.paused.update(name.removeprefix("receiver:") for name in outbox.waits(now=now, prefix="receiver:"))
        for group, items in _due(outbox, now=now, flush=flush):
            round_.notify(group, items)
    for name in sorted(round_.blocked):
        why = (unavailable or {}).get(name, "it is not configured")
        log.warning("receiver %s cannot send: %s; its alerts wait in the outbox", name, why)
    return DeliveryReport(round_.sent, round_.retrying, round_.failed, round_.waiting)


def _due(outbox: Outbox, *, now: datetime, flush: bool) -> list[tuple[dict, list[tuple[dict, Alert]]]]:
    """The due groups with their due alerts, spikes first (they absorb their brand's assassins)."""
    loaded = []
    for group in outbox.due_groups(now=None if flush else now):
        rows = outbox.group_pending(group["receiver"], group["group_key"], now=now)
        loaded.append((group, [(row, outbox.row_alert(row)) for row in rows]))
    loaded.sort(key=lambda item: 0 if any(a.kind == "spike" for _, a in item[1]) else 1)
    return loaded


@dataclass
class _Round:
    """One delivery pass over the due groups, and what it did."""

    outbox: Outbox
    notifiers: Mapping[str, Notifier]
    routes: dict[str, Route]
    policy: DeliveryPolicy
    now: datetime
    silences: list[dict]
    firing: dict[tuple[str, str], list[tuple]]  # (receiver, brand) of spikes still firing → the periods they cover
    down: set[str]  # sources that are down
    done: set[str] = field(default_factory=set)  # alert keys sent in this round
    paused: set[str] = field(default_factory=set)  # receivers that failed this round (429, 5xx, no answer)
    blocked: set[str] = field(default_factory=set)  # receivers that cannot send
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    waiting: int = 0

    def notify(self, group: dict, items: list[tuple[dict, Alert]]) -> None:
        """mute → hold → claim → send → record, for one group."""
        receiver, group_key = group["receiver"], group["group_key"]
        items = [(row, alert) for row, alert in items if row["key"] not in self.done]
        notifier = self.notifiers.get(receiver)
        if notifier is None or receiver in self.paused:
            self.waiting += len(items)
            if notifier is None:
                self.blocked.add(receiver)
            return
        active = self._mute(receiver, items)
        if not active:
            self.outbox.schedule_group(receiver, group_key, next_flush_at=None)
            return
        route = self.routes.get(group.get("route") or group_key.split("{", 1)[0])
        quiet = _quiet_until(route, self.policy, [a for _, a in active], self.now) if route else None
        if quiet is not None:  # hold the group until the window ends
            self.outbox.schedule_group(receiver, group_key, next_flush_at=quiet)
            self.waiting += len(active)
            return
        self._send(notifier, group, route, active, self._absorbed(receiver, active))

    def _mute(self, receiver: str, items: list[tuple[dict, Alert]]) -> list[tuple[dict, Alert]]:
        """The alerts no silence holds and no firing alert inhibits (those are logged as such)."""
        active = []
        for row, alert in items:
            silence = silenced_by(alert.labels, self.silences, self.now)
            if silence is not None:
                self.outbox.mark_silenced(row["key"], silence["id"])
            elif alert.kind == "assassin" and _covered(alert, self.firing.get((receiver, alert.brand), [])):
                self.outbox.mark_inhibited(row["key"], f"inhibited by a firing spike of {alert.brand}")
            elif alert.kind == "drop" and alert.source in self.down:
                self.outbox.mark_inhibited(row["key"], f"inhibited: source {alert.source} is down")
            else:
                active.append((row, alert))
        return active

    def _absorbed(self, receiver: str, active: list[tuple[dict, Alert]]) -> list[tuple[dict, Alert]]:
        """The waiting assassin alerts of the brands whose spikes are in ``active`` (any group)."""
        taken = self.done | {row["key"] for row, _ in active}  # a group by brand alone holds both kinds
        absorbed = []
        periods: dict[str, list[tuple]] = {}
        for _, a in active:
            if a.kind == "spike":
                periods.setdefault(a.brand, []).append((a.starts_at, a.ends_at))
        for brand in sorted(periods):
            for row in self.outbox.pending_alerts(receiver, kind="assassin", brand=brand):
                alert = self.outbox.row_alert(row)
                if (row["key"] not in taken and _covered(alert, periods[brand])
                        and silenced_by(alert.labels, self.silences, self.now) is None):
                    absorbed.append((row, alert))
        return absorbed

    def _send(self, notifier: Notifier, group: dict, route: Route | None, active: list, absorbed: list) -> None:
        """Claim, send and record one notification of the group."""
        receiver, group_key, now = group["receiver"], group["group_key"], self.now
        outgoing = active + absorbed
        notification = f"{receiver}:{group_key}:{to_iso(now)}"
        if not self.outbox.mark_sending([row["key"] for row, _ in outgoing], notification, now=now):
            return  # another process delivering from this database took them: it sends them
        # Updates of a group still firing (its first message younger than repeat_interval) go
        # into that message's thread instead of the channel.
        thread_at = from_iso(group.get("thread_at"))
        thread = group.get("thread_ref") if route and thread_at and now - thread_at < route.repeat_interval else None
        try:
            ref = notifier.send(merge([a for _, a in active], key=notification, absorbed=[a for _, a in absorbed]),
                                idempotency_key=notification, thread=thread)
        except NotifyError as exc:
            if exc.unknown:
                # Left 'sending': after SEND_GRACE, recover_sending asks the receiver whether it has
                # the message (a bot reads its channel back; a webhook's is marked unconfirmed),
                # as after a crash, instead of sending it a second time now.
                self.paused.add(receiver)
                self.retrying += len(active)
                log.warning("receiver %s: %s; asking whether it arrived before sending again", receiver, exc)
                return
            if _record_failure(exc, self.outbox, receiver, group_key, active, absorbed, now=now):
                self.retrying += len(active)
                # A 429, a 503, a receiver that does not answer: the receiver is down or busy, not
                # this message. The round's other groups wait for the next round, and all wait
                # out a Retry-After, in this run and the next.
                self.paused.add(receiver)
                if exc.retry_after_seconds:
                    self.outbox.save_wait(f"receiver:{receiver}", until=now + timedelta(seconds=exc.retry_after_seconds),
                                          reason=str(exc))
            else:
                self.failed += len(active)
            return
        for row, _ in outgoing:
            self.outbox.mark_sent(row["key"], now=now)
            self.done.add(row["key"])
        if ref and not thread:
            self.outbox.set_thread(receiver, group_key, ref, now=now)
        for _, a in active:
            if a.kind == "spike":
                self.firing.setdefault((receiver, a.brand), []).append((a.starts_at, a.ends_at))
        self.outbox.schedule_group(receiver, group_key, next_flush_at=None, flushed_at=now)
        self.sent += len(outgoing)


def _covered(alert: Alert, periods: list[tuple]) -> bool:
    """Whether ``alert``'s post was published in one of ``periods`` (a period with no bounds, from
    an alert that names none, covers every post)."""
    published = alert.mentions[0].mention.published_at if alert.mentions else None
    return any(
        published is None or ((start is None or published >= start) and (end is None or published <= end))
        for start, end in periods
    )


def retry_wait(attempts: int, retry_after_seconds: float | None = None) -> timedelta:
    """How long a failed send waits: doubling from DELIVERY_BACKOFF[0], at most [1], at least
    what the receiver asked (Retry-After)."""
    return doubling(DELIVERY_BACKOFF[0], attempts, cap=DELIVERY_BACKOFF[1], at_least_seconds=retry_after_seconds)


def _record_failure(exc: NotifyError, outbox: Outbox, receiver: str, group_key: str, active: list, absorbed: list,
                    *, now: datetime) -> bool:
    """Log a failed send of a group; True when it will be retried (with backoff, or after
    Retry-After), False when retrying cannot fix it."""
    if exc.retryable:
        wait = retry_wait(max(row["attempts"] for row, _ in active) + 1, exc.retry_after_seconds)
        for row, _ in active + absorbed:
            outbox.mark_retry(row["key"], str(exc), now=now, retry_at=now + wait)
        outbox.schedule_group(receiver, group_key, next_flush_at=now + wait)
        log.warning("receiver %s: %s; retrying in %ss", receiver, exc, int(wait.total_seconds()))
        return True
    for row, _ in active:
        outbox.mark_failed(row["key"], str(exc), now=now)
    for row, _ in absorbed:  # they go out with the next message that can carry them
        outbox.mark_retry(row["key"], str(exc), now=now, retry_at=now)
    outbox.schedule_group(receiver, group_key, next_flush_at=None)
    log.error("receiver %s: %s; not retrying (fix the receiver's configuration)", receiver, exc)
    return False


def _silences(outbox: Outbox, policy: DeliveryPolicy, now: datetime) -> list[dict]:
    """Active silences, stored and from the config, with their matchers parsed."""
    stored = [
        {**row, "matchers": [parse_matcher(m) for m in row["matchers"]],
         "starts_at": from_iso(row["starts_at"]), "expires_at": from_iso(row["expires_at"])}
        for row in outbox.silences(now=now)
    ]
    return stored + list(policy.silences)


def _quiet_until(route: Route, policy: DeliveryPolicy, alerts: list[Alert], now: datetime) -> datetime | None:
    """When the route's quiet hours end, if one holds ``alerts`` now (critical ones may pass)."""
    critical = any(a.severity == "critical" for a in alerts)
    ends = [
        until for name in route.quiet_hours
        if (window := policy.quiet_hours.get(name)) and not (window.allow_critical and critical)
        and (until := window.quiet_until(now)) is not None
    ]
    return max(ends) if ends else None


def recover_sending(outbox: Outbox, notifiers: Mapping[str, Notifier], *, now: datetime) -> None:
    """Alerts a crash left 'sending': ask the receiver whether the message went out. A bot-token
    receiver reads its channel back for the notification's key: sent if it is there, pending
    again if not. A receiver that cannot tell (a webhook, the console) is not sent again (never
    twice): the alerts are marked 'unconfirmed' and listed by ``monitor status``."""
    by_notification: dict[str, list[dict]] = {}
    for row in outbox.stale_sending(before=now - SEND_GRACE):
        by_notification.setdefault(row["notification"], []).append(row)
    for notification, rows in by_notification.items():
        notifier = notifiers.get(rows[0]["receiver"])
        attempted = from_iso(rows[0]["next_attempt_at"])
        delivered = notifier.was_delivered(notification, since=attempted - SEND_GRACE) if notifier else None
        for row in rows:
            if delivered:
                outbox.mark_sent(row["key"], now=now)
            elif delivered is False:
                outbox.mark_retry(row["key"], "interrupted before Slack had it; sending again", now=now, retry_at=now)
                outbox.schedule_group(row["receiver"], row["group_key"], next_flush_at=now)
            else:
                outbox.mark_unconfirmed(row["key"], "interrupted mid-send; the receiver cannot say whether it arrived")
        if delivered:
            log.info("notification %s went out before the interruption; not sending it again", notification)
        elif delivered is False:
            log.warning("notification %s was interrupted before it reached the receiver; sending it again", notification)
        else:
            log.warning("notification %s to %s was interrupted mid-send and the receiver cannot be asked whether it "
                        "arrived: not sending it twice; check the channel (monitor status lists it)",
                        notification, rows[0]["receiver"])
