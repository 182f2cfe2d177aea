"""config.yaml validation: every mistake names its key path (and line) and says how to fix it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from monitor.config import json_schema
from monitor.config_check import load_config, parse_config
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]

VALID = """\
brands:
  - name: Acme
    keywords: ['"Acme Cloud"']
sources:
  - name: hn
    type: hackernews
    every: 10m
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    return info.value.problems


def test_valid_config_becomes_immutable_models_with_durations() -> None:
    config = parse_config(VALID)
    assert config.sources[0].every == timedelta(minutes=10)
    assert config.database == "data/monitor.db"
    assert [r.name for r in config.receivers] == ["console"]
    with pytest.raises(ValidationError, match="frozen"):
        config.brands[0].name = "other"  # type: ignore[misc]


def test_repository_config_yaml_is_valid() -> None:
    load_config(ROOT / "config.yaml")


def test_repository_config_yaml_calls_assassins_at_the_learned_layers_even_odds() -> None:
    """The file every quick start runs: its threshold is the model's (0.25 was the cue rule's,
    and called "Globex is sick! 🔥🔥" an assassin at 0.32)."""
    from monitor.judgement.learned import DEFAULT_THRESHOLD

    assert load_config(ROOT / "config.yaml").sentiment.assassin_threshold == DEFAULT_THRESHOLD


def test_published_json_schema_matches_the_models() -> None:
    published = json.loads((ROOT / "config.schema.json").read_text())
    assert published == json_schema(), "run `make schema` to regenerate config.schema.json"


def test_config_yaml_references_the_schema() -> None:
    assert (ROOT / "config.yaml").read_text().startswith("# yaml-language-server: $schema=./config.schema.json")


def test_unknown_key_suggests_the_close_one() -> None:
    assert problems("brands:\n  - name: Acme\n    keyword: [acme]\n") == [
        "line 2: brands[0].keywords: required — add this key",
        "line 3: brands[0].keyword: unknown key — did you mean 'keywords'?",
    ]


def test_unknown_key_in_a_source_lists_that_connectors_keys() -> None:
    text = VALID + "    bogus: 1\n"
    assert problems(text) == [
        "line 8: sources[0].bogus: unknown key — remove it (known keys: name, type, every, enabled, base_url, brands, official, press, refresh, max_body, "
        "query, read, tags, hits_per_page, max_pages, first_run, overlap)"
    ]


def test_wrong_type_names_the_path() -> None:
    text = VALID + "    max_pages: lots\n"
    assert problems(text) == ["line 8: sources[0].max_pages: expected a valid integer, got 'lots' — fix the value's type"]


def test_bad_duration() -> None:
    text = VALID.replace("every: 10m", "every: 10 minutes")
    assert problems(text) == ["line 7: sources[0].every: bad duration '10 minutes' — write it like 30s, 10m, 2h or 1d"]


def test_duplicate_source_names() -> None:
    text = VALID + "  - name: hn\n    type: rss\n    url: https://example.com/feed\n"
    assert problems(text) == [
        "line 8: sources[1].name: duplicate name 'hn' (also sources[0]) — give each source a unique name"
    ]


def test_unknown_connector_type() -> None:
    text = VALID.replace("type: hackernews", "type: twiter")
    from connectors import REGISTRY

    assert problems(text) == [
        f"line 6: sources[0].type: unknown connector type 'twiter' — use one of: {', '.join(sorted(REGISTRY))}"
    ]


def test_unbalanced_quote_in_keyword() -> None:
    text = VALID.replace("""['"Acme Cloud"']""", """['"Acme Cloud']""")
    assert problems(text) == ["line 3: brands[0].keywords[0]: unbalanced quote in '\"Acme Cloud' — close the quote"]


def test_unbalanced_parenthesis_in_keyword() -> None:
    text = VALID.replace("""['"Acme Cloud"']""", """['acme AND (outage OR down']""")
    assert problems(text) == [
        "line 3: brands[0].keywords[0]: unbalanced parenthesis in 'acme AND (outage OR down' — add the missing ')'"
    ]


