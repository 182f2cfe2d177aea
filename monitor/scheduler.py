"""``monitor run``: one APScheduler job per source, and config.yaml reloaded without restart.

Jobs run on pool threads, so each opens its own Store (an sqlite3 connection belongs to one
thread). Whether a source is due is decided by the store's ``next_check_at`` (which carries
failure backoff, survives restarts and is shared by every worker on the database); the
scheduler only wakes jobs up, every minute at most (``check_every``). A config edit is
validated first: a valid one replaces the runtime and the jobs, an invalid one is logged with
every problem and the last good config keeps running.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

import httpx
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from connectors.http import make_client
from monitor.config import Config, config_changes, resolve_database, widened_brands
from monitor.config_check import load_config
from monitor.errors import ConfigError, StoreError
from monitor.models import utcnow
from monitor.ingest import backfill_source, is_due, run_source
from monitor.judgement.language import LanguageDetector
from monitor.judgement.sentiment import Scorer
from monitor.assassin_model import ModelSource
from monitor.runtime import Runtime, deliver, enqueue
from monitor.workers import held, worker
from monitor.store import Store
from monitor.watch import digest_alert, watch_series

log = logging.getLogger("monitor.scheduler")

DELIVERY_EVERY = timedelta(seconds=30)
WATCH_EVERY = timedelta(seconds=5)
DIGEST_RETRY = timedelta(minutes=1)  # a digest due while the database was away is tried again this soon
CHECK_EVERY = timedelta(minutes=1)  # the longest a due source waits for its job to look


def check_every(every: timedelta) -> float:
    """Seconds between a source job's looks at whether its source is due: the store's
    ``next_check_at`` decides (it carries backoff, and another worker's runs), so the job looks
    often — every minute, or a quarter of ``every`` when that is shorter. A job woken only every
    ``every``, with jitter, finds the source due a moment later half the time and waits a whole
    interval more (runs came every 1.5 × ``every`` on average); a worker's source whose run
    another worker took over, or left on dying, would wait a whole interval too."""
    return min(CHECK_EVERY.total_seconds(), every.total_seconds() / 4)



MIN_THREADS = 20  # the scheduler's threads at least (jobs: every source's, delivery, the watch, the config)
M_ARENA_MAX = -8  # glibc's mallopt parameter


def fewer_arenas(arenas: int = 2) -> bool:
    """Ask glibc for at most ``arenas`` malloc arenas (as MALLOC_ARENA_MAX=2 would), before the
    scheduler's threads start: by default each thread gets its own, up to eight per core, and the
    memory a large body left in one is not given back (30 failing sources held 853 MB, 535 MB so).
    A no-op, False, where the C library is not glibc."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


class Monitor:
    """The long-running monitor: a scheduler, the current runtime, and the config file it watches."""

    def __init__(
        self,
        config_path: str | Path,
        *,
        db: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        client_factory: Callable[..., httpx.Client] = make_client,
    ) -> None:
        self.config_path = Path(config_path)
        self.db_override = db
        self.clock = clock
        self.started_at = self.clock()
        self.client_factory = client_factory
        self.scheduler = BackgroundScheduler(timezone=timezone.utc)
        self.scorer = Scorer()
        self.detector = LanguageDetector()
        self.models = ModelSource()  # kept across reloads: the model is read once, a site refit when it changes
        self.delivery_lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._outage_lock = threading.Lock()
        self._outage_since: float | None = None  # when the database was found away (monotonic seconds)
        self._metrics = None  # the metrics HTTP server, when asked for
        self._listeners: list = []  # Socket Mode connections for Slack buttons
        config = load_config(self.config_path)  # an invalid file at start is fatal: nothing to fall back to
        self._fingerprint = self._read_fingerprint()
        self._config_gone = False
        self.db_path = resolve_database(config, db)
        # Opened (and migrated) once up front: a database that cannot be opened stops the start
        # with a StoreError instead of failing every job, and jobs never race to migrate.
        Store(self.db_path).close()
        self.runtime = self._build(config, client=self.client_factory(contact=config.contact))

    def _read_fingerprint(self) -> str | None:
        try:
            return hashlib.sha256(self.config_path.read_bytes()).hexdigest()
        except OSError:
            return None

    def _build(self, config: Config, *, client: httpx.Client) -> Runtime:
        runtime = Runtime.build(config, client=client, scorer=self.scorer, detector=self.detector, models=self.models,
                                delivery_lock=self.delivery_lock)
        for name, why in runtime.unavailable.items():
            log.warning("receiver %s is skipped: %s", name, why)
        return runtime

    # --- jobs --------------------------------------------------------------------------------

    def run_source_job(self, name: str) -> None:
        """Run source ``name`` if it is still configured and due (backoff is kept in the store)."""
        runtime = self.runtime
        options = next((s for s in runtime.config.sources if s.name == name and s.enabled), None)
        if options is None:
            return
        now = self.clock()
        with self._store() as store:
            if store is None or not is_due(store.source_row(name), now):
                return
            with held(store, f"source:{name}", now=now, clock=self.clock) as ours:
                # Due is asked again under the lease: another worker may have run it and let go
                # between the first look and the lease.
                if not ours or not is_due(store.source_row(name), now):
                    return  # another worker is running it, or just ran it
                run_source(options, runtime, store, now=now)
            deliver(runtime, store, now=self.clock())

    def backfill_job(self, name: str, brands: list[str]) -> None:
        """Look for ``brands`` (added or widened by a reload) again in source ``name``, under the
        source's lease: the posts the source already served that name them are stored."""
        runtime = self.runtime
        options = next((s for s in runtime.config.sources if s.name == name and s.enabled), None)
        if options is None:
            return
        with self._store() as store:
            if store is None:
                return
            with held(store, f"source:{name}", now=self.clock(), clock=self.clock) as ours:
                if not ours:  # its run is under way: look again in a minute
                    self.scheduler.add_job(self.backfill_job, "date", args=[name, brands], id=f"backfill:{name}",
                                           run_date=datetime.now(timezone.utc) + timedelta(minutes=1),
                                           replace_existing=True)
                    return
                backfill_source(options, runtime, store, brands=brands, since=runtime.config.refresh.backfill,
                                now=self.clock())
            deliver(runtime, store, now=self.clock())

    def spikes_job(self) -> None:
        """Score the brands' newly settled windows for spikes and drops, then deliver."""
        with self._store() as store:
            if store is None:
                return
            with held(store, "watch", now=self.clock(), clock=self.clock) as ours:
                if ours:
                    watch_series(self.runtime, store, now=self.clock())
            deliver(self.runtime, store, now=self.clock())

    def digest_job(self) -> None:
        """Queue each brand's daily digest, then deliver."""
        now = self.clock()
        with self._store() as store:
            if store is None:  # the database is away: the day's digest waits for it, asked for again each minute
                self.scheduler.add_job(self.digest_job, "date", run_date=datetime.now(timezone.utc) + DIGEST_RETRY,
                                       id="digest-retry", replace_existing=True)
                return
            enqueue([digest_alert(store, b.name, now=now) for b in self.runtime.config.brands if b.alerts_on], self.runtime,
                    store, now=now)
            deliver(self.runtime, store, now=now)

    def deliver_job(self) -> None:
        """Retry notifications whose next attempt has come (and say this worker is alive)."""
        with self._store() as store:
            if store is None:
                return
            store.heartbeat(worker(), now=self.clock(), started_at=self.started_at)
            deliver(self.runtime, store, now=self.clock())

    @contextmanager
    def _store(self) -> Iterator[Store | None]:
        """The store for one job, or None while the database cannot be opened (a PostgreSQL
        server restarting, a failover, a disk away): said once when it goes and once when it is
        back, not in a traceback from every job in between. Nothing is lost meanwhile: a due
        source is still due, the outbox still holds what waits."""
        try:
            store = Store(self.db_path)
        except StoreError as exc:
            with self._outage_lock:
                if self._outage_since is None:
                    self._outage_since = time.monotonic()
                    log.error("%s; the jobs wait for the database and go on when it is back (nothing is lost: due"
                              " sources stay due, the outbox keeps what waits)", exc)
            yield None
            return
        with self._outage_lock:
            if self._outage_since is not None:
                log.warning("the database is back after %.0f s; the jobs go on", time.monotonic() - self._outage_since)
                self._outage_since = None
        try:
            yield store
        finally:
            store.close()

    def reload_if_changed(self) -> bool:
        """Reload config.yaml if its content changed; True if a new config took effect."""
        with self._reload_lock:
            fingerprint = self._read_fingerprint()
            if fingerprint is None:
                if not self._config_gone:  # said once, not every 5 seconds
                    self._config_gone = True
                    log.error("%s is gone (deleted, moved, or unreadable); still running the last good config — put "
                              "it back to change anything", self.config_path)
                return False
            if self._config_gone:
                self._config_gone = False
                log.warning("%s is back", self.config_path)
            if fingerprint == self._fingerprint:
                return False
            self._fingerprint = fingerprint
            try:
                config = load_config(self.config_path)
            except ConfigError as exc:
                log.error(
                    "%s changed but is invalid; still running the last good config. Problems:\n  %s",
                    self.config_path, "\n  ".join(exc.problems),
                )
                return False
            if resolve_database(config, self.db_override) != self.db_path:
                log.warning("database changed in %s; restart the monitor to switch to it", self.config_path)
            old = self.runtime
            # The User-Agent carries the contact: a new contact needs a new client.
            client = old.client if config.contact == old.config.contact else self.client_factory(contact=config.contact)
            try:
                self.runtime = self._build(config, client=client)
                self.sync_jobs(previous=old.config)
            except Exception as exc:  # a config the checks passed but the runtime refused: keep the old one
                log.error("%s changed but could not be applied (%s: %s); still running the last good config",
                          self.config_path, type(exc).__name__, exc)
                self.runtime = old
                self.sync_jobs()
                return False
            if self.runtime.client is not old.client:
                old.client.close()
            changes = config_changes(old.config, config)
            log.info("reloaded %s: %d brands, %d sources; %s", self.config_path, len(config.brands), len(config.sources),
                     "; ".join(changes) or "nothing that matters changed")
            widened = widened_brands(old.config, config)
            if widened and config.refresh.backfill:
                for source in (s for s in config.sources if s.enabled):
                    self.scheduler.add_job(self.backfill_job, "date", args=[source.name, widened],
                                           run_date=datetime.now(timezone.utc), id=f"backfill:{source.name}",
                                           replace_existing=True, misfire_grace_time=None)
            return True

    def sync_jobs(self, previous: Config | None = None) -> None:
        """Make the scheduler's jobs match the current sources; keep timers of unchanged ones."""
        current = {s.name: s for s in self.runtime.config.sources if s.enabled}
        if self.scheduler.running and len(current) + 4 > getattr(self, "_threads", MIN_THREADS):
            log.warning("%d sources for %d threads: a slow source may now delay another; restart the monitor to give "
                        "each its own", len(current), self._threads)
        before = {s.name: s for s in previous.sources if s.enabled} if previous else {}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("source:") and job.id[7:] not in current:
                job.remove()
                log.info("source %s removed from the schedule", job.id[7:])
        for name, options in current.items():
            if name in before and before[name].every == options.every and self.scheduler.get_job(f"source:{name}"):
                continue
            check = check_every(options.every)
            self.scheduler.add_job(
                self.run_source_job,
                IntervalTrigger(seconds=check, jitter=check / 10),
                args=[name],
                id=f"source:{name}",
                name=f"source {name}",
                max_instances=1,  # never two runs of one source at once
                coalesce=True,
                misfire_grace_time=max(1, int(check)),
                replace_existing=True,
                next_run_time=datetime.now(timezone.utc) + timedelta(seconds=random.uniform(0, min(5.0, check / 10))),
            )

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, *, metrics_port: int | None = None, metrics_host: str = "127.0.0.1") -> None:
        """Schedule every source, the delivery retries and the config watcher, and start (with
        Prometheus metrics on ``metrics_host:metrics_port`` when a port is given)."""
        if metrics_port is not None:
            from monitor.metrics import serve_metrics  # prometheus-client only for those who ask

            self._metrics = serve_metrics(self.db_path, port=metrics_port, host=metrics_host, clock=self.clock)
            log.info("metrics on http://%s:%d/metrics", metrics_host, self._metrics.server_port)
        fewer_arenas()
        # A thread for every source's job, and as many again for what the config may add: a source
        # whose server drips its answer holds its own thread, never a healthy one's.
        sources = len(self.runtime.config.sources)
        self._threads = max(MIN_THREADS, 2 * sources + 8)
        self.scheduler.configure(executors={"default": ThreadPoolExecutor(self._threads)})
        self.sync_jobs()
        self.scheduler.add_job(self.deliver_job, IntervalTrigger(seconds=DELIVERY_EVERY.total_seconds()),
                               id="deliver", max_instances=1, coalesce=True, replace_existing=True)
        alerts = self.runtime.config.alerts
        if alerts.digest_at:
            hour, minute = map(int, alerts.digest_at.split(":"))
            self.scheduler.add_job(self.digest_job, CronTrigger(hour=hour, minute=minute, timezone=alerts.digest_timezone),
                                   id="digest", max_instances=1, coalesce=True, replace_existing=True)
        window = self.runtime.config.spikes.window.total_seconds()
        self.scheduler.add_job(self.spikes_job, IntervalTrigger(seconds=window), id="spikes", max_instances=1,
                               coalesce=True, replace_existing=True)
        self.scheduler.add_job(self.reload_if_changed, IntervalTrigger(seconds=WATCH_EVERY.total_seconds()),
                               id="watch-config", max_instances=1, coalesce=True, replace_existing=True)
        with Store(self.db_path) as store:
            store.heartbeat(worker(), now=self.started_at, started_at=self.started_at)
        self.scheduler.start()
        self._listen_for_clicks()
        log.info("monitor running: %d sources, database %s", len(self.runtime.config.sources), self.db_path)

    def _listen_for_clicks(self) -> None:
        """A Socket Mode connection for each Slack receiver with buttons (``app_token_env``) that
        can send; one that cannot connect is logged, and polling and delivery go on without it."""
        from monitor.config_alerts import SlackReceiver

        for receiver in self.runtime.config.receivers:
            if not (isinstance(receiver, SlackReceiver) and receiver.app_token_env
                    and receiver.name in self.runtime.notifiers and os.environ.get(receiver.app_token_env)):
                continue
            from monitor.slack_actions import SlackActions  # slack-sdk's Socket Mode only for those who use it

            listener = SlackActions(receiver.name, channel=receiver.channel or "", database=self.db_path,
                                    token=os.environ[receiver.token_env or ""], app_token=os.environ[receiver.app_token_env],
                                    base_url=receiver.base_url, clock=self.clock)
            try:
                listener.start()
            except Exception as exc:  # noqa: BLE001 - a button outage never stops the monitor
                log.warning("receiver %s: cannot open Socket Mode for buttons: %s", receiver.name, exc)
                continue
            self._listeners.append(listener)

    def stop(self) -> None:
        """Stop scheduling, let running jobs (a source mid-run) finish, then flush the outbox: what
        is waiting goes out now rather than after a restart."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        for listener in self._listeners:
            listener.stop()
        self._listeners = []
        try:
            with Store(self.db_path) as store:
                report = deliver(self.runtime, store, now=self.clock(), flush=True)
                store.forget_worker(worker())
            if report.sent or report.retrying or report.waiting:
                log.info("outbox flushed on stop: %d sent, %d to retry, %d waiting", report.sent, report.retrying,
                         report.waiting)
        finally:
            self.runtime.client.close()
            if self._metrics is not None:
                self._metrics.shutdown()
                self._metrics.server_close()
