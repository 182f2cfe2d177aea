"""Authors: their rows, folded with each page of their new mentions, and bucket transitions."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Protocol

from monitor.models import Judged

if TYPE_CHECKING:
    import sqlite_utils


class AuthorFolder(Protocol):
    """How an author's row takes in a mention: the judgement's (``monitor.judgement.authors.AuthorRules``).
    The store keeps the rows; it does not decide buckets."""

    def new_row(self, source: str, handle: str) -> dict: ...
    def fold(self, row: dict, item: Judged, published: str | None = None) -> Any: ...


# The authors table's columns (the judgement's author rows carry exactly these keys; a test checks).
_AUTHOR_COLUMNS = ("source", "handle", "display_name", "audience", "mentions", "scored_mentions", "mean_sentiment",
                   "latest_sentiment", "latest_at", "weight", "weighted_sentiment", "weighted_assassin", "weighted_at",
                   "bucket", "bucket_since", "first_seen", "last_seen")
AUTHOR_CACHE = 20_000  # author rows a store keeps between pages
_author_values = operator.itemgetter(*_AUTHOR_COLUMNS)  # an author row dict → its column values, in C


class AuthorStore:
    """Authors: their rows, folded with each page of their new mentions, and bucket transitions. (a part of ``Store``)."""

    db: "sqlite_utils.Database"

    def _data_version(self) -> object:
        """Changes when another connection has committed (the cached author rows are stale then)."""
        return self.db.execute("PRAGMA data_version").fetchone()[0]

    def _update_authors(self, new: list[tuple[Judged, str]], rules: AuthorFolder) -> None:
        """Fold new mentions (each with its ISO publication time) into their authors' rows,
        oldest first; record bucket changes."""
        by_author: dict[tuple[str, str], list[tuple[Judged, str]]] = {}
        for item, published in new:
            if item.mention.author:
                by_author.setdefault((item.mention.source, item.mention.author), []).append((item, published))
        if not by_author:
            return
        version = self._data_version()
        rows = self._authors
        if version != self._authors_version or len(rows) > AUTHOR_CACHE:
            rows.clear()  # another connection wrote (or the cache is full): read afresh
        self._authors_version = version
        if missing := [key for key in by_author if key not in rows]:
            rows.update(self._author_rows(missing))
        transitions = []
        for key, items in by_author.items():
            row = rows.get(key) or rules.new_row(*key)
            for item, published in sorted(items, key=lambda pair: pair[0].mention.published_at):
                change = rules.fold(row, item, published)
                if change is not None:
                    transitions.append(change)
            rows[key] = row
        marks = ",".join("?" * len(_AUTHOR_COLUMNS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in _AUTHOR_COLUMNS[2:])
        self.db.conn.executemany(
            f"INSERT INTO authors ({', '.join(_AUTHOR_COLUMNS)}) VALUES ({marks})"
            f" ON CONFLICT (source, handle) DO UPDATE SET {updates}",
            [_author_values(rows[key]) for key in by_author],
        )
        self.db.conn.executemany(
            "INSERT INTO author_transitions (source, handle, at, from_bucket, to_bucket, mention_source, mention_id)"
            " VALUES (?,?,?,?,?,?,?)",
            [(t.source, t.handle, t.at, t.from_bucket, t.to_bucket, t.mention_source, t.mention_id) for t in transitions],
        )

    def _author_rows(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        out: dict[tuple[str, str], dict] = {}
        by_source: dict[str, list[str]] = {}
        for source, handle in keys:
            by_source.setdefault(source, []).append(handle)
        for source, handles in by_source.items():
            for start in range(0, len(handles), 500):
                chunk = handles[start : start + 500]
                sql = (f"SELECT {', '.join(_AUTHOR_COLUMNS)} FROM authors"
                       f" WHERE source = ? AND handle IN ({','.join('?' * len(chunk))})")
                for values in self.db.conn.execute(sql, [source, *chunk]):
                    out[(values[0], values[1])] = dict(zip(_AUTHOR_COLUMNS, values))
        return out

    def author(self, source: str, handle: str) -> dict | None:
        """One author's row, or None."""
        return self._author_rows([(source, handle)]).get((source, handle))
