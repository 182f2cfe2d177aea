"""Buttons on an alert, clicked through Socket Mode: slack-sdk's own SocketModeClient against a
stand-in that speaks Slack's protocol on 127.0.0.1 (``apps.connections.open`` returning a
``ws://`` URL; envelopes with ``envelope_id``; acks), the Web API on pytest-httpserver."""

from __future__ import annotations

import json
import queue
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from websockets.sync.server import serve
from werkzeug import Request, Response

from alerts.dispatch import enqueue
from monitor.config_check import parse_config
from monitor.models import Alert
from monitor.runtime import Runtime, deliver
from monitor.slack_actions import SlackActions
from monitor.store import Store
from monitor.watch import digest_alert
from tests.support import NOW, free_port, hostile_alert

CHANNEL, MARIA, EVE = "C0TEST123", "U0MARIA", "U0EVE"


class SocketStandIn:
    """Slack's side of Socket Mode: a WebSocket server that says hello, sends the envelopes put
    in ``outgoing`` and keeps the acks; ``drop()`` closes the connection."""

    def __init__(self) -> None:
        self.port = free_port()
        self.outgoing: queue.Queue = queue.Queue()
        self.acks: list[str] = []
        self.connections = 0
        self._drop = threading.Event()
        self.server = serve(self._session, "127.0.0.1", self.port)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _session(self, socket) -> None:
        self.connections += 1
        self._drop.clear()
        socket.send(json.dumps({"type": "hello", "num_connections": 1}))
        while not self._drop.is_set():
            try:
                socket.send(json.dumps(self.outgoing.get(timeout=0.05)))
            except queue.Empty:
                pass
            try:
                message = socket.recv(timeout=0.05)
            except TimeoutError:
                continue
            except Exception:  # noqa: BLE001 - the client went away
                return
            envelope = json.loads(message).get("envelope_id")
            if envelope:
                self.acks.append(envelope)
        socket.close()

    def drop(self) -> None:
        self._drop.set()

    def click(self, envelope: str, payload: dict) -> None:
        self.outgoing.put({"envelope_id": envelope, "type": "interactive", "accepts_response_payload": False,
                           "payload": payload})


@pytest.fixture
def slack_api(httpserver: HTTPServer):
    """The Web API: posts and updates recorded, a channel of one member (Maria)."""
    socket = SocketStandIn()
    calls: dict[str, list[dict]] = {"post": [], "update": [], "open": []}

    def api(request: Request) -> Response:
        method = request.path.rsplit("/", 1)[-1]
        body = request.get_json(silent=True) or request.form.to_dict()
        if method == "apps.connections.open":
            calls["open"].append({"auth": request.headers.get("Authorization")})
            return Response(json.dumps({"ok": True, "url": f"ws://127.0.0.1:{socket.port}/link"}), content_type="application/json")
        if method == "conversations.members":
            return Response(json.dumps({"ok": True, "members": [MARIA], "response_metadata": {"next_cursor": ""}}),
                            content_type="application/json")
        if method == "chat.postMessage":
            calls["post"].append(body)
            return Response(json.dumps({"ok": True, "channel": CHANNEL, "ts": f"1790000000.{len(calls['post']):06d}"}),
                            content_type="application/json")
        if method == "chat.update":
            calls["update"].append(body)
            return Response(json.dumps({"ok": True}), content_type="application/json")
        return Response(json.dumps({"ok": False, "error": "unknown_method"}), content_type="application/json")

    httpserver.expect_request("/api/apps.connections.open").respond_with_handler(api)
    httpserver.expect_request("/api/conversations.members").respond_with_handler(api)
    httpserver.expect_request("/api/chat.postMessage").respond_with_handler(api)
    httpserver.expect_request("/api/chat.update").respond_with_handler(api)
    yield socket, calls, httpserver.url_for("/api/")
    socket.server.shutdown()


def _posted_alert(tmp_path: Path, monkeypatch, api_url: str, alerts: list[Alert] | None = None) -> tuple[Path, dict]:
    """Assassin alerts (one by default) sent to the channel by the real notifier through the
    routing tree (one group), their posts stored: the database and the config."""
    monkeypatch.setenv("SLACK_BOT", "xoxb-test")
    monkeypatch.setenv("SLACK_APP", "xapp-1-test")
    config = parse_config("brands: [{name: Acme Cloud, keywords: [acme]}]\n"
                          f"receivers: [{{name: slack, type: slack, token_env: SLACK_BOT, channel: {CHANNEL}, "
                          f"app_token_env: SLACK_APP, base_url: '{api_url}'}}]\n")
    db = tmp_path / "m.db"
    alerts = alerts or [hostile_alert(payload="refund now")]
    with httpx.Client() as client, Store(db) as store:
        for alert in alerts:
            store.save_mentions(list(alert.mentions), fetched_at=NOW)
        runtime = Runtime.build(config, client=client)
        enqueue(alerts, runtime.router, store, now=NOW)
        deliver(runtime, store, now=NOW + timedelta(minutes=5))
    return db, config


