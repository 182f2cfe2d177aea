"""Running one source: fetch → normalize → match → dedupe → language → judge → store → alert.

``run_source`` is the one isolation point: it catches ``ConnectorError``, records it on the
source's row and returns. Anything else escaping a connector or the processing of its posts is
a bug: it is logged with its traceback and recorded as that source's failure too (backoff,
``source_down``), so one source's bug never stops the others or the monitor. The stages before
the store are plain functions over data; ``classify`` and the demo run the same ones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence
from datetime import datetime, timedelta

from alerts.wording import post_reason
from connectors import REGISTRY
from connectors.base import SourceOptions
from monitor.assassin_model import ModelSource
from monitor.config import Config
from monitor.errors import ConnectorError, RateLimited
from monitor.health import budget_alerts, silent_source_alert, source_down_alert
from monitor.judgement.authors import AuthorRules
from monitor.judgement.language import LanguageDetector
from monitor.judgement.learned import Model
from monitor.judgement.matching import Matcher
from monitor.judgement.ratings import with_stars
from monitor.judgement.reach import estimate_reach
from monitor.judgement.sentiment import Scorer, score_all
from monitor.judgement.text import html_to_text, plain_name
from monitor.judgement.voice import own_voice
from monitor.models import (
    Alert,
    FetchResult,
    Judged,
    Match,
    Mention,
    Score,
    SourceState,
    clean_text,
    doubling,
    from_iso,
    safe_url,
)
from monitor.refresh import refresh_source
from monitor.runtime import Runtime, enqueue
from monitor.store import Store

log = logging.getLogger("monitor")

MAX_BACKOFF = timedelta(hours=6)


# --- stages ----------------------------------------------------------------------------------


def normalize(mention: Mention) -> Mention:
    """Plain text for title and body (HTML stripped, entities decoded), author names decoded,
    control, bidirectional and invisible characters dropped (in the URL, percent-encoded),
    language code lower-cased."""
    title, text = html_to_text(mention.title), html_to_text(mention.text)
    author = plain_name(mention.author)
    author_name = author if mention.author_name == mention.author else plain_name(mention.author_name)
    language = mention.language.lower() if mention.language else None
    url = safe_url(mention.url)
    if (title, text, language, author, author_name, url) == (
            mention.title, mention.text, mention.language, mention.author, mention.author_name, mention.url):
        return mention
    return mention.evolve(title=title, text=text, language=language, author=author, author_name=author_name, url=url)


def match(mentions: list[Mention], matcher: Matcher, bound: Sequence[str] = ()) -> list[tuple[Mention, Match]]:
    """Keep the mentions some brand's rules match, with the match; a source ``bound`` to brands
    (an app's reviews, the brand's own channel) keeps every post for them, rules adding others."""
    out = []
    for mention in mentions:
        text = f"{mention.title}\n{mention.text}"
        found = matcher.match(text, mention.language)
        if bound:
            found = matcher.bind(text, mention.language, found, bound)
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


def judge(matched: list[tuple[Mention, Match]], scorer: Scorer, config: Config, matcher: Matcher,
          model: Model | None = None, models: ModelSource | None = None) -> list[Judged]:
    """Score, bucket and reach for matched mentions, a batch at a time (see ``score_all``;
    ``models`` gives the sentence encoder when a post needs it)."""
    mode = config.sentiment.encoder
    scores = score_all(
        scorer,
        [(scored_text(m), m.language, matcher.brand_pattern(found.brands)) for m, found in matched],
        advocate_above=config.sentiment.advocate_above,
        assassin_threshold=config.sentiment.assassin_threshold,
        model=model,
        encoder=(lambda: models.encoder(mode)) if models is not None else None,
        encoder_mode=mode,
    )
    scores = [with_stars(result, m.metrics.get("rating")) for (m, _), result in zip(matched, scores)]  # reviews
    official, press = config.sources_marked("official"), config.sources_marked("press")
    accounts = {brand.name: brand.accounts for brand in config.brands if brand.accounts}
    if official or press or accounts:
        scores = [own_voice(m, found.brands, result, official=official, press=press, accounts=accounts)
                  for (m, found), result in zip(matched, scores)]
    reach = config.reach
    return [Judged(m, found, result, estimate_reach(m, reach, bucket=result.bucket))
            for (m, found), result in zip(matched, scores)]


def author_rules(config: Config) -> AuthorRules:
    """How authors' histories become buckets, from the config."""
    return AuthorRules(config.authors.half_life, config.sentiment.advocate_above, config.sentiment.assassin_threshold)


