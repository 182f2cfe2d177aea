"""Constants and helpers the tests share."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from monitor.models import Alert, Judged, Match, Mention, Reach, Score

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
# CI clones the repository with shared/ beside it; MONITOR_SHARED_DIR points elsewhere.
SHARED = Path(os.environ.get("MONITOR_SHARED_DIR", ROOT.parent / "shared"))
NOW = datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)


def fixture_bytes(name: str) -> bytes:
    """A file from tests/fixtures."""
    return (FIXTURES / name).read_bytes()


def all_strings(value) -> list[str]:
    """Every string inside a JSON-like value (a Slack payload), depth first."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in all_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in all_strings(v)]
    return []


INJECTIONS = [
    "<!channel>", "<!here>", "<!everyone>", "<@U123>", "<!subteam^S1>", "<#C1>",
    "<https://evil.example|click>", "<http://x|y>", "&lt;!channel&gt;", "<mailto:a@b.c|mail>",
    "<!chan\u200bnel>", "<!ev\u200deryone>", "evil\u200f\u202egnp.exe", "\ufeff<!here>",
]
INVISIBLE = re.compile("[\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def hostile_alert(key: str = "assassin:blog:1", payload: str = " ".join(INJECTIONS)) -> Alert:
    mention = Mention(
        source="blog", id=key.rsplit(":", 1)[-1], url="https://reviews.example/post?a=1&b=<2>|x", text=f"Acme Cloud is awful {payload}",
        published_at=NOW, title=f"Title {payload}", author=f"user{payload}", author_name=f"Display {payload}",
        audience=1200, source_type="rss",
    )
    score = Score(-0.9, "assassin", (f"compound -0.90 ≤ -0.50 {payload}",))
    judged = Judged(mention, Match(("Acme Cloud",), (f'"Acme Cloud" {payload}',)), score, Reach(12, 240, f"audience {payload}"))
    return Alert(key, "assassin", "Acme Cloud", "blog", "warning", f"assassin mention {payload}", (judged,), NOW)


def assert_no_control_sequences(body: dict) -> None:
    """Slack parses <...> as a mention, channel link or URL: only our own link may use it."""
    for text in all_strings({"text": body.get("text"), "blocks": body.get("blocks")}):
        for sequence in re.findall(r"<[^>]*>", text):
            assert sequence.startswith("<https://reviews.example/"), f"control sequence reached Slack: {sequence!r}"
    assert "<!channel>" not in json.dumps(body)
    found = [text for text in all_strings(body) if INVISIBLE.search(text)]
    assert not found, f"an invisible or bidirectional character reached Slack: {found[0]!r}"


def queries(*rules: str):
    """One brand's keyword rules as ingest hands them to a connector (``Matcher.queries``)."""
    from monitor.judgement.matching import Matcher, compile_brand

    return Matcher([compile_brand("Acme Cloud", rules)]).queries()


class PostgresCluster:
    """A throwaway PostgreSQL cluster: ``initdb`` in a temporary folder, started on a free port
    of 127.0.0.1 (and a socket in that folder), trust authentication for its one user, stopped
    and removed by ``stop``. Debian's server binaries (``apt-get install postgresql``); as root,
    run as the ``postgres`` user the package creates (PostgreSQL refuses to run as root)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.bin = postgres_bin()
        if self.bin is None:
            raise FileNotFoundError("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin")
        self.data = folder / "data"
        self.port = free_port()
        self.dsn = f"postgresql://monitor@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        import subprocess

        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *argv], check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> str:
        import shutil

        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "monitor", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.folder} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")
        return self.dsn

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")


def new_postgres_database(postgres: str, template: str | None = None) -> str:
    """The URL of a new database on the session's cluster (removed with the cluster)."""
    import uuid

    import psycopg

    name = "t" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    return postgres.rsplit("/", 1)[0] + "/" + name


def postgres_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, else Debian's newest /usr/lib/postgresql/N/bin."""
    import shutil

    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return versions[-1].parent if versions else None


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loopback(handler: type) -> tuple[str, object]:
    """A threading HTTP server for ``handler`` on 127.0.0.1, serving in a daemon thread: its base
    URL and the server (``shutdown()`` it when the test needs it gone sooner than the process)."""
    import threading
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


@contextmanager
def serving(db: Path, *args: str, port: int | None = None):
    """A real ``monitor serve`` of ``db`` on 127.0.0.1 (extra ``args`` passed on): yields its base
    URL once it answers, stops it after."""
    import httpx

    port = port or free_port()
    server = subprocess.Popen([sys.executable, "-m", "monitor", "--db", str(db), "serve", "--port", str(port), *args],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/-/versions.json", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None:
                    raise AssertionError(f"monitor serve stopped: {server.stdout.read()}") from None
                assert time.monotonic() < deadline, "monitor serve did not answer within 60 s"
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def make_demo(folder: Path) -> Path:
    """A fresh demo database in ``folder`` (``monitor demo``, as a reader would run it)."""
    subprocess.run([sys.executable, "-m", "monitor", "--db", str(folder / "demo.db"), "demo"], cwd=folder,
                   check=True, capture_output=True, timeout=300)
    return folder / "demo.db"