@contextmanager
def _listening(slack_api, tmp_path: Path, monkeypatch):
    """An alert posted, and a receiver's buttons listening: the database and the posted message."""
    _, calls, api_url = slack_api
    db, _ = _posted_alert(tmp_path, monkeypatch, api_url)
    (message,) = calls["post"]
    listener = SlackActions("slack", channel=CHANNEL, database=str(db), token="xoxb-test", app_token="xapp-1-test",
                            base_url=api_url, clock=lambda: NOW + timedelta(minutes=9))
    listener.start()
    try:
        yield db, message
    finally:
        listener.stop()


def _payload(message: dict, action: str, user: str = MARIA, channel: str = CHANNEL) -> dict:
    blocks = json.loads(message["blocks"]) if isinstance(message["blocks"], str) else message["blocks"]
    button = next(e for b in blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == f"monitor:{action}")
    return {"type": "block_actions", "user": {"id": user, "username": "maria" if user == MARIA else "eve"},
            "channel": {"id": channel}, "container": {"type": "message", "message_ts": "1790000000.000001"},
            "message": {"text": message.get("text"), "blocks": blocks},
            "actions": [{"action_id": button["action_id"], "value": button["value"], "type": "button"}]}


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + 20  # a bound against a hang, not a timing
    while not condition():
        assert time.monotonic() < deadline, f"waited 20 s for {what}"
        time.sleep(0.05)


def test_each_button_acts_once_and_updates_the_message_and_strangers_replays_and_junk_change_nothing(
        slack_api, tmp_path: Path, monkeypatch) -> None:
    socket, calls, _ = slack_api
    with _listening(slack_api, tmp_path, monkeypatch) as (db, message):
        socket.click("e-eve", _payload(message, "ack", user=EVE))  # not a member of the channel
        socket.click("e-other", _payload(message, "ack", channel="C0ELSEWHERE"))
        socket.click("e-junk", {"type": "block_actions", "actions": "not a list"})
        forged = _payload(message, "label_not")
        forged["actions"][0]["value"] = json.dumps({"n": "slack:someone-elses:2026", "b": "Acme Cloud", "m": "blog:1"})
        socket.click("e-forged", forged)
        for number, action in enumerate(("ack", "label_not", "silence_2h", "assign")):
            socket.click(f"e-{number}", _payload(message, action))
        socket.click("e-0", _payload(message, "ack"))  # the same envelope again
        socket.click("e-again", _payload(message, "ack"))  # a second click on Acknowledge
        _wait(lambda: len(socket.acks) == 10, "every envelope acknowledged")
        _wait(lambda: len(calls["update"]) == 4, "the four acts")
        time.sleep(0.3)  # what else would have come, comes
    with Store(db) as store:
        acts = [(a["action"], a["who"]) for a in store.db.query("SELECT action, who FROM alert_actions ORDER BY id")]
        labels = list(store.db.query("SELECT label, who FROM labels"))
        taught = store.labelled()  # what monitor train reads
        silences = store.silences()
        summary = digest_alert(store, "Acme Cloud", now=NOW + timedelta(hours=1)).reason
    assert sorted(acts) == [("ack", "maria"), ("assign", "maria"), ("label_not", "maria"), ("silence_2h", "maria")]
    assert labels == [{"label": "not", "who": "slack:maria"}], "the table monitor label writes, monitor train reads"
    assert [(t["source"], t["id"], t["label"]) for t in taught] == [("blog", "1", "not")] and "refund now" in taught[0]["text"]
    assert silences[0]["matchers"] == ['brand="Acme Cloud"'] and silences[0]["author"] == "slack:maria"
    assert silences[0]["expires_at"].startswith("2026-11-23T13:09")
    assert summary.endswith("; 1 alert, 1 acknowledged, median time to acknowledge 4 min"), summary  # sent 11:05
    assert len(calls["update"]) == 4
    updates = [json.loads(u["blocks"]) if isinstance(u["blocks"], str) else u["blocks"] for u in calls["update"]]
    assert any("acknowledged by <@U0MARIA> 11:09 UTC" in json.dumps(blocks) for blocks in updates)
    assert all(blocks[-1]["type"] == "actions" for blocks in updates), "the buttons stay for the next person"


