"""The pipeline, as plain functions: fetch → normalize → match → dedupe → score → store → alert.

``run_source`` is the one isolation point: it catches ``ConnectorError``, records it on the
source's row and returns. Anything else escaping a connector or the processing of its posts is
a bug: it is logged with its traceback and recorded as that source's failure too (backoff,
``source_down``), so one source's bug never stops the others or the monitor.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import httpx

from alerts.base import Notifier
from alerts.console import ConsoleNotifier
from alerts.router import Route, by_path, merge, parse_matcher, routes_for, silenced_by
from alerts.slack import SlackNotifier
from connectors import REGISTRY
from connectors.base import SourceOptions
from monitor.authors import AuthorRules
from monitor.config import Config, ConsoleReceiver, SlackReceiver
from monitor.errors import ConnectorError, NotifyError, RateLimited
from monitor.language import LanguageDetector
from monitor.logs import SECRETS
from monitor.matching import Matcher
from monitor.models import Alert, FetchResult, Judged, Match, Mention, clean_text, to_iso
from monitor.reach import estimate_reach
from monitor.sentiment import Scorer, score_all
from monitor.series import ALL_SOURCES, Fired, advance, describe, series_key
from monitor.store import Store, from_iso, row_alert
from monitor.text import html_to_text, plain_name

log = logging.getLogger("monitor")

MAX_BACKOFF = timedelta(hours=6)
DELIVERY_BACKOFF = (timedelta(seconds=30), timedelta(hours=1))


@dataclass
class Runtime:
    """Everything a run needs, built once per config: swapped whole when config.yaml changes."""

    config: Config
    matcher: Matcher
    scorer: Scorer
    client: httpx.Client
    notifiers: dict[str, Notifier]
    detector: LanguageDetector | None = None
    unavailable: dict[str, str] = field(default_factory=dict)
    delivery_lock: threading.Lock = field(default_factory=threading.Lock)
    router: Route | None = None  # the config's routing tree, resolved once

    def __post_init__(self) -> None:
        if self.router is None:
            self.router = self.config.router()
        limits = getattr(self.client, "body_limits", None)  # the shared client caps each source's bodies
        if limits is not None:
            limits.update({s.name: s.max_body for s in self.config.sources})

    @classmethod
    def build(
        cls,
        config: Config,
        *,
        client: httpx.Client,
        scorer: Scorer | None = None,
        detector: LanguageDetector | None = None,
        notifiers: dict[str, Notifier] | None = None,
        delivery_lock: threading.Lock | None = None,
    ) -> "Runtime":
        """Compile the config's rules and build its receivers (reading their secrets from the environment)."""
        SECRETS.add(*(os.environ.get(name) for name in secret_names(config)))  # before anything can log them
        built, unavailable = build_notifiers(config) if notifiers is None else (notifiers, {})
        return cls(
            config=config,
            matcher=config.matcher(),
            scorer=scorer or Scorer(),
            detector=detector or LanguageDetector(),
            client=client,
            notifiers=built,
            unavailable=unavailable,
            delivery_lock=delivery_lock or threading.Lock(),
        )


def secret_names(config: Config) -> list[str]:
    """Every environment variable the config reads a secret from (sources' and receivers')."""
    names = [name for source in config.sources for name in source.credential_envs()]
    return names + [r.secret_env for r in config.receivers if getattr(r, "secret_env", "")]


def build_notifiers(config: Config) -> tuple[dict[str, Notifier], dict[str, str]]:
    """Receivers that can send, and why each other one cannot (a secret not set)."""
    SECRETS.add(*(os.environ.get(name) for name in secret_names(config)))  # before anything can log them
    notifiers: dict[str, Notifier] = {}
    unavailable: dict[str, str] = {}
    for receiver in config.receivers:
        if isinstance(receiver, ConsoleReceiver):
            notifiers[receiver.name] = ConsoleNotifier(receiver.name)
        elif isinstance(receiver, SlackReceiver):
            secret = os.environ.get(receiver.secret_env, "")
            if not secret:
                unavailable[receiver.name] = f"environment variable {receiver.secret_env} is not set"
                continue
            notifiers[receiver.name] = SlackNotifier(
                receiver.name,
                webhook_url=secret if receiver.webhook_url_env else None,
                token=secret if receiver.token_env else None,
                channel=receiver.channel,
                base_url=receiver.base_url,
            )
    return notifiers, unavailable


