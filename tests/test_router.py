"""The alert router: routes, groups, repeats and silences, delivered through the real slack-sdk."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from alerts.router import parse_matcher, routes_for
from monitor.config_check import parse_config
from monitor.errors import ConfigError
from monitor.runtime import Runtime, deliver, enqueue, routing_tree
from monitor.store import Store
from tests.support import NOW, assert_no_control_sequences, hostile_alert

RECEIVERS = "receivers: [{name: console, type: console}, {name: slack, type: slack, webhook_url_env: TEST_SLACK_WEBHOOK}]\n"
BRANDS = "brands: [{name: Acme Cloud, keywords: [acme]}, {name: Beta, keywords: [beta]}]\n"
ROUTE = """route:
  receiver: slack
  group_by: [kind, brand]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
"""


@pytest.fixture
def runtime(slack, monkeypatch, tmp_path: Path):
    monkeypatch.setenv("TEST_SLACK_WEBHOOK", slack.webhook_url)
    config = parse_config(BRANDS + RECEIVERS + ROUTE)
    with httpx.Client() as client:
        yield Runtime.build(config, client=client)


def bot_receiver(slack, monkeypatch) -> str:
    """A Slack receiver by bot token (it can thread and read its channel back), on the stand-in."""
    monkeypatch.setenv("TEST_SLACK_TOKEN", "xoxb-test-token")
    return f"{{name: slack, type: slack, token_env: TEST_SLACK_TOKEN, channel: C123, base_url: '{slack.api_url}'}}"

def test_matchers_follow_alertmanager() -> None:
    labels = {"kind": "spike", "brand": "Acme Cloud", "source": "reddit"}
    assert parse_matcher('brand="Acme Cloud"').matches(labels)
    assert parse_matcher("kind!=assassin").matches(labels)
    assert parse_matcher('source=~"red.*|hn"').matches(labels)
    assert not parse_matcher('source=~"red"').matches(labels)  # regexes match the whole value
    assert parse_matcher('source!~"hn"').matches(labels)
    for bad in ("brand", "=x", 'brand=~"("'):
        with pytest.raises(ValueError):
            parse_matcher(bad)


def test_routing_tree_continue_and_inheritance() -> None:
    config = parse_config(BRANDS + RECEIVERS + ROUTE + """  routes:
    - matchers: ['kind="spike"']
      receiver: console
      continue: true
      group_wait: 5s
    - matchers: ['brand="Acme Cloud"', 'severity="critical"']
      repeat_interval: 1h
    - matchers: ['brand="Acme Cloud"']
      receiver: console
