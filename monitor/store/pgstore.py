"""The store on PostgreSQL (issue 19): ``Store``'s table families over ``PgDatabase``.

Every method of ``Store`` runs here with its Python logic and its shared SQL; what SQLite says its
own way is said PostgreSQL's by overriding the small hooks (``_each_brand``, ``_names_brand``,
``_same_text``, ``_matched``, ``_window_of``, ``_last_row``, ``_index_text``, ``_data_version``, ``_later_of``,
``_after_interval``, ``_json_field``, ``_BEGIN``, ``_FOR_UPDATE``) and the few methods whose SQL is
wholly SQLite's: the version and migrations (``monitor_schema``), full-text search (a ``tsquery``
from the same query syntax), a silence's new id. Beside them it keeps the planner's statistics as
it writes (``save_mentions``) and can empty itself for the demo (``clear``).

``Store("postgresql://…")`` opens one. What one SQLite file guarantees holds here too: a delivery
claim locks the rows it reads (``FOR UPDATE``), so two deliverers never send a group twice; a
source's run and the spike watch are held by one worker at a time through the shared lease rows
(``leases.py``, renewed by ``monitor.workers``).
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from monitor.errors import StoreError
from monitor.models import Judged, to_iso
from monitor.store import Store
from monitor.store.authors import AuthorFolder
from monitor.store.codec import _json
from monitor.store.mentions import SEARCH_AMONG, SEARCH_COLUMNS
from monitor.store.pgdb import PgDatabase, where
from monitor.store.postgres import MIGRATIONS, migrate


ANALYZE_AFTER = 1_000  # mentions a store writes before it refreshes the planner's statistics


class PgStore(Store):
    """The store on a PostgreSQL database (``url``: ``postgresql://user@host:port/database``; the
    password from libpq's ``PGPASSWORD`` or ``~/.pgpass``)."""

    _BEGIN = "BEGIN"
    _FOR_UPDATE = " FOR UPDATE"  # a claim locks the rows it reads: a second deliverer waits, then finds them taken

    def __init__(self, url: str, *, readonly: bool = False) -> None:  # noqa: D107 - the base's, on PostgreSQL
        if urlsplit(url).password is not None:
            raise StoreError(f"the database URL for {where(url)} holds a password — put it in PGPASSWORD or ~/.pgpass"
                             " (libpq reads both), never in config.yaml or on a command line")
        self._state(url, readonly, checkpoints=False)  # PostgreSQL writes its own log back
        self._written, self._analyze_at = 0, ANALYZE_AFTER
        try:
            self.db = PgDatabase(url, readonly=readonly)
        except ImportError as exc:
            raise StoreError("a PostgreSQL database needs psycopg: pip install 'reputation-monitor[postgres]'") from exc
        except Exception as exc:  # psycopg's OperationalError, without importing it here
            raise StoreError(f"cannot open the database {where(url)}: {str(exc).strip()} — check the URL, and the"
                             " password in PGPASSWORD or ~/.pgpass") from exc
        if readonly:
            self._check_version()
            return
        try:
            migrate(self.db.conn.raw)
        except Exception as exc:  # psycopg's errors (a role that may only read, most often), without importing them
            self.db.close()
            reason = str(exc).strip().splitlines()[0]
            raise StoreError(f"cannot write to the database {where(url)}: {reason} — this role may only read: search,"
                             " export, status and report work with it; commands that write need the monitor's role") from exc

    @property
    def schema_version(self) -> int:
        row = self.db.execute("SELECT to_regclass('monitor_schema') IS NOT NULL").fetchone()
        return self.db.execute("SELECT version FROM monitor_schema").fetchone()[0] if row[0] else 0

    def _check_version(self) -> None:
        version, known = self.schema_version, len(MIGRATIONS)
        if version > known:
            raise StoreError(f"{where(self.path)} has schema version {version}, newer than this monitor knows ({known}):"
                             " upgrade the monitor")
        if version < known:
            raise StoreError(f"{where(self.path)} has schema version {version}, older than {known} — open it once"
                             " with write access to upgrade it")

    def save_mentions(self, judged: list[Judged], *, fetched_at: datetime,  # noqa: D102 - the base's, and statistics kept
                      authors: AuthorFolder | None = None) -> list[Judged]:
        new = super().save_mentions(judged, fetched_at=fetched_at, authors=authors)
        self._written += len(new)
        if self._written >= self._analyze_at:
            self._analyze()
        return new

    def _analyze(self) -> None:
        """Refresh the planner's statistics of the tables a writer grows, as autovacuum would
        (it analyzes a table once a tenth of it is new, but looks only every minute): without
        them, a new database's planner takes a source's mentions for a few dozen rows and finds
        known ids by reading all of them — 7 ms a page of 100 at 12,000 mentions, not 0.4."""
        # The columns queries select and join on, not the texts (a tsvector's statistics are
        # most of a full ANALYZE's cost); again once the table has doubled (autovacuum follows).
        self.db.execute("ANALYZE mentions (source, id, author, brand, published_at, bucket), authors, rollups")
        rows = self.db.execute("SELECT reltuples FROM pg_class WHERE oid = 'mentions'::regclass").fetchone()[0]
        self._analyze_at = self._written + max(ANALYZE_AFTER, int(rows))

    def clear(self) -> None:
        """Empty every table of the store, keeping its schema (`monitor demo` on PostgreSQL, where
        there is no file to delete and start over)."""
        tables = [r[0] for r in self.db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " AND tablename NOT IN ('monitor_schema', 'monitor_migration') ORDER BY tablename")]
        if tables:
            self.db.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")

    # --- the hooks -----------------------------------------------------------------------------
    def _each_brand(self, alias: str) -> str:
        return f"jsonb_array_elements_text({alias}.brands) AS b(value)"

    def _names_brand(self, alias: str, *, any_case: bool = False) -> str:
        test = "lower(x.value) = lower(?)" if any_case else "x.value = ?"
        return f"EXISTS (SELECT 1 FROM jsonb_array_elements_text({alias}.brands) AS x(value) WHERE {test})"

    def _same_text(self, column: str) -> str:
        return f"lower({column}) = lower(?)"

    def _window_of(self, column: str) -> str:
        return f"floor(extract(epoch FROM {column}) / ?)::bigint"

    def _last_row(self) -> None:
        return None

    def _index_text(self, after: int | None) -> None:
        """Nothing to do: ``mentions.search`` is a generated column."""

    def _data_version(self) -> object:
        return object()  # no cheap "has anyone else written" here: author rows are read afresh each batch

    def _later_of(self, a: str, b: str) -> str:
        return f"greatest(({a})::timestamptz, {b})"

    def _after_interval(self, time: str, seconds: str) -> str:
        return f"{time} + make_interval(secs => {seconds})"

    def _matched(self, alias: str) -> str:
        return (f"(SELECT coalesce(jsonb_agg(r.rule ORDER BY j.n), '[]') FROM rule_sets s CROSS JOIN LATERAL"
                " jsonb_array_elements(s.rule_ids::jsonb) WITH ORDINALITY AS j(value, n) JOIN rules r ON r.id = (j.value)::bigint"
                f" WHERE s.id = {alias}.rule_set)")

    def _json_field(self, column: str, key: str) -> str:
        return f"{column} ->> '{key}'"

    # --- methods whose SQL is wholly SQLite's --------------------------------------------------
    def add_silence(self, matchers: list[str], *, author: str, reason: str, starts_at: datetime, expires_at: datetime,
                    now: datetime) -> int:
        return self.db.execute(
            "INSERT INTO silences (matchers, author, reason, created_at, starts_at, expires_at) VALUES (?,?,?,?,?,?)"
            " RETURNING id", (_json(list(matchers)), author, reason, to_iso(now), to_iso(starts_at),
                              to_iso(expires_at))).fetchone()[0]

    def search(self, query: str, *, limit: int = 20, brand: str | None = None, order: str = "rank",
               among: int = SEARCH_AMONG, source: str | None = None, bucket: str | None = None,
               since: datetime | None = None, until: datetime | None = None, min_reach: int | None = None) -> list[dict]:
        """``Store.search`` on PostgreSQL: the same query syntax read as a ``tsquery`` (English
        stemming), ranked with ``ts_rank`` among the newest ``among`` matches by publication."""
        if order not in ("rank", "newest"):
            raise ValueError(f"order {order!r}: use rank or newest")
        tsquery = self.fts_query(query)[0]
        if not tsquery:
            return []
        columns = SEARCH_COLUMNS
        where_, values = self._search_filters(brand=brand, source=source, bucket=bucket, since=since, until=until,
                                              min_reach=min_reach)
        match = "m.search @@ to_tsquery('english', ?)"
        if order == "newest":
            sql = f"SELECT {columns} FROM mentions m WHERE {match}{where_} ORDER BY m.published_at DESC LIMIT ?"
            params: list = [tsquery, *values, limit]
        else:
            sql = (f"SELECT {columns} FROM (SELECT m.*, ts_rank(m.search, to_tsquery('english', ?)) AS score"
                   f" FROM mentions m WHERE {match} ORDER BY m.published_at DESC LIMIT ?) m"
                   f" WHERE true{where_} ORDER BY m.score DESC, m.published_at DESC LIMIT ?")
            params = [tsquery, tsquery, among, *values, limit]
        return list(self.db.query(sql, params))

    def count_matches(self, query: str, *, among: int = SEARCH_AMONG, brand: str | None = None,
                      source: str | None = None, bucket: str | None = None, since: datetime | None = None,
                      until: datetime | None = None, min_reach: int | None = None) -> tuple[int, bool]:
        """``Store.count_matches`` on PostgreSQL: among the newest ``among`` matches by publication."""
        tsquery = self.fts_query(query)[0]
        if not tsquery:
            return 0, False
        where_, values = self._search_filters(brand=brand, source=source, bucket=bucket, since=since, until=until,
                                              min_reach=min_reach)
        sql = (f"SELECT count(*), coalesce(sum(CASE WHEN true{where_} THEN 1 ELSE 0 END), 0) FROM (SELECT m.* FROM"
               " mentions m WHERE m.search @@ to_tsquery('english', ?) ORDER BY m.published_at DESC LIMIT ?) m")
        matched, kept = self.db.execute(sql, [*values, tsquery, among + 1]).fetchone()
        return min(kept, among), matched > among

    def fts_query(self, query: str) -> tuple[str, str | None]:
        """``query`` (the FTS5 syntax ``monitor search`` takes: words, ``"phrases"``, ``prefix*``,
        AND, OR, NOT, parentheses) as a ``to_tsquery`` text, and how it was read when it is not
        that syntax (then its words, each required)."""
        try:
            return _tsquery(query), None
        except ValueError as exc:
            words = re.findall(r"\w+", query)
            return " & ".join(words), f"not a search query ({exc}); read as the words {' '.join(words)}"


