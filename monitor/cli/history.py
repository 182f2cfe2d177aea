"""`monitor backtest` and `monitor demo`: replaying stored history, and the offline demo."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor import demo as demo_data
from monitor.cli.common import (
    _database,
    _duration,
    _load,
    invocation,
)
from monitor.models import (
    Mention,
    SourceState,
    is_postgres,
    to_iso,
)

if TYPE_CHECKING:  # names for type hints only: the modules load when a command needs them
    from monitor.runtime import Runtime
    from monitor.store import Store


def _store_history(runtime: Runtime, store: Store, now) -> None:
    """The demo's two weeks of forum history, through the same stages a source's posts take."""
    from monitor.ingest import ingest
    posts = [
        Mention(source="forum", id=p["id"], url=f"https://forum.example/t/{p['id']}", text=p["text"],
                published_at=p["at"], author=p["author"], source_type="discourse")
        for p in demo_data.history(now)
    ]
    store.ensure_source("forum", "discourse", now=now)
    ingest(posts, "forum", runtime, store, now=now)
    store.record_success("forum", SourceState(), now=now, next_check_at=now)


@click.command()
@click.option("--since", "since", default="30d", show_default=True, help="Replay mentions published this long ago until now.")
@click.option("--until", "until", default=None, help="End of the period, as a duration ago (default: now).")
@click.option("--brand", "brands", multiple=True, help="Only this brand (repeatable; default: every brand).")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per storm instead of text.")
@click.pass_context
def backtest(ctx: click.Context, since: str, until: str | None, brands: tuple[str, ...], as_json: bool) -> None:
    """Replay stored mentions through the current spike settings and print the storms that would
    have fired: one per burst, in words first, the numbers under it.

    Nothing is written: tune spikes: in config.yaml on your own history before changing it.
    """
    import concurrent.futures  # the backtest's alone: not on every command's start-up
    import functools
    import os

    from monitor.judgement.series import ALL_SOURCES
    from monitor.judgement.series import times as bar_times
    from monitor.judgement.storms import describe as describe_storm
    from monitor.judgement.storms import span as span_words
    from monitor.models import utcnow
    from monitor.watch import replay
    config = _load(ctx)
    span, end_ago = _duration(since), _duration(until) if until else timedelta(0)
    end = utcnow() - end_ago
    names = list(brands) or [b.name for b in config.brands]
    run = functools.partial(replay, _database(ctx, config), settings=config.spikes.settings(), end=end, history=span)
    # Brands share nothing: one process each, as many at once as there are cores (a 5-minute
    # window is ~8,600 detector updates a month per series, two dozen series a brand).
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = min(len(names), cores)
    if workers > 1:
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            replays = list(pool.map(run, names))
    else:
        replays = [run(name) for name in names]
    fired = [item for r in replays for item in r.fired]
    held = [h for r in replays for h in r.held]
    storms = [pair for r in replays for pair in r.storms]
    for storm, posts in storms:
        if as_json:
            row = storm.to_row()
            click.echo(json.dumps({k: v for k, v in row.items() if k != "windows"}, ensure_ascii=False, default=str))
        else:
            click.echo(describe_storm(storm, posts) + "\n")
    click.echo(f"{len(storms)} storm{'' if len(storms) == 1 else 's'} ({len(fired)} series fired) between "
               f"{to_iso(end - span)} and {to_iso(end)}"
               f" ({', '.join(names)}).", err=as_json)
    if storms and not as_json:
        click.echo("Storms the settings would have paged (brand, when, how long, posts against expected, peak):")
        for storm, _ in storms:
            if storm.kind == "spike":
                click.echo(f"  {storm.brand}  {storm.start:%Y-%m-%d %H:%M} UTC  {span_words(storm.end - storm.start)}  "
                           f"{storm.posts:,} {storm.measure} against {storm.expected:,.0f} expected  ({_peak(storm)})")
            else:
                click.echo(f"  {storm.brand}  {storm.start:%Y-%m-%d %H:%M} UTC  drop on "
                           f"{'all sources' if storm.source == ALL_SOURCES else storm.source}")
    brand_level = [h for h in held if h.source == ALL_SOURCES]
    recurring = [h for h in brand_level if h.why == "recurs daily"]
    weather = [h for h in brand_level if h.why != "recurs daily"]
    if recurring:
        click.echo(f"{len(recurring)} brand-level burst{'s' if len(recurring) != 1 else ''} held back as recurring at the "
                   f"time of day of an earlier day's (the last: {recurring[-1].measure.replace('_', ' ')} of "
                   f"{recurring[-1].brand} at {to_iso(recurring[-1].at)}); spikes.recurring_days: 0 pages them.",
                   err=as_json)
    if weather:
        top = max(weather, key=lambda h: h.size / h.bar if h.bar else 0.0)
        click.echo(f"{len(weather)} brand-level burst{'s' if len(weather) != 1 else ''} held back as within the "
                   f"series' ordinary daily peaks (closest: {top.measure.replace('_', ' ')} of {top.brand} at "
                   f"{to_iso(top.at)}, {top.size:.1f}× expected where {bar_times(top.bar)} was needed); lower "
                   f"spikes.bar_factor to hear such bursts.", err=as_json)


def _empty_a_demo_database(url: str) -> None:
    """A PostgreSQL database is emptied for the demo only when all it holds is an earlier demo's:
    one whose sources are others is somebody's real store, and is left alone with a clear error."""
    from monitor.store import Store
    from monitor.store.pgdb import where

    with Store(url) as store:
        theirs = sorted({row["name"] for row in store.sources_status()} - set(demo_data.SOURCES))
        if theirs:
            raise click.ClickException(
                f"{where(url)} holds sources the demo does not have ({', '.join(theirs[:5])}"
                f"{', …' if len(theirs) > 5 else ''}): the demo writes only to a database of its own"
                " — create one (createdb monitor_demo) and point --db at it")
        store.clear()