""")
    tree = routing_tree(config)
    spike = routes_for(tree, {"kind": "spike", "brand": "Acme Cloud", "severity": "critical"})
    assert [(r.path, r.receiver) for r in spike] == [("route.routes[0]", "console"), ("route.routes[1]", "slack")]
    assert spike[0].group_wait == timedelta(seconds=5) and spike[0].repeat_interval == timedelta(hours=4)
    assert spike[1].repeat_interval == timedelta(hours=1) and spike[1].group_wait == timedelta(seconds=30)
    assert [r.path for r in routes_for(tree, {"kind": "assassin", "brand": "Acme Cloud", "severity": "warning"})] == ["route.routes[2]"]
    assert [r.path for r in routes_for(tree, {"kind": "assassin", "brand": "Beta"})] == ["route"]
    assert spike[1].group_key({"kind": "spike", "brand": "Acme Cloud"}) == "route.routes[1]{kind=spike,brand=Acme Cloud}"


def test_route_config_errors_name_the_key_path() -> None:
    cases = {
        "route:\n  receiver: slack\n  routes:\n    - receiver: slak\n":
            "line 6: route.routes[0].receiver: unknown receiver 'slak' — did you mean 'slack'?",
        "route:\n  receiver: slack\n  routes:\n    - matchers: ['brand=~\"(\"']\n":
            "route.routes[0].matchers: bad regular expression '(' in 'brand=~\"(\"'",
        "route:\n  group_wait: 30s\n": "route.receiver: the root route needs a receiver",
        "route:\n  receiver: slack\n  group_wait: soon\n": "route.group_wait: bad duration 'soon'",
    }
    for text, expected in cases.items():
        with pytest.raises(ConfigError) as info:
            parse_config(BRANDS + RECEIVERS + text)
        assert expected in str(info.value), str(info.value)


def test_a_burst_of_50_assassins_is_one_message_and_a_repeat_is_none(runtime, slack, database: str) -> None:
    with Store(database) as store:
        for i in range(50):
            queued = enqueue([hostile_alert(key=f"assassin:blog:{i}", payload=f"post {i} <!channel>")], runtime, store,
                             now=NOW + timedelta(seconds=i * 0.5))
            assert queued == 1
        assert deliver(runtime, store, now=NOW + timedelta(seconds=20)).sent == 0  # still gathering (group_wait 30s)
        report = deliver(runtime, store, now=NOW + timedelta(seconds=31))
        assert report.sent == 50 and len(slack.posted()) == 1
        message = slack.posted()[0]
        assert message["text"].startswith("50 assassins · Acme Cloud · together up to ~12k people")
        assert_no_control_sequences(message)
        assert any("and 47 more posts" in str(block) for block in message["blocks"])
        assert len(message["blocks"]) <= 50 and len(message["text"]) <= 3000  # Slack's limits
        assert all(len(b["text"]["text"]) <= 3000 for b in message["blocks"] if b["type"] == "section")
        assert len(message["blocks"][0]["text"]["text"]) <= 150

        # The same alert raised again inside repeat_interval: nothing goes out.
        later = NOW + timedelta(hours=1)
        assert enqueue([hostile_alert(key="assassin:blog:7")], runtime, store, now=later) == 0
        deliver(runtime, store, now=later + timedelta(minutes=10))
        assert len(slack.posted()) == 1
        # After repeat_interval it may go out again, once, at the group's pace.
        again = NOW + timedelta(hours=5)
        assert enqueue([hostile_alert(key="assassin:blog:7")], runtime, store, now=again) == 1
        deliver(runtime, store, now=again)
        assert len(slack.posted()) == 2
        assert store.alert_counts() == {"sent": 50}


def test_a_new_alert_in_a_group_that_just_notified_waits_for_group_interval(runtime, slack, database: str) -> None:
    with Store(database) as store:
        enqueue([hostile_alert(key="assassin:blog:1")], runtime, store, now=NOW)
        deliver(runtime, store, now=NOW + timedelta(seconds=30))
        enqueue([hostile_alert(key="assassin:blog:2")], runtime, store, now=NOW + timedelta(minutes=1))
        deliver(runtime, store, now=NOW + timedelta(minutes=2))
        assert len(slack.posted()) == 1
        deliver(runtime, store, now=NOW + timedelta(minutes=5, seconds=30))
        assert len(slack.posted()) == 2


def test_a_silence_suppresses_and_expires(runtime, slack, database: str) -> None:
    with Store(database) as store:
        store.add_silence(['brand="Acme Cloud"', "kind=assassin"], author="ana", reason="known outage",
                          starts_at=NOW, expires_at=NOW + timedelta(hours=1), now=NOW)
        enqueue([hostile_alert(key="assassin:blog:1")], runtime, store, now=NOW)
        deliver(runtime, store, now=NOW + timedelta(minutes=1))
        assert slack.posted() == [] and store.alert_counts() == {"silenced": 1}
        later = NOW + timedelta(hours=1, minutes=1)
        enqueue([hostile_alert(key="assassin:blog:2")], runtime, store, now=later)
        deliver(runtime, store, now=later + timedelta(minutes=1))
        assert len(slack.posted()) == 1 and store.alert_counts() == {"silenced": 1, "sent": 1}


def test_outage_of_ten_minutes_with_100_alerts_delivers_each_exactly_once(runtime, slack, database: str) -> None:
    with Store(database) as store:
        slack.script += [(503, "unavailable", {})] * 6 + [(429, "rate_limited", {"Retry-After": "60"})] * 2
        now = NOW
        for i in range(100):
            brand = "Acme Cloud" if i % 2 else "Beta"
            alert = hostile_alert(key=f"assassin:blog:{i}", payload=f"post {i}")
            alert = replace(alert, brand=brand)
            enqueue([alert], runtime, store, now=now)
            if i % 10 == 9:
                now += timedelta(minutes=1)
                deliver(runtime, store, now=now)
        for _ in range(24):  # two hours after the outage began
            now += timedelta(minutes=5)
            deliver(runtime, store, now=now)
        assert store.alert_counts() == {"sent": 100}
        texts = [b["text"] for b in slack.posted()]
        assert len(texts) == len(set(texts))  # no message twice
        delivered = sum(int(t.split(" assassins · ")[0]) if " assassins · " in t else 1 for t in texts)
        assert delivered == 100 and len(texts) < 20  # grouped per brand, never one message per alert


def test_alerts_test_sends_a_sample_through_slack_and_preview_renders_the_outbox(slack, monkeypatch, tmp_path: Path,
                                                                                 database: str) -> None:
    from click.testing import CliRunner

    from monitor.cli import main

    monkeypatch.setenv("TEST_SLACK_WEBHOOK", slack.webhook_url)
    config = tmp_path / "config.yaml"
    config.write_text(BRANDS + RECEIVERS + ROUTE + f"database: {database}\n")
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(config), "alerts", "test", "slack"])
    assert result.exit_code == 0 and "sent a test alert to slack" in result.output
    assert len(slack.posted()) == 1 and "&lt;!channel&gt; stays text" in str(slack.posted()[0]["blocks"])
    slack.script.append((404, "no_service", {}))  # a revoked webhook: the error names the receiver, not the secret
    failed = runner.invoke(main, ["--config", str(config), "alerts", "test", "slack"])
    assert failed.exit_code == 1 and "receiver slack" in failed.output and slack.webhook_url not in failed.output

    parsed = parse_config(config.read_text())
    with httpx.Client() as client, Store(database) as store:
        runtime = Runtime.build(parsed, client=client)
        for i in range(3):
            enqueue([hostile_alert(key=f"assassin:blog:{i}")], runtime, store, now=NOW)
    preview = runner.invoke(main, ["--config", str(config), "alerts", "preview"])
    assert preview.exit_code == 0 and "to slack, group route{kind=assassin,brand=Acme Cloud}" in preview.output
    assert "3 assassin posts about Acme Cloud" in preview.output
    as_slack = runner.invoke(main, ["--config", str(config), "alerts", "preview", "--slack"])
    assert '"blocks"' in as_slack.output and "&lt;!channel&gt;" in as_slack.output
    assert len(slack.posted()) == 1  # previews send nothing


def test_a_firing_spike_absorbs_its_brands_assassins(runtime, slack, database: str) -> None:
    spike = replace(hostile_alert(key="spike:Acme Cloud:w1", payload="storm"), kind="spike", source="all sources",
                    reason="negative of Acme Cloud jumped: 40 posts, expected 2", mentions=())
    with Store(database) as store:
        enqueue([hostile_alert(key=f"assassin:blog:{i}", payload=f"post {i}") for i in range(3)], runtime, store, now=NOW)
        enqueue([spike], runtime, store, now=NOW)
        deliver(runtime, store, now=NOW + timedelta(seconds=31))
        assert len(slack.posted()) == 1, "the assassins appear inside the spike's message"
        assert "with 3 assassin posts of Acme Cloud inside" in slack.posted()[0]["text"]
        # While the spike fires, new assassins of that brand are inhibited; other brands are not.
        later = NOW + timedelta(hours=1)
        enqueue([hostile_alert(key="assassin:blog:9")], runtime, store, now=later)
        enqueue([replace(hostile_alert(key="assassin:blog:10"), brand="Beta")], runtime, store, now=later)
        deliver(runtime, store, now=later + timedelta(minutes=1))
        assert len(slack.posted()) == 2 and "Beta" in slack.posted()[1]["text"]
        assert store.alert_counts() == {"sent": 5, "inhibited": 1}



def test_a_storm_takes_in_only_the_assassins_of_its_own_period(runtime, slack, database: str) -> None:
    # The storm ran from an hour before NOW to NOW: posts published then are its own; one from
    # three days ago is not, and goes out on its own (neither inside the storm nor inhibited).
    spike = replace(hostile_alert(key="spike:Acme Cloud:w1", payload="storm"), kind="spike", source="all sources",
                    reason="Acme Cloud: 40 negative posts in 1 hour", mentions=(),
                    starts_at=NOW - timedelta(hours=1), ends_at=NOW)
    old = hostile_alert(key="assassin:blog:old", payload="old post")
    old = replace(old, mentions=(replace(old.mentions[0], mention=replace(old.mentions[0].mention,
                                                                          published_at=NOW - timedelta(days=3))),))
    with Store(database) as store:
        enqueue([hostile_alert(key="assassin:blog:1", payload="storm post"), old], runtime, store, now=NOW)
        enqueue([spike], runtime, store, now=NOW)
        deliver(runtime, store, now=NOW + timedelta(seconds=31))
        storm, alone = slack.posted()
        assert "with 1 assassin post of Acme Cloud inside" in storm["text"] and "storm post" in str(storm["blocks"])
        assert "old post" not in str(storm["blocks"]) and "old post" in str(alone["blocks"])
        # While it fires, a later post of its period is inhibited; one published after it ended is not.
        later = NOW + timedelta(hours=2)
        inside = hostile_alert(key="assassin:blog:2", payload="inside")
        inside = replace(inside, mentions=(replace(inside.mentions[0], mention=replace(
            inside.mentions[0].mention, published_at=NOW - timedelta(minutes=10))),))
        after = hostile_alert(key="assassin:blog:3", payload="after")
        after = replace(after, mentions=(replace(after.mentions[0], mention=replace(
            after.mentions[0].mention, published_at=later)),))
        enqueue([inside, after], runtime, store, now=later)
        deliver(runtime, store, now=later + timedelta(minutes=1))
        assert len(slack.posted()) == 3 and "after" in str(slack.posted()[2]["blocks"])
        assert "inside" not in str(slack.posted()[2]["blocks"])
        assert store.alert_counts() == {"sent": 4, "inhibited": 1}


def test_a_spike_grouped_with_its_brands_assassins_shows_each_once(slack, monkeypatch, database: str) -> None:
    monkeypatch.setenv("TEST_SLACK_WEBHOOK", slack.webhook_url)
    config = parse_config(BRANDS + RECEIVERS + ROUTE.replace("group_by: [kind, brand]", "group_by: [brand]"))
    spike = replace(hostile_alert(key="spike:Acme Cloud:w1", payload="storm"), kind="spike", source="all sources",
                    reason="negative of Acme Cloud jumped: 40 posts, expected 2", mentions=())
    with httpx.Client() as client, Store(database) as store:
        runtime = Runtime.build(config, client=client)
        enqueue([hostile_alert(key=f"assassin:blog:{i}", payload=f"post-{i}") for i in range(2)], runtime, store, now=NOW)
        enqueue([spike], runtime, store, now=NOW)
        assert deliver(runtime, store, now=NOW + timedelta(seconds=31)).sent == 3
    (message,) = slack.posted()
    shown = str(message["blocks"])
    assert shown.count("Title post-0") == 1 and shown.count("Title post-1") == 1
    assert message["blocks"][1]["text"]["text"].startswith("negative of Acme Cloud jumped: 40 posts, expected 2 (and 2 more")


def test_two_deliverers_on_one_database_claim_a_message_once(runtime, database: str) -> None:
    # Two processes (monitor run, and monitor once from cron) deliver from the same outbox.
    with Store(database) as first, Store(database) as second:
        enqueue([hostile_alert(key=f"assassin:blog:{i}") for i in range(2)], runtime, first, now=NOW)
        keys = [r["key"] for r in first.group_pending("slack", first.due_groups(now=None)[0]["group_key"], now=None)]
        assert first.mark_sending(keys, "n1", now=NOW) is True
        assert second.mark_sending(keys, "n2", now=NOW) is False, "the second finds them taken and sends nothing"
        assert second.mark_sending(keys[:1], "n2", now=NOW) is False
        assert {r[0] for r in second.db.execute("SELECT notification FROM alerts")} == {"n1"}

class KilledAfterSend:
    """The real notifier, and then the process dies before the outbox records the send."""

    def __init__(self, notifier) -> None:
        self.inner, self.name = notifier, notifier.name

    def send(self, alert, idempotency_key=None, thread=None):
        self.inner.send(alert, idempotency_key=idempotency_key, thread=thread)
        raise KeyboardInterrupt("killed right after the send")

    def was_delivered(self, key, *, since):
        return self.inner.was_delivered(key, since=since)


@pytest.mark.parametrize("way", ["bot", "webhook"])
def test_a_process_killed_right_after_a_send_does_not_send_it_again(slack, monkeypatch, database: str, way: str) -> None:
    monkeypatch.setenv("TEST_SLACK_WEBHOOK", slack.webhook_url)
    receiver = (bot_receiver(slack, monkeypatch) if way == "bot"
                else "{name: slack, type: slack, webhook_url_env: TEST_SLACK_WEBHOOK}")
    config = parse_config(BRANDS + f"receivers: [{receiver}]\n" + ROUTE)
    counts = deliver_killed(config, database, KilledAfterSend)
    assert len(slack.posted()) == 1 and counts == {"sending": 1}
    counts = deliver_restarted(config, database)
    if way == "bot":  # the channel is read back for the notification's key: not posted twice
        assert len(slack.posted()) == 1 and counts == {"sent": 1}
    else:  # a webhook cannot read the channel: never twice, so it is flagged for a human instead
        assert len(slack.posted()) == 1 and counts == {"unconfirmed": 1}


def deliver_killed(config, path: str, killer) -> dict:
    """One delivery of one assassin alert, the process killed by ``killer`` around the send: the
    outbox's counts as it died."""
    with httpx.Client() as client, Store(path) as store:
        first = Runtime.build(config, client=client)
        enqueue([hostile_alert(key="assassin:blog:1")], first, store, now=NOW)
        first.notifiers["slack"] = killer(first.notifiers["slack"])
        with pytest.raises(KeyboardInterrupt):
            deliver(first, store, now=NOW + timedelta(seconds=31))
        return store.alert_counts()


