"""The command line: check-config, demo, search, status, and `python -m monitor`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.store import Store
from tests.support import NOW, ROOT

GOOD = """\
brands:
  - name: Acme
    keywords: ['"Acme Cloud"']
sources:
  - name: hn
    type: hackernews
receivers:
  - name: slack
    type: slack
    token_env: TEST_MONITOR_TOKEN
    channel: '#alerts'
"""

# One small file per mistake: (text, the key path the message must name).
BAD = {
    "unknown key": (GOOD.replace("keywords:", "keyword:"), "brands[0].keyword: unknown key — did you mean 'keywords'?"),
    "wrong type": (GOOD + "alerts:\n  critical_reach: many\n", "alerts.critical_reach: expected a valid integer"),
    "bad duration": (GOOD.replace("type: hackernews", "type: hackernews\n    every: fortnightly"), "sources[0].every: bad duration"),
    "duplicate name": (GOOD.replace("type: hackernews", "type: hackernews\n  - name: hn\n    type: rss\n    url: https://x.example/f"),
                       "sources[1].name: duplicate name 'hn'"),
    "unknown connector": (GOOD.replace("type: hackernews", "type: myspace"), "sources[0].type: unknown connector type 'myspace'"),
    "unbalanced quote": (GOOD.replace("""'"Acme Cloud"'""", """'"Acme Cloud'"""), "brands[0].keywords[0]: unbalanced quote"),
    "unbalanced parenthesis": (GOOD.replace("""'"Acme Cloud"'""", """'(acme OR cloud'"""), "brands[0].keywords[0]: unbalanced parenthesis"),
    "literal token": (GOOD.replace("TEST_MONITOR_TOKEN", "xoxb-123-abc"), "receivers[0].token_env: looks like a literal secret"),
}


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_check_config_prints_normalized_config_with_secrets_hidden(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(GOOD)
    assert "every: 15m" not in invoke("check-config", str(path)).output, "the dump is asked for with --print"
    result = invoke("check-config", "--print", str(path), env={"TEST_MONITOR_TOKEN": "xoxb-super-secret"})
    assert result.exit_code == 0
    assert "token_env: TEST_MONITOR_TOKEN (set, value hidden)" in result.output
    assert "every: 15m" in result.output and "max_pages: 5" in result.output
    assert "xoxb-super-secret" not in result.output


def test_check_config_warns_about_an_unset_secret(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(GOOD)
    result = invoke("check-config", str(path), env={"TEST_MONITOR_TOKEN": ""})
    assert result.exit_code == 0
    assert "environment variable TEST_MONITOR_TOKEN is not set — export it before running" in result.output


def test_check_config_says_when_the_sentence_encoder_asked_for_cannot_run(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(GOOD)
    assert "sentiment.encoder" not in invoke("check-config", str(path)).output  # installed here
    empty = tmp_path / "no-weights"
    empty.mkdir()
    result = invoke("check-config", str(path), env={"MONITOR_ENCODER_DIR": str(empty)})
    assert result.exit_code == 0
    assert (f"warning: sentiment.encoder: auto, but {empty / 'model.safetensors'} is missing: the sentence encoder needs "
            "all-MiniLM-L6-v2's model.safetensors; the assassin call will read words only") in result.output
    path.write_text(GOOD + "sentiment: {encoder: always}\n")
    result = invoke("check-config", str(path), env={"MONITOR_ENCODER_DIR": str(empty)})
    assert "(set it to auto or off to say that is intended)" in result.output
    path.write_text(GOOD + "sentiment: {encoder: 'off'}\n")
    assert "sentiment.encoder" not in invoke("check-config", str(path), env={"MONITOR_ENCODER_DIR": str(empty)}).output


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_exits_1_naming_the_key_path(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = invoke("check-config", str(path))
    assert result.exit_code == 1
    assert expected in result.output


@pytest.mark.parametrize("command", ["once", "run", "status"])
def test_commands_refuse_a_bad_config(tmp_path: Path, command: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(BAD["unbalanced quote"][0])
    result = invoke("--config", str(path), command)
    assert result.exit_code == 1 and "brands[0].keywords[0]: unbalanced quote" in result.output



@pytest.mark.parametrize("command", [["status"], ["once"], ["search", "acme"], ["run"]])
def test_a_database_that_cannot_be_opened_ends_the_command_with_its_path_and_the_fix(tmp_path: Path, command: list) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(GOOD.replace("type: hackernews", "type: hackernews\n    base_url: http://127.0.0.1:9"))
    (tmp_path / "a-file").write_text("not a folder")
    db = tmp_path / "a-file" / "monitor.db"
    result = invoke("--config", str(config), "--db", str(db), *command)
    assert result.exit_code == 1, result.output
    # Readers never create a database: one that is not there is named with the fix.
    opening = "no database at" if command[0] in ("status", "search") else "cannot open the database"
    assert f"Error: {opening} {db}" in result.output and "point --db, MONITOR_DB" in result.output
    assert "Traceback" not in result.output

def test_demo_runs_offline_and_shows_an_assassin_with_reach(database: str) -> None:
    db = database
    result = invoke("--db", db, "demo")
    assert result.exit_code == 0, result.output
    # The sample storm (two days ago) is one spike alert, in words first, with its own posts;
    # today's assassins are not the storm's and go out on their own.
    assert result.output.count("[CRITICAL] spike · Acme Cloud · all sources") == 1
    assert re.search(r"\n  why: Acme Cloud: \d+ negative posts in [\d.]+ (minutes|hours), about \d+ expected at this "
                     r"time of day; mostly on forum; top words: [a-z, ]+; reached about [\d,]+–[\d,]+ people so far\n"
                     r"  numbers: In 5-minute windows \(UTC\): [a-z ]+ \d+ \(expected [\d.]+, z \+[\d.]+\) at \d\d:\d\d",
                     result.output), result.output
    spike = result.output.split("[CRITICAL] spike")[1].split("\n\n")[0]
    assert "https://forum.example/t/" in spike and "hackernews" not in spike and "inside)" not in spike
    assert "[CRITICAL] assassin · Acme Cloud" in result.output
    assert "reach 18,000–24,000 people (hackernews: 240 points × 75–100 visitors per point)" in result.output

    found = invoke("--db", db, "search", "refund")
    assert found.exit_code == 0 and "Acme Cloud outage" in found.output
    as_json = invoke("--db", db, "search", "--json", "deleted backups")
    assert '"bucket": "assassin"' in as_json.output


def test_demo_twice_starts_fresh(database: str) -> None:
    first = invoke("--db", database, "demo").output
    stored = re.search(r"Stored (\d+) mentions", first).group(1)
    with Store(database) as store:  # what a previous demo's user left in the store
        store.add_silence(["brand=Acme Cloud"], author="me", reason="trying it", starts_at=NOW, expires_at=NOW, now=NOW)
    assert f"Stored {stored} mentions" in invoke("--db", database, "demo").output
    with Store(database) as store:
        assert store.db.execute("SELECT count(*) FROM silences").fetchone()[0] == 0
    if database.startswith("postgresql:"):  # a database holding another's sources is somebody's real store
        with Store(database) as store:
            store.ensure_source("production-feed", "rss", now=NOW)
        refused = invoke("--db", database, "demo")
        assert refused.exit_code == 1 and "holds sources the demo does not have (production-feed)" in refused.output
        with Store(database) as store:
            assert store.db.execute("SELECT count(*) FROM mentions").fetchone()[0] == int(stored)


def test_backtest_on_the_demo_database_prints_the_storm_with_its_explanation(database: str) -> None:
    db = database
    invoke("--db", db, "demo")

    def state() -> tuple:
        with Store(db) as store:
            return tuple(store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                         for t in ("mentions", "spikes", "spike_series", "storms", "alerts"))

    before = state()
    result = invoke("--db", db, "backtest", "--since", "30d")
    assert result.exit_code == 0, result.output
    # One storm for the burst that fired five series (the brand's four, forum's posts): its words, its numbers, its posts.
    assert result.output.count(" SPIKE ") == 1 and re.search(r" UTC SPIKE Acme Cloud: \d+ negative posts in ", result.output)
    for part in ("expected at this time of day; mostly on forum; top words: ", "  numbers: In 5-minute windows (UTC): ",
                 "Fired on: all sources, forum (5 series)", "audiences overlap", "▸ user"):
        assert part in result.output, part
    assert "1 storm (5 series fired) between" in result.output
    quiet = invoke("--db", db, "backtest", "--since", "1d")  # the storm was two days ago
    assert "SPIKE" not in quiet.output and "0 storms (0 series fired)" in quiet.output
    as_json = json.loads(invoke("--db", db, "backtest", "--since", "30d", "--json").stdout.splitlines()[0])
    assert as_json["summary"].startswith("Acme Cloud: ") and as_json["kind"] == "spike" and len(as_json["series"]) == 5
    assert invoke("--db", db, "backtest", "--since", "soon").exit_code == 2
    assert state() == before and before[1] >= 1  # a backtest writes nothing


def test_backtest_lists_the_storms_it_would_page_and_the_daily_bursts_it_held_back(database: str) -> None:
    from datetime import datetime, timedelta, timezone

    from monitor.models import Judged, Match, Mention, Reach, Score
    from monitor.store import Store

    # Six posts a window for ten days, then a bot's 20 minutes of ten times as many at the same
    # time on three days: the first day is a storm, the next two are weather.
    start = (datetime.now(timezone.utc) - timedelta(days=14)).replace(minute=0, second=0, microsecond=0)
    counts = [6] * (14 * 288 - 12)
    for day in (10, 11, 12):
        counts[day * 288 + 120 : day * 288 + 124] = [60] * 4
    items = [
        Judged(Mention(source="forum", id=f"{w}-{k}", url=None, text="Acme Cloud", source_type="rss",
                       published_at=start + timedelta(minutes=5 * w, seconds=k)),
               Match(("Acme Cloud",), ()), Score(0.0, "apathetic"), Reach(1, 4, "t", 3))
        for w, n in enumerate(counts) for k in range(n)
    ]
    db = database
    with Store(db) as store:
        store.ensure_source("forum", "rss", now=start)
        for page in range(0, len(items), 1000):
            store.save_mentions(items[page : page + 1000], fetched_at=start)
    result = invoke("--db", db, "backtest", "--since", "15d")
    assert result.exit_code == 0, result.output
    assert result.output.count(" SPIKE Acme Cloud: ") == 1, result.output  # the first day, not the next two
    first = start + timedelta(days=10, minutes=600)  # its first window: a month's record
    assert f"  Acme Cloud  {first:%Y-%m-%d %H:%M} UTC  " in result.output and " mentions against " in result.output
    assert re.search(r" mentions against \d+ expected  \(peak window (9|10|11)\.\d×\)", result.output), result.output
    assert ("2 brand-level bursts held back as recurring at the time of day of an earlier day's (the last: mentions "
            f"of Acme Cloud at {(first + timedelta(days=2, minutes=10)).isoformat()[:16]}") in result.output
    assert "spikes.recurring_days: 0 pages them" in result.output


def test_status_shows_each_source(tmp_path: Path, database: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(GOOD.replace("receivers:", f"database: {database}\nreceivers:"))
    if not database.startswith("postgresql:"):  # a PostgreSQL database is made by its administrator
        assert invoke("--config", str(path), "status").exit_code == 1, "no database yet: an error, not a new empty file"
    Store(database).close()
    result = invoke("--config", str(path), "status", env={"TEST_MONITOR_TOKEN": ""})
    assert result.exit_code == 0
    assert "hn" in result.output and "never" in result.output and "alerts: none yet" in result.output
    assert "TEST_MONITOR_TOKEN is not set" in result.output
    assert "access" not in result.output, "nothing to say of a source that has what it needs"
    path.write_text(path.read_text().replace("sources:", "sources:\n  - {name: rd, type: reddit}", 1))
    result = invoke("--config", str(path), "status", env={"TEST_MONITOR_TOKEN": ""})
    assert "access, rd: anonymous RSS: about 1 request a minute per address in 2026, shared by every Reddit source" in result.output
    assert "set client_id_env and client_secret_env" in " ".join(result.output.split())


def test_status_of_another_database_lists_its_sources_not_the_configs(tmp_path: Path) -> None:
    # --db data/demo.db beside a config whose own sources never ran there: they are not that
    # database's, so status does not list them as "never".
    path = tmp_path / "config.yaml"
    path.write_text(GOOD.replace("receivers:", f"database: {tmp_path / 'mine.db'}\nreceivers:"))
    other = tmp_path / "demo.db"
    with Store(other) as store:
        store.ensure_source("forum", "discourse", now=NOW)
    result = invoke("--config", str(path), "--db", str(other), "status", env={"TEST_MONITOR_TOKEN": "x"})
    assert result.exit_code == 0, result.output
    assert "forum" in result.output and "hn" not in result.output.split("alerts:")[0]


def test_config_schema_command_matches_the_published_file() -> None:
    assert invoke("config-schema").output == (ROOT / "config.schema.json").read_text()


def test_python_dash_m_monitor_is_the_same_command() -> None:
    result = subprocess.run([sys.executable, "-m", "monitor", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0
    for command in ("run", "once", "check-config", "search", "status", "demo", "backtest"):
        assert command in result.stdout


def test_docs_document_every_command() -> None:
    commands = (ROOT / "docs" / "commands.md").read_text()
    for command in main.commands:
        assert f"monitor {command}" in commands, f"docs/commands.md does not mention `monitor {command}`"


def test_database_comes_from_db_option_then_monitor_db_then_config(tmp_path: Path) -> None:
    from monitor.config import resolve_database
    from monitor.config_check import parse_config

    config = parse_config(GOOD.replace("receivers:", f"database: {tmp_path / 'from-config.db'}\nreceivers:"))
    assert resolve_database(config, None) == str(tmp_path / "from-config.db")
    path = tmp_path / "config.yaml"
    path.write_text(GOOD.replace("receivers:", f"database: {tmp_path / 'from-config.db'}\nreceivers:"))
    add = ["silence", "add", "kind=test", "--for", "1h", "--author", "a", "--reason", "r"]  # a command that writes
    invoke("--config", str(path), *add, env={"MONITOR_DB": str(tmp_path / "from-env.db")})
    invoke("--config", str(path), "--db", str(tmp_path / "from-option.db"), *add, env={"MONITOR_DB": str(tmp_path / "from-env.db")})
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["from-env.db", "from-option.db"]


def test_classify_plain_and_json_lines(tmp_path: Path) -> None:
    lines = "\n".join([
        "@AcmeCloud still waiting for a reply to my ticket, thanks for nothing",
        '{"text": "Acme Cloud est vraiment nul, je veux un remboursement", "brand": "Acme Cloud", "id": 7}',
        "I love this, great support!",
    ])
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "none.yaml"), "classify"], input=lines)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    assert out[0]["bucket"] == "assassin" and out[0]["assassin_score"] >= 0.5 and out[0]["reasons"]
    assert out[0]["model"] == "assassin-2 (shipped with the monitor)"
    # The complaint is one the fast call cannot rule out: the sentence heads read it too (the cascade).
    assert set(out[0]["heads"]) == {"complaint", "negative", "sentence complaint", "sentence negative"}
    assert set(out[2]["heads"]) == {"complaint", "negative"}  # praise: the fast call alone
    assert out[1] == {"compound": None, "bucket": None, "assassin_score": None, "reasons": [], "language": "fr",
                      "unscored_reason": "language 'fr' is not English; VADER scores English only",
                      "model": "assassin-2 (shipped with the monitor)", "heads": None, "id": 7}
    assert out[2]["bucket"] == "advocate"


def test_classify_bad_json_line_names_the_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "none.yaml"), "classify"], input="ok text\n{broken\n")
    assert result.exit_code != 0 and "line 2: not valid JSON" in result.output


def test_classify_agrees_with_what_the_pipeline_stores(tmp_path: Path, database: str, httpserver) -> None:
    from tests.support import fixture_bytes

    httpserver.expect_request("/feed.xml").respond_with_data(fixture_bytes("feed.rss.xml"), content_type="application/rss+xml")
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {database}\nbrands: [{{name: Acme Cloud, keywords: ['\"Acme Cloud\"']}}]\n"
                      f"sources: [{{name: blog, type: rss, url: '{httpserver.url_for('/feed.xml')}'}}]\n")
    CliRunner().invoke(main, ["--config", str(config), "once"], catch_exceptions=False)
    with Store(database) as store:
        stored = store.db.execute("SELECT title, text, sentiment, bucket, assassin_score, language FROM mentions ORDER BY id").fetchall()
    lines = "\n".join(json.dumps({"text": f"{t}.\n{x}", "brand": "Acme Cloud", "language": lang}) for t, x, *_, lang in stored)
    result = CliRunner().invoke(main, ["--config", str(config), "classify"], input=lines)
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [(o["compound"], o["bucket"], o["assassin_score"]) for o in out] == [(s[2], s[3], s[4]) for s in stored]


def test_search_finds_the_configs_database_without_checking_the_rest_of_the_config(tmp_path: Path, monkeypatch) -> None:
    """search reads only database: from the file (the whole config costs a second of imports to
    check); relative to the config's folder, wherever the command runs from."""
    from tests.test_store import judged

    (tmp_path / "sub").mkdir()
    with Store(tmp_path / "sub" / "m.db") as store:
        store.save_mentions([judged("1", "Acme Cloud refund please")], fetched_at=judged("1").mention.published_at)
    config = tmp_path / "config.yaml"
    config.write_text("database: sub/m.db\nbrands: [{name: Acme, keywords: [acme]}]\nsources: [{name: x, type: nope}]\n")
    monkeypatch.chdir(ROOT)
    result = invoke("--config", str(config), "search", "refund", "--json", env={"MONITOR_DB": ""})
    assert result.exit_code == 0 and json.loads(result.stdout)["id"] == "1"
    assert "search: 1 of 1 matches" in result.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("database: [not, a, path]\nbrands: []\n")
    result = invoke("--config", str(broken), "search", "refund", env={"MONITOR_DB": ""})
    assert result.exit_code == 1 and "brands" in result.output, "what it cannot read goes through the full check"


