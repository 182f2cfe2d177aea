"""`monitor migrate`: a SQLite store copied into PostgreSQL (issue 19), streaming and resumable."""

from __future__ import annotations

import click


@click.command()
@click.option("--from", "origin", required=True, type=click.Path(dir_okay=False, exists=True),
              help="The SQLite store to copy (it is opened once to bring its schema up to date, then read).")
@click.option("--to", "url", required=True, help="postgresql://user@host:port/database (the password from PGPASSWORD or ~/.pgpass).")
@click.option("--batch", default=5000, show_default=True, type=click.IntRange(1, 1_000_000), help="Rows per committed batch.")
def migrate(origin: str, url: str, batch: int) -> None:
    """Copy every table of a SQLite store into a PostgreSQL database, in committed batches: run
    it again after an interruption and it goes on from the last batch. The counts of every table
    are checked at the end. Then point database: (or --db, MONITOR_DB) at the PostgreSQL URL."""
    import sqlite3
    from pathlib import Path
    from urllib.parse import urlsplit

    from monitor.store import Store
    from monitor.models import is_postgres
    from monitor.store.pgdb import where
    from monitor.store.postgres import copy_sqlite

    if not is_postgres(url):
        raise click.UsageError(f"--to must be a postgresql:// URL, not {urlsplit(url).scheme or url!r}")
    if urlsplit(url).password is not None:
        raise click.UsageError("--to holds a password: every user of this machine can read a command line — put it in "
                               "PGPASSWORD or ~/.pgpass (libpq reads both) and leave it out of the URL")
    try:
        import psycopg
    except ImportError as exc:
        raise click.ClickException("PostgreSQL needs psycopg: pip install 'reputation-monitor[postgres]'") from exc
    Store(origin).close()  # its migrations, so its tables have every column PostgreSQL's have
    shown = where(url)
    try:
        target = psycopg.connect(url, autocommit=True)
    except psycopg.Error as exc:
        raise click.ClickException(f"cannot connect to {shown}: {str(exc).strip()}") from exc
    seen: dict[str, int] = {}

    def progress(table: str, rows: int) -> None:
        if rows and rows - seen.get(table, 0) >= 100_000:
            seen[table] = rows
            click.echo(f"  {table}: {rows:,} rows…", err=True)

    source = sqlite3.connect(f"file:{Path(origin).resolve()}?mode=ro", uri=True)
    try:
        with target:
            copied = copy_sqlite(source, target, origin=str(Path(origin).resolve()), batch=batch, progress=progress)
    finally:
        source.close()
    for c in copied:
        note = f"; {c.cleaned:,} values held a NUL, removed" if c.cleaned else ""
        click.echo(f"{c.table}: {c.postgres:,} rows in PostgreSQL, as in the SQLite file ({c.written:,} copied now{note})")
    click.echo(f"{origin} copied into {shown}.")
