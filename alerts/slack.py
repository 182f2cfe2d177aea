"""The Slack receiver: Block Kit messages through slack-sdk, by webhook or bot token.

Everything taken from a post is untrusted. Slack's mrkdwn turns ``<!channel>``, ``<@U123>`` and
``<https://x|label>`` into pings and links, so every untrusted string is escaped (``&``, ``<``,
``>`` → entities, which Slack shows as the characters) in every field, the fallback ``text``
included. Links are only built by us, only from http(s) URLs. Unfurls and ``link_names`` are off.
"""

from __future__ import annotations

import json
import socket
from datetime import datetime
from urllib.parse import quote, urlencode, urlsplit

from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError

from alerts.wording import call_label, headline, push_text, reach_phrase, why_line
from monitor.errors import NotifyError
from monitor.models import Alert, clean_text, to_iso

HEADER_MAX = 150  # Slack's limit for a header block's text
SECTION_MAX = 3000  # Slack's limit for a section's text
BLOCKS_MAX = 50  # Slack's limit of blocks per message
POSTS_SHOWN = 3  # a grouped alert's posts shown, widest reach first; the rest are counted (and linked)
STORM_POSTS_SHOWN = 2  # a storm's: its sentence and numbers come first
TITLE_WORDS = 10  # a post without a title is linked by its first words
EXCERPT_WORDS = 12  # words of a single post's text under its title
TITLE_MAX = 250  # characters of a link's label, escaped
URL_MAX = 800  # characters of a link's target, encoded: a longer URL is not linked
# Errors retrying cannot fix: a broken token, channel or webhook needs an admin.
PERMANENT_ERRORS = {
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "channel_not_found",
    "not_in_channel", "is_archived", "channel_is_archived", "missing_scope", "no_permission", "invalid_token",
    "no_service", "no_service_id", "no_team", "team_disabled", "action_prohibited", "posting_to_general_channel_denied",
    "invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text", "restricted_action",
}


def escape(value: object) -> str:
    """Escape untrusted text for Slack mrkdwn: ``&``, ``<`` and ``>`` become entities."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def text(value: object, width: int) -> str:
    """Untrusted text as mrkdwn: control and bidi characters dropped, one line, escaped, and at
    most ``width`` characters *after* escaping (clipped before it, so no entity is cut in half)."""
    plain = clean_text(value)
    out = escape(plain)
    while len(out) > width:
        plain = plain[: max(0, len(plain) - (len(out) - width) - 1)] + "…"
        out = escape(plain)
    return out


def link(url: str | None, label: str, *, width: int = TITLE_MAX) -> str:
    """A mrkdwn link, only for an http(s) URL of at most URL_MAX characters; otherwise the
    escaped label alone (a longer URL would fill the section and cut the link open)."""
    shown = text(label, width).replace("|", "¦") or "link"
    if not url:
        return shown
    url = clean_text(url)
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return shown
    # Percent-encode what would end the link or start its label; keep the URL otherwise intact.
    safe_url = quote(url, safe="/:?#[]@!$&'()*+,;=%~-._").replace("&", "&amp;")
    if len(safe_url) > URL_MAX:
        return f"{shown} _(link too long to show)_"
    return f"<{safe_url}|{shown}>"


def _truncate(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 13] + "… (truncated)"


ACTIONABLE = ("assassin", "spike", "group", "reach", "press")
VALUE_MAX = 2000  # a button's value (Slack's limit)


def buttons(alert: Alert, notification: str) -> dict | None:
    """The actions block of an alert people act on (Socket Mode receives the clicks): acknowledge,
    take it on, silence its brand, and for one post, say whether the call was right. Each button
    carries the notification's key (and the post's), or the block is left out, never cut."""
    if alert.kind not in ACTIONABLE:
        return None
    post = alert.mentions[0].mention if len(alert.mentions) == 1 else None
    value = json.dumps({"n": notification, "b": alert.brand,
                        **({"m": f"{post.source}:{post.id}"} if post else {})}, ensure_ascii=False)
    if len(value) > VALUE_MAX:
        return None
    choices = [("ack", "Acknowledge", "primary"), ("assign", "Assign to me", None)]
    if post is not None and alert.kind in ("assassin", "reach"):
        choices += [("label_not", "Not an assassin", None), ("label_assassin", "Is an assassin", None)]
    if alert.brand:
        choices += [("silence_2h", "Silence brand 2 h", None), ("silence_24h", "Silence brand 24 h", None)]
    elements = [{"type": "button", "action_id": f"monitor:{name}", "text": {"type": "plain_text", "text": label},
                 "value": value, **({"style": style} if style else {})} for name, label, style in choices]
    return {"type": "actions", "block_id": "monitor_actions", "elements": elements}


def _label_menu(judged, notification: str) -> dict:
    """One post's "Not an assassin / Is an assassin" menu in a grouped alert (its section names the
    notification; each option the post), or nothing when either would pass Slack's limits."""
    post = f"{judged.mention.source}:{judged.mention.id}"
    block_id = f"monitor_post|{notification}"
    if len(block_id) > 255 or len(post) > 130:
        return {}
    options = [{"text": {"type": "plain_text", "text": label}, "value": f"{name}|{post}"}
               for name, label in (("label_not", "Not an assassin"), ("label_assassin", "Is an assassin"))]
    return {"block_id": block_id, "accessory": {"type": "overflow", "action_id": "monitor:label", "options": options}}


