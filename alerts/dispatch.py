"""Route → group → outbox (Alertmanager's dispatcher): each alert goes, once per route that
takes it, into its group in the outbox; when the group notifies is the outbox's business."""

from __future__ import annotations

from datetime import datetime

from alerts.base import Outbox
from alerts.router import Route, routes_for
from monitor.models import Alert


def enqueue(alerts: list[Alert], router: Route, outbox: Outbox, *, now: datetime) -> int:
    """Route each alert and put it in the outbox, in its group, once per route that takes it;
    return how many were queued."""
    count = 0
    for alert in alerts:
        labels = alert.labels
        for route in routes_for(router, labels):
            count += outbox.enqueue_alert(
                alert, route.receiver, now=now, group_key=route.group_key(labels), route=route.path,
                group_wait=route.group_wait, group_interval=route.group_interval, repeat_interval=route.repeat_interval,
            )
    return count
