"""A PostgreSQL connection that reads and writes like the store's SQLite one (issue 19, a part).

The store's table-family modules talk to ``sqlite_utils.Database`` through a handful of calls
(``execute``, ``query``, ``conn.executemany``, ``conn.in_transaction``, ``conn.commit``). This
gives PostgreSQL the same calls, so that their Python logic and every statement written in the
SQL both databases share can run unchanged on it, and only what cannot be shared is written
again (the plan in issue 19's note):

- SQLite's placeholders (``?``, ``:name``) become psycopg's (``%s``, ``%(name)s``), outside quoted
  text and identifiers; a literal ``%`` is doubled (only when there are parameters: without,
  psycopg sends the text as it is);
- values read back as SQLite's: a ``timestamptz`` as the store's ISO text
  (``2026-11-23T12:00:00Z``, the session in UTC), a ``date`` as ``YYYY-MM-DD``, ``jsonb`` as its
  JSON text, a ``numeric`` (PostgreSQL's sum of integers) as an int when whole, else a float.
  Text parameters reach PostgreSQL untyped, so ISO text compares with ``timestamptz`` columns.

Imports psycopg only when a connection is made (an optional dependency).
"""

from __future__ import annotations

import functools
import re
from typing import Any, Iterable, Iterator
from urllib.parse import urlsplit

_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|\?|:[A-Za-z_]\w*|%")


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """SQLite's parameter style as psycopg's; quoted text and identifiers left as they are."""
    def one(match: re.Match) -> str:
        token = match.group(0)
        if token[0] in "'\"":
            return token.replace("%", "%%")
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if token == "::":  # a PostgreSQL cast, not a parameter
            return token
        return f"%({token[1:]})s"

    return _TOKEN.sub(one, sql)


def where(url: str) -> str:
    """A PostgreSQL URL as it may be shown: host, port and database, never a password."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}{':' + str(parts.port) if parts.port else ''}{parts.path}"


def _register_loaders(conn: Any) -> None:
    from psycopg.adapt import Loader

    class IsoTime(Loader):
        def load(self, data: Any) -> str:
            text = bytes(data).decode()  # 2026-11-23 12:00:00+00, maybe with .123456 (the session is in UTC)
            return text[:19].replace(" ", "T") + "Z"

    class Text(Loader):
        def load(self, data: Any) -> str:
            return bytes(data).decode()

    class Number(Loader):
        def load(self, data: Any) -> int | float:
            text = bytes(data).decode()
            return int(text) if text.lstrip("-").isdigit() else float(text)

    conn.adapters.register_loader("timestamptz", IsoTime)
    for name in ("date", "json", "jsonb"):
        conn.adapters.register_loader(name, Text)
    conn.adapters.register_loader("numeric", Number)


class PgConnection:
    """The calls the store makes on ``db.conn``, over a psycopg connection in autocommit mode
    (each statement its own transaction, unless the store begins one, as with sqlite3)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Iterable | dict | None = None) -> Any:
        if not parameters:
            return self.raw.execute(sql)
        return self.raw.execute(translate(sql), parameters)

    def executemany(self, sql: str, rows: Iterable) -> None:
        rows = list(rows)
        if rows:
            with self.raw.cursor() as cursor:
                cursor.executemany(translate(sql), rows)

    def commit(self) -> None:
        if self.in_transaction:
            self.raw.execute("COMMIT")

    def close(self) -> None:
        self.raw.close()


class PgDatabase:
    """A PostgreSQL database with the calls of sqlite-utils' ``Database`` the store uses."""

    def __init__(self, url: str, *, readonly: bool = False) -> None:
        import psycopg

        raw = psycopg.connect(url, autocommit=True)
        raw.execute("SET TIME ZONE 'UTC'")
        if readonly:
            raw.execute("SET default_transaction_read_only = on")
        _register_loaders(raw)
        self.conn = PgConnection(raw)

    def execute(self, sql: str, parameters: Iterable | dict | None = None) -> Any:
        return self.conn.execute(sql, parameters)

    def query(self, sql: str, params: Iterable | dict | None = None) -> Iterator[dict]:
        cursor = self.conn.execute(sql, params)
        keys = [d.name for d in cursor.description]
        for row in cursor:
            yield dict(zip(keys, row))

    def close(self) -> None:
        self.conn.close()