def render(alert: Alert, *, links: str | None = None, actions: str | None = None) -> tuple[str, list[dict]]:
    """The push text and the Block Kit blocks for ``alert``, read in ten seconds: a header that says
    what, who and how far; a storm's sentence, its numbers small under it; each post (widest reach
    first, at most POSTS_SHOWN) with one line of why in its own words, what the call rests on, its
    reach, and what to do about it; the rest counted, and linked (``links``: monitor serve's
    address and database, ``http://host:8001/monitor``) when there is a page to see them all;
    with ``actions`` (the notification's key, where Socket Mode receives clicks) the buttons.

    Every untrusted field is cleaned, escaped and bounded on its own, so a section's parts add
    up to less than Slack's 3,000 characters and no clipping ever cuts a link open.
    """
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": headline(alert), "emoji": False}}]
    storm = alert.kind in ("spike", "drop") or not alert.mentions
    if storm or alert.kind == "group":  # the sentence first, the numbers under it
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text(alert.reason, SECTION_MAX - 10)}})
        numbers = alert.details.split(". How:")[0]
        if numbers:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text(numbers, 600)}]})
    single = len(alert.mentions) == 1 and not storm
    shown = alert.mentions[:1 if single else STORM_POSTS_SHOWN if storm else POSTS_SHOWN]
    for judged in shown:  # one post: its excerpt too (the header has its reach); several: each brief
        section = {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(_post(judged, single), SECTION_MAX)}}
        blocks.append({**section, **(_label_menu(judged, actions) if actions and not single and not storm else {})})
    notes = []
    hidden = len(alert.mentions) - len(shown)
    if hidden > 0:
        where = _posts_page(alert, links) if links else None
        more = f"and {hidden} more post{'s' if hidden != 1 else ''}"
        notes.append(link(where, f"{more}, widest reach first") if where else more)
    if alert.mentions and alert.kind in ("assassin", "group", "reach"):
        first = alert.mentions[0].mention
        notes.append(f"wrong call? `monitor label {text(first.source, 60)}:{text(first.id, 80)} not`")
    if alert.brand and alert.kind in ("assassin", "spike", "group", "press"):
        notes.append(f"quiet it: `monitor silence add brand=\"{text(alert.brand, 60)}\" --for 2h`")
    if notes:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _truncate(" · ".join(notes), SECTION_MAX)}]})
    row = buttons(alert, actions) if actions else None
    return escape(push_text(alert)), blocks[:BLOCKS_MAX - 1] + [row] if row else blocks[:BLOCKS_MAX]


def _posts_page(alert: Alert, links: str) -> str:
    """monitor serve's page of every post of ``alert``: a storm's window (its brand's posts from its
    start to its end), or the posts the notification carried."""
    base = links.rstrip("/")
    if alert.kind in ("spike", "drop") and alert.brand and alert.starts_at and alert.ends_at:
        query = urlencode({"brand": alert.brand, "start": to_iso(alert.starts_at), "end": to_iso(alert.ends_at)})
        return f"{base}/spike_posts?{query}"
    return f"{base}/alert_posts?{urlencode({'key': alert.key})}"


def _post(judged, single: bool) -> str:
    """One post: its title (or first words) as a link, with a single post a short excerpt, one
    line of why, who, where and what the call rests on, and with several its reach."""
    m, r = judged.mention, judged.reach
    lines = [f"*{link(m.url, m.title or _words(m.text, TITLE_WORDS) or '(untitled post)')}*"]
    rest = m.text.split(None, TITLE_WORDS)[-1] if not m.title and len(m.text.split()) > TITLE_WORDS + 2 else ""
    excerpt = _words(m.text if m.title else rest, EXCERPT_WORDS) if single else ""
    if excerpt:
        lines.append(f">{text(excerpt, 400)}")
    why = why_line(judged)
    if why:
        lines.append(f"_{text(why, 200)}_")
    who = text(m.author_name or m.author or "unknown author", 60)
    by = f"{who} · {text(m.source, 40)} · {text(call_label(judged), 40)}"
    lines.append(by if single else f"{by} · {text(reach_phrase(r.low, r.high), 60)}")
    return "\n".join(lines)


def _words(value: str, count: int) -> str:
    """The first ``count`` words of ``value``, with an ellipsis when there were more."""
    words = clean_text(value).split()
    if len(words) <= count + 2:  # cutting one or two words off saves nothing
        return " ".join(words)
    return " ".join(words[:count]) + " …"