# --- stages ----------------------------------------------------------------------------------


def normalize(mention: Mention) -> Mention:
    """Plain text for title and body (HTML stripped, entities decoded), author names decoded,
    control characters dropped, language code lower-cased."""
    title, text = html_to_text(mention.title), html_to_text(mention.text)
    author = plain_name(mention.author)
    author_name = author if mention.author_name == mention.author else plain_name(mention.author_name)
    language = mention.language.lower() if mention.language else None
    if (title, text, language, author, author_name) == (
            mention.title, mention.text, mention.language, mention.author, mention.author_name):
        return mention
    return mention.evolve(title=title, text=text, language=language, author=author, author_name=author_name)


def match(mentions: list[Mention], matcher: Matcher) -> list[tuple[Mention, Match]]:
    """Keep the mentions some brand's rules match, with the match."""
    out = []
    for mention in mentions:
        found = matcher.match(f"{mention.title}\n{mention.text}", mention.language)
        if found is not None:
            out.append((mention, found))
    return out


def dedupe(matched: list[tuple[Mention, Match]], known: set[str]) -> list[tuple[Mention, Match]]:
    """Drop mentions already stored (``known`` ids) and repeats within the batch."""
    out, seen = [], set(known)
    for mention, found in matched:
        if mention.id not in seen:
            seen.add(mention.id)
            out.append((mention, found))
    return out


def scored_text(mention: Mention) -> str:
    """The words the author wrote: a comment's title is its story's, not the commenter's."""
    if mention.metrics.get("kind") == "comment" or not mention.title or mention.text == mention.title:
        return mention.text
    return f"{mention.title}.\n{mention.text}" if mention.text else mention.title


def detect_language(mention: Mention, detector: LanguageDetector | None) -> Mention:
    """Fill in the language when the source did not give one."""
    if mention.language or detector is None:
        return mention
    language = detector.detect(scored_text(mention))
    return mention.evolve(language=language) if language else mention


def judge(matched: list[tuple[Mention, Match]], scorer: Scorer, config: Config, matcher: Matcher) -> list[Judged]:
    """Score, bucket and reach for matched mentions, a batch at a time (see ``score_all``)."""
    scores = score_all(
        scorer,
        [(scored_text(m), m.language, matcher.brand_pattern(found.brands)) for m, found in matched],
        advocate_above=config.sentiment.advocate_above,
        assassin_threshold=config.sentiment.assassin_threshold,
    )
    reach = config.reach
    return [Judged(m, found, result, estimate_reach(m, reach, bucket=result.bucket))
            for (m, found), result in zip(matched, scores)]


def author_rules(config: Config) -> AuthorRules:
    """How authors' histories become buckets, from the config."""
    return AuthorRules(config.authors.half_life, config.sentiment.advocate_above, config.sentiment.assassin_threshold)


def decide_alerts(new: list[Judged], *, config: Config, first_run: bool, now: datetime) -> list[Alert]:
    """An alert per new mention in an alerting bucket, except old posts and a first run's backlog."""
    window = config.alerts.backfill if first_run else config.alerts.max_age
    alerts = []
    for judged in new:
        m, s = judged.mention, judged.score
        if s.bucket not in config.alerts.buckets or m.published_at < now - window:
            continue
        severity = "critical" if judged.reach.high >= config.alerts.critical_reach else "warning"
        alerts.append(
            Alert(
                key=f"{s.bucket}:{m.source}:{m.id}",
                kind="assassin" if s.bucket == "assassin" else "mention",
                brand=judged.match.brand,
                source=m.source,
                severity=severity,
                reason=(f"assassin score {s.assassin_score:.2f}: " if s.assassin_score is not None else f"{s.bucket}: ")
                + "; ".join(s.reasons),
                mentions=(judged,),
                created_at=now,
            )
        )
    return alerts


