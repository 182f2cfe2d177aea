"""App Store reviews through App Store Connect, the way Apple still serves them in 2026: every
territory's customer reviews of the brand's own apps, newest first, with the brand's responses.

The App Store Connect API (developer.apple.com, "List all customer reviews for an app", read
2026-12-06): ``GET /v1/apps/{id}/customerReviews?sort=-createdDate&limit=200&include=response``
answers JSON:API: ``data`` of ``customerReviews`` (``attributes``: ``rating`` 1–5, ``title``,
``body``, ``reviewerNickname``, ``createdDate``, ``territory``), their ``response`` in
``included`` (``customerReviewResponses``: ``responseBody``, ``lastModifiedDate``, ``state``),
and ``links.next`` for the next page. Each request carries a JSON Web Token the team signs
itself (ES256 with the API key's private key: header ``kid``, claims ``iss`` = the issuer id,
``iat``, ``exp`` at most 20 minutes on, ``aud`` = ``appstoreconnect-v1``), signed by PyJWT and
kept until a minute before it lapses. The key, its id and the issuer come from the environment.

Reviews page back to the cursor (the newest ``createdDate`` read), ``max_pages`` at most; the
stars travel as ``rating``: a 1- or 2-star review is a complaint (``monitor.judgement.ratings``).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import SourceOptions, as_int, malformed_item, parse_time, reviews_since, secret, text_field
from connectors.quota import Cost, Quota, plural
from connectors.tokens import Tokens
from monitor.errors import FetchError, ParseError
from monitor.models import Duration, FetchResult, Mention, Query, SourceState

# Apple documents an hourly limit per key, announced in each answer's X-Rate-Limit header (3,600).
QUOTA = Quota(3600, timedelta(hours=1), "per API key, App Store Connect's X-Rate-Limit")
TOKEN_LIFETIME = 19 * 60  # seconds: Apple refuses tokens that live longer than 20 minutes
AUDIENCE = "appstoreconnect-v1"


class AppStoreConnectOptions(SourceOptions):
    """App Store Connect options: the apps, and the API key's three variables."""

    type: Literal["appstoreconnect"] = "appstoreconnect"
    base_url: str | None = Field(default="https://api.appstoreconnect.apple.com/v1", description="API root.")
    app_ids: list[str] = Field(min_length=1, description="The apps' Apple ids (the digits in the App Store URL).")
    issuer_id_env: str = Field(default="ASC_ISSUER_ID", description="Environment variable with the team's issuer id.")
    key_id_env: str = Field(default="ASC_KEY_ID", description="Environment variable with the API key's id.")
    private_key_env: str = Field(default="ASC_PRIVATE_KEY",
                                 description="Environment variable with the API key's private key (the .p8 file's text).")
    max_pages: int = Field(default=5, ge=1, le=50, description="Pages of 200 reviews an app a run, back to the cursor.")
    first_run: Duration = Field(default="7d", description="How far back the first run reads.")


_TOKENS = Tokens()  # by (issuer, key id)


def token(issuer: str, key_id: str, private_key: str, *, now: float | None = None) -> str:
    """The request's JSON Web Token (ES256), kept until a minute before it lapses."""
    try:
        import jwt  # PyJWT, with the cryptography package for ES256: only where this source is used
    except ImportError:
        raise FetchError("the appstoreconnect source needs PyJWT to sign its token: pip install "
                         "'reputation-monitor[reviews]' (or PyJWT[crypto])", retryable=False) from None

    now = time.time() if now is None else now
    kept = _TOKENS.get((issuer, key_id), now=now)
    if kept:
        return kept
    try:
        signed = jwt.encode({"iss": issuer, "iat": int(now), "exp": int(now) + TOKEN_LIFETIME, "aud": AUDIENCE},
                            private_key.replace("\\n", "\n"), algorithm="ES256", headers={"kid": key_id, "typ": "JWT"})
    except (ValueError, TypeError, jwt.PyJWTError) as exc:  # never echo the key
        raise FetchError(f"the App Store Connect private key could not sign a token ({type(exc).__name__}): check that "
                         "its variable holds the .p8 file's text", retryable=False) from None
    return _TOKENS.keep((issuer, key_id), signed, expires=now + TOKEN_LIFETIME)


