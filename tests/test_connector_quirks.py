"""Each source's own behaviour and quirks, against a loopback server in its real format."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors import REGISTRY
from connectors.http import make_client
from monitor.errors import FetchError, MissingCredential, RateLimited
from monitor.models import SourceState
from tests.support import NOW, fixture_bytes, queries

JSON = "application/json"


def run(httpserver: HTTPServer, options: dict, *, state: SourceState = SourceState(), client=None, terms=('"Acme Cloud"',)):
    base = httpserver.url_for("").rstrip("/")
    options = {k: (v.replace("BASE", base) if isinstance(v, str) else v) for k, v in options.items()}
    cls = REGISTRY[options["type"]]
    parsed = cls.Options.model_validate(options)
    if client is not None:
        return cls(client).fetch(parsed, queries=queries(*terms), state=state, now=NOW)
    with make_client() as own:
        return cls(own).fetch(parsed, queries=queries(*terms), state=state, now=NOW)


# --- reddit ------------------------------------------------------------------------------------


def test_reddit_rss_search_without_credentials(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/search.rss").respond_with_data(fixture_bytes("reddit_search.atom.xml"), content_type="application/atom+xml")
    (m,) = run(httpserver, {"name": "r", "type": "reddit", "base_url": "BASE"}).mentions
    assert m.id == "t3_1xq0a1" and m.author == "ops_grump" and m.metrics["subreddit"] == "sysadmin"
    args = httpserver.log[0][0].args
    assert args["q"] == '"Acme Cloud"' and args["sort"] == "new"


def test_reddit_oauth_json_listing_with_reach_fields_and_cursor(httpserver: HTTPServer, monkeypatch) -> None:
    monkeypatch.setenv("R_ID", "client-id")
    monkeypatch.setenv("R_SECRET", "client-secret")
    httpserver.expect_request("/api/v1/access_token", method="POST").respond_with_data(fixture_bytes("reddit_token.json"), content_type=JSON)
    httpserver.expect_request("/search", headers={"Authorization": "Bearer test-token-123"}).respond_with_data(
        fixture_bytes("reddit_listing.json"), content_type=JSON)
    httpserver.expect_request("/r/acme/new").respond_with_data(fixture_bytes("reddit_listing.json"), content_type=JSON)
    httpserver.expect_request("/r/acme/comments").respond_with_data(fixture_bytes("reddit_comments.json"), content_type=JSON)
    result = run(httpserver, {"name": "r", "type": "reddit", "base_url": "BASE", "oauth_url": "BASE", "subreddits": ["acme"],
                              "client_id_env": "R_ID", "client_secret_env": "R_SECRET", "username": "acme_monitor"})
    comment = next(m for m in result.mentions if m.id == "t1_kq1c2d3")
    assert comment.text.startswith("Stay away from Acme Cloud") and comment.title == "Which cloud for a small shop?"
    assert comment.url == "https://www.reddit.com/r/acme/comments/1xq0c3/which_cloud_for_a_small_shop/kq1c2d3/"
    assert comment.metrics["kind"] == "comment" and comment.metrics["score"] == 57
    assert all(r.headers["User-Agent"].startswith("python:reputation-monitor:") and r.headers["User-Agent"].endswith(
        " (by /u/acme_monitor)") for r, _ in httpserver.log), "the User-Agent form Reddit's API rules ask for"
    assert all(r.args.get("limit") == "100" for r, _ in httpserver.log[1:])
    first = next(m for m in result.mentions if m.id == "t3_1xq0a1")
    assert first.url == "https://www.reddit.com/r/sysadmin/comments/1xq0a1/acme_cloud_outage_anyone_else/"
    assert first.metrics["score"] == 412 and first.metrics["subreddit_subscribers"] == 912345 and first.metrics["upvote_ratio"] == 0.97
    assert first.metrics["crossposts"] == 2
    link_post = next(m for m in result.mentions if m.id == "t3_1xq0b2")
    assert link_post.text == link_post.title, "a link post's text is its title"
    assert result.state.cursor == "2026-11-23T10:50:00Z"  # the comment's
    token_request = httpserver.log[0][0]
    assert token_request.headers["Authorization"].startswith("Basic ") and token_request.form["grant_type"] == "client_credentials"


def test_reddit_rss_429_is_rate_limited(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/search.rss").respond_with_data("Too Many Requests", status=429, headers={"Retry-After": "60"})
    with pytest.raises(RateLimited):
        run(httpserver, {"name": "r", "type": "reddit", "base_url": "BASE"})


# --- mastodon ----------------------------------------------------------------------------------


def test_mastodon_unwraps_boosts_and_keeps_followers(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v1/timelines/tag/acmecloud").respond_with_data(fixture_bytes("mastodon_tag.json"), content_type=JSON)
    result = run(httpserver, {"name": "m", "type": "mastodon", "base_url": "BASE"})
    ids = sorted(m.id for m in result.mentions)
    # A boost is the boosted post, filed under its uri (the same on every instance); its id
    # here is kept for re-reading it on this instance.
    assert ids == ["https://mastodon.example/users/devops_dana/statuses/113500000000000002",
                   "https://mastodon.example/users/fan/statuses/113500000000000001"]
    dana = next(m for m in result.mentions if m.id.endswith("2"))
    assert dana.metrics["local_id"] == "113500000000000002"
    assert dana.audience == 5400 and dana.language == "en" and dana.metrics["reblogs"] == 12
    assert result.state.cursor == "113500000000000003"


def test_mastodon_second_run_asks_since_the_cursor(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v1/timelines/tag/acmecloud").respond_with_data(b"[]", content_type=JSON)
    result = run(httpserver, {"name": "m", "type": "mastodon", "base_url": "BASE", "overlap": "1m"},
                 state=SourceState(cursor="113500000000000003"))
    # A minute back (ids are milliseconds << 16): a remote post federating late gets an id from
    # its created_at, below the cursor; the cursor itself does not move back.
    assert httpserver.log[0][0].args["since_id"] == str(113500000000000003 - (60_000 << 16))
    assert result.state.cursor == "113500000000000003"


def test_mastodon_instance_requiring_auth_for_tags_says_so(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v1/timelines/tag/acmecloud").respond_with_json({"error": "This API requires an authenticated user"}, status=401)
    with pytest.raises(FetchError, match="requires a token for hashtag timelines — set token_env") as info:
        run(httpserver, {"name": "m", "type": "mastodon", "base_url": "BASE"})
    assert not info.value.retryable


def _instance(hashtag_feeds: dict) -> dict:
    """``/api/v2/instance`` as Mastodon 4.5 answers it (the parts read here)."""
    return {"domain": "mastodon.example", "version": "4.5.2",
            "configuration": {"timelines_access": {"live_feeds": {"local": "public", "remote": "public"},
                                                   "hashtag_feeds": hashtag_feeds,
                                                   "trending_link_feeds": {"local": "public", "remote": "public"}}}}


def test_mastodon_instance_that_disabled_hashtag_feeds_is_an_error_not_a_quiet_brand(httpserver: HTTPServer) -> None:
    """Mastodon 4.5 lets an admin disable hashtag feeds; they then answer [] as a quiet brand's
    would. A run where every tag is empty asks the instance, and says which it is."""
    httpserver.expect_request("/api/v1/timelines/tag/acmecloud").respond_with_data(b"[]", content_type=JSON)
    instance = httpserver.expect_request("/api/v2/instance")
    instance.respond_with_json(_instance({"local": "disabled", "remote": "disabled"}))
    with pytest.raises(FetchError, match=r"has closed its hashtag feeds to this source \(configuration.timelines_access"
                                         r".hashtag_feeds: local disabled, remote disabled\).*read another instance") as info:
        run(httpserver, {"name": "m", "type": "mastodon", "base_url": "BASE"})
    assert not info.value.retryable
    httpserver.clear()
    httpserver.expect_request("/api/v1/timelines/tag/acmecloud").respond_with_data(b"[]", content_type=JSON)
    httpserver.expect_request("/api/v2/instance").respond_with_json(
        _instance({"local": "authenticated", "remote": "authenticated"}))
    with pytest.raises(FetchError, match="set token_env"):
        run(httpserver, {"name": "m", "type": "mastodon", "base_url": "BASE"})
    httpserver.clear()
    httpserver.expect_request("/api/v1/timelines/tag/acmecloud").respond_with_data(b"[]", content_type=JSON)
    httpserver.expect_request("/api/v2/instance").respond_with_json(_instance({"local": "public", "remote": "disabled"}))
    result = run(httpserver, {"name": "m", "type": "mastodon", "base_url": "BASE"})
    assert result.warnings == (f"{httpserver.url_for('').rstrip('/')} shows only local posts in its hashtag feeds "
                               "(hashtag_feeds: local public, remote disabled): its remote posts are not heard",)
    # Public feeds (a quiet brand), an instance before 4.5 (no such field) or none at all: quiet, no warning.
    for answer in (_instance({"local": "public", "remote": "public"}), {"domain": "old.example", "version": "4.2.0"}):
        httpserver.clear()
        httpserver.expect_request("/api/v1/timelines/tag/acmecloud").respond_with_data(b"[]", content_type=JSON)
        httpserver.expect_request("/api/v2/instance").respond_with_json(answer)
        assert run(httpserver, {"name": "m", "type": "mastodon", "base_url": "BASE"}).warnings == ()
    httpserver.clear()
    httpserver.expect_request("/api/v1/timelines/tag/acmecloud").respond_with_data(fixture_bytes("mastodon_tag.json"),
                                                                                 content_type=JSON)
    run(httpserver, {"name": "m", "type": "mastodon", "base_url": "BASE"})
    assert [r.path for r, _ in httpserver.log] == ["/api/v1/timelines/tag/acmecloud"], "a tag that answered: nothing asked"


def test_mastodon_token_enables_full_text_search(httpserver: HTTPServer, monkeypatch) -> None:
    monkeypatch.setenv("M_TOKEN", "tok")
    httpserver.expect_request("/api/v1/timelines/tag/acmecloud").respond_with_data(b"[]", content_type=JSON)
    statuses = json.loads(fixture_bytes("mastodon_tag.json"))
    httpserver.expect_request("/api/v2/search", headers={"Authorization": "Bearer tok"}).respond_with_json(
        {"accounts": [], "hashtags": [], "statuses": statuses[1:]})
    result = run(httpserver, {"name": "m", "type": "mastodon", "base_url": "BASE", "token_env": "M_TOKEN"})
    assert [m.id for m in result.mentions] == ["https://mastodon.example/users/devops_dana/statuses/113500000000000002"]
    # Later runs: the timeline takes since_id, the search (which has none) min_id, both overlapped.
    before = len(httpserver.log)
    run(httpserver, {"name": "m", "type": "mastodon", "base_url": "BASE", "token_env": "M_TOKEN", "overlap": "1m"},
        state=SourceState(cursor="113500000000000003"))
    bound = str(113500000000000003 - (60_000 << 16))
    later = [r for r, _ in httpserver.log[before:]]
    tag = next(r.args for r in later if "/tag/" in r.path)
    search = next(r.args for r in later if r.path == "/api/v2/search")
    assert tag["since_id"] == bound and "min_id" not in tag
    assert search["min_id"] == bound and "since_id" not in search


# --- bluesky -----------------------------------------------------------------------------------


@pytest.fixture
def bluesky_env(monkeypatch) -> None:
    monkeypatch.setenv("BLUESKY_HANDLE", "monitor.bsky.social")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "app-pass-1234")


def test_bluesky_reuses_its_session_and_adds_followers(httpserver: HTTPServer, bluesky_env) -> None:
    httpserver.expect_request("/xrpc/com.atproto.server.createSession", method="POST").respond_with_data(
        fixture_bytes("bluesky_session.json"), content_type=JSON)
    httpserver.expect_request("/xrpc/app.bsky.feed.searchPosts", headers={"Authorization": "Bearer access-1"}).respond_with_data(
        fixture_bytes("bluesky_search.json").replace(b'"cursor": "2"', b'"cursor": null'), content_type=JSON)
    httpserver.expect_request("/xrpc/app.bsky.actor.getProfiles").respond_with_data(fixture_bytes("bluesky_profiles.json"), content_type=JSON)
    with make_client() as client:
        first = run(httpserver, {"name": "b", "type": "bluesky", "base_url": "BASE"}, client=client)
        run(httpserver, {"name": "b", "type": "bluesky", "base_url": "BASE"}, client=client)
    logins = [r for r, _ in httpserver.log if r.path.endswith("createSession")]
    assert len(logins) == 1, "createSession is rate limited: one session per process"
    assert json.loads(logins[0].data) == {"identifier": "monitor.bsky.social", "password": "app-pass-1234"}
    carol = next(m for m in first.mentions if m.author == "carol.bsky.social")
    assert carol.audience == 23000 and carol.url == "https://bsky.app/profile/carol.bsky.social/post/3lzzacme1"
    assert carol.language == "en" and carol.metrics["likes"] == 40
    search = next(r for r, _ in httpserver.log if r.path.endswith("searchPosts"))
    assert search.args["sort"] == "latest" and search.args["since"] == "2026-11-22T11:00:00Z"


def test_bluesky_refreshes_an_expired_token(httpserver: HTTPServer, bluesky_env) -> None:
    httpserver.expect_request("/xrpc/com.atproto.server.createSession", method="POST").respond_with_data(
        fixture_bytes("bluesky_session.json"), content_type=JSON)
    httpserver.expect_request("/xrpc/com.atproto.server.refreshSession", method="POST",
                              headers={"Authorization": "Bearer refresh-1"}).respond_with_json(
        {"accessJwt": "access-2", "refreshJwt": "refresh-2", "did": "did:plc:x", "handle": "monitor.bsky.social"})
    httpserver.expect_request("/xrpc/app.bsky.feed.searchPosts", headers={"Authorization": "Bearer access-1"}).respond_with_json(
        {"error": "ExpiredToken", "message": "Token has expired"}, status=400)
    httpserver.expect_request("/xrpc/app.bsky.feed.searchPosts", headers={"Authorization": "Bearer access-2"}).respond_with_json(
        {"posts": []})
    assert run(httpserver, {"name": "b", "type": "bluesky", "base_url": "BASE"}).mentions == []


def test_bluesky_without_credentials_is_a_missing_credential(httpserver: HTTPServer, monkeypatch) -> None:
    monkeypatch.delenv("BLUESKY_HANDLE", raising=False)
    with pytest.raises(MissingCredential, match="BLUESKY_HANDLE"):
        run(httpserver, {"name": "b", "type": "bluesky", "base_url": "BASE"})
    assert httpserver.log == []


# --- youtube -----------------------------------------------------------------------------------


def test_youtube_feed_carries_views_and_likes(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feeds/videos.xml").respond_with_data(fixture_bytes("youtube_channel.atom.xml"), content_type="application/atom+xml")
    (m,) = run(httpserver, {"name": "y", "type": "youtube", "base_url": "BASE", "channel_ids": ["UCacmereviews000000000001"]}).mentions
    assert m.id == "AcmeVid0001" and m.url == "https://www.youtube.com/watch?v=AcmeVid0001"
    assert m.metrics["views"] == 48210 and m.metrics["likes"] == 1520 and "regret" in m.text


def test_youtube_api_search_adds_statistics_and_subscribers_and_hides_the_key(httpserver: HTTPServer, monkeypatch) -> None:
    monkeypatch.setenv("YT_KEY", "secret-key")
    httpserver.expect_request("/v3/search").respond_with_data(fixture_bytes("youtube_search.json"), content_type=JSON)
    httpserver.expect_request("/v3/videos").respond_with_data(fixture_bytes("youtube_videos.json"), content_type=JSON)
    httpserver.expect_request("/v3/channels").respond_with_data(fixture_bytes("youtube_channels.json"), content_type=JSON)
    result = run(httpserver, {"name": "y", "type": "youtube", "base_url": "BASE", "api_url": "BASE/v3", "api_key_env": "YT_KEY"})
    (m,) = result.mentions
    assert m.metrics["views"] == 9120 and m.metrics["likes"] == 310 and m.audience == 45000
    cursors = json.loads(result.state.cursor)
    assert cursors["search"] == "2026-11-23T10:20:00Z" and cursors["next_search"] == "2026-11-23T11:14:24Z", \
        "one search call of the 100 a day: the next waits 24 h / 100"
    httpserver.clear()
    httpserver.expect_request("/v3/search").respond_with_data("quota", status=403)
    with pytest.raises(FetchError) as info:
        run(httpserver, {"name": "y", "type": "youtube", "base_url": "BASE", "api_url": "BASE/v3", "api_key_env": "YT_KEY"})
    assert "secret-key" not in str(info.value) and "key=%2A%2A%2A" in str(info.value) or "key=***" in str(info.value)


# --- googlenews ----------------------------------------------------------------------------------


def test_googlenews_query_and_publisher(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/rss/search").respond_with_data(fixture_bytes("googlenews_search.rss.xml"), content_type="application/rss+xml")
    result = run(httpserver, {"name": "n", "type": "googlenews", "base_url": "BASE", "hl": "en-GB", "gl": "GB"},
                 terms=('"Acme Cloud"', "acmecloud"))
    first = result.mentions[0]
    assert first.title == "Acme Cloud outage disrupts thousands of businesses"
    assert first.author == "The Daily Byte" and first.metrics["publisher_url"] == "https://dailybyte.example"
    assert first.language == "en"
    args = httpserver.log[0][0].args
    assert args["q"] == '("Acme Cloud" OR acmecloud) when:7d' and args["ceid"] == "GB:en"


# --- appstore ----------------------------------------------------------------------------------

APPSTORE = {"name": "a", "type": "appstore", "base_url": "BASE", "app_ids": ["1234567890"]}
PAGE = "/us/rss/customerreviews/page={}/id=1234567890/sortby=mostrecent/json"


def test_appstore_reviews_carry_rating_and_votes(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PAGE.format(1)).respond_with_data(fixture_bytes("appstore_reviews.json"), content_type=JSON)
    result = run(httpserver, APPSTORE)
    bad = next(m for m in result.mentions if m.metrics["rating"] == 1)
    assert bad.id == "11000000002" and bad.metrics["helpful_votes"] == 2 and bad.author_name == "grumpyuser"
    assert bad.published_at.isoformat() == "2026-11-23T09:10:00+00:00"
    assert json.loads(result.state.cursor) == {"1234567890:us": 11000000002}
    assert len(httpserver.log) == 1, "a first run reads one page"


def test_appstore_empty_feed_is_no_reviews_not_an_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PAGE.format(1)).respond_with_json({"feed": {"author": {}, "updated": {"label": "x"}}})
    first = run(httpserver, APPSTORE)
    # 2026: the public feed answers 200 without entries for most apps: a first read that finds
    # none says so, naming the app, rather than passing for a quiet app.
    (warning,) = first.warnings
    assert first.mentions == [] and "app 1234567890 in us: Apple's public review feed gave no review" in warning
    assert "https://apps.apple.com/us/app/id1234567890" in warning and "customerReviews" in warning
    # An app that had reviews: an empty feed is Apple's hiccup, said as such, the cursor kept.
    state = SourceState(cursor=json.dumps({"1234567890:us": 11000000001}))
    later = run(httpserver, APPSTORE, state=state)
    assert later.mentions == [] and later.state == state
    assert later.warnings == ("app 1234567890 in us: the feed came back empty though it had reviews before "
                              "(Apple's feed does this at times): nothing read, asked again next run",)


def test_appstore_single_review_object_and_paging_to_the_cursor(httpserver: HTTPServer) -> None:
    feed = json.loads(fixture_bytes("appstore_reviews.json"))
    newer = dict(feed["feed"], entry=dict(feed["feed"]["entry"][0], id={"label": "11000000009"}))
    httpserver.expect_request(PAGE.format(1)).respond_with_json({"feed": newer})
    httpserver.expect_request(PAGE.format(2)).respond_with_data(fixture_bytes("appstore_reviews.json"), content_type=JSON)
    result = run(httpserver, APPSTORE, state=SourceState(cursor=json.dumps({"1234567890:us": 11000000001})))
    assert sorted(m.id for m in result.mentions) == ["11000000001", "11000000002", "11000000009"]
    assert [r.path for r, _ in httpserver.log] == [PAGE.format(1), PAGE.format(2)], "stops at the page that reaches the cursor"


def _comment_thread(ident: str, text: str, published: str) -> dict:
    return {"kind": "youtube#commentThread", "id": ident, "snippet": {
        "channelId": "UCacme", "videoId": "AcmeVid0001", "totalReplyCount": 2, "canReply": True, "isPublic": True,
        "topLevelComment": {"kind": "youtube#comment", "id": ident, "snippet": {
            "channelId": "UCacme", "videoId": "AcmeVid0001", "textDisplay": text, "textOriginal": text,
            "authorDisplayName": "@viewer", "authorChannelId": {"value": "UCviewer"}, "likeCount": 7,
            "publishedAt": published, "updatedAt": published}}}}


def test_youtube_reads_the_comments_on_the_brands_channel_and_fits_search_to_its_bucket(httpserver: HTTPServer, monkeypatch) -> None:
    monkeypatch.setenv("YT_KEY", "secret-key")
    threads = [_comment_thread("Ugz2", "Support never answered my ticket", "2026-11-23T10:40:00Z"),
               _comment_thread("Ugz1", "Older comment", "2026-11-21T09:00:00Z")]
    httpserver.expect_request("/feeds/videos.xml").respond_with_data(fixture_bytes("youtube_channel.atom.xml"),
                                                                     content_type="application/atom+xml")
    httpserver.expect_request("/v3/commentThreads").respond_with_json({"items": threads})
    httpserver.expect_request("/v3/search").respond_with_data(fixture_bytes("youtube_search.json"), content_type=JSON)
    httpserver.expect_request("/v3/videos").respond_with_json({"items": []})
    httpserver.expect_request("/v3/channels").respond_with_json({"items": []})
    source = {"name": "y", "type": "youtube", "base_url": "BASE", "api_url": "BASE/v3", "api_key_env": "YT_KEY",
              "channel_ids": ["UCacme"], "brands": ["Acme Cloud"]}
    result = run(httpserver, source, state=SourceState(cursor="2026-11-23T09:30:00Z"))
    comment = next(m for m in result.mentions if m.id == "Ugz2")
    assert comment.url == "https://www.youtube.com/watch?v=AcmeVid0001&lc=Ugz2" and comment.metrics["kind"] == "comment"
    assert comment.author == "UCviewer" and "Ugz1" not in {m.id for m in result.mentions}, "older than first_run: the comments have a cursor of their own"
    (ask,) = [r for r, _ in httpserver.log if r.path.endswith("commentThreads")]
    assert ask.args["allThreadsRelatedToChannelId"] == "UCacme" and ask.args["order"] == "time"
    assert "searchTerms" not in ask.args, "a bound source: every comment on the brand's channel is the brand's"
    cursors = json.loads(result.state.cursor)
    assert cursors["comments"] == "2026-11-23T10:40:00Z" and cursors["search"] == "2026-11-23T10:20:00Z"

    httpserver.clear_log()
    unbound = {k: v for k, v in source.items() if k != "brands"}
    run(httpserver, unbound, state=result.state)  # 1 minute later in effect (the same NOW): the bucket says wait
    assert not [r for r, _ in httpserver.log if r.path.endswith("/search")], "search waits for its bucket"
    (ask,) = [r for r, _ in httpserver.log if r.path.endswith("commentThreads")]
    assert ask.args["searchTerms"] == "Acme Cloud", "unbound: only comments naming the brand are asked for"


# --- stackexchange -------------------------------------------------------------------------------


def test_stackexchange_search_and_backoff_holds_the_host(httpserver: HTTPServer) -> None:
    body = json.loads(fixture_bytes("stackexchange_search.json"))
    httpserver.expect_request("/2.3/search/advanced").respond_with_json(dict(body, backoff=30))
    options = {"name": "so", "type": "stackexchange", "base_url": "BASE/2.3", "site": "superuser", "answers": False}
    with make_client() as client:
        (m,) = run(httpserver, options, client=client).mentions
        assert m.title == "Acme Cloud load balancer drops connections after 60&#39;s"  # normalize decodes entities
        assert m.metrics["owner_reputation"] == 15400 and m.metrics["views"] == 340
        args = httpserver.log[0][0].args
        assert args["site"] == "superuser" and args["sort"] == "creation" and args["filter"] == "withbody"
        with pytest.raises(RateLimited):
            run(httpserver, {**options, "name": "so2"}, client=client)
    assert len(httpserver.log) == 1, "every source on the host waits out the backoff"


def test_stackexchange_searches_answers_too_and_links_them_on_the_site(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/2.3/search/advanced").respond_with_data(fixture_bytes("stackexchange_search.json"), content_type=JSON)
    httpserver.expect_request("/2.3/search/excerpts").respond_with_data(fixture_bytes("stackexchange_excerpts.json"), content_type=JSON)
    result = run(httpserver, {"name": "so", "type": "stackexchange", "base_url": "BASE/2.3", "site": "serverfault"})
    assert sorted(m.id for m in result.mentions) == ["79900001", "a79900002"], "the excerpts' question is search/advanced's"
    answer = next(m for m in result.mentions if m.id == "a79900002")
    assert answer.url == "https://serverfault.com/a/79900002" and answer.metrics["kind"] == "answer"
    assert answer.text.startswith("<p>Acme Cloud caps idle connections") and answer.metrics["question_id"] == 79900001
    excerpts = next(r for r, _ in httpserver.log if r.path.endswith("excerpts"))
    assert excerpts.args["q"] == '"Acme Cloud"' and excerpts.args["sort"] == "creation"


# --- github ------------------------------------------------------------------------------------


def test_github_query_says_is_issue_and_stops_at_the_1000_cap(httpserver: HTTPServer, monkeypatch) -> None:
    monkeypatch.setenv("GH_TOKEN", "ghp_x")
    page = json.loads(fixture_bytes("github_search_issues.json"))
    httpserver.expect_request("/search/issues").respond_with_json(dict(page, total_count=5000))
    result = run(httpserver, {"name": "g", "type": "github", "base_url": "BASE", "token_env": "GH_TOKEN", "qualifiers": "org:acme",
                              "comments": False, "lookups": 0})
    assert len(httpserver.log) == 10, "10 pages × 100 = GitHub's 1,000-result cap"
    args = httpserver.log[0][0].args
    assert args["q"] == '"Acme Cloud" is:issue org:acme created:>=2026-11-22T11:00:00Z'
    assert httpserver.log[0][0].headers["Authorization"] == "Bearer ghp_x"
    (m,) = result.mentions
    assert m.metrics["reactions"] == 57 and m.metrics["repository"] == "acme/cloud-cli"


# --- discourse ---------------------------------------------------------------------------------


def test_discourse_search_builds_post_urls(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/search.json").respond_with_data(fixture_bytes("discourse_search.json"), content_type=JSON)
    (m,) = run(httpserver, {"name": "d", "type": "discourse", "base_url": "BASE"}).mentions
    assert m.url == httpserver.url_for("/t/acme-cloud-deleted-our-database/901/1")
    assert m.title == "Acme Cloud deleted our database" and m.metrics["topic_views"] == 212 and m.metrics["likes"] == 4
    assert httpserver.log[0][0].args["q"] == '"Acme Cloud" after:2026-11-21 order:latest', "first_run (1d) less a day"


def test_discourse_search_pages_down_to_the_cursor_and_owes_what_max_pages_left(httpserver: HTTPServer) -> None:
    template = json.loads(fixture_bytes("discourse_search.json"))["posts"][0]
    posts = [dict(template, id=70000 + i, created_at=f"2026-11-23T{i // 60:02d}:{i % 60:02d}:00.000Z") for i in range(150)]

    def answer(request):
        page = int(request.args.get("page", 1))
        ordered = sorted(posts, key=lambda p: -p["id"])[(page - 1) * 50:page * 50]
        return Response(json.dumps({"posts": ordered, "topics": [], "grouped_search_result": {
            "more_full_page_results": page * 50 < len(posts)}}), content_type=JSON)

    httpserver.expect_request("/search.json").respond_with_handler(answer)
    source = {"name": "d", "type": "discourse", "base_url": "BASE", "max_pages": 1}
    state, read, behind = SourceState(cursor="69999"), set(), []
    for _ in range(3):  # 150 new posts, 50 a run
        result = run(httpserver, source, state=state)
        read |= {m.id for m in result.mentions}
        state, behind = result.state, behind + [w for w in result.warnings if w.startswith("behind:")]
    assert len(read) == 150 and state.cursor.startswith("70149|2026-11-23T02:29:00Z")
    assert len(behind) == 2 and "(the oldest from post 69999)" in behind[0]
    assert [r.args.get("page") for r, _ in httpserver.log] == [None, "2", None, "3", None]
    assert httpserver.log[-1][0].args["q"].endswith("after:2026-11-22 order:latest"), "the newest post's day less one"


def test_discourse_sends_its_key_only_to_a_forum_that_refuses_anonymous_reads(httpserver: HTTPServer, monkeypatch) -> None:
    monkeypatch.setenv("D_KEY", "admin-key")
    monkeypatch.setenv("D_USER", "system")
    public = {"name": "d", "type": "discourse", "base_url": "BASE", "api_key_env": "D_KEY", "api_username_env": "D_USER"}
    httpserver.expect_request("/search.json").respond_with_data(fixture_bytes("discourse_search.json"), content_type=JSON)
    with make_client() as client:
        run(httpserver, public, client=client)
    assert "Api-Key" not in httpserver.log[0][0].headers, "a public forum's reads are not charged to the admin key"
    httpserver.clear()
    httpserver.expect_request("/search.json", headers={"Api-Key": "admin-key"}).respond_with_data(
        fixture_bytes("discourse_search.json"), content_type=JSON)
    httpserver.expect_request("/search.json").respond_with_json({"errors": ["You are not permitted"]}, status=403)
    with make_client() as client:
        from connectors import REGISTRY

        connector = REGISTRY["discourse"](client)
        options = REGISTRY["discourse"].Options.model_validate({**public, "base_url": httpserver.url_for("").rstrip("/")})
        assert connector.fetch(options, queries=queries('"Acme Cloud"'), state=SourceState(), now=NOW).mentions
        connector.fetch(options, queries=queries('"Acme Cloud"'), state=SourceState(), now=NOW)
    assert [("Api-Key" in r.headers) for r, _ in httpserver.log] == [False, True, True], "remembered: private"


def test_discourse_posts_mode_pages_back_to_the_cursor(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/posts.json").respond_with_data(fixture_bytes("discourse_posts.json"), content_type=JSON)
    result = run(httpserver, {"name": "d", "type": "discourse", "base_url": "BASE", "mode": "posts"},
                 state=SourceState(cursor="52100"))
    (m,) = result.mentions
    assert m.id == "52102" and m.metrics["likes"] == 3 and m.metrics["trust_level"] == 2 and m.metrics["reads"] == 40
    assert result.state.cursor == "52102"


# --- lemmy -------------------------------------------------------------------------------------


def test_lemmy_posts_with_community_subscribers_and_zone_less_times(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v3/search").respond_with_data(fixture_bytes("lemmy_search.json"), content_type=JSON)
    httpserver.expect_request("/api/v3/community").respond_with_data(fixture_bytes("lemmy_community.json"), content_type=JSON)
    (m,) = run(httpserver, {"name": "l", "type": "lemmy", "base_url": "BASE"}).mentions
    assert m.url == "https://lemmy.example/post/8800001" and m.metrics["score"] == 230
    assert m.metrics["community_subscribers"] == 54000
    assert m.published_at.isoformat() == "2026-11-23T10:12:00.123456+00:00"
    assert httpserver.log[0][0].args["sort"] == "New"


# --- politeness --------------------------------------------------------------------------------


def test_exhausted_rate_limit_blocks_the_host_for_every_source(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v3/search").respond_with_json(
        {"posts": []}, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "120"})
    with make_client() as client:
        run(httpserver, {"name": "l1", "type": "lemmy", "base_url": "BASE"}, client=client)
        with pytest.raises(RateLimited) as info:
            run(httpserver, {"name": "l2", "type": "lemmy", "base_url": "BASE"}, client=client)
    assert 100 < info.value.retry_after_seconds <= 120
    assert len(httpserver.log) == 1


@pytest.mark.parametrize("options, path, status, body, headers, wait", [
    # Stack Exchange: HTTP 400 with error_name throttle_violation, the wait only in the message.
    ({"type": "stackexchange", "site": "stackoverflow"}, "/search/advanced", 400,
     {"error_id": 502, "error_message": "too many requests from this IP, more requests available in 82 seconds",
      "error_name": "throttle_violation"}, {}, 82),
    # GitHub's secondary limit: a 403, here with Retry-After ...
    ({"type": "github"}, "/search/issues", 403,
     {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."},
     {"Retry-After": "45"}, 45),
    # ... and often without any header: GitHub's documentation says wait at least a minute.
    ({"type": "github"}, "/search/issues", 403,
     {"message": "You have exceeded a secondary rate limit and have been temporarily blocked from content creation."},
     {}, 60),
    # Bluesky: the IETF draft's RateLimit-* headers on a 429 without Retry-After.
    ({"type": "bluesky"}, "/xrpc/app.bsky.feed.searchPosts", 429, {"error": "RateLimitExceeded"},
     {"RateLimit-Limit": "3000", "RateLimit-Remaining": "0", "RateLimit-Reset": "300", "RateLimit-Policy": "3000;w=300"}, 300),
], ids=["stackexchange-400", "github-403-retry-after", "github-403-bare", "bluesky-ratelimit-headers"])
def test_throttles_that_are_not_a_plain_429_hold_the_host_for_the_time_the_source_gave(
        httpserver: HTTPServer, monkeypatch, options, path, status, body, headers, wait) -> None:
    monkeypatch.setenv("BLUESKY_HANDLE", "h")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "p")
    httpserver.expect_request("/xrpc/com.atproto.server.createSession").respond_with_json({"accessJwt": "a", "refreshJwt": "r", "did": "did:plc:x"})
    httpserver.expect_request(path).respond_with_json(body, status=status, headers=headers)
    source = {"name": "s1", "base_url": "BASE", **options}
    with make_client() as client:
        with pytest.raises(RateLimited) as first:
            run(httpserver, source, client=client)
        asked = len(httpserver.log)
        with pytest.raises(RateLimited) as second:  # another source on the host: held, nothing sent
            run(httpserver, {**source, "name": "s2"}, client=client)
    assert first.value.retry_after_seconds == pytest.approx(wait, abs=2)
    assert wait - 5 < second.value.retry_after_seconds <= wait
    assert len(httpserver.log) == asked


def test_github_keeps_comment_only_hits_searches_pull_requests_and_looks_up_stars_and_followers(httpserver: HTTPServer) -> None:
    from monitor.config import ReachFactors
    from monitor.judgement.reach import estimate_reach

    page = json.loads(fixture_bytes("github_search_issues.json"))
    old_issue = dict(page["items"][0], title="CLI crashes on login", body="Since 3.2 it crashes.", created_at="2025-01-02T00:00:00Z")

    def search(request):
        q = request.args["q"]
        items = [old_issue] if "in:comments" in q else ([dict(page["items"][0], id=99, pull_request={"url": "x"})]
                                                         if "is:pull-request" in q else [])
        return Response(json.dumps({"total_count": len(items), "incomplete_results": False, "items": items}), content_type=JSON)

    httpserver.expect_request("/search/issues").respond_with_handler(search)
    httpserver.expect_request("/repos/acme/cloud-cli/issues/412/comments").respond_with_data(
        fixture_bytes("github_issue_comments.json"), content_type=JSON)
    httpserver.expect_request("/repos/acme/cloud-cli").respond_with_data(fixture_bytes("github_repo.json"), content_type=JSON)
    httpserver.expect_request("/users/ops-lead").respond_with_data(fixture_bytes("github_user.json"), content_type=JSON)
    httpserver.expect_request("/users/angry-dev").respond_with_data(fixture_bytes("github_user.json"), content_type=JSON)
    result = run(httpserver, {"name": "g", "type": "github", "base_url": "BASE", "kinds": ["issue", "pull-request"]})
    comment = next(m for m in result.mentions if m.id == "c2500000001")
    assert comment.text.startswith("Same here: the Acme Cloud CLI crashes") and comment.metrics["kind"] == "comment"
    assert comment.url == "https://github.com/acme/cloud-cli/issues/412#issuecomment-2500000001"
    assert comment.metrics["repository_stars"] == 1840 and comment.audience == 230
    pull = next(m for m in result.mentions if m.id == "99")
    assert pull.metrics["kind"] == "pull_request"
    asked = [r.args for r, _ in httpserver.log if r.path == "/search/issues"]
    assert any("is:pull-request" in a["q"] for a in asked) and any("in:comments" in a["q"] and "updated:>=" in a["q"] for a in asked)
    reach = estimate_reach(comment, ReachFactors())
    assert "1,840 repository stars" in reach.method


def test_github_discussions_are_searched_through_graphql_with_a_token(httpserver: HTTPServer, monkeypatch) -> None:
    monkeypatch.setenv("GH_TOKEN", "ghp_x")
    node = {"id": "D_kwDOAcme01", "number": 77, "title": "Acme Cloud CLI eats my credentials", "body": "Since 3.2 it logs me out.",
            "url": "https://github.com/acme/cloud-cli/discussions/77", "createdAt": "2026-11-23T10:10:00Z", "upvoteCount": 9,
            "author": {"login": "angry-dev"}, "repository": {"nameWithOwner": "acme/cloud-cli"},
            "comments": {"totalCount": 4}, "reactions": {"totalCount": 6}}
    httpserver.expect_request("/graphql", method="POST", headers={"Authorization": "Bearer ghp_x"}).respond_with_json(
        {"data": {"search": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": [node]}}})
    source = {"name": "g", "type": "github", "base_url": "BASE", "kinds": ["discussion"], "comments": False, "lookups": 0}
    (m,) = run(httpserver, {**source, "token_env": "GH_TOKEN"}).mentions
    assert m.id == "dD_kwDOAcme01" and m.metrics["kind"] == "discussion" and m.metrics["upvotes"] == 9
    body = json.loads(httpserver.log[0][0].data)
    assert "type: DISCUSSION" in body["query"] and body["variables"]["q"].startswith('"Acme Cloud" created:>=')
    with pytest.raises(MissingCredential, match="GraphQL API, which needs a token"):
        run(httpserver, source)


def test_a_403_that_is_a_refusal_is_no_rate_limit(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/search/issues").respond_with_json({"message": "Resource not accessible by integration"}, status=403)
    with make_client() as client, pytest.raises(FetchError) as info:
        run(httpserver, {"name": "g", "type": "github", "base_url": "BASE"}, client=client)
    assert not isinstance(info.value, RateLimited) and info.value.status == 403


# --- sub-requests ------------------------------------------------------------------------------


def test_one_failing_feed_of_a_youtube_source_leaves_the_others_posts_and_is_named(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feeds/videos.xml", query_string={"channel_id": "UCgone"}).respond_with_data("gone", status=404)
    httpserver.expect_request("/feeds/videos.xml", query_string={"channel_id": "UCacmereviews000000000001"}).respond_with_data(
        fixture_bytes("youtube_channel.atom.xml"), content_type="application/atom+xml")
    result = run(httpserver, {"name": "yt", "type": "youtube", "base_url": "BASE",
                              "channel_ids": ["UCgone", "UCacmereviews000000000001"]})
    assert result.mentions
    assert result.warnings[-1].startswith("1 of 2 requests failed, the rest kept (channel UCgone: HTTP 404 from "), result.warnings


def test_a_failing_search_keeps_the_old_cursor_so_its_posts_are_asked_for_again(httpserver: HTTPServer) -> None:
    def answer(request):
        if request.args["query"] == "globex":
            return Response("busy", status=500)
        return Response(fixture_bytes("hn_search_by_date.json"), content_type=JSON)

    httpserver.expect_request("/api/v1/search_by_date").respond_with_handler(answer)
    state = SourceState(cursor="1795000000")
    result = run(httpserver, {"name": "hn", "type": "hackernews", "base_url": "BASE/api/v1"}, state=state,
                 terms=('"Acme Cloud"', "globex"))
    assert result.mentions and result.state == state
    assert "search 'globex': HTTP 500" in result.warnings[0]
    with pytest.raises(FetchError, match="HTTP 500"):  # every one failing is the run failing
        run(httpserver, {"name": "hn", "type": "hackernews", "base_url": "BASE/api/v1"}, state=state, terms=("globex",))


def test_a_bluesky_post_dated_in_the_future_does_not_blind_the_source(httpserver: HTTPServer, monkeypatch) -> None:
    """The cursor follows when the AppView filed a post (indexedAt), not the client's createdAt:
    a post claiming 2031 would otherwise move `since` past everything posted until then."""
    monkeypatch.setenv("BLUESKY_HANDLE", "h")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "p")
    posts = json.loads(fixture_bytes("bluesky_search.json"))
    posts["posts"][0]["record"]["createdAt"] = "2031-01-01T00:00:00.000Z"
    posts.pop("cursor", None)
    httpserver.expect_request("/xrpc/com.atproto.server.createSession").respond_with_json(json.loads(fixture_bytes("bluesky_session.json")))
    httpserver.expect_request("/xrpc/app.bsky.feed.searchPosts").respond_with_json(posts)
    httpserver.expect_request("/xrpc/app.bsky.actor.getProfiles").respond_with_json({"profiles": []})
    result = run(httpserver, {"name": "b", "type": "bluesky", "base_url": "BASE"})
    assert len(result.mentions) == 2
    assert result.state.cursor == "2026-11-23T10:45:00Z"  # the first post's indexedAt


def test_google_news_recency_fits_the_time_since_the_last_read(httpserver: HTTPServer) -> None:
    """The feed returns 100 items at most: a week's window crowds a busy brand's news of today
    out. The first read looks back 7d, later ones twice the gap since the last read plus one interval."""
    httpserver.expect_request("/rss/search").respond_with_data(fixture_bytes("googlenews_search.rss.xml"),
                                                               content_type="application/rss+xml")
    source = {"name": "n", "type": "googlenews", "base_url": "BASE", "every": "15m"}
    first = run(httpserver, source)
    assert httpserver.log[-1][0].args["q"].endswith(" when:7d") and first.state.cursor == "2026-11-23T11:00:00Z"
    run(httpserver, source, state=SourceState(cursor="2026-11-23T10:30:00Z"))  # 30 min ago: 2 × 30 + 15 min
    assert httpserver.log[-1][0].args["q"].endswith(" when:2h")
    run(httpserver, source, state=SourceState(cursor="2026-11-18T11:00:00Z"))  # after a 5-day outage: capped
    assert httpserver.log[-1][0].args["q"].endswith(" when:7d")
    run(httpserver, {**source, "when": "1d"}, state=SourceState(cursor="2026-11-23T10:30:00Z"))
    assert httpserver.log[-1][0].args["q"].endswith(" when:1d")


def test_reddit_rss_reads_a_subreddits_new_comments_too(httpserver: HTTPServer) -> None:
    comment_feed = fixture_bytes("reddit_search.atom.xml").replace(b"<id>t3_1xq0a1</id>", b"<id>t1_kq1c2d3</id>")
    httpserver.expect_request("/r/acme/new/.rss").respond_with_data(fixture_bytes("reddit_search.atom.xml"),
                                                                    content_type="application/atom+xml")
    httpserver.expect_request("/r/acme/comments/.rss").respond_with_data(comment_feed, content_type="application/atom+xml")
    options = {"name": "r", "type": "reddit", "base_url": "BASE", "search": False, "subreddits": ["acme"]}
    first = run(httpserver, options)  # anonymous: one listing a run (a request a minute), in turn
    second = run(httpserver, options, state=first.state)
    found = [(m.id, m.metrics.get("kind")) for m in [*first.mentions, *second.mentions]]
    assert sorted(found) == [("t1_kq1c2d3", "comment"), ("t3_1xq0a1", None)]
    assert [r.path for r, _ in httpserver.log] == ["/r/acme/new/.rss", "/r/acme/comments/.rss"]
    assert {r.args["limit"] for r, _ in httpserver.log} == {"100"}


# --- lobsters ----------------------------------------------------------------------------------


def _full_page(stories: list[dict]) -> list[dict]:
    """A /newest page as Lobsters serves it while more follow: 25 stories (copies of the last, under ids of their own)."""
    return stories + [dict(stories[-1], short_id=f"fill{i:02d}") for i in range(25 - len(stories))]


def test_lobsters_pages_newest_back_to_the_cursor_and_reads_each_tag(httpserver: HTTPServer) -> None:
    page1 = json.loads(fixture_bytes("lobsters_newest.json"))
    httpserver.expect_request("/newest.json").respond_with_json(_full_page(page1[:2]))
    httpserver.expect_request("/newest/page/2.json").respond_with_json(page1[2:])
    httpserver.expect_request("/t/devops.json").respond_with_json(page1[:1])
    result = run(httpserver, {"name": "l", "type": "lobsters", "base_url": "BASE", "tags": ["devops"], "max_pages": 3},
                 state=SourceState(cursor="2026-11-23T05:00:00Z"))
    # Page 1 is all newer than the cursor, page 2 reaches it: no page 3; the tag once.
    assert [r.path for r, _ in httpserver.log] == ["/newest.json", "/newest/page/2.json", "/t/devops.json"]
    assert sorted(m.id for m in result.mentions if not m.id.startswith("fill")) == ["p3m9zt", "x7k2qa"]
    first = next(m for m in result.mentions if m.id == "x7k2qa")
    assert first.url == "https://lobste.rs/s/x7k2qa/acme_cloud_s_object_storage_lost_writes"
    assert first.metrics["score"] == 31 and first.metrics["link"] == "https://blog.example.net/acme-cloud-lost-writes"
    old = next(m for m in result.mentions if m.id == "p3m9zt")
    assert old.author == "old_instance_user" and old.text.startswith("We are leaving acmecloud")
    assert result.state.cursor == "2026-11-23T10:32:11Z"


def test_a_failed_lobsters_page_keeps_the_pages_before_it_and_is_read_next_run(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/newest.json").respond_with_json(_full_page(json.loads(fixture_bytes("lobsters_newest.json"))))
    httpserver.expect_request("/newest/page/2.json").respond_with_data("busy", status=503)
    state = SourceState(cursor="2026-11-22T00:00:00Z")
    result = run(httpserver, {"name": "l", "type": "lobsters", "base_url": "BASE"}, state=state)
    assert len(result.mentions) == 25 and "newest/page/2: HTTP 503" in result.warnings[0]
    assert [page for page, _ in json.loads(result.state.cursor)["owed"]["newest"]] == ["2"], "page 2 is owed"
    httpserver.clear()
    httpserver.expect_request("/newest.json").respond_with_json([])
    httpserver.expect_request("/newest/page/2.json").respond_with_json([])
    again = run(httpserver, {"name": "l", "type": "lobsters", "base_url": "BASE"}, state=result.state)
    assert [r.path for r, _ in httpserver.log][0] == "/newest/page/2.json" and not again.state.cursor.startswith("{")


def test_lemmy_1_0_without_api_v3_is_read_through_api_v4_and_its_cursor(httpserver: HTTPServer) -> None:
    """Lemmy 1.0 dropped API v3: a 404 there moves the instance to /api/v4/search, which pages by
    page_cursor and answers a combined list (its comments are not posts)."""
    page = json.loads(fixture_bytes("lemmy_search_v4.json"))
    older = dict(page["search"][0], post=dict(page["search"][0]["post"], id=9800001, published_at="2026-11-20T00:00:00Z"))
    httpserver.expect_request("/api/v3/search").respond_with_json({"error": "not_found"}, status=404)
    httpserver.expect_request("/api/v4/search", query_string={"q": "Acme Cloud", "type_": "Posts", "sort": "New",
                                                              "listing_type": "All", "limit": "1"}).respond_with_json(page)
    httpserver.expect_request("/api/v4/search").respond_with_json({"search": [older], "next_page": None})
    httpserver.expect_request("/api/v4/community").respond_with_json({"community_view": {"community": {"id": 77, "subscribers": 52000}}})
    with make_client() as client:
        result = run(httpserver, {"name": "l", "type": "lemmy", "base_url": "BASE", "limit": 1}, client=client)
        (m,) = result.mentions
        assert m.id == "9900001" and m.url == "https://lemmy.example/post/9900001" and m.author == "https://lemmy.example/u/frugal"
        assert m.metrics["score"] == 41 and m.metrics["comments"] == 12 and m.metrics["community_subscribers"] == 52000
        assert m.published_at.isoformat().startswith("2026-11-23T10:12:00")
        second = next(r for r, _ in httpserver.log if r.path == "/api/v4/search" and "page_cursor" in r.args)
        assert second.args["page_cursor"] == "UDk5MDAwMDE", "v4 pages by the cursor it gave"
        httpserver.clear_log()
        run(httpserver, {"name": "l", "type": "lemmy", "base_url": "BASE", "limit": 1}, client=client)
        assert not [r for r, _ in httpserver.log if r.path.startswith("/api/v3/")], "v4 from then on, v3 not asked again"


def test_dev_reads_latest_articles_tags_and_the_comments_on_commented_articles(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/articles/latest").respond_with_data(fixture_bytes("dev_articles_latest.json"), content_type=JSON)
    httpserver.expect_request("/api/articles").respond_with_json([])
    httpserver.expect_request("/api/comments").respond_with_data(fixture_bytes("dev_comments.json"), content_type=JSON)
    result = run(httpserver, {"name": "d", "type": "dev", "base_url": "BASE", "tags": ["devops"]},
                 state=SourceState(cursor="2026-11-23T08:00:00Z"))
    ids = sorted(m.id for m in result.mentions)
    assert ids == ["2100002", "2100003", "c2kq7d", "c2kq9f"], "a reply in the tree is a comment too"
    article = next(m for m in result.mentions if m.id == "2100003")
    assert article.text.startswith("Acme Cloud charged us three times") and article.metrics["reactions"] == 58
    reply = next(m for m in result.mentions if m.id == "c2kq9f")
    assert reply.url == httpserver.url_for("/devops_dana/comment/2kq9f").rstrip("/") and reply.title == article.title
    asked = {r.path: r.args for r, _ in httpserver.log}
    assert asked["/api/comments"]["a_id"] == "2100003", "only the article with new comments (the other has none)"
    assert asked["/api/articles"]["tag"] == "devops" and asked["/api/articles"]["top"] == "1"
    assert result.state.cursor == "2026-11-23T10:30:00Z"


# --- gaps at the page limit --------------------------------------------------------------------


def _algolia(posts: list[dict]):
    """search_by_date as Algolia answers it: numericFilters on created_at_i, newest first, paged."""
    def answer(request):
        hits = posts
        for bound in request.args["numericFilters"].split(","):
            op, value = (">=", int(bound.split(">=")[1])) if ">=" in bound else ("<", int(bound.split("<")[1]))
            hits = [h for h in hits if (h["created_at_i"] >= value if op == ">=" else h["created_at_i"] < value)]
        hits = sorted(hits, key=lambda h: -h["created_at_i"])
        size, page = int(request.args["hitsPerPage"]), int(request.args["page"])
        pages = max(1, -(-len(hits) // size))
        return Response(json.dumps({"hits": hits[page * size:(page + 1) * size], "nbPages": pages, "page": page}),
                        content_type=JSON)
    return answer


def test_a_burst_beyond_max_pages_is_read_over_the_next_runs_never_skipped(httpserver: HTTPServer) -> None:
    """5 pages of new posts, max_pages 2: the first run reads the newest 2 pages and owes the
    rest (status says the source is behind); the next runs read the owed window, oldest first."""
    start = int(NOW.timestamp()) - 3600
    posts = [{"objectID": str(1000 + i), "created_at_i": start + 60 * i, "title": f"Acme Cloud post {i}", "author": "a",
              "_tags": ["story"], "points": 1} for i in range(10)]
    httpserver.expect_request("/api/v1/search_by_date").respond_with_handler(_algolia(posts))
    source = {"name": "hn", "type": "hackernews", "base_url": "BASE/api/v1", "hits_per_page": 2, "max_pages": 2}
    read: list[set[str]] = []
    state, warnings = SourceState(), []
    for _ in range(3):
        result = run(httpserver, source, state=state)
        read.append({m.id for m in result.mentions})
        state, warnings = result.state, warnings + list(result.warnings)
    assert set().union(*read) == {p["objectID"] for p in posts}, "none skipped (stored ids dedupe re-reads)"
    assert len(read[0]) == 4 and len(warnings) == 2, "two runs owed a window"
    assert state.cursor == str(start + 60 * 9), "nothing owed any more: the plain cursor again"
    assert warnings and warnings[0].startswith("behind: 1 window not read to the end yet")


def test_a_stack_exchange_burst_beyond_max_pages_is_read_over_the_next_runs(httpserver: HTTPServer) -> None:
    template = json.loads(fixture_bytes("stackexchange_search.json"))["items"][0]
    start = int(NOW.timestamp()) - 250 * 60
    items = [dict(template, question_id=80000000 + i, creation_date=start + 60 * i) for i in range(250)]

    def answer(request):
        low, high = int(request.args["fromdate"]), int(request.args.get("todate", 2 ** 40))
        hits = sorted((q for q in items if low <= q["creation_date"] <= high), key=lambda q: -q["creation_date"])
        size, page = int(request.args["pagesize"]), int(request.args["page"])
        body = {"items": hits[(page - 1) * size:page * size], "has_more": page * size < len(hits),
                "quota_max": 300, "quota_remaining": 290}
        return Response(json.dumps(body), content_type=JSON)

    httpserver.expect_request("/2.3/search/advanced").respond_with_handler(answer)
    source = {"name": "so", "type": "stackexchange", "base_url": "BASE/2.3", "site": "stackoverflow", "max_pages": 1,
              "answers": False}
    state, read, behind = SourceState(), set(), []
    for _ in range(3):  # 250 questions, 100 a page, one page a run
        result = run(httpserver, source, state=state)
        read |= {m.id for m in result.mentions}
        state, behind = result.state, behind + [w for w in result.warnings if w.startswith("behind:")]
    assert len(read) == 250 and len(behind) == 2
    assert state.cursor == str(start + 60 * 249)


def test_github_reads_past_its_1000_result_cap_and_max_pages_over_the_next_runs(httpserver: HTTPServer) -> None:
    """GitHub answers at most 1,000 results a query: a window with more is narrowed and read on."""
    import re as regex
    from datetime import datetime as dt, timezone as tz

    template = json.loads(fixture_bytes("github_search_issues.json"))["items"][0]
    start = int(NOW.timestamp()) - 1500 * 60
    issues = [dict(template, id=5000000 + i, number=i, html_url=f"https://github.com/acme/cli/issues/{i}",
                   created_at=dt.fromtimestamp(start + 60 * i, tz.utc).strftime("%Y-%m-%dT%H:%M:%SZ")) for i in range(1500)]

    def answer(request):
        when = regex.search(r"created:(>=)?(\S+?)(?:\.\.(\S+))?(?:\s|$)", request.args["q"])
        stamp = lambda text: int(dt.fromisoformat(text.replace("Z", "+00:00")).timestamp())  # noqa: E731
        low, high = stamp(when.group(2)), stamp(when.group(3)) if when.group(3) else 2 ** 40
        hits = sorted((i for i in issues if low <= stamp(i["created_at"]) <= high), key=lambda i: i["created_at"], reverse=True)
        size, page = int(request.args["per_page"]), int(request.args["page"])
        served = hits[:1000][(page - 1) * size:page * size]  # the cap: nothing past the 1,000th result
        return Response(json.dumps({"total_count": len(hits), "incomplete_results": False, "items": served}),
                        content_type=JSON)

    httpserver.expect_request("/search/issues").respond_with_handler(answer)
    source = {"name": "gh", "type": "github", "base_url": "BASE", "per_page": 100, "max_pages": 10,
              "first_run": "2d", "comments": False, "lookups": 0}
    state, read = SourceState(), set()
    for _ in range(2):
        result = run(httpserver, source, state=state)
        read |= {m.id for m in result.mentions}
        state = result.state
    assert len(read) == 1500 and not state.cursor.startswith("{")


def test_a_bluesky_burst_beyond_max_pages_is_read_over_the_next_runs(httpserver: HTTPServer, monkeypatch) -> None:
    from datetime import datetime as dt, timezone as tz

    monkeypatch.setenv("BLUESKY_HANDLE", "h")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "p")
    template = json.loads(fixture_bytes("bluesky_search.json"))["posts"][0]
    start = int(NOW.timestamp()) - 100 * 60
    iso = lambda stamp: dt.fromtimestamp(stamp, tz.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")  # noqa: E731
    posts = [dict(template, uri=f"at://did:plc:x/app.bsky.feed.post/{i}", indexedAt=iso(start + 60 * i),
                  record=dict(template["record"], createdAt=iso(start + 60 * i))) for i in range(100)]

    def answer(request):
        stamp = lambda text: int(dt.fromisoformat(text.replace("Z", "+00:00")).timestamp())  # noqa: E731
        low, high = stamp(request.args["since"]), stamp(request.args["until"]) if "until" in request.args else 2 ** 40
        hits = sorted((p for p in posts if low <= stamp(p["indexedAt"]) < high), key=lambda p: p["indexedAt"], reverse=True)
        offset, size = int(request.args.get("cursor", 0)), int(request.args["limit"])
        body = {"posts": hits[offset:offset + size], **({"cursor": str(offset + size)} if offset + size < len(hits) else {})}
        return Response(json.dumps(body), content_type=JSON)

    httpserver.expect_request("/xrpc/com.atproto.server.createSession").respond_with_json(json.loads(fixture_bytes("bluesky_session.json")))
    httpserver.expect_request("/xrpc/app.bsky.feed.searchPosts").respond_with_handler(answer)
    httpserver.expect_request("/xrpc/app.bsky.actor.getProfiles").respond_with_json({"profiles": []})
    source = {"name": "b", "type": "bluesky", "base_url": "BASE", "limit": 25, "max_pages": 2}
    state, read = SourceState(), set()
    for _ in range(3):  # 100 posts, 50 a run (the owed window keeps its boundary second: 51 in the second)
        result = run(httpserver, source, state=state)
        read |= {m.id for m in result.mentions}
        state = result.state
    assert len(read) == 100 and state.cursor == iso(start + 60 * 99).replace(".000Z", "Z")


def test_a_mastodon_burst_beyond_max_pages_is_read_over_the_next_runs(httpserver: HTTPServer) -> None:
    template = json.loads(fixture_bytes("mastodon_tag.json"))[0]
    statuses = [dict(template, reblog=None, id=str(5000 + i), uri=f"https://example.social/users/a/statuses/{5000 + i}",
                     url=f"https://example.social/@a/{5000 + i}") for i in range(100)]

    def answer(request):
        low, high = int(request.args["since_id"]), int(request.args.get("max_id", 2 ** 62))
        page = sorted((s for s in statuses if low < int(s["id"]) < high), key=lambda s: -int(s["id"]))
        return Response(json.dumps(page[:int(request.args["limit"])]), content_type=JSON)

    httpserver.expect_request("/api/v1/timelines/tag/acmecloud").respond_with_handler(answer)
    source = {"name": "m", "type": "mastodon", "base_url": "BASE", "max_pages": 1}
    state, read, behind = SourceState(cursor="4000"), set(), 0
    for _ in range(3):  # 100 new statuses, 40 a run
        result = run(httpserver, source, state=state)
        read |= {m.id for m in result.mentions}
        state, behind = result.state, behind + any(w.startswith("behind:") for w in result.warnings)
    assert len(read) == 100 and state.cursor == "5099" and behind == 2


def test_a_discourse_burst_beyond_max_pages_is_read_over_the_next_runs(httpserver: HTTPServer) -> None:
    template = json.loads(fixture_bytes("discourse_posts.json"))["latest_posts"][0]
    posts = [dict(template, id=60000 + i, post_number=i + 1) for i in range(120)]

    def answer(request):
        before = int(request.args.get("before", 2 ** 40))
        page = sorted((p for p in posts if p["id"] < before), key=lambda p: -p["id"])[:50]  # posts.json: 50 a page
        return Response(json.dumps({"latest_posts": page}), content_type=JSON)

    httpserver.expect_request("/posts.json").respond_with_handler(answer)
    source = {"name": "f", "type": "discourse", "base_url": "BASE", "mode": "posts", "max_pages": 1}
    state, read, behind = SourceState(cursor="59000"), set(), []
    # 120 new posts, 50 a run; posts.json says nothing of its page size, so the run after the
    # last short page asks once more before it knows the window is done.
    for _ in range(4):
        result = run(httpserver, source, state=state)
        read |= {m.id for m in result.mentions}
        state, behind = result.state, behind + [w for w in result.warnings if w.startswith("behind:")]
    assert len(read) == 120 and state.cursor == "60119"
    assert len(behind) == 3 and "(the oldest from post 59000)" in behind[0]


@pytest.mark.parametrize("oauth", [True], ids=["json"])  # anonymous RSS reads a page a turn: test_reddit_budget.py
def test_a_reddit_burst_beyond_max_pages_is_read_over_the_next_runs(httpserver: HTTPServer, monkeypatch, oauth: bool) -> None:
    """5 pages of new posts, max_pages 2: a listing is owed from the last item read (``after``,
    which RSS and JSON listings both take) and read on; posts arriving meanwhile shift nothing."""
    from datetime import datetime as dt, timezone as tz

    monkeypatch.setenv("R_ID", "id")
    monkeypatch.setenv("R_SECRET", "secret")
    start = int(NOW.timestamp()) - 3600
    posts = [{"id": f"b{i:04d}", "created_utc": start + 60 * i, "title": f"Acme Cloud post {i}", "author": "a",
              "permalink": f"/r/x/comments/b{i:04d}/p/"} for i in range(10)]

    def listing(request) -> list[dict]:
        ordered = sorted(posts, key=lambda p: -p["created_utc"])
        after = request.args.get("after")
        if after:
            ordered = ordered[[f"t3_{p['id']}" for p in ordered].index(after) + 1:]
        return ordered[:int(request.args["limit"])]

    def rss(request):
        iso = lambda t: dt.fromtimestamp(t, tz.utc).isoformat()  # noqa: E731
        entries = "".join(
            f"<entry><author><name>/u/{p['author']}</name></author><category term=\"x\" label=\"r/x\"/>"
            f"<content type=\"html\">{p['title']}</content><id>t3_{p['id']}</id>"
            f"<link href=\"https://www.reddit.com{p['permalink']}\" /><updated>{iso(p['created_utc'])}</updated>"
            f"<published>{iso(p['created_utc'])}</published><title>{p['title']}</title></entry>" for p in listing(request))
        return Response(f'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                        f"<title>search</title>{entries}</feed>", content_type="application/atom+xml")

    def json_listing(request):
        page = listing(request)
        children = [{"kind": "t3", "data": p} for p in page]
        after = f"t3_{page[-1]['id']}" if len(page) == int(request.args["limit"]) else None
        return Response(json.dumps({"kind": "Listing", "data": {"children": children, "after": after}}), content_type=JSON)

    httpserver.expect_request("/search.rss").respond_with_handler(rss)
    httpserver.expect_request("/api/v1/access_token").respond_with_json({"access_token": "t"})
    httpserver.expect_request("/search").respond_with_handler(json_listing)
    source = {"name": "r", "type": "reddit", "base_url": "BASE", "limit": 2, "max_pages": 2,
              **({"oauth_url": "BASE", "client_id_env": "R_ID", "client_secret_env": "R_SECRET"} if oauth else {})}
    state, read, behind = SourceState(), [], 0
    for run_number in range(3):
        if run_number == 1:  # two new posts on top: read with the owed window, shifting nothing
            posts += [dict(posts[0], id=f"n{i}", created_utc=start + 700 + i, permalink=f"/r/x/comments/n{i}/p/")
                      for i in range(2)]
        result = run(httpserver, source, state=state)
        read += [m.id for m in result.mentions]
        state, behind = result.state, behind + any(w.startswith("behind:") for w in result.warnings)
    assert sorted(set(read)) == sorted(f"t3_{p['id']}" for p in posts), "none skipped (the overlap's re-reads dedupe)"
    assert behind == 2 and not state.cursor.startswith("{"), "caught up: the plain cursor again"


@pytest.mark.parametrize("arriving, runs", [(0, 3), (3, 4)], ids=["still", "shifting"])
def test_a_lemmy_burst_beyond_max_pages_is_read_over_the_next_runs_though_its_pages_shift(
        httpserver: HTTPServer, arriving: int, runs: int) -> None:
    """Lemmy pages by number, and new posts push every page down: the owed term resumes at the
    next page, which only holds posts as old or older than those it held (so nothing is skipped;
    the posts pushed down cost a run more)."""
    from datetime import datetime as dt, timezone as tz

    template = json.loads(fixture_bytes("lemmy_search.json"))["posts"][0]
    start = int(NOW.timestamp()) - 3600
    iso = lambda t: dt.fromtimestamp(t, tz.utc).strftime("%Y-%m-%dT%H:%M:%S.000000Z")  # noqa: E731
    views = [dict(template, post=dict(template["post"], id=9000 + i, published=iso(start + 60 * i))) for i in range(10)]

    def answer(request):
        ordered = sorted(views, key=lambda v: v["post"]["published"], reverse=True)
        size, page = int(request.args["limit"]), int(request.args["page"])
        return Response(json.dumps({"posts": ordered[(page - 1) * size:page * size]}), content_type=JSON)

    httpserver.expect_request("/api/v3/search").respond_with_handler(answer)
    httpserver.expect_request("/api/v3/community").respond_with_json({"community_view": {"counts": {"subscribers": 5}}})
    source = {"name": "l", "type": "lemmy", "base_url": "BASE", "limit": 2, "max_pages": 2}
    state, read, behind = SourceState(), set(), 0
    for run_number in range(runs):
        if run_number == 1:  # new posts on top: every page shifts down
            views += [dict(template, post=dict(template["post"], id=9100 + i, published=iso(start + 700 + i)))
                      for i in range(arriving)]
        result = run(httpserver, source, state=state)
        read |= {m.id for m in result.mentions}
        state, behind = result.state, behind + any(w.startswith("behind:") for w in result.warnings)
    assert read == {str(v["post"]["id"]) for v in views}, "none skipped"
    assert behind == runs - 1 and not state.cursor.startswith("{")


def test_a_lobsters_burst_beyond_max_pages_is_read_over_the_next_runs(httpserver: HTTPServer) -> None:
    from datetime import datetime as dt, timezone as tz

    template = json.loads(fixture_bytes("lobsters_newest.json"))[0]
    start = int(NOW.timestamp()) - 3 * 3600
    iso = lambda t: dt.fromtimestamp(t, tz.utc).isoformat()  # noqa: E731
    stories = [dict(template, short_id=f"s{i:04d}", created_at=iso(start + 60 * i)) for i in range(125)]  # 5 pages of 25

    def answer(request):
        page = int(request.path.split("/page/")[1].removesuffix(".json")) if "/page/" in request.path else 1
        ordered = sorted(stories, key=lambda s: s["created_at"], reverse=True)
        return Response(json.dumps(ordered[(page - 1) * 25:page * 25]), content_type=JSON)

    httpserver.expect_request("/newest.json").respond_with_handler(answer)
    for page in range(2, 8):
        httpserver.expect_request(f"/newest/page/{page}.json").respond_with_handler(answer)
    source = {"name": "l", "type": "lobsters", "base_url": "BASE", "max_pages": 2, "first_run": "1d"}
    state, read, behind = SourceState(), set(), 0
    for _ in range(3):
        result = run(httpserver, source, state=state)
        read |= {m.id for m in result.mentions}
        state, behind = result.state, behind + any(w.startswith("behind:") for w in result.warnings)
    assert read == {s["short_id"] for s in stories} and behind == 2 and not state.cursor.startswith("{")


def test_a_dev_burst_beyond_max_pages_is_read_over_the_next_runs(httpserver: HTTPServer) -> None:
    from datetime import datetime as dt, timezone as tz

    template = json.loads(fixture_bytes("dev_articles_latest.json"))[1]
    start = int(NOW.timestamp()) - 3600
    iso = lambda t: dt.fromtimestamp(t, tz.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    articles = [dict(template, id=3000 + i, url=f"https://dev.to/x/a{i}", published_at=iso(start + 60 * i)) for i in range(10)]

    def answer(request):
        size, page = int(request.args["per_page"]), int(request.args["page"])
        ordered = sorted(articles, key=lambda a: a["published_at"], reverse=True)
        return Response(json.dumps(ordered[(page - 1) * size:page * size]), content_type=JSON)

    httpserver.expect_request("/api/articles/latest").respond_with_handler(answer)
    source = {"name": "d", "type": "dev", "base_url": "BASE", "per_page": 2, "max_pages": 2, "comments": 0}
    state, read, behind = SourceState(), set(), 0
    for _ in range(3):  # 5 pages of new articles, 2 a run
        result = run(httpserver, source, state=state)
        read |= {m.id for m in result.mentions}
        state, behind = result.state, behind + any(w.startswith("behind:") for w in result.warnings)
    assert read == {str(a["id"]) for a in articles} and behind == 2 and not state.cursor.startswith("{")


def test_a_youtube_search_burst_beyond_max_pages_is_read_over_the_next_rounds(httpserver: HTTPServer, monkeypatch) -> None:
    from datetime import datetime as dt, timedelta, timezone as tz

    monkeypatch.setenv("YT_KEY", "k")
    template = json.loads(fixture_bytes("youtube_search.json"))["items"][0]
    start = int(NOW.timestamp()) - 5 * 3600
    iso = lambda t: dt.fromtimestamp(t, tz.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    videos = [dict(template, id={"kind": "youtube#video", "videoId": f"v{i:04d}"},
                   snippet=dict(template["snippet"], publishedAt=iso(start + 60 * i))) for i in range(250)]  # 5 pages

    def answer(request):
        stamp = lambda text: int(dt.fromisoformat(text.replace("Z", "+00:00")).timestamp())  # noqa: E731
        low = stamp(request.args["publishedAfter"])
        high = stamp(request.args["publishedBefore"]) if "publishedBefore" in request.args else 2 ** 40
        hits = sorted((v for v in videos if low <= stamp(v["snippet"]["publishedAt"]) < high),
                      key=lambda v: v["snippet"]["publishedAt"], reverse=True)
        offset = int(request.args.get("pageToken", 0))
        body = {"items": hits[offset:offset + 50], **({"nextPageToken": str(offset + 50)} if offset + 50 < len(hits) else {})}
        return Response(json.dumps(body), content_type=JSON)

    httpserver.expect_request("/v3/search").respond_with_handler(answer)
    httpserver.expect_request("/v3/videos").respond_with_json({"items": []})
    httpserver.expect_request("/v3/channels").respond_with_json({"items": []})
    from connectors import REGISTRY

    cls = REGISTRY["youtube"]
    options = cls.Options.model_validate({"name": "y", "type": "youtube", "api_url": httpserver.url_for("/v3"),
                                          "api_key_env": "YT_KEY", "max_pages": 2, "first_run": "1d"})
    state, read, behind = SourceState(), set(), 0
    with make_client() as client:
        for hour in range(3):  # each round waits for the search bucket: an hour apart
            result = cls(client).fetch(options, queries=queries('"Acme Cloud"'), state=state, now=NOW + timedelta(hours=hour))
            read |= {m.id for m in result.mentions}
            state, behind = result.state, behind + any(w.startswith("search behind:") for w in result.warnings)
    assert read == {v["id"]["videoId"] for v in videos} and behind == 2


def test_bluesky_renews_its_session_only_for_an_expired_token(httpserver: HTTPServer, bluesky_env) -> None:
    """createSession allows 30 logins in 5 minutes: a 400 that is our query's fault must not spend them."""
    httpserver.expect_request("/xrpc/com.atproto.server.createSession", method="POST").respond_with_data(
        fixture_bytes("bluesky_session.json"), content_type=JSON)
    httpserver.expect_request("/xrpc/app.bsky.feed.searchPosts").respond_with_json(
        {"error": "InvalidRequest", "message": "Error: Params must have the property \"q\""}, status=400)
    with pytest.raises(FetchError) as info:
        run(httpserver, {"name": "b", "type": "bluesky", "base_url": "BASE"})
    assert info.value.code == "InvalidRequest" and not info.value.retryable
    assert str(info.value).endswith(': InvalidRequest: Error: Params must have the property "q"')
    assert not [r for r, _ in httpserver.log if "refreshSession" in r.path]
    assert len([r for r, _ in httpserver.log if "createSession" in r.path]) == 1


