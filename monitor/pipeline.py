"""One pass of the whole monitor (what ``monitor once`` runs): every source, the spike watch,
then delivery. The parts live where a newcomer looks for them: ``ingest`` (one source),
``watch`` (spikes), ``health`` (source alerts, status), ``runtime`` (the parts built from the
config, and the hand-off to ``alerts/``)."""

from __future__ import annotations

from datetime import datetime

from monitor.ingest import SourceReport, run_source
from monitor.runtime import Runtime, deliver
from monitor.workers import held
from monitor.store import Store
from monitor.watch import watch_series


def run_once(runtime: Runtime, store: Store, *, now: datetime) -> list[SourceReport]:
    """One pass over every enabled source, then the spike watch, then deliver what they raised."""
    reports = []
    for options in runtime.config.sources:
        if options.enabled:
            with held(store, f"source:{options.name}", now=now) as ours:
                if ours:  # else another worker is running it
                    reports.append(run_source(options, runtime, store, now=now))
    with held(store, "watch", now=now) as ours:
        if ours:
            watch_series(runtime, store, now=now)
    deliver(runtime, store, now=now, flush=True)
    return reports
