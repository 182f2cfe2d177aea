"""One sample response per connector type, in its real format, and serving it from a loopback server:
shared by the contract tests and the all-sources run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from pytest_httpserver import HTTPServer

from tests.support import fixture_bytes


@dataclass
class Sample:
    """How to serve one connector its source's real format, and the options that point it there.

    ``main`` is the request whose failures the contract exercises; ``routes`` answer the rest
    (log-ins, profile look-ups) as the real service would.
    """

    main: str
    content_type: str
    body: bytes
    options: Callable[[str], dict]
    routes: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return self.main


JSON = "application/json"
SAMPLES = {
    "rss": Sample("/feed.xml", "application/rss+xml", fixture_bytes("feed.rss.xml"),
                  lambda base: {"name": "blog", "type": "rss", "url": f"{base}/feed.xml"}),
    "hackernews": Sample("/api/v1/search_by_date", JSON, fixture_bytes("hn_search_by_date.json"),
                         lambda base: {"name": "hn", "type": "hackernews", "base_url": f"{base}/api/v1"}),
    "reddit": Sample("/search.rss", "application/atom+xml", fixture_bytes("reddit_search.atom.xml"),
                     # its own host name: anonymous Reddit holds its host a minute after each request
                     lambda base: {"name": "reddit", "type": "reddit", "base_url": base.replace("localhost", "127.0.0.1")}),
    "mastodon": Sample("/api/v1/timelines/tag/acmecloud", JSON, fixture_bytes("mastodon_tag.json"),
                       lambda base: {"name": "mastodon", "type": "mastodon", "base_url": base}),
    "bluesky": Sample("/xrpc/app.bsky.feed.searchPosts", JSON, fixture_bytes("bluesky_search.json"),
                      lambda base: {"name": "bluesky", "type": "bluesky", "base_url": base},
                      routes={"/xrpc/com.atproto.server.createSession": ("POST", JSON, fixture_bytes("bluesky_session.json")),
                              "/xrpc/app.bsky.actor.getProfiles": ("GET", JSON, fixture_bytes("bluesky_profiles.json"))},
                      env={"BLUESKY_HANDLE": "monitor.bsky.social", "BLUESKY_APP_PASSWORD": "app-pass-1234"}),
    "youtube": Sample("/feeds/videos.xml", "application/atom+xml", fixture_bytes("youtube_channel.atom.xml"),
                      lambda base: {"name": "youtube", "type": "youtube", "base_url": base,
                                    "channel_ids": ["UCacmereviews000000000001"]}),
    "googlenews": Sample("/rss/search", "application/rss+xml", fixture_bytes("googlenews_search.rss.xml"),
                         lambda base: {"name": "news", "type": "googlenews", "base_url": base}),
    "appstore": Sample("/us/rss/customerreviews/page=1/id=1234567890/sortby=mostrecent/json", JSON,
                       fixture_bytes("appstore_reviews.json"),
                       lambda base: {"name": "appstore", "type": "appstore", "base_url": base, "app_ids": ["1234567890"]}),
    "stackexchange": Sample("/2.3/search/advanced", JSON, fixture_bytes("stackexchange_search.json"),
                            lambda base: {"name": "so", "type": "stackexchange", "base_url": f"{base}/2.3"},
                            routes={"/2.3/search/excerpts": ("GET", JSON, fixture_bytes("stackexchange_excerpts.json"))}),
    "github": Sample("/search/issues", JSON, fixture_bytes("github_search_issues.json"),
                     lambda base: {"name": "github", "type": "github", "base_url": base},
                     routes={"/repos/acme/cloud-cli/issues/412/comments": ("GET", JSON, fixture_bytes("github_issue_comments.json")),
                             "/repos/acme/cloud-cli": ("GET", JSON, fixture_bytes("github_repo.json")),
                             "/users/angry-dev": ("GET", JSON, fixture_bytes("github_user.json")),
                             "/users/ops-lead": ("GET", JSON, fixture_bytes("github_user.json"))}),
    "discourse": Sample("/search.json", JSON, fixture_bytes("discourse_search.json"),
                        lambda base: {"name": "forum", "type": "discourse", "base_url": base}),
    "lemmy": Sample("/api/v3/search", JSON, fixture_bytes("lemmy_search.json"),
                    lambda base: {"name": "lemmy", "type": "lemmy", "base_url": base},
                    routes={"/api/v3/community": ("GET", JSON, fixture_bytes("lemmy_community.json"))}),
    "dev": Sample("/api/articles/latest", JSON, fixture_bytes("dev_articles_latest.json"),
                  lambda base: {"name": "dev", "type": "dev", "base_url": base},
                  routes={"/api/comments": ("GET", JSON, fixture_bytes("dev_comments.json"))}),
    "trustpilot": Sample("/v1/business-units/507f191e810c19729de860ea/reviews", JSON,
                         fixture_bytes("trustpilot_reviews.json"),
                         lambda base: {"name": "trustpilot", "type": "trustpilot", "base_url": f"{base}/v1",
                                       "business_unit_ids": ["507f191e810c19729de860ea"], "first_run": "30d"},
                         env={"TRUSTPILOT_API_KEY": "tp-key-1234"}),
    "appstoreconnect": Sample("/v1/apps/1234567890/customerReviews", JSON, fixture_bytes("appstoreconnect_reviews.json"),
                              lambda base: {"name": "asc", "type": "appstoreconnect", "base_url": f"{base}/v1",
                                            "app_ids": ["1234567890"], "first_run": "30d"},
                              env={"ASC_ISSUER_ID": "57246542-96fe-1a63-e053-0824d011072a", "ASC_KEY_ID": "2X9R4HXF34",
                                   "ASC_PRIVATE_KEY": fixture_bytes("appstoreconnect_test_key.p8").decode()}),
    "googleplay": Sample("/androidpublisher/v3/applications/com.acme.cloud/reviews", JSON,
                         fixture_bytes("googleplay_reviews.json"),
                         lambda base: {"name": "play", "type": "googleplay", "base_url": f"{base}/androidpublisher/v3",
                                       "package_names": ["com.acme.cloud"], "token_url": f"{base}/token"},
                         routes={"/token": ("POST", JSON, b'{"access_token": "ya29.test", "expires_in": 3599, '
                                                          b'"token_type": "Bearer"}')},
                         env={"GOOGLE_PLAY_CREDENTIALS": json.dumps({
                             "type": "service_account", "client_email": "monitor@acme-play.iam.gserviceaccount.com",
                             "private_key_id": "k1", "private_key": fixture_bytes("googleplay_test_key.pem").decode(),
                             "token_uri": "https://oauth2.googleapis.com/token"})}),
    "googlebusiness": Sample("/v4/accounts/108712634501234567890/locations/4129834617284712843/reviews", JSON,
                             fixture_bytes("googlebusiness_reviews.json"),
                             lambda base: {"name": "gbp", "type": "googlebusiness", "base_url": f"{base}/v4",
                                           "locations_url": f"{base}/v1", "token_url": f"{base}/token",
                                           "account_id": "108712634501234567890",
                                           "location_ids": ["4129834617284712843"], "first_run": "30d"},
                             routes={"/token": ("POST", JSON, b'{"access_token": "ya29.gbp", "expires_in": 3599, '
                                                              b'"scope": "https://www.googleapis.com/auth/business.manage",'
                                                              b' "token_type": "Bearer"}'),
                                     "/v1/accounts/108712634501234567890/locations": (
                                         "GET", JSON, fixture_bytes("googlebusiness_locations.json"))},
                             env={"GOOGLE_BUSINESS_CLIENT_ID": "1234-abc.apps.googleusercontent.com",
                                  "GOOGLE_BUSINESS_CLIENT_SECRET": "GOCSPX-test", "GOOGLE_BUSINESS_REFRESH_TOKEN": "1//0test"}),
    "threads": Sample("/v1.0/keyword_search", JSON, fixture_bytes("threads_keyword_search.json"),
                      lambda base: {"name": "threads", "type": "threads", "base_url": f"{base}/v1.0", "first_run": "7d"},
                      env={"THREADS_ACCESS_TOKEN": "THAAtest"}),
    "x": Sample("/2/tweets/search/recent", JSON, fixture_bytes("x_search_recent.json"),
                lambda base: {"name": "x", "type": "x", "base_url": f"{base}/2", "monthly_budget_usd": 50},
                env={"X_BEARER_TOKEN": "AAAAtest"}),
    "lobsters": Sample("/newest.json", JSON, fixture_bytes("lobsters_newest.json"),
                       lambda base: {"name": "lobsters", "type": "lobsters", "base_url": base, "max_pages": 1}),
}


def serve(httpserver: HTTPServer, type_: str, main=None) -> None:
    """Serve a sample: ``main`` (a callable taking the request handler) overrides the main route."""
    sample = SAMPLES[type_]
    if main is None:
        httpserver.expect_request(sample.main).respond_with_data(sample.body, content_type=sample.content_type)
    else:
        main(httpserver.expect_request(sample.main))
    for path, (method, content_type, body) in sample.routes.items():
        httpserver.expect_request(path, method=method).respond_with_data(body, content_type=content_type)