def decide_alerts(new: list[Judged], *, config: Config, first_run: bool, now: datetime) -> list[Alert]:
    """An alert per new mention in an alerting bucket (and per hostile article of a press source),
    except old posts and a first run's backlog."""
    window = config.alerts.backfill if first_run else config.alerts.max_age
    quiet = config.quiet_brands()
    out = []
    for judged in new:
        if judged.mention.published_at < now - window or quiet.issuperset(judged.match.brands):
            continue
        if config.alerts.press and judged.score.is_hostile_coverage:
            out.append(mention_alert(judged, config=config, now=now, kind="press"))
        elif judged.score.bucket in config.alerts.buckets:
            out.append(mention_alert(judged, config=config, now=now))
    return out


def mention_alert(judged: Judged, *, config: Config, now: datetime, edited: str = "", kind: str | None = None) -> Alert:
    """The alert one post in an alerting bucket raises (``edited``: what it said before an edit;
    ``kind``: ``press`` for hostile coverage)."""
    m, s = judged.mention, judged.score
    severity = "critical" if judged.reach.high >= config.alerts.critical_reach else "warning"
    if kind != "press":
        kind = "assassin" if s.bucket == "assassin" else "mention"
    said = post_reason(judged, press=kind == "press")
    return Alert(
        key=f"{'press' if kind == 'press' else s.bucket}:{m.source}:{m.id}",
        kind=kind,
        brand=judged.match.brand,
        source=m.source,
        severity=severity,
        reason=(f"edited ({edited}); " if edited else "") + said,
        mentions=(judged,),
        created_at=now,
    )


def revised(matched: list[tuple[Mention, Match]], source: str, runtime: Runtime, store: Store) -> list[tuple[Judged, Judged]]:
    """Stored posts sent again with other words or stars (an edited review): each as stored and
    as judged now (its first publication time kept: an edit is not a new post)."""
    stored = {j.mention.id: j for j in store.mentions_by_key([(source, m.id) for m, _ in matched])}
    changed: dict[str, tuple[Judged, tuple[Mention, Match]]] = {}
    for mention, found in matched:
        before = stored.get(mention.id)
        if before is None or _said(mention) == _said(before.mention):
            continue
        again = detect_language(mention.evolve(published_at=before.mention.published_at), runtime.detector)
        changed[mention.id] = (before, (again, found))
    if not changed:
        return []
    judged = judge([pair for _, pair in changed.values()], runtime.scorer, runtime.config, runtime.matcher,
                   runtime.models.current(store.path), runtime.models)
    return [(before, after) for (before, _), after in zip(changed.values(), judged)]


def _said(mention: Mention) -> tuple:
    """What an edit changes: the words and the stars (and the brand's reply, kept without an alert)."""
    return mention.title, mention.text, mention.metrics.get("rating"), mention.metrics.get("reply")


def edit_alerts(edits: list[tuple[Judged, Judged]], *, config: Config, now: datetime) -> list[Alert]:
    """An edit that moves a post into an alerting bucket alerts now, as a new post would (the
    edit is the news, however old the post), saying what it was before."""
    out, quiet = [], config.quiet_brands()
    for before, after in edits:
        if (after.score.bucket in config.alerts.buckets and after.score.bucket != before.score.bucket
                and not quiet.issuperset(after.match.brands)):
            stars = before.mention.metrics.get("rating")
            was = f"was {before.score.bucket or 'unscored'}" + (f", {stars} stars" if stars is not None else "")
            out.append(mention_alert(after, config=config, now=now, edited=was))
    return out


def backoff(every: timedelta, failures: int, retry_after_seconds: float | None = None) -> timedelta:
    """Wait before retrying a failing source: doubling from its interval, at most MAX_BACKOFF."""
    return doubling(every, failures, cap=MAX_BACKOFF, at_least_seconds=retry_after_seconds)


def is_due(row: dict | None, now: datetime) -> bool:
    """Whether a source should run now (never ran, or its next check has come)."""
    if not row or not row.get("next_check_at"):
        return True
    return from_iso(row["next_check_at"]) <= now


# --- runs --------------------------------------------------------------------------------------


# --- one source's run --------------------------------------------------------------------------


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
    refreshed: int = 0  # stored mentions whose engagement changed when re-read