def test_export_streams_csv_and_jsonl_with_filters_and_keeps_formulas_as_text(tmp_path: Path, database: str) -> None:
    import csv
    import io

    from tests.test_store import judged

    db = database
    with Store(db) as store:
        evil = judged("2", "=HYPERLINK(\"http://evil.example\",\"click\") Acme Cloud")
        store.save_mentions([judged("1", "Acme Cloud is down"), evil], fetched_at=evil.mention.published_at)
    result = invoke("--db", db, "export", "mentions", "--bucket", "assassin", "--brand", "acme")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["id"] for r in rows] == ["1", "2"] and "raw" not in rows[0]
    assert rows[1]["text"].startswith("'=HYPERLINK"), "a formula stays text in a spreadsheet"
    assert json.loads(rows[0]["brands"]) == ["Acme"], "a list column is JSON text in its cell, as docs/commands.md says"
    assert "is JSON text in its cell" in (ROOT / "docs" / "commands.md").read_text()
    jsonl = invoke("--db", db, "export", "mentions", "--format", "jsonl", "--bucket", "advocate")
    assert jsonl.exit_code == 0 and jsonl.output == ""
    out = tmp_path / "authors.csv"
    assert invoke("--db", db, "export", "authors", "--out", str(out)).exit_code == 0
    assert out.read_text().splitlines()[0].startswith("source,handle,display_name")
    refused = invoke("--db", db, "export", "authors", "--brand", "Acme")
    assert refused.exit_code == 2 and "authors have no brand" in refused.output
    bad = invoke("--db", db, "export", "mentions", "--since", "last tuesday")
    assert bad.exit_code == 2 and "write a time ago (7d, 12h) or a date" in bad.output