def parse_reviews(data: object, *, source: str, app_id: str, skipped: list[str] | None = None) -> list[Mention]:
    """The customer reviews of one JSON:API page, each with its response when included."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ParseError("App Store Connect returned JSON without a 'data' list", source=source)
    responses = {item.get("id"): item.get("attributes") or {} for item in data.get("included") or []
                 if isinstance(item, dict) and item.get("type") == "customerReviewResponses"}
    out = []
    for review in data["data"]:
        with malformed_item(review, source=source, skipped=skipped):
            if not isinstance(review, dict) or review.get("type") != "customerReviews" or not review.get("id"):
                raise ParseError("an item that is not a customer review")
            attributes = review.get("attributes")
            if not isinstance(attributes, dict) or not attributes.get("createdDate"):
                raise ParseError("a review without its attributes or createdDate")
            link = ((review.get("relationships") or {}).get("response") or {}).get("data")
            answer = responses.get(link.get("id")) if isinstance(link, dict) else None
            territory = text_field(attributes, "territory") or ""
            nickname = text_field(attributes, "reviewerNickname") or ""
            out.append(Mention(
                source=source, source_type="appstoreconnect", id=str(review["id"]),
                url=f"https://apps.apple.com/app/id{app_id}?see-all=reviews",
                title=text_field(attributes, "title") or "", text=text_field(attributes, "body") or "",
                published_at=parse_time(attributes["createdDate"], source=source),
                author=nickname, author_name=nickname,
                metrics={"rating": as_int(attributes.get("rating")), "territory": territory, "app_id": app_id,
                         **({"reply": text_field(answer, "responseBody") or "",
                             "replied_at": text_field(answer, "lastModifiedDate")} if answer else {})},
                raw=review,
            ))
    return out


class AppStoreConnectConnector:
    """Reads the customer reviews of the brand's apps from App Store Connect."""

    type: ClassVar[str] = "appstoreconnect"
    Options: ClassVar[type[SourceOptions]] = AppStoreConnectOptions
    revises: ClassVar[bool] = True  # an edited review comes again under its id: the stored row is updated

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(self, options: AppStoreConnectOptions, *, queries: Sequence[Query], state: SourceState,
              now: datetime) -> FetchResult:
        """Each app's reviews created since the cursor, every territory, newest first."""
        key = (secret(options, "issuer_id_env") or "", secret(options, "key_id_env") or "",
               secret(options, "private_key_env") or "")
        since = parse_time(state.cursor) if state.cursor else now - options.first_run
        skipped: list[str] = []

        def page(app_id: str, url: str | None) -> tuple[list[Mention], str | None]:
            first = f"{options.base_url}/apps/{app_id}/customerReviews?sort=-createdDate&limit=200&include=response"
            return self._page(options, app_id, url or first, key, skipped)

        return reviews_since(options.name, options.app_ids, "app", page, since=since, pages=options.max_pages, now=now,
                             state=state, skipped=skipped, warnings=[])

    def _page(self, options: AppStoreConnectOptions, app_id: str, url: str, key: tuple[str, str, str],
              skipped: list[str]) -> tuple[list[Mention], str | None]:
        """One page of an app's reviews and the next page's URL (``links.next``; None: the last)."""
        headers = {"Authorization": f"Bearer {token(*key)}"}
        data, _ = http.get_json(self.client, url, source=options.name, headers=headers)
        reviews = parse_reviews(data, source=options.name, app_id=app_id, skipped=skipped)
        following = (data.get("links") or {}).get("next") if isinstance(data, dict) else None
        return reviews, following if isinstance(following, str) else None

    @staticmethod
    def cost(options: AppStoreConnectOptions, queries: Sequence[Query]) -> Cost:
        """A page per app a run (more in a burst)."""
        return Cost(len(options.app_ids), f"{plural(len(options.app_ids), 'app')}, a page each", QUOTA)
