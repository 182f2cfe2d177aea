"""The generic webhook receiver: the alert as JSON, POSTed and signed, for whatever a team runs
(an incident tool, a chat bridge, its own service).

The body is Alertmanager's webhook format (version 4: ``status``, ``groupKey``, ``alerts`` with
``labels``, ``annotations``, ``startsAt``), so a receiver written for Alertmanager reads it as is,
plus the monitor's own fields: ``headline`` and ``text`` (the same short words Slack shows) and
``posts``. Each request carries ``Idempotency-Key`` (the notification's key: a receiver that
keeps it never acts twice on one alert) and, with a signing secret, ``X-Monitor-Signature:
t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` (Stripe's scheme: the time inside the
signature stops a replay of an old body). The URL and the secret are secrets: no error, log
line or stored row carries them. A post's words are data, kept as written but for control and
bidirectional characters: a service that shows them in a chat escapes them as it would any
user's text.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime
from typing import Callable

import httpx

from alerts.wording import call_label, headline, push_text, why_line
from monitor.errors import NotifyError
from monitor.models import Alert, clean_text, to_iso

SIGNATURE_HEADER = "X-Monitor-Signature"


def payload(alert: Alert, *, receiver: str, key: str | None) -> dict:
    """The JSON body: Alertmanager's webhook version 4, and the monitor's words and posts."""
    labels = {k: clean_text(v, width=200) for k, v in alert.labels.items()}
    return {
        "version": "4",
        "groupKey": key or alert.key,
        "status": "firing",
        "receiver": receiver,
        "groupLabels": {k: labels[k] for k in ("kind", "brand")},
        "commonLabels": labels,
        "commonAnnotations": {"summary": push_text(alert), "description": clean_text(alert.reason, width=1000)},
        "alerts": [{
            "status": "firing",
            "labels": labels,
            "annotations": {"summary": push_text(alert), "description": clean_text(alert.reason, width=1000),
                            **({"details": clean_text(alert.details, width=1000)} if alert.details else {})},
            "startsAt": to_iso(alert.starts_at or alert.created_at) if (alert.starts_at or alert.created_at) else None,
            "endsAt": to_iso(alert.ends_at) if alert.ends_at else None,
            "fingerprint": alert.fingerprint,
        }],
        "headline": headline(alert),
        "text": push_text(alert),
        "posts": [_post(judged) for judged in alert.mentions],
    }


def _post(judged) -> dict:
    m, s, r = judged.mention, judged.score, judged.reach
    return {
        "id": f"{m.source}:{m.id}", "url": m.url if (m.url or "").startswith(("https://", "http://")) else None,
        "title": clean_text(m.title, width=300), "text": clean_text(m.text, width=2000),
        "author": clean_text(m.author_name or m.author, width=100),
        "published_at": to_iso(m.published_at) if m.published_at else None,
        "call": clean_text(call_label(judged), width=200) if s.bucket else None,
        "why": clean_text(why_line(judged), width=300) or None, "reach": {"low": r.low, "high": r.high},
    }


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """``t=<timestamp>,v1=<hex>``: the HMAC-SHA256, keyed by ``secret``, of ``<timestamp>.<body>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, *, now: float, tolerance: float = 300) -> bool:
    """What a receiving service does with the header: the signature matches and is recent."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        stamp = int(parts.get("t", ""))
    except ValueError:
        return False
    expected = signature(secret, body, stamp).split("v1=", 1)[1]
    return abs(now - stamp) <= tolerance and hmac.compare_digest(expected, parts.get("v1", ""))


class WebhookNotifier:
    """POSTs each notification as signed JSON; every failure becomes a NotifyError that never
    names the URL."""

    def __init__(self, name: str, *, url: str, secret: str | None = None, timeout_seconds: float = 15,
                 clock: Callable[[], float] = time.time) -> None:
        self.name = name
        self._url = url
        self._secret = secret
        self._clock = clock
        self._client = httpx.Client(timeout=timeout_seconds, follow_redirects=False)

    def send(self, alert: Alert, idempotency_key: str | None = None, thread: str | None = None) -> None:
        """POST the alert (a webhook has no threads)."""
        body = json.dumps(payload(alert, receiver=self.name, key=idempotency_key), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "reputation-monitor"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if self._secret:
            headers[SIGNATURE_HEADER] = signature(self._secret, body, int(self._clock()))
        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except httpx.InvalidURL as exc:
            raise NotifyError("the webhook URL is not a URL — fix its environment variable", receiver=self.name,
                              retryable=False) from exc
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise NotifyError(f"cannot reach the webhook ({type(exc).__name__})", receiver=self.name) from exc
        except httpx.TransportError as exc:  # sent, and no answer: it may have it
            raise NotifyError(f"no answer from the webhook ({type(exc).__name__}); it may have the alert",
                              receiver=self.name, unknown=True) from exc
        if response.is_success:
            return None
        status = response.status_code
        retry_after = _seconds(response.headers.get("Retry-After")) if status in (429, 503) else None
        raise NotifyError(f"the webhook answered HTTP {status}", receiver=self.name,
                          retryable=status >= 500 or status in (408, 425, 429), retry_after_seconds=retry_after)

    def was_delivered(self, idempotency_key: str, *, since: datetime) -> bool | None:
        """A webhook cannot be asked: cannot tell (the alert is marked unconfirmed)."""
        return None


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
