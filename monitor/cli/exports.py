"""`monitor export`: a table's rows as CSV or JSON lines, streamed, for spreadsheets and BI tools."""

from __future__ import annotations

import click

from monitor.cli.common import _database_only, _when, write_rows


@click.command()
@click.argument("kind", type=click.Choice(["mentions", "authors", "spikes", "alerts"]))
@click.option("--since", help="From: a time ago (7d, 12h) or a date (2026-11-01); mentions by publication.")
@click.option("--until", help="Before: a time ago or a date.")
@click.option("--brand", help="Only this brand (any case; mentions, spikes and alerts).")
@click.option("--bucket", type=click.Choice(["assassin", "advocate", "apathetic", "unscored"]),
              help="Only this bucket (mentions and authors).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--out", "-o", type=click.Path(dir_okay=False, writable=True), help="Write here instead of standard output.")
@click.pass_context
def export(ctx: click.Context, kind: str, since: str | None, until: str | None, brand: str | None, bucket: str | None,
           fmt: str, out: str | None) -> None:
    """Export mentions, authors, spikes or alerts, oldest first, a row at a time (a million rows
    never sit in memory). CSV cells a spreadsheet would run as a formula (=, +, -, @) are
    written as text."""
    from monitor.store import Store

    with Store(_database_only(ctx), readonly=True) as store:
        try:
            rows = store.export(kind, since=_when(since, "--since"), until=_when(until, "--until"), brand=brand, bucket=bucket)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
        from monitor.store.exports import export_columns

        columns = export_columns(kind)
        if out:
            with open(out, "w", encoding="utf-8", newline="") as stream:
                count = write_rows(rows, fmt, columns, stream)
            click.echo(f"{count:,} {kind} written to {out}", err=True)
        else:
            write_rows(rows, fmt, columns)
