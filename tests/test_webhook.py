"""The generic webhook receiver against a real HTTP server on 127.0.0.1: Alertmanager's format,
an HMAC that verifies, exactly once through an outage, a lost answer never sent twice, and the
URL and key in no log line and no stored row."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from alerts.webhook import SIGNATURE_HEADER, WebhookNotifier, verify
from monitor.config_check import parse_config
from monitor.logs import SECRETS
from monitor.runtime import Runtime, deliver
from monitor.store import Store
from tests.support import INVISIBLE, NOW, all_strings, hostile_alert

TOKEN = "s3cret-path-token"
KEY = "hmac-key-9f2c"


class Hook:
    """The receiving service: answers from ``script`` (status codes, or seconds to stall) then
    200; keeps what it accepted."""

    def __init__(self) -> None:
        self.script: list[int | float] = []
        self.seen: list[Request] = []
        self.accepted: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.seen.append(request)
            step = self.script.pop(0) if self.script else 200
        if isinstance(step, float):  # take the alert, answer too late
            self.accepted.append({"body": request.get_data(), "headers": dict(request.headers)})
            time.sleep(step)
            return Response("ok")
        if step == 200:
            self.accepted.append({"body": request.get_data(), "headers": dict(request.headers)})
            return Response("ok")
        return Response("busy", status=step, headers={"Retry-After": "20"} if step in (429, 503) else {})


@pytest.fixture
def hook(httpserver: HTTPServer) -> Hook:
    hook = Hook()
    httpserver.expect_request(f"/hooks/{TOKEN}", method="POST").respond_with_handler(hook)
    return hook


def test_the_body_is_alertmanagers_format_signed_and_every_post_stays_text(hook: Hook, httpserver: HTTPServer) -> None:
    notifier = WebhookNotifier("hook", url=httpserver.url_for(f"/hooks/{TOKEN}"), secret=KEY, clock=lambda: 1_800_000_000)
    notifier.send(hostile_alert(), idempotency_key="hook:kind=assassin:2026-11-23T11:00:00Z")
    (got,) = hook.accepted
    body, headers = got["body"], got["headers"]
    assert verify(KEY, body, headers[SIGNATURE_HEADER], now=1_800_000_030)
    assert not verify(KEY, body.replace(b"firing", b"resolvd"), headers[SIGNATURE_HEADER], now=1_800_000_030)
    assert not verify(KEY, body, headers[SIGNATURE_HEADER], now=1_800_000_000 + 3600), "a replay an hour on is refused"
    assert not verify("another key", body, headers[SIGNATURE_HEADER], now=1_800_000_030)
    assert headers["Idempotency-Key"] == "hook:kind=assassin:2026-11-23T11:00:00Z"
    data = json.loads(body)
    assert data["version"] == "4" and data["status"] == "firing" and data["alerts"][0]["labels"]["kind"] == "assassin"
    assert data["alerts"][0]["annotations"]["summary"] == data["text"] and len(data["text"]) <= 150
    assert data["headline"].startswith("Assassin · Acme Cloud")
    strings = all_strings(data)
    assert not [t for t in strings if INVISIBLE.search(t) or any(ord(c) < 32 for c in t)], "no control or bidi character"
    assert any("<!channel>" in t for t in strings), "a post's words are data, kept as written (the service escapes them)"
    assert all(p["url"] is None or p["url"].startswith(("https://", "http://")) for p in data["posts"])


def _runtime(tmp_path: Path, monkeypatch, url: str, *, timeout: str = "15s"):
    monkeypatch.setenv("HOOK_URL", url)
    monkeypatch.setenv("HOOK_KEY", KEY)
    config = parse_config("brands: [{name: Acme Cloud, keywords: [acme]}]\n"
                          f"receivers: [{{name: hook, type: webhook, url_env: HOOK_URL, signing_secret_env: HOOK_KEY, "
                          f"timeout: {timeout}}}]\n")
    return config


def test_each_alert_goes_out_exactly_once_through_a_60_second_outage(hook: Hook, httpserver: HTTPServer, tmp_path: Path,
                                                                     monkeypatch, caplog) -> None:
    config = _runtime(tmp_path, monkeypatch, httpserver.url_for(f"/hooks/{TOKEN}"))
    for name in (None, "httpx", "httpcore"):  # every logger at its most talkative, whatever earlier tests set
        caplog.set_level(logging.DEBUG, logger=name)
    caplog.handler.addFilter(SECRETS)  # as setup_logging puts it on every handler
    with httpx.Client() as client, Store(tmp_path / "m.db") as store:
        runtime = Runtime.build(config, client=client)
        for i in range(10):
            store.enqueue_alert(hostile_alert(key=f"assassin:blog:{i}", payload=f"post {i}"), "hook", now=NOW)
        now, outage_ends = NOW, NOW + timedelta(seconds=60)
        while now <= NOW + timedelta(minutes=30):
            hook.script = [503] * 3 if now < outage_ends else []  # down for a minute: every request refused
            deliver(runtime, store, now=now)
            now += timedelta(seconds=10)
        keys = [a["headers"]["Idempotency-Key"] for a in hook.accepted]
        assert len(keys) == 10 and len(set(keys)) == 10, keys
        assert store.alert_counts() == {"sent": 10}
        assert len(hook.seen) - len(hook.accepted) <= 7, "a 503 pauses the receiver: one refused request a round"
    dump = "\n".join(sqlite3.connect(tmp_path / "m.db").iterdump())
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug"))  # not the stand-in's
    assert "HTTP Request: POST ***" in logged, "httpx logs each request; the URL is redacted"
    for secret in (TOKEN, KEY):
        assert secret not in logged and secret not in dump


def test_an_answer_lost_after_the_send_is_never_sent_again(hook: Hook, httpserver: HTTPServer, tmp_path: Path,
                                                           monkeypatch) -> None:
    config = _runtime(tmp_path, monkeypatch, httpserver.url_for(f"/hooks/{TOKEN}"), timeout="1s")
    with httpx.Client() as client, Store(tmp_path / "m.db") as store:
        runtime = Runtime.build(config, client=client)
        store.enqueue_alert(hostile_alert(), "hook", now=NOW)
        hook.script = [2.5]  # the service takes it and answers after the timeout
        now = NOW
        for _ in range(12):
            deliver(runtime, store, now=now)
            now += timedelta(minutes=1)
        assert len(hook.seen) == 1, "asked once; a webhook cannot be asked whether it has it"
        assert store.alert_counts() == {"unconfirmed": 1}


def test_a_webhook_variable_without_a_url_or_its_key_keeps_the_receiver_out(monkeypatch) -> None:
    from monitor.config import unavailable_receivers

    config = parse_config("brands: [{name: Acme, keywords: [acme]}]\n"
                          "receivers: [{name: hook, type: webhook, url_env: HOOK_URL, signing_secret_env: HOOK_KEY}]\n")
    monkeypatch.setenv("HOOK_URL", f"hooks.example/{TOKEN}")
    monkeypatch.setenv("HOOK_KEY", KEY)
    (why,) = unavailable_receivers(config).values()
    assert "does not hold a URL" in why and TOKEN not in why
    monkeypatch.setenv("HOOK_URL", f"https://hooks.example/{TOKEN}")
    monkeypatch.delenv("HOOK_KEY")
    assert "HOOK_KEY is not set" in unavailable_receivers(config)["hook"]