def backoff(every: timedelta, failures: int, retry_after_seconds: float | None = None) -> timedelta:
    """Wait before retrying a failing source: doubling from its interval, at most MAX_BACKOFF."""
    wait = min(every * (2 ** max(0, failures - 1)), MAX_BACKOFF)
    if retry_after_seconds:
        wait = max(wait, timedelta(seconds=retry_after_seconds))
    return wait


def is_due(row: dict | None, now: datetime) -> bool:
    """Whether a source should run now (never ran, or its next check has come)."""
    if not row or not row.get("next_check_at"):
        return True
    return from_iso(row["next_check_at"]) <= now


# --- runs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceReport:
    """What one source run did."""

    source: str
    fetched: int = 0
    matched: int = 0
    stored: int = 0
    alerts: int = 0
    not_modified: bool = False
    error: str | None = None
    skipped: int = 0
    warning: str | None = None


def prepare(
    mentions: list[Mention], source: str, runtime: Runtime, store: Store
) -> tuple[list[Mention], list[tuple[Mention, Match]], list[Judged]]:
    """normalize → match → dedupe → language → judge, writing nothing: the posts, the matched
    ones, and the judged ones not stored yet."""
    normalized = [normalize(m) for m in mentions]
    matched = match(normalized, runtime.matcher)
    fresh = dedupe(matched, store.known_ids(source, [m.id for m, _ in matched]))
    judged = judge([(detect_language(m, runtime.detector), found) for m, found in fresh],
                   runtime.scorer, runtime.config, runtime.matcher)
    return normalized, matched, judged


def ingest(mentions: list[Mention], source: str, runtime: Runtime, store: Store, *, now: datetime) -> list[Judged]:
    """prepare, then store (with authors): the mentions stored new."""
    judged = prepare(mentions, source, runtime, store)[2]
    return store.save_mentions(judged, fetched_at=now, authors=author_rules(runtime.config))


def run_source(options: SourceOptions, runtime: Runtime, store: Store, *, now: datetime) -> SourceReport:
    """Run one source end to end. A failure, of the source or of processing what it sent, is
    recorded and reported, never raised, so the other sources run."""
    config = runtime.config
    first_run = store.ensure_source(options.name, options.type, now=now)
    connector = REGISTRY[options.type](runtime.client)
    try:
        result = connector.fetch(
            options, terms=runtime.matcher.search_terms(), state=store.source_state(options.name), now=now
        )
    except ConnectorError as exc:
        retry_after = exc.retry_after_seconds if isinstance(exc, RateLimited) else None
        return _source_failed(options, runtime, store, str(exc), retry_after, now=now)
    except Exception as exc:  # a connector bug (or an input it did not expect): this source's failure
        log.exception("source %s: the %s connector failed", options.name, options.type)
        return _source_failed(options, runtime, store, f"connector failed: {clean_text(f'{type(exc).__name__}: {exc}', width=300)}",
                              None, now=now)
    warning = _run_warning(result)
    try:
        mentions, matched, judged = prepare(result.mentions, options.name, runtime, store)
        # The mentions, their alerts and the new cursor in one transaction: a crash between
        # them would store posts whose alerts never queue (the next run skips them as known).
        with store.transaction():
            stored = store.save_mentions(judged, fetched_at=now, authors=author_rules(config))
            alerts = decide_alerts(stored, config=config, first_run=first_run, now=now)
            queued = enqueue(alerts, runtime, store, now=now)
            store.record_success(options.name, result.state, now=now, next_check_at=now + options.every,
                                 warning=warning, skipped=len(result.skipped))
    except Exception as exc:  # a bug or a database failure on this source's posts: the next run retries them
        log.exception("source %s: processing its %d posts failed", options.name, len(result.mentions))
        return _source_failed(options, runtime, store, f"processing failed: {type(exc).__name__}: {exc}", None, now=now)
    if not stored:
        silent = silent_source_alert(store, options.name, factor=config.alerts.silent_after, now=now)
        if silent is not None:
            queued += enqueue([silent], runtime, store, now=now)
    log.info(
        "source %s: %d fetched, %d matched, %d new, %d alerts%s",
        options.name, len(mentions), len(matched), len(stored), queued,
        " (first run: backlog stored without alerts)" if first_run and stored and not alerts else "",
    )
    if warning:
        log.warning("source %s: %s", options.name, warning)
    return SourceReport(options.name, len(mentions), len(matched), len(stored), queued, result.not_modified,
                        skipped=len(result.skipped), warning=warning)