def test_the_socket_dropped_mid_run_reconnects_and_clicks_still_land(slack_api, tmp_path: Path, monkeypatch) -> None:
    socket, calls, _ = slack_api
    with _listening(slack_api, tmp_path, monkeypatch) as (db, message):
        _wait(lambda: socket.connections == 1, "the first connection")
        socket.drop()
        _wait(lambda: socket.connections == 2, "a new connection after the drop")
        socket.click("e-after", _payload(message, "ack"))
        _wait(lambda: len(calls["update"]) == 1, "the click after the reconnect")
    assert len(calls["open"]) >= 2 and calls["open"][0]["auth"] == "Bearer xapp-1-test"


def test_check_config_says_what_the_slack_app_needs(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from monitor.cli import main

    config = tmp_path / "config.yaml"
    config.write_text(f"brands: [{{name: A, keywords: [a]}}]\nreceivers: [{{name: s, type: slack, token_env: SLACK_BOT, "
                      f"channel: {CHANNEL}, app_token_env: SLACK_APP}}]\n")
    out = CliRunner().invoke(main, ["check-config", str(config)], env={"SLACK_BOT": "xoxb-1", "SLACK_APP": "xapp-1"}).output
    assert "Socket Mode and Interactivity on" in out and "connections:write) in SLACK_APP" in out and CHANNEL in out
    quiet = CliRunner().invoke(main, ["check-config", str(config)], env={"SLACK_BOT": "xoxb-1", "SLACK_APP": ""}).output
    assert "SLACK_APP is not set — its alerts go out without buttons until it is" in quiet


def test_buttons_need_the_channels_id_and_a_bot_token() -> None:
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError, match="need the channel's ID"):
        parse_config("brands: [{name: A, keywords: [a]}]\nreceivers: [{name: s, type: slack, token_env: B, "
                     "channel: '#alerts', app_token_env: APP}]\n")
    with pytest.raises(ConfigError, match="need a bot token"):
        parse_config("brands: [{name: A, keywords: [a]}]\nreceivers: [{name: s, type: slack, webhook_url_env: W, "
                     "app_token_env: APP}]\n")


def test_monitor_run_opens_the_socket_beside_its_schedule_and_closes_it_on_stop(slack_api, tmp_path: Path,
                                                                                  monkeypatch) -> None:
    from monitor.scheduler import Monitor

    socket, calls, api_url = slack_api
    monkeypatch.setenv("SLACK_BOT", "xoxb-test")
    monkeypatch.setenv("SLACK_APP", "xapp-1-test")
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {tmp_path / 'm.db'}\nbrands: [{{name: Acme Cloud, keywords: [acme]}}]\n"
                      f"receivers: [{{name: slack, type: slack, token_env: SLACK_BOT, channel: {CHANNEL}, "
                      f"app_token_env: SLACK_APP, base_url: '{api_url}'}}]\nalerts: {{digest_at: null}}\n")
    monitor = Monitor(config, clock=lambda: NOW)
    monitor.start()
    try:
        _wait(lambda: socket.connections == 1, "monitor run's Socket Mode connection")
        assert monitor.scheduler.running
    finally:
        monitor.stop()
    assert not monitor._listeners


def test_labels_from_clicks_teach_a_refit_that_beats_the_shipped_model(slack_api, tmp_path: Path) -> None:
    """The site's own way of complaining ("borked", "janky"), labelled from Slack's buttons by a
    member of the channel, one click a post; monitor train refits on those labels."""
    from click.testing import CliRunner

    from monitor.cli import main
    from monitor.ingest import ingest
    from monitor.models import Judged, Match, Mention, Reach, Score
    from monitor.scheduler import Monitor
    from tests.test_label_train import CONFIG, FINE, HURT

    _, calls, api_url = slack_api
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "m.db"))
    monitor = Monitor(config, clock=lambda: NOW)
    posts = [Mention(source="forum", id=f"{k}{i}", url=None, text=t, published_at=NOW - timedelta(hours=i), language="en")
             for k, texts in (("h", HURT), ("f", FINE)) for i, t in enumerate(texts)]
    listener = SlackActions("slack", channel=CHANNEL, database=str(tmp_path / "m.db"), token="xoxb-test",
                            app_token="xapp-1-test", base_url=api_url, clock=lambda: NOW + timedelta(minutes=9))
    with Store(tmp_path / "m.db") as store:
        store.ensure_source("forum", "discourse", now=NOW)
        ingest(posts, "forum", monitor.runtime, store, now=NOW)
        for post in posts:  # each post sent to the channel in a notification of its own
            judged = Judged(post, Match(("Globex",), ("globex",)), Score(-0.5, "assassin", ()), Reach(1, 10, "typical"))
            store.enqueue_alert(Alert(f"assassin:forum:{post.id}", "assassin", "Globex", "forum", "warning", "x",
                                      (judged,), NOW), "slack", now=NOW)
            (key,) = [r["key"] for r in store.db.query("SELECT key FROM alerts WHERE mention_id = ?", (post.id,))]
            store.mark_sending([key], f"slack:n-{post.id}", now=NOW)
            store.mark_sent(key, now=NOW)
    for post in posts:
        value = json.dumps({"n": f"slack:n-{post.id}", "b": "Globex", "m": f"forum:{post.id}"})
        listener.handle({"type": "block_actions", "user": {"id": MARIA, "username": "maria"}, "channel": {"id": CHANNEL},
                         "container": {"message_ts": "1.0"}, "message": {"blocks": []},
                         "actions": [{"action_id": "monitor:label_assassin" if post.id[0] == "h" else "monitor:label_not",
                                      "value": value}]}, envelope=f"e-{post.id}")
    trained = CliRunner().invoke(main, ["--config", str(config), "train"], catch_exceptions=False)
    assert trained.exit_code == 0, trained.output
    lines = trained.output.splitlines()
    assert lines[0] == "24 site labels (12 assassin), 10-fold cross-validated:"
    before, after = (float(line.split("ROC-AUC ")[1].split()[0]) for line in lines[1:3])
    assert after > before + 0.1, trained.output
    assert len(calls["update"]) == 24


