"""This process as one of several workers on a database: its name, and the leases it holds on a
source's run or the spike watch, renewed while it holds them (issue 19).

A lease is short (``LEASE``) and renewed every ``RENEW`` by one thread per process while any is
held, as an etcd or Consul session is kept alive: a worker killed mid-run stops renewing, and
its work is taken over within ``LEASE``; a live worker keeps its lease however long a slow
source takes. The SQL is the store's (``monitor/store/leases.py``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Callable, Iterator

from monitor.models import utcnow
from monitor.store import Store

log = logging.getLogger("monitor.workers")

LEASE = timedelta(minutes=2)  # a dead worker's source or watch is taken over within this
RENEW = LEASE / 4  # how often a live worker renews what it holds
POLL = 0.25  # seconds between the renewing thread's looks at the clock (no database work unless due)
SILENT = timedelta(minutes=2)  # a worker heard from every 30 s (its delivery round) and not for this long has died


def worker() -> str:
    """This process as a lease owner: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class _Renewer:
    """The process's held leases, and the thread that renews them while there are any."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (database, lease) -> [how many blocks hold it, when it was last renewed, on which clock]
        self._held: dict[tuple[str, str], list] = {}
        self._thread: threading.Thread | None = None

    def add(self, database: str, name: str, now: datetime, clock: Callable[[], datetime]) -> None:
        with self._lock:
            entry = self._held.setdefault((database, name), [0, now, clock])
            entry[0] += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)
                self._thread.start()

    def remove(self, database: str, name: str) -> None:
        with self._lock:
            entry = self._held[(database, name)]
            entry[0] -= 1
            if entry[0] <= 0:
                del self._held[(database, name)]

    def _run(self) -> None:
        pause = threading.Event()
        while True:
            pause.wait(POLL)
            due: dict[tuple[str, datetime], list[str]] = {}
            with self._lock:
                if not self._held:
                    self._thread = None
                    return
                for (database, name), entry in self._held.items():
                    now = entry[2]()
                    if not entry[1] <= now < entry[1] + RENEW:  # due, or a clock that went back
                        due.setdefault((database, now), []).append(name)
                        entry[1] = now
            for (database, now), names in due.items():
                self._renew(database, names, now)

    def _renew(self, database: str, names: list[str], now: datetime) -> None:
        try:
            with Store(database) as store:
                kept = store.renew(names, owner=worker(), until=now + LEASE)
        except Exception as exc:  # a database that is away now is retried next round; the run goes on
            log.warning("could not renew the leases on %s (%s): %s", ", ".join(sorted(names)), type(exc).__name__, exc)
            return
        with self._lock:  # one given back meanwhile is not lost
            lost = sorted(n for n in set(names) - kept if (database, n) in self._held)
        for name in lost:
            log.warning("lease %s was taken over by another worker while this one held it: the database was out of"
                        " reach for longer than %s", name, LEASE)


_RENEWER = _Renewer()  # one per process, as the worker is (``worker()``): its leases are the process's


@contextmanager
def held(store: Store, name: str, *, now: datetime, clock: Callable[[], datetime] = utcnow) -> Iterator[bool]:
    """Hold the lease ``name`` while the block runs (True, renewed by this process's renewing
    thread on ``clock``), or say another worker holds it (False)."""
    owner = worker()
    ours = store.lease(name, owner=owner, now=now, until=now + LEASE)
    if ours:
        _RENEWER.add(store.path, name, now, clock)
    try:
        yield ours
    finally:
        if ours:
            _RENEWER.remove(store.path, name)
            store.release(name, owner=owner)