def prepare(
    mentions: list[Mention], source: str, runtime: Runtime, store: Store, *, bound: Sequence[str] = ()
) -> tuple[list[Mention], list[tuple[Mention, Match]], list[Judged]]:
    """normalize → match → dedupe → language → judge, writing nothing: the posts, the matched
    ones, and the judged ones not stored yet (``bound``: the source's own brands)."""
    normalized = [normalize(m) for m in mentions]
    matched = match(normalized, runtime.matcher, bound)
    fresh = dedupe(matched, store.known_ids(source, [m.id for m, _ in matched]))
    # A language found only now still answers each brand's ``languages``.
    detected = [(post, runtime.matcher.in_language(found, post.language))
                for post, found in ((detect_language(m, runtime.detector), found) for m, found in fresh)]
    judged = judge([(post, found) for post, found in detected if found is not None],
                   runtime.scorer, runtime.config, runtime.matcher, runtime.models.current(store.path), runtime.models)
    return normalized, matched, judged


def ingest(mentions: list[Mention], source: str, runtime: Runtime, store: Store, *, now: datetime) -> list[Judged]:
    """prepare, then store (with authors): the mentions stored new."""
    judged = prepare(mentions, source, runtime, store)[2]
    return store.save_mentions(judged, fetched_at=now, authors=author_rules(runtime.config))


def recall_waits(runtime: Runtime, store: Store, *, now: datetime) -> None:
    """Hand the client the hosts that asked to wait, as earlier runs (this process's or
    another's: a cron job's) kept them in the store."""
    limiter = getattr(runtime.client, "limiter", None)
    if limiter is None:
        return
    for name, (until, _) in store.waits(now=now, prefix="host:").items():
        limiter.block(name.removeprefix("host:"), (until - now).total_seconds())


def keep_waits(runtime: Runtime, store: Store, *, now: datetime) -> None:
    """Keep in the store what the client learnt of hosts that asked to wait."""
    limiter = getattr(runtime.client, "limiter", None)
    for host, seconds in (limiter.blocked() if limiter is not None else {}).items():
        store.save_wait(f"host:{host}", until=now + timedelta(seconds=seconds), reason="asked to wait (Retry-After)")


def run_source(options: SourceOptions, runtime: Runtime, store: Store, *, now: datetime) -> SourceReport:
    """Run one source end to end. A failure, of the source or of processing what it sent, is
    recorded and reported, never raised, so the other sources run. A host that asked to wait is
    waited for (an honoured rate limit is not a failure), in this run and the next."""
    config = runtime.config
    first_run = store.ensure_source(options.name, options.type, now=now)
    connector = REGISTRY[options.type](runtime.client)
    recall_waits(runtime, store, now=now)
    try:
        result = connector.fetch(
            options, queries=runtime.matcher.queries(), state=store.source_state(options.name), now=now
        )
    except RateLimited as exc:
        keep_waits(runtime, store, now=now)
        if exc.retry_after_seconds:  # a wait asked for and honoured
            return _source_waits(options, store, exc, now=now)
        return _source_failed(options, runtime, store, str(exc), None, now=now)
    except ConnectorError as exc:
        keep_waits(runtime, store, now=now)
        return _source_failed(options, runtime, store, str(exc), None, now=now)
    except Exception as exc:  # a connector bug (or an input it did not expect): this source's failure
        log.exception("source %s: the %s connector failed", options.name, options.type)
        return _source_failed(options, runtime, store, f"connector failed: {clean_text(f'{type(exc).__name__}: {exc}', width=300)}",
                              None, now=now)
    keep_waits(runtime, store, now=now)
    warning = _run_warning(result)
    try:
        mentions, matched, judged = prepare(result.mentions, options.name, runtime, store, bound=options.brands)
        edits = revised(matched, options.name, runtime, store) if getattr(connector, "revises", False) else []
        # The mentions, their alerts and the new cursor in one transaction: a crash between
        # them would store posts whose alerts never queue (the next run skips them as known).
        with store.transaction():
            stored = store.save_mentions(judged, fetched_at=now, authors=author_rules(config))
            alerts = decide_alerts(stored, config=config, first_run=first_run, now=now)
            for before, after in edits:
                store.save_edit(before, after, now=now)
            alerts += edit_alerts(edits, config=config, now=now)
            alerts += budget_alerts(options.name, result.spend, now=now)
            queued = enqueue(alerts, runtime, store, now=now)
            store.record_success(options.name, result.state, now=now, next_check_at=now + options.every,
                                 warning=warning, skipped=len(result.skipped))
    except Exception as exc:  # a bug or a database failure on this source's posts: the next run retries them
        log.exception("source %s: processing its %d posts failed", options.name, len(result.mentions))
        return _source_failed(options, runtime, store, f"processing failed: {type(exc).__name__}: {exc}", None, now=now)
    try:
        refreshed = refresh_source(options, connector, runtime, store, now=now)
    except Exception:  # a bug in re-reading: the run itself worked; the same mentions are due next run
        log.exception("source %s: re-reading recent mentions failed", options.name)
        refreshed = 0
    if not stored:
        silent = silent_source_alert(store.source_row(options.name), factor=config.alerts.silent_after, now=now)
        if silent is not None:
            queued += enqueue([silent], runtime, store, now=now)
    log.info(
        "source %s: %d fetched, %d matched, %d new, %s%d alerts%s",
        options.name, len(mentions), len(matched), len(stored), f"{len(edits)} edited, " if edits else "", queued,
        " (first run: backlog stored without alerts)" if first_run and stored and not alerts else "",
    )
    if warning:
        log.warning("source %s: %s", options.name, warning)
    return SourceReport(options.name, len(mentions), len(matched), len(stored), queued, result.not_modified,
                        skipped=len(result.skipped), warning=warning, refreshed=refreshed)