def deliver_restarted(config, path: str) -> dict:
    """Restarted: a fresh runtime and store over the same file, delivering for ten minutes; the outbox's counts."""
    with httpx.Client() as client, Store(path) as store:
        restarted = Runtime.build(config, client=client)
        for minutes in (1, 5, 10):
            deliver(restarted, store, now=NOW + timedelta(minutes=minutes))
        return store.alert_counts()


def test_quiet_hours_hold_warnings_until_morning_and_let_critical_through(slack, monkeypatch, database: str) -> None:
    monkeypatch.setenv("TEST_SLACK_WEBHOOK", slack.webhook_url)
    # NOW is 11:00 UTC = 12:00 in Paris (CET): a window 11:30–13:00 local holds it until 12:00 UTC.
    config = parse_config(BRANDS + RECEIVERS + ROUTE + "  quiet_hours: [lunch]\n"
                          "quiet_hours:\n  - name: lunch\n    timezone: Europe/Paris\n    start: '11:30'\n    end: '13:00'\n")
    with httpx.Client() as client, Store(database) as store:
        runtime = Runtime.build(config, client=client)
        enqueue([hostile_alert(key="assassin:blog:1")], runtime, store, now=NOW)
        critical = replace(hostile_alert(key="assassin:blog:2"), brand="Beta", severity="critical")
        enqueue([critical], runtime, store, now=NOW)
        deliver(runtime, store, now=NOW + timedelta(minutes=1))
        assert len(slack.posted()) == 1 and "Beta" in slack.posted()[0]["text"]  # critical passes
        deliver(runtime, store, now=NOW + timedelta(minutes=30))
        assert len(slack.posted()) == 1  # the warning waits for the window's end…
        deliver(runtime, store, now=NOW + timedelta(hours=1, seconds=1))
        assert len(slack.posted()) == 2  # …and goes out then


