"""The sources added in issue 32's last part: X under a monthly budget, Google Business Profile
through an OAuth refresh token, and Threads' keyword search, each against a loopback server in
its documented wire format."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors import REGISTRY
from connectors.http import make_client
from monitor.cli import main
from monitor.errors import FetchError
from monitor.models import SourceState
from monitor.store import Store
from tests.support import NOW, fixture_bytes, queries

JSON = "application/json"


def run(httpserver: HTTPServer, options: dict, *, state: SourceState = SourceState(), now: datetime = NOW,
        terms: tuple[str, ...] = ('"Acme Cloud"',)):
    base = httpserver.url_for("").rstrip("/")
    options = {k: (v.replace("BASE", base) if isinstance(v, str) else v) for k, v in options.items()}
    cls = REGISTRY[options["type"]]
    with make_client() as client:
        return cls(client).fetch(cls.Options.model_validate(options), queries=queries(*terms), state=state, now=now)


# --- x: a month's budget ----------------------------------------------------------------------


def _x_posts(count: int, start: int) -> dict:
    """A page of ``count`` posts with ids from ``start`` down, in recent search's shape."""
    page = json.loads(fixture_bytes("x_search_recent.json"))
    post = page["data"][0]
    data = [dict(post, id=str(start - i)) for i in range(count)]
    return {"data": data, "includes": page["includes"],
            "meta": {"result_count": count, "newest_id": data[0]["id"] if data else None}}


def test_x_never_reads_past_its_monthly_budget_and_alerts_at_80_percent_and_at_the_end(
        httpserver: HTTPServer, monkeypatch) -> None:
    """$0.50 at $0.005 a post pays for 100 posts. Each request asks for no more than is left;
    run by run the spend grows, crosses 80 % once, then the budget; a spent budget sends nothing
    until the month turns, when it starts again at zero."""
    monkeypatch.setenv("X_BEARER_TOKEN", "AAAA-secret")
    asked: list[int] = []
    next_id = [1992518803611234567]

    def answer(request: Request) -> Response:
        wanted = int(request.args["max_results"])
        asked.append(wanted)
        assert request.headers["Authorization"] == "Bearer AAAA-secret"
        assert request.args["query"] == '"Acme Cloud" -is:retweet'
        page = _x_posts(min(wanted, 35), next_id[0])
        next_id[0] += 1000
        return Response(json.dumps(page), content_type=JSON)

    httpserver.expect_request("/2/tweets/search/recent").respond_with_handler(answer)
    options = {"name": "x", "type": "x", "base_url": "BASE/2", "monthly_budget_usd": 0.5}
    state, spends, warnings = SourceState(), [], []
    for hour in range(5):
        result = run(httpserver, options, state=state, now=NOW + timedelta(hours=hour))
        state = result.state
        spends.append((result.spend.spent_usd, result.spend.crossed))
        warnings.append(result.warnings)
    assert asked == [100, 65, 30], "each request asks for at most what the budget has left; none once it is spent"
    assert spends == [(0.175, ()), (0.35, ()), (0.5, (0.8, 1.0)), (0.5, ()), (0.5, ())]
    assert warnings[3] == ("this month's budget is spent: $0.50 of $0.50 (100 posts read in 2026-11); nothing more is"
                           " read until 2026-12-01 — raise monthly_budget_usd to read more",)
    assert json.loads(state.cursor)["since_id"] == str(1992518803611234567 + 2000), "the newest id read"
    december = run(httpserver, options, state=state, now=datetime(2026, 12, 1, 0, 5, tzinfo=timezone.utc))
    assert asked[-1] == 100 and december.spend.spent_usd == 0.175 and december.spend.period == "2026-12"


def test_x_counts_what_it_read_even_when_a_later_page_fails(httpserver: HTTPServer, monkeypatch) -> None:
    monkeypatch.setenv("X_BEARER_TOKEN", "AAAA")
    calls = []

    def answer(request: Request) -> Response:
        calls.append(request.args.get("next_token"))
        if request.args.get("next_token"):
            return Response("upstream", status=503)
        return Response(json.dumps(dict(_x_posts(100, 1992518803611234567), meta={"result_count": 100, "next_token": "b26v"})),
                        content_type=JSON)

    httpserver.expect_request("/2/tweets/search/recent").respond_with_handler(answer)
    old = SourceState(cursor=json.dumps({"since_id": "1992500000000000000", "month": "2026-11", "posts": 40}))
    result = run(httpserver, {"name": "x", "type": "x", "base_url": "BASE/2", "monthly_budget_usd": 50}, state=old)
    assert calls == [None, "b26v"] and len(result.mentions) == 100
    kept = json.loads(result.state.cursor)
    assert kept == {"since_id": "1992500000000000000", "month": "2026-11", "posts": 140}, "spend kept, the cursor not moved"
    assert "1 of 1 searches failed" in result.warnings[0]
    with pytest.raises(FetchError):  # nothing read at all: the run fails as any source's would
        httpserver.clear()
        httpserver.expect_request("/2/tweets/search/recent").respond_with_data("down", status=503)
        run(httpserver, {"name": "x", "type": "x", "base_url": "BASE/2", "monthly_budget_usd": 50}, state=old)


