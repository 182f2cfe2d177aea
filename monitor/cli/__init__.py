"""The ``monitor`` command line (click)."""

from __future__ import annotations

import json
import logging
import re
import signal
import threading
from datetime import timedelta
from pathlib import Path

import click

from monitor import health
from monitor.cli.common import (
    DEFAULT_CONFIG,
    _ago,
    _clean,
    _Commands,
    _database,
    _database_only,
    _duration,
    _load,
    _override,
    _print_problems,
    _when,
    write_rows,
)
from monitor.errors import ConfigError
from monitor.logs import setup_logging
from monitor.models import Mention, format_duration, is_postgres


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
    from monitor.scheduler import Monitor
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
    from connectors.http import make_client
    from monitor.pipeline import run_once
    from monitor.runtime import Runtime
    from monitor.models import utcnow
    from monitor.store import Store
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


@main.command()
@click.option("--brand", "brands", multiple=True, required=True, help="The brand to look for (repeatable).")
@click.option("--since", default=None, help="How far back (default: refresh.backfill, 7d).")
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable; default: every enabled one).")
@click.pass_context
def backfill(ctx: click.Context, brands: tuple[str, ...], since: str | None, sources: tuple[str, ...]) -> None:
    """Look for a brand again in its sources, back as far as --since (or each API allows): the posts
    they already served that name it are stored (as `monitor run` does when a brand is added)."""
    from connectors.http import make_client
    from monitor.ingest import backfill_source
    from monitor.models import utcnow
    from monitor.runtime import Runtime
    from monitor.store import Store
    from monitor.workers import held
    config = _load(ctx)
    unknown = sorted(set(brands) - {b.name for b in config.brands})
    if unknown:
        raise click.BadParameter(f"no brand {', '.join(map(repr, unknown))} in the config; it has: "
                                 f"{', '.join(b.name for b in config.brands)}", param_hint="--brand")
    chosen = [s for s in config.sources if s.enabled and (not sources or s.name in sources)]
    span = _duration(since) if since else config.refresh.backfill
    found = 0
    with Store(_database(ctx, config)) as store, make_client(contact=config.contact) as client:
        runtime = Runtime.build(config, client=client)
        for options in chosen:
            now = utcnow()
            store.ensure_source(options.name, options.type, now=now)
            with held(store, f"source:{options.name}", now=now) as ours:
                if not ours:
                    click.echo(f"{options.name}: skipped, a running monitor holds it now; try again in a minute")
                    continue
                r = backfill_source(options, runtime, store, brands=list(brands), since=span, now=now)
            found += r.stored
            click.echo(f"{r.source}: " + (f"failed: {r.error}" if r.error else
                                          f"{r.fetched} fetched, {r.matched} matched, {r.stored} new"))
    click.echo(f"{found} new mention{'s' if found != 1 else ''} of {', '.join(brands)} stored", err=True)


@main.command("check-config")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--print", "show", is_flag=True, help="Also print the normalized config (defaults filled in, secrets hidden).")
@click.pass_context
def check_config(ctx: click.Context, path: str | None, show: bool) -> None:
    """Validate PATH (default: --config): OK with a summary, or every error with its line, key path and fix."""
    import yaml
    from monitor.config import missing_secrets, redacted
    config = _load(ctx, path)
    if show:
        click.echo(yaml.dump(redacted(config), Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False,
                             allow_unicode=True), nl=False)
    from monitor.request_costs import source_costs
    costs, over = source_costs(config)
    encoder = _encoder_missing(config)
    for warning in [*missing_secrets(config), *over, *([encoder] if encoder else [])]:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{path or ctx.obj['config']}: OK ({len(config.brands)} brands, {len(config.sources)} sources, "
               f"{len(config.receivers)} receivers)", err=True)
    if costs:
        click.echo("requests a run, against each API's documented limit:\n" + "\n".join(costs), err=True)
    for receiver in config.receivers:
        if getattr(receiver, "app_token_env", None):
            click.echo(f"receiver {receiver.name}: its buttons need a Slack app with Socket Mode and Interactivity on, "
                       f"an app-level token (xapp-…, scope connections:write) in {receiver.app_token_env}, the bot "
                       f"token's scopes chat:write and channels:read (groups:read for a private channel), and the bot "
                       f"in channel {receiver.channel}", err=True)


