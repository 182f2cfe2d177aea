"""Config mistakes a new admin makes, each refused by `monitor check-config` (exit 1) with its
line, key path and fix, word for word."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors import REGISTRY
from monitor.cli import main
from monitor.config import config_changes
from monitor.config_check import load_config, parse_config
from monitor.store import Store

HEAD = "brands:\n  - name: Globex\n    keywords: [globex]\n"
SOURCE = HEAD + "sources:\n  - name: hn\n    type: hackernews\n"

CASES = {
    "retired spike key": (HEAD + "spikes:\n  novelty: 0.5\n",
                          "line 5: spikes.novelty: no longer used: the storm rule replaced the log-volume detector in"
                          " 2026-12 — remove it; spikes.storm_ratio, fast_ratio and bar_factor set how big a storm must be"),
    "every 0s": (SOURCE + "    every: 0s\n",
                 "line 7: sources[0].every: 0s is too short: a source is polled at most every 10 seconds — use 10s or more"),
    "every too long": (SOURCE + "    every: 999999999d\n",
                       "line 7: sources[0].every: duration '999999999d' is too long — at most 36500d (a hundred years)"),
    "every past timedelta": (SOURCE + "    every: 99999999999d\n",
                             "line 7: sources[0].every: duration '99999999999d' is too long — at most 36500d (a hundred years)"),
    "lowercase and": (HEAD + "    exclude: ['globex and (cartoon or simpsons)']\n",
                      "line 4: brands[0].exclude[0]: 'and' in 'globex and (cartoon or simpsons)' would be read as the word "
                      "'and', not an operator — write AND in capitals, or quote the phrase (\"salt and pepper\")"),
    "NEAR": (HEAD.replace("[globex]", "['globex NEAR/3 outage']"),
             "line 3: brands[0].keywords[0]: NEAR/3 in 'globex NEAR/3 outage' is not supported — use AND (both terms "
             "anywhere in the post) or a \"quoted phrase\""),
    "minus word": (HEAD + "    exclude: ['globex -cartoon']\n",
                   "line 4: brands[0].exclude[0]: '-cartoon' in 'globex -cartoon': a leading '-' is not an operator here"
                   " — write NOT cartoon"),
    "inner star": (HEAD.replace("[globex]", "['glob*x']"),
                   "line 3: brands[0].keywords[0]: 'glob*x' in 'glob*x': * works only at the end of a word (a prefix)"
                   " — write glob*"),
    "account without its source type": (HEAD + "    accounts: ['x:Globex', 'blusky:globex.bsky.social']\n",
                                        "line 4: brands[0].accounts[1]: 'blusky:globex.bsky.social' does not start with a"
                                        " source type — did you mean bluesky:globex.bsky.social? write the author as"
                                        " type:handle, e.g. x:AcmeCloud or bluesky:acme.bsky.social (types: "
                                        f"{', '.join(sorted(REGISTRY))})"),
    "official and press": (SOURCE + "    official: true\n    press: true\n",
                           "line 5: sources[0]: official and press are both true — a source is the brand's own voice"
                           " (official) or a newsroom's (press), not both: keep one"),
    "unknown bound brand": (SOURCE + "    brands: [Globx]\n",
                            "line 7: sources[0].brands[0]: unknown brand 'Globx' — did you mean 'Globex'? use one of: 'Globex'"),
    "unquoted time": (HEAD + "alerts:\n  digest_at: 10:30\n",
                      "line 5: alerts.digest_at: YAML read the unquoted 10:30 as the number 630 — quote it: '10:30'"),
    "unquoted no": (HEAD + "sources:\n  - name: app\n    type: appstore\n    app_ids: ['1']\n    countries: [us, no]\n",
                    "line 8: sources[0].countries[1]: YAML read the unquoted no as false — quote it: 'no'"),
    "tab": (HEAD + "sources:\n\t- name: hn\n",
            "line 5, column 1: invalid YAML: while scanning for the next token, found character that cannot start any "
            "token — indent with spaces, not tabs (a tab is at this column)"),
    "indentation": (HEAD + "   exclude: [x]\n",
                    "line 4, column 4: invalid YAML: while parsing a block collection, did not find expected '-' indicator"
                    " — check the indentation: this line must line up with its siblings above (spaces only)"),
    "connector did you mean": (SOURCE.replace("hackernews", "hacker-news"),
                               "line 6: sources[0].type: unknown connector type 'hacker-news' — did you mean 'hackernews'? "
                               f"use one of: {', '.join(sorted(REGISTRY))}"),
    "route label": (HEAD + "route:\n  receiver: console\n  routes:\n    - matchers: ['brnd=\"Globex\"']\n      receiver: console\n",
                    "line 7: route.routes[0].matchers: unknown label 'brnd' — did you mean 'brand'? alerts carry: kind,"
                    " brand, source, bucket, severity"),
    "silence label": (HEAD + "silences:\n  - matchers: ['brnd=\"Globex\"']\n    author: ana\n    reason: test\n"
                      "    expires: 2026-12-01T09:00:00Z\n",
                      "line 5: silences[0].matchers: unknown label 'brnd' — did you mean 'brand'? alerts carry: kind,"
                      " brand, source, bucket, severity"),
    "group_by label": (HEAD + "route:\n  receiver: console\n  group_by: [brand, sourse]\n",
                       "line 6: route.group_by: unknown label 'sourse' — did you mean 'source'? alerts carry: kind, brand,"
                       " source, bucket, severity"),
}


def check(tmp_path: Path, content: str | bytes):
    path = tmp_path / "config.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return CliRunner().invoke(main, ["check-config", str(path)])


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_mistake_exits_1_with_line_key_path_and_fix(tmp_path: Path, case: str) -> None:
    text, expected = CASES[case]
    result = check(tmp_path, text)
    assert result.exit_code == 1
    assert result.output.splitlines()[1:] == [f"  {expected}"], result.output


def test_a_utf16_file_is_named_with_the_fix(tmp_path: Path) -> None:
    result = check(tmp_path, HEAD.encode("utf-16"))
    assert result.exit_code == 1
    assert result.output.splitlines()[1] == ("  line 1, column 1: the file is saved as UTF-16 — save it as UTF-8 (your "
                                             "editor's \"Save with encoding\")")


def test_a_latin1_byte_is_named_with_its_line_and_column(tmp_path: Path) -> None:
    result = check(tmp_path, (HEAD + "    exclude: ['café']\n").encode("latin-1"))
    assert result.exit_code == 1
    assert result.output.splitlines()[1] == ("  line 4, column 19: byte 0xe9 is not UTF-8 (in Latin-1 it would be 'é') —"
                                             " save the file as UTF-8")


def test_a_relative_database_is_the_config_files_neighbour(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "config.yaml").write_text(HEAD + "database: data/m.db\n")
    monkeypatch.chdir(tmp_path)  # a cron job started elsewhere
    assert load_config("etc/config.yaml").database == str(tmp_path / "etc" / "data" / "m.db")


def test_a_db_that_does_not_exist_is_an_error_for_readers_and_never_created(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    config = tmp_path / "config.yaml"
    config.write_text(SOURCE)
    for command in (["status"], ["search", "x"], ["digest"], ["backtest"]):
        result = CliRunner().invoke(main, ["--config", str(config), "--db", str(missing), *command])
        assert result.exit_code == 1 and f"no database at {missing}" in result.output, result.output
    assert not missing.exists()


def test_status_shows_the_databases_sources_and_marks_those_not_in_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(SOURCE + f"database: {tmp_path / 'm.db'}\n")
    from tests.support import NOW
    with Store(tmp_path / "m.db") as store:
        store.ensure_source("old-feed", "rss", now=NOW)
    result = CliRunner().invoke(main, ["--config", str(config), "status"])
    lines = {line.split()[0]: line for line in result.output.splitlines()[2:4]}
    assert "not in config" in lines["old-feed"] and "15m" in lines["hn"] and "at start" in lines["hn"]


def test_a_reload_says_what_changed() -> None:
    old = parse_config(SOURCE + "receivers: [{name: console, type: console}]\n")
    new = parse_config(SOURCE.replace("[globex]", "[globex, globexcorp]") + "    every: 5m\n"
                       "  - {name: blog, type: rss, url: 'https://blog.example/feed'}\n"
                       "route: {receiver: console, group_wait: 1m}\n")
    assert config_changes(old, new) == ["brand Globex changed (keywords)", "routes changed", "source blog added",
                                        "source hn changed (every)"]


def test_check_config_on_a_5mb_file_is_quick(tmp_path: Path) -> None:
    """100,000 keywords: libyaml's loader, and no dump nobody asked for (was 65 s)."""
    import time

    keywords = "\n".join(f"      - 'globex{i} AND (support OR billing OR x)'" for i in range(100_000))
    text = f"brands:\n  - name: Globex\n    keywords:\n{keywords}\n"
    assert len(text) > 5_000_000
    started = time.perf_counter()
    result = check(tmp_path, text)
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    print(f"check-config on {len(text) / 1e6:.1f} MB: {elapsed:.1f} s")
    assert elapsed < 60, elapsed  # a guard on the order of magnitude only: machines are noisy