def test_quiet_hours_windows_and_their_errors() -> None:
    from datetime import datetime, timezone

    from monitor.config_alerts import QuietHours

    night = QuietHours(name="night", timezone="America/New_York", start="22:00", end="07:00", weekdays=["fri"])
    friday_late = datetime(2026, 11, 28, 4, 0, tzinfo=timezone.utc)  # Fri 23:00 in New York
    assert night.quiet_until(friday_late) == datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)  # Sat 07:00 there
    assert night.quiet_until(datetime(2026, 11, 27, 4, 0, tzinfo=timezone.utc)) is None  # Thursday night: not listed
    for text, expected in {
        "quiet_hours: [{name: n, timezone: Mars/Olympus, start: '22:00', end: '07:00'}]\n": "quiet_hours[0].timezone: unknown time zone 'Mars/Olympus'",
        "quiet_hours: [{name: n, start: '25:00', end: '07:00'}]\n": "quiet_hours[0].start: '25:00' is not a time of day",
        "route: {receiver: slack, quiet_hours: [nite]}\nquiet_hours: [{name: night, start: '22:00', end: '07:00'}]\n":
            "route.quiet_hours[0]: unknown quiet_hours window 'nite' — use one of: night",
    }.items():
        with pytest.raises(ConfigError) as info:
            parse_config(BRANDS + RECEIVERS + text)
        assert expected in str(info.value), str(info.value)


