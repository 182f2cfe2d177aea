"""The e-mail receiver against a real SMTP server on 127.0.0.1 (aiosmtpd, with STARTTLS and a
login): one message per notification with a text and an HTML part, exactly once through a
60-second outage, a group's updates replying to its first message, the password never logged."""

from __future__ import annotations

import email
import email.policy
import logging
import ssl
import subprocess
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from alerts.mail import EmailNotifier, message_id
from monitor.config_check import parse_config
from monitor.errors import NotifyError
from monitor.logs import SECRETS
from monitor.runtime import Runtime, deliver
from monitor.store import Store
from tests.support import INVISIBLE, NOW, free_port, hostile_alert

PASSWORD = "smtp-pa55word-7c1e"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    """A self-signed certificate for 127.0.0.1 (Debian's openssl), trusted through ``ca_file``."""
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"),
                    "-out", str(folder / "cert.pem")], check=True, capture_output=True)
    return folder


class Mailbox:
    """The server side: what it accepted, and whether it is up."""

    def __init__(self, certificate: Path) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.port = free_port()
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
        self.controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        return "250 OK"

    def start(self) -> None:
        def login(server, session, envelope, mechanism, auth_data) -> AuthResult:
            good = auth_data.login == b"monitor" and auth_data.password == PASSWORD.encode()
            return AuthResult(success=good, handled=False)

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, tls_context=self.context,
                                     require_starttls=True, authenticator=login, auth_require_tls=True)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def mailbox(certificate: Path):
    box = Mailbox(certificate)
    box.start()
    yield box
    box.stop()


def _config(mailbox: Mailbox, certificate: Path, monkeypatch, password: str = PASSWORD):
    monkeypatch.setenv("SMTP_USER", "monitor")
    monkeypatch.setenv("SMTP_PASSWORD", password)
    return parse_config(
        "brands: [{name: Acme Cloud, keywords: [acme]}]\n"
        f"receivers: [{{name: mail, type: email, host: 127.0.0.1, port: {mailbox.port}, username_env: SMTP_USER, "
        f"password_env: SMTP_PASSWORD, from: 'Monitor <monitor@example.com>', to: [cm@example.com], "
        f"ca_file: '{certificate / 'cert.pem'}'}}]\n")


def test_one_message_with_a_text_and_an_html_part_over_starttls(mailbox: Mailbox, certificate: Path) -> None:
    notifier = EmailNotifier("mail", host="127.0.0.1", port=mailbox.port, sender="monitor@example.com",
                             to=["cm@example.com"], username="monitor", password=PASSWORD,
                             ca_file=str(certificate / "cert.pem"))
    ref = notifier.send(hostile_alert(), idempotency_key="mail:group:1")
    (msg,) = mailbox.messages
    assert ref == msg["Message-ID"] == message_id("mail:group:1")
    assert msg["Subject"].startswith("Assassin · Acme Cloud") and len(msg["Subject"]) <= 150
    text = msg.get_body(("plain",)).get_content()
    page = msg.get_body(("html",)).get_content()
    assert text.splitlines()[0] == msg["Subject"].split(": ")[0]  # the headline first
    assert "&lt;!channel&gt;" in page and "<!channel>" not in page, "a post's words are escaped in HTML"
    assert '<a href="https://reviews.example/post?a=1&amp;b=&lt;2&gt;|x">' in page
    assert not INVISIBLE.search(text + page + msg["Subject"])
    notifier.send(hostile_alert(), idempotency_key="mail:group:2", thread=ref)
    assert mailbox.messages[1]["In-Reply-To"] == ref, "a group's update replies to its first message"


def test_a_wrong_password_is_not_retried_and_not_said(mailbox: Mailbox, certificate: Path) -> None:
    notifier = EmailNotifier("mail", host="127.0.0.1", port=mailbox.port, sender="monitor@example.com",
                             to=["cm@example.com"], username="monitor", password="wrong-" + PASSWORD,
                             ca_file=str(certificate / "cert.pem"))
    with pytest.raises(NotifyError) as info:
        notifier.send(hostile_alert())
    assert not info.value.retryable and "refused the login" in str(info.value) and PASSWORD not in str(info.value)


def test_each_alert_goes_out_exactly_once_through_a_60_second_outage(mailbox: Mailbox, certificate: Path, tmp_path: Path,
                                                                     monkeypatch, caplog) -> None:
    config = _config(mailbox, certificate, monkeypatch)
    for name in (None, "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    caplog.handler.addFilter(SECRETS)
    with httpx.Client() as client, Store(tmp_path / "m.db") as store:
        runtime = Runtime.build(config, client=client)
        for i in range(10):
            store.enqueue_alert(hostile_alert(key=f"assassin:blog:{i}", payload=f"post {i}"), "mail", now=NOW)
        mailbox.stop()  # down for the first minute
        now = NOW
        while now <= NOW + timedelta(minutes=30):
            if now >= NOW + timedelta(seconds=60) and mailbox.controller is None:
                mailbox.start()
            deliver(runtime, store, now=now)
            now += timedelta(seconds=10)
        ids = [m["Message-ID"] for m in mailbox.messages]
        assert len(ids) == 10 and len(set(ids)) == 10
        assert store.alert_counts() == {"sent": 10}
    assert PASSWORD not in caplog.text
    assert PASSWORD not in "\n".join(__import__("sqlite3").connect(tmp_path / "m.db").iterdump())


def test_check_config_refuses_a_password_in_the_clear(tmp_path: Path) -> None:
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError, match="never sent in the clear"):
        parse_config("brands: [{name: A, keywords: [a]}]\nreceivers: [{name: m, type: email, host: smtp.example.com, "
                     "security: none, username_env: U, password_env: P, from: m@example.com, to: [a@example.com]}]\n")