def _run_warning(result: FetchResult) -> str | None:
    """One line on what was odd in a run that still worked: items skipped, partial documents."""
    parts = list(result.warnings)
    if result.skipped:
        shown = "; ".join(result.skipped[:3]) + ("; …" if len(result.skipped) > 3 else "")
        parts.append(f"skipped {len(result.skipped)} malformed item{'s' if len(result.skipped) != 1 else ''} ({shown})")
    return clean_text(" | ".join(parts), width=1000) if parts else None


def _source_failed(options: SourceOptions, runtime: Runtime, store: Store, error: str, retry_after: float | None,
                   *, now: datetime) -> SourceReport:
    """Record a failed run, back off, and raise source_down when it has failed often enough."""
    row = store.source_row(options.name) or {}
    failures = int(row.get("error_count") or 0) + 1
    retry_at = now + backoff(options.every, failures, retry_after)
    with store.transaction():  # the count and its source_down alert together, or it never fires
        store.record_failure(options.name, error, now=now, next_check_at=retry_at)
        if failures == runtime.config.alerts.source_down_after:
            enqueue([source_down_alert(options.name, error, failures, row.get("last_success_at"), now=now)],
                    runtime, store, now=now)
    log.warning("source %s failed (%d in a row): %s; next try at %s", options.name, failures, error,
                retry_at.isoformat(timespec="seconds"))
    return SourceReport(options.name, error=error)


def enqueue(alerts: list[Alert], runtime: Runtime, store: Store, *, now: datetime) -> int:
    """Route each alert and put it in the outbox, in its group, once per route that takes it;
    return how many were queued."""
    count = 0
    for alert in alerts:
        labels = alert.labels
        for route in routes_for(runtime.router, labels):
            count += store.enqueue_alert(
                alert, route.receiver, now=now, group_key=route.group_key(labels), group_wait=route.group_wait,
                group_interval=route.group_interval, repeat_interval=route.repeat_interval,
            )
    return count


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery round did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    waiting: int = 0