def test_a_grouped_alert_labels_each_post_from_its_own_menu(slack_api, tmp_path: Path, monkeypatch) -> None:
    _, calls, api_url = slack_api
    alerts = [hostile_alert(key=f"assassin:blog:{i}", payload=f"refund now {i}") for i in (1, 2)]
    db, _ = _posted_alert(tmp_path, monkeypatch, api_url, alerts)
    (message,) = calls["post"]
    blocks = json.loads(message["blocks"]) if isinstance(message["blocks"], str) else message["blocks"]
    menus = [b for b in blocks if b.get("accessory", {}).get("action_id") == "monitor:label"]
    assert len(menus) == 2 and not any(e["action_id"].startswith("monitor:label_") for b in blocks
                                       if b["type"] == "actions" for e in b["elements"])
    menu = menus[1]
    choice = next(o for o in menu["accessory"]["options"] if o["value"].startswith("label_not|"))
    payload = {"type": "block_actions", "user": {"id": MARIA, "username": "maria"}, "channel": {"id": CHANNEL},
               "container": {"message_ts": "1.0"}, "message": {"blocks": blocks},
               "actions": [{"type": "overflow", "action_id": "monitor:label", "block_id": menu["block_id"],
                            "selected_option": choice}]}
    listener = SlackActions("slack", channel=CHANNEL, database=str(db), token="xoxb-test", app_token="xapp-1-test",
                            base_url=api_url, clock=lambda: NOW + timedelta(minutes=9))
    listener.handle(payload, envelope="e-menu")
    with Store(db) as store:
        labels = list(store.db.query("SELECT mention_id, label FROM labels"))
    assert labels == [{"mention_id": choice["value"].split(":")[-1], "label": "not"}]


def test_a_dead_socket_never_stops_polling(slack_api, tmp_path: Path, monkeypatch, httpserver: HTTPServer) -> None:
    """Slack's socket gone (nothing listens at the URL apps.connections.open gives): monitor run
    says so and polls its sources all the same."""
    from monitor.scheduler import Monitor

    socket, _, api_url = slack_api
    socket.server.shutdown()
    socket.server.socket.close()
    feed = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>b</title><item><title>Acme Cloud is down</title>'
            b'<guid>1</guid><link>https://blog.example/1</link></item></channel></rss>')
    httpserver.expect_request("/feed.xml").respond_with_data(feed, content_type="application/rss+xml")
    monkeypatch.setenv("SLACK_BOT", "xoxb-test")
    monkeypatch.setenv("SLACK_APP", "xapp-1-test")
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {tmp_path / 'm.db'}\nbrands: [{{name: Acme Cloud, keywords: [acme]}}]\n"
                      f"sources: [{{name: blog, type: rss, url: '{httpserver.url_for('/feed.xml')}', every: 1h}}]\n"
                      f"receivers: [{{name: slack, type: slack, token_env: SLACK_BOT, channel: {CHANNEL}, "
                      f"app_token_env: SLACK_APP, base_url: '{api_url}'}}]\nalerts: {{digest_at: null}}\n")
    monitor = Monitor(config)
    monitor.start()
    try:
        def polled() -> bool:
            with Store(tmp_path / "m.db") as store:
                return any(row.get("last_success_at") for row in store.sources_status())

        _wait(polled, "the source's run with the socket dead")
    finally:
        monitor.stop()