def test_compound_cursors_read_the_forms_stored_before_them() -> None:
    """GitHub's and YouTube's cursors hold several in the source's one string: the first alone
    while the rest are unset (as stored before there were others), a Backlog's JSON as the first."""
    from connectors.github import _Cursors as GitHubCursors
    from connectors.youtube import _Cursors as YouTubeCursors

    assert GitHubCursors.load("2026-11-20T00:00:00Z") == GitHubCursors("2026-11-20T00:00:00Z")
    backlog = '{"cursor": "2026-11-20T00:00:00Z", "gaps": [[1, 2]]}'
    assert GitHubCursors.load(backlog) == GitHubCursors(backlog) and GitHubCursors(backlog).dump() == backlog
    both = GitHubCursors(backlog, "2026-11-21T00:00:00Z")
    assert GitHubCursors.load(both.dump()) == both and '"comments"' in both.dump()
    later = YouTubeCursors("2026-11-20T00:00:00Z", None, "2026-11-23T12:00:00Z")
    assert YouTubeCursors.load(later.dump()) == later
    assert YouTubeCursors.load(None) == YouTubeCursors() and YouTubeCursors.load("{not json") == YouTubeCursors()


# --- 2026's answers (issue 32's smaller items) -------------------------------------------------


def test_youtubes_spent_daily_quota_is_a_wait_until_midnight_pacific(httpserver: HTTPServer, monkeypatch) -> None:
    """Google's 403 quotaExceeded is a limit until the quota resets (midnight Pacific), not an
    error to back off from and retry within minutes."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    monkeypatch.setenv("YT_KEY", "secret-key")
    body = {"error": {"code": 403, "message": "The request cannot be completed because you have exceeded your "
                      "<a href=\"/youtube/v3/getting-started#quota\">quota</a>.",
                      "errors": [{"message": "quota", "domain": "youtube.quota", "reason": "quotaExceeded"}]}}
    httpserver.expect_request("/v3/search").respond_with_json(body, status=403)
    with pytest.raises(RateLimited) as info:
        run(httpserver, {"name": "y", "type": "youtube", "base_url": "BASE", "api_url": "BASE/v3", "api_key_env": "YT_KEY"})
    pacific = datetime.now(timezone.utc).astimezone(ZoneInfo("America/Los_Angeles"))
    left = 86400 - (pacific.hour * 3600 + pacific.minute * 60 + pacific.second)
    assert abs(info.value.retry_after_seconds - left) < 120 or left < 60
    assert "midnight Pacific" in str(info.value) and "secret-key" not in str(info.value)


def test_google_news_editions_whose_language_is_not_the_bare_language(httpserver: HTTPServer) -> None:
    from connectors.googlenews import ceid

    assert ceid("pt-BR", "BR") == "BR:pt-419" and ceid("es-419", "MX") == "MX:es-419" and ceid("en-US", "US") == "US:en"
    assert ceid("zh-TW", "TW") == "TW:zh-Hant" and ceid("fr", "FR") == "FR:fr"
    httpserver.expect_request("/rss/search").respond_with_data(fixture_bytes("googlenews_search.rss.xml"),
                                                               content_type="application/rss+xml")
    run(httpserver, {"name": "g", "type": "googlenews", "base_url": "BASE", "hl": "pt-BR", "gl": "BR"})
    assert httpserver.log[0][0].args["ceid"] == "BR:pt-419"


def test_dev_asks_for_forems_v1_api(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/articles/latest").respond_with_data(fixture_bytes("dev_articles_latest.json"),
                                                                        content_type=JSON)
    httpserver.expect_request("/api/comments").respond_with_json([])
    run(httpserver, {"name": "d", "type": "dev", "base_url": "BASE"}, state=SourceState(cursor="2026-11-23T08:00:00Z"))
    assert {r.headers.get("Accept") for r, _ in httpserver.log} == {"application/vnd.forem.api-v1+json"}


def test_lobsters_is_asked_a_second_apart(httpserver: HTTPServer) -> None:
    import time

    from werkzeug import Request, Response

    page = json.loads(fixture_bytes("lobsters_newest.json"))
    asked: list[float] = []

    def answer(request: Request) -> Response:
        asked.append(time.monotonic())
        return Response(json.dumps(page[:1]), content_type=JSON)

    httpserver.expect_request("/newest.json").respond_with_handler(answer)
    for tag in ("devops", "cloud", "storage"):
        httpserver.expect_request(f"/t/{tag}.json").respond_with_handler(answer)
    run(httpserver, {"name": "l", "type": "lobsters", "base_url": "BASE", "tags": ["devops", "cloud", "storage"]},
        state=SourceState(cursor="2026-11-23T05:00:00Z"))
    gaps = [b - a for a, b in zip(asked, asked[1:])]
    assert len(asked) == 4 and min(gaps) >= 0.95, gaps  # a lower bound: a slow machine only widens the gaps


def test_github_comments_on_more_issues_than_a_run_reads_are_read_over_the_next_runs(httpserver: HTTPServer) -> None:
    """Without a token a run reads the comments of 5 commented issues; with 7 found, the other 2
    are read next run (the cursor stays until every issue found was read), none skipped."""
    page = json.loads(fixture_bytes("github_search_issues.json"))
    base_issue = page["items"][0]
    issues = [dict(base_issue, id=500 + n, number=n, title=f"Issue {n}", body="old", created_at="2025-01-02T00:00:00Z",
                   updated_at=f"2026-11-23T0{n}:30:00Z") for n in range(1, 8)]
    comment = json.loads(fixture_bytes("github_issue_comments.json"))[0]

    def search(request: Request) -> Response:
        items = issues if "in:comments" in request.args["q"] else []
        return Response(json.dumps({"total_count": len(items), "incomplete_results": False, "items": items}),
                        content_type=JSON)

    def comments(request: Request) -> Response:
        n = int(request.path.split("/")[-2])
        return Response(json.dumps([dict(comment, id=9000 + n, created_at=f"2026-11-23T0{n}:30:00Z",
                                         updated_at=f"2026-11-23T0{n}:30:00Z",
                                         html_url=f"https://github.com/acme/cloud-cli/issues/{n}#issuecomment-{9000 + n}")]),
                        content_type=JSON)

    httpserver.expect_request("/search/issues").respond_with_handler(search)
    for n in range(1, 8):
        httpserver.expect_request(f"/repos/acme/cloud-cli/issues/{n}/comments").respond_with_handler(comments)
    httpserver.expect_request("/repos/acme/cloud-cli").respond_with_data(fixture_bytes("github_repo.json"), content_type=JSON)
    httpserver.expect_request("/users/ops-lead").respond_with_data(fixture_bytes("github_user.json"), content_type=JSON)
    options = {"name": "g", "type": "github", "base_url": "BASE", "lookups": 0}
    start = json.dumps({"issues": "2026-11-23T00:00:00Z", "comments": "2026-11-23T00:00:00Z"})
    first = run(httpserver, options, state=SourceState(cursor=start))
    second = run(httpserver, options, state=first.state)
    found = sorted(m.id for r in (first, second) for m in r.mentions if m.metrics.get("kind") == "comment")
    assert found == [f"c{9000 + n}" for n in range(1, 8)], found
    assert sorted(m.id for m in first.mentions if m.metrics.get("kind") == "comment") == [f"c{9000 + n}" for n in range(1, 6)]
    read = [r.path for r, _ in httpserver.log if r.path.endswith("/comments")]
    assert len(read) == 5 + 2, read  # each issue's comments read once
    owed = json.loads(json.loads(first.state.cursor)["comments"])
    assert owed["since"] == "2026-11-23T00:00:00Z" and len(owed["read"]) == 5, "the cursor stays while issues are owed"
    assert json.loads(second.state.cursor)["comments"] == "2026-11-23T07:30:00Z", "all read: the cursor moves on"



# --- trustpilot --------------------------------------------------------------------------------


def test_trustpilot_reads_the_brands_reviews_with_stars_and_replies_back_to_the_cursor(httpserver: HTTPServer,
                                                                                       monkeypatch) -> None:
    monkeypatch.setenv("TP_KEY", "tp-key-1234")
    page = json.loads(fixture_bytes("trustpilot_reviews.json"))
    older = dict(page["reviews"][1], id="6750aaaaaaaaaaaaaaaaaaaa", createdAt="2026-11-20T08:00:00Z")
    full = {"reviews": page["reviews"] + [older], "links": page["links"]}
    httpserver.expect_request("/v1/business-units/507f191e810c19729de860ea/reviews").respond_with_json(full)
    options = {"name": "t", "type": "trustpilot", "base_url": "BASE/v1", "api_key_env": "TP_KEY", "per_page": 3,
               "business_unit_ids": ["507f191e810c19729de860ea"]}
    result = run(httpserver, options, state=SourceState(cursor="2026-11-22T00:00:00Z"))
    assert sorted(m.id for m in result.mentions) == ["6751e8a0b1c2d3e4f5061728", "6751f0c2a1b2c3d4e5f60718"]
    one = next(m for m in result.mentions if m.metrics["rating"] == 1)
    assert one.title == "Great, another outage" and one.author_name == "Dana Whitfield" and one.language == "en"
    assert one.metrics["reply"].startswith("We're sorry, Dana") and one.metrics["verified"] is True
    assert one.url == "https://www.trustpilot.com/reviews/6751f0c2a1b2c3d4e5f60718"
    assert result.state.cursor == "2026-11-23T09:41:12Z"
    (request, _), = httpserver.log
    assert request.headers["apikey"] == "tp-key-1234" and request.args["orderBy"] == "createdat.desc"
    assert len(httpserver.log) == 1, "the page reached the cursor: no second page"
    monkeypatch.delenv("TP_KEY")
    with pytest.raises(MissingCredential):
        run(httpserver, options)


def test_dev_reads_the_whole_body_of_new_articles_where_the_brand_may_be_named(httpserver: HTTPServer) -> None:
    """The listing carries an article's opening lines only: the brand named in its third
    paragraph is found once the body is read (``/api/articles/{id}``); one that cannot be read
    keeps its opening lines and never holds the cursor back."""
    listing = json.loads(fixture_bytes("dev_articles_latest.json"))
    httpserver.expect_request("/api/articles/latest").respond_with_json(listing)
    first = str(listing[0]["id"])
    httpserver.expect_request(f"/api/articles/{first}").respond_with_json(
        dict(listing[0], body_html="<p>Intro.</p><p>Then we moved off Acme Cloud: the invoices doubled.</p>"))
    httpserver.expect_request("/api/comments").respond_with_json([])
    state = SourceState(cursor="2026-11-23T08:00:00Z")
    result = run(httpserver, {"name": "d", "type": "dev", "base_url": "BASE", "comments": 0}, state=state)
    article = next(m for m in result.mentions if m.id == first)
    assert "the invoices doubled" in article.text and article.text.startswith(listing[0]["description"])
    assert result.state.cursor and "behind" not in " ".join(result.warnings)  # the unreadable bodies held nothing
    asked = [r.path for r, _ in httpserver.log if r.path.startswith("/api/articles/") and r.path != "/api/articles/latest"]
    assert first in " ".join(asked)
    httpserver.clear_log()
    run(httpserver, {"name": "d", "type": "dev", "base_url": "BASE", "comments": 0, "bodies": 0}, state=state)
    assert [r.path for r, _ in httpserver.log] == ["/api/articles/latest"]


# --- app store connect -------------------------------------------------------------------------


def test_app_store_connect_signs_its_token_and_reads_reviews_with_responses_across_pages(httpserver: HTTPServer,
                                                                                         monkeypatch) -> None:
    """The loopback App Store Connect checks the ES256 token with the key's public half (as
    Apple does), then serves two pages through links.next; the brand's response is joined to
    its review, the stars kept as rating."""
    import jwt
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    pem = fixture_bytes("appstoreconnect_test_key.p8")
    public = load_pem_private_key(pem, password=None).public_key()
    monkeypatch.setenv("ASC_ISSUER_ID", "57246542-96fe-1a63-e053-0824d011072a")
    monkeypatch.setenv("ASC_KEY_ID", "2X9R4HXF34")
    monkeypatch.setenv("ASC_PRIVATE_KEY", pem.decode())
    page = json.loads(fixture_bytes("appstoreconnect_reviews.json"))
    first = dict(page, data=page["data"][:1], links={"next": httpserver.url_for("/v1/apps/1234567890/customerReviews")
                                                      + "?cursor=Mg&limit=200&sort=-createdDate&include=response"})
    second = dict(page, data=page["data"][1:], included=[], links={})
    tokens: list[dict] = []

    def answer(request: Request) -> Response:
        signed = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(signed, public, algorithms=["ES256"], audience="appstoreconnect-v1")
        except jwt.PyJWTError as exc:
            return Response(json.dumps({"errors": [{"status": "401", "code": "NOT_AUTHORIZED", "detail": str(exc)}]}),
                            status=401, content_type=JSON)
        tokens.append({**claims, "kid": jwt.get_unverified_header(signed)["kid"]})
        return Response(json.dumps(second if request.args.get("cursor") else first), content_type=JSON)

    httpserver.expect_request("/v1/apps/1234567890/customerReviews").respond_with_handler(answer)
    options = {"name": "asc", "type": "appstoreconnect", "base_url": "BASE/v1", "app_ids": ["1234567890"]}
    result = run(httpserver, options, state=SourceState(cursor="2026-11-20T00:00:00Z"))
    assert sorted(m.metrics["rating"] for m in result.mentions) == [1, 5]
    hurt = next(m for m in result.mentions if m.metrics["rating"] == 1)
    assert hurt.metrics["reply"].startswith("We're sorry about your photos") and hurt.metrics["territory"] == "USA"
    assert hurt.author_name == "ferryman42" and hurt.published_at.isoformat() == "2026-11-23T09:10:34+00:00"
    assert len(tokens) == 2 and tokens[0]["iss"] == "57246542-96fe-1a63-e053-0824d011072a" and tokens[0]["kid"] == "2X9R4HXF34"
    assert tokens[0]["exp"] - tokens[0]["iat"] <= 20 * 60, "Apple refuses a token that lives past 20 minutes"
    first_ask = httpserver.log[0][0].args
    assert first_ask["sort"] == "-createdDate" and first_ask["include"] == "response"
    monkeypatch.setenv("ASC_KEY_ID", "ANOTHERKEY")
    monkeypatch.setenv("ASC_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----")
    with pytest.raises(FetchError) as info:
        run(httpserver, options)
    assert "could not sign a token" in str(info.value) and "not a key" not in str(info.value)


# --- google play -------------------------------------------------------------------------------


def test_google_play_exchanges_a_signed_assertion_and_reads_reviews_with_replies(httpserver: HTTPServer,
                                                                                 monkeypatch) -> None:
    """The loopback token endpoint checks the service account's RS256 assertion with its public
    half (as Google does) and answers a token; the reviews endpoint wants it. The developer's
    reply joins its review, the stars kept as rating; a gap past the API's week is said."""
    import jwt
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from connectors.googleplay import _TOKENS

    _TOKENS.clear()
    pem = fixture_bytes("googleplay_test_key.pem")
    public = load_pem_private_key(pem, password=None).public_key()
    token_url = httpserver.url_for("/token")
    monkeypatch.setenv("PLAY_KEY", json.dumps({"type": "service_account", "client_email": "m@acme.iam.gserviceaccount.com",
                                               "private_key": pem.decode(), "token_uri": token_url}))
    assertions: list[dict] = []

    def exchange(request: Request) -> Response:
        claims = jwt.decode(request.form["assertion"], public, algorithms=["RS256"], audience=token_url)
        assertions.append(claims)
        assert request.form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        return Response(json.dumps({"access_token": "ya29.play", "expires_in": 3599, "token_type": "Bearer"}),
                        content_type=JSON)

    def reviews(request: Request) -> Response:
        if request.headers.get("Authorization") != "Bearer ya29.play":
            return Response('{"error": {"code": 401}}', status=401, content_type=JSON)
        return Response(fixture_bytes("googleplay_reviews.json"), content_type=JSON)

    httpserver.expect_request("/token", method="POST").respond_with_handler(exchange)
    httpserver.expect_request("/v3/applications/com.acme.cloud/reviews").respond_with_handler(reviews)
    options = {"name": "play", "type": "googleplay", "base_url": "BASE/v3", "package_names": ["com.acme.cloud"],
               "credentials_env": "PLAY_KEY"}
    result = run(httpserver, options)
    hurt = next(m for m in result.mentions if m.metrics["rating"] == 1)
    assert hurt.text.startswith("Acme Cloud app logs me out") and hurt.language == "en"
    assert hurt.metrics["reply"].startswith("Hi Priya") and hurt.metrics["app_version"] == "5.2.0"
    assert hurt.published_at.isoformat() == "2026-11-23T09:30:00+00:00"
    assert assertions[0]["iss"] == "m@acme.iam.gserviceaccount.com" and "androidpublisher" in assertions[0]["scope"]
    again = run(httpserver, options, state=SourceState(cursor="2026-11-10T00:00:00Z"))
    assert len(assertions) == 1, "the token is kept until it expires"
    assert any("past the week Google Play's API keeps" in w for w in again.warnings)
    monkeypatch.setenv("PLAY_KEY", "not json")
    with pytest.raises(FetchError, match="is not JSON"):
        run(httpserver, options)
