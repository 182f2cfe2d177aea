"""What every command shares: loading the config, finding the database, cleaning text for the terminal."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import click

from monitor.errors import ConfigError, MonitorError
from monitor.health import format_age
from monitor.models import (
    DEFAULT_DATABASE,
    clean_text,
    is_postgres,
    parse_duration,
)

DEFAULT_CONFIG = "config.yaml"
def invocation() -> str:
    """The command that runs this program again from the current folder, as the user can type it:
    ``monitor`` when that is on the PATH, else the path they used (``.venv/bin/monitor``), else
    ``python -m monitor`` with this interpreter."""
    import shutil
    import sys

    argv0 = Path(sys.argv[0])
    if argv0.name == "__main__.py" or not argv0.exists():
        python = Path(sys.executable)
        try:
            python = python.relative_to(Path.cwd())
        except ValueError:
            pass
        return f"{python} -m monitor"
    found = shutil.which("monitor")
    if found and Path(found).resolve() == argv0.resolve():
        return "monitor"
    try:
        return str(argv0.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(argv0.resolve())


def _clean(value: object, width: int | None = None) -> str:
    """Untrusted text for the terminal: one line, no control or bidi characters, clipped."""
    return clean_text(value, width=width)


def _load(ctx: click.Context, path: str | None = None):
    from monitor.config_check import load_config
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


def _duration(text: str) -> timedelta:
    """An option's duration (30m, 2h, 1d); a bad one is a usage error (exit 2) saying the fix."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _override(ctx: click.Context) -> str | None:
    """--db, else MONITOR_DB: a database named without the config."""
    return ctx.obj["db"] or os.environ.get("MONITOR_DB") or None


def _database_only(ctx: click.Context) -> str:
    """The database for a command that needs nothing else of the config (``search``): its
    ``database:`` read straight from the YAML, without validating (and importing) every section;
    a file that cannot be read that way goes through the full check, which names the problem."""
    override = _override(ctx)
    if override:
        return override
    path = Path(ctx.obj["config"])
    try:
        import yaml

        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, UnicodeError, ValueError, yaml.YAMLError):
        return _database(ctx)
    database = data.get("database", DEFAULT_DATABASE) if isinstance(data, dict) else None
    if not isinstance(database, str) or not database:
        return _database(ctx)
    relative = Path(database).expanduser()
    if database == ":memory:" or is_postgres(database) or relative.is_absolute():
        return database
    return str(path.resolve().parent / relative)


def _database(ctx: click.Context, config=None) -> str:
    """The database a command uses: --db, MONITOR_DB, or the config's (relative to its folder)."""
    from monitor.config import resolve_database
    return _override(ctx) or resolve_database(config or _load(ctx))


def _ago(value: str | None, now) -> str:
    from monitor.store import from_iso
    when = from_iso(value)
    if when is None:
        return "never"
    text = format_age(now - when)
    return f"in {text}" if when > now else f"{text} ago"


def _when(text: str | None, option: str):
    """An option's point in time: a time ago (``7d``, ``12h``) or an ISO date or time (UTC)."""
    if not text:
        return None
    from datetime import datetime, timezone

    try:
        return datetime.now(timezone.utc) - parse_duration(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r}: write a time ago (7d, 12h) or a date (2026-11-01)", param_hint=option) from None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection, OWASP):
# an exported post's text is hostile, so such a cell gets a leading quote and stays text.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def write_rows(rows, fmt: str, columns: list[str] | None = None, out=None) -> int:
    """Rows (dicts) to ``out`` (standard output) as JSON lines or CSV, one at a time (a million
    rows are never held); how many."""
    import csv
    import json
    import sys

    out = out or sys.stdout
    writer = None
    count = 0
    for row in rows:
        if fmt == "jsonl":
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            if writer is None:
                writer = csv.writer(out)
                writer.writerow(columns or list(row))
            writer.writerow(["'" + v if isinstance(v, str) and v.startswith(_FORMULA) else v for v in row.values()])
        count += 1
    if writer is None and fmt == "csv" and columns:
        csv.writer(out).writerow(columns)
    return count