def test_updates_of_a_group_still_firing_go_into_its_thread(slack, monkeypatch, database: str) -> None:
    receiver = bot_receiver(slack, monkeypatch)
    config = parse_config(BRANDS + f"receivers: [{receiver}]\n" + ROUTE)
    with httpx.Client() as client, Store(database) as store:
        runtime = Runtime.build(config, client=client)
        enqueue([hostile_alert(key="assassin:blog:1")], runtime, store, now=NOW)
        deliver(runtime, store, now=NOW + timedelta(seconds=30))
        enqueue([hostile_alert(key="assassin:blog:2")], runtime, store, now=NOW + timedelta(minutes=10))
        deliver(runtime, store, now=NOW + timedelta(minutes=11))
        enqueue([hostile_alert(key="assassin:blog:3")], runtime, store, now=NOW + timedelta(hours=5))
        deliver(runtime, store, now=NOW + timedelta(hours=5, minutes=1))
    first, update, fresh = [b for b in slack.posted()]
    assert "thread_ts" not in first and update["thread_ts"] == "0.0001"  # the stand-in's ts of the first post
    assert "thread_ts" not in fresh  # after repeat_interval a new message starts a new thread


def test_a_source_that_is_down_inhibits_its_volume_drop(runtime, slack, database: str) -> None:
    drop = replace(hostile_alert(key="drop:Acme Cloud:blog:w1"), kind="drop", mentions=(),
                   reason="mentions of Acme Cloud on blog dropped: 0 posts, expected 30")
    other = replace(drop, key="drop:Acme Cloud:hn:w1", source="hn", reason="mentions of Acme Cloud on hn dropped")
    with Store(database) as store:
        store.ensure_source("blog", "rss", now=NOW)
        for _ in range(3):
            store.record_failure("blog", "HTTP 503", now=NOW, next_check_at=NOW)
        enqueue([drop, other], runtime, store, now=NOW)
        deliver(runtime, store, now=NOW + timedelta(minutes=1))
        assert store.alert_counts() == {"inhibited": 1, "sent": 1}
        assert len(slack.posted()) == 1 and "on hn dropped" in slack.posted()[0]["text"]


