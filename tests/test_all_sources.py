"""`monitor once` over sources of every type, served in their real formats from 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from connectors import REGISTRY
from monitor.cli import main
from tests.samples import SAMPLES, serve
from tests.support import ROOT

ENV = {k: v for sample in SAMPLES.values() for k, v in sample.env.items()}  # every source's credentials


def write_config(tmp_path: Path, base: str) -> Path:
    import yaml

    # first_run reaches back past the fixtures' dates, so the test does not depend on today's date.
    sources = [dict(SAMPLES[t].options(base), name=f"src-{t}", **({"first_run": "36500d"} if "first_run" in REGISTRY[t].Options.model_fields else {}))
               for t in sorted(REGISTRY)]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "database": str(tmp_path / "m.db"),
        "brands": [{"name": "Acme Cloud", "keywords": ['"Acme Cloud"', "acmecloud"]}],
        "sources": sources,
    }))
    return path


def test_once_over_every_type_stores_each_mention_once_and_then_asks_for_what_is_new(tmp_path: Path, httpserver: HTTPServer) -> None:
    for type_ in REGISTRY:
        serve(httpserver, type_)
    config = write_config(tmp_path, httpserver.url_for("").rstrip("/"))
    runner = CliRunner()
    first = runner.invoke(main, ["--config", str(config), "once"], env=ENV, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "failed" not in first.output, first.output
    with sqlite3.connect(tmp_path / "m.db") as db:
        per_type = dict(db.execute("SELECT source_type, count(*) FROM mentions GROUP BY source_type"))
        total = db.execute("SELECT count(*) FROM mentions").fetchone()[0]
    assert set(per_type) == set(REGISTRY), per_type
    with sqlite3.connect(tmp_path / "m.db") as db:
        db.row_factory = sqlite3.Row
        rows = list(db.execute("SELECT * FROM mentions"))
        # Every stored mention: a bucket or the reason for none; a score with reasons; a reach range with its method.
        for row in rows:
            assert (row["bucket"] is None) == (row["unscored_reason"] is not None), dict(row)
            if row["bucket"]:
                assert row["assassin_score"] is not None and json.loads(row["bucket_reasons"]), dict(row)
            assert 0 < row["reach_low"] <= row["reach_likely"] <= row["reach_high"] and row["reach_method"], dict(row)
        methods = [(row["source_type"], row["reach_method"]) for row in rows]
        assert any(t == "hackernews" and "points ×" in m for t, m in methods)
        assert any(t == "stackexchange" and "counted by the source" in m for t, m in methods)
        assert any(t == "mastodon" and m.startswith("audience ") and "potential" in m for t, m in methods)
        authors = db.execute("SELECT count(DISTINCT source) FROM authors").fetchone()[0]
        assert authors >= 8  # every source whose posts carry an author handle
    requests_before = len(httpserver.log)

    second = runner.invoke(main, ["--config", str(config), "once"], env=ENV, catch_exceptions=False)
    assert second.exit_code == 0, second.output
    with sqlite3.connect(tmp_path / "m.db") as db:
        assert db.execute("SELECT count(*) FROM mentions").fetchone()[0] == total
        assert db.execute("SELECT count(*) FROM (SELECT source, id FROM mentions GROUP BY source, id HAVING count(*) > 1)").fetchone()[0] == 0
    for line in second.output.splitlines():
        assert ", 0 new," in line or "not modified" in line, line

    # Each search reads again from 10 minutes (``overlap``) before its cursor: late-indexed posts.
    later = [r for r, _ in httpserver.log[requests_before:]]
    hn = next(r for r in later if r.path.endswith("search_by_date"))
    assert hn.args["numericFilters"] == "created_at_i>=1795429800"
    so = next(r for r in later if r.path.endswith("search/advanced"))
    assert so.args["fromdate"] == "1795428600", "the newest item read (the answer, 1795429200) less the overlap"
    gh = next(r for r in later if r.path.endswith("search/issues"))
    assert "created:>=2026-11-23T09:55:00Z" in gh.args["q"]
    # (The recorded search page always carries a paging cursor, so Bluesky owes the window it
    # could not finish and reads it first, bounded by until; the new window has none.)
    bsky = next(r for r in later if r.path.endswith("searchPosts") and "until" not in r.args)
    assert bsky.args["since"] == "2026-11-23T10:35:00Z"
    masto = next(r for r in later if "timelines/tag" in r.path)
    assert masto.args["since_id"] == str(113500000000000003 - (600_000 << 16))  # ids are milliseconds << 16


def test_source_with_a_missing_credential_is_skipped_and_reported(tmp_path: Path, httpserver: HTTPServer) -> None:
    serve(httpserver, "rss")
    config = write_config(tmp_path, httpserver.url_for("").rstrip("/"))
    text = config.read_text()
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(config), "once"], env={"BLUESKY_HANDLE": "", "BLUESKY_APP_PASSWORD": ""})
    assert "src-bluesky: failed: skipped: environment variable BLUESKY_HANDLE, BLUESKY_APP_PASSWORD not set" in result.output
    assert "src-rss: 3 fetched" in result.output
    check = runner.invoke(main, ["check-config", str(config)], env={"BLUESKY_HANDLE": "", "BLUESKY_APP_PASSWORD": ""})
    assert check.exit_code == 0
    assert "sources[0] (src-appstore)" not in check.output
    assert "(src-bluesky): environment variables BLUESKY_HANDLE, BLUESKY_APP_PASSWORD not set — export them" in check.output
    status = runner.invoke(main, ["--config", str(config), "status"], env={"BLUESKY_HANDLE": "", "BLUESKY_APP_PASSWORD": ""})
    assert "BLUESKY_HANDLE, BLUESKY_APP_PASSWORD not set" in status.output
    assert text == config.read_text()


def test_every_search_sent_for_an_and_rule_is_anchored_on_the_brands_required_term(tmp_path: Path, httpserver: HTTPServer) -> None:
    """config.yaml's own rule, ``"Acme" AND (outage OR down OR billing OR support)``, was sent as
    seven searches ("support" alone among them): now every search a connector sends names Acme."""
    import yaml

    for type_ in REGISTRY:
        serve(httpserver, type_)
    config = write_config(tmp_path, httpserver.url_for("").rstrip("/"))
    data = yaml.safe_load(config.read_text())
    data["brands"] = yaml.safe_load((ROOT / "config.yaml").read_text())["brands"][:1]
    data["brands"][0]["name"] = "Acme Cloud"
    assert '"Acme" AND (outage OR down OR billing OR support)' in data["brands"][0]["keywords"]
    config.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["--config", str(config), "once"], env=ENV, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    sent = []
    for request, _ in httpserver.log:
        for name in ("q", "query", "term"):
            if name in request.args:
                sent.append((request.path, request.args[name]))
        if "/timelines/tag/" in request.path:
            sent.append((request.path, request.path.rsplit("/", 1)[1]))
    searched = {path for path, _ in sent}
    assert len(searched) >= 10, searched  # every search connector sent something
    for path, value in sent:
        assert "acme" in value.lower(), (path, value)
    assert not any(value.strip('"').lower() in {"outage", "down", "billing", "support"} for _, value in sent)
