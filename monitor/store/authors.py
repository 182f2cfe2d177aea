"""Authors: their rows, folded with each page of their new mentions, and bucket transitions."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING

from monitor.authors import AuthorRules, fold, new_author
from monitor.models import Judged

if TYPE_CHECKING:
    import sqlite_utils

_AUTHOR_COLUMNS = tuple(new_author("", ""))
AUTHOR_CACHE = 20_000  # author rows a store keeps between pages
_author_values = operator.itemgetter(*_AUTHOR_COLUMNS)  # an author row dict → its column values, in C


class AuthorStore:
    """Authors: their rows, folded with each page of their new mentions, and bucket transitions. (a part of ``Store``)."""

    db: "sqlite_utils.Database"

    def _update_authors(self, new: list[Judged], rules: AuthorRules, published: dict[int, str]) -> None:
        """Fold new mentions into their authors' rows, oldest first; record bucket changes.

        ``published``: each item's ISO publication time by ``id(item)``, already made for its row.
        """
        by_author: dict[tuple[str, str], list[Judged]] = {}
        for item in new:
            if item.mention.author:
                by_author.setdefault((item.mention.source, item.mention.author), []).append(item)
        if not by_author:
            return
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
        rows = self._authors
        if version != self._authors_version or len(rows) > AUTHOR_CACHE:
            rows.clear()  # another connection wrote (or the cache is full): read afresh
        self._authors_version = version
        if missing := [key for key in by_author if key not in rows]:
            rows.update(self._author_rows(missing))
        transitions = []
        for key, items in by_author.items():
            row = rows.get(key) or new_author(*key)
            for item in sorted(items, key=lambda j: j.mention.published_at):
                change = fold(row, item, rules, published.get(id(item)))
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
