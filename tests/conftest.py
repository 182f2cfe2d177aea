"""Shared test parts: a fixed clock, fixture files, and a local Slack stand-in."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tests.support import NOW


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture(autouse=True, scope="session")
def _cache_folder(tmp_path_factory):
    """What the monitor caches (the unpacked language model) goes to the session's folder, not the
    user's ~/.cache; the processes tests start inherit it."""
    os.environ.setdefault("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    yield


@pytest.fixture(autouse=True)
def _no_kept_tokens():
    """Each test starts without the tokens an earlier one left kept (the loopback server's
    address is the same across tests, so a kept token would answer for another test's)."""
    from connectors.tokens import forget_all

    forget_all()
    yield


@dataclass
class SlackStandIn:
    """A loopback Slack: records every request; answers from a script, then ``ok``."""

    base_url: str = ""
    requests: list[dict] = field(default_factory=list)
    script: list[tuple[int, dict | str, dict]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 0.0  # seconds Slack takes to answer a post it has already kept

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    @property
    def webhook_url(self) -> str:
        return self.base_url + "/services/T000/B000/XXXX"

    def posted(self) -> list[dict]:
        """Bodies of requests that Slack accepted (answered 200 ok)."""
        return [r["body"] for r in self.requests if r["accepted"]]


@pytest.fixture
def slack():
    stand_in = SlackStandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - conversations.history: the channel, read back
            self._history()

        def _history(self) -> None:
            with stand_in.lock:
                messages = [
                    {"type": "message", "text": r["body"].get("text"), "ts": f"{i}.0001",
                     "metadata": r["body"].get("metadata")}
                    for i, r in enumerate(stand_in.requests)
                    if r["accepted"] and r["path"].endswith("chat.postMessage")
                ]
            payload = json.dumps({"ok": True, "messages": messages[::-1], "has_more": False}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            if self.path.endswith("conversations.history"):
                return self._history()
            if "json" in (self.headers.get("Content-Type") or ""):
                body = json.loads(raw)
            else:
                body = {k: v[0] for k, v in parse_qs(raw).items()}
                for key in ("blocks",):
                    if key in body:
                        body[key] = json.loads(body[key])
            with stand_in.lock:
                status, answer, headers = stand_in.script.pop(0) if stand_in.script else (200, None, {})
                webhook = self.path.startswith("/services/")
                if answer is None:
                    answer = "ok" if webhook else {"ok": True, "channel": body.get("channel"), "ts": f"{len(stand_in.requests)}.0001"}
                accepted = status == 200 and (answer == "ok" or (isinstance(answer, dict) and answer.get("ok")))
                stand_in.requests.append({"path": self.path, "body": body, "headers": dict(self.headers), "accepted": accepted})
            payload = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
            if stand_in.delay:
                time.sleep(stand_in.delay)  # the message is in the channel; the answer comes late
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if isinstance(answer, str) else "application/json")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up waiting

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stand_in.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL cluster for the session (its DSN), or a skip saying why there is none."""
    from tests.support import PostgresCluster, postgres_bin

    if postgres_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install PostgreSQL's server (.ci/run: apt-get install postgresql)")
        pytest.skip("no PostgreSQL server here (CI installs Debian's: apt-get install postgresql)")
    import shutil
    import tempfile

    # Not pytest's temporary folder: it is private to root, and the server runs as postgres then.
    folder = Path(tempfile.mkdtemp(prefix="monitor-pg-"))
    cluster = PostgresCluster(folder)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_template(postgres):
    """A database migrated once, copied for each test (CREATE DATABASE … TEMPLATE: tens of
    milliseconds, where migrating a new one is most of a second)."""
    import psycopg

    from monitor.store.postgres import migrate

    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute("CREATE DATABASE monitor_template")
    url = postgres.rsplit("/", 1)[0] + "/monitor_template"
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
    return "monitor_template"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path: Path) -> str:
    """Where a test's store lives, once per backend: a SQLite file, then a fresh PostgreSQL
    database on the session's cluster (skipped, with the reason, where there is no server)."""
    if request.param == "sqlite":
        return str(tmp_path / "m.db")
    from tests.support import new_postgres_database

    return new_postgres_database(request.getfixturevalue("postgres"), request.getfixturevalue("postgres_template"))