def deliver(runtime: Runtime, store: Store, *, now: datetime, flush: bool = False) -> DeliveryReport:
    """Send every group whose notification is due, one message per group; one thread at a time,
    so nothing goes twice. Silenced alerts are logged as such and not sent. ``flush`` sends
    every waiting group now (a one-shot run that is about to exit has no later to wait for)."""
    sent = retrying = failed = waiting = 0
    paused: set[str] = set()
    blocked: set[str] = set()
    with runtime.delivery_lock:
        recover_sending(runtime, store, now=now)
        silences = _silences(runtime.config, store, now=now)
        loaded = []
        for group in store.due_groups(now=None if flush else now):
            rows = store.group_pending(group["receiver"], group["group_key"], now=now)
            loaded.append((group, [(row, row_alert(row)) for row in rows]))
        # Spikes go first: a spike absorbs its brand's assassin alerts, which then appear inside
        # its message; while it fires (spikes.rearm) later ones are inhibited (logged, not sent).
        loaded.sort(key=lambda item: 0 if any(a.kind == "spike" for _, a in item[1]) else 1)
        firing = store.recently_sent("spike", since=now - runtime.config.spikes.rearm)
        # A source that is down explains its own silence: its drops are inhibited while it is down.
        down = store.failing_sources(at_least=runtime.config.alerts.source_down_after)
        routes = by_path(runtime.router)
        done: set[str] = set()
        for group, items in loaded:
            receiver, group_key = group["receiver"], group["group_key"]
            items = [(row, alert) for row, alert in items if row["key"] not in done]
            notifier = runtime.notifiers.get(receiver)
            if notifier is None or receiver in paused:
                waiting += len(items)
                if notifier is None:
                    blocked.add(receiver)
                continue
            active = []
            for row, alert in items:
                silence = silenced_by(alert.labels, silences, now)
                if silence is not None:
                    store.mark_silenced(row["key"], silence["id"])
                elif alert.kind == "assassin" and (receiver, alert.brand) in firing:
                    store.mark_inhibited(row["key"], f"inhibited by a firing spike of {alert.brand}")
                elif alert.kind == "drop" and alert.source in down:
                    store.mark_inhibited(row["key"], f"inhibited: source {alert.source} is down")
                else:
                    active.append((row, alert))
            absorbed = []
            taken = done | {row["key"] for row, _ in active}  # a group by brand alone holds both kinds
            for brand in sorted({a.brand for _, a in active if a.kind == "spike"}):
                for row in store.pending_alerts(receiver, kind="assassin", brand=brand):
                    alert = row_alert(row)
                    if row["key"] not in taken and silenced_by(alert.labels, silences, now) is None:
                        absorbed.append((row, alert))
            if not active:
                store.schedule_group(receiver, group_key, next_flush_at=None)
                continue
            route = routes.get(group_key.split("{", 1)[0])
            quiet = _quiet_until(route, runtime.config, [a for _, a in active], now) if route else None
            if quiet is not None:  # hold the group until the window ends
                store.schedule_group(receiver, group_key, next_flush_at=quiet)
                waiting += len(active)
                continue
            outgoing = active + absorbed
            notification = f"{receiver}:{group_key}:{to_iso(now)}"
            if not store.mark_sending([row["key"] for row, _ in outgoing], notification, now=now):
                continue  # another process delivering from this database took them: it sends them
            # Updates of a group still firing (its first message younger than repeat_interval)
            # go into that message's thread instead of the channel.
            thread_at = from_iso(group.get("thread_at"))
            thread = group.get("thread_ref") if route and thread_at and now - thread_at < route.repeat_interval else None
            try:
                ref = notifier.send(merge([a for _, a in active], key=notification, absorbed=[a for _, a in absorbed]),
                                    idempotency_key=notification, thread=thread)
            except NotifyError as exc:
                if _record_failure(exc, store, receiver, group_key, active, absorbed, now=now):
                    retrying += len(active)
                    if exc.retry_after_seconds:
                        paused.add(receiver)  # a 429 covers the receiver, not just this message
                else:
                    failed += len(active)
                continue
            for row, _ in outgoing:
                store.mark_sent(row["key"], now=now)
                done.add(row["key"])
            if ref and not thread:
                store.set_thread(receiver, group_key, ref, now=now)
            firing |= {(receiver, a.brand) for _, a in active if a.kind == "spike"}
            store.schedule_group(receiver, group_key, next_flush_at=None, flushed_at=now)
            sent += len(outgoing)
    for name in sorted(blocked):
        why = runtime.unavailable.get(name, "it is not configured")
        log.warning("receiver %s cannot send: %s; its alerts wait in the outbox", name, why)
    return DeliveryReport(sent, retrying, failed, waiting)


