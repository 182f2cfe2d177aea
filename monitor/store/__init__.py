"""The SQLite store: mentions, source state, and the alert outbox / notification log.

The schema is a public interface (PR teams query it; see the README's "Database" section).
Migrations run on open, in order, recorded in ``PRAGMA user_version``. WAL lets readers (the
CLI, datasette) read while the monitor writes. Every value from a post reaches SQL only as a
bound parameter.

An sqlite3 connection belongs to the thread that opened it: open one Store per job.

The store is one ``Store`` type whose methods are spread over a module per table family, as
miniflux's storage is: ``mentions``, ``authors``, ``sources``, ``spikes``, ``outbox``, ``silences``,
``labels``, ``refreshes``, ``exports``;
``migrations`` holds the schema, ``codec`` turns rows into models and back, ``checkpoint`` copies
the WAL back in the background. It imports only ``monitor.models`` and ``monitor.errors``: it
keeps, it does not judge (an author's bucket is folded by the ``AuthorFolder`` it is handed).
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import quote

from monitor.errors import StoreError
from monitor.models import from_iso, is_postgres
from monitor.store.actions import ActionStore
from monitor.store.dashboard import DashboardStore
from monitor.store.authors import AUTHOR_CACHE, AuthorStore
from monitor.store.checkpoint import Checkpointer
from monitor.store.codec import alert_from_dict, alert_to_dict, judged_from_row, row_alert
from monitor.store.exports import ExportStore
from monitor.store.labels import LabelStore
from monitor.store.leases import LeaseStore
from monitor.store.mentions import MentionStore
from monitor.store.migrations import MIGRATIONS
from monitor.store.outbox import OutboxStore
from monitor.store.refreshes import RefreshStore
from monitor.store.waits import WaitStore
from monitor.store.silences import SilenceStore
from monitor.store.sources import SourceStore
from monitor.store.spikes import SpikeStore

__all__ = ["AUTHOR_CACHE", "MIGRATIONS", "Store", "StoreError", "alert_from_dict", "alert_to_dict", "from_iso",
           "is_postgres", "judged_from_row", "row_alert"]


class Reader:
    """A read-only connection with the two calls of sqlite-utils' Database the store's reads
    use (``execute``, ``query``): a read command (``search``, ``status``) need not import
    sqlite-utils, which imports numpy."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Iterable | dict | None = None) -> sqlite3.Cursor:
        return self.conn.execute(sql, parameters or ())

    def query(self, sql: str, params: Iterable | dict | None = None) -> Iterator[dict]:
        cursor = self.conn.execute(sql, params or ())
        keys = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(keys, row))

    def close(self) -> None:
        self.conn.close()