def _encoder_missing(config) -> str | None:
    """What check-config says when the sentence encoder the config asks for cannot run here."""
    if config.sentiment.encoder == "off":
        return None
    from monitor.judgement.encoder import missing

    why = missing()
    if why is None:
        return None
    return (f"sentiment.encoder: {config.sentiment.encoder}, but {why}; the assassin call will read words only"
            + (" (set it to auto or off to say that is intended)" if config.sentiment.encoder == "always" else ""))


@main.command("config-schema")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of standard output.")
def config_schema(output: str | None) -> None:
    """Print the JSON Schema of config.yaml (the repository publishes it as config.schema.json)."""
    from monitor.config import json_schema
    text = json.dumps(json_schema(), indent=2) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@main.command()
@click.argument("query")
@click.option("--limit", "-n", default=20, show_default=True, help="At most this many results.")
@click.option("--brand", help="Only mentions naming this brand (any case).")
@click.option("--source", help="Only this source's mentions.")
@click.option("--bucket", type=click.Choice(["assassin", "advocate", "apathetic", "unscored"]), help="Only this bucket.")
@click.option("--since", help="Published at or after: a time ago (7d, 12h) or a date (2026-11-01).")
@click.option("--until", help="Published before: a time ago or a date.")
@click.option("--min-reach", type=click.IntRange(min=0), help="Likely reach at least this.")
@click.option("--order", type=click.Choice(["rank", "newest"]), default="rank", show_default=True,
              help="rank: the best matches among the newest --among; newest: the newest matches.")
@click.option("--among", default=10_000, show_default=True, type=click.IntRange(min=1),
              help="With --order rank, how many of the newest matches are ranked (keeps a common word fast).")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl", "csv"]), default="table", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="The same as --format jsonl.")
@click.pass_context
def search(ctx: click.Context, query: str, limit: int, brand: str | None, source: str | None, bucket: str | None,
           since: str | None, until: str | None, min_reach: int | None, order: str, among: int, fmt: str,
           as_json: bool) -> None:
    """Full-text search over stored mentions (FTS5 syntax: words, "phrases", OR, NOT, prefix*)."""
    from monitor.store import Store
    from tabulate import tabulate
    with Store(_database_only(ctx), readonly=True) as store:
        used, note = store.fts_query(query)
        if note:
            click.echo(f"search: {note}", err=True)
        filters = dict(brand=brand, source=source, bucket=bucket, since=_when(since, "--since"),
                       until=_when(until, "--until"), min_reach=min_reach)
        rows = store.search(query, limit=limit, order=order, among=among, **filters)
        total, more = store.count_matches(query, among=among, **filters) if len(rows) >= limit else (len(rows), False)
        known = store.brand_names() if brand and not rows else []
    if brand and not rows and brand.casefold() not in {b.casefold() for b in known}:
        click.echo(f"search: no brand {brand!r} in the store; it has: {', '.join(known) or 'none yet'}", err=True)
    fmt = "jsonl" if as_json else fmt
    shown = (f"{len(rows):,} of {total:,}{'+' if more else ''} matches"
             + (f" (the newest {among:,} ranked; --among for more)" if more and order == "rank" else "")
             + (f"; --limit {min(total, limit * 5)} for more" if total > len(rows) else ""))
    if fmt != "table":
        write_rows(rows, fmt)
        click.echo(f"search: {shown}", err=True)
        return
    if not rows:
        click.echo("no mentions match", err=True)
        return
    table = [
        [
            row["published_at"][:16].replace("T", " "), _clean(row["brand"], 16), _said_by(row),
            f"{row['sentiment']:+.2f}" if row["sentiment"] is not None else "-",
            f"{row['reach_likely']:,}" if row["reach_likely"] is not None else "-", _clean(row["author"], 16),
            _clean(row["title"] or row["text"], 50), _clean(f"{row['source']}:{row['id']}", 30),
        ]
        for row in rows
    ]
    click.echo(tabulate(table, headers=["published (UTC)", "brand", "bucket", "sent.", "reach", "author", "title",
                                        "id (for monitor label)"]))
    click.echo(shown)