def _record_failure(exc: NotifyError, store: Store, receiver: str, group_key: str, active: list, absorbed: list,
                    *, now: datetime) -> bool:
    """Log a failed send of a group; True when it will be retried (with backoff, or after
    Retry-After), False when retrying cannot fix it."""
    if exc.retryable:
        attempts = max(row["attempts"] for row, _ in active) + 1
        wait = min(DELIVERY_BACKOFF[0] * (2 ** (attempts - 1)), DELIVERY_BACKOFF[1])
        if exc.retry_after_seconds:
            wait = max(wait, timedelta(seconds=exc.retry_after_seconds))
        for row, _ in active + absorbed:
            store.mark_failed(row["key"], str(exc), now=now, retry_at=now + wait)
        store.schedule_group(receiver, group_key, next_flush_at=now + wait)
        log.warning("receiver %s: %s; retrying in %ss", receiver, exc, int(wait.total_seconds()))
        return True
    for row, _ in active:
        store.mark_failed(row["key"], str(exc), now=now, retry_at=None)
    for row, _ in absorbed:  # they go out with the next message that can carry them
        store.mark_failed(row["key"], str(exc), now=now, retry_at=now)
    store.schedule_group(receiver, group_key, next_flush_at=None)
    log.error("receiver %s: %s; not retrying (fix the receiver's configuration)", receiver, exc)
    return False


def _silences(config: Config, store: Store, *, now: datetime) -> list[dict]:
    """Active silences, stored and from config.yaml, with their matchers parsed."""
    stored = [
        {**row, "matchers": [parse_matcher(m) for m in row["matchers"]],
         "starts_at": from_iso(row["starts_at"]), "expires_at": from_iso(row["expires_at"])}
        for row in store.silences(now=now)
    ]
    return stored + [
        {"id": f"config.silences[{i}]", "matchers": [parse_matcher(m) for m in silence.matchers],
         "starts_at": datetime.min.replace(tzinfo=timezone.utc), "expires_at": silence.expires}
        for i, silence in enumerate(config.silences)
    ]


def _quiet_until(route: Route, config: Config, alerts: list[Alert], now: datetime) -> datetime | None:
    """When the route's quiet hours end, if one holds ``alerts`` now (critical ones may pass)."""
    windows = {w.name: w for w in config.quiet_hours}
    critical = any(a.severity == "critical" for a in alerts)
    ends = [
        until for name in route.quiet_hours
        if (window := windows.get(name)) and not (window.allow_critical and critical)
        and (until := window.quiet_until(now)) is not None
    ]
    return max(ends) if ends else None


SEND_GRACE = timedelta(minutes=2)  # longer than any send can take (Slack's timeout is 15 s)


def recover_sending(runtime: Runtime, store: Store, *, now: datetime) -> None:
    """Alerts a crash left 'sending': ask the receiver whether the message went out. A bot-token
    receiver reads its channel back for the notification's key: sent if it is there, pending
    again if not. A receiver that cannot tell (a webhook, the console) is not sent again (never
    twice): the alerts are marked 'unconfirmed' and listed by ``monitor status``."""
    by_notification: dict[str, list[dict]] = {}
    for row in store.stale_sending(before=now - SEND_GRACE):
        by_notification.setdefault(row["notification"], []).append(row)
    for notification, rows in by_notification.items():
        notifier = runtime.notifiers.get(rows[0]["receiver"])
        attempted = from_iso(rows[0]["next_attempt_at"])
        delivered = notifier.was_delivered(notification, since=attempted - SEND_GRACE) if notifier else None
        for row in rows:
            if delivered:
                store.mark_sent(row["key"], now=now)
            elif delivered is False:
                store.mark_failed(row["key"], "interrupted before Slack had it; sending again", now=now, retry_at=now)
                store.schedule_group(row["receiver"], row["group_key"], next_flush_at=now)
            else:
                store.mark_unconfirmed(row["key"], "interrupted mid-send; the receiver cannot say whether it arrived")
        if delivered:
            log.info("notification %s went out before the interruption; not sending it again", notification)
        elif delivered is False:
            log.warning("notification %s was interrupted before it reached the receiver; sending it again", notification)
        else:
            log.warning("notification %s to %s was interrupted mid-send and the receiver cannot be asked whether it "
                        "arrived: not sending it twice; check the channel (monitor status lists it)",
                        notification, rows[0]["receiver"])


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