def test_bad_exclusion_is_reported_at_its_path() -> None:
    text = VALID.replace("""    keywords: ['"Acme Cloud"']\n""", """    keywords: ['"Acme Cloud"']\n    exclude: ['jobs OR']\n""")
    assert problems(text) == ["line 4: brands[0].exclude[0]: OR at the end of 'jobs OR' — put a term after OR"]


def test_keyword_rule_with_only_negation_is_refused() -> None:
    text = VALID.replace("""['"Acme Cloud"']""", """['NOT acme']""")
    assert problems(text) == [
        "line 3: brands[0].keywords[0]: 'NOT acme' has no term outside NOT, so it would match every post "
        "— add a term to look for, and put exclusions under exclude"
    ]


def test_literal_slack_token_is_refused() -> None:
    text = VALID + "receivers:\n  - name: s\n    type: slack\n    token_env: xoxb-1234-5678-abcdef\n    channel: '#x'\n"
    assert problems(text) == [
        "line 11: receivers[0].token_env: looks like a literal secret — put it in an environment variable and "
        "write the variable's name here"
    ]


def test_literal_webhook_url_is_refused() -> None:
    text = VALID + "receivers:\n  - name: s\n    type: slack\n    webhook_url_env: https://hooks.slack.com/services/T/B/X\n"
    assert problems(text)[0].startswith("line 11: receivers[0].webhook_url_env: looks like a literal secret")


def test_bot_token_without_channel() -> None:
    text = VALID + "receivers:\n  - name: s\n    type: slack\n    token_env: SLACK_BOT_TOKEN\n"
    assert problems(text) == [
        "line 9: receivers[0]: a bot token needs a channel — add channel: '#alerts' (or a channel ID)"
    ]


def test_alerts_to_an_unknown_receiver() -> None:
    text = VALID + "alerts:\n  receivers: [slack]\n"
    assert problems(text) == ["line 9: alerts.receivers[0]: unknown receiver 'slack' — use one of: console"]


def test_duplicate_yaml_key_is_an_error_not_a_silent_overwrite() -> None:
    assert problems("brands:\n  - name: A\n    name: B\n    keywords: [a]\n") == [
        "line 3, column 5: invalid YAML: duplicate key 'name' (first on line 2) — keep only one"
    ]


def test_every_problem_is_reported_at_once() -> None:
    text = VALID.replace("every: 10m", "every: soon").replace("""['"Acme Cloud"']""", """['"Acme']""")
    assert len(problems(text)) == 2


def test_empty_file_needs_brands() -> None:
    assert problems("") == ["brands: required — add this key"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert "no such file" in info.value.problems[0]


def test_base_url_must_be_http() -> None:
    text = VALID + "    base_url: ftp://mirror.example\n"
    assert problems(text) == [
        "line 8: sources[0].base_url: 'ftp://mirror.example' is not an http(s) URL — write it like https://example.com/path"
    ]


def test_docs_document_every_config_key() -> None:
    import re

    from connectors import REGISTRY
    from monitor.config import Authors, Brand, Config, ReachFactors, Refresh, Sentiment, Spikes
    from monitor.config_alerts import Alerts, ConsoleReceiver, QuietHours, RouteConfig, SilenceConfig, SlackReceiver

    readme = (ROOT / "docs" / "configuration.md").read_text() + (ROOT / "docs" / "sources.md").read_text()
    models = [Config, Brand, Sentiment, Alerts, Authors, ReachFactors, Spikes, Refresh, RouteConfig, QuietHours, SilenceConfig, ConsoleReceiver, SlackReceiver,
              *(c.Options for c in REGISTRY.values())]
    keys = {info.alias or name for model in models for name, info in model.model_fields.items()}
    missing = sorted(name for name in keys if not re.search(rf"\b{name}\b", readme))
    assert missing == []


def test_docs_source_examples_are_valid_config() -> None:
    import re

    import yaml

    readme = (ROOT / "docs" / "sources.md").read_text()
    block = re.search(r"Examples, one per type.*?```yaml\n(.*?)```", readme, re.DOTALL).group(1)
    config = parse_config("brands: [{name: Acme, keywords: [acme]}]\n" + block)
    from connectors import REGISTRY

    assert {s.type for s in config.sources} == set(REGISTRY)
    assert yaml.safe_load(block)
