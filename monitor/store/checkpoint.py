"""Checkpointing a store's WAL in the background, so writers never wait for it."""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("monitor.store")

CHECKPOINT_PAUSE = 0.25  # seconds between two background checkpoints of one store


class Checkpointer:
    """Copies the WAL back into the database file on a thread and connection of its own.

    SQLite checkpoints inside the commit that crosses ``wal_autocheckpoint``, so the writer waits
    for megabytes of page copies and an fsync: an eighth of a bulk ingest's time on a busy
    machine. Here the statement runs without the GIL while the writer goes on; the automatic
    checkpoint stays as the backstop should this thread fall behind.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._wanted, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"checkpoint {path}", daemon=True)
        self._thread.start()

    def want(self) -> None:
        """A transaction committed: checkpoint soon (one checkpoint answers many commits)."""
        self._wanted.set()

    def close(self) -> None:
        """Let a checkpoint under way finish, then stop."""
        self._stop.set()
        self._wanted.set()
        self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path)
        try:
            while self._wanted.wait() and not self._stop.is_set():
                self._wanted.clear()
                try:  # PASSIVE never waits for readers or writers; what it cannot copy, a later one will
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:
                    log.debug("background checkpoint of %s: %s", self._path, exc)
                if self._stop.wait(CHECKPOINT_PAUSE):
                    return
        finally:
            conn.close()