def test_x_budget_alerts_reach_the_outbox_once_and_status_says_it(tmp_path: Path, httpserver: HTTPServer) -> None:
    """Through ``monitor once``: the run that crosses 80 % queues one budget alert, the next runs
    none; ``status`` shows the source's warning with the spend."""
    httpserver.expect_request("/2/tweets/search/recent").respond_with_handler(
        lambda request: Response(json.dumps(_x_posts(int(request.args["max_results"]) // 2 + 1, 1992518803611234567)),
                                 content_type=JSON))
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {tmp_path / 'm.db'}\nbrands: [{{name: Acme Cloud, keywords: ['\"Acme Cloud\"']}}]\n"
                      f"sources: [{{name: x, type: x, base_url: '{httpserver.url_for('/2')}', monthly_budget_usd: 0.3,"
                      " every: 1m}]\n")
    env = {"X_BEARER_TOKEN": "AAAA"}
    for _ in range(3):
        result = CliRunner().invoke(main, ["--config", str(config), "once"], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    status = CliRunner().invoke(main, ["--config", str(config), "status"], env=env, catch_exceptions=False).output
    with Store(tmp_path / "m.db") as store:
        budget = [(r["severity"], r["reason"]) for r in store.db.query(
            "SELECT severity, reason FROM alerts WHERE kind = 'budget' ORDER BY severity")]
    # 31, 15 and 8 posts: $0.155, $0.23 (77 %), $0.27 (90 %, and 6 posts left: under the 10 a request needs)
    assert [severity for severity, _ in budget] == ["critical", "warning"], budget
    assert budget[1][1].startswith("source x has spent 90% of this month's budget ($0.27 of $0.30); it stops reading")
    assert budget[0][1].startswith("source x has spent this month's budget ($0.27 of $0.30): it reads nothing more until")
    assert "this month's budget is spent: $0.27 of $0.30 (54 posts read in" in status, status


# --- google business profile --------------------------------------------------------------------


def _gbp(httpserver: HTTPServer, tokens: list[dict]) -> None:
    def token(request: Request) -> Response:
        tokens.append(parse_qs(request.get_data(as_text=True)))
        return Response(json.dumps({"access_token": "ya29.gbp", "expires_in": 3599}), content_type=JSON)

    httpserver.expect_request("/token", method="POST").respond_with_handler(token)
    httpserver.expect_request("/v1/accounts/1087/locations").respond_with_data(
        fixture_bytes("googlebusiness_locations.json"), content_type=JSON)


def test_google_business_exchanges_the_refresh_token_and_reads_every_place(httpserver: HTTPServer, monkeypatch) -> None:
    from connectors.tokens import forget_all

    forget_all()
    monkeypatch.setenv("GOOGLE_BUSINESS_CLIENT_ID", "1234-abc.apps.googleusercontent.com")
    monkeypatch.setenv("GOOGLE_BUSINESS_CLIENT_SECRET", "GOCSPX-s3cret")
    monkeypatch.setenv("GOOGLE_BUSINESS_REFRESH_TOKEN", "1//0refresh")
    tokens: list[dict] = []
    _gbp(httpserver, tokens)
    berlin = "/v4/accounts/1087/locations/4129834617284712843/reviews"
    httpserver.expect_request(berlin, headers={"Authorization": "Bearer ya29.gbp"}).respond_with_data(
        fixture_bytes("googlebusiness_reviews.json"), content_type=JSON)
    httpserver.expect_request("/v4/accounts/1087/locations/9912004401734459101/reviews").respond_with_json(
        {"averageRating": 4.5, "totalReviewCount": 3})
    options = {"name": "gbp", "type": "googlebusiness", "base_url": "BASE/v4", "locations_url": "BASE/v1",
               "token_url": "BASE/token", "account_id": "1087", "first_run": "30d"}
    result = run(httpserver, options)
    assert tokens == [{"grant_type": ["refresh_token"], "client_id": ["1234-abc.apps.googleusercontent.com"],
                       "client_secret": ["GOCSPX-s3cret"], "refresh_token": ["1//0refresh"]}]
    jonas, anonymous = sorted(result.mentions, key=lambda m: m.metrics["rating"])
    assert jonas.metrics["rating"] == 1 and jonas.author == "Jonas Weber" and jonas.metrics["reply"].startswith("Jonas")
    assert jonas.url == "https://maps.google.com/maps?cid=4129834617284712843"
    assert jonas.metrics["place"] == "Acme Cloud Store — Berlin Mitte"
    assert anonymous.author == "" and anonymous.text == ("Sehr freundliche Beratung bei Acme Cloud, alles in zehn"
                                                          " Minuten eingerichtet."), "the reviewer's own words"
    asked = [r.args for r, _ in httpserver.log if r.path == berlin]
    assert asked[0]["orderBy"] == "updateTime desc" and asked[0]["pageSize"] == "50"
    assert any(r.path.endswith("9912004401734459101/reviews") for r, _ in httpserver.log), "every place read"
    run(httpserver, options)
    assert len(tokens) == 1, "the access token is kept until it expires"
    with pytest.raises(FetchError, match=r"location 42 is not one of account 1087's \(2 locations: 4129834617284712843"):
        run(httpserver, {**options, "location_ids": ["42"]})


def test_google_business_says_what_to_do_when_the_refresh_token_is_refused(httpserver: HTTPServer, monkeypatch) -> None:
    from connectors.tokens import forget_all

    forget_all()
    for name in ("GOOGLE_BUSINESS_CLIENT_ID", "GOOGLE_BUSINESS_CLIENT_SECRET", "GOOGLE_BUSINESS_REFRESH_TOKEN"):
        monkeypatch.setenv(name, "v-" + name)
    httpserver.expect_request("/token", method="POST").respond_with_json(
        {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, status=400)
    options = {"name": "gbp", "type": "googlebusiness", "base_url": "BASE/v4", "locations_url": "BASE/v1",
               "token_url": "BASE/token", "account_id": "1087"}
    with pytest.raises(FetchError, match="refused the refresh token .* consent again") as info:
        run(httpserver, options)
    assert not info.value.retryable and "v-GOOGLE_BUSINESS_REFRESH_TOKEN" not in str(info.value)


# --- threads --------------------------------------------------------------------------------------


def test_threads_searches_since_the_cursor_pages_on_and_keeps_the_newest_time(httpserver: HTTPServer, monkeypatch) -> None:
    monkeypatch.setenv("THREADS_ACCESS_TOKEN", "THAA-secret")
    page = json.loads(fixture_bytes("threads_keyword_search.json"))
    full = dict(page, data=page["data"] * 1)

    def answer(request: Request) -> Response:
        assert request.headers["Authorization"] == "Bearer THAA-secret" and "access_token" not in request.args
        if request.args.get("after"):
            return Response(json.dumps({"data": [dict(page["data"][1], id="18094517284120000",
                                                      timestamp="2026-11-23T08:30:00+0000")]}), content_type=JSON)
        return Response(json.dumps(full), content_type=JSON)

    httpserver.expect_request("/v1.0/keyword_search").respond_with_handler(answer)
    options = {"name": "t", "type": "threads", "base_url": "BASE/v1.0", "limit": 2, "overlap": "10m"}
    result = run(httpserver, options, state=SourceState(cursor="2026-11-23T08:00:00Z"))
    assert sorted(m.id for m in result.mentions) == ["18094517284120000", "18094517284123001", "18094517284123456"]
    first, second = [r.args for r, _ in httpserver.log]
    assert first["q"] == '"Acme Cloud"' and first["search_type"] == "RECENT"
    assert first["since"] == str(int(datetime(2026, 11, 23, 7, 50, tzinfo=timezone.utc).timestamp()))
    assert second["after"] == "QVFIUmF4eVhxRzRrbVJn"
    assert result.state.cursor == "2026-11-23T10:41:07Z"
    nora = next(m for m in result.mentions if m.author == "nightshift_nora")
    assert nora.url == "https://www.threads.com/@nightshift_nora/post/DRk3x9aEacm" and nora.metrics["topic_tag"] == "outage"


def test_threads_says_when_the_app_can_search_only_its_own_posts(httpserver: HTTPServer, monkeypatch) -> None:
    """Before Meta approves threads_keyword_search the same call searches the token user's posts."""
    monkeypatch.setenv("THREADS_ACCESS_TOKEN", "THAA")
    page = json.loads(fixture_bytes("threads_keyword_search.json"))
    own = {"data": [dict(post, username="acme_social") for post in page["data"]]}
    httpserver.expect_request("/v1.0/keyword_search").respond_with_json(own)
    httpserver.expect_request("/v1.0/me").respond_with_json({"id": "1789", "username": "acme_social"})
    result = run(httpserver, {"name": "t", "type": "threads", "base_url": "BASE/v1.0"})
    assert result.warnings == ("every post found is @acme_social's own: until Meta approves the app for"
                               " threads_keyword_search, keyword search reads only the token's user's posts",)
