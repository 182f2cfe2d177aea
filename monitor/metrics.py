"""Prometheus metrics for ``monitor run --metrics-port N`` (prometheus-client).

Every figure is read from the database at scrape time, on the scrape's own read-only
connection: the counters are the store's running totals, so they survive restarts, and any
number of processes writing one database report the same numbers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor.models import from_iso
from monitor.store import Store

_STATUSES = ("pending", "sending", "sent", "failed", "unconfirmed", "silenced", "inhibited")


class StoreCollector(Collector):
    """Per source: runs, errors, mentions stored, skipped items, failures in a row, seconds since
    the last success; per receiver: alerts by status and the oldest pending alert's age."""

    def __init__(self, db_path: str, *, clock: Callable[[], datetime]) -> None:
        self.db_path = db_path
        self.clock = clock

    def collect(self) -> Iterator:
        now = self.clock()
        with Store(self.db_path, readonly=True) as store:
            sources, outbox = store.sources_status(), store.outbox_summary()
        counters = {
            "runs": ("runs_total", "Source runs (fetches), successful or not."),
            "errors": ("errors_total", "Source runs that failed."),
            "mentions_stored": ("mentions_stored", "Mentions stored from the source."),
            "skipped_items": ("skipped_total", "Malformed items the source sent and the monitor skipped."),
        }
        for name, (column, help_text) in counters.items():
            family = CounterMetricFamily(f"monitor_source_{name}", help_text, labels=["source"])
            for row in sources:
                family.add_metric([row["name"]], float(row.get(column) or 0))
            yield family
        failing = GaugeMetricFamily("monitor_source_failures_in_a_row", "Consecutive failed runs (0: healthy).",
                                    labels=["source"])
        lag = GaugeMetricFamily("monitor_source_seconds_since_success",
                                "Seconds since the source last ran successfully (absent: never).", labels=["source"])
        for row in sources:
            failing.add_metric([row["name"]], float(row.get("error_count") or 0))
            last = from_iso(row.get("last_success_at"))
            if last is not None:
                lag.add_metric([row["name"]], max(0.0, (now - last).total_seconds()))
        yield failing
        yield lag
        alerts = GaugeMetricFamily("monitor_receiver_alerts", "Alerts in the outbox by receiver and status.",
                                   labels=["receiver", "status"])
        oldest = GaugeMetricFamily("monitor_receiver_oldest_pending_seconds",
                                   "Age of the oldest alert waiting for the receiver (0: none).", labels=["receiver"])
        for row in outbox:
            for status in _STATUSES:
                count = row.get("failed_total") if status == "failed" else row.get(status)
                alerts.add_metric([row["receiver"], status], float(count or 0))
            since = from_iso(row.get("oldest_pending_at"))
            oldest.add_metric([row["receiver"]], max(0.0, (now - since).total_seconds()) if since else 0.0)
        yield alerts
        yield oldest


def serve_metrics(db_path: str, *, port: int, host: str, clock: Callable[[], datetime]):
    """Start the metrics HTTP server on a thread; return the server (``shutdown()`` stops it)."""
    registry = CollectorRegistry()
    registry.register(StoreCollector(db_path, clock=clock))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server