def backfill_source(options: SourceOptions, runtime: Runtime, store: Store, *, brands: Sequence[str], since: timedelta,
                    now: datetime) -> SourceReport:
    """Read source ``options`` again for ``brands`` (added, or whose rules changed): without its
    conditional headers or cursor, as far back as ``since`` (or its API allows), searching only
    for those brands where the source searches. What matches and is not stored yet is stored;
    these are older posts, so they alert as on a first run (only those younger than
    ``alerts.backfill``). The source's own state is left as it is: its next run goes on from it."""
    wanted = [b for b in runtime.matcher.brands if b.name in brands]
    if not wanted:
        return SourceReport(options.name)
    looked = options.model_copy(update={"first_run": since}) if "first_run" in type(options).model_fields else options
    connector = REGISTRY[options.type](runtime.client)
    if getattr(connector, "paid", False):  # its spend lives in its cursor, which a look back does not keep
        log.info("source %s: not looked back for %s: it is billed by the post; their posts are read from its next run",
                 options.name, ", ".join(brands))
        return SourceReport(options.name)
    try:
        result = connector.fetch(looked, queries=Matcher(wanted).queries(), state=SourceState(), now=now)
    except ConnectorError as exc:
        log.warning("source %s: looking for %s again failed: %s", options.name, ", ".join(brands), exc)
        return SourceReport(options.name, error=str(exc))
    recent = [m for m in result.mentions if m.published_at >= now - since]
    mentions, matched, judged = prepare(recent, options.name, runtime, store, bound=options.brands)
    with store.transaction():
        stored = store.save_mentions(judged, fetched_at=now, authors=author_rules(runtime.config))
        queued = enqueue(decide_alerts(stored, config=runtime.config, first_run=True, now=now), runtime, store, now=now)
    log.info("source %s: looked for %s again, back to %s: %d fetched, %d matched, %d new", options.name,
             ", ".join(brands), (now - since).strftime("%Y-%m-%d %H:%M"), len(mentions), len(matched), len(stored))
    return SourceReport(options.name, len(mentions), len(matched), len(stored), queued)


def _run_warning(result: FetchResult) -> str | None:
    """One line on what was odd in a run that still worked: items skipped, partial documents."""
    parts = list(result.warnings)
    if result.skipped:
        shown = "; ".join(result.skipped[:3]) + ("; …" if len(result.skipped) > 3 else "")
        parts.append(f"skipped {len(result.skipped)} malformed item{'s' if len(result.skipped) != 1 else ''} ({shown})")
    return clean_text(" | ".join(parts), width=1000) if parts else None


def _source_waits(options: SourceOptions, store: Store, exc: RateLimited, *, now: datetime) -> SourceReport:
    """A run the source's host asked to wait out (429 with Retry-After, a spent quota): not a
    failure. The source is asked again after the wait (at least its interval), and says why."""
    wait = timedelta(seconds=exc.retry_after_seconds or 0)
    retry_at = now + max(wait, options.every)
    warning = f"rate limited, waiting as asked until {retry_at.isoformat(timespec='seconds')}: {exc}"
    store.record_wait(options.name, warning, now=now, next_check_at=retry_at)
    log.info("source %s: %s", options.name, warning)
    return SourceReport(options.name, warning=warning)


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