_TOKENS = re.compile(r'\s*(?:(\()|(\))|"([^"]*)"|([^\s()"]+))')


def _tsquery(query: str) -> str:
    """FTS5's syntax as ``to_tsquery``'s: a word is itself, ``w*`` a prefix (``w:*``), a phrase its
    words followed by each other (``<->``), adjacent terms and AND ``&``, OR ``|``, NOT ``& !``."""
    out: list[str] = []
    pos, depth, need_term = 0, 0, True
    query = query.strip()
    while pos < len(query):
        m = _TOKENS.match(query, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"cannot read {query[pos:]!r}")
        pos = m.end()
        opening, closing, phrase, word = m.groups()
        if word in ("AND", "OR", "NOT"):
            if need_term and word != "NOT":
                raise ValueError(f"{word} without a term before it")
            out.append({"AND": "&", "OR": "|", "NOT": "& !" if out and not need_term else "!"}[word])
            need_term = True
            continue
        if not need_term and (opening or phrase is not None or word):
            out.append("&")  # adjacent terms: both
        if opening:
            out.append("(")
            depth += 1
            continue
        if closing:
            depth -= 1
            if depth < 0 or need_term:
                raise ValueError("unbalanced parenthesis")
            out.append(")")
            continue
        if phrase is not None:
            words = re.findall(r"\w+", phrase)
            if not words:
                raise ValueError("an empty phrase")
            out.append("(" + " <-> ".join(words) + ")")
        else:
            prefix = word.endswith("*")
            words = re.findall(r"\w+", word)
            if not words:
                raise ValueError(f"{word!r} holds no word")
            term = " <-> ".join(words)
            out.append(f"({term}:*)" if prefix and len(words) == 1 else f"({term})")
        need_term = False
    if depth or need_term:
        raise ValueError("the query ends early")
    return " ".join(out)
