"""`monitor serve`: the store in Datasette, read-only, for PR teams."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import click

from monitor.cli.common import _database_only, _when

LOCAL = ("127.0.0.1", "localhost", "::1")


@click.command()
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback exposes every stored post: put it behind an "
                   "authenticating proxy (or datasette-auth-passwords) first.")
@click.option("--base-url", help="The address people open (behind a proxy: its public URL), for the links between "
                                  "pages (default: http://HOST:PORT).")
@click.option("--metadata", "metadata_out", type=click.Path(dir_okay=False),
              help="Write Datasette's metadata (descriptions, canned queries) here and exit.")
@click.option("--private", is_flag=True,
              help="Hide who labelled and silenced what (the labels and silences tables, and SQL of one's own, "
                   "which could read them) and the database's place on disk from whoever opens the pages.")
@click.pass_context
def serve(ctx: click.Context, port: int, host: str, base_url: str | None, metadata_out: str | None,
          private: bool) -> None:
    """Browse the store in Datasette (read-only: a running monitor keeps writing): every table
    described, and canned queries for what PR teams ask (assassins of the last 7 days, brand
    health by day, spikes and their posts, authors who changed sides, top advocates, search)."""
    from monitor.models import is_postgres
    from monitor.serve import metadata
    from monitor.store import Store

    database = _database_only(ctx)
    if is_postgres(database):
        raise click.UsageError("monitor serve shows a SQLite store (Datasette reads SQLite); on PostgreSQL query the"
                               " same tables with your own tools (psql, Metabase, Grafana, a notebook): see monitor/schema.md")
    Store(database, readonly=True).close()  # a clear error for a missing or newer database
    meta = metadata(Path(database).stem, base_url or f"http://{host}:{port}", private=private)
    if metadata_out:
        Path(metadata_out).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return
    if host not in LOCAL:
        click.echo(f"warning: serving on {host}: anyone who reaches this address reads every stored post and "
                   "author; put it behind an authenticating proxy", err=True)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "metadata.json"
        path.write_text(json.dumps(meta), encoding="utf-8")
        where = Path(database).resolve()
        if private:  # Datasette shows the path it was given: give it the file's name, from its folder
            os.chdir(where.parent)
        args = ["serve", where.name if private else str(where), "--metadata", str(path), "--host", host, "--port",
                str(port), "--setting", "sql_time_limit_ms", "3000", "--setting", "default_page_size", "50",
                # Suggesting facets runs a query per column: 3.7 s of a million-mention page.
                "--setting", "suggest_facets", "off"]
        click.echo(f"serving {database} read-only at http://{host}:{port}/ (Ctrl-C stops)", err=True)
        from datasette.cli import cli as datasette  # in this process: a stopped monitor leaves no server behind
        from datasette.plugins import pm

        from monitor import webui  # the dashboard at /, readable tables, text_key for to_label

        if not pm.is_registered(webui):
            pm.register(webui, name="monitor-webui")

        datasette.main(args=args, prog_name="datasette", standalone_mode=False)


@click.command()
@click.option("--since", default="7d", show_default=True, help="The period: a time ago (7d) or a date (2026-11-01).")
@click.option("--until", help="The period's end (default: now).")
@click.option("--brand", "brands", multiple=True,
              help="Only this brand (repeatable; default: every brand in the store but the competitors).")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, writable=True), help="The HTML file to write.")
@click.option("--pdf", "pdf", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Also print it to this PDF with headless Chromium (where it is installed).")
@click.pass_context
def report(ctx: click.Context, since: str, until: str | None, brands: tuple[str, ...], out: str, pdf: str | None) -> None:
    """Write one self-contained HTML report a PR lead can mail: mentions per day by bucket, the
    bucket mix, net score and reach against the period before, assassins' reach with its outlier
    named, share of voice against the competitors, sources, the storms in plain words, top
    assassins and advocates (distinct texts) with links, authors who changed bucket."""
    from datetime import datetime, timezone

    from monitor.report import gather, render
    from monitor.store import Store

    now = datetime.now(timezone.utc).replace(microsecond=0)
    start, end = _when(since, "--since"), _when(until, "--until") or now
    with Store(_database_only(ctx), readonly=True) as store:
        known = store.brand_names()
        rivals = set(store.competitor_names())  # in every section's share of voice, not a section of their own
        chosen = [next((k for k in known if k.casefold() == b.casefold()), b) for b in brands] or [
            k for k in known if k not in rivals] or known
        unknown = [b for b in chosen if b not in known]
        if unknown:
            raise click.UsageError(f"no brand {', '.join(map(repr, unknown))} in the store; it has: {', '.join(known) or 'none yet'}")
        Path(out).write_text(render(gather(store, chosen, start, end, now=now), start, end, now), encoding="utf-8")
    click.echo(f"report for {', '.join(chosen) or 'no brand'} written to {out}", err=True)
    if pdf:
        from monitor.errors import MonitorError
        from monitor.report import print_pdf

        try:
            print_pdf(Path(out), Path(pdf))
        except MonitorError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"printed to {pdf}", err=True)
