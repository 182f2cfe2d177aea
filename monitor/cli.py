"""The ``monitor`` command line (click)."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import click
import yaml
from tabulate import tabulate

from alerts.console import render_text
from alerts.router import check_matcher, merge
from alerts.slack import render as render_slack
from connectors.http import make_client
from monitor import demo as demo_data
from monitor import health
from monitor.config import Sentiment, json_schema, missing_secrets, redacted, resolve_database
from monitor.config_check import load_config, parse_config
from monitor.errors import ConfigError, MonitorError, NotifyError
from monitor.ingest import ingest
from monitor.judgement.language import LanguageDetector
from monitor.judgement.sentiment import Scorer, score
from monitor.judgement.series import ALL_SOURCES, Held, describe, spike_row
from monitor.judgement.text import html_to_text
from monitor.logs import setup_logging
from monitor.models import (
    Alert,
    Judged,
    Match,
    Mention,
    Reach,
    Score,
    SourceState,
    clean_text,
    format_duration,
    parse_duration,
    to_iso,
)
from monitor.pipeline import run_once
from monitor.runtime import Runtime, build_notifiers, deliver, enqueue, keyword_matcher
from monitor.scheduler import Monitor, utcnow
from monitor.store import Store, from_iso, row_alert
from monitor.watch import advance, digest_alert

DEFAULT_CONFIG = "config.yaml"
def _clean(value: object, width: int | None = None) -> str:
    """Untrusted text for the terminal: one line, no control or bidi characters, clipped."""
    return clean_text(value, width=width)


def _load(ctx: click.Context, path: str | None = None):
    path = path or ctx.obj["config"]
    try:
        return load_config(path)
    except ConfigError as exc:
        _print_problems(exc)
        ctx.exit(1)


def _print_problems(exc: ConfigError) -> None:
    click.echo(f"{exc.path}: {len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''}:", err=True)
    for problem in exc.problems:
        click.echo(f"  {problem}", err=True)


class _Commands(click.Group):
    """A command ends on an error the monitor raises on purpose with its message and exit 1, not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            _print_problems(exc)
            ctx.exit(1)
        except MonitorError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "-c", "config_path", default=DEFAULT_CONFIG, envvar="MONITOR_CONFIG", show_default=True,
              type=click.Path(dir_okay=False), help="The config file (or set MONITOR_CONFIG).")
@click.option("--db", default=None, help="SQLite database file (overrides MONITOR_DB and the config's database).")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for HTTP and scheduler details).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.pass_context
def main(ctx: click.Context, config_path: str, db: str | None, verbose: int, quiet: bool) -> None:
    """Social media reputation monitor: hears advocates and assassins first."""
    ctx.ensure_object(dict)
    ctx.obj.update(config=config_path, db=db)
    setup_logging(verbose, quiet)


@main.command()
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve Prometheus metrics on this port (/metrics; 0 picks a free one).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address the metrics server listens on.")
@click.pass_context
def run(ctx: click.Context, metrics_port: int | None, metrics_host: str) -> None:
    """Run continuously: every source on its schedule; config edits apply without restart.
    SIGTERM or Ctrl-C: the running sources finish, the outbox is flushed, then it exits."""
    try:
        monitor = Monitor(ctx.obj["config"], db=ctx.obj["db"])
    except ConfigError as exc:
        _print_problems(exc)
        ctx.exit(1)
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        logging.getLogger("monitor").info("received %s, stopping after running jobs finish", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        monitor.start(metrics_port=metrics_port, metrics_host=metrics_host)
    except OSError as exc:
        raise click.ClickException(f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc} — pick another"
                                   " --metrics-port") from exc
    try:
        while not stop.wait(1.0):
            pass
    finally:
        monitor.stop()
    logging.getLogger("monitor").info("stopped")


@main.command()
@click.pass_context
def once(ctx: click.Context) -> None:
    """One pass over every source, then exit (non-zero if every source failed)."""
    config = _load(ctx)
    with Store(_database(ctx, config)) as store, make_client(contact=config.contact) as client:
        runtime = Runtime.build(config, client=client)
        reports = run_once(runtime, store, now=utcnow())
    failed = [r for r in reports if r.error]
    for r in reports:
        state = f"failed: {r.error}" if r.error else (
            "not modified" if r.not_modified else f"{r.fetched} fetched, {r.matched} matched, {r.stored} new, {r.alerts} alerts")
        click.echo(f"{r.source}: {state}")
    if reports and len(failed) == len(reports):
        click.echo("every source failed", err=True)
        ctx.exit(1)