class Store(MentionStore, AuthorStore, SourceStore, SpikeStore, OutboxStore, SilenceStore, LabelStore, RefreshStore,
            ExportStore, LeaseStore, WaitStore, ActionStore, DashboardStore):
    """All persistence. Open one per thread; close it when done.

    ``readonly`` opens the file for reading only (``search``, ``status``, ``digest``, ``backtest``):
    it works on a file the user may not write, and never creates, migrates or changes it.
    """

    _BEGIN = "BEGIN IMMEDIATE"  # the write lock at once: two writers queue instead of deadlocking

    def __new__(cls, path: str | Path = "", **_: object) -> "Store":
        """A ``postgresql://`` URL opens the store on PostgreSQL (``pgstore.PgStore``), anything else a SQLite file."""
        if cls is Store and is_postgres(str(path)):
            from monitor.store.pgstore import PgStore

            return super().__new__(PgStore)
        return super().__new__(cls)

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self._state(str(path), readonly, checkpoints=str(path) != ":memory:")
        try:
            if readonly:
                self.db = self._open_readonly()
            else:
                if self.path != ":memory:":
                    Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                import sqlite_utils  # the writer's: read-only stores skip it (it imports numpy, 0.1 s)

                self.db = sqlite_utils.Database(self.path)
            self.db.execute("PRAGMA busy_timeout = 10000")
            self._check_version()  # before anything is written: a newer schema is refused untouched
            if readonly:
                return
            if self.path != ":memory:":
                self._enable_wal()
                # With WAL, NORMAL never corrupts the file; a power cut may lose the last commits,
                # which the next run fetches again (the cursor is saved after the mentions).
                self.db.execute("PRAGMA synchronous = NORMAL")
                # Checkpoint every ~16 MB of WAL rather than 4 MB: pages rewritten by successive
                # batches (indexes, FTS segments, authors) are copied back once (15% faster writes).
                self.db.execute("PRAGMA wal_autocheckpoint = 4000")
            self._migrate()
        except StoreError:
            if hasattr(self, "db"):
                self.db.close()
            raise
        except (OSError, sqlite3.DatabaseError) as exc:
            raise StoreError(
                f"cannot open the database {self.path}: {exc} — point --db, MONITOR_DB"
                " or database: in config.yaml at a monitor database or a new file in a writable folder") from exc

    def _state(self, path: str, readonly: bool, *, checkpoints: bool) -> None:
        """What an open store keeps beside its connection (either backend)."""
        self.path = path
        self.readonly = readonly
        self._checkpoints = checkpoints  # copy the WAL back after each write transaction
        # Author rows as last written by this connection, valid while no other connection has
        # committed (PRAGMA data_version): a source's next page folds into them without a SELECT.
        self._authors: dict[tuple[str, str], dict] = {}
        self._authors_version: object = None
        self._checkpointer: Checkpointer | None = None  # started by the first write transaction

    def close(self) -> None:
        """Close the connection (after the background checkpointer, if one ran)."""
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (taken immediately, so two writers queue instead of deadlocking).

        Inside another it is a savepoint of it, so a caller can make several steps one (a run's
        mentions, their alerts and the source's new cursor) and a crash leaves all or none.
        """
        outer = not self.db.conn.in_transaction
        self.db.execute(self._BEGIN if outer else "SAVEPOINT nested")
        try:
            yield
        except BaseException:
            for statement in ("ROLLBACK",) if outer else ("ROLLBACK TO nested", "RELEASE nested"):
                self.db.execute(statement)  # a savepoint rolled back stays open until released
            self._authors.clear()  # rows folded in memory that the database no longer has
            raise
        self.db.execute("COMMIT" if outer else "RELEASE nested")
        if outer and self._checkpoints:
            if self._checkpointer is None:
                self._checkpointer = Checkpointer(self.path)
            self._checkpointer.want()

    def _open_readonly(self) -> "Reader":
        if not Path(self.path).is_file():
            raise StoreError(f"no database at {self.path} — run `monitor once` or `monitor run` first, or point --db,"
                             " MONITOR_DB or database: in config.yaml at the monitor's database")
        uri = "file:" + quote(str(Path(self.path).resolve()))
        conn = sqlite3.connect(uri + "?mode=ro", uri=True)
        try:
            conn.execute("PRAGMA user_version").fetchone()
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            # A WAL database in a folder we cannot write: its -shm cannot be made. Nothing is
            # writing it then (a writer would need the folder too), so read the file as it is.
            conn.close()
            conn = sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True)
        return Reader(conn)

    def _check_version(self) -> None:
        version = self.schema_version
        known = len(MIGRATIONS)
        if version > known:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this monitor knows ({known}): it was written by a"
                " newer version — upgrade the monitor (pip install -U reputation-monitor), or point --db at another file")
        if self.readonly and version < known:
            what = "is not a monitor database" if version == 0 else f"has schema version {version}, older than {known}"
            raise StoreError(f"{self.path} {what} — run `monitor once` once with write access to upgrade it, or point"
                             " --db at the monitor's database")

    def _enable_wal(self) -> None:
        """WAL, once per file (it persists). Several processes opening a new file at once (workers
        starting together) may find the switch busy, and SQLite does not wait for it: try again."""
        for attempt in range(100):
            try:
                if self.db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    self.db.enable_wal()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.05)

    def _migrate(self) -> None:
        """Each migration in its own write transaction, the version read inside it: processes
        opening a new file at once (several workers starting) take turns, and none applies a
        migration another already has."""
        while self.db.execute("PRAGMA user_version").fetchone()[0] < len(MIGRATIONS):
            with self.transaction():
                version = self.db.execute("PRAGMA user_version").fetchone()[0]
                if version < len(MIGRATIONS):
                    MIGRATIONS[version](self.db)
                    self.db.execute(f"PRAGMA user_version = {int(version) + 1}")

    @property
    def schema_version(self) -> int:
        """The number of migrations applied."""
        return self.db.execute("PRAGMA user_version").fetchone()[0]