def _said_by(row: dict) -> str:
    """A search row's bucket, or who spoke where it was not a customer (the press: hostile where the
    call read an assassin's words; the brand's own)."""
    if row.get("speaker") == "press":
        return "press, hostile" if row.get("read_as") == "assassin" else "press"
    if row.get("speaker") == "brand":
        return "brand's own"
    return row["bucket"] or "-"


@main.command()
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--brand", help="The brand the texts are about (default: a line's own 'brand', else none).")
@click.pass_context
def classify(ctx: click.Context, source, brand: str | None) -> None:
    """Classify texts as the pipeline would: one JSON line per input line.

    SOURCE (default: standard input) holds one text per line, or JSON lines with a "text" field and
    an optional "brand". Thresholds come from the config when it exists, else the defaults; the
    assassin call is the site's refit (beside the database) when there is one, else the shipped
    model, and each line says which ("model") and what each of its heads said ("heads").
    """
    from monitor.assassin_model import ModelSource
    from monitor.config import Sentiment
    from monitor.ingest import detect_language, normalize, scored_text
    from monitor.judgement.language import LanguageDetector
    from monitor.judgement.sentiment import Scorer, score_all
    from monitor.runtime import keyword_matcher
    from monitor.models import utcnow
    from monitor.cli.learning import model_name

    path = Path(ctx.obj["config"])
    config = _load(ctx) if path.exists() else None
    sentiment = config.sentiment if config else Sentiment()
    matcher = keyword_matcher(config) if config else None
    scorer, detector = Scorer(), LanguageDetector()
    models = ModelSource()
    model = models.current(_database(ctx, config) if config or _override(ctx) else None)
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
        # The stages a source's post takes: normalize, then the language where none is given.
        post = detect_language(normalize(Mention(source="classify", id=str(number), url=None, text=item["text"],
                                                 published_at=utcnow(), language=item.get("language"))), detector)
        about_brand = item.get("brand") or brand
        about = None
        language = post.language
        text = scored_text(post)
        if about_brand:
            known = [b.name for b in config.brands] if config else []
            about = matcher.brand_pattern([about_brand]) if matcher and about_brand in known else re.compile(
                rf"(?<!\w){re.escape(about_brand)}(?!\w)", re.IGNORECASE)
        elif matcher:  # the brands the config's rules find in it, as the pipeline reads a post about them
            found = matcher.match(text, language)
            about = matcher.brand_pattern(found.brands) if found else None
        calls: list = []
        (result,) = score_all(scorer, [(text, language, about)], advocate_above=sentiment.advocate_above,
                              assassin_threshold=sentiment.assassin_threshold, model=model, calls=calls,
                              encoder=lambda: models.encoder(sentiment.encoder), encoder_mode=sentiment.encoder)
        heads = calls[0].heads if calls[0] is not None else None  # the text read once
        click.echo(json.dumps({
            "compound": result.compound, "bucket": result.bucket, "assassin_score": result.assassin_score,
            "reasons": list(result.reasons), "language": language, "unscored_reason": result.unscored_reason,
            "model": model_name(model), "heads": heads, **({"id": item["id"]} if "id" in item else {}),
        }, ensure_ascii=False))


@main.command()
@click.option("--check", is_flag=True, help="Exit 1 with one line per problem (a source failing or overdue, an alert "
              "undeliverable or stuck), 0 when healthy: for cron, systemd and container health checks.")
@click.pass_context
def status(ctx: click.Context, check: bool) -> None:
    """What the database holds: per source its last success, error, next check and mentions
    (sources not in the config are marked), and the alert outbox."""
    from monitor.config import missing_secrets
    from monitor.config import unavailable_receivers
    from monitor.models import from_iso, utcnow
    from monitor.store import Store
    from monitor.workers import SILENT
    from tabulate import tabulate
    config = _load(ctx) if Path(ctx.obj["config"]).exists() or not _override(ctx) else None
    now = utcnow()
    database = _database(ctx, config)
    # --db pointing at another database than the config's (the demo's): the config's sources that
    # never ran there are not that database's, so they are not listed as "never".
    elsewhere = config is not None and _override(ctx) is not None and not _same_database(database, config)
    with Store(database, readonly=True) as store:
        rows = store.sources_status()
        configured = list(config.sources) if config else []
        if elsewhere:
            configured = [s for s in configured if s.name in {r["name"] for r in rows}]
        lines = health.source_lines(rows, configured)
        outbox = store.outbox_summary(failed_since=now - timedelta(days=1))
        alert_counts = store.alert_counts()
        failed = store.undelivered(limit=5)
        held = store.leases(now=now)
        workers = store.workers(since=now - timedelta(days=1))
        acted = store.acknowledgements(since=now - timedelta(days=1))
    failing_after = config.alerts.source_down_after if config else 3
    unavailable = unavailable_receivers(config) if config else {}
    found = health.problems(lines, outbox, failing_after=failing_after, now=now, unavailable=unavailable,
                            receivers=[r.name for r in config.receivers] if config else None)
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
        if line.access and line.enabled:
            click.echo(f"  access, {line.name}: {line.access}")
        if line.row.get("last_refresh_error"):
            click.echo(f"  re-reading reach, {line.name}: {_clean(line.row['last_refresh_error'], 300)}")
    for row in workers:  # the monitor run processes on this database
        # A live worker is heard from every 30 s and says goodbye when it stops: one silent for
        # longer died without stopping (killed, crashed, its host gone); its leases lapse by themselves.
        silent = (now - from_iso(row["heartbeat_at"])) > SILENT
        click.echo(f"  worker {_clean(row['name'], 100)}: heard from {_ago(row['heartbeat_at'], now)},"
                   f" started {_ago(row['started_at'], now)}"
                   + ("; silent since, without stopping cleanly (killed or crashed?)" if silent else ""))
    for lease in held:  # several workers on one database: who is running what now
        click.echo(f"  running, {lease['name'].removeprefix('source:')}: worker {_clean(lease['owner'], 100)},"
                   f" lease until {lease['until']}")
    click.echo("")
    click.echo("alerts: " + (", ".join(f"{n} {s}" for s, n in sorted(alert_counts.items())) or "none yet"))
    sent, acked, median = acted
    if acked:  # buttons in use (Socket Mode): how fast the team answers
        click.echo(f"  last 24 h: {sent} assassin and storm notifications, {acked} acknowledged"
                   + (f", median time to acknowledge {median:.0f} min" if median is not None else ""))
    for row in failed:
        what = "undeliverable to" if row["status"] == "failed" else "unconfirmed (check the channel) for"
        click.echo(f"  {what} {row['receiver']}: {_clean(row['last_error'], 100)}")
    for problem in found:
        click.echo(f"problem: {problem}")
    for warning in missing_secrets(config) if config else []:
        click.echo(f"warning: {warning}")


def _same_database(database: str, config) -> bool:
    """Whether ``database`` is the one the config names (a path relative to the config's folder)."""
    theirs = config.database
    if database == theirs or is_postgres(database) or is_postgres(theirs):
        return database == theirs
    return Path(database).resolve() == Path(theirs).resolve()


def _register() -> None:
    """The commands that live in the package's other modules."""
    from monitor.cli import alerting, exports, history, learning, migrate, web

    for command in (history.backtest, alerting.alerts_group, alerting.digest_command, alerting.silence, history.demo,
                    learning.label, learning.train, exports.export, web.serve, web.report, migrate.migrate):
        main.add_command(command)


_register()


if __name__ == "__main__":  # pragma: no cover
    main()