@main.command("check-config")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--print", "show", is_flag=True, help="Also print the normalized config (defaults filled in, secrets hidden).")
@click.pass_context
def check_config(ctx: click.Context, path: str | None, show: bool) -> None:
    """Validate PATH (default: --config): OK with a summary, or every error with its line, key path and fix."""
    config = _load(ctx, path)
    if show:
        click.echo(yaml.dump(redacted(config), Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False,
                             allow_unicode=True), nl=False)
    for warning in missing_secrets(config):
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{path or ctx.obj['config']}: OK ({len(config.brands)} brands, {len(config.sources)} sources, "
               f"{len(config.receivers)} receivers)", err=True)


@main.command("config-schema")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of standard output.")
def config_schema(output: str | None) -> None:
    """Print the JSON Schema of config.yaml (the repository publishes it as config.schema.json)."""
    text = json.dumps(json_schema(), indent=2) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


def _duration(text: str) -> timedelta:
    """An option's duration (30m, 2h, 1d); a bad one is a usage error (exit 2) saying the fix."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _override(ctx: click.Context) -> str | None:
    """--db, else MONITOR_DB: a database named without the config."""
    return ctx.obj["db"] or os.environ.get("MONITOR_DB") or None


def _database(ctx: click.Context, config=None) -> str:
    """The database a command uses: --db, MONITOR_DB, or the config's (relative to its folder)."""
    return _override(ctx) or resolve_database(config or _load(ctx))


