"""The e-mail receiver: one message per notification over SMTP (STARTTLS or TLS, with login),
a plain-text part and an HTML part carrying the same short words Slack shows.

The subject is the push sentence; the Message-ID is derived from the notification's key, so a
message handed over twice is one message to the mail system's duplicate checks, and a group's
later notifications reply to its first (``In-Reply-To``), as Slack threads them. The password
never reaches an error or a log line.
"""

from __future__ import annotations

import hashlib
import html
import smtplib
import socket
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from alerts.wording import call_label, headline, push_text, reach_phrase, why_line
from monitor.errors import NotifyError
from monitor.models import Alert, clean_text

POSTS_SHOWN = 3


def message_id(key: str) -> str:
    """A stable Message-ID for a notification key (the key itself may hold any character)."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@reputation-monitor>"


def lines(alert: Alert) -> list[tuple[str, str | None]]:
    """The message as (line, link) pairs: the headline, a storm's or a group's sentence and
    numbers, each post (widest reach first) with its why, who, call and reach, the rest counted."""
    out: list[tuple[str, str | None]] = [(headline(alert), None)]
    if alert.kind in ("spike", "drop", "group") or not alert.mentions:
        out.append((clean_text(alert.reason, width=600), None))
        numbers = alert.details.split(". How:")[0]
        if numbers:
            out.append((clean_text(numbers, width=600), None))
    for judged in alert.mentions[:POSTS_SHOWN]:
        m, r = judged.mention, judged.reach
        url = m.url if (m.url or "").startswith(("https://", "http://")) else None
        out.append(("", None))
        out.append((clean_text(m.title or m.text, width=120) or "(untitled post)", url))
        why = why_line(judged)
        if why:
            out.append((clean_text(why, width=200), None))
        who = clean_text(m.author_name or m.author or "unknown author", width=60)
        out.append((f"{who} · {clean_text(m.source, width=40)} · {clean_text(call_label(judged), width=40)} · "
                    f"{reach_phrase(r.low, r.high)}", None))
        if url:
            out.append((clean_text(url, width=300), None))
    hidden = len(alert.mentions) - POSTS_SHOWN
    if hidden > 0:
        out += [("", None), (f"and {hidden} more post{'s' if hidden != 1 else ''}", None)]
    return out


def build(alert: Alert, *, sender: str, to: list[str], key: str | None, thread: str | None,
          now: datetime | None = None) -> EmailMessage:
    """The message: subject, addresses, ids, a text part and an HTML part."""
    msg = EmailMessage()
    msg["Subject"] = push_text(alert)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Message-ID"] = message_id(key or alert.key)
    if now is not None:
        msg["Date"] = format_datetime(now)
    if thread:
        msg["In-Reply-To"] = thread
        msg["References"] = thread
    body = lines(alert)
    msg.set_content("\n".join(text for text, _ in body) + "\n")
    parts = []
    for i, (text, url) in enumerate(body):
        shown = html.escape(text)
        if url:
            shown = f'<a href="{html.escape(url, quote=True)}">{shown}</a>'
        parts.append(f"<h3>{shown}</h3>" if i == 0 else f"<p>{shown}</p>" if text else "<hr>")
    msg.add_alternative("<!doctype html><html><body>" + "".join(parts) + "</body></html>", subtype="html")
    return msg


class EmailNotifier:
    """Sends each notification as one e-mail; every SMTP or network failure becomes NotifyError."""

    def __init__(self, name: str, *, host: str, port: int, sender: str, to: list[str], security: str = "starttls",
                 username: str | None = None, password: str | None = None, timeout_seconds: float = 15,
                 ca_file: str | None = None) -> None:
        self.name = name
        self.host, self.port, self.sender, self.to = host, port, sender, list(to)
        self.security = security
        self._login = (username, password) if username and password else None
        self.timeout = timeout_seconds
        self._tls = ssl.create_default_context(cafile=ca_file)

    def send(self, alert: Alert, idempotency_key: str | None = None, thread: str | None = None) -> str:
        """Send one message; return its Message-ID, which the group's next messages reply to."""
        msg = build(alert, sender=self.sender, to=self.to, key=idempotency_key, thread=thread,
                    now=alert.created_at)
        try:
            smtp = self._connect()
        except (OSError, smtplib.SMTPException) as exc:  # nothing sent yet
            raise self._error(exc, sent=False) from exc
        try:
            smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise self._error(exc, sent=True) from exc
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        return msg["Message-ID"]

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._tls)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=self._tls)
                smtp.ehlo()
            if self._login:
                smtp.login(*self._login)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _error(self, exc: BaseException, *, sent: bool) -> NotifyError:
        """What went wrong, never the password; a 4xx or a network fault is worth a retry, a 5xx
        is not; a connection lost or a timeout during the send may have delivered it."""
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return NotifyError(f"the mail server refused the login (SMTP {exc.smtp_code}) — check the username and "
                               "password variables", receiver=self.name, retryable=False)
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = sorted({code for code, _ in exc.recipients.values()})
            return NotifyError(f"the mail server refused the recipients (SMTP {', '.join(map(str, codes))})",
                               receiver=self.name, retryable=all(400 <= c < 500 for c in codes))
        if isinstance(exc, smtplib.SMTPResponseException):
            return NotifyError(f"the mail server answered SMTP {exc.smtp_code}", receiver=self.name,
                               retryable=400 <= exc.smtp_code < 500)
        if isinstance(exc, ssl.SSLError):
            return NotifyError(f"TLS with the mail server failed ({exc.reason or type(exc).__name__})",
                               receiver=self.name, retryable=False)
        if sent and isinstance(exc, (smtplib.SMTPServerDisconnected, socket.timeout, TimeoutError, ConnectionError)):
            return NotifyError(f"the mail server stopped answering during the send ({type(exc).__name__}); it may "
                               "have the message", receiver=self.name, unknown=True)
        return NotifyError(f"cannot reach the mail server {self.host}:{self.port} ({type(exc).__name__})",
                           receiver=self.name)

    def was_delivered(self, idempotency_key: str, *, since: datetime) -> bool | None:
        """SMTP cannot be asked: cannot tell (the alert is marked unconfirmed)."""
        return None