def test_a_yaml_alias_bomb_is_refused_at_its_anchor_in_well_under_a_second(tmp_path: Path) -> None:
    import time
    import tracemalloc

    # 520 bytes that expand to 9^9 values (a "billion laughs"): refused before anything walks them.
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n, prev in zip("bcdefghi", "abcdefgh"):
        lines.append(f"{n}: &{n} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    bomb = tmp_path / "config.yaml"
    bomb.write_text(HEAD + "\n".join(lines) + "\n")
    tracemalloc.start()
    started = time.process_time()
    result = CliRunner().invoke(main, ["check-config", str(bomb)])
    spent, (_, peak) = time.process_time() - started, tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.exit_code == 1
    assert "line 11: YAML aliases expand this file to" in result.output and "fewer aliases of this anchor" in result.output
    assert spent < 1.0 and peak < 50 * 2**20, (spent, peak)
    # A few aliases in an ordinary file are fine.
    fine = tmp_path / "fine.yaml"
    fine.write_text(HEAD + "x-common: &common {every: 10m}\nsources:\n  - {name: hn, type: hackernews, every: 10m}\n")
    assert "x-common" in CliRunner().invoke(main, ["check-config", str(fine)]).output  # an unknown key, not a bomb


def test_a_rule_passed_unparsed_as_one_phrase_is_one_the_parser_accepts() -> None:
    """The check's shortcut for one quoted phrase (most rules at agency scale) never lets through
    what the parser refuses: random strings of the grammar's pieces."""
    import random

    from monitor.config_check import _ONE_PHRASE
    from monitor.judgement.matching import KeywordSyntaxError, check_rule
    rng = random.Random(1)
    pieces = ['"', " ", "a", "B", "(", ")", "*", "-", "\t", "AND", "OR", "NOT", "é", "_", "NEAR"]
    shortcut = 0
    for _ in range(50_000):
        rule = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        if _ONE_PHRASE.fullmatch(rule):
            shortcut += 1
            try:
                check_rule(rule)
            except KeywordSyntaxError as exc:
                raise AssertionError(f"{rule!r} skipped the parser, which says: {exc}") from exc
    assert shortcut > 100
    assert not _ONE_PHRASE.fullmatch('"  "') and not _ONE_PHRASE.fullmatch('"a" OR "b"')