def test_search_filters_and_says_how_it_read_a_query(database: str) -> None:
    from dataclasses import replace

    from tests.test_store import judged

    db = database
    with Store(db) as store:
        one, two = judged("1", "Acme Cloud refund"), judged("2", "Acme Cloud refund again", source="hn")
        store.save_mentions([one, replace(two, reach=replace(two.reach, likely=5000, high=9000))], fetched_at=one.mention.published_at)
    assert [json.loads(line)["id"] for line in invoke("--db", db, "search", "refund", "--source", "hn", "--json").stdout.splitlines()] == ["2"]
    assert [json.loads(line)["id"] for line in invoke("--db", db, "search", "refund", "--min-reach", "1000", "--format", "jsonl").stdout.splitlines()] == ["2"]
    assert invoke("--db", db, "search", "refund", "--since", "2020-01-01", "--until", "2020-02-01", "--json").stdout == ""
    said = invoke("--db", db, "search", 'refund "again', "--json")
    assert re.search(r'read as the words "?refund"? "*again', said.output), said.output
    unknown = invoke("--db", db, "search", "refund", "--brand", "Globex")
    assert "no brand 'Globex' in the store; it has: Acme" in unknown.output
    assert invoke("--db", db, "search", "refund", "--brand", "ACME", "--json").stdout.count("\n") == 2, "any case"
    # The table says how many there are, shows the reach, and the id `monitor label` takes.
    table = invoke("--db", db, "search", "refund", "--limit", "1").output
    assert "1 of 2 matches; --limit 2 for more" in table and "id (for monitor label)" in table and "reach" in table
    assert ("hn:2" in table and "5,000" in table) or "blog:1" in table


