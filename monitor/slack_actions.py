"""Clicks on an alert's buttons, received through Slack's Socket Mode (slack-sdk's
``SocketModeClient``): no public URL is needed, which is how a monitor behind a firewall hears
them.

Each click is acknowledged to Slack at once, then checked: a ``block_actions`` payload from the
receiver's channel, by a member of that channel, naming one of the monitor's actions and the
notification it is about. Anything else (another channel, someone outside it, a malformed or
replayed payload) is logged and changes nothing. A click is applied once: ``alert_actions``
keeps one row per distinct act, so a replayed envelope or a double click writes nothing more.
What it does is what the commands do: a label as ``monitor label`` writes it (``monitor train``
learns from it), a silence as ``monitor silence add`` writes it, with the clicker as author. The
message is then updated in place (``chat.update``): "acknowledged by @maria 10:42 UTC".

The socket reconnects by itself (slack-sdk's auto-reconnect) on its own threads: a dead socket
never stops polling or delivery.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from monitor.models import clean_text
from monitor.store import Store

log = logging.getLogger("monitor.slack_actions")

SILENCES = {"silence_2h": timedelta(hours=2), "silence_24h": timedelta(hours=24)}
DONE = {"ack": "acknowledged", "assign": "taken on", "label_not": "marked not an assassin",
        "label_assassin": "marked an assassin", "silence_2h": "brand silenced for 2 h",
        "silence_24h": "brand silenced for 24 h"}
MEMBERS_FOR = 300.0  # seconds a channel's member list is trusted before it is read again


class Refused(Exception):
    """A click that is not applied, and why (logged)."""


class SlackActions:
    """One Slack receiver's buttons: its Socket Mode connection and what a click does."""

    def __init__(self, receiver: str, *, channel: str, database: str, token: str, app_token: str,
                 base_url: str | None = None, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.receiver, self.channel, self.database, self.clock = receiver, channel, database, clock
        kwargs = {"base_url": base_url.rstrip("/") + "/"} if base_url else {}
        self.web = WebClient(token=token, retry_handlers=[], timeout=15, **kwargs)
        self._app_token = app_token
        self._client: SocketModeClient | None = None
        self._members: tuple[float, frozenset[str]] = (0.0, frozenset())
        self._lock = threading.Lock()

    def start(self) -> None:
        """Open the socket (``apps.connections.open``, then the WebSocket it names) and listen."""
        self._client = SocketModeClient(app_token=self._app_token, web_client=self.web, ping_interval=10)
        self._client.socket_mode_request_listeners.append(self._on_request)
        self._client.connect()
        log.info("receiver %s: listening for button clicks (Socket Mode)", self.receiver)

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _on_request(self, client: SocketModeClient, request: SocketModeRequest) -> None:
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))  # within 3 s, always
        if request.type != "interactive":
            return
        try:
            done = self.handle(request.payload, envelope=request.envelope_id)
            log.info("receiver %s: %s", self.receiver, done)
        except Refused as exc:
            log.warning("receiver %s: a click refused: %s", self.receiver, exc)
        except Exception:  # a click must never take the listener down
            log.exception("receiver %s: a click could not be applied", self.receiver)

    def handle(self, payload: object, *, envelope: str = "") -> str:
        """Check and apply one ``block_actions`` payload; what was done. Raises Refused."""
        user, channel, ts, action, value = _read(payload)
        if channel != self.channel:
            raise Refused(f"from channel {clean_text(channel, width=40)!r}, not this receiver's")
        if user["id"] not in self._channel_members():
            raise Refused(f"user {clean_text(user['id'], width=40)} is not a member of the channel")
        now = self.clock()
        who = clean_text(user.get("username") or user.get("name") or user["id"], width=80)
        notification, brand, post = value.get("n"), value.get("b") or "", value.get("m") or ""
        with Store(self.database) as store:
            if not store.notification_has(notification, self.receiver, post if action.startswith("label_") else ""):
                raise Refused(f"no notification {clean_text(notification, width=120)!r} of this receiver"
                              + (" with that post" if action.startswith("label_") else ""))
            if not store.record_action(notification, action, who=who, at=now, receiver=self.receiver,
                                       value=post if action.startswith("label") else "", envelope=envelope):
                return f"{action} on {notification} by {who}: done before, nothing more"
            if action.startswith("label_"):
                source, _, ident = post.partition(":")
                store.save_label(source, ident, "not" if action == "label_not" else "assassin", who=f"slack:{who}",
                                 at=now, note=f"from Slack, {notification}")
            elif action in SILENCES:
                store.add_silence([f'brand="{brand}"'], author=f"slack:{who}", reason=f"from Slack, {notification}",
                                  starts_at=now, expires_at=now + SILENCES[action], now=now)
        self._mark(payload, channel, ts, f"{DONE[action]} by <@{user['id']}> {now:%H:%M} UTC")
        return f"{action} on {notification} by {who}"

    def _channel_members(self) -> frozenset[str]:
        with self._lock:
            at, members = self._members
            if time.monotonic() - at < MEMBERS_FOR and members:
                return members
            found: set[str] = set()
            cursor = None
            for _ in range(50):  # 10,000 members at most
                page = self.web.conversations_members(channel=self.channel, limit=200, cursor=cursor)
                found.update(page.get("members") or [])
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
            self._members = (time.monotonic(), frozenset(found))
            return self._members[1]

    def _mark(self, payload: dict, channel: str, ts: str, note: str) -> None:
        """The message updated in place: its blocks as they were, and a line of who did what."""
        message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
        blocks = [b for b in message.get("blocks") or [] if isinstance(b, dict)]
        blocks.insert(len(blocks) - 1 if blocks and blocks[-1].get("type") == "actions" else len(blocks),
                      {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
        try:
            self.web.chat_update(channel=channel, ts=ts, blocks=blocks[:50], text=message.get("text") or note)
        except SlackApiError as exc:  # the act is recorded; only the message's line is missing
            log.warning("receiver %s: the message could not be updated: %s", self.receiver, exc.response.get("error"))


def _menu_value(action: dict) -> str | None:
    """A per-post menu's choice as a button's value (with the act under "a"), or None."""
    option, block = action.get("selected_option"), action.get("block_id")
    value = option.get("value") if isinstance(option, dict) else None
    if not (isinstance(value, str) and isinstance(block, str) and block.startswith("monitor_post|")):
        return None
    act, _, post = value.partition("|")
    if act not in ("label_not", "label_assassin"):
        return None
    return json.dumps({"a": act, "n": block.removeprefix("monitor_post|"), "m": post})


def _read(payload: object) -> tuple[dict, str, str, str, dict]:
    """The parts of a click the monitor uses, each checked for its type; Refused when one is not."""
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise Refused("not a block_actions payload")
    user, channel, container = payload.get("user"), payload.get("channel"), payload.get("container")
    actions = payload.get("actions")
    if not (isinstance(user, dict) and isinstance(user.get("id"), str) and isinstance(channel, dict)
            and isinstance(channel.get("id"), str) and isinstance(container, dict)
            and isinstance(container.get("message_ts"), str) and isinstance(actions, list) and len(actions) == 1
            and isinstance(actions[0], dict)):
        raise Refused("a payload without its user, channel, message or one action")
    action_id, raw = actions[0].get("action_id"), actions[0].get("value")
    if action_id == "monitor:label":  # a grouped alert's per-post menu: the option names the act and the post
        raw = _menu_value(actions[0])
        action_id = f"monitor:{json.loads(raw).pop('a')}" if raw else None
    action = action_id.removeprefix("monitor:") if isinstance(action_id, str) and action_id.startswith("monitor:") else ""
    if action not in DONE or not isinstance(raw, str):
        raise Refused(f"not one of the monitor's buttons ({clean_text(str(action_id), width=40)!r})")
    try:
        value = json.loads(raw)
    except ValueError:
        raise Refused("a button value that is not JSON") from None
    if not isinstance(value, dict) or not isinstance(value.get("n"), str) or not value["n"]:
        raise Refused("a button value without its notification")
    if not all(isinstance(value.get(k, ""), str) for k in ("b", "m")):
        raise Refused("a button value whose brand or post is not text")
    if action.startswith("label_") and ":" not in value.get("m", ""):
        raise Refused("a label button without its post")
    if action in SILENCES and (not value.get("b") or '"' in value["b"]):
        raise Refused("a silence button without a brand it can name")
    return user, channel["id"], container["message_ts"], action, value