def test_the_fingerprint_follows_the_labels() -> None:
    a, b = hostile_alert(key="assassin:blog:1"), hostile_alert(key="assassin:blog:2")
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 16
    assert replace(a, brand="Beta").fingerprint != a.fingerprint


def test_silences_in_config_hold_alerts_until_they_expire_and_need_an_expiry(slack, monkeypatch, database: str) -> None:
    monkeypatch.setenv("TEST_SLACK_WEBHOOK", slack.webhook_url)
    silence = ("silences:\n  - matchers: ['brand=\"Acme Cloud\"']\n    author: ana\n    reason: known outage\n"
               "    expires: 2026-11-23T12:00:00Z\n")
    config = parse_config(BRANDS + RECEIVERS + ROUTE + silence)
    with httpx.Client() as client, Store(database) as store:
        runtime = Runtime.build(config, client=client)
        enqueue([hostile_alert(key="assassin:blog:1")], runtime, store, now=NOW)
        deliver(runtime, store, now=NOW + timedelta(minutes=1))
        assert slack.posted() == [] and store.alert_counts() == {"silenced": 1}
        enqueue([hostile_alert(key="assassin:blog:2")], runtime, store, now=NOW + timedelta(hours=2))
        deliver(runtime, store, now=NOW + timedelta(hours=2, minutes=1))
        assert len(slack.posted()) == 1
    for text, expected in {
        silence.replace("    expires: 2026-11-23T12:00:00Z\n", ""): "silences[0].expires:",
        silence.replace("2026-11-23T12:00:00Z", "2026-11-23T12:00:00"): "silences[0].expires: give the time zone",
        silence.replace('brand="Acme Cloud"', 'brand=~"("'): "silences[0].matchers: bad regular expression",
    }.items():
        with pytest.raises(ConfigError) as info:
            parse_config(BRANDS + RECEIVERS + text)
        assert expected in str(info.value), str(info.value)