def silent_source_alert(store: Store, name: str, *, factor: float, now: datetime) -> Alert | None:
    """A source that answers but has brought nothing for ``factor`` times its usual gap between
    mentions (and at least six hours): it is probably broken (a changed feed, a lost search),
    not calm. One alert per silence (keyed by the last mention)."""
    row = store.source_row(name)
    if row is None:
        return None
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


def watch_series(runtime: Runtime, store: Store, *, now: datetime) -> list[Fired]:
    """Score the brands' settled windows for spikes and drops; one alert per brand, kind and window.

    Each brand's advanced series states, its spikes and their alerts share one transaction:
    states saved without the alert would never fire that storm again. (One per brand, so a
    long first pass over history holds the write lock for one brand at a time.)
    """
    spikes, alerts = runtime.config.spikes, runtime.config.alerts
    if not spikes.enabled:
        return []
    settings = spikes.settings()
    known = store.spike_states()
    fired: list[Fired] = []
    for brand in (b.name for b in runtime.config.brands):
        first_pass = series_key(brand, ALL_SOURCES, "mentions") not in known
        # Like posts: a brand's first pass over its history stores old spikes quietly (alerts.backfill);
        # after that, a spike older than alerts.max_age (the monitor was down) is stored, not pushed.
        window = alerts.backfill if first_pass else alerts.max_age
        with store.transaction():
            found = advance(store, [brand], settings, now=now, settle=spikes.settle, history=spikes.history, states=known)
            storms: dict[tuple, list[Fired]] = {}
            for item in found:
                log.warning("%s", describe(item).splitlines()[0])
                # Brand-level spikes and drops; a drop on one source too (a broken connector shows there).
                if item.window_end >= now - window and (item.source == ALL_SOURCES or item.verdict.kind == "drop"):
                    storms.setdefault((item.source, item.verdict.kind, item.verdict.at), []).append(item)
            enqueue([spike_alert(items, now=now) for items in storms.values()], runtime, store, now=now)
        fired.extend(found)
    return fired


def spike_alert(items: list[Fired], *, now: datetime) -> Alert:
    """One alert for a brand's spike (or drop) in one window, however many of its series fired:
    each series' explanation is part of the reason."""
    first = items[0]
    e = first.explanation
    parts = [f"{item.explanation['summary']} (z {item.verdict.z:+.1f})" for item in items]
    reason = "; ".join(parts) + f". Method: {e['method']}"
    if e["words"]:
        reason += f". Words: {', '.join(e['words'])}"
    if e["sources"]:
        reason += ". Sources: " + ", ".join(f"{s} {share:.0%}" for s, share in e["sources"].items())
    bad = {"negative", "assassins", "negative_reach"}
    return Alert(
        key=f"{first.verdict.kind}:{first.brand}:{first.source}:{e['window'][0]}",
        kind=first.verdict.kind or "spike",
        brand=first.brand,
        source="all sources" if first.source == ALL_SOURCES else first.source,
        severity="critical" if first.verdict.kind == "spike" and bad & {i.measure for i in items} else "warning",
        reason=reason,
        created_at=now,
    )


def run_once(runtime: Runtime, store: Store, *, now: datetime) -> list[SourceReport]:
    """One pass over every enabled source, then the spike watch, then deliver what they raised."""
    reports = [run_source(options, runtime, store, now=now) for options in runtime.config.sources if options.enabled]
    watch_series(runtime, store, now=now)
    deliver(runtime, store, now=now, flush=True)
    return reports
