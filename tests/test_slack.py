"""Slack through the real slack-sdk, against a local Slack stand-in on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from alerts.slack import SlackNotifier, escape, link, render
from monitor.config_check import parse_config
from monitor.errors import NotifyError
from monitor.runtime import Runtime, deliver
from monitor.store import Store
from tests.support import NOW, assert_no_control_sequences, hostile_alert

@pytest.mark.parametrize("way", ["webhook", "bot"])
def test_injection_corpus_reaches_slack_as_visible_text(slack, way: str) -> None:
    notifier = (SlackNotifier("slack", webhook_url=slack.webhook_url) if way == "webhook"
                else SlackNotifier("slack", token="xoxb-test", channel="C0TEST", base_url=slack.api_url))
    notifier.send(hostile_alert())
    (body,) = slack.posted()
    assert_no_control_sequences(body)
    flat = json.dumps(body)
    for needle in ("&lt;!channel&gt;", "&lt;@U123&gt;", "&lt;https://evil.example|click&gt;", "&amp;lt;!channel&amp;gt;"):
        assert needle in flat
    assert body["unfurl_links"] in (False, "0", "false") and body["unfurl_media"] in (False, "0", "false")
    if way == "bot":
        assert body["channel"] == "C0TEST" and body["link_names"] in (False, "0", "false")
        assert slack.requests[0]["path"] == "/api/chat.postMessage"
        assert slack.requests[0]["headers"]["Authorization"] == "Bearer xoxb-test"


def test_message_shows_post_author_bucket_reach_and_link(slack) -> None:
    SlackNotifier("slack", webhook_url=slack.webhook_url).send(hostile_alert(payload="refund now"))
    (body,) = slack.posted()
    header = body["blocks"][0]
    assert header["type"] == "header" and header["text"]["text"] == "Assassin · Acme Cloud · reaches ~12–240 people"
    post = body["blocks"][1]["text"]["text"]
    assert "<https://reviews.example/post?a=1&amp;b=%3C2%3E%7Cx|Title refund now>" in post
    assert "Display refund now · blog · assassin" in post
    assert "sentiment" not in post, "what the call rests on, never a number that can say the opposite"


def test_links_only_from_http_urls() -> None:
    assert link("javascript:alert(1)", "x") == "x"
    assert link("slack://open", "<!here>") == "&lt;!here&gt;"
    assert link(None, "plain") == "plain"
    assert link("https://a.example/x y", "label") == "<https://a.example/x%20y|label>"


def test_escape() -> None:
    assert escape("a & <b> <!here>") == "a &amp; &lt;b&gt; &lt;!here&gt;"


def test_long_text_is_truncated_visibly_within_slack_limits() -> None:
    text, blocks = render(hostile_alert(payload="x" * 10000))
    assert len(blocks) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert len(blocks[0]["text"]["text"]) <= 150
    assert len(text) <= 3000 and "…" in text  # clipped where it was cut, visibly


def test_rate_limit_is_retryable_with_retry_after(slack) -> None:
    slack.script.append((429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"}))
    with pytest.raises(NotifyError) as info:
        SlackNotifier("slack-bot", token="xoxb-test", channel="C1", base_url=slack.api_url).send(hostile_alert())
    assert info.value.retryable and info.value.retry_after_seconds == 7 and info.value.receiver == "slack-bot"


def test_webhook_rate_limit_and_outage_are_retryable(slack) -> None:
    notifier = SlackNotifier("hook", webhook_url=slack.webhook_url)
    slack.script += [(429, "rate_limited", {"Retry-After": "3"}), (503, "unavailable", {})]
    with pytest.raises(NotifyError) as info:
        notifier.send(hostile_alert())
    assert info.value.retryable and info.value.retry_after_seconds == 3
    with pytest.raises(NotifyError) as info:
        notifier.send(hostile_alert())
    assert info.value.retryable


@pytest.mark.parametrize("error", ["invalid_auth", "channel_not_found"])
def test_errors_retrying_cannot_fix_are_permanent_and_never_show_the_secret(slack, error: str) -> None:
    slack.script.append((200, {"ok": False, "error": error}, {}))
    with pytest.raises(NotifyError) as info:
        SlackNotifier("slack-bot", token="xoxb-very-secret", channel="C1", base_url=slack.api_url).send(hostile_alert())
    assert not info.value.retryable and error in str(info.value)
    assert "xoxb-very-secret" not in str(info.value)


def test_revoked_webhook_is_permanent(slack) -> None:
    slack.script.append((404, "no_service", {}))
    with pytest.raises(NotifyError) as info:
        SlackNotifier("hook", webhook_url=slack.webhook_url).send(hostile_alert())
    assert not info.value.retryable
    assert "T000" not in str(info.value), "the webhook URL is a secret"


def test_unreachable_slack_is_retryable() -> None:
    with pytest.raises(NotifyError) as info:
        SlackNotifier("hook", webhook_url="http://127.0.0.1:9/services/T/B/X", timeout_seconds=2).send(hostile_alert())
    assert info.value.retryable


def test_outbox_delivers_each_alert_exactly_once_across_an_outage(slack, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TEST_SLACK_WEBHOOK", slack.webhook_url)
    config = parse_config(
        "brands: [{name: Acme Cloud, keywords: [acme]}]\n"
        "receivers: [{name: slack, type: slack, webhook_url_env: TEST_SLACK_WEBHOOK}]\n"
    )
    with httpx.Client() as client, Store(tmp_path / "m.db") as store:
        runtime = Runtime.build(config, client=client)
        for i in range(10):
            store.enqueue_alert(hostile_alert(key=f"assassin:blog:{i}", payload=f"post {i}"), "slack", now=NOW)
        slack.script += [(503, "unavailable", {})] * 3 + [(429, "rate_limited", {"Retry-After": "60"})]
        now = NOW
        first = deliver(runtime, store, now=now)
        assert first.sent == 0 and first.retrying == 1 and first.waiting == 9, "a 503 pauses the receiver for the round"
        for _ in range(20):
            now += timedelta(minutes=5)
            deliver(runtime, store, now=now)
        posted = [b["text"] for b in slack.posted()]
        assert len(posted) == 10 and len(set(posted)) == 10
        assert store.alert_counts() == {"sent": 10}