def test_a_source_silent_far_beyond_its_rhythm_is_source_down(database: str) -> None:
    from monitor.health import silent_source_alert
    from monitor.models import Judged, Match, Mention, Reach, Score

    with Store(database) as store:
        store.ensure_source("blog", "rss", now=NOW)
        items = [Judged(Mention(source="blog", id=str(i), url=None, text="acme", published_at=NOW - timedelta(days=3, hours=i)),
                        Match(("Acme Cloud",), ()), Score(0.0, "apathetic"), Reach(1, 4, "t", 3)) for i in range(40)]
        store.save_mentions(items, fetched_at=NOW)
        # One mention an hour for 40 hours, then nothing for 3 days: 72 h > 10 × 1 h.
        alert = silent_source_alert(store.source_row("blog"), factor=10, now=NOW)
        assert alert is not None and alert.kind == "source_down" and "no mention for 72 h" in alert.reason
        assert silent_source_alert(store.source_row("blog"), factor=100, now=NOW) is None  # 72 h < 100 × 1 h
        assert silent_source_alert(store.source_row("other"), factor=10, now=NOW) is None  # no rhythm yet


class KilledBeforeSend(KilledAfterSend):
    def send(self, alert, idempotency_key=None, thread=None):
        raise KeyboardInterrupt("killed before the request left")


def test_a_process_killed_before_the_send_left_sends_it_after_restart(slack, monkeypatch, database: str) -> None:
    receiver = bot_receiver(slack, monkeypatch)
    config = parse_config(BRANDS + f"receivers: [{receiver}]\n" + ROUTE)
    deliver_killed(config, database, KilledBeforeSend)
    counts = deliver_restarted(config, database)
    assert len(slack.posted()) == 1 and counts == {"sent": 1}  # the channel lacked it: sent once


@pytest.mark.parametrize("kind", ["bot", "webhook"])
def test_a_slack_answer_lost_after_a_timeout_is_never_sent_twice(kind, slack, monkeypatch, database: str, caplog) -> None:
    # Slack keeps each message but answers after the client gave up (2 s against a 1 s timeout, as
    # 20 s against 15 s): the send is "unknown", not "failed". The bot asks its channel before
    # sending again and finds them; the webhook cannot ask, so its alerts are marked unconfirmed.
    monkeypatch.setenv("TEST_SLACK_WEBHOOK", slack.webhook_url)
    receiver = (bot_receiver(slack, monkeypatch).replace("}", ", timeout: 1s}") if kind == "bot" else
                "{name: slack, type: slack, webhook_url_env: TEST_SLACK_WEBHOOK, timeout: 1s}")
    config = parse_config(BRANDS + f"receivers: [{receiver}]\n" + ROUTE.replace("group_by: [kind, brand]", "group_by: [kind, brand, source]"))
    slack.delay = 2.0
    caplog.set_level("INFO", logger="monitor")
    with httpx.Client() as client, Store(database) as store:
        runtime = Runtime.build(config, client=client)
        for i in range(3):
            enqueue([replace(hostile_alert(key=f"assassin:blog{i}:1"), source=f"blog{i}")], runtime, store, now=NOW)
        now = NOW + timedelta(minutes=1)
        deliver(runtime, store, now=now)  # the first times out; the receiver is paused for this round
        slack.delay = 0.0
        for minutes in (2, 4, 6, 8, 10):
            deliver(runtime, store, now=now + timedelta(minutes=minutes))
        posts = [r for r in slack.requests if r["accepted"] and not r["path"].endswith("conversations.history")]
        counts = store.alert_counts()
    assert len(posts) == 3, [r["path"] for r in posts]  # one post per group, the lost answer's included, never two
    if kind == "bot":
        assert counts == {"sent": 3}
        assert "went out before the interruption; not sending it again" in caplog.text, "it asked its channel"
    else:
        assert counts == {"sent": 2, "unconfirmed": 1}


def test_a_503_pauses_the_receiver_for_the_round_not_only_the_group(runtime, slack, database: str) -> None:
    # Twenty groups wait while Slack answers 503: one try a delivery round, not one per group.
    slack.script += [(503, "unavailable", {})] * 100
    with Store(database) as store:
        for i in range(20):
            enqueue([replace(hostile_alert(key=f"assassin:blog{i}:1"), source=f"blog{i}", brand=f"Brand {i}")],
                    runtime, store, now=NOW)
        for k in range(4):
            deliver(runtime, store, now=NOW + timedelta(minutes=1 + k))
    assert len(slack.requests) <= 4, len(slack.requests)