class SlackNotifier:
    """Sends alerts to Slack by incoming webhook or by bot token + channel.

    slack-sdk's own retries are turned off: a retry inside a send could post twice, and the
    outbox already retries with backoff and records each attempt.
    """

    def __init__(
        self,
        name: str,
        *,
        webhook_url: str | None = None,
        token: str | None = None,
        channel: str | None = None,
        base_url: str | None = None,
        timeout_seconds: int = 15,
        links: str | None = None,
        buttons: bool = False,
    ) -> None:
        if bool(webhook_url) == bool(token):
            raise ValueError("give exactly one of webhook_url or token")
        self.name = name
        self.channel = channel
        self.links = links  # monitor serve's address and database, for "see them all"
        self.buttons = buttons and bool(token)  # clicks come through Socket Mode; the message is updated by token
        self._webhook = WebhookClient(webhook_url, timeout=timeout_seconds, retry_handlers=[]) if webhook_url else None
        self._web = None
        if token:
            kwargs = {"base_url": base_url.rstrip("/") + "/"} if base_url else {}
            self._web = WebClient(token=token, timeout=timeout_seconds, retry_handlers=[], **kwargs)

    def send(self, alert: Alert, idempotency_key: str | None = None, thread: str | None = None) -> str | None:
        """Post the alert; translate every Slack or network failure into NotifyError.

        With a bot token the message carries ``idempotency_key`` in its metadata, so that after a
        crash ``was_delivered`` can tell whether it went out; it replies in ``thread`` (a
        message ts) when given, and returns its own ts. A webhook can do neither (None).
        """
        text, blocks = render(alert, links=self.links, actions=idempotency_key if self.buttons else None)
        try:
            if self._webhook is not None:
                self._send_webhook(text, blocks)
                return None
            return self._send_web(text, blocks, idempotency_key, thread)
        except NotifyError:
            raise
        except ValueError as exc:  # urllib: a webhook URL without its scheme; never echo it (a secret)
            raise NotifyError("the webhook URL is not a URL (no https:// in front) — fix its environment variable",
                              receiver=self.name, retryable=False) from exc
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            status = exc.response.status_code
            retry_after = _retry_after(exc.response.headers) if status == 429 or error == "ratelimited" else None
            retryable = error not in PERMANENT_ERRORS and (status >= 500 or status == 429 or error in ("ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"))
            raise NotifyError(f"Slack refused the message: {error} (HTTP {status})", receiver=self.name, retryable=retryable, retry_after_seconds=retry_after) from exc
        except (OSError, TimeoutError) as exc:  # urllib's URLError and socket timeouts are OSErrors
            if _never_sent(exc):
                raise NotifyError(f"cannot reach Slack: {type(exc).__name__}: {exc}", receiver=self.name,
                                  retryable=True) from exc
            raise NotifyError(f"no answer from Slack ({type(exc).__name__}: {exc}); it may have the message",
                              receiver=self.name, retryable=True, unknown=True) from exc

    def _send_web(self, text: str, blocks: list[dict], idempotency_key: str | None, thread: str | None) -> str | None:
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"key": idempotency_key}} if idempotency_key else None
        response = self._web.chat_postMessage(
            channel=self.channel, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False, link_names=False,
            metadata=metadata, thread_ts=thread,
        )
        return response.get("ts")

    def was_delivered(self, idempotency_key: str, *, since: datetime) -> bool | None:
        """Whether a message with this key is in the channel since ``since`` (None: cannot tell,
        as with a webhook, which cannot read the channel)."""
        if self._web is None:
            return None
        try:
            cursor = None
            for _ in range(10):  # up to 1,000 messages back
                page = self._web.conversations_history(
                    channel=self.channel, oldest=str(since.timestamp()), include_all_metadata=True, limit=100, cursor=cursor
                )
                for message in page.get("messages") or []:
                    meta = message.get("metadata") or {}
                    if meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get("key") == idempotency_key:
                        return True
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return False
        except (SlackApiError, OSError, TimeoutError):
            return None
        return False

    def _send_webhook(self, text: str, blocks: list[dict]) -> None:
        response = self._webhook.send(text=text, blocks=blocks, unfurl_links=False, unfurl_media=False)
        if response.status_code == 200 and response.body.strip() == "ok":
            return
        body = (response.body or "").strip()[:100]
        if response.status_code == 429:
            raise NotifyError("Slack rate limited the webhook (HTTP 429)", receiver=self.name, retryable=True,
                              retry_after_seconds=_retry_after(response.headers))
        retryable = response.status_code >= 500 or (response.status_code == 200 and body not in PERMANENT_ERRORS)
        if body in PERMANENT_ERRORS:
            retryable = False
        raise NotifyError(f"Slack webhook answered HTTP {response.status_code}: {body or 'no body'}", receiver=self.name, retryable=retryable)


METADATA_EVENT = "reputation_monitor_notification"


def _never_sent(exc: BaseException) -> bool:
    """Whether the request cannot have reached Slack: the connection was refused, or the host name
    did not resolve. Anything else (a timeout, a reset after the request went out) may have."""
    reason = getattr(exc, "reason", exc)  # urllib wraps the socket's error in URLError.reason
    return isinstance(reason, (ConnectionRefusedError, socket.gaierror))


def _retry_after(headers: dict) -> float | None:
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            value = value[0] if isinstance(value, list) else value
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None