def test_backfill_looks_for_a_brand_again_and_says_what_it_found(tmp_path: Path, httpserver) -> None:
    from datetime import datetime, timedelta, timezone
    from email.utils import format_datetime

    published = format_datetime(datetime.now(timezone.utc) - timedelta(days=2), usegmt=True)
    old = format_datetime(datetime.now(timezone.utc) - timedelta(days=20), usegmt=True)
    items = "".join(f"<item><title>{t}</title><link>https://blog.example/{i}</link><pubDate>{when}</pubDate></item>"
                    for i, (t, when) in enumerate([("Globex refund refused", published), ("Globex in 2019", old),
                                                   ("Acme news", published)]))
    httpserver.expect_request("/feed.xml").respond_with_data(
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>b</title>{items}</channel></rss>",
        content_type="application/rss+xml")
    path = tmp_path / "config.yaml"
    path.write_text(f"database: {tmp_path / 'm.db'}\nbrands: [{{name: Acme, keywords: [acme]}}, {{name: Globex, keywords: [globex]}}]\n"
                    f"sources: [{{name: blog, type: rss, url: '{httpserver.url_for('/feed.xml')}'}}]\n")
    result = invoke("--config", str(path), "backfill", "--brand", "Globex", "--since", "7d")
    assert result.exit_code == 0, result.output
    assert "blog: 2 fetched, 2 matched, 2 new" in result.stdout and "2 new mentions of Globex stored" in result.output, result.output
    with Store(tmp_path / "m.db") as store:
        titles = sorted(r[0] for r in store.db.execute("SELECT title FROM mentions"))
    assert titles == ["Acme news", "Globex refund refused"], "only what is younger than --since"
    assert invoke("--config", str(path), "backfill", "--brand", "Initech").exit_code == 2


def test_classify_reads_a_text_about_the_brands_the_configs_rules_find_in_it(tmp_path: Path) -> None:
    """As the pipeline does: without "brand", "cloud" of "Acme Cloud" was named as what the text complains of."""
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {tmp_path / 'm.db'}\nbrands: [{{name: Acme Cloud, keywords: ['\"Acme Cloud\"']}}]\n")
    text = "Acme Cloud ate my invoices again, third time, I want a refund"
    lines = f"{text}\n" + json.dumps({"text": text, "brand": "Acme Cloud"}) + "\n"
    result = CliRunner().invoke(main, ["--config", str(config), "classify"], input=lines, catch_exceptions=False)
    found, named = [json.loads(line) for line in result.output.splitlines()]
    assert found == named and found["bucket"] == "assassin"
    assert not re.search(r"\b(acme|cloud)\b", " ".join(found["reasons"]).lower()), found["reasons"]
