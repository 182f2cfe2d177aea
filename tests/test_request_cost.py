"""Many rules, few requests: rules combined into as few searches as each API reads, Hacker News
read whole past a few searches, and check-config saying what a run costs against each limit."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors import REGISTRY
from connectors.http import make_client
from monitor.cli import main
from monitor.models import SourceState
from tests.support import NOW, queries

RULES = 100_000


def _keywords(count: int) -> str:
    return "\n".join(f"      - '\"brand{i} cloud\"'" for i in range(count))


def test_100000_rules_on_hacker_news_cost_one_request_a_run_and_every_rule_still_matches(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    """The issue's run: one request per rule, 1,790 in 90 s and not done. Past a few searches a
    run reads every new story and comment (one request of up to 1,000) and matches them here."""
    now = int(NOW.timestamp())
    hits = [{"objectID": "41", "created_at_i": now - 60, "_tags": ["comment", "author_dana", "story_7"], "author": "dana",
             "comment_text": "brand99999 cloud lost my data, support never answered", "story_id": 7, "story_title": "Ask HN"},
            {"objectID": "42", "created_at_i": now - 90, "_tags": ["story", "author_lee"], "author": "lee",
             "title": "Show HN: a tiny text editor", "points": 3}]
    searched: list[dict] = []

    def answer(request: Request) -> Response:
        searched.append(dict(request.args))
        return Response(json.dumps({"hits": hits if "query" not in request.args else [], "nbPages": 1}),
                        content_type="application/json")

    httpserver.expect_request("/api/v1/search_by_date").respond_with_handler(answer)
    httpserver.expect_request("/api/v1/search").respond_with_json({"hits": [], "nbPages": 0})
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {tmp_path / 'm.db'}\nbrands:\n  - name: Acme\n    keywords:\n{_keywords(RULES)}\n"
                      f"sources:\n  - {{name: hn, type: hackernews, base_url: '{httpserver.url_for('/api/v1')}'}}\n"
                      "receivers: [{name: console, type: console}]\n")
    result = CliRunner().invoke(main, ["--config", str(config), "once"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert len(searched) == 1, f"{len(searched)} searches for {RULES:,} rules"
    assert "query" not in searched[0] and searched[0]["hitsPerPage"] == "1000"
    with sqlite3.connect(tmp_path / "m.db") as con:
        stored = [row[0] for row in con.execute("SELECT id FROM mentions")]
    assert stored == ["41"], "the post naming rule 99,999 is kept; the one naming no brand is not"


def test_hacker_news_with_few_rules_still_searches_them() -> None:
    from connectors.hackernews import HackerNewsConnector, HackerNewsOptions

    few = queries('"Acme Cloud"', "globex")
    assert HackerNewsConnector.cost(HackerNewsOptions(name="hn"), few).amount == 2
    many = queries(*(f"brand{i}" for i in range(6)))
    assert "every new story" in HackerNewsConnector.cost(HackerNewsOptions(name="hn"), many).how
    assert HackerNewsConnector.cost(HackerNewsOptions(name="hn", read="search"), many).amount == 6


def _fetch(httpserver: HTTPServer, options: dict, rules: list[str], state: SourceState = SourceState()):
    cls = REGISTRY[options["type"]]
    parsed = cls.Options.model_validate({**options, "base_url": httpserver.url_for("").rstrip("/")})
    with make_client() as client:
        return cls(client).fetch(parsed, queries=queries(*rules), state=state, now=NOW)


def test_reddit_ors_2000_rules_into_searches_of_512_characters_that_hold_every_rule(httpserver: HTTPServer,
                                                                                     monkeypatch) -> None:
    """With an approved app (the JSON API, 100 requests a minute) every search of a run is sent."""
    monkeypatch.setenv("R_ID", "client-id")
    monkeypatch.setenv("R_SECRET", "client-secret")
    httpserver.expect_request("/api/v1/access_token", method="POST").respond_with_json(
        {"access_token": "t-1", "token_type": "bearer", "expires_in": 86400})
    httpserver.expect_request("/search").respond_with_json({"kind": "Listing", "data": {"children": [], "after": None}})
    rules = [f'"brand{i} cloud"' for i in range(2000)]
    base = httpserver.url_for("").rstrip("/")
    _fetch(httpserver, {"name": "r", "type": "reddit", "oauth_url": base, "client_id_env": "R_ID",
                        "client_secret_env": "R_SECRET"}, rules)
    sent = [request.args["q"] for request, _ in httpserver.log if request.path == "/search"]
    assert all(len(q) <= 512 for q in sent) and len(sent) < 2000 * 20 / 480, len(sent)
    assert sorted(p.strip("()") for q in sent for p in q.split(" OR ")) == sorted(rules)


def test_google_news_reads_one_feed_conditionally_and_several_without(httpserver: HTTPServer) -> None:
    feed = b'<?xml version="1.0"?><rss version="2.0"><channel><title>news</title></channel></rss>'
    httpserver.expect_request("/rss/search").respond_with_data(feed, content_type="application/rss+xml",
                                                               headers={"ETag": '"v1"'})
    state = SourceState(cursor=NOW.isoformat(), etag='"v0"')
    one = _fetch(httpserver, {"name": "n", "type": "googlenews"}, ['"Acme Cloud"'], state)
    assert httpserver.log[0][0].headers.get("If-None-Match") == '"v0"' and one.state.etag == '"v1"'
    httpserver.clear_log()
    rules = [f'"brand{i} cloud"' for i in range(200)]
    many = _fetch(httpserver, {"name": "n", "type": "googlenews"}, rules, state)
    sent = [request.args["q"] for request, _ in httpserver.log]
    assert len(sent) > 1 and all(q.count(" OR ") <= 31 + 1 for q in sent)  # the rules, and "when:" ORs none
    assert not any(request.headers.get("If-None-Match") for request, _ in httpserver.log)
    assert many.state.etag is None, "an ETag of one of several feeds says nothing of the others"


def test_youtube_ors_one_term_anchors_with_a_bar_and_searches_the_rest_alone() -> None:
    from connectors.youtube import YouTubeConnector, YouTubeOptions, _searches

    options = YouTubeOptions(name="yt", api_key_env="YT_KEY", channel_ids=["UC1"])
    rules = queries('"Acme Cloud"', "globex", "acme AND outage", "initech")
    assert _searches(options, rules) == ["acme outage", '"Acme Cloud" | globex | initech']
    cost = YouTubeConnector.cost(options, rules)
    assert cost.amount == 2 and cost.per_period(options.every) == 2 * 50  # paced: 50 rounds a day, not 96


def test_check_config_says_each_sources_cost_against_its_limit_and_how_to_fit(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"brands:\n  - name: Acme\n    keywords:\n{_keywords(10_000)}\nsources:\n"
                      "  - {name: hn, type: hackernews, every: 5m}\n"
                      "  - {name: hn-search, type: hackernews, every: 5m, read: search}\n"
                      "  - {name: reddit, type: reddit, every: 10m, client_id_env: R_ID, client_secret_env: R_SECRET}\n"
                      "  - {name: reddit-rss, type: reddit, every: 10m}\n"
                      "  - {name: gh, type: github, every: 1h, token_env: GH_TOKEN}\n"
                      "  - {name: blog, type: rss, url: 'https://blog.example/feed'}\n")
    result = CliRunner().invoke(main, ["check-config", str(config)], env={"GH_TOKEN": "x", "R_ID": "i", "R_SECRET": "s"})
    out = result.output
    assert result.exit_code == 0, out
    assert ("hn (hackernews, every 5m): 1 request a run (every new story and comment, matched here against 10,000 "
            "rules); 12 of 10,000 requests an hour (per IP, hn.algolia.com/api)") in out
    assert ("warning: source hn-search: its runs every 5m would ask 120,000 requests where the API allows 10,000 "
            "requests an hour") in out and "read: all (or auto) reads every new item in one request instead" in out
    reddit = next(line for line in out.splitlines() if line.startswith("  reddit ("))
    searches = int(reddit.split(": ")[1].split(" ")[0].replace(",", ""))
    assert 300 < searches < 500, reddit  # 10,000 phrases of ~20 characters, 512 a search
    assert "warning: source reddit:" not in out, "415 searches every 10 minutes fit an app's 100 a minute"
    assert "reddit-rss (reddit, every 10m): 1 request a run (one of" in out  # anonymous: a listing a run, in turn
    assert "warning: source reddit-rss: each listing is read once in" in out and "approved app" in out
    assert "warning: source gh:" in out and "30 requests a minute (search API with a token" in out
    assert "blog" not in out.split("documented limit:")[1], "a feed's cost is not the rules'"
