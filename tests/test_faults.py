"""Faults found when the monitor was tried as an operator would: each one served from a
loopback server (or a real file), each asserting what is recorded, what still works, and
that nothing is lost or sent twice."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from monitor.config import parse_config
from monitor.models import Alert, Judged, Match, Mention, Reach, Score
from monitor.pipeline import Runtime, deliver, enqueue
from monitor.store import Store
from tests.support import NOW

WEBHOOK_CONFIG = """\
brands: [{name: Acme Cloud, keywords: [acme]}]
receivers: [{name: slack, type: slack, webhook_url_env: TEST_FAULTS_WEBHOOK}]
route: {receiver: slack, group_by: [kind, brand], group_wait: 30s, group_interval: 5m, repeat_interval: 4h}
"""


def assassin(n: int) -> Alert:
    """An assassin alert for post ``n`` of a blog."""
    mention = Mention(source="blog", id=str(n), url=f"https://blog.example/{n}", text=f"Acme Cloud lost my data ({n})",
                      published_at=NOW, author=f"user{n}", source_type="rss")
    judged = Judged(mention, Match(("Acme Cloud",), ("acme",)), Score(-0.8, "assassin", ("data loss",)), Reach(10, 100, "test"))
    return Alert(f"assassin:blog:{n}", "assassin", "Acme Cloud", "blog", "warning", "assassin score 0.90", (judged,), NOW)


@pytest.fixture
def webhook_runtime(slack, monkeypatch):
    monkeypatch.setenv("TEST_FAULTS_WEBHOOK", slack.webhook_url)
    with httpx.Client() as client:
        yield Runtime.build(parse_config(WEBHOOK_CONFIG), client=client)


# --- 1. alerts stranded after a failed send -----------------------------------------------------


@pytest.mark.parametrize("answer, first_retry", [
    ((503, "service unavailable", {}), timedelta(seconds=30)),           # the outbox's own backoff
    ((429, "rate_limited", {"Retry-After": "100"}), timedelta(seconds=100)),  # the wait Slack asked for
])
def test_alerts_a_failed_send_left_are_sent_once_by_a_later_cron_run(webhook_runtime, slack, tmp_path: Path,
                                                                     answer, first_retry) -> None:
    """`monitor once` from cron: every run flushes; a run inside the wait sends nothing and
    strands nothing; the first run after it sends every alert, once."""
    slack.script.append(answer)
    with Store(tmp_path / "m.db") as store:
        enqueue([assassin(i) for i in range(3)], webhook_runtime, store, now=NOW)
        assert deliver(webhook_runtime, store, now=NOW, flush=True).retrying == 3
        early = NOW + first_retry / 2
        assert deliver(webhook_runtime, store, now=early, flush=True).sent == 0
        assert store.due_groups(now=NOW + first_retry), "the group keeps its retry time"
        for minutes in (1, 2, 10, 60):
            deliver(webhook_runtime, store, now=NOW + first_retry + timedelta(minutes=minutes), flush=True)
        assert store.alert_counts() == {"sent": 3}
    assert len(slack.posted()) == 1 and "3 assassin alerts for Acme Cloud" in slack.posted()[0]["text"]


def test_monitor_run_delivers_what_a_rate_limited_cron_run_left(webhook_runtime, slack, tmp_path: Path) -> None:
    """The same 429, then `monitor run`'s delivery job (no flush): sent once the wait is over."""
    slack.script.append((429, "rate_limited", {"Retry-After": "100"}))
    with Store(tmp_path / "m.db") as store:
        enqueue([assassin(1)], webhook_runtime, store, now=NOW)
        deliver(webhook_runtime, store, now=NOW, flush=True)
        deliver(webhook_runtime, store, now=NOW + timedelta(seconds=40), flush=True)  # a cron run inside the wait
        for seconds in range(60, 400, 30):
            deliver(webhook_runtime, store, now=NOW + timedelta(seconds=seconds))
        assert store.alert_counts() == {"sent": 1}
    assert len(slack.posted()) == 1


def test_a_group_an_older_version_left_idle_with_pending_alerts_is_delivered(webhook_runtime, slack, tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        enqueue([assassin(1)], webhook_runtime, store, now=NOW)
        store.db.execute("UPDATE alert_groups SET next_flush_at = NULL")  # what the stranding bug wrote
        assert deliver(webhook_runtime, store, now=NOW + timedelta(minutes=1)).sent == 1
    assert len(slack.posted()) == 1