@main.command()
@click.argument("query")
@click.option("--limit", "-n", default=20, show_default=True, help="At most this many results.")
@click.option("--brand", help="Only this brand's mentions.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
@click.pass_context
def search(ctx: click.Context, query: str, limit: int, brand: str | None, as_json: bool) -> None:
    """Full-text search over stored mentions (FTS5 syntax: words, "phrases", OR, NOT, prefix*)."""
    with Store(_database(ctx), readonly=True) as store:
        rows = store.search(query, limit=limit, brand=brand)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        click.echo("no mentions match", err=True)
        return
    table = [
        [
            row["published_at"][:16].replace("T", " "), _clean(row["brand"], 16), row["bucket"] or "-",
            f"{row['sentiment']:+.2f}" if row["sentiment"] is not None else "-", _clean(row["author"], 16),
            _clean(row["title"] or row["text"], 50), _clean(row["url"], 60),
        ]
        for row in rows
    ]
    click.echo(tabulate(table, headers=["published (UTC)", "brand", "bucket", "sent.", "author", "title", "url"]))


def _ago(value: str | None, now) -> str:
    when = from_iso(value)
    if when is None:
        return "never"
    seconds = int((now - when).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    text = f"{seconds}s" if seconds < 120 else f"{seconds // 60}m" if seconds < 7200 else f"{seconds // 3600}h" if seconds < 172800 else f"{seconds // 86400}d"
    return f"in {text}" if future else f"{text} ago"


@main.command()
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--brand", help="The brand the texts are about (default: a line's own 'brand', else none).")
@click.pass_context
def classify(ctx: click.Context, source, brand: str | None) -> None:
    """Classify texts as the pipeline would: one JSON line per input line.

    SOURCE (default: standard input) holds one text per line, or JSON lines with a "text" field and
    an optional "brand". Thresholds come from the config when it exists, else the defaults.
    """
    path = Path(ctx.obj["config"])
    config = _load(ctx) if path.exists() else None
    sentiment = config.sentiment if config else Sentiment()
    matcher = keyword_matcher(config) if config else None
    scorer, detector = Scorer(), LanguageDetector()
    for number, line in enumerate(source, start=1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        item: dict = {"text": line}
        if line.lstrip().startswith("{"):
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise click.ClickException(f"line {number}: not valid JSON ({exc}) — write one JSON object or plain text per line")
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise click.ClickException(f"line {number}: a JSON line needs a \"text\" string")
        text = html_to_text(item["text"])
        about_brand = item.get("brand") or brand
        about = None
        if about_brand:
            known = [b.name for b in config.brands] if config else []
            about = matcher.brand_pattern([about_brand]) if matcher and about_brand in known else re.compile(
                rf"(?<!\w){re.escape(about_brand)}(?!\w)", re.IGNORECASE)
        language = item.get("language") or detector.detect(text)
        result = score(scorer, text, language, advocate_above=sentiment.advocate_above,
                       assassin_threshold=sentiment.assassin_threshold, about=about)
        click.echo(json.dumps({
            "compound": result.compound, "bucket": result.bucket, "assassin_score": result.assassin_score,
            "reasons": list(result.reasons), "language": language, "unscored_reason": result.unscored_reason,
            **({"id": item["id"]} if "id" in item else {}),
        }, ensure_ascii=False))


@main.command()
@click.option("--check", is_flag=True, help="Exit 1 with one line per problem (a source failing or overdue, an alert "
              "undeliverable or stuck), 0 when healthy: for cron, systemd and container health checks.")
@click.pass_context
def status(ctx: click.Context, check: bool) -> None:
    """What the database holds: per source its last success, error, next check and mentions
    (sources not in the config are marked), and the alert outbox."""
    config = _load(ctx) if Path(ctx.obj["config"]).exists() or not _override(ctx) else None
    now = utcnow()
    with Store(_database(ctx, config), readonly=True) as store:
        lines = health.source_lines(store.sources_status(), list(config.sources) if config else [])
        outbox = store.outbox_summary(failed_since=now - timedelta(days=1))
        alert_counts = store.alert_counts()
        failed = store.undelivered(limit=5)
    failing_after = config.alerts.source_down_after if config else 3
    unavailable = dict(_unavailable(config)) if config else {}
    found = health.problems(lines, outbox, failing_after=failing_after, now=now, unavailable=unavailable)
    if check:
        for problem in found:
            click.echo(problem)
        if found:
            ctx.exit(1)
        click.echo(f"healthy: {len(lines)} sources, {sum(r.get('pending', 0) for r in outbox)} alerts pending")
        return
    table = []
    for line in lines:
        row = line.row
        if not line.in_config:
            every = "not in config"
        elif not line.enabled:
            every = "off"
        else:
            every = format_duration(line.every)
        late = health.overdue_by(line, now)
        next_check = ("overdue " + health.format_age(late)) if late else (_ago(row.get("next_check_at"), now) if row.get("next_check_at") else "at start")
        table.append([
            line.name, line.type, every, _ago(row.get("last_success_at"), now),
            _clean(row.get("last_error"), 60) if row.get("error_count") else "-",
            row.get("error_count", 0), next_check, row.get("mentions_stored", 0),
        ])
    click.echo(tabulate(table, headers=["source", "type", "every", "last success", "last error", "fails", "next check", "mentions"]))
    for line in lines:
        if line.row.get("last_warning") and not line.row.get("error_count"):
            click.echo(f"  warning, {line.name}: {_clean(line.row['last_warning'], 300)}")
    click.echo("")
    click.echo("alerts: " + (", ".join(f"{n} {s}" for s, n in sorted(alert_counts.items())) or "none yet"))
    for row in failed:
        what = "undeliverable to" if row["status"] == "failed" else "unconfirmed (check the channel) for"
        click.echo(f"  {what} {row['receiver']}: {_clean(row['last_error'], 100)}")
    for problem in found:
        click.echo(f"problem: {problem}")
    for warning in missing_secrets(config) if config else []:
        click.echo(f"warning: {warning}")


def _unavailable(config) -> list[tuple[str, str]]:
    """Receivers that cannot send, and why (a secret not set)."""
    return [(r.name, f"environment variable {r.secret_env} is not set") for r in config.receivers
            if getattr(r, "secret_env", "") and not os.environ.get(r.secret_env)]


def _store_history(runtime: Runtime, store: Store, now) -> None:
    """The demo's two weeks of forum history, through the same stages a source's posts take."""
    posts = [
        Mention(source="forum", id=p["id"], url=f"https://forum.example/t/{p['id']}", text=p["text"],
                published_at=p["at"], author=p["author"], source_type="discourse")
        for p in demo_data.history(now)
    ]
    store.ensure_source("forum", "discourse", now=now)
    ingest(posts, "forum", runtime, store, now=now)
    store.record_success("forum", SourceState(), now=now, next_check_at=now)


@main.command()
@click.option("--since", "since", default="30d", show_default=True, help="Replay mentions published this long ago until now.")
@click.option("--until", "until", default=None, help="End of the period, as a duration ago (default: now).")
@click.option("--brand", "brands", multiple=True, help="Only this brand (repeatable; default: every brand).")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per spike instead of text.")
@click.pass_context
def backtest(ctx: click.Context, since: str, until: str | None, brands: tuple[str, ...], as_json: bool) -> None:
    """Replay stored mentions through the current spike settings and print what would have fired.

    Nothing is written: tune spikes: in config.yaml on your own history before changing it.
    """
    config = _load(ctx)
    span, end_ago = _duration(since), _duration(until) if until else timedelta(0)
    end = utcnow() - end_ago
    names = list(brands) or [b.name for b in config.brands]
    held: list[Held] = []
    with Store(_database(ctx, config), readonly=True) as store:
        fired = advance(store, names, config.spikes.settings(), now=end, settle=timedelta(0), history=span,
                        states={}, save=False, held=held)
    for item in fired:
        click.echo(json.dumps(spike_row(item), ensure_ascii=False, default=str) if as_json else describe(item) + "\n")
    click.echo(f"{len(fired)} spikes and drops would have fired between {to_iso(end - span)} and {to_iso(end)}"
               f" ({', '.join(names)}).", err=as_json)
    brand_level = [h for h in held if h.source == ALL_SOURCES]
    if brand_level:
        top = max(brand_level, key=lambda h: h.size / h.bar if h.bar else 0.0)
        click.echo(f"{len(brand_level)} brand-level bursts were held back as smaller than recent ones (closest: "
                   f"{top.measure.replace('_', ' ')} of {top.brand} ending {to_iso(top.ended_at)}, {top.size:.3f} days of "
                   f"normal volume against a bar of {top.bar:.3f}); lower spikes.novelty to hear such bursts.",
                   err=as_json)


@main.group("alerts")
def alerts_group() -> None:
    """Check the receivers' wiring, and see what would be sent."""


def _sample_alert(now) -> Alert:
    mention = Mention(
        source="sample", id="sample-1", url="https://example.com/monitor-test", published_at=now,
        title="Test alert from the reputation monitor", text="If you can read this, the receiver works. <!channel> stays text.",
        author="monitor", author_name="Reputation monitor", source_type="rss",
    )
    judged = Judged(mention, Match(("(test)",), ("test",)), Score(-0.5, "assassin", ("a test, not a real post",), None, 0.9),
                    Reach(1, 19, "test: no real audience", 3))
    return Alert(f"test:{to_iso(now)}", "test", "(test)", "sample", "warning", "a test sent by monitor alerts test",
                 (judged,), now)


@alerts_group.command("test")
@click.argument("receiver")
@click.pass_context
def alerts_test(ctx: click.Context, receiver: str) -> None:
    """Send a sample alert to RECEIVER now (not through the outbox), to check its wiring."""
    config = _load(ctx)
    names = [r.name for r in config.receivers]
    if receiver not in names:
        raise click.BadParameter(f"unknown receiver {receiver!r} — use one of: {', '.join(names)}")
    notifiers, unavailable = build_notifiers(config)
    if receiver not in notifiers:
        raise click.ClickException(f"receiver {receiver} cannot send: {unavailable.get(receiver, 'not configured')}")
    try:
        notifiers[receiver].send(_sample_alert(utcnow()))
    except NotifyError as exc:
        raise click.ClickException(f"receiver {receiver}: {exc}") from exc
    click.echo(f"sent a test alert to {receiver}")


@alerts_group.command("preview")
@click.option("--slack", "as_slack", is_flag=True, help="Print the Slack payload (fallback text and Block Kit) instead.")
@click.pass_context
def alerts_preview(ctx: click.Context, as_slack: bool) -> None:
    """Render what the outbox would send next, one message per waiting group, without sending it."""
    with Store(_database(ctx), readonly=True) as store:
        groups = store.due_groups(now=None)
        previews = []
        for group in groups:
            rows = store.group_pending(group["receiver"], group["group_key"], now=None)
            if rows:
                alerts = [row_alert(r) for r in rows]
                previews.append((group, merge(alerts, key=group["group_key"])))
    if not previews:
        click.echo("nothing waiting to be sent", err=True)
        return
    for group, alert in previews:
        click.echo(f"--- to {group['receiver']}, group {group['group_key']}, due {group['next_flush_at']}")
        if as_slack:
            text, blocks = render_slack(alert)
            click.echo(json.dumps({"text": text, "blocks": blocks}, ensure_ascii=False, indent=2))
        else:
            click.echo(render_text(alert))


@main.command("digest")
@click.option("--period", default="1d", show_default=True, help="The period summed up, against the one before it.")
@click.option("--send", is_flag=True, help="Send it through the routes now instead of printing it.")
@click.pass_context
def digest_command(ctx: click.Context, period: str, send: bool) -> None:
    """Each brand's digest: buckets and net score against the previous period, top assassins and advocates."""
    config = _load(ctx)
    span = _duration(period)
    now = utcnow()
    with Store(_database(ctx, config), readonly=not send) as store:
        alerts = [digest_alert(store, b.name, now=now, period=span) for b in config.brands]
        if not send:
            for alert in alerts:
                click.echo(render_text(alert) + "\n")
            return
        with make_client(contact=config.contact) as client:
            runtime = Runtime.build(config, client=client)
            queued = enqueue(alerts, runtime, store, now=now)
            report = deliver(runtime, store, now=now, flush=True)
    click.echo(f"{queued} digests queued, {report.sent} sent, {report.retrying} to retry, {report.failed} failed")


@main.group()
def silence() -> None:
    """Hold back alerts that match, for a while: add, list, expire (stored in the database)."""


@silence.command("add")
@click.argument("matchers", nargs=-1, required=True)
@click.option("--for", "duration", required=True, help="How long it lasts (mandatory): 30m, 2h, 1d.")
@click.option("--author", required=True, help="Who silenced it.")
@click.option("--reason", required=True, help="Why, for whoever wonders where the alerts went.")
@click.pass_context
def silence_add(ctx: click.Context, matchers: tuple[str, ...], duration: str, author: str, reason: str) -> None:
    """Silence alerts matching every MATCHER (brand="Acme Cloud", kind=assassin, source=~"reddit.*")."""
    try:
        for text in matchers:
            check_matcher(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    length = _duration(duration)
    if length <= timedelta(0):
        raise click.BadParameter("a silence must last a while — e.g. --for 2h")
    now = utcnow()
    with Store(_database(ctx)) as store:
        ident = store.add_silence(list(matchers), author=author, reason=reason, starts_at=now, expires_at=now + length, now=now)
    click.echo(f"silence {ident}: {' '.join(matchers)} until {to_iso(now + length)}")


@silence.command("list")
@click.option("--all", "show_all", is_flag=True, help="Expired ones too.")
@click.pass_context
def silence_list(ctx: click.Context, show_all: bool) -> None:
    """The active silences (with --all, the expired ones too)."""
    now = utcnow()
    with Store(_database(ctx), readonly=True) as store:
        rows = store.silences(now=None if show_all else now)
    if not rows:
        click.echo("no silences", err=True)
        return
    click.echo(tabulate(
        [[r["id"], " ".join(r["matchers"]), _clean(r["author"], 20), _clean(r["reason"], 40), r["expires_at"],
          "active" if from_iso(r["expires_at"]) > now else "expired"] for r in rows],
        headers=["id", "matchers", "author", "reason", "expires (UTC)", "state"],
    ))


@silence.command("expire")
@click.argument("silence_id", type=int)
@click.pass_context
def silence_expire(ctx: click.Context, silence_id: int) -> None:
    """End silence SILENCE_ID now."""
    with Store(_database(ctx)) as store:
        if not store.expire_silence(silence_id, now=utcnow()):
            raise click.ClickException(f"no active silence {silence_id} (see monitor silence list)")
    click.echo(f"silence {silence_id} expired")


@main.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """See what the monitor does, offline, in seconds: the real pipeline over sample posts.

    Writes a fresh demo database (data/demo.db, or --db), never your real one.
    """
    demo_db = ctx.obj["db"] or "data/demo.db"
    started = time.perf_counter()
    for suffix in ("", "-wal", "-shm"):
        Path(demo_db + suffix).unlink(missing_ok=True)
    now = utcnow()
    with demo_data.serve(now) as base:
        config = parse_config(demo_data.DEMO_CONFIG.format(base=base), path="demo config")
        click.echo(f"Demo: sample posts served from {base}; brand 'Acme Cloud'; database {demo_db}\n")
        with Store(demo_db) as store, make_client(contact=config.contact) as client:
            runtime = Runtime.build(config, client=client)
            _store_history(runtime, store, now)
            reports = run_once(runtime, store, now=now)
            buckets = Counter(r["bucket"] for r in store.db.query("SELECT bucket FROM mentions"))
    for r in reports:
        if r.error:
            click.echo(f"{r.source}: failed: {r.error}", err=True)
    stored = sum(buckets.values())
    click.echo(
        f"Stored {stored} mentions ({buckets['advocate']} advocates, {buckets['apathetic']} apathetic, "
        f"{buckets['assassin']} assassins) in {time.perf_counter() - started:.1f}s. Explore them with:\n"
        f"  monitor --db {demo_db} search refund\n"
        f"  sqlite3 {demo_db} 'select brand, bucket, sentiment, reach_low, reach_high, title from mentions'\n"
        f"  sqlite3 {demo_db} 'select * from brand_health_daily'"
    )


if __name__ == "__main__":  # pragma: no cover
    main()