@click.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """See what the monitor does, offline, in seconds: the real pipeline over sample posts.

    Writes a fresh demo database (data/demo.db, or --db), never your real one.
    """
    from connectors.http import make_client
    from monitor.config_check import parse_config
    from monitor.pipeline import run_once
    from monitor.runtime import Runtime
    from monitor.models import utcnow
    from monitor.store import Store
    demo_db = ctx.obj["db"] or "data/demo.db"
    started = time.perf_counter()
    if is_postgres(demo_db):
        _empty_a_demo_database(demo_db)
    else:
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
            buckets = store.bucket_totals()
    for r in reports:
        if r.error:
            click.echo(f"{r.source}: failed: {r.error}", err=True)
    stored = sum(buckets.values())
    me = invocation()
    click.echo(
        f"Stored {stored} mentions ({buckets['advocate']} advocates, {buckets['apathetic']} apathetic, "
        f"{buckets['assassin']} assassins) in {time.perf_counter() - started:.1f}s. Explore them with:\n"
        f"  {me} --db {demo_db} search refund\n"
        f"  {me} --db {demo_db} backtest --since 30d\n"
        f"  {me} --db {demo_db} serve          (the web UI, on http://127.0.0.1:8001)"
    )


def _peak(storm) -> str:
    """The storm's peak window against expected: of its headline measure, or where that did not
    fire itself (a storm heard on its reach) of the series that fired, named; where about nothing
    was expected a ratio says nothing, so the busiest window's count instead."""
    seen: dict[str, list] = {}
    for numbers_of in storm.windows.values():
        for name, numbers in numbers_of.items():
            seen.setdefault(name, []).append(numbers)
    measure = storm.measure if seen.get(storm.measure) else next(iter(sorted(seen)), storm.measure)
    named = "" if measure == storm.measure else f" in {measure.replace('_', ' ')}"
    ratios = [n[0] / n[1] for n in seen.get(measure, []) if n[1] >= 0.05]
    if ratios:
        return f"peak window {max(ratios):,.1f}×{named}"
    return f"peak window {max((n[0] for n in seen.get(measure, [])), default=0):,.0f}{named} against about 0 expected"
